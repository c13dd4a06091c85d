//! Restraint (contention): prescribed by a coordinating physician, or recorded by a nurse from
//! an external physician's prescription; reassessed at least every 24 hours by nurses and
//! physicians (the reassessments due are tasks of the day's list); stopped with a reason; an
//! establishment's overdue reassessments and expired prescriptions listed. Read by the care
//! team of the person's establishment.

use chrono::{DateTime, Utc};
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::policy;
use dui_domain::restraint::{
    NewReassessment, NewRestraint, Observations, OverdueRestraint, PrescriptionInput, Reassessment,
    ReassessmentOutcome, Restraint, RestraintStatus, RestraintTimes,
};
use dui_domain::scope::TenantScope;
use dui_domain::{EstablishmentId, ResidentId, RestraintId};
use dui_storage::restraints::{self, Prescriber};
use dui_storage::{Mode, StoreError, Tx};

use crate::access::{acting, refuse};
use crate::{App, AppError, AppResult};

/// A prescription to record. Without an external prescriber, the caller prescribes.
#[derive(Debug, Clone)]
pub struct Prescribe {
    pub resident: ResidentId,
    pub prescription: PrescriptionInput,
    /// The prescription this one renews or changes: it ends when this one starts.
    pub replaces: Option<RestraintId>,
    pub key: Option<IdempotencyKey>,
}

/// A reassessment to record.
#[derive(Debug, Clone)]
pub struct Reassess {
    pub resident: ResidentId,
    pub restraint: RestraintId,
    /// Default: now.
    pub assessed_at: Option<DateTime<Utc>>,
    pub outcome: ReassessmentOutcome,
    pub observations: Observations,
    pub key: Option<IdempotencyKey>,
}

/// A restraint to stop.
#[derive(Debug, Clone)]
pub struct Stop {
    pub resident: ResidentId,
    pub restraint: RestraintId,
    pub reason: String,
    /// Default: now.
    pub ended_at: Option<DateTime<Utc>>,
}

fn times(restraint: &Restraint) -> RestraintTimes {
    RestraintTimes {
        starts_at: restraint.starts_at,
        planned_end_at: restraint.planned_end_at,
        ended_at: restraint.ended_at,
    }
}

/// The restraint, when it is the caller's care team's and not ended (409 otherwise).
async fn not_ended(tx: &mut Tx<'_>, resident: ResidentId, id: RestraintId, field: &str) -> AppResult<Restraint> {
    let restraint = match restraints::one(tx, resident, id).await {
        // A restraint named in a body that is not the person's is a bad field; one in the path
        // is absent.
        Err(StoreError::NotFound) if field == "replaces" => {
            return Err(AppError::invalid("replaces", "is not a restraint of this person"));
        }
        other => other?,
    };
    if restraint.ended_at.is_some() {
        return Err(AppError::Conflict(format!(
            "This restraint ended ({}): a renewal is a new prescription.",
            restraint.end_kind.map_or("ended", |k| k.as_str())
        )));
    }
    Ok(restraint)
}

/// Prescribes a restraint (a coordinating physician, who is the prescriber), or records an
/// external physician's prescription (a nurse or the coordinating physician). With `replaces`,
/// renews or changes a prescription not ended: the old one ends when the new one starts.
pub async fn prescribe(app: &App, scope: &TenantScope, command: Prescribe) -> AppResult<Created<Restraint>> {
    let now = Utc::now();
    // The prescription's date cannot be after today wherever the establishment is (UTC+14 is
    // the latest calendar on Earth).
    let today = (now + chrono::Duration::hours(14)).date_naive();
    let new = NewRestraint::validate(command.prescription, now, today)?;
    let resident = command.resident;
    let action = AuditAction::RestraintPrescribe;
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let scope = tx.scope()?;
    let prescriber = match &new.external_prescriber {
        None if policy::can_prescribe_restraint(scope, &establishments) => Prescriber::Caller(scope.user_id()),
        None => return Err(refuse(&mut tx, action, resident, "prescribe a restraint").await),
        Some(_) if policy::can_reassess_restraint(scope, &establishments) => Prescriber::External,
        Some(_) => return Err(refuse(&mut tx, action, resident, "record a restraint prescription").await),
    };
    if let Some(key) = &command.key
        && let Some(replayed) = restraints::replayed(&mut tx, key).await?
    {
        tx.commit().await?;
        return Ok(replayed);
    }
    if let Some(replaced) = command.replaces {
        let old = not_ended(&mut tx, resident, replaced, "replaces").await?;
        if new.starts_at < old.starts_at {
            return Err(AppError::invalid("starts_at", "is before the start of the prescription it replaces"));
        }
    }
    match restraints::prescribe(tx, command.key.as_ref(), resident, &new, prescriber, command.replaces).await {
        Err(StoreError::NotFound) if command.replaces.is_some() => {
            Err(AppError::Conflict("The prescription to replace changed meanwhile: read it again.".into()))
        }
        other => Ok(other?),
    }
}

