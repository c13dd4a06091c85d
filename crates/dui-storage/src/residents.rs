//! Residents' records: identity (sealed, with blind indexes), stays, notes; every access checked
//! against the access rule and recorded in the audit trail in the same statement.

use std::sync::LazyLock;

use chrono::Utc;
use dui_crypto::{BlindIndex, Column, Keyring};
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::resident::{
    Identity, IdentityStatus, Ins, Likeness, NewResident, RecordStatus, Resident, ResidentLookup, birth_identity_key,
    matricule,
};
use dui_domain::{EstablishmentId, ResidentId, UnitId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO_CTE, seen, target, urgent, visible};
use crate::args;
use crate::feature::{Derived, Feature, Merge, ResidentExport, ResidentRows, Table, TenantExport};
use crate::idempotency::{Create, create_once, replay};
use crate::rows::parse;
use crate::sealing::{open_json, seal_json, versions};
use crate::sql::{Sql, Stmt};
use crate::stays::{CURRENT_STAY, STAY_COLUMNS, stay_with_prefix};
use crate::trace::{Reading, Trace, Variants, read_trace};
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

pub(crate) const RESIDENT_IDENTITY: Column = Column::new("residents", "identity");
/// The sealed columns of `identity_events` (the identity feature's table; declared here, where
/// a correction of the identity writes them too).
pub(crate) const IDENTITY_EVENT_DETAILS: Column = Column::new("identity_events", "details");
pub(crate) const IDENTITY_EVENT_PREVIOUS: Column = Column::new("identity_events", "previous");
pub(crate) const RESIDENT_INS: Column = Column::new("residents", "ins");

pub(crate) const INS_INDEX: BlindIndex = BlindIndex::new("ins");
pub(crate) const BIRTH_IDENTITY_INDEX: BlindIndex = BlindIndex::new("birth_identity");

/// The resident's columns, from alias `r`.
pub(crate) const RESIDENT_COLUMNS: &str = "r.id, r.identity_status, r.identity, r.ins, r.dek_version, r.record_status, \
     r.merged_into, r.row_version, r.created_at, r.updated_at";

fn has_column(row: &Row, name: &str) -> bool {
    row.columns().iter().any(|c| c.name() == name)
}

pub(crate) fn resident(row: &Row, keys: &Keyring) -> StoreResult<Resident> {
    let id: Uuid = row.try_get("id")?;
    let identity: Identity = open_json(keys, RESIDENT_IDENTITY, id, row.try_get("identity")?)?;
    let ins: Option<Ins> = match row.try_get::<_, Option<&[u8]>>("ins")? {
        Some(sealed) => Some(open_json(keys, RESIDENT_INS, id, sealed)?),
        None => None,
    };
    let current_stay = if has_column(row, "stay_id") { stay_with_prefix(row, "stay_", id)? } else { None };
    Ok(Resident {
        id: ResidentId::from_uuid(id),
        identity_status: parse(row, "identity_status", IdentityStatus::parse)?,
        strict_traits: identity.strict_traits(),
        identity,
        ins,
        current_stay,
        record_status: parse(row, "record_status", RecordStatus::parse)?,
        merged_into: row.try_get::<_, Option<Uuid>>("merged_into")?.map(ResidentId::from_uuid),
        row_version: row.try_get("row_version")?,
        emergency: has_column(row, "via_emergency") && row.try_get::<_, bool>("via_emergency")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// How to narrow a list of residents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResidentFilter {
    pub establishment: Option<EstablishmentId>,
    pub unit: Option<UnitId>,
    /// Only residents with (`Some(true)`) or without (`Some(false)`) a current stay.
    pub current: Option<bool>,
}

/// A correction of identity traits (the INS, if given, replaces the stored one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityCorrection {
    pub identity: Identity,
    pub ins: Option<Ins>,
    /// The status the record has now, and whether the correction sends it back to provisional
    /// (a strict trait or the INS of a retrieved identity changed: what INSi returned no longer
    /// stands), with the reason its identity event keeps.
    pub from_status: IdentityStatus,
    pub back_to_provisional: Option<String>,
    /// What the correction replaces, when it changes anything: kept, sealed, in an identity
    /// event.
    pub previous: Option<dui_domain::record::PreviousIdentity>,
}

static RELOAD: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS} FROM residents r {CURRENT_STAY} WHERE r.tenant_id = :tenant AND r.id = :id"
    ))
});

