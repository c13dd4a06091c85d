//! The calls made to the INSi teleservice about a record: each search, what it found (the INS
//! and the traits INS, sealed), and its confirmation by a professional, which puts the INS and
//! the traits on the record with an identity event naming the call — the only way an INS from
//! the service reaches a record.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::audit::AuditAction;
use dui_domain::identity::birth_identity_key;
use dui_domain::insi::{FoundIdentity, InsiKind, InsiOutcome, MISMATCH_REASON};
use dui_domain::record::PreviousIdentity;
use dui_domain::resident::{IdentityStatus, Resident};
use dui_domain::{ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO_CTE, target};
use crate::args;
use crate::feature::{Feature, Table, to_json};
use crate::residents::{
    BIRTH_IDENTITY_INDEX, IDENTITY_EVENT_DETAILS, IDENTITY_EVENT_PREVIOUS, INS_INDEX, RESIDENT_COLUMNS,
    RESIDENT_IDENTITY, RESIDENT_INS, resident, why_resident_unchanged,
};
use crate::rows::parse;
use crate::sealing::{open_json, seal_json};
use crate::sql::{Sql, Stmt};
use crate::stays::{CURRENT_STAY, STAY_COLUMNS};
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

/// Sealed: the identity the service found.
pub(crate) const INSI_CALL_ANSWER: Column = Column::new("insi_calls", "answer");

/// A call to the teleservice, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InsiCall {
    /// The message id sent to the service.
    pub id: Uuid,
    pub kind: InsiKind,
    pub outcome: InsiOutcome,
    /// What the service found (outcome `found`).
    pub found: Option<FoundIdentity>,
    pub requested_by: Option<UserId>,
    pub requested_at: DateTime<Utc>,
    pub confirmed_by: Option<UserId>,
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Another record that held the INS found when the search was made: the same person, likely.
    pub held_by: Option<ResidentId>,
}

const CALL_COLUMNS: &str = "c.id, c.kind, c.outcome, c.held_by, c.answer, c.dek_version, c.requested_by, c.requested_at, c.confirmed_by, \
     c.confirmed_at";

fn insi_call(row: &Row, keys: &Keyring) -> StoreResult<InsiCall> {
    let id: Uuid = row.try_get("id")?;
    let user = |column: &str| -> StoreResult<Option<UserId>> {
        Ok(row.try_get::<_, Option<Uuid>>(column)?.map(UserId::from_uuid))
    };
    Ok(InsiCall {
        id,
        kind: parse(row, "kind", InsiKind::parse)?,
        outcome: parse(row, "outcome", InsiOutcome::parse)?,
        found: match row.try_get::<_, Option<&[u8]>>("answer")? {
            Some(sealed) => Some(open_json(keys, INSI_CALL_ANSWER, id, sealed)?),
            None => None,
        },
        requested_by: user("requested_by")?,
        requested_at: row.try_get("requested_at")?,
        confirmed_by: user("confirmed_by")?,
        confirmed_at: row.try_get("confirmed_at")?,
        held_by: row.try_get::<_, Option<Uuid>>("held_by")?.map(ResidentId::from_uuid),
    })
}

static RECORD: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         c AS (INSERT INTO insi_calls (tenant_id, id, resident_id, kind, outcome, answer, dek_version, requested_by, \
                                       held_by) \
               SELECT t.tenant_id, :id, t.id, 'retrieve', :outcome, :answer, :dek_version, \
                      CASE WHEN who.console THEN NULL ELSE who.user_id END, \
                      (SELECT o.id FROM residents o WHERE o.tenant_id = t.tenant_id AND o.ins_index = :ins_index \
                       AND o.id <> t.id AND o.record_status = 'active') \
               FROM target t, who RETURNING *), \
         trace AS ({trace}) \
         SELECT {CALL_COLUMNS} FROM c",
        target = target(),
        trace = Trace::written("c"),
    ))
});

static CALL: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {CALL_COLUMNS} FROM insi_calls c WHERE c.tenant_id = :tenant AND c.resident_id = :resident \
         AND c.id = :call FOR UPDATE"
    ))
});

