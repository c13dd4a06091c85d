//! Absences and appointments: recorded, never deleted (a return and a cancellation are recorded
//! on the row), read by the care team of the person's establishment. Where and why are sealed.
//!
//! [`away_periods`] is the one query of "is the person away": it reads the absences that may
//! keep people away during a time, and the domain's rule ([`dui_domain::absence::AwayPeriod`])
//! decides. The day's tasks use it, and any feature that must suspend what it does for someone
//! away (the medication rounds) will.

use chrono::{DateTime, NaiveDate, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::absence::{
    Absence, AbsenceDetails, AbsenceKind, AbsenceOfDay, AbsenceTimes, Appointment, AppointmentDetails,
    AppointmentOfDay, AppointmentStatus, AwayDay, AwayPeriod, NewAbsence, NewAppointment, Transport,
};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::resident::Identity;
use dui_domain::transmission::ResidentName;
use dui_domain::{AbsenceId, AppointmentId, EstablishmentId, ResidentId, UnitId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use std::sync::LazyLock;

use dui_domain::audit::AuditAction;

use crate::access::{WHO_CTE, care_readable, target, visible};
use crate::args;
use crate::feature::{Feature, Table, to_json};
use crate::idempotency::{Create, create_once, replay};
use crate::listing::{listed, open_listed, record_shown};
use crate::residents::RESIDENT_IDENTITY;
use crate::rows::parse;
use crate::sealing::{open_json, seal_json};
use crate::sql::{Sql, Stmt};
use crate::stays::PLACE;
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

pub(crate) const ABSENCE_DETAILS: Column = Column::new("absences", "details");
pub(crate) const APPOINTMENT_DETAILS: Column = Column::new("appointments", "details");

pub(crate) const ABSENCE_COLUMNS: &str = "b.id, b.resident_id, b.establishment_id, b.kind, b.starts_at, \
     b.expected_return_at, b.returned_at, b.transport, b.details, b.dek_version, b.recorded_by, b.recorded_at, \
     b.return_recorded_by, b.return_recorded_at, b.cancelled_at, b.cancelled_by";

pub(crate) const APPOINTMENT_COLUMNS: &str = "ap.id, ap.resident_id, ap.establishment_id, ap.starts_at, ap.ends_at, \
     ap.outside, ap.transport, ap.details, ap.dek_version, ap.status, ap.absence_id, ap.recorded_by, ap.recorded_at, \
     ap.status_changed_at, ap.status_changed_by";

fn times(row: &Row) -> StoreResult<AbsenceTimes> {
    Ok(AbsenceTimes {
        starts_at: row.try_get("starts_at")?,
        expected_return_at: row.try_get("expected_return_at")?,
        returned_at: row.try_get("returned_at")?,
        cancelled: row.try_get::<_, Option<DateTime<Utc>>>("cancelled_at")?.is_some(),
    })
}

pub(crate) fn absence(row: &Row, keys: &Keyring) -> StoreResult<Absence> {
    let id: Uuid = row.try_get("id")?;
    let details: AbsenceDetails = open_json(keys, ABSENCE_DETAILS, id, row.try_get("details")?)?;
    let times = times(row)?;
    Ok(Absence {
        id: AbsenceId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        kind: parse(row, "kind", AbsenceKind::parse)?,
        starts_at: times.starts_at,
        expected_return_at: times.expected_return_at,
        returned_at: times.returned_at,
        destination: details.destination,
        reason: details.reason,
        transport: parse(row, "transport", Transport::parse)?,
        state: times.state(Utc::now()),
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        return_recorded_by: row.try_get::<_, Option<Uuid>>("return_recorded_by")?.map(UserId::from_uuid),
        cancelled_at: row.try_get("cancelled_at")?,
        cancelled_by: row.try_get::<_, Option<Uuid>>("cancelled_by")?.map(UserId::from_uuid),
    })
}

pub(crate) fn appointment(row: &Row, keys: &Keyring) -> StoreResult<Appointment> {
    let id: Uuid = row.try_get("id")?;
    let details: AppointmentDetails = open_json(keys, APPOINTMENT_DETAILS, id, row.try_get("details")?)?;
    Ok(Appointment {
        id: AppointmentId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        starts_at: row.try_get("starts_at")?,
        ends_at: row.try_get("ends_at")?,
        with_whom: details.with_whom,
        place: details.place,
        outside: row.try_get("outside")?,
        transport: parse(row, "transport", Transport::parse)?,
        accompanied_by: details.accompanied_by,
        notes: details.notes,
        status: parse(row, "status", AppointmentStatus::parse)?,
        absence_id: row.try_get::<_, Option<Uuid>>("absence_id")?.map(AbsenceId::from_uuid),
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        status_changed_at: row.try_get("status_changed_at")?,
        status_changed_by: row.try_get::<_, Option<Uuid>>("status_changed_by")?.map(UserId::from_uuid),
    })
}

/// The event of the absence an appointment's statement also wrote or changed (`rows`).
fn absence_trace(rows: &str, action: AuditAction) -> String {
    let (resident, resource) = (format!("{rows}.resident_id"), format!("{rows}.id"));
    Trace {
        from: &format!("who, {rows}, target"),
        resident: &resident,
        resource: &resource,
        outcome: "'success'",
        emergency: "NOT target.normal",
    }
    .sql_as(action)
}

// ---------------------------------------------------------------------------------------------
// Absences.
// ---------------------------------------------------------------------------------------------

static INSERT_ABSENCE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, {PLACE}, \
         b AS (INSERT INTO absences (tenant_id, id, resident_id, establishment_id, kind, starts_at, expected_return_at, \
                 transport, details, dek_version, recorded_by) \
               SELECT t.tenant_id, :id, t.id, p.establishment_id, :kind, :starts_at, :expected_return_at, :transport, \
                      :details, :dek_version, who.user_id \
               FROM target t, place p, who WHERE t.record_status = 'active' RETURNING *), \
         trace AS ({trace}), {event} SELECT {ABSENCE_COLUMNS} FROM b",
        target = target(),
        trace = Trace::written("b"),
        event = crate::handover_write::emit("b"),
    ))
});

