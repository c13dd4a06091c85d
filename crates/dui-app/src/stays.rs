//! Stays: admissions of a person already known, transfers, discharges, moves between units;
//! and the professionals assigned to a person (home help).

use chrono::{NaiveDate, Utc};
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::policy;
use dui_domain::record::{AdmissionMode, DischargeMode, NewStay, Stay, StayMode, validate_discharge};
use dui_domain::scope::TenantScope;
use dui_domain::{EstablishmentId, ResidentId, StayId, UnitId, UserId};
use dui_storage::stays::{self, StayChange};
use dui_storage::{Mode, Reading, assignments};

use crate::access::{active, refuse};
use crate::{App, AppError, AppResult};

/// A new stay of a person already known.
#[derive(Debug, Clone)]
pub struct NewStayCommand {
    pub resident: ResidentId,
    pub establishment: EstablishmentId,
    pub unit: Option<UnitId>,
    pub mode: StayMode,
    pub admitted_on: NaiveDate,
    /// Default: `return`, or `transfer` with `transferred_from`.
    pub admission_mode: Option<AdmissionMode>,
    /// A transfer: the current stay it continues (closed the day of the admission).
    pub transferred_from: Option<StayId>,
    pub key: Option<IdempotencyKey>,
}

/// A discharge, or a move to another unit.
#[derive(Debug, Clone, Copy)]
pub struct ChangeStay {
    pub resident: ResidentId,
    pub stay: StayId,
    pub expected_version: i32,
    pub discharged_on: Option<NaiveDate>,
    pub discharge_mode: Option<DischargeMode>,
    /// Move to another unit of the same establishment (`Some(None)`: out of any unit).
    pub unit: Option<Option<UnitId>>,
}

/// A professional assigned to a person.
#[derive(Debug, Clone)]
pub struct Assign {
    pub resident: ResidentId,
    pub user: UserId,
    /// Default: today.
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    pub key: Option<IdempotencyKey>,
}

/// A person's stays, most recent first.
pub async fn list(app: &App, scope: &TenantScope, resident: ResidentId) -> AppResult<Vec<Stay>> {
    let tx = app.db().begin(scope, Mode::Write);
    Ok(stays::list(tx, resident, Reading::Recorded(AuditAction::StayRead)).await?)
}

/// Admits a known person into a new stay; with `transferred_from`, a transfer between
/// establishments of the organisation.
pub async fn admit(app: &App, scope: &TenantScope, command: NewStayCommand) -> AppResult<Created<Stay>> {
    let (resident, action) = (command.resident, AuditAction::StayCreate);
    let mut tx = app.db().begin(scope, Mode::Write);
    let context = active(&mut tx, resident, action).await?;
    let allowed = policy::can_admit_residents(scope, command.establishment)
        && (command.transferred_from.is_none() || policy::can_manage_record(scope, &context.establishments));
    if !allowed {
        return Err(refuse(&mut tx, action, resident, "admit this person there").await);
    }
    let mode = command.admission_mode.unwrap_or(if command.transferred_from.is_some() {
        AdmissionMode::Transfer
    } else {
        AdmissionMode::Return
    });
    let today = Utc::now().date_naive();
    let new = NewStay::validate(command.establishment, command.unit, command.mode, command.admitted_on, mode, today)?;
    // The team of the place learns of the arrival at the hand-over.
    let event = dui_domain::handover::admission(new.mode, new.admission_mode, new.admitted_on, Utc::now());
    Ok(stays::admit(tx, command.key.as_ref(), resident, &new, command.transferred_from, Some(&event)).await?)
}

/// Discharges (date and mode) or moves a stay to another unit.
pub async fn change(app: &App, scope: &TenantScope, command: ChangeStay) -> AppResult<Stay> {
    let (resident, action) = (command.resident, AuditAction::StayUpdate);
    let mut tx = app.db().begin(scope, Mode::Write);
    let context = active(&mut tx, resident, action).await?;
    if !policy::can_manage_record(scope, &context.establishments) {
        return Err(refuse(&mut tx, action, resident, "change stays").await);
    }
    let change = match (command.discharged_on, command.discharge_mode, command.unit) {
        (Some(on), Some(mode), None) => {
            let current = stays::list_within(&mut tx, resident, Reading::Unrecorded).await?;
            let stay = current.iter().find(|s| s.id == command.stay).ok_or(AppError::NotFound)?;
            validate_discharge(stay, on)?;
            StayChange::Discharge { on, mode }
        }
        (None, None, Some(unit)) => StayChange::MoveUnit { unit },
        _ => {
            return Err(AppError::invalid("discharged_on", "give discharged_on with discharge_mode, or unit_id alone"));
        }
    };
    // A discharge is told at the hand-over; a move between units is not.
    let event = match change {
        StayChange::Discharge { on, mode } => Some(dui_domain::handover::discharge(mode, on, Utc::now())),
        StayChange::MoveUnit { .. } => None,
    };
    Ok(stays::change(tx, resident, command.stay, Some(command.expected_version), change, event.as_ref()).await?)
}

/// Assigns a professional to the person: home helpers reach only the people they are assigned
/// to.
pub async fn assign(app: &App, scope: &TenantScope, command: Assign) -> AppResult<Created<uuid::Uuid>> {
    let (resident, action) = (command.resident, AuditAction::AssignmentCreate);
    let mut tx = app.db().begin(scope, Mode::Write);
    let context = active(&mut tx, resident, action).await?;
    if !context.establishments.iter().any(|e| policy::can_assign(scope, *e)) {
        return Err(refuse(&mut tx, action, resident, "assign professionals").await);
    }
    let starts_on = command.starts_on.unwrap_or_else(|| Utc::now().date_naive());
    if command.ends_on.is_some_and(|end| end < starts_on) {
        return Err(AppError::invalid("ends_on", "is before starts_on"));
    }
    Ok(assignments::assign(tx, command.key.as_ref(), resident, command.user, starts_on, command.ends_on).await?)
}
