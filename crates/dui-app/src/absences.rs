//! Absences and appointments: a person leaves (a hospitalisation, a stay with family, a
//! consultation outside) and comes back; appointments are booked, take place or are cancelled.
//! While a person is away, their tasks are suspended (see [`crate::care_tasks`]).
//!
//! Who: the care team of the person's establishment records and reads them, as other care data
//! (`policy::can_record_care_data`, the care team's reading rule). Others who see the person
//! learn that they are away from the day's tasks (suspended), not where or why.

use chrono::{DateTime, NaiveDate, Utc};
use dui_domain::absence::{
    Absence, AbsenceInput, AbsenceState, Appointment, AppointmentInput, AppointmentStatus, AwayDay, NewAbsence,
    NewAppointment, check_return,
};
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::policy;
use dui_domain::scope::TenantScope;
use dui_domain::{AbsenceId, AppointmentId, EstablishmentId, ResidentId, UnitId};
use dui_storage::{Mode, Tx, absences};

use crate::access::{acting, refuse};
use crate::{App, AppError, AppResult};

/// An absence to record.
#[derive(Debug, Clone)]
pub struct RecordAbsence {
    pub resident: ResidentId,
    pub absence: AbsenceInput,
    pub key: Option<IdempotencyKey>,
}

/// An appointment to record.
#[derive(Debug, Clone)]
pub struct RecordAppointment {
    pub resident: ResidentId,
    pub appointment: AppointmentInput,
    pub key: Option<IdempotencyKey>,
}

/// Which day of which establishment.
#[derive(Debug, Clone, Copy)]
pub struct DayQuery {
    pub establishment: EstablishmentId,
    /// Default: today.
    pub date: Option<NaiveDate>,
    pub unit: Option<UnitId>,
}

/// May record care data about the person: the care team where they are supported.
async fn may_record(tx: &mut Tx<'_>, resident: ResidentId, action: AuditAction) -> AppResult<()> {
    let establishments = acting(tx, resident, action).await?;
    if !policy::can_record_care_data(tx.scope()?, &establishments) {
        return Err(refuse(tx, action, resident, "record absences and appointments").await);
    }
    Ok(())
}

/// Refuses a departure at `at` when the person is away then already: they come back before they
/// leave again (two nurses recording the same hospitalisation make one absence).
async fn not_away(tx: &mut Tx<'_>, resident: ResidentId, at: DateTime<Utc>, now: DateTime<Utc>) -> AppResult<()> {
    if let Some(away) = absences::away_at(tx, resident, at, now).await? {
        return Err(AppError::Conflict(format!(
            "The person is away at that time already ({} absence {} from {}): record its return, or cancel it, first.",
            away.kind,
            away.absence_id,
            away.from.format("%Y-%m-%dT%H:%M:%SZ")
        )));
    }
    Ok(())
}

/// Records an absence: planned (its start is to come) or in progress (the person left). Refused
/// (409) when the person is away at its start already.
pub async fn record(app: &App, scope: &TenantScope, command: RecordAbsence) -> AppResult<Created<Absence>> {
    let now = Utc::now();
    let new = NewAbsence::validate(command.absence, now)?;
    let resident = command.resident;
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record(&mut tx, resident, AuditAction::AbsenceCreate).await?;
    if let Some(key) = &command.key
        && let Some(replayed) = absences::replayed(&mut tx, key).await?
    {
        tx.commit().await?;
        return Ok(replayed);
    }
    not_away(&mut tx, resident, new.starts_at, now).await?;
    let event = dui_domain::handover::absence(&new);
    Ok(absences::record(tx, command.key.as_ref(), resident, &new, Some(&event)).await?)
}

/// The person's absences, newest first.
pub async fn list(app: &App, scope: &TenantScope, resident: ResidentId) -> AppResult<Vec<Absence>> {
    Ok(absences::list(app.db().begin(scope, Mode::Write), resident).await?)
}

/// Records the return from an absence in progress (default: now). A planned absence is
/// cancelled, not ended; an ended or cancelled one is final (409).
pub async fn record_return(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: AbsenceId,
    returned_at: Option<DateTime<Utc>>,
) -> AppResult<Absence> {
    let now = Utc::now();
    let returned_at = returned_at.unwrap_or(now);
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record(&mut tx, resident, AuditAction::AbsenceReturn).await?;
    let absence = absences::one(&mut tx, resident, id).await?;
    match absence.state {
        AbsenceState::InProgress => {}
        AbsenceState::Planned => {
            return Err(AppError::Conflict(
                "This absence has not started: cancel it if it will not take place.".into(),
            ));
        }
        AbsenceState::Ended => {
            return Err(AppError::Conflict("The return from this absence is recorded already.".into()));
        }
        AbsenceState::Cancelled => return Err(AppError::Conflict("This absence was cancelled.".into())),
    }
    let times = dui_domain::absence::AbsenceTimes {
        starts_at: absence.starts_at,
        expected_return_at: absence.expected_return_at,
        returned_at: None,
        cancelled: false,
    };
    check_return(&times, returned_at, now)?;
    let event = dui_domain::handover::return_at(returned_at);
    match absences::record_return(tx, resident, id, returned_at, Some(&event)).await {
        Err(dui_storage::StoreError::NotFound) => {
            Err(AppError::Conflict("This absence changed meanwhile: read it again.".into()))
        }
        other => Ok(other?),
    }
}