static ABSENCE_BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {ABSENCE_COLUMNS} FROM absences b WHERE b.tenant_id = :tenant AND b.id = :id"))
});

/// One absence of a visible resident that the caller's care team reads, for a check.
static ONE_ABSENCE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} SELECT {ABSENCE_COLUMNS} FROM absences b, target t, who \
         WHERE b.tenant_id = t.tenant_id AND b.resident_id = t.id AND b.id = :id AND {readable}",
        target = target(),
        readable = care_readable("b", "NOT t.normal"),
    ))
});

static ABSENCES: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT b.* FROM absences b, target t, who WHERE b.tenant_id = t.tenant_id AND b.resident_id = t.id \
                  AND {readable} ORDER BY b.starts_at DESC, b.id DESC LIMIT 1000), \
         trace AS ({trace}) \
         {listed}",
        target = target(),
        readable = care_readable("b", "NOT t.normal"),
        trace = Trace::read(),
        listed = listed(&format!("SELECT {ABSENCE_COLUMNS} FROM data b"), "x.starts_at DESC, x.id DESC"),
    ))
});

static RETURN: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         b AS (UPDATE absences b SET returned_at = :returned_at, return_recorded_by = who.user_id, return_recorded_at = now() \
               FROM target t, who WHERE b.tenant_id = t.tenant_id AND b.resident_id = t.id AND b.id = :id \
               AND t.record_status = 'active' AND b.returned_at IS NULL AND b.cancelled_at IS NULL \
               AND b.starts_at <= :returned_at AND {readable} RETURNING b.*), \
         trace AS ({trace}), {event} SELECT {ABSENCE_COLUMNS} FROM b",
        target = target(),
        readable = care_readable("b", "NOT t.normal"),
        trace = Trace::written("b"),
        event = crate::handover_write::emit("b"),
    ))
});