/// The records that look like the one being filed, 50 at most: the one with the same INS, then
/// those with the same birth identity (the first probe), then the nearer likenesses (the other
/// probes). Each group is read from its index and stops at the limit: ordering every homonym
/// before the limit made each admission of a common identity cost as many rows as there were
/// homonyms.
static CANDIDATES: Stmt = LazyLock::new(|| {
    let filed = "tenant_id = :tenant AND record_status = 'active' AND (:except::uuid IS NULL OR id <> :except)";
    let other_ins = "NOT coalesce(ins_index = :ins_index, false)";
    Sql::new(&format!(
        "SELECT * FROM ( \
           (SELECT id, true AS same_ins, birth_identity_index FROM residents WHERE {filed} AND ins_index = :ins_index LIMIT 1) \
           UNION ALL \
           (SELECT id, false, birth_identity_index FROM residents WHERE {filed} AND {other_ins} \
              AND birth_identity_index = (:probes::bytea[])[1] LIMIT 50) \
           UNION ALL \
           (SELECT id, false, birth_identity_index FROM residents WHERE {filed} AND {other_ins} \
              AND birth_identity_index = ANY((:probes::bytea[])[2:]) LIMIT 50) \
         ) c LIMIT 50"
    ))
});

static CREATE: Stmt = LazyLock::new(|| {
    let created =
        Trace { from: "who, r", resident: "r.id", resource: "r.id", outcome: "'success'", emergency: "false" };
    // One statement: the record, its first stay (in a unit of that establishment, if given),
    // its first identity event, and the trace.
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         place AS (SELECT e.id FROM establishments e, who WHERE e.tenant_id = who.tenant_id AND e.id = :establishment \
                   AND (:unit::uuid IS NULL OR EXISTS (SELECT 1 FROM units u WHERE u.tenant_id = e.tenant_id \
                        AND u.id = :unit AND u.establishment_id = e.id))), \
         r AS (INSERT INTO residents (tenant_id, id, identity_status, identity, ins, ins_index, birth_identity_index, \
                                      dek_version) \
               SELECT who.tenant_id, :id, :status, :identity, :ins, :ins_index, :birth_index, :dek_version \
               FROM who, place RETURNING *), \
         st AS (INSERT INTO stays (tenant_id, id, resident_id, establishment_id, unit_id, mode, admitted_on, admission_mode) \
                SELECT r.tenant_id, :stay_id, r.id, :establishment, :unit, :mode, :admitted_on, :admission_mode FROM r \
                RETURNING *), \
         ev AS (INSERT INTO identity_events (tenant_id, id, resident_id, to_status, insi_lookup, recorded_by, dek_version) \
                SELECT r.tenant_id, dui_uuid_v7(), r.id, r.identity_status, false, \
                       CASE WHEN who.console THEN NULL ELSE who.user_id END, r.dek_version FROM r, who RETURNING id), \
         trace AS ({trace}), {told} \
         SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS} FROM r, st",
        trace = created.sql(),
        told = crate::handover_write::emit_as("told", "st", Some("st"))
    ))
});

pub(crate) fn read_sql(recorded: bool) -> String {
    format!(
        "WITH {WHO_CTE}, \
         candidate AS MATERIALIZED (SELECT r.*, {visible} AS normal, {urgent} AS urgent FROM residents r, who \
                       WHERE r.tenant_id = who.tenant_id AND r.id = :resident), \
         target AS (SELECT * FROM candidate WHERE normal OR urgent){trace} \
         SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS}, NOT r.normal AS via_emergency FROM target r {CURRENT_STAY}",
        visible = visible("r"),
        urgent = urgent("r"),
        trace = read_trace(recorded),
    )
}

pub(crate) static READ: Variants = Variants {
    recorded: LazyLock::new(|| Sql::new(&read_sql(true))),
    unrecorded: LazyLock::new(|| Sql::new(&read_sql(false))),
};