static CONFIRM: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         changed AS (UPDATE residents r SET identity = :identity, ins = :ins, ins_index = :ins_index, \
                       birth_identity_index = :birth_index, dek_version = :dek_version, identity_status = :to_status, \
                       row_version = r.row_version + 1, updated_at = now() \
                     FROM target t WHERE r.tenant_id = t.tenant_id AND r.id = t.id \
                     AND r.row_version = :expected_version AND r.identity_status = :from_status \
                     AND r.record_status = 'active' \
                     AND EXISTS (SELECT 1 FROM insi_calls c WHERE c.tenant_id = t.tenant_id AND c.resident_id = t.id \
                                 AND c.id = :call AND c.outcome = 'found' AND c.confirmed_at IS NULL) RETURNING r.*), \
         call AS (UPDATE insi_calls c SET confirmed_by = CASE WHEN who.console THEN NULL ELSE who.user_id END, \
                    confirmed_at = now() \
                  FROM changed, who WHERE c.tenant_id = changed.tenant_id AND c.resident_id = changed.id \
                  AND c.id = :call RETURNING c.id), \
         ev AS (INSERT INTO identity_events (tenant_id, id, resident_id, kind, from_status, to_status, insi_lookup, \
                                             insi_call_id, previous, recorded_by, dek_version) \
                SELECT c.tenant_id, :event, c.id, 'status', :from_status, :to_status, true, :call, :previous, \
                       who.user_id, :dek_version FROM changed c, who RETURNING id), \
         trace AS ({trace}) \
         SELECT {RESIDENT_COLUMNS}, {STAY_COLUMNS} FROM changed r {CURRENT_STAY}",
        target = target(),
        trace = Trace::record_changed(":event"),
    ))
});

/// Records a call made about `resident` (`id`, the message id sent), with what it found;
/// commits. `NotFound` when the resident is out of the caller's reach.
pub async fn record(
    tx: Tx<'_>,
    resident: ResidentId,
    id: Uuid,
    outcome: InsiOutcome,
    found: Option<&FoundIdentity>,
) -> StoreResult<InsiCall> {
    let keys = tx.sealing_keys(1).await?;
    let answer = found.map(|found| seal_json(&keys, INSI_CALL_ANSWER, id, found)).transpose()?;
    let ins_index = found.map(|found| keys.blind_index(INS_INDEX, &found.ins.matricule).to_vec());
    let (resident, outcome_code, dek) = (resident.as_uuid(), outcome.as_str(), keys.active_version() as i32);
    let args = args! { resident: &resident, id: &id, outcome: &outcome_code, answer: &answer, dek_version: &dek,
    ins_index: &ins_index }
    .action(AuditAction::IdentityInsiRetrieve);
    match tx.finish(&RECORD, &args).await?.first() {
        Some(row) => insi_call(row, &keys),
        None => Err(StoreError::NotFound),
    }
}

static VERIFY: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         c AS (INSERT INTO insi_calls (tenant_id, id, resident_id, kind, outcome, dek_version, requested_by) \
               SELECT t.tenant_id, :id, t.id, 'verify', :outcome, :dek_version, \
                      CASE WHEN who.console THEN NULL ELSE who.user_id END FROM target t, who RETURNING *), \
         lowered AS (UPDATE residents r SET ins = NULL, ins_index = NULL, identity_status = :to_status, \
                       row_version = r.row_version + 1, updated_at = now() \
                     FROM target t WHERE r.tenant_id = t.tenant_id AND r.id = t.id AND :outcome = 'mismatch' \
                     AND r.identity_status = :from_status AND r.ins_index = :ins_index \
                     AND r.record_status = 'active' RETURNING r.*), \
         ev AS (INSERT INTO identity_events (tenant_id, id, resident_id, kind, from_status, to_status, insi_lookup, \
                                             insi_call_id, details, previous, recorded_by, dek_version) \
                SELECT l.tenant_id, :event, l.id, 'status', :from_status, :to_status, false, :id, :details, :previous, \
                       CASE WHEN who.console THEN NULL ELSE who.user_id END, :dek_version \
                FROM lowered l, who RETURNING id), \
         trace AS ({trace}) \
         SELECT {CALL_COLUMNS}, EXISTS (SELECT 1 FROM lowered) AS lowered FROM c",
        target = target(),
        trace = Trace::written("c"),
    ))
});