static CANCEL: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         b AS (UPDATE absences b SET cancelled_at = now(), cancelled_by = who.user_id \
               FROM target t, who WHERE b.tenant_id = t.tenant_id AND b.resident_id = t.id AND b.id = :id \
               AND t.record_status = 'active' AND b.returned_at IS NULL AND b.cancelled_at IS NULL AND {readable} \
               RETURNING b.*), \
         trace AS ({trace}) SELECT {ABSENCE_COLUMNS} FROM b",
        target = target(),
        readable = care_readable("b", "NOT t.normal"),
        trace = Trace::written("b"),
    ))
});

/// What may keep people away during `[:from, :to)`: absences not cancelled, started before the
/// end, not back before the start. A necessary condition of the domain's rule, which decides.
const MAY_BE_AWAY: &str =
    "b.cancelled_at IS NULL AND b.starts_at < :to AND (b.returned_at IS NULL OR b.returned_at > :from)";

static AWAY: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT b.id, b.resident_id, b.kind, b.starts_at, b.expected_return_at, b.returned_at, b.cancelled_at \
         FROM absences b WHERE b.tenant_id = :tenant AND b.resident_id = ANY(:residents) AND {MAY_BE_AWAY}"
    ))
});

/// Records an absence of a visible resident, in the establishment of their stay, and commits.
pub async fn record(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewAbsence,
    event: Option<&dui_domain::handover::NewHandoverEvent>,
) -> StoreResult<Created<Absence>> {
    let keys = tx.sealing_keys(1 + 1).await?;
    let id = Uuid::now_v7();
    let details = seal_json(&keys, ABSENCE_DETAILS, id, &new.details)?;
    let (resident, kind, transport, dek) =
        (resident.as_uuid(), new.kind.as_str(), new.transport.as_str(), keys.active_version() as i32);
    let args = args! { resident: &resident, id: &id, kind: &kind, starts_at: &new.starts_at,
    expected_return_at: &new.expected_return_at, transport: &transport, details: &details, dek_version: &dek }
    .action(AuditAction::AbsenceCreate);
    let event = crate::handover_write::EventRow::seal(&keys, event)?;
    let args = event.bind(args);
    let map = |row: &Row| absence(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT_ABSENCE, args, reload: &ABSENCE_BY_ID, map: &map }).await
}

/// The absence an earlier request with `key` recorded, if any: a retry is answered before the
/// checks the first attempt passed (the person is away now, by that very absence).
pub async fn replayed(tx: &mut Tx<'_>, key: &IdempotencyKey) -> StoreResult<Option<Created<Absence>>> {
    let keys = tx.keyring([]).await?;
    let map = |row: &Row| absence(row, &keys);
    replay(tx, key, &ABSENCE_BY_ID, &map).await
}

/// The appointment an earlier request with `key` recorded, if any (see [`replayed`]).
pub async fn replayed_appointment(tx: &mut Tx<'_>, key: &IdempotencyKey) -> StoreResult<Option<Created<Appointment>>> {
    let keys = tx.keyring([]).await?;
    let map = |row: &Row| appointment(row, &keys);
    replay(tx, key, &APPOINTMENT_BY_ID, &map).await
}

/// One absence of the person, for a check (not recorded). `NotFound` when it is not theirs, or
/// not the caller's care team's to read.
pub async fn one(tx: &mut Tx<'_>, resident: ResidentId, id: AbsenceId) -> StoreResult<Absence> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let row = tx.query_opt(&ONE_ABSENCE, &args! { resident: &resident, id: &id }).await?.ok_or(StoreError::NotFound)?;
    let keys = tx.keyring(crate::sealing::versions(std::slice::from_ref(&row))?).await?;
    absence(&row, &keys)
}

/// The person's absences, newest first (at most 1,000). Recorded.
pub async fn list(tx: Tx<'_>, resident: ResidentId) -> StoreResult<Vec<Absence>> {
    let resident = resident.as_uuid();
    let args = args! { resident: &resident }.action(AuditAction::AbsenceRead);
    open_listed(tx, &ABSENCES, &args, None, absence).await
}

