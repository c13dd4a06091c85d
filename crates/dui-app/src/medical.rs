//! The medical file: history and problems and vaccinations, recorded and read by the health
//! professionals (the medical scope: the coordinating physician, the nurses); the physicians who
//! follow the person, recorded and read by the care team. Resolved, ended, flagged when entered
//! in error; never deleted.

use chrono::{NaiveDate, Utc};
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::medical::{
    MedicalFile, MedicalProblem, NewPhysician, NewProblem, NewVaccination, Physician, PhysicianInput, PhysicianRole,
    ProblemInput, Vaccination, VaccinationInput, check_resolved_on, check_until,
};
use dui_domain::policy;
use dui_domain::record::free_text;
use dui_domain::scope::TenantScope;
use dui_domain::{EstablishmentId, MedicalProblemId, PhysicianId, ResidentId, VaccinationId};
use dui_storage::medical::{self, Entry};
use dui_storage::{Mode, Tx};

use crate::access::{acting, changeable, refuse};
use crate::{App, AppError, AppResult};

/// Today in the calendar of the person's establishment: what "not in the future" means for the
/// dates of the file (a vaccination given at 00:30 in Paris is given today, not tomorrow).
async fn today(tx: &mut Tx<'_>, resident: ResidentId) -> AppResult<NaiveDate> {
    Ok(dui_storage::stays::today(tx, resident).await?)
}

/// A history entry or problem to record.
#[derive(Debug, Clone)]
pub struct RecordProblem {
    pub resident: ResidentId,
    pub problem: ProblemInput,
    pub key: Option<IdempotencyKey>,
}

/// A vaccination to record.
#[derive(Debug, Clone)]
pub struct RecordVaccination {
    pub resident: ResidentId,
    pub vaccination: VaccinationInput,
    pub key: Option<IdempotencyKey>,
}

/// A physician to record.
#[derive(Debug, Clone)]
pub struct RecordPhysician {
    pub resident: ResidentId,
    pub physician: PhysicianInput,
    pub key: Option<IdempotencyKey>,
}

/// What those who are not health professionals of the team may not do.
const CHANGE: &str = "change the medical file";

fn medical(scope: &TenantScope, establishments: &[EstablishmentId]) -> bool {
    policy::can_record_medical(scope, establishments)
}

/// Records an entry of the medical history or an active problem: by the health professionals
/// where the person is supported. A new active problem is told to the medical scope's hand-over.
pub async fn record_problem(
    app: &App,
    scope: &TenantScope,
    command: RecordProblem,
) -> AppResult<Created<MedicalProblem>> {
    let (resident, action) = (command.resident, AuditAction::MedicalProblemCreate);
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    if !medical(scope, &establishments) {
        return Err(refuse(&mut tx, action, resident, "record in the medical file").await);
    }
    let new = NewProblem::validate(command.problem, today(&mut tx, resident).await?)?;
    let event = dui_domain::handover::medical_problem(&new, Utc::now());
    Ok(medical::record_problem(tx, command.key.as_ref(), resident, &new, event.as_ref()).await?)
}

/// Resolves a problem (on a day given, or today): it stays, resolved, with who and when.
pub async fn resolve_problem(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: MedicalProblemId,
    resolved_on: Option<NaiveDate>,
) -> AppResult<MedicalProblem> {
    let action = AuditAction::MedicalProblemResolve;
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let found = medical::problem_meta(&mut tx, resident, id).await;
    let meta = changeable(&mut tx, action, resident, found, medical(scope, &establishments), CHANGE).await?;
    if meta.in_error {
        return Err(AppError::Conflict("This entry was entered in error.".to_owned()));
    }
    if meta.closed {
        return Err(AppError::Conflict("This problem is resolved already.".to_owned()));
    }
    let resolved_on = check_resolved_on(resolved_on, today(&mut tx, resident).await?)?;
    Ok(medical::resolve_problem(tx, resident, id, resolved_on).await?)
}

/// Flags a history entry or problem as entered in error: it stays, flagged, with who, when and
/// why (a correction is recorded anew).
pub async fn flag_problem(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: MedicalProblemId,
    reason: &str,
) -> AppResult<MedicalProblem> {
    let reason = free_text("reason", reason, 3)?;
    let action = AuditAction::MedicalProblemFlagError;
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let found = medical::problem_meta(&mut tx, resident, id).await;
    if changeable(&mut tx, action, resident, found, medical(scope, &establishments), CHANGE).await?.in_error {
        return Err(AppError::Conflict("This entry is flagged as entered in error already.".to_owned()));
    }
    Ok(medical::flag_problem(tx, resident, id, &reason).await?)
}