/// The person's restraints, newest first, with their reassessments.
pub async fn list(app: &App, scope: &TenantScope, resident: ResidentId) -> AppResult<Vec<Restraint>> {
    Ok(restraints::list(app.db().begin(scope, Mode::Write), resident).await?)
}

/// Records a reassessment (nurses, physicians). `stop` ends the restraint at the
/// reassessment; `change` leaves it in force until the prescriber replaces it. A restraint not
/// started or ended takes none (409); one expired takes only `stop` (409: it is no longer
/// prescribed — stop it, or prescribe it again).
pub async fn reassess(app: &App, scope: &TenantScope, command: Reassess) -> AppResult<Created<Reassessment>> {
    let now = Utc::now();
    let resident = command.resident;
    let action = AuditAction::RestraintReassess;
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    if !policy::can_reassess_restraint(tx.scope()?, &establishments) {
        return Err(refuse(&mut tx, action, resident, "reassess a restraint").await);
    }
    if let Some(key) = &command.key
        && let Some(replayed) = restraints::replayed_reassessment(&mut tx, key).await?
    {
        tx.commit().await?;
        return Ok(replayed);
    }
    let restraint = not_ended(&mut tx, resident, command.restraint, "restraint_id").await?;
    let times = times(&restraint);
    match times.status(now) {
        RestraintStatus::Planned => return Err(AppError::Conflict("This restraint has not started.".into())),
        RestraintStatus::Expired if command.outcome != ReassessmentOutcome::Stop => {
            return Err(AppError::Conflict(
                "This prescription has expired: stop the restraint, or prescribe it again (a new prescription).".into(),
            ));
        }
        _ => {}
    }
    let new = NewReassessment::validate(command.assessed_at, command.outcome, command.observations, &times, now)?;
    match restraints::reassess(tx, command.key.as_ref(), resident, command.restraint, &new).await {
        Err(StoreError::NotFound) => Err(AppError::Conflict("This restraint changed meanwhile: read it again.".into())),
        other => Ok(other?),
    }
}

/// Stops a restraint, with a reason (nurses, physicians). One ended stays ended (409).
pub async fn stop(app: &App, scope: &TenantScope, command: Stop) -> AppResult<Restraint> {
    let now = Utc::now();
    let resident = command.resident;
    let action = AuditAction::RestraintStop;
    let reason = dui_domain::record::free_text("reason", &command.reason, 1)?;
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    if !policy::can_reassess_restraint(tx.scope()?, &establishments) {
        return Err(refuse(&mut tx, action, resident, "stop a restraint").await);
    }
    let restraint = not_ended(&mut tx, resident, command.restraint, "restraint_id").await?;
    let ended_at = match command.ended_at {
        None => now,
        Some(at) if at > now + chrono::Duration::minutes(5) => {
            return Err(AppError::invalid("ended_at", "is in the future"));
        }
        Some(at) if at < restraint.starts_at => {
            return Err(AppError::invalid("ended_at", "is before the restraint started"));
        }
        Some(at) => at,
    };
    match restraints::stop(tx, resident, command.restraint, ended_at, &reason).await {
        Err(StoreError::NotFound) => Err(AppError::Conflict("This restraint changed meanwhile: read it again.".into())),
        other => Ok(other?),
    }
}

/// The establishment's restraints overdue for reassessment (none within 24 hours) or expired
/// (past their planned end, not stopped), of the people the caller sees and whose care team they
/// are; the people away are left out (their restraint is not applied while they are).
pub async fn overdue(
    app: &App,
    scope: &TenantScope,
    establishment: EstablishmentId,
) -> AppResult<Vec<OverdueRestraint>> {
    if !scope.resident_access().reaches(establishment) {
        return Err(AppError::NotFound);
    }
    crate::structure::get_establishment(app, scope, establishment).await?;
    let tx = app.db().begin(scope, Mode::Write);
    Ok(restraints::overdue(tx, establishment, Utc::now()).await?)
}