/// Records the return from an absence in progress, and commits. `NotFound` when the absence is
/// not there to end (ended, cancelled or out of reach meanwhile).
pub async fn record_return(
    tx: Tx<'_>,
    resident: ResidentId,
    id: AbsenceId,
    returned_at: DateTime<Utc>,
    event: Option<&dui_domain::handover::NewHandoverEvent>,
) -> StoreResult<Absence> {
    let event = crate::handover_write::EventRow::seal_in(&tx, event).await?;
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let args = args! { resident: &resident, id: &id, returned_at: &returned_at }.action(AuditAction::AbsenceReturn);
    let args = event.bind(args);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = tx.finish(&RETURN, &args).await?;
    db.open_one(tenant, rows.first().ok_or(StoreError::NotFound)?, absence).await
}

/// Cancels an absence that has not ended, and commits.
pub async fn cancel(tx: Tx<'_>, resident: ResidentId, id: AbsenceId) -> StoreResult<Absence> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let args = args! { resident: &resident, id: &id }.action(AuditAction::AbsenceCancel);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = tx.finish(&CANCEL, &args).await?;
    db.open_one(tenant, rows.first().ok_or(StoreError::NotFound)?, absence).await
}

/// When `residents` are away during `[from, to)`, as known at `now` (the domain's rule): a
/// check inside an operation, not recorded — the residents must be in the caller's reach
/// already (listed by an operation that checked it, or the record it acts on).
pub async fn away_periods(
    tx: &mut Tx<'_>,
    residents: &[ResidentId],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Vec<AwayPeriod>> {
    if residents.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = residents.iter().map(|r| r.as_uuid()).collect();
    let rows = tx.query(&AWAY, &args! { residents: &ids, from: &from, to: &to }).await?;
    let mut periods = Vec::with_capacity(rows.len());
    for row in &rows {
        let period = AwayPeriod::of(
            AbsenceId::from_uuid(row.try_get("id")?),
            ResidentId::from_uuid(row.try_get("resident_id")?),
            parse(row, "kind", AbsenceKind::parse)?,
            times(row)?,
            now,
        );
        periods.extend(period.filter(|p| p.meets(from, to)));
    }
    Ok(periods)
}

/// The period keeping `resident` away at `at`, if any (see [`away_periods`]).
pub async fn away_at(
    tx: &mut Tx<'_>,
    resident: ResidentId,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<Option<AwayPeriod>> {
    let periods = away_periods(tx, &[resident], at, at + chrono::Duration::seconds(1), now).await?;
    Ok(dui_domain::absence::away_at(&periods, resident, at).copied())
}

// ---------------------------------------------------------------------------------------------
// Appointments.
// ---------------------------------------------------------------------------------------------

static INSERT_APPOINTMENT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, {PLACE}, \
         b AS (INSERT INTO absences (tenant_id, id, resident_id, establishment_id, kind, starts_at, expected_return_at, \
                 transport, details, dek_version, recorded_by) \
               SELECT t.tenant_id, :absence_id, t.id, p.establishment_id, :absence_kind, :departs_at, :returns_at, \
                      :transport, :absence_details, :dek_version, who.user_id \
               FROM target t, place p, who WHERE t.record_status = 'active' AND :absence_id::uuid IS NOT NULL RETURNING *), \
         ap AS (INSERT INTO appointments (tenant_id, id, resident_id, establishment_id, starts_at, ends_at, outside, \
                  transport, details, dek_version, absence_id, recorded_by) \
                SELECT t.tenant_id, :id, t.id, p.establishment_id, :starts_at, :ends_at, :outside, :transport, :details, \
                       :dek_version, (SELECT b.id FROM b), who.user_id \
                FROM target t, place p, who WHERE t.record_status = 'active' RETURNING *), \
         trace AS ({trace}), trace_absence AS ({trace_absence}) \
         SELECT {APPOINTMENT_COLUMNS} FROM ap",
        target = target(),
        trace = Trace::written("ap"),
        trace_absence = absence_trace("b", AuditAction::AbsenceCreate),
    ))
});

static APPOINTMENT_BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {APPOINTMENT_COLUMNS} FROM appointments ap WHERE ap.tenant_id = :tenant AND ap.id = :id"))
});

