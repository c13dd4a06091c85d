//! Prescriptions: versions of a lineage, never edited. A version is inserted active; a change
//! inserts the next version and supersedes the one it replaces in the same statement (one
//! version in force per prescription: a partial unique index); a stop ends the version in force
//! with a reason. What is prescribed and the safety flags are sealed; status, dates and whether
//! a flag was raised stay in clear. Read by the care team (`care_readable`), who give the drugs.

use std::sync::LazyLock;

use chrono::NaiveDate;
use dui_crypto::{Column, Keyring};
use dui_domain::audit::AuditAction;
use dui_domain::handover::NewHandoverEvent;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::prescription::{
    NewPrescription, OtherPrescription, PrescriptionContent, PrescriptionStatus, PrescriptionStop, PrescriptionVersion,
};
use dui_domain::{EstablishmentId, PrescriptionId, PrescriptionVersionId, ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO_CTE, care_readable, target};
use crate::args;
use crate::feature::{Feature, Table, to_json};
use crate::handover_write::{EventRow, emit};
use crate::idempotency::{Create, create_once, replay};
use crate::listing::{listed, open_listed};
use crate::rows::parse;
use crate::sealing::{open_json, seal_json, versions as versions_of};
use crate::sql::{Sql, Stmt};
use crate::stays::PLACE;
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

pub(crate) const CONTENT: Column = Column::new("prescriptions", "content");
pub(crate) const STOP_REASON: Column = Column::new("prescriptions", "stop_reason");

/// A version's columns, from alias `a`.
fn columns(a: &str) -> String {
    ["id", "prescription_id", "resident_id", "establishment_id", "version", "replaces", "status", "prescribed_on"]
        .iter()
        .chain(&["valid_until", "flagged", "content", "dek_version", "recorded_by", "recorded_at", "ended_at"])
        .chain(&["ended_by", "stopped_on", "stop_reason"])
        .map(|c| format!("{a}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn version(row: &Row, keys: &Keyring) -> StoreResult<PrescriptionVersion> {
    let id: Uuid = row.try_get("id")?;
    let content: PrescriptionContent = open_json(keys, CONTENT, id, row.try_get("content")?)?;
    let stop = match row.try_get::<_, Option<NaiveDate>>("stopped_on")? {
        Some(stopped_on) => Some(PrescriptionStop {
            stopped_on,
            reason: open_json(keys, STOP_REASON, id, row.try_get("stop_reason")?)?,
            by: UserId::from_uuid(row.try_get("ended_by")?),
            at: row.try_get("ended_at")?,
        }),
        None => None,
    };
    Ok(PrescriptionVersion {
        id: PrescriptionVersionId::from_uuid(id),
        prescription_id: PrescriptionId::from_uuid(row.try_get("prescription_id")?),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        version: row.try_get("version")?,
        status: parse(row, "status", PrescriptionStatus::parse)?,
        replaces: row.try_get::<_, Option<Uuid>>("replaces")?.map(PrescriptionVersionId::from_uuid),
        prescriber: content.prescriber,
        source: content.source,
        prescribed_on: row.try_get("prescribed_on")?,
        valid_until: row.try_get("valid_until")?,
        lines: content.lines,
        flagged: row.try_get("flagged")?,
        flags: content.flags,
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        ended_at: row.try_get("ended_at")?,
        ended_by: row.try_get::<_, Option<Uuid>>("ended_by")?.map(UserId::from_uuid),
        stop,
    })
}

const INSERT_COLUMNS: &str = "tenant_id, id, prescription_id, resident_id, establishment_id, version, replaces, status, \
     prescribed_on, valid_until, flagged, content, dek_version, recorded_by";

/// The first version of a new prescription of a visible, active record.
static INSERT_FIRST: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, {PLACE}, \
         np AS (INSERT INTO prescriptions ({INSERT_COLUMNS}) \
               SELECT t.tenant_id, :id, :prescription_id, t.id, p.establishment_id, 1, NULL, 'active', :prescribed_on, \
                      :valid_until, :flagged, :content, :dek_version, who.user_id \
               FROM target t, place p, who WHERE t.record_status = 'active' RETURNING *), \
         trace AS ({trace}), {event} SELECT {columns} FROM np",
        target = target(),
        trace = Trace::written("np"),
        event = emit("np"),
        columns = columns("np"),
    ))
});