pub(crate) static LIST: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         data AS (SELECT r.*, seen.normal FROM residents r, who, {seen} \
                  WHERE r.tenant_id = who.tenant_id AND r.record_status = 'active' \
                  AND (:after::uuid IS NULL OR r.id > :after) \
                  AND (:establishment::uuid IS NULL AND :unit::uuid IS NULL AND :current::bool IS NULL \
                       OR EXISTS (SELECT 1 FROM stays f WHERE f.tenant_id = r.tenant_id AND f.resident_id = r.id \
                                  AND (:establishment::uuid IS NULL OR f.establishment_id = :establishment) \
                                  AND (:unit::uuid IS NULL OR f.unit_id = :unit) \
                                  AND (:current::bool IS NULL OR (:current = (f.admitted_on <= current_date \
                                       AND (f.discharged_on IS NULL OR f.discharged_on > current_date)))))) \
                  AND (seen.normal OR seen.urgent) ORDER BY r.id LIMIT :limit) \
         SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS}, NOT r.normal AS via_emergency FROM data r {CURRENT_STAY} ORDER BY r.id",
        seen = seen("r"),
    ))
});

/// The records of `here` (a `SELECT` of resident ids) that the caller sees, a page of them in
/// id order: the rule of access is checked in that order until the page is full (`OFFSET 0`
/// keeps the check in its own loop, so the planner cannot check everyone first). For lists that
/// start from a few stays instead of walking the tenant's records.
fn seen_among(here: &str) -> String {
    format!(
        "WITH {WHO_CTE}, \
         here AS MATERIALIZED ({here}), \
         data AS (SELECT r.* FROM (SELECT resident_id FROM here ORDER BY resident_id) h \
                  CROSS JOIN LATERAL (SELECT r.*, seen.normal FROM residents r, who, {seen} \
                      WHERE r.tenant_id = who.tenant_id AND r.id = h.resident_id AND r.record_status = 'active' \
                      AND (seen.normal OR seen.urgent) OFFSET 0) r \
                  LIMIT :limit) \
         SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS}, NOT r.normal AS via_emergency FROM data r {CURRENT_STAY} ORDER BY r.id",
        seen = seen("r"),
    )
}

/// The residents with a current stay in a place (`:unit`, else `:establishment`) that the
/// caller sees: the current stays of the place are read through their index on
/// `(tenant_id, place, discharged_on)`, so the list costs what the place holds now, not the
/// years of stays before.
fn present_sql(place: &str) -> String {
    seen_among(&format!(
        "SELECT DISTINCT f.resident_id FROM stays f \
         WHERE f.tenant_id = :tenant AND f.{place} = :place \
         AND (f.discharged_on IS NULL OR f.discharged_on > current_date) AND f.admitted_on <= current_date \
         AND (:establishment::uuid IS NULL OR f.establishment_id = :establishment) \
         AND (:after::uuid IS NULL OR f.resident_id > :after)"
    ))
}

/// The records a caller whose reach is some establishments sees, unfiltered, found among the
/// people whose stay there is current or recent (the team), who ever stayed in the
/// establishments the caller oversees (the director's archives), and those opened in an
/// emergency — not by walking the whole tenant's records, of which such a caller sees a few. (A
/// director's list still reads the history of the establishments overseen, once per page.)
fn reached_sql(archives: bool) -> String {
    let archives = if archives {
        "UNION \
         SELECT f.resident_id FROM unnest(:archive_est::uuid[]) o(establishment_id), stays f \
           WHERE f.tenant_id = :tenant AND f.establishment_id = o.establishment_id \
           AND (:after::uuid IS NULL OR f.resident_id > :after) "
    } else {
        ""
    };
    seen_among(&format!(
        "SELECT f.resident_id FROM stays f WHERE f.tenant_id = :tenant \
           AND f.establishment_id = ANY(:full_est::uuid[] || :assigned_est::uuid[]) \
           AND (f.discharged_on IS NULL OR f.discharged_on >= current_date - :recent_days::int) \
           AND (:after::uuid IS NULL OR f.resident_id > :after) \
         {archives}\
         UNION \
         SELECT e.resident_id FROM emergency_accesses e WHERE e.tenant_id = :tenant \
           AND e.user_id = :user AND e.expires_at > now() AND (:after::uuid IS NULL OR e.resident_id > :after)"
    ))
}