static ONE_APPOINTMENT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} SELECT {APPOINTMENT_COLUMNS} FROM appointments ap, target t, who \
         WHERE ap.tenant_id = t.tenant_id AND ap.resident_id = t.id AND ap.id = :id AND {readable}",
        target = target(),
        readable = care_readable("ap", "NOT t.normal"),
    ))
});

static APPOINTMENTS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT ap.* FROM appointments ap, target t, who WHERE ap.tenant_id = t.tenant_id \
                  AND ap.resident_id = t.id AND {readable} ORDER BY ap.starts_at DESC, ap.id DESC LIMIT 1000), \
         trace AS ({trace}) \
         {listed}",
        target = target(),
        readable = care_readable("ap", "NOT t.normal"),
        trace = Trace::read(),
        listed = listed(&format!("SELECT {APPOINTMENT_COLUMNS} FROM data ap"), "x.starts_at DESC, x.id DESC"),
    ))
});

static APPOINTMENT_DONE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         ap AS (UPDATE appointments ap SET status = 'done', status_changed_at = now(), status_changed_by = who.user_id \
                FROM target t, who WHERE ap.tenant_id = t.tenant_id AND ap.resident_id = t.id AND ap.id = :id \
                AND t.record_status = 'active' AND ap.status = 'planned' AND ap.starts_at <= now() + interval '5 minutes' \
                AND {readable} RETURNING ap.*), \
         trace AS ({trace}) SELECT {APPOINTMENT_COLUMNS} FROM ap",
        target = target(),
        readable = care_readable("ap", "NOT t.normal"),
        trace = Trace::written("ap"),
    ))
});

/// A cancelled appointment cancels the absence it made, if that has not started: the person
/// did not leave. One that has started stays, to be ended by a return (they did leave).
static APPOINTMENT_CANCEL: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         ap AS (UPDATE appointments ap SET status = 'cancelled', status_changed_at = now(), status_changed_by = who.user_id \
                FROM target t, who WHERE ap.tenant_id = t.tenant_id AND ap.resident_id = t.id AND ap.id = :id \
                AND t.record_status = 'active' AND ap.status = 'planned' AND {readable} RETURNING ap.*), \
         b AS (UPDATE absences b SET cancelled_at = now(), cancelled_by = who.user_id FROM ap, who \
               WHERE b.tenant_id = ap.tenant_id AND b.id = ap.absence_id AND b.starts_at > now() \
               AND b.returned_at IS NULL AND b.cancelled_at IS NULL RETURNING b.*), \
         trace AS ({trace}), trace_absence AS ({trace_absence}) \
         SELECT {APPOINTMENT_COLUMNS} FROM ap",
        target = target(),
        readable = care_readable("ap", "NOT t.normal"),
        trace = Trace::written("ap"),
        trace_absence = absence_trace("b", AuditAction::AbsenceCancel),
    ))
});

/// Records an appointment and, when it is outside, the absence it makes (one event each); commits.
pub async fn record_appointment(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewAppointment,
) -> StoreResult<Created<Appointment>> {
    let keys = tx.sealing_keys(if new.absence.is_some() { 2 } else { 1 }).await?;
    let id = Uuid::now_v7();
    let details = seal_json(&keys, APPOINTMENT_DETAILS, id, &new.details)?;
    let absence_id = new.absence.as_ref().map(|_| Uuid::now_v7());
    let absence_details = match (&new.absence, absence_id) {
        (Some(absence), Some(absence_id)) => Some(seal_json(&keys, ABSENCE_DETAILS, absence_id, &absence.details)?),
        _ => None,
    };
    let absence_kind = new.absence.as_ref().map(|a| a.kind.as_str());
    let departs_at = new.absence.as_ref().map(|a| a.starts_at);
    let returns_at = new.absence.as_ref().and_then(|a| a.expected_return_at);
    let (resident, transport, dek) = (resident.as_uuid(), new.transport.as_str(), keys.active_version() as i32);
    let args = args! { resident: &resident, id: &id, starts_at: &new.starts_at, ends_at: &new.ends_at,
    outside: &new.outside, transport: &transport, details: &details, dek_version: &dek, absence_id: &absence_id,
    absence_kind: &absence_kind, departs_at: &departs_at, returns_at: &returns_at,
    absence_details: &absence_details }
    .action(AuditAction::AppointmentCreate);
    let map = |row: &Row| appointment(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT_APPOINTMENT, args, reload: &APPOINTMENT_BY_ID, map: &map }).await
}

