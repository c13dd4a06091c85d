//! Medication administration: the records of doses (given, partly given, refused, not given),
//! and what the administration plan is made from — the prescriptions' versions in force on a day
//! for the people staying in an establishment or a unit, each with when it was in force.
//!
//! A planned dose is recorded once (a partial unique index over its version, line, day and
//! slot); a record entered in error stays, flagged, and frees its dose. The drug, the quantity,
//! the reason and the note are sealed; the outcome, the act and the times stay in clear. Read by
//! the care team where the prescription was recorded, as prescriptions are.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::administration::{Act, Administration, AdministrationDetails, NewAdministration, Outcome};
use dui_domain::audit::AuditAction;
use dui_domain::handover::NewHandoverEvent;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::prescription::PrescriptionVersion;
use dui_domain::resident::Identity;
use dui_domain::transmission::ResidentName;
use dui_domain::{
    AdministrationId, EstablishmentId, PrescriptionId, PrescriptionVersionId, ResidentId, UnitId, UserId,
};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO_CTE, care_readable, target, visible};
use crate::alerts::{Flagging, flag_entered_in_error};
use crate::args;
use crate::feature::{Feature, Table, to_json};
use crate::handover_write::{EventRow, emit};
use crate::idempotency::{Create, create_once, replay};
use crate::listing::{listed, open_listed};
use crate::residents::RESIDENT_IDENTITY;
use crate::rows::parse;
use crate::sealing::{open_json, seal_json, versions};
use crate::sql::{Sql, Stmt};
use crate::stays::{DAY_BOUNDS, staying_on_day};
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

pub(crate) const DETAILS: Column = Column::new("administrations", "details");
pub(crate) const ERROR_REASON: Column = Column::new("administrations", "error_reason");

const COLUMNS: &str = "a.id, a.resident_id, a.prescription_id, a.prescription_version_id, a.line, a.due_on, a.slot, \
     a.due_at, a.outcome, a.act, a.given_at, a.confirmed_warnings, a.details, a.dek_version, a.recorded_by, \
     a.recorded_at, a.error_at, a.error_by, a.error_reason";

pub(crate) fn administration(row: &Row, keys: &Keyring) -> StoreResult<Administration> {
    let id: Uuid = row.try_get("id")?;
    let details: AdministrationDetails = open_json(keys, DETAILS, id, row.try_get("details")?)?;
    let error_reason = row
        .try_get::<_, Option<&[u8]>>("error_reason")?
        .map(|r| open_json::<String>(keys, ERROR_REASON, id, r))
        .transpose()?;
    Ok(Administration {
        id: AdministrationId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        prescription_id: PrescriptionId::from_uuid(row.try_get("prescription_id")?),
        prescription_version_id: PrescriptionVersionId::from_uuid(row.try_get("prescription_version_id")?),
        line: row.try_get::<_, i32>("line")? as u32,
        drug: details.drug,
        due_on: row.try_get("due_on")?,
        slot: row.try_get("slot")?,
        due_at: row.try_get("due_at")?,
        outcome: parse(row, "outcome", Outcome::parse)?,
        act: parse(row, "act", Act::parse)?,
        given_at: row.try_get("given_at")?,
        quantity: details.quantity,
        unit: details.unit,
        reason: details.reason,
        note: details.note,
        confirmed_warnings: row.try_get("confirmed_warnings")?,
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        error_at: row.try_get("error_at")?,
        error_by: row.try_get::<_, Option<Uuid>>("error_by")?.map(UserId::from_uuid),
        error_reason,
    })
}

/// When a version is in force to: superseded or stopped when it was (a stop on an earlier day
/// ends it at the end of that day, in the establishment's time zone `tz`).
fn in_force_until(p: &str, tz: &str) -> String {
    format!("LEAST({p}.ended_at, ({p}.stopped_on + 1)::timestamp AT TIME ZONE {tz})")
}

/// The versions in force at some time of `:day` of the prescriptions of the people staying in
/// `:establishment` (or `:unit`; or the one `:resident`) that day whom the caller sees, that the
/// caller reads (the care team's data where they were recorded); each person listed is recorded
/// as read.
static DAY_VERSIONS: Stmt = LazyLock::new(|| {
    let each_resident = Trace::each_listed("who, (SELECT DISTINCT resident_id FROM rx) d");
    Sql::new(&format!(
        "WITH {WHO_CTE}, {DAY_BOUNDS}, \
         rx AS MATERIALIZED (SELECT {PRESCRIPTION_COLUMNS}, {until} AS in_force_until, \
                    r.identity AS resident_identity, r.dek_version AS resident_dek_version \
                  FROM prescriptions p JOIN residents r ON r.tenant_id = p.tenant_id AND r.id = p.resident_id, who, day \
                  WHERE p.tenant_id = who.tenant_id AND p.recorded_at < day.ends \
                  AND (:resident::uuid IS NULL OR p.resident_id = :resident) \
                  AND (p.status = 'active' OR {until} > day.starts) \
                  AND {readable} AND {staying} AND {visible}), \
         trace AS ({trace}) \
         SELECT * FROM rx",
        until = in_force_until("p", "day.timezone"),
        readable = care_readable("p", "false"),
        visible = visible("r"),
        trace = each_resident.sql(),
        staying = staying_on_day("p"),
    ))
});

