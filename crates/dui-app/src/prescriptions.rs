//! Prescriptions: recorded (a first version), changed (a whole new version that supersedes the
//! one in force) and stopped (with a reason) by the health professionals of the team — the
//! physicians and nurses; read by the care team, who give the drugs (the care assistants help
//! the person take them). Each version's lines name drugs of the referential, kept as they were
//! described then, and carry the safety flags computed now: an allergy in force matched, a
//! substance prescribed twice.

use chrono::{NaiveDate, Utc};
use dui_domain::audit::AuditAction;
use dui_domain::handover::{self, HandoverEventKind};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::policy;
use dui_domain::prescription::{
    CheckedPrescription, NewPrescription, Prescription, PrescriptionInput, PrescriptionStatus, PrescriptionVersion,
    check_stopped_on, denominations,
};
use dui_domain::record::free_text;
use dui_domain::scope::TenantScope;
use dui_domain::{PrescriptionId, PrescriptionVersionId, ResidentId};
use dui_storage::prescriptions::{self as store, Recording};
use dui_storage::{Mode, Tx};

use crate::access::{acting, changeable, refuse};
use crate::{App, AppError, AppResult};

/// A prescription to record: its first version.
#[derive(Debug, Clone)]
pub struct CreatePrescription {
    pub resident: ResidentId,
    pub prescription: PrescriptionInput,
    pub key: Option<IdempotencyKey>,
}

/// A new version of a prescription, replacing the version in force.
#[derive(Debug, Clone)]
pub struct RevisePrescription {
    pub resident: ResidentId,
    pub id: PrescriptionId,
    /// The version it replaces: the one in force (409 otherwise).
    pub replaces: PrescriptionVersionId,
    pub prescription: PrescriptionInput,
    pub key: Option<IdempotencyKey>,
}

/// A stop of a prescription.
#[derive(Debug, Clone)]
pub struct StopPrescription {
    pub resident: ResidentId,
    pub id: PrescriptionId,
    pub reason: String,
    /// The day (default: today).
    pub stopped_on: Option<NaiveDate>,
}

const PRESCRIBE: &str = "prescribe";

/// Checks a version as entered and completes it: the drugs looked up in the referential, the
/// safety flags computed against the person's allergies in force and their other prescriptions
/// in force.
async fn complete(
    tx: &mut Tx<'_>,
    resident: ResidentId,
    input: PrescriptionInput,
    lineage: Option<PrescriptionId>,
) -> AppResult<NewPrescription> {
    let today = dui_storage::stays::today(tx, resident).await?;
    let checked = CheckedPrescription::validate(input, today)?;
    let cis: Vec<String> = checked.lines.iter().map(|line| line.cis.clone()).collect();
    let drugs = dui_storage::drugs::prescribed(tx, &cis).await?;
    let allergies = dui_storage::alerts::allergies_in_force(tx, resident).await?;
    let others = store::others_in_force(tx, resident, lineage).await?;
    Ok(NewPrescription::of(checked, drugs, &allergies, &others)?)
}

/// Records a prescription (its first version, in force): by the physicians and nurses where the
/// person is supported. Told to the care team's hand-over.
pub async fn create(
    app: &App,
    scope: &TenantScope,
    command: CreatePrescription,
) -> AppResult<Created<PrescriptionVersion>> {
    let (resident, action) = (command.resident, AuditAction::PrescriptionCreate);
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    if !policy::can_record_medical(scope, &establishments) {
        return Err(refuse(&mut tx, action, resident, PRESCRIBE).await);
    }
    let new = complete(&mut tx, resident, command.prescription, None).await?;
    let event = handover::prescription(HandoverEventKind::PrescriptionNew, &new.denominations(), None, Utc::now());
    let recording = Recording { new: &new, event: &event };
    Ok(store::create(tx, command.key.as_ref(), resident, recording).await?)
}

/// Changes a prescription: a whole new version that supersedes the one it replaces, if that one
/// is still in force (409 otherwise: someone changed or stopped it meanwhile). The old version
/// stays, superseded. A retry with the same idempotency key answers the version made.
pub async fn revise(
    app: &App,
    scope: &TenantScope,
    command: RevisePrescription,
) -> AppResult<Created<PrescriptionVersion>> {
    let (resident, action) = (command.resident, AuditAction::PrescriptionRevise);
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let found = store::lineage(&mut tx, resident, command.id).await;
    let may = policy::can_record_medical(scope, &establishments);
    let versions = changeable(&mut tx, action, resident, found, may, PRESCRIBE).await?;
    if let Some(replayed) = store::replayed(&mut tx, command.key.as_ref()).await? {
        tx.commit().await?;
        return Ok(replayed);
    }
    let in_force = versions.iter().find(|v| v.status == PrescriptionStatus::Active);
    match in_force {
        None => return Err(AppError::Conflict("This prescription is stopped: record a new one.".to_owned())),
        Some(v) if v.id != command.replaces => {
            return Err(AppError::Conflict(format!(
                "The version in force is version {} ({}): read the prescription again, then redo your change.",
                v.version, v.id
            )));
        }
        Some(_) => {}
    }
    let new = complete(&mut tx, resident, command.prescription, Some(command.id)).await?;
    let event = handover::prescription(HandoverEventKind::PrescriptionChanged, &new.denominations(), None, Utc::now());
    let recording = Recording { new: &new, event: &event };
    Ok(store::revise(tx, command.key.as_ref(), resident, command.id, command.replaces, recording).await?)
}

/// Stops a prescription (on a day given, or today) with a reason: its version in force ends,
/// stopped; nothing is deleted. Told to the care team's hand-over.
pub async fn stop(app: &App, scope: &TenantScope, command: StopPrescription) -> AppResult<PrescriptionVersion> {
    let reason = free_text("reason", &command.reason, 3)?;
    let (resident, action) = (command.resident, AuditAction::PrescriptionStop);
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let found = store::lineage(&mut tx, resident, command.id).await;
    let may = policy::can_record_medical(scope, &establishments);
    let versions = changeable(&mut tx, action, resident, found, may, PRESCRIBE).await?;
    let Some(current) = versions.into_iter().find(|v| v.status == PrescriptionStatus::Active) else {
        return Err(AppError::Conflict("This prescription is stopped already.".to_owned()));
    };
    let today = dui_storage::stays::today(&mut tx, resident).await?;
    let stopped_on = check_stopped_on(command.stopped_on, current.prescribed_on, today)?;
    let event = handover::prescription(
        HandoverEventKind::PrescriptionStopped,
        &denominations(&current.lines),
        Some(&reason),
        Utc::now(),
    );
    Ok(store::stop(tx, &current, stopped_on, &reason, &event).await?)
}

/// The person's prescriptions the caller may read: the versions in force, or with `all` the
/// latest version of each (stopped ones included), newest first.
pub async fn list(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    all: bool,
) -> AppResult<Vec<PrescriptionVersion>> {
    Ok(store::list(app.db().begin(scope, Mode::Snapshot), resident, all, None).await?)
}

/// One prescription with every version, newest first.
pub async fn get(app: &App, scope: &TenantScope, resident: ResidentId, id: PrescriptionId) -> AppResult<Prescription> {
    let versions = store::list(app.db().begin(scope, Mode::Snapshot), resident, true, Some(id)).await?;
    let status = versions.first().ok_or(AppError::NotFound)?.status;
    Ok(Prescription { id, status, versions })
}