/// One appointment of the person, for a check (not recorded).
pub async fn one_appointment(tx: &mut Tx<'_>, resident: ResidentId, id: AppointmentId) -> StoreResult<Appointment> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let row =
        tx.query_opt(&ONE_APPOINTMENT, &args! { resident: &resident, id: &id }).await?.ok_or(StoreError::NotFound)?;
    let keys = tx.keyring(crate::sealing::versions(std::slice::from_ref(&row))?).await?;
    appointment(&row, &keys)
}

/// The person's appointments, newest first (at most 1,000). Recorded.
pub async fn appointments(tx: Tx<'_>, resident: ResidentId) -> StoreResult<Vec<Appointment>> {
    let resident = resident.as_uuid();
    let args = args! { resident: &resident }.action(AuditAction::AppointmentRead);
    open_listed(tx, &APPOINTMENTS, &args, None, appointment).await
}

/// Marks a planned appointment as having taken place (not before its time), and commits.
pub async fn appointment_done(tx: Tx<'_>, resident: ResidentId, id: AppointmentId) -> StoreResult<Appointment> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let args = args! { resident: &resident, id: &id }.action(AuditAction::AppointmentDone);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = tx.finish(&APPOINTMENT_DONE, &args).await?;
    db.open_one(tenant, rows.first().ok_or(StoreError::NotFound)?, appointment).await
}

/// Cancels a planned appointment (and the absence it made, if that has not started), and
/// commits.
pub async fn cancel_appointment(tx: Tx<'_>, resident: ResidentId, id: AppointmentId) -> StoreResult<Appointment> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let args = args! { resident: &resident, id: &id }.action(AuditAction::AppointmentCancel);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = tx.finish(&APPOINTMENT_CANCEL, &args).await?;
    db.open_one(tenant, rows.first().ok_or(StoreError::NotFound)?, appointment).await
}

// ---------------------------------------------------------------------------------------------
// The day of an establishment: who is away, who has an appointment.
// ---------------------------------------------------------------------------------------------

/// The day's bounds in the establishment's time zone.
const DAY: &str = "day AS (SELECT (:day::date)::timestamp AT TIME ZONE e.timezone AS day_start, \
     (:day::date + 1)::timestamp AT TIME ZONE e.timezone AS day_end FROM establishments e \
     WHERE e.tenant_id = :tenant AND e.id = :establishment)";

/// A person of the establishment's list (or of its unit's, when `:unit` is given, by their stay
/// that day), whom the caller sees.
fn listed_person(row: &str) -> String {
    format!(
        "{visible} AND (:unit::uuid IS NULL OR EXISTS (SELECT 1 FROM stays s WHERE s.tenant_id = {row}.tenant_id \
           AND s.resident_id = {row}.resident_id AND s.unit_id = :unit AND s.admitted_on <= :day \
           AND (s.discharged_on IS NULL OR s.discharged_on > :day)))",
        visible = visible("r"),
    )
}

static DAY_ABSENCES: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {DAY}, \
         candidates AS (SELECT b.* FROM absences b, day WHERE b.tenant_id = :tenant AND b.establishment_id = :establishment \
                          AND b.returned_at IS NULL AND b.cancelled_at IS NULL AND b.starts_at < day.day_end \
                        UNION ALL \
                        SELECT b.* FROM absences b, day WHERE b.tenant_id = :tenant AND b.establishment_id = :establishment \
                          AND b.returned_at > day.day_start AND b.starts_at < day.day_end) \
         SELECT {ABSENCE_COLUMNS}, r.identity AS resident_identity, r.dek_version AS resident_dek_version, \
                day.day_start, day.day_end \
         FROM candidates b JOIN residents r ON r.tenant_id = b.tenant_id AND r.id = b.resident_id, who, day \
         WHERE {readable} AND {person} ORDER BY b.starts_at, b.id",
        readable = care_readable("b", "false"),
        person = listed_person("b"),
    ))
});