/// The records of `:day`'s planned doses in `:establishment`, and of the doses given if needed
/// between `:starts` and `:ends`, not in error (those of the people the plan lists are kept).
static DAY_RECORDS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE} SELECT {COLUMNS} FROM administrations a, who \
         WHERE a.tenant_id = :tenant AND a.establishment_id = :establishment AND a.error_at IS NULL \
         AND (a.due_on = :day OR (a.due_on IS NULL AND a.given_at >= :starts AND a.given_at < :ends)) \
         AND {readable} ORDER BY a.given_at, a.id",
        readable = care_readable("a", "false"),
    ))
});

/// A version of the person's prescriptions the caller reads, locked for the record of a dose
/// (two doses of a line given if needed recorded at once are counted one after the other), with
/// when it was in force to.
static VERSION_FOR_DOSE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} SELECT {PRESCRIPTION_COLUMNS}, {until} AS in_force_until \
         FROM prescriptions p JOIN establishments e ON e.tenant_id = p.tenant_id AND e.id = p.establishment_id, target t, who \
         WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.id = :id AND {readable} FOR UPDATE OF p",
        target = target(),
        until = in_force_until("p", "e.timezone"),
        readable = care_readable("p", "NOT t.normal"),
    ))
});

/// The doses of a prescription given if needed (or partly) between `:starts` and `:ends`, not in
/// error, whatever its version.
static AS_NEEDED_GIVEN: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {COLUMNS} FROM administrations a WHERE a.tenant_id = :tenant AND a.prescription_id = :prescription_id \
         AND a.due_on IS NULL AND a.error_at IS NULL AND a.outcome IN ('given', 'partly_given') \
         AND a.given_at >= :starts AND a.given_at < :ends ORDER BY a.given_at"
    ))
});

/// The bounds of the establishment's day holding `:at`.
static DAY_OF: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT ((:at::timestamptz AT TIME ZONE e.timezone)::date)::timestamp AT TIME ZONE e.timezone AS starts, \
                ((:at::timestamptz AT TIME ZONE e.timezone)::date + 1)::timestamp AT TIME ZONE e.timezone AS ends \
         FROM establishments e WHERE e.tenant_id = :tenant AND e.id = :establishment",
    )
});

static INSERT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         a AS (INSERT INTO administrations (tenant_id, id, resident_id, establishment_id, prescription_version_id, \
                 prescription_id, line, due_on, slot, due_at, outcome, act, given_at, confirmed_warnings, details, \
                 dek_version, recorded_by) \
               SELECT t.tenant_id, :id, t.id, p.establishment_id, p.id, p.prescription_id, :line, :due_on, :slot, \
                      :due_at, :outcome, :act, :given_at, :confirmed, :details, :dek_version, who.user_id \
               FROM target t, who, prescriptions p WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id \
               AND p.id = :version AND t.record_status = 'active' RETURNING *), \
         trace AS ({trace}), {event} SELECT {COLUMNS} FROM a",
        target = target(),
        trace = Trace::written("a"),
        event = emit("a"),
    ))
});

static BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {COLUMNS} FROM administrations a WHERE a.tenant_id = :tenant AND a.id = :id"))
});

/// A person's records between `:from` and `:to` (by when given), those in error included.
static LIST: Stmt = LazyLock::new(|| {
    let data = format!(
        "SELECT {COLUMNS} FROM administrations a, target t, who WHERE a.tenant_id = t.tenant_id \
         AND a.resident_id = t.id AND a.given_at >= :from AND a.given_at < :to AND {readable} LIMIT 5000",
        readable = care_readable("a", "NOT t.normal"),
    );
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, data AS ({data}) {select}",
        target = target(),
        select = listed("SELECT * FROM data", "x.given_at DESC, x.id DESC"),
    ))
});

/// One record, for a decision (not recorded).
static ONE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} SELECT {COLUMNS} FROM administrations a, target t, who \
         WHERE a.tenant_id = t.tenant_id AND a.resident_id = t.id AND a.id = :id AND {readable}",
        target = target(),
        readable = care_readable("a", "NOT t.normal"),
    ))
});