/// The unfiltered list for the caller of `tx`: walking the records in id order for one who
/// reaches every establishment, else starting from the stays of those reached.
pub(crate) fn unfiltered_list(tx: &Tx<'_>) -> &'static Sql {
    if tx.reaches_every_establishment() {
        &LIST
    } else if tx.oversees_some_establishment() {
        &REACHED_WITH_ARCHIVES
    } else {
        &REACHED
    }
}

/// [`reached_sql`] for a team (no establishment overseen), and with the archives of the
/// establishments overseen.
pub(crate) static REACHED: Stmt = LazyLock::new(|| Sql::new(&reached_sql(false)));
pub(crate) static REACHED_WITH_ARCHIVES: Stmt = LazyLock::new(|| Sql::new(&reached_sql(true)));

pub(crate) static PRESENT_IN_UNIT: Stmt = LazyLock::new(|| Sql::new(&present_sql("unit_id")));
pub(crate) static PRESENT_IN_ESTABLISHMENT: Stmt = LazyLock::new(|| Sql::new(&present_sql("establishment_id")));

fn search_sql(column: &str) -> String {
    format!(
        "WITH {WHO_CTE}, \
         data AS (SELECT r.*, seen.normal FROM residents r, who, {seen} \
                  WHERE r.tenant_id = who.tenant_id AND r.{column} = :index AND r.record_status = 'active' \
                  AND (seen.normal OR seen.urgent) ORDER BY r.id LIMIT 50) \
         SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS}, NOT r.normal AS via_emergency FROM data r {CURRENT_STAY} ORDER BY r.id",
        seen = seen("r"),
    )
}

/// The search by birth identity as a statement that writes its own trace (one event per record
/// found), for the benchmark's baseline: what raw PostgreSQL does for an audited search without
/// the trail.
#[cfg(feature = "bench")]
pub(crate) fn search_traced_sql() -> String {
    let searched = search_sql("birth_identity_index");
    let (head, tail) = searched.split_once(" SELECT ").unwrap_or((&searched, ""));
    let trace = Trace {
        from: "who, data",
        resident: "data.id",
        resource: "data.id",
        outcome: "'success'",
        emergency: "NOT data.normal",
    }
    .sql();
    format!("{head}, trace AS ({trace}) SELECT {tail}")
}

static SEARCH_BY_INS: Stmt = LazyLock::new(|| Sql::new(&search_sql("ins_index")));
pub(crate) static SEARCH_BY_BIRTH_IDENTITY: Stmt = LazyLock::new(|| Sql::new(&search_sql("birth_identity_index")));

static CORRECT: Stmt = LazyLock::new(|| {
    // Resealing re-encrypts the values of both columns: the old INS (if kept) is resealed too.
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         changed AS (UPDATE residents r SET identity = :identity, ins = :ins, ins_index = :ins_index, \
                       birth_identity_index = :birth_index, dek_version = :dek_version, \
                       identity_status = CASE WHEN :lowered THEN 'PROV' ELSE r.identity_status END, \
                       row_version = r.row_version + 1, updated_at = now() \
                     FROM target t WHERE r.tenant_id = t.tenant_id AND r.id = t.id AND r.row_version = :expected_version \
                     AND r.identity_status = :from_status AND r.record_status = 'active' RETURNING r.*), \
         ev AS (INSERT INTO identity_events (tenant_id, id, resident_id, kind, from_status, to_status, document, \
                                             insi_lookup, details, previous, recorded_by, dek_version) \
                SELECT c.tenant_id, :event, c.id, 'correction', :from_status, c.identity_status, NULL, false, :details, \
                       :previous, who.user_id, :dek_version \
                FROM changed c, who WHERE :previous::bytea IS NOT NULL RETURNING id), \
         trace AS ({trace}) \
         SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS} FROM changed r {CURRENT_STAY}",
        target = target(),
        trace = Trace::record_changed("changed.id"),
    ))
});