static DAY_APPOINTMENTS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {DAY} \
         SELECT {APPOINTMENT_COLUMNS}, r.identity AS resident_identity, r.dek_version AS resident_dek_version \
         FROM appointments ap JOIN residents r ON r.tenant_id = ap.tenant_id AND r.id = ap.resident_id, who, day \
         WHERE ap.tenant_id = :tenant AND ap.establishment_id = :establishment AND ap.starts_at >= day.day_start \
         AND ap.starts_at < day.day_end AND {readable} AND {person} ORDER BY ap.starts_at, ap.id",
        readable = care_readable("ap", "false"),
        person = listed_person("ap"),
    ))
});

fn resident_name(row: &Row, keys: &Keyring) -> StoreResult<ResidentName> {
    let resident = ResidentId::from_uuid(row.try_get("resident_id")?);
    let identity: Identity = open_json(keys, RESIDENT_IDENTITY, resident.as_uuid(), row.try_get("resident_identity")?)?;
    Ok(ResidentName::of(identity, resident))
}

/// The day of an establishment (or of one unit): the absences keeping people away at some time
/// of that day (the domain's rule, as known at `now`) and the appointments of that day, of the
/// people the caller sees and whose care team they are. Each person listed is recorded; then
/// commits.
pub async fn day(
    mut tx: Tx<'_>,
    establishment: EstablishmentId,
    unit: Option<UnitId>,
    day: NaiveDate,
    now: DateTime<Utc>,
) -> StoreResult<AwayDay> {
    let (establishment_id, unit) = (establishment.as_uuid(), unit.map(|u| u.as_uuid()));
    let args = args! { establishment: &establishment_id, unit: &unit, day: &day };
    let absences = tx.query(&DAY_ABSENCES, &args).await?;
    let appointments = tx.query(&DAY_APPOINTMENTS, &args).await?;
    let mut needed = crate::sealing::versions(&absences)?;
    needed.extend(crate::sealing::versions(&appointments)?);
    for row in absences.iter().chain(&appointments) {
        needed.push(row.try_get::<_, i32>("resident_dek_version")? as u32);
    }
    let keys = tx.keyring(needed).await?;
    let mut away = Vec::new();
    for row in &absences {
        let (day_start, day_end): (DateTime<Utc>, DateTime<Utc>) = (row.try_get("day_start")?, row.try_get("day_end")?);
        let keeps_away = times(row)?
            .away(now)
            .is_some_and(|(from, until)| from < day_end && until.is_none_or(|until| until > day_start));
        if keeps_away {
            away.push(AbsenceOfDay { resident: resident_name(row, &keys)?, absence: absence(row, &keys)? });
        }
    }
    let mut booked = Vec::with_capacity(appointments.len());
    for row in &appointments {
        booked.push(AppointmentOfDay { resident: resident_name(row, &keys)?, appointment: appointment(row, &keys)? });
    }
    let shown: Vec<Uuid> =
        away.iter().map(|a| a.resident.id.as_uuid()).chain(booked.iter().map(|a| a.resident.id.as_uuid())).collect();
    record_shown(&mut tx, &shown, AuditAction::AbsenceDayList).await?;
    tx.commit().await?;
    Ok(AwayDay { date: day, absences: away, appointments: booked })
}

/// Absences and appointments: where and why sealed; a merge moves them; the resident's export
/// lists them by their time.
pub(crate) const FEATURE: Feature = Feature {
    name: "absences",
    tables: &[
        Table::of_person(
            "absences",
            &[ABSENCE_DETAILS],
            "absences b",
            ABSENCE_COLUMNS,
            "b.starts_at, b.id",
            |row, keys| to_json(absence(row, keys)),
        ),
        Table::of_person(
            "appointments",
            &[APPOINTMENT_DETAILS],
            "appointments ap",
            APPOINTMENT_COLUMNS,
            "ap.starts_at, ap.id",
            |row, keys| to_json(appointment(row, keys)),
        ),
    ],
};