/// Records a vaccination: by the health professionals where the person is supported.
pub async fn record_vaccination(
    app: &App,
    scope: &TenantScope,
    command: RecordVaccination,
) -> AppResult<Created<Vaccination>> {
    let (resident, action) = (command.resident, AuditAction::VaccinationCreate);
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    if !medical(scope, &establishments) {
        return Err(refuse(&mut tx, action, resident, "record in the medical file").await);
    }
    let new = NewVaccination::validate(command.vaccination, today(&mut tx, resident).await?)?;
    Ok(medical::record_vaccination(tx, command.key.as_ref(), resident, &new).await?)
}

/// Flags a vaccination as entered in error: it stays, flagged, with who, when and why.
pub async fn flag_vaccination(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: VaccinationId,
    reason: &str,
) -> AppResult<Vaccination> {
    let reason = free_text("reason", reason, 3)?;
    let action = AuditAction::VaccinationFlagError;
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let found = medical::vaccination_meta(&mut tx, resident, id).await;
    if changeable(&mut tx, action, resident, found, medical(scope, &establishments), CHANGE).await?.in_error {
        return Err(AppError::Conflict("This vaccination is flagged as entered in error already.".to_owned()));
    }
    Ok(medical::flag_vaccination(tx, resident, id, &reason).await?)
}

/// Records a physician of the person: by those who record care data where the person is
/// supported. One attending physician at a time: the one in force is ended first (409 otherwise).
pub async fn record_physician(
    app: &App,
    scope: &TenantScope,
    command: RecordPhysician,
) -> AppResult<Created<Physician>> {
    let (resident, action) = (command.resident, AuditAction::PhysicianCreate);
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    if !policy::can_record_care_data(scope, &establishments) {
        return Err(refuse(&mut tx, action, resident, "record a physician").await);
    }
    let new = NewPhysician::validate(command.physician, today(&mut tx, resident).await?)?;
    if new.role == PhysicianRole::Attending && medical::attending_in_force(&mut tx, resident).await? {
        return Err(AppError::Conflict(
            "The person has an attending physician in force: end it first (POST .../physicians/{id}/end).".to_owned(),
        ));
    }
    Ok(medical::record_physician(tx, command.key.as_ref(), resident, &new).await?)
}

/// Ends a physician's following of the person (on a day given, or today).
pub async fn end_physician(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: PhysicianId,
    until: Option<NaiveDate>,
) -> AppResult<Physician> {
    let action = AuditAction::PhysicianEnd;
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let found = medical::physician_meta(&mut tx, resident, id).await;
    let may = policy::can_record_care_data(scope, &establishments);
    let meta = changeable(&mut tx, action, resident, found, may, "change the person's physicians").await?;
    if meta.in_error {
        return Err(AppError::Conflict(
            "This physician was entered in error: they never followed the person.".to_owned(),
        ));
    }
    if meta.closed {
        return Err(AppError::Conflict("This physician no longer follows the person.".to_owned()));
    }
    let until = check_until(until, meta.since, today(&mut tx, resident).await?)?;
    Ok(medical::end_physician(tx, resident, id, until).await?)
}

/// Flags a physician recorded by mistake (the wrong doctor, the wrong person) as entered in
/// error: it stays, flagged, with who, when and why, and is no longer in force. By those who
/// record the person's physicians.
pub async fn flag_physician(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: PhysicianId,
    reason: &str,
) -> AppResult<Physician> {
    let reason = free_text("reason", reason, 3)?;
    let action = AuditAction::PhysicianFlagError;
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let found = medical::physician_meta(&mut tx, resident, id).await;
    let may = policy::can_record_care_data(scope, &establishments);
    if changeable(&mut tx, action, resident, found, may, "change the person's physicians").await?.in_error {
        return Err(AppError::Conflict("This physician is flagged as entered in error already.".to_owned()));
    }
    Ok(medical::flag_physician(tx, resident, id, &reason).await?)
}

/// The medical file as the caller may read it: the history, problems and vaccinations for the
/// health professionals, the physicians for the care team; empty parts otherwise.
pub async fn read(app: &App, scope: &TenantScope, resident: ResidentId) -> AppResult<MedicalFile> {
    let entries = medical::read(app.db().begin(scope, Mode::Snapshot), resident).await?;
    let (mut problems, mut vaccinations, mut physicians) = (Vec::new(), Vec::new(), Vec::new());
    for entry in entries {
        match entry {
            Entry::Problem(p) => problems.push(p),
            Entry::Vaccination(v) => vaccinations.push(v),
            Entry::Physician(d) => physicians.push(d),
        }
    }
    Ok(MedicalFile::of(problems, vaccinations, physicians))
}
