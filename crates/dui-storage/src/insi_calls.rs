//! The calls made to the INSi teleservice about a record: each search, what it found (the INS
//! and the traits INS, sealed), and its confirmation by a professional, which puts the INS and
//! the traits on the record with an identity event naming the call — the only way an INS from
//! the service reaches a record.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::audit::AuditAction;
use dui_domain::identity::birth_identity_key;
use dui_domain::insi::{FoundIdentity, InsiOutcome};
use dui_domain::record::PreviousIdentity;
use dui_domain::resident::{IdentityStatus, Resident};
use dui_domain::{ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO_CTE, target};
use crate::args;
use crate::feature::{Feature, Table, to_json};
use crate::residents::{
    BIRTH_IDENTITY_INDEX, IDENTITY_EVENT_PREVIOUS, INS_INDEX, RESIDENT_COLUMNS, RESIDENT_IDENTITY, RESIDENT_INS,
    resident, why_resident_unchanged,
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
    pub outcome: InsiOutcome,
    /// What the service found (outcome `found`).
    pub found: Option<FoundIdentity>,
    pub requested_by: Option<UserId>,
    pub requested_at: DateTime<Utc>,
    pub confirmed_by: Option<UserId>,
    pub confirmed_at: Option<DateTime<Utc>>,
}

const CALL_COLUMNS: &str = "c.id, c.outcome, c.answer, c.dek_version, c.requested_by, c.requested_at, c.confirmed_by, \
     c.confirmed_at";

fn insi_call(row: &Row, keys: &Keyring) -> StoreResult<InsiCall> {
    let id: Uuid = row.try_get("id")?;
    let user = |column: &str| -> StoreResult<Option<UserId>> {
        Ok(row.try_get::<_, Option<Uuid>>(column)?.map(UserId::from_uuid))
    };
    Ok(InsiCall {
        id,
        outcome: parse(row, "outcome", InsiOutcome::parse)?,
        found: match row.try_get::<_, Option<&[u8]>>("answer")? {
            Some(sealed) => Some(open_json(keys, INSI_CALL_ANSWER, id, sealed)?),
            None => None,
        },
        requested_by: user("requested_by")?,
        requested_at: row.try_get("requested_at")?,
        confirmed_by: user("confirmed_by")?,
        confirmed_at: row.try_get("confirmed_at")?,
    })
}

static RECORD: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         c AS (INSERT INTO insi_calls (tenant_id, id, resident_id, kind, outcome, answer, dek_version, requested_by) \
               SELECT t.tenant_id, :id, t.id, 'retrieve', :outcome, :answer, :dek_version, \
                      CASE WHEN who.console THEN NULL ELSE who.user_id END FROM target t, who RETURNING *), \
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
    let (resident, outcome_code, dek) = (resident.as_uuid(), outcome.as_str(), keys.active_version() as i32);
    let args = args! { resident: &resident, id: &id, outcome: &outcome_code, answer: &answer, dek_version: &dek }
        .action(AuditAction::IdentityInsiRetrieve);
    match tx.finish(&RECORD, &args).await?.first() {
        Some(row) => insi_call(row, &keys),
        None => Err(StoreError::NotFound),
    }
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
