//! Identity vigilance: the identity status of a record (PROV, RECUP, VALI, QUAL), changed only
//! by events that carry their evidence, never overwritten.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use dui_crypto::Keyring;
use dui_domain::audit::AuditAction;
use dui_domain::record::{Evidence, IdentityDocument, IdentityEventKind, PreviousIdentity, StatusChange};
use dui_domain::resident::{Identity, IdentityStatus, Ins, Resident};
use dui_domain::{ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::StoreResult;
use crate::access::{WHO_CTE, target};
use crate::args;
use crate::feature::{Feature, Merge, Table, to_json};
use crate::listing::{listed, present};
use crate::residents::{
    IDENTITY_EVENT_DETAILS, IDENTITY_EVENT_PREVIOUS, RESIDENT_COLUMNS, RESIDENT_IDENTITY, RESIDENT_INS, resident,
    why_resident_unchanged,
};
use crate::rows::{parse, parse_opt};
use crate::sealing::{open_json, seal_json, versions};
use crate::sql::{Sql, Stmt};
use crate::stays::{CURRENT_STAY, STAY_COLUMNS};
use crate::trace::Trace;
use crate::tx::Tx;

/// An identity event (a status change or a correction), as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IdentityEvent {
    pub id: Uuid,
    pub kind: IdentityEventKind,
    pub from_status: Option<IdentityStatus>,
    pub to_status: IdentityStatus,
    pub document: Option<IdentityDocument>,
    pub insi_lookup: bool,
    /// The call to the INSi teleservice whose answer this event put on the record, or whose
    /// verification withdrew the INS.
    pub insi_call_id: Option<Uuid>,
    pub comment: Option<String>,
    pub recorded_by: Option<UserId>,
    pub recorded_at: DateTime<Utc>,
    /// For a correction: the traits and INS it replaced.
    pub previous: Option<PreviousIdentity>,
    /// For a merge: the record merged into this one.
    pub merged_record_id: Option<ResidentId>,
    /// For an event moved here by a merge: the record it was written about.
    pub merged_from: Option<ResidentId>,
}

pub(crate) const EVENT_FIELDS: &str = "id, kind, from_status, to_status, document, insi_lookup, insi_call_id, details, previous, \
     merged_record_id, merged_from, recorded_by, recorded_at, dek_version";

pub(crate) fn identity_event(row: &Row, keys: &Keyring) -> StoreResult<IdentityEvent> {
    let id: Uuid = row.try_get("id")?;
    Ok(IdentityEvent {
        id,
        kind: parse(row, "kind", IdentityEventKind::parse)?,
        from_status: parse_opt(row, "from_status", IdentityStatus::parse)?,
        to_status: parse(row, "to_status", IdentityStatus::parse)?,
        document: parse_opt(row, "document", IdentityDocument::parse)?,
        insi_lookup: row.try_get("insi_lookup")?,
        insi_call_id: row.try_get("insi_call_id")?,
        comment: match row.try_get::<_, Option<&[u8]>>("details")? {
            Some(sealed) => open_json(keys, IDENTITY_EVENT_DETAILS, id, sealed)?,
            None => None,
        },
        recorded_by: row.try_get::<_, Option<Uuid>>("recorded_by")?.map(UserId::from_uuid),
        recorded_at: row.try_get("recorded_at")?,
        previous: match row.try_get::<_, Option<&[u8]>>("previous")? {
            Some(sealed) => Some(open_json(keys, IDENTITY_EVENT_PREVIOUS, id, sealed)?),
            None => None,
        },
        merged_record_id: row.try_get::<_, Option<Uuid>>("merged_record_id")?.map(ResidentId::from_uuid),
        merged_from: row.try_get::<_, Option<Uuid>>("merged_from")?.map(ResidentId::from_uuid),
    })
}

/// What a status change is checked against: the record's status, the evidence that still
/// stands on it — recorded after its last return to provisional (a doubt, or a correction of
/// what INSi returned, voids what came before), and for an INSi look-up also after the last
/// withdrawal of its INS — its traits, its INS and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityState {
    pub status: IdentityStatus,
    pub evidence: Evidence,
    pub identity: Identity,
    pub ins: Option<Ins>,
    pub row_version: i32,
}

static EVENTS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT e.* FROM identity_events e, target t WHERE e.tenant_id = t.tenant_id AND e.resident_id = t.id), \
         trace AS ({trace}) \
         {listed}",
        target = target(),
        trace = Trace::read(),
        listed = listed(&format!("SELECT {EVENT_FIELDS} FROM data"), "x.recorded_at, x.id"),
    ))
});