static IDENTITY: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} SELECT r.id, r.identity, r.dek_version FROM residents r, target t \
         WHERE r.tenant_id = t.tenant_id AND r.id = t.id",
        target = target()
    ))
});

static VERSION: Stmt = LazyLock::new(|| {
    Sql::new("SELECT row_version, record_status FROM residents WHERE tenant_id = :tenant AND id = :id")
});

/// Records with the same INS as `ins`, or filed in the birth-identity index under one of
/// `probes` (see [`dui_domain::resident::duplicate_probes`]), with their likeness to the record
/// sought, closest first. Only ids and index values: nothing of those records is opened.
pub async fn duplicate_candidates(
    tx: &mut Tx<'_>,
    probes: &[(String, Likeness)],
    ins: Option<&Ins>,
    except: Option<ResidentId>,
) -> StoreResult<Vec<(ResidentId, Likeness)>> {
    let keys = tx.keyring([]).await?;
    let ins_index = ins.map(|ins| keys.blind_index(INS_INDEX, &ins.matricule).to_vec());
    let hashed: Vec<(Vec<u8>, Likeness)> = probes
        .iter()
        .map(|(key, likeness)| (keys.blind_index(BIRTH_IDENTITY_INDEX, key).to_vec(), *likeness))
        .collect();
    let values: Vec<&[u8]> = hashed.iter().map(|(value, _)| value.as_slice()).collect();
    let except = except.map(|e| e.as_uuid());
    let rows = tx.query(&CANDIDATES, &args! { ins_index: &ins_index, probes: &values, except: &except }).await?;
    let mut found = rows
        .iter()
        .map(|row| {
            let id = ResidentId::from_uuid(row.try_get("id")?);
            if row.try_get("same_ins")? {
                return Ok((id, Likeness::SameIns));
            }
            let filed: Option<&[u8]> = row.try_get("birth_identity_index")?;
            let likeness = hashed.iter().find(|(value, _)| Some(value.as_slice()) == filed).map(|(_, l)| *l);
            Ok((id, likeness.unwrap_or(Likeness::SameBirthIdentity)))
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let rank = |likeness: &Likeness| Likeness::ALL.iter().position(|l| l == likeness);
    found.sort_by_key(|(id, likeness)| (rank(likeness), *id));
    Ok(found)
}

/// Creates a resident's record with their first stay and first identity event, unless it would
/// duplicate one: the same INS is always refused, the same birth name and birth date unless
/// `confirm_homonym` says it is another person. A retry with the same idempotency key returns
/// the record created first. Commits.
pub async fn create(
    mut tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    new: &NewResident,
    confirm_homonym: bool,
    event: Option<&dui_domain::handover::NewHandoverEvent>,
) -> StoreResult<Created<Resident>> {
    if let Some(key) = key {
        let keys = tx.keyring([]).await?;
        let map = |row: &Row| resident(row, &keys);
        if let Some(replayed) = replay(&mut tx, key, &RELOAD, &map).await? {
            tx.commit().await?;
            return Ok(replayed);
        }
    }
    // On admission, only the same INS, or the same birth name and date, stop it: near
    // likenesses are for the identity-vigilance officer to weigh (on demand).
    let exact = [(birth_identity_key(&new.identity.birth_name, new.identity.birth_date), Likeness::SameBirthIdentity)];
    let candidates = duplicate_candidates(&mut tx, &exact, new.ins.as_ref(), None).await?;
    let same_ins = candidates.iter().any(|(_, likeness)| *likeness == Likeness::SameIns);
    if same_ins || (!candidates.is_empty() && !confirm_homonym) {
        return Err(StoreError::Duplicate {
            candidates: candidates.iter().map(|(id, _)| id.as_uuid()).collect(),
            same_ins,
        });
    }
    let keys = tx.sealing_keys(3).await?;
    let id = Uuid::now_v7();
    let identity = seal_json(&keys, RESIDENT_IDENTITY, id, &new.identity)?;
    let event = crate::handover_write::EventRow::seal(&keys, event)?;
    let ins = new.ins.as_ref().map(|ins| seal_json(&keys, RESIDENT_INS, id, ins)).transpose()?;
    let ins_index = new.ins.as_ref().map(|ins| keys.blind_index(INS_INDEX, &ins.matricule).to_vec());
    let birth_index = keys
        .blind_index(BIRTH_IDENTITY_INDEX, &birth_identity_key(&new.identity.birth_name, new.identity.birth_date))
        .to_vec();
    let stay_id = Uuid::now_v7();
    let establishment = new.stay.establishment_id.as_uuid();
    let unit = new.stay.unit_id.map(|u| u.as_uuid());
    let dek = keys.active_version() as i32;
    let (status, mode, admission_mode) =
        (new.identity_status.as_str(), new.stay.mode.as_str(), new.stay.admission_mode.as_str());
    let args = args! { id: &id, stay_id: &stay_id, establishment: &establishment, unit: &unit, status: &status,
    identity: &identity, ins: &ins, ins_index: &ins_index, birth_index: &birth_index,
    dek_version: &dek, mode: &mode, admitted_on: &new.stay.admitted_on,
    admission_mode: &admission_mode }
    .action(AuditAction::ResidentCreate);
    let args = event.bind(args);
    // A current stay must be today's to show as current; the returned row gives the stay
    // whatever its date.
    let map = |row: &Row| {
        let mut created = resident(row, &keys)?;
        if created.current_stay.as_ref().is_some_and(|s| !s.is_current(Utc::now().date_naive())) {
            created.current_stay = None;
        }
        Ok(created)
    };
    create_once(tx, key, Create { id, insert: &CREATE, args, reload: &RELOAD, map: &map }).await
}

/// One resident, if visible, as the transaction's last statement.
pub async fn read(tx: Tx<'_>, id: ResidentId, reading: Reading) -> StoreResult<Resident> {
    let resident_id = id.as_uuid();
    let (sql, args, trace) = READ.pick_final(reading, args! { resident: &resident_id }, |action| {
        crate::trail::ReadTrace::Record { action, resident: resident_id }
    });
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = tx.finish_read(sql, &args, trace).await?;
    db.open_rows(tenant, &rows, resident).await?.pop().ok_or(StoreError::NotFound)
}

/// [`read`] within an operation that goes on.
pub async fn read_within(tx: &mut Tx<'_>, id: ResidentId, reading: Reading) -> StoreResult<Resident> {
    let resident_id = id.as_uuid();
    let (sql, args) = READ.pick(reading, args! { resident: &resident_id });
    let Some(row) = tx.query_opt(sql, &args).await? else {
        // Out of reach: the refusal recorded stays, whatever the operation does next.
        tx.commit_now().await?;
        return Err(StoreError::NotFound);
    };
    let keys = tx.keyring(versions(std::slice::from_ref(&row))?).await?;
    resident(&row, &keys)
}

/// The residents the caller sees, narrowed by `filter`; each one listed is recorded as read.
pub async fn list(tx: Tx<'_>, filter: ResidentFilter, page: PageRequest) -> StoreResult<Page<Resident>> {
    let establishment = filter.establishment.map(|e| e.as_uuid());
    let unit = filter.unit.map(|u| u.as_uuid());
    let limit = page.fetch_limit();
    let (db, tenant) = (tx.db(), tx.tenant());
    let listed = crate::trail::ReadTrace::EachRecord { action: AuditAction::ResidentList };
    let present = match (filter.current, unit, establishment) {
        (Some(true), Some(unit), _) => Some((&*PRESENT_IN_UNIT, unit)),
        (Some(true), None, Some(establishment)) => Some((&*PRESENT_IN_ESTABLISHMENT, establishment)),
        _ => None,
    };
    let rows = match present {
        Some((sql, place)) => {
            let args = args! { place: &place, establishment: &establishment, after: &page.after, limit: &limit };
            tx.finish_read(sql, &args, Some(listed)).await?
        }
        None => {
            let unfiltered = filter.establishment.is_none() && filter.unit.is_none() && filter.current.is_none();
            let sql = if unfiltered { unfiltered_list(&tx) } else { &*LIST };
            let args = args! { establishment: &establishment, unit: &unit, current: &filter.current,
            after: &page.after, limit: &limit };
            tx.finish_read(sql, &args, Some(listed)).await?
        }
    };
    let items = db.open_rows(tenant, &rows, resident).await?;
    Ok(Page::from_rows(items, page, |r| r.id.as_uuid()))
}

/// Residents the caller sees matching a look-up, through the blind indexes; each one found is
/// recorded as read.
pub async fn search(mut tx: Tx<'_>, lookup: &ResidentLookup) -> StoreResult<Vec<Resident>> {
    let keys = tx.keyring([]).await?;
    let (sql, index): (&Sql, _) = match lookup {
        ResidentLookup::Ins(value) => {
            // An invalid matricule matches nothing; normalising it lets spaces and case vary.
            let normalised = matricule(value).unwrap_or_else(|_| value.clone());
            (&SEARCH_BY_INS, keys.blind_index(INS_INDEX, &normalised))
        }
        ResidentLookup::BirthIdentity { birth_name, birth_date } => (
            &SEARCH_BY_BIRTH_IDENTITY,
            keys.blind_index(BIRTH_IDENTITY_INDEX, &birth_identity_key(birth_name, *birth_date)),
        ),
    };
    let index = index.to_vec();
    let (db, tenant) = (tx.db(), tx.tenant());
    let found = crate::trail::ReadTrace::EachRecord { action: AuditAction::ResidentSearch };
    let rows = tx.finish_read(sql, &args! { index: &index }, Some(found)).await?;
    db.open_rows(tenant, &rows, resident).await
}

/// Corrects identity traits (and the INS), if the record is still at `expected_version`;
/// commits. The blind indexes follow; another record with the same INS refuses it.
pub async fn correct_identity(
    tx: Tx<'_>,
    id: ResidentId,
    expected_version: i32,
    correction: &IdentityCorrection,
) -> StoreResult<Resident> {
    let keys = tx.sealing_keys(4).await?;
    let resident_id = id.as_uuid();
    let identity = seal_json(&keys, RESIDENT_IDENTITY, resident_id, &correction.identity)?;
    let ins = correction.ins.as_ref().map(|ins| seal_json(&keys, RESIDENT_INS, resident_id, ins)).transpose()?;
    let ins_index = correction.ins.as_ref().map(|ins| keys.blind_index(INS_INDEX, &ins.matricule).to_vec());
    let birth_index = keys
        .blind_index(
            BIRTH_IDENTITY_INDEX,
            &birth_identity_key(&correction.identity.birth_name, correction.identity.birth_date),
        )
        .to_vec();
    let dek = keys.active_version() as i32;
    let event = uuid::Uuid::now_v7();
    let lowered = correction.back_to_provisional.is_some();
    let details = correction
        .back_to_provisional
        .as_ref()
        .map(|reason| seal_json(&keys, IDENTITY_EVENT_DETAILS, event, &Some(reason)))
        .transpose()?;
    let previous = correction
        .previous
        .as_ref()
        .map(|previous| seal_json(&keys, IDENTITY_EVENT_PREVIOUS, event, previous))
        .transpose()?;
    let from_status = correction.from_status.as_str();
    let args = args! { resident: &resident_id, expected_version: &expected_version, identity: &identity, ins: &ins,
    ins_index: &ins_index, birth_index: &birth_index, dek_version: &dek, lowered: &lowered,
    from_status: &from_status, event: &event, details: &details, previous: &previous }
    .action(AuditAction::ResidentUpdate);
    let again = tx.again();
    match tx.finish(&CORRECT, &args).await?.first() {
        Some(row) => resident(row, &keys),
        None => Err(why_resident_unchanged(again, id, Some(expected_version)).await),
    }
}

/// Why a change of a visible resident's row touched nothing: merged (422 as
/// `residents_merged_is_final`), a stale version (412), or refused by its conditions.
pub(crate) async fn why_resident_unchanged(mut tx: Tx<'_>, id: ResidentId, expected: Option<i32>) -> StoreError {
    let resident_id = id.as_uuid();
    let found = tx.query_opt(&VERSION, &args! { id: &resident_id }).await;
    drop(tx);
    let row = match found {
        Ok(Some(row)) => row,
        Ok(None) => return StoreError::NotFound,
        Err(error) => return error,
    };
    let state = (row.try_get::<_, i32>("row_version"), parse(&row, "record_status", RecordStatus::parse));
    match state {
        (_, Ok(status)) if status != RecordStatus::Active => {
            StoreError::Invalid { constraint: "residents_merged_is_final".to_owned() }
        }
        (Ok(current), _) if expected.is_some_and(|e| e != current) => StoreError::StaleVersion { current },
        (Ok(_), Ok(_)) => StoreError::Invalid { constraint: "residents_change_refused".to_owned() },
        (Err(error), _) => error.into(),
        (_, Err(error)) => error,
    }
}

/// The identity traits of a visible resident, for a document an operation makes (the
/// operation records its own access; this reads without recording).
pub async fn identity(tx: &mut Tx<'_>, resident: ResidentId) -> StoreResult<Identity> {
    let id = resident.as_uuid();
    let row = tx.query_one(&IDENTITY, &args! { resident: &id }).await?;
    let keys = tx.keyring(versions(std::slice::from_ref(&row))?).await?;
    open_json(&keys, RESIDENT_IDENTITY, id, row.try_get("identity")?)
}

/// The resident's row: identity and INS sealed, their blind indexes made again on import from
/// the opened values (under the importing tenant's key); merged duplicates after the records
/// they point at. Merging marks the duplicate's row; the resident's export starts with it.
pub(crate) const FEATURE: Feature = Feature {
    name: "residents",
    tables: &[Table {
        name: "residents",
        sealed: &[RESIDENT_IDENTITY, RESIDENT_INS],
        reseal: true,
        tenant_export: TenantExport::Rows {
            order: "merged_into IS NOT NULL, id",
            derived: &[
                Derived { column: "ins_index", make: ins_index_of },
                Derived { column: "birth_identity_index", make: birth_identity_index_of },
            ],
            defaulted: &[],
            settle: None,
        },
        resident: Some(ResidentRows {
            column: "id",
            merge: Merge::Keep("the duplicate's own row stays, marked merged, pointing at the record kept"),
            export: ResidentExport::Record,
        }),
    }],
};

fn ins_index_of(row: &serde_json::Map<String, serde_json::Value>, keys: &Keyring) -> StoreResult<Option<Vec<u8>>> {
    Ok(row
        .get("ins")
        .and_then(|ins| ins.get("matricule"))
        .and_then(serde_json::Value::as_str)
        .map(|matricule| keys.blind_index(INS_INDEX, matricule).to_vec()))
}

fn birth_identity_index_of(
    row: &serde_json::Map<String, serde_json::Value>,
    keys: &Keyring,
) -> StoreResult<Option<Vec<u8>>> {
    let identity: Identity = serde_json::from_value(row.get("identity").cloned().unwrap_or_default())
        .map_err(|e| StoreError::Corrupt { column: "residents.identity", value: e.to_string() })?;
    let key = birth_identity_key(&identity.birth_name, identity.birth_date);
    Ok(Some(keys.blind_index(BIRTH_IDENTITY_INDEX, &key).to_vec()))
}

static READING: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, trace AS ({trace}) SELECT EXISTS (SELECT 1 FROM target) AS visible",
        target = target(),
        trace = Trace::read(),
    ))
});

/// Records a reading of a resident's record as `action` — a success, or the refusal when the
/// resident is out of reach (then `NotFound`, the refusal committed): for an operation that
/// reads several parts of the record and records them once.
pub async fn record_reading(tx: &mut Tx<'_>, id: ResidentId, action: AuditAction) -> StoreResult<()> {
    let resident_id = id.as_uuid();
    let row = tx.query_one(&READING, &args! { resident: &resident_id }.action(action)).await?;
    if row.try_get::<_, bool>("visible")? {
        Ok(())
    } else {
        tx.commit_now().await?;
        Err(StoreError::NotFound)
    }
}