/// A verification to record: the call, what the service said, and what the record held.
#[derive(Debug, Clone)]
pub struct Verification<'a> {
    /// The message id sent.
    pub id: Uuid,
    /// `Verified`, `Mismatch` or `Failed`.
    pub outcome: InsiOutcome,
    /// The INS checked (the record's when the call was made).
    pub ins: &'a dui_domain::identity::Ins,
    /// The status the record had, and the one a mismatch gives it.
    pub from_status: IdentityStatus,
    pub to_status: IdentityStatus,
    /// What the record held, kept (sealed) by the event of a mismatch.
    pub previous: &'a PreviousIdentity,
}

/// Records a verification of `resident`'s INS; on a mismatch, when the record still holds the
/// INS checked at the status it had, withdraws the INS and lowers the status with an identity
/// event naming the call. Commits. Returns the call and whether the record was lowered.
pub async fn record_verification(
    tx: Tx<'_>,
    resident: ResidentId,
    verification: &Verification<'_>,
) -> StoreResult<(InsiCall, bool)> {
    let keys = tx.sealing_keys(2).await?;
    let event = Uuid::now_v7();
    let details = seal_json(&keys, IDENTITY_EVENT_DETAILS, event, &Some(MISMATCH_REASON))?;
    let previous = seal_json(&keys, IDENTITY_EVENT_PREVIOUS, event, verification.previous)?;
    let ins_index = keys.blind_index(INS_INDEX, &verification.ins.matricule).to_vec();
    let (resident, dek) = (resident.as_uuid(), keys.active_version() as i32);
    let (outcome, from, to) =
        (verification.outcome.as_str(), verification.from_status.as_str(), verification.to_status.as_str());
    let args = args! { resident: &resident, id: &verification.id, outcome: &outcome, dek_version: &dek,
    ins_index: &ins_index, from_status: &from, to_status: &to, event: &event, details: &details,
    previous: &previous }
    .action(AuditAction::IdentityInsiVerify);
    match tx.finish(&VERIFY, &args).await?.first() {
        Some(row) => Ok((insi_call(row, &keys)?, row.try_get("lowered")?)),
        None => Err(StoreError::NotFound),
    }
}

static HISTORY: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT c.* FROM insi_calls c, target t WHERE c.tenant_id = t.tenant_id AND c.resident_id = t.id), \
         trace AS ({trace}) \
         {listed}",
        target = target(),
        trace = Trace::read(),
        listed = crate::listing::listed(&format!("SELECT {CALL_COLUMNS} FROM data c"), "x.requested_at, x.id"),
    ))
});

/// The calls made about `resident`, oldest first; recorded as a reading of the record.
pub async fn history(tx: Tx<'_>, resident: ResidentId) -> StoreResult<Vec<InsiCall>> {
    let id = resident.as_uuid();
    let args = args! { resident: &id }.action(AuditAction::IdentityInsiHistory);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = crate::listing::present(tx.finish(&HISTORY, &args).await?)?;
    db.open_rows(tenant, &rows, insi_call).await
}

/// Call `call` about `resident`, locked until the transaction ends (a check before confirming:
/// nothing is recorded).
pub async fn call_for_update(tx: &mut Tx<'_>, resident: ResidentId, call: Uuid) -> StoreResult<InsiCall> {
    let resident = resident.as_uuid();
    let row = tx.query_opt(&CALL, &args! { resident: &resident, call: &call }).await?.ok_or(StoreError::NotFound)?;
    let keys = tx.keyring(crate::sealing::versions(std::slice::from_ref(&row))?).await?;
    insi_call(&row, &keys)
}

/// What confirming an identity found changes on the record.
#[derive(Debug, Clone)]
pub struct Confirmation<'a> {
    pub call: Uuid,
    pub found: &'a FoundIdentity,
    /// The record's identity with the traits found (see [`FoundIdentity::applied_to`]).
    pub identity: &'a dui_domain::resident::Identity,
    pub from_status: IdentityStatus,
    pub to_status: IdentityStatus,
    /// The traits and INS the record had, kept (sealed) by the event.
    pub previous: &'a PreviousIdentity,
}