static STATE: Stmt = LazyLock::new(|| {
    Sql::new(
        "WITH events AS (SELECT e.* FROM identity_events e WHERE e.tenant_id = :tenant AND e.resident_id = :resident \
                         AND e.merged_from IS NULL), \
         doubt AS (SELECT coalesce(max(recorded_at), '-infinity') AS at FROM events WHERE to_status = 'PROV'), \
         withdrawn AS (SELECT coalesce(max(recorded_at), '-infinity') AS at FROM events \
                       WHERE from_status = 'QUAL' AND to_status = 'VALI') \
         SELECT r.identity_status, r.identity, r.ins, r.dek_version, r.row_version, \
           EXISTS (SELECT 1 FROM events, doubt WHERE document IS NOT NULL AND recorded_at > doubt.at) AS has_document, \
           EXISTS (SELECT 1 FROM events, doubt, withdrawn WHERE insi_lookup \
                   AND recorded_at > greatest(doubt.at, withdrawn.at)) AS has_insi \
         FROM residents r WHERE r.tenant_id = :tenant AND r.id = :resident",
    )
});

static CHANGE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         changed AS (UPDATE residents r SET identity_status = :to_status, row_version = r.row_version + 1, updated_at = now(), \
                       ins = CASE WHEN :withdraw_ins THEN NULL ELSE r.ins END, \
                       ins_index = CASE WHEN :withdraw_ins THEN NULL ELSE r.ins_index END \
                     FROM target t WHERE r.tenant_id = t.tenant_id AND r.id = t.id AND r.row_version = :expected_version \
                     AND r.identity_status = :from_status AND r.record_status = 'active' RETURNING r.*), \
         ev AS (INSERT INTO identity_events (tenant_id, id, resident_id, from_status, to_status, document, insi_lookup, \
                                             details, previous, recorded_by, dek_version) \
                SELECT c.tenant_id, :event, c.id, :from_status, :to_status, :document, :insi_lookup, :details, :previous, \
                       who.user_id, :dek_version FROM changed c, who RETURNING id), \
         trace AS ({trace}) \
         SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS} FROM changed r {CURRENT_STAY}",
        target = target(),
        trace = Trace::record_changed(":event"),
    ))
});

/// The history of a record's identity status, oldest first; recorded.
pub async fn events(tx: Tx<'_>, resident: ResidentId) -> StoreResult<Vec<IdentityEvent>> {
    let id = resident.as_uuid();
    let args = args! { resident: &id }.action(AuditAction::IdentityReadHistory);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = present(tx.finish(&EVENTS, &args).await?)?;
    db.open_rows(tenant, &rows, identity_event).await
}

/// What a status change is checked against (a check: nothing is recorded).
pub async fn state(tx: &mut Tx<'_>, resident: ResidentId) -> StoreResult<IdentityState> {
    let id = resident.as_uuid();
    let row = tx.query_one(&STATE, &args! { resident: &id }).await?;
    let keys = tx.keyring(versions(std::slice::from_ref(&row))?).await?;
    let ins = match row.try_get::<_, Option<&[u8]>>("ins")? {
        Some(sealed) => Some(open_json(&keys, RESIDENT_INS, id, sealed)?),
        None => None,
    };
    Ok(IdentityState {
        status: parse(&row, "identity_status", IdentityStatus::parse)?,
        evidence: Evidence { document: row.try_get("has_document")?, insi_lookup: row.try_get("has_insi")? },
        identity: open_json(&keys, RESIDENT_IDENTITY, id, row.try_get("identity")?)?,
        ins,
        row_version: row.try_get("row_version")?,
    })
}

/// Records a change of identity status with its evidence, and updates the record, if it is
/// still at `expected_version` (the caller checked the transition); commits. A change that
/// withdraws the INS removes it, and its event keeps `previous` (the traits and INS before),
/// which the caller gives for such a change.
pub async fn change_status(
    tx: Tx<'_>,
    resident_id: ResidentId,
    expected_version: i32,
    change: &StatusChange,
    previous: Option<&PreviousIdentity>,
) -> StoreResult<Resident> {
    let keys = tx.sealing_keys(2).await?;
    let event = Uuid::now_v7();
    let details =
        change.reason.as_ref().map(|c| seal_json(&keys, IDENTITY_EVENT_DETAILS, event, &Some(c))).transpose()?;
    let previous = previous.map(|previous| seal_json(&keys, IDENTITY_EVENT_PREVIOUS, event, previous)).transpose()?;
    let withdraw_ins = change.withdraws_ins();
    let dek = keys.active_version() as i32;
    let document = change.document.map(IdentityDocument::as_str);
    let (from, to) = (change.from.as_str(), change.to.as_str());
    let id = resident_id.as_uuid();
    let args = args! { resident: &id, expected_version: &expected_version, from_status: &from, to_status: &to,
    event: &event, document: &document, insi_lookup: &change.insi_lookup, details: &details,
    dek_version: &dek, withdraw_ins: &withdraw_ins, previous: &previous }
    .action(AuditAction::IdentityChangeStatus);
    let (db, tenant, again) = (tx.db(), tx.tenant(), tx.again());
    match tx.finish(&CHANGE, &args).await?.first() {
        Some(row) => db.open_one(tenant, row, resident).await,
        None => Err(why_resident_unchanged(again, resident_id, Some(expected_version)).await),
    }
}