static FLAG: LazyLock<Flagging> = LazyLock::new(|| {
    Flagging::of(
        "administrations",
        COLUMNS,
        "a",
        care_readable,
        [DETAILS, ERROR_REASON],
        AuditAction::AdministrationFlagError,
    )
});

/// A version in force on the plan's day, for whom, and until when.
#[derive(Debug, Clone)]
pub struct DayVersion {
    pub resident: ResidentName,
    pub version: PrescriptionVersion,
    /// Excluded; none while in force.
    pub in_force_until: Option<DateTime<Utc>>,
}

/// The versions in force at some time of `day` (see [`DAY_VERSIONS`]); each person listed is
/// recorded as read (`administration.plan`).
pub async fn day_versions(
    tx: &mut Tx<'_>,
    establishment: EstablishmentId,
    unit: Option<UnitId>,
    resident: Option<ResidentId>,
    day: NaiveDate,
) -> StoreResult<Vec<DayVersion>> {
    let (establishment, unit) = (establishment.as_uuid(), unit.map(|u| u.as_uuid()));
    let resident = resident.map(|r| r.as_uuid());
    let args = args! { establishment: &establishment, unit: &unit, resident: &resident, day: &day }
        .action(AuditAction::AdministrationPlan);
    let rows = tx.query(&DAY_VERSIONS, &args).await?;
    let mut needed = versions(&rows)?;
    for row in &rows {
        needed.push(row.try_get::<_, i32>("resident_dek_version")? as u32);
    }
    let keys = tx.keyring(needed).await?;
    rows.iter()
        .map(|row| {
            let version = crate::prescriptions::version(row, &keys)?;
            let resident = version.resident_id;
            let identity: Identity =
                open_json(&keys, RESIDENT_IDENTITY, resident.as_uuid(), row.try_get("resident_identity")?)?;
            Ok(DayVersion {
                resident: ResidentName::of(identity, resident),
                version,
                in_force_until: row.try_get("in_force_until")?,
            })
        })
        .collect()
}

/// The instants of local times of the establishment, in order. `NotFound` when the
/// establishment is not the tenant's.
pub async fn instants(
    tx: &mut Tx<'_>,
    establishment: EstablishmentId,
    locals: &[NaiveDateTime],
) -> StoreResult<Vec<DateTime<Utc>>> {
    crate::care_tasks::instants(tx, establishment, locals).await
}

/// The records of the day's planned doses and of the doses given if needed within `[starts,
/// ends)` in the establishment, not in error (see [`DAY_RECORDS`]).
pub async fn day_records(
    tx: &mut Tx<'_>,
    establishment: EstablishmentId,
    day: NaiveDate,
    (starts, ends): (DateTime<Utc>, DateTime<Utc>),
) -> StoreResult<Vec<Administration>> {
    let establishment = establishment.as_uuid();
    let args = args! { establishment: &establishment, day: &day, starts: &starts, ends: &ends };
    let rows = tx.query(&DAY_RECORDS, &args).await?;
    let keys = tx.keyring(versions(&rows)?).await?;
    rows.iter().map(|row| administration(row, &keys)).collect()
}

/// A version of the person's prescriptions, locked for a record, with when it was in force to.
/// `NotFound` when it is not one the caller reads.
pub async fn version_for_dose(
    tx: &mut Tx<'_>,
    resident: ResidentId,
    version: PrescriptionVersionId,
) -> StoreResult<(PrescriptionVersion, Option<DateTime<Utc>>)> {
    let (resident, id) = (resident.as_uuid(), version.as_uuid());
    let row = tx.query_opt(&VERSION_FOR_DOSE, &args! { resident: &resident, id: &id }).await?;
    let row = row.ok_or(StoreError::NotFound)?;
    let keys = tx.keyring(versions(std::slice::from_ref(&row))?).await?;
    Ok((crate::prescriptions::version(&row, &keys)?, row.try_get("in_force_until")?))
}

/// The bounds of the establishment's day holding `at`.
pub async fn day_of(
    tx: &mut Tx<'_>,
    establishment: EstablishmentId,
    at: DateTime<Utc>,
) -> StoreResult<(DateTime<Utc>, DateTime<Utc>)> {
    let establishment = establishment.as_uuid();
    let row = tx.query_one(&DAY_OF, &args! { establishment: &establishment, at: &at }).await?;
    Ok((row.try_get("starts")?, row.try_get("ends")?))
}