/// Puts the INS and the traits found on the record, at `expected_version`, with its new status
/// and an identity event naming the call, and marks the call confirmed; commits. A call already
/// confirmed, or one that found nobody, changes nothing (`Conflict`); another record holding the
/// INS is a conflict on `residents_ins_unique`.
pub async fn confirm(
    tx: Tx<'_>,
    resident_id: ResidentId,
    expected_version: i32,
    confirmation: &Confirmation<'_>,
) -> StoreResult<Resident> {
    let keys = tx.sealing_keys(3).await?;
    let id = resident_id.as_uuid();
    let event = Uuid::now_v7();
    let identity = seal_json(&keys, RESIDENT_IDENTITY, id, confirmation.identity)?;
    let ins = seal_json(&keys, RESIDENT_INS, id, &confirmation.found.ins)?;
    let ins_index = keys.blind_index(INS_INDEX, &confirmation.found.ins.matricule).to_vec();
    let birth_index = keys
        .blind_index(
            BIRTH_IDENTITY_INDEX,
            &birth_identity_key(&confirmation.identity.birth_name, confirmation.identity.birth_date),
        )
        .to_vec();
    let previous = seal_json(&keys, IDENTITY_EVENT_PREVIOUS, event, confirmation.previous)?;
    let dek = keys.active_version() as i32;
    let (from, to) = (confirmation.from_status.as_str(), confirmation.to_status.as_str());
    let args = args! { resident: &id, expected_version: &expected_version, call: &confirmation.call,
    identity: &identity, ins: &ins, ins_index: &ins_index, birth_index: &birth_index, dek_version: &dek,
    from_status: &from, to_status: &to, event: &event, previous: &previous }
    .action(AuditAction::IdentityInsiConfirm);
    let again = tx.again();
    match tx.finish(&CONFIRM, &args).await?.first() {
        Some(row) => resident(row, &keys),
        None => Err(why_resident_unchanged(again, resident_id, Some(expected_version)).await),
    }
}

/// The calls about a person: carried by the tenant's export, moved by a merge with the record,
/// and in the person's export (what the service found, and when), oldest first.
pub(crate) const FEATURE: Feature = Feature {
    name: "insi",
    tables: &[Table::of_person(
        "insi_calls",
        &[INSI_CALL_ANSWER],
        "insi_calls c",
        CALL_COLUMNS,
        "c.requested_at, c.id",
        |row, keys| to_json(insi_call(row, keys)),
    )],
};

/// When a record's INS was last confirmed by the service: a verification that found it the
/// person's, or a confirmed search. An SQL condition on the calls `l` of the resident.
const CHECKED: &str = "((l.kind = 'verify' AND l.outcome = 'verified') OR l.confirmed_at IS NOT NULL)";

/// What the identity-vigilance list holds: why a record is in it (see [`VigilanceItem`]).
static VIGILANCE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, items AS ( \
           SELECT 'insi_mismatch' AS reason, c.resident_id AS id, c.id AS call_id, NULL::uuid AS other_id, \
                  c.requested_at AS since \
           FROM insi_calls c WHERE c.tenant_id = :tenant AND c.kind = 'verify' AND c.outcome = 'mismatch' \
           AND NOT EXISTS (SELECT 1 FROM insi_calls l WHERE l.tenant_id = c.tenant_id AND l.resident_id = c.resident_id \
                           AND l.requested_at > c.requested_at AND {CHECKED}) \
           UNION ALL \
           SELECT 'ins_held_by_another', c.resident_id, c.id, c.held_by, c.requested_at \
           FROM insi_calls c WHERE c.tenant_id = :tenant AND c.kind = 'retrieve' AND c.held_by IS NOT NULL \
           AND c.confirmed_at IS NULL \
           AND NOT EXISTS (SELECT 1 FROM insi_calls l WHERE l.tenant_id = c.tenant_id AND l.resident_id = c.resident_id \
                           AND l.kind = 'retrieve' AND l.requested_at > c.requested_at) \
           UNION ALL \
           SELECT 'waiting_for_document', r.id, NULL, NULL, r.updated_at FROM residents r \
           WHERE r.tenant_id = :tenant AND r.identity_status = 'RECUP' AND r.record_status = 'active' \
           UNION ALL \
           SELECT 'verification_due', r.id, NULL, NULL, \
                  coalesce((SELECT max(l.requested_at) FROM insi_calls l WHERE l.tenant_id = r.tenant_id \
                            AND l.resident_id = r.id AND {CHECKED}), r.created_at) \
           FROM residents r WHERE :due_days::int > 0 AND r.tenant_id = :tenant \
           AND r.identity_status IN ('RECUP', 'QUAL') AND r.record_status = 'active' \
           AND NOT EXISTS (SELECT 1 FROM insi_calls l WHERE l.tenant_id = r.tenant_id AND l.resident_id = r.id \
                           AND l.requested_at > now() - make_interval(days => :due_days::int) AND {CHECKED})) \
         SELECT i.reason, i.id, i.call_id, i.other_id, i.since FROM items i \
         JOIN residents r ON r.tenant_id = :tenant AND r.id = i.id, who \
         WHERE r.record_status = 'active' AND {visible} \
         ORDER BY i.since, i.id, i.reason LIMIT {VIGILANCE_LIMIT}",
        visible = crate::access::visible("r"),
    ))
});