/// The next version: supersedes `:replaces` if it is still the version in force of
/// `:prescription_id` (no row otherwise), and inserts the new one after it.
static INSERT_NEXT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, {PLACE}, \
         old AS (UPDATE prescriptions o SET status = 'superseded', ended_at = now(), ended_by = who.user_id \
                 FROM target t, who WHERE o.tenant_id = t.tenant_id AND o.resident_id = t.id \
                 AND o.prescription_id = :prescription_id AND o.id = :replaces AND o.status = 'active' \
                 AND t.record_status = 'active' AND {readable} RETURNING o.*), \
         np AS (INSERT INTO prescriptions ({INSERT_COLUMNS}) \
               SELECT t.tenant_id, :id, old.prescription_id, t.id, p.establishment_id, old.version + 1, old.id, 'active', \
                      :prescribed_on, :valid_until, :flagged, :content, :dek_version, who.user_id \
               FROM old, target t, place p, who RETURNING *), \
         trace AS ({trace}), {event} SELECT {columns} FROM np",
        target = target(),
        readable = care_readable("o", "NOT t.normal"),
        trace = Trace::written("np"),
        event = emit("np"),
        columns = columns("np"),
    ))
});

static BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {} FROM prescriptions p WHERE p.tenant_id = :tenant AND p.id = :id",
        PRESCRIPTION_COLUMNS
    ))
});

/// Stops the version in force `:id`.
static STOP: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         sp AS (UPDATE prescriptions sp SET status = 'stopped', ended_at = now(), ended_by = who.user_id, \
                  stopped_on = :stopped_on, stop_reason = :reason, content = :content, dek_version = :dek_version \
                FROM target t, who WHERE sp.tenant_id = t.tenant_id AND sp.resident_id = t.id AND sp.id = :id \
                AND sp.status = 'active' AND t.record_status = 'active' AND {readable} RETURNING sp.*), \
         trace AS ({trace}), {event} SELECT {columns} FROM sp",
        target = target(),
        readable = care_readable("sp", "NOT t.normal"),
        trace = Trace::written("sp"),
        event = emit("sp"),
        columns = columns("sp"),
    ))
});

/// The versions of one prescription the caller may read, for a decision (not recorded).
static LINEAGE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} SELECT {columns} FROM prescriptions p, target t, who \
         WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.prescription_id = :prescription_id \
         AND {readable} ORDER BY p.version DESC",
        target = target(),
        columns = PRESCRIPTION_COLUMNS,
        readable = care_readable("p", "NOT t.normal"),
    ))
});

/// The versions in force of the person's other prescriptions that the caller may read, for the
/// duplicate check (not recorded).
static OTHERS_IN_FORCE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} SELECT {columns} FROM prescriptions p, target t, who \
         WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.status = 'active' \
         AND p.prescription_id IS DISTINCT FROM :prescription_id::uuid AND {readable} ORDER BY p.id LIMIT 500",
        target = target(),
        columns = PRESCRIPTION_COLUMNS,
        readable = care_readable("p", "NOT t.normal"),
    ))
});

/// The person's prescriptions: the versions in force, or with `:all` the latest version of
/// each; with `:prescription_id`, every version of that one.
static LIST: Stmt = LazyLock::new(|| {
    let data = format!(
        "SELECT {columns} FROM prescriptions p, target t, who \
         WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND {readable} \
         AND CASE WHEN :prescription_id::uuid IS NOT NULL THEN p.prescription_id = :prescription_id::uuid \
                  WHEN :all THEN NOT EXISTS (SELECT 1 FROM prescriptions n WHERE n.tenant_id = p.tenant_id \
                                   AND n.prescription_id = p.prescription_id AND n.version > p.version) \
                  ELSE p.status = 'active' END \
         LIMIT 2000",
        columns = PRESCRIPTION_COLUMNS,
        readable = care_readable("p", "NOT t.normal"),
    );
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, data AS ({data}) {select}",
        target = target(),
        select = listed("SELECT * FROM data", "x.recorded_at DESC, x.version DESC, x.id DESC"),
    ))
});