/// The doses of a prescription given if needed (or partly) within `[starts, ends)`, not in
/// error, whatever its version.
pub async fn as_needed_given(
    tx: &mut Tx<'_>,
    prescription: PrescriptionId,
    (starts, ends): (DateTime<Utc>, DateTime<Utc>),
) -> StoreResult<Vec<Administration>> {
    let prescription = prescription.as_uuid();
    let args = args! { prescription_id: &prescription, starts: &starts, ends: &ends };
    let rows = tx.query(&AS_NEEDED_GIVEN, &args).await?;
    let keys = tx.keyring(versions(&rows)?).await?;
    rows.iter().map(|row| administration(row, &keys)).collect()
}

/// What a record to write names.
#[derive(Debug, Clone, Copy)]
pub struct Recording<'a> {
    pub version: PrescriptionVersionId,
    pub line: u32,
    pub new: &'a NewAdministration,
    /// The hand-over's event (a dose refused, not given, partly taken).
    pub event: Option<&'a NewHandoverEvent>,
}

/// Records a dose of a visible, active record's prescription, with its hand-over event, and
/// commits. `Conflict` (`administrations_once`) when the planned dose is recorded already.
pub async fn record(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    recording: Recording<'_>,
) -> StoreResult<Created<Administration>> {
    let Recording { version, line, new, event } = recording;
    let keys = tx.sealing_keys(2).await?;
    let id = Uuid::now_v7();
    let details = seal_json(&keys, DETAILS, id, &new.details)?;
    let (resident, version, dek) = (resident.as_uuid(), version.as_uuid(), keys.active_version() as i32);
    let line = line as i32;
    let (outcome, act) = (new.outcome.as_str(), new.act.as_str());
    let args = args! { resident: &resident, id: &id, version: &version, line: &line, due_on: &new.due_on,
    slot: &new.slot, due_at: &new.due_at, outcome: &outcome, act: &act, given_at: &new.given_at,
    confirmed: &new.confirmed_warnings, details: &details, dek_version: &dek }
    .action(AuditAction::AdministrationCreate);
    let event = EventRow::seal(&keys, event)?;
    let args = event.bind(args);
    let map = |row: &Row| administration(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT, args, reload: &BY_ID, map: &map }).await
}

/// The record an earlier request with this key created, if any: a retry is answered before the
/// checks its first attempt passed (the dose it recorded counts now).
pub async fn replayed(tx: &mut Tx<'_>, key: Option<&IdempotencyKey>) -> StoreResult<Option<Created<Administration>>> {
    let Some(key) = key else { return Ok(None) };
    let Some(found) = replay(tx, key, &BY_ID, &row_id).await? else { return Ok(None) };
    let row = tx.query_one(&BY_ID, &args! { id: &found.value }).await?;
    let keys = tx.keyring(versions(std::slice::from_ref(&row))?).await?;
    Ok(Some(Created { value: administration(&row, &keys)?, replayed: true }))
}

fn row_id(row: &Row) -> StoreResult<Uuid> {
    Ok(row.try_get("id")?)
}

/// One record of the person's the caller reads, for a decision (not recorded).
pub async fn one(tx: &mut Tx<'_>, resident: ResidentId, id: AdministrationId) -> StoreResult<Administration> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let row = tx.query_opt(&ONE, &args! { resident: &resident, id: &id }).await?.ok_or(StoreError::NotFound)?;
    let keys = tx.keyring(versions(std::slice::from_ref(&row))?).await?;
    administration(&row, &keys)
}

/// Flags a record as entered in error (see [`flag_entered_in_error`]): its dose is owed again.
pub async fn flag(tx: Tx<'_>, resident: ResidentId, id: AdministrationId, reason: &str) -> StoreResult<Administration> {
    flag_entered_in_error(tx, &FLAG, resident, id.as_uuid(), reason, administration).await
}

/// A person's records given within `[from, to)`, newest first, as the transaction's last
/// statement; the reading is recorded. `NotFound` when the resident is out of reach.
pub async fn list(
    tx: Tx<'_>,
    resident: ResidentId,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> StoreResult<Vec<Administration>> {
    let resident = resident.as_uuid();
    let trace = crate::trail::ReadTrace::Record { action: AuditAction::AdministrationList, resident };
    open_listed(tx, &LIST, &args! { resident: &resident, from: &from, to: &to }, Some(trace), administration).await
}

/// Administrations: what was given and why not sealed; a merge moves them to the record kept;
/// the resident's export lists them in the order given.
pub(crate) const FEATURE: Feature = Feature {
    name: "administrations",
    tables: &[Table::of_person(
        "administrations",
        &[DETAILS, ERROR_REASON],
        "administrations a",
        COLUMNS,
        "a.given_at, a.id",
        |row, keys| to_json(administration(row, keys)),
    )],
};

/// The prescriptions' columns of `p`.
const PRESCRIPTION_COLUMNS: &str = crate::prescriptions::PRESCRIPTION_COLUMNS;