/// Identity events: comments and replaced values sealed; a merge moves them; the resident's
/// export lists them, oldest first.
pub(crate) const FEATURE: Feature = Feature {
    name: "identity",
    tables: &[Table::of_person(
        "identity_events",
        &[IDENTITY_EVENT_DETAILS, IDENTITY_EVENT_PREVIOUS],
        "identity_events",
        EVENT_FIELDS,
        "recorded_at, id",
        |row, keys| to_json(identity_event(row, keys)),
    )
    // Moved to the record kept, each event remembering the record it was written about.
    .merged(Merge::Rule {
        merge: || {
            "UPDATE identity_events e SET resident_id = :survivor, merged_from = coalesce(e.merged_from, :duplicate) \
             FROM ok, who WHERE ok.found_both AND e.tenant_id = who.tenant_id AND e.resident_id = :duplicate \
             RETURNING e.id, false AS ended"
                .to_owned()
        },
        undo: "merged_from = NULLIF(t.merged_from, :duplicate)",
    })],
};

static TYPED_RETRIEVALS: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT r.id FROM residents r WHERE r.tenant_id = :tenant AND r.identity_status = 'RECUP' \
         AND r.record_status = 'active' \
         AND NOT EXISTS (SELECT 1 FROM identity_events e WHERE e.tenant_id = r.tenant_id AND e.resident_id = r.id \
                         AND e.merged_from IS NULL AND e.from_status IS NOT NULL AND e.insi_lookup) \
         ORDER BY r.id FOR UPDATE OF r",
    )
});

static LOWER_TYPED: Stmt = LazyLock::new(|| {
    Sql::new(
        "WITH given AS (SELECT * FROM unnest(:ids::uuid[], :events::uuid[], :details::bytea[]) AS g(id, event, details)), \
         lowered AS (UPDATE residents r SET identity_status = 'PROV', row_version = r.row_version + 1, updated_at = now() \
                     FROM given g WHERE r.tenant_id = :tenant AND r.id = g.id AND r.identity_status = 'RECUP' \
                     RETURNING r.id), \
         ev AS (INSERT INTO identity_events (tenant_id, id, resident_id, kind, from_status, to_status, insi_lookup, \
                                             details, dek_version) \
                SELECT :tenant, g.event, g.id, 'status', 'RECUP', 'PROV', false, g.details, :dek_version \
                FROM given g JOIN lowered l ON l.id = g.id RETURNING 1) \
         SELECT count(*) AS lowered FROM ev",
    )
});

/// Why [`crate::Db::lower_typed_retrievals`] sends an identity back to provisional.
const TYPED_RETRIEVAL_REASON: &str =
    "INS saisi à l'admission, jamais récupéré ni vérifié avec le téléservice INSi : identité provisoire (RNIV)";

impl crate::Db {
    /// Sends back to provisional the identities of `tenant` that an INS typed at admission made
    /// retrieved (RECUP) before that was corrected: only INSi makes an identity retrieved. Each
    /// gets an identity event saying why, recorded by the system. Returns how many; nothing to
    /// do makes no write.
    pub async fn lower_typed_retrievals(&self, tenant: dui_domain::TenantId) -> StoreResult<u64> {
        let mut tx = self.begin_for_tenant(tenant, crate::Mode::Write);
        let rows = tx.query(&TYPED_RETRIEVALS, &args! {}).await?;
        if rows.is_empty() {
            tx.rollback().await?;
            return Ok(0);
        }
        let ids: Vec<Uuid> = rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
        let keys = tx.sealing_keys(ids.len() as u64).await?;
        let events: Vec<Uuid> = ids.iter().map(|_| Uuid::now_v7()).collect();
        let details = events
            .iter()
            .map(|event| seal_json(&keys, IDENTITY_EVENT_DETAILS, *event, &Some(TYPED_RETRIEVAL_REASON)))
            .collect::<StoreResult<Vec<Vec<u8>>>>()?;
        let dek = keys.active_version() as i32;
        let args = args! { ids: &ids, events: &events, details: &details, dek_version: &dek };
        let lowered: i64 = tx.query_one(&LOWER_TYPED, &args).await?.try_get("lowered")?;
        tx.commit().await?;
        Ok(lowered as u64)
    }

    /// [`crate::Db::lower_typed_retrievals`] for every tenant (a maintenance pass: once done,
    /// it finds nothing).
    pub async fn lower_typed_retrievals_everywhere(&self) -> StoreResult<u64> {
        let mut lowered = 0;
        for tenant in self.tenants_with_keys().await? {
            lowered += self.lower_typed_retrievals(tenant).await?;
        }
        Ok(lowered)
    }
}