/// What a version to record carries, sealed.
#[derive(Debug, Clone, Copy)]
pub struct Recording<'a> {
    pub new: &'a NewPrescription,
    pub event: &'a NewHandoverEvent,
}

/// Records the first version of a new prescription of a visible resident, with its hand-over
/// event, and commits.
pub async fn create(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    recording: Recording<'_>,
) -> StoreResult<Created<PrescriptionVersion>> {
    insert(tx, key, resident, recording, None).await
}

/// The version an earlier request with this key created, if any: a retry of a change is
/// answered before the checks its first attempt passed (the version it replaced is no longer in
/// force).
pub async fn replayed(
    tx: &mut Tx<'_>,
    key: Option<&IdempotencyKey>,
) -> StoreResult<Option<Created<PrescriptionVersion>>> {
    let Some(key) = key else { return Ok(None) };
    let Some(found) = replay(tx, key, &BY_ID, &row_id).await? else { return Ok(None) };
    let row = tx.query_one(&BY_ID, &args! { id: &found.value }).await?;
    let keys = tx.keyring(versions_of(std::slice::from_ref(&row))?).await?;
    Ok(Some(Created { value: version(&row, &keys)?, replayed: true }))
}

fn row_id(row: &Row) -> StoreResult<Uuid> {
    Ok(row.try_get("id")?)
}

/// Records the next version of prescription `prescription`, superseding `replaces` if it is
/// still the version in force (`Conflict` otherwise), with its hand-over event, and commits.
pub async fn revise(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    prescription: PrescriptionId,
    replaces: PrescriptionVersionId,
    recording: Recording<'_>,
) -> StoreResult<Created<PrescriptionVersion>> {
    match insert(tx, key, resident, recording, Some((prescription, replaces))).await {
        Err(StoreError::NotFound) => Err(StoreError::Conflict { constraint: "prescriptions_stale_version".to_owned() }),
        other => other,
    }
}

async fn insert(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    recording: Recording<'_>,
    next: Option<(PrescriptionId, PrescriptionVersionId)>,
) -> StoreResult<Created<PrescriptionVersion>> {
    let Recording { new, event } = recording;
    let keys = tx.sealing_keys(2).await?;
    let id = Uuid::now_v7();
    let content = seal_json(&keys, CONTENT, id, &new.content)?;
    let (resident, dek) = (resident.as_uuid(), keys.active_version() as i32);
    let prescription_id = next.map(|(p, _)| p.as_uuid()).unwrap_or_else(Uuid::now_v7);
    let replaces = next.map(|(_, v)| v.as_uuid());
    let flagged = !new.content.flags.is_empty();
    let action = if next.is_some() { AuditAction::PrescriptionRevise } else { AuditAction::PrescriptionCreate };
    let args = args! { resident: &resident, id: &id, prescription_id: &prescription_id, replaces: &replaces,
    prescribed_on: &new.prescribed_on, valid_until: &new.valid_until, flagged: &flagged, content: &content,
    dek_version: &dek }
    .action(action);
    let event = EventRow::seal(&keys, Some(event))?;
    let args = event.bind(args);
    let map = |row: &Row| version(row, &keys);
    let insert: &Sql = if next.is_some() { &INSERT_NEXT } else { &INSERT_FIRST };
    create_once(tx, key, Create { id, insert, args, reload: &BY_ID, map: &map }).await
}

async fn open_rows(tx: &mut Tx<'_>, rows: &[Row]) -> StoreResult<Vec<PrescriptionVersion>> {
    let keys = tx.keyring(versions_of(rows)?).await?;
    rows.iter().map(|row| version(row, &keys)).collect()
}

/// Every version of a prescription the caller may read, newest first, for a decision (not
/// recorded). `NotFound` when there is none.
pub async fn lineage(
    tx: &mut Tx<'_>,
    resident: ResidentId,
    prescription: PrescriptionId,
) -> StoreResult<Vec<PrescriptionVersion>> {
    let (resident, prescription) = (resident.as_uuid(), prescription.as_uuid());
    let rows = tx.query(&LINEAGE, &args! { resident: &resident, prescription_id: &prescription }).await?;
    if rows.is_empty() {
        return Err(StoreError::NotFound);
    }
    open_rows(tx, &rows).await
}