/// Cancels an absence that did not take place (planned, or recorded as started by mistake);
/// one ended stays (409).
pub async fn cancel(app: &App, scope: &TenantScope, resident: ResidentId, id: AbsenceId) -> AppResult<Absence> {
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record(&mut tx, resident, AuditAction::AbsenceCancel).await?;
    let absence = absences::one(&mut tx, resident, id).await?;
    match absence.state {
        AbsenceState::Planned | AbsenceState::InProgress => {}
        AbsenceState::Ended => {
            return Err(AppError::Conflict("This absence took place (its return is recorded): it stays.".into()));
        }
        AbsenceState::Cancelled => return Err(AppError::Conflict("This absence is cancelled already.".into())),
    }
    match absences::cancel(tx, resident, id).await {
        Err(dui_storage::StoreError::NotFound) => {
            Err(AppError::Conflict("This absence changed meanwhile: read it again.".into()))
        }
        other => Ok(other?),
    }
}

/// Records an appointment. One outside the establishment makes the matching absence (a
/// consultation, from the departure to the expected return) in the same operation, refused
/// (409) when the person is away at the departure already.
pub async fn record_appointment(
    app: &App,
    scope: &TenantScope,
    command: RecordAppointment,
) -> AppResult<Created<Appointment>> {
    let now = Utc::now();
    let new = NewAppointment::validate(command.appointment, now)?;
    let resident = command.resident;
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record(&mut tx, resident, AuditAction::AppointmentCreate).await?;
    if let Some(key) = &command.key
        && let Some(replayed) = absences::replayed_appointment(&mut tx, key).await?
    {
        tx.commit().await?;
        return Ok(replayed);
    }
    if let Some(absence) = &new.absence {
        not_away(&mut tx, resident, absence.starts_at, now).await?;
    }
    Ok(absences::record_appointment(tx, command.key.as_ref(), resident, &new).await?)
}

/// The person's appointments, newest first.
pub async fn appointments(app: &App, scope: &TenantScope, resident: ResidentId) -> AppResult<Vec<Appointment>> {
    Ok(absences::appointments(app.db().begin(scope, Mode::Write), resident).await?)
}

/// Marks a planned appointment as having taken place; not before its time (409).
pub async fn appointment_done(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: AppointmentId,
) -> AppResult<Appointment> {
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record(&mut tx, resident, AuditAction::AppointmentDone).await?;
    let appointment = absences::one_appointment(&mut tx, resident, id).await?;
    if appointment.status != AppointmentStatus::Planned {
        return Err(AppError::Conflict(format!("This appointment is {} already.", appointment.status)));
    }
    if appointment.starts_at > Utc::now() + chrono::Duration::minutes(5) {
        return Err(AppError::Conflict("This appointment has not taken place yet.".into()));
    }
    match absences::appointment_done(tx, resident, id).await {
        Err(dui_storage::StoreError::NotFound) => {
            Err(AppError::Conflict("This appointment changed meanwhile: read it again.".into()))
        }
        other => Ok(other?),
    }
}

/// Cancels a planned appointment, and the absence it made if that has not started (the person
/// did not leave); one that has started stays, to be ended by the return.
pub async fn cancel_appointment(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: AppointmentId,
) -> AppResult<Appointment> {
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record(&mut tx, resident, AuditAction::AppointmentCancel).await?;
    let appointment = absences::one_appointment(&mut tx, resident, id).await?;
    if appointment.status != AppointmentStatus::Planned {
        return Err(AppError::Conflict(format!("This appointment is {} already.", appointment.status)));
    }
    match absences::cancel_appointment(tx, resident, id).await {
        Err(dui_storage::StoreError::NotFound) => {
            Err(AppError::Conflict("This appointment changed meanwhile: read it again.".into()))
        }
        other => Ok(other?),
    }
}

/// Who is away on a day of an establishment (or one of its units), and the day's appointments:
/// for the day's list and the hand-over. The people of the establishment the caller sees and
/// whose care team they are.
pub async fn day(app: &App, scope: &TenantScope, query: DayQuery) -> AppResult<AwayDay> {
    if !scope.resident_access().reaches(query.establishment) {
        return Err(AppError::NotFound);
    }
    crate::structure::get_establishment(app, scope, query.establishment).await?;
    let now = Utc::now();
    let mut tx = app.db().begin(scope, Mode::Write);
    // Today in the establishment's calendar, not UTC's.
    let day = match query.date {
        Some(day) => day,
        None => dui_storage::care_tasks::local_times(&mut tx, query.establishment, &[now]).await?[0].date(),
    };
    Ok(absences::day(tx, query.establishment, query.unit, day, now).await?)
}