/// The most items the identity-vigilance list gives, oldest first.
pub const VIGILANCE_LIMIT: usize = 1000;

/// One entry of the identity-vigilance list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VigilanceItem {
    /// `insi_mismatch`: the service did not verify the record's INS with its traits (the INS
    /// was withdrawn); `ins_held_by_another`: a search found an INS another record holds
    /// (`other_resident_id`: the same person, likely); `waiting_for_document`: a retrieved
    /// identity whose document is still to be checked for it to be qualified;
    /// `verification_due`: an INS not confirmed by the service for longer than the
    /// installation's period.
    pub reason: String,
    pub resident_id: ResidentId,
    /// The call that raised it.
    pub call_id: Option<Uuid>,
    pub other_resident_id: Option<ResidentId>,
    /// Since when.
    pub since: DateTime<Utc>,
}

/// The identity-vigilance list of the records the caller sees (each listed record recorded as
/// read); `due_days`: the period after which an INS is to be verified again (0: none).
pub async fn vigilance(tx: Tx<'_>, due_days: i32) -> StoreResult<Vec<VigilanceItem>> {
    let trace = crate::trail::ReadTrace::EachRecord { action: AuditAction::IdentityVigilanceList };
    let rows = tx.finish_read(&VIGILANCE, &args! { due_days: &due_days }, Some(trace)).await?;
    rows.iter()
        .map(|row| {
            Ok(VigilanceItem {
                reason: row.try_get("reason")?,
                resident_id: ResidentId::from_uuid(row.try_get("id")?),
                call_id: row.try_get("call_id")?,
                other_resident_id: row.try_get::<_, Option<Uuid>>("other_id")?.map(ResidentId::from_uuid),
                since: row.try_get("since")?,
            })
        })
        .collect()
}

/// The records of a tenant whose INS is due for verification: retrieved or qualified, not
/// confirmed by the service for `days` days, and not tried in the last day; at most `limit`,
/// longest unchecked first.
static DUE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT r.id FROM residents r WHERE r.tenant_id = :tenant AND r.identity_status IN ('RECUP', 'QUAL') \
         AND r.record_status = 'active' \
         AND NOT EXISTS (SELECT 1 FROM insi_calls l WHERE l.tenant_id = r.tenant_id AND l.resident_id = r.id \
                         AND ((l.requested_at > now() - make_interval(days => :days::int) AND {CHECKED}) \
                              OR (l.kind = 'verify' AND l.requested_at > now() - interval '1 day'))) \
         ORDER BY (SELECT max(l.requested_at) FROM insi_calls l WHERE l.tenant_id = r.tenant_id \
                   AND l.resident_id = r.id AND {CHECKED}) NULLS FIRST, r.id \
         LIMIT :limit"
    ))
});

impl crate::Db {
    /// The records of `tenant` whose INS is due for verification (see [`DUE`]).
    pub async fn insi_verifications_due(
        &self,
        tenant: dui_domain::TenantId,
        days: i32,
        limit: i64,
    ) -> StoreResult<Vec<ResidentId>> {
        let rows = self
            .begin_for_tenant(tenant, crate::Mode::Read)
            .finish(&DUE, &args! { days: &days, limit: &limit })
            .await?;
        rows.iter().map(|row| Ok(ResidentId::from_uuid(row.try_get("id")?))).collect()
    }
}