/// The lines of the person's other prescriptions in force (all but `except`), for the
/// duplicate check (not recorded).
pub async fn others_in_force(
    tx: &mut Tx<'_>,
    resident: ResidentId,
    except: Option<PrescriptionId>,
) -> StoreResult<Vec<OtherPrescription>> {
    let (resident, except) = (resident.as_uuid(), except.map(|p| p.as_uuid()));
    let rows = tx.query(&OTHERS_IN_FORCE, &args! { resident: &resident, prescription_id: &except }).await?;
    Ok(open_rows(tx, &rows)
        .await?
        .into_iter()
        .map(|v| OtherPrescription { prescription: v.prescription_id, version: v.id, lines: v.lines })
        .collect())
}

/// Stops the version in force `current` on `stopped_on` for `reason`, resealing its content
/// with the reason under one key version, with its hand-over event, and commits. `Conflict`
/// when it is no longer in force.
pub async fn stop(
    tx: Tx<'_>,
    current: &PrescriptionVersion,
    stopped_on: NaiveDate,
    reason: &str,
    event: &NewHandoverEvent,
) -> StoreResult<PrescriptionVersion> {
    let keys = tx.sealing_keys(3).await?;
    let id = current.id.as_uuid();
    let content = PrescriptionContent {
        prescriber: current.prescriber.clone(),
        source: current.source,
        lines: current.lines.clone(),
        flags: current.flags.clone(),
    };
    let content = seal_json(&keys, CONTENT, id, &content)?;
    let sealed_reason = seal_json(&keys, STOP_REASON, id, &reason)?;
    let (resident, dek) = (current.resident_id.as_uuid(), keys.active_version() as i32);
    let args = args! { resident: &resident, id: &id, stopped_on: &stopped_on, reason: &sealed_reason,
    content: &content, dek_version: &dek }
    .action(AuditAction::PrescriptionStop);
    let event = EventRow::seal(&keys, Some(event))?;
    let args = event.bind(args);
    let rows = tx.finish(&STOP, &args).await?;
    match rows.first() {
        Some(row) => version(row, &keys),
        None => Err(StoreError::Conflict { constraint: "prescriptions_stale_version".to_owned() }),
    }
}

/// The person's prescriptions the caller may read (the versions in force, or the latest version
/// of `all` of them), or every version of one, newest first, as the transaction's last statement;
/// the reading is recorded. `NotFound` when the resident is out of reach.
pub async fn list(
    tx: Tx<'_>,
    resident: ResidentId,
    all: bool,
    only: Option<PrescriptionId>,
) -> StoreResult<Vec<PrescriptionVersion>> {
    let (resident, only) = (resident.as_uuid(), only.map(|p| p.as_uuid()));
    let args = args! { resident: &resident, all: &all, prescription_id: &only };
    let action = if only.is_some() { AuditAction::PrescriptionRead } else { AuditAction::PrescriptionList };
    let trace = crate::trail::ReadTrace::Record { action, resident };
    open_listed(tx, &LIST, &args, Some(trace), version).await
}

/// Prescriptions: what is prescribed, the flags and the stop's reason sealed; a merge moves them
/// to the record kept; the resident's export lists every version in the order recorded.
pub(crate) const FEATURE: Feature = Feature {
    name: "prescriptions",
    tables: &[Table::of_person(
        "prescriptions",
        &[CONTENT, STOP_REASON],
        "prescriptions p",
        PRESCRIPTION_COLUMNS,
        "p.recorded_at, p.version, p.id",
        |row, keys| to_json(version(row, keys)),
    )],
};

/// [`columns`] of `p`, as a constant for the feature's declaration.
pub(crate) const PRESCRIPTION_COLUMNS: &str = "p.id, p.prescription_id, p.resident_id, p.establishment_id, p.version, p.replaces, \
     p.status, p.prescribed_on, p.valid_until, p.flagged, p.content, p.dek_version, p.recorded_by, p.recorded_at, \
     p.ended_at, p.ended_by, p.stopped_on, p.stop_reason";
