//! Wounds and pressure ulcers: recorded when found, assessed over time, dressed according to
//! their care protocol (whose dressings are tasks of the day: see [`crate::care_tasks`]), closed
//! when healed; and an establishment's open pressure ulcers, the quality indicator. Recorded by
//! those who record the care team's data, read by those who read it.
//!
//! The hand-over is told of a wound found and of one getting worse (a higher stage, signs of
//! infection), to the care team.

use chrono::{NaiveDate, Utc};
use dui_domain::audit::AuditAction;
use dui_domain::handover::{HandoverEventKind, NewHandoverEvent};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::policy;
use dui_domain::record::NoteScope;
use dui_domain::scope::TenantScope;
use dui_domain::wound::{
    DressingProtocol, NewWound, NewWoundAssessment, PressureUlcerReport, Wound, WoundAssessment, WoundAssessmentInput,
    WoundFile, WoundInput, WoundOutcome, WoundProtocol,
};
use dui_domain::{EstablishmentId, ResidentId, WoundId};
use dui_storage::wounds::{self, Listed};
use dui_storage::{Mode, StoreError, Tx, stays};

use crate::access::may_record_care;
use crate::{App, AppError, AppResult};

/// A wound found.
#[derive(Debug, Clone)]
pub struct RecordWound {
    pub resident: ResidentId,
    pub wound: WoundInput,
    pub key: Option<IdempotencyKey>,
}

/// An assessment of a wound.
#[derive(Debug, Clone)]
pub struct AssessWound {
    pub resident: ResidentId,
    pub wound: WoundId,
    pub assessment: WoundAssessmentInput,
    pub key: Option<IdempotencyKey>,
}

/// A new version of a wound's care protocol.
#[derive(Debug, Clone)]
pub struct SetProtocol {
    pub resident: ResidentId,
    pub wound: WoundId,
    pub protocol: DressingProtocol,
    pub key: Option<IdempotencyKey>,
}

/// A wound healed, or no longer followed here.
#[derive(Debug, Clone, Copy)]
pub struct CloseWound {
    pub resident: ResidentId,
    pub wound: WoundId,
    /// Default: today.
    pub closed_on: Option<NaiveDate>,
    pub outcome: WoundOutcome,
}

/// An open wound of the person that the caller reads, and its latest stage.
async fn open_wound(
    tx: &mut Tx<'_>,
    resident: ResidentId,
    id: WoundId,
) -> AppResult<(Wound, Option<dui_domain::wound::PressureUlcerStage>)> {
    let (wound, stage) = wounds::one(tx, resident, id).await?;
    if wound.closed_at.is_some() {
        return Err(AppError::Conflict("This wound is closed: record a new one if it reopened.".to_owned()));
    }
    Ok((wound, stage))
}

/// What the hand-over says of a wound (`source_type`: the wound, or its assessment), to the care
/// team.
fn told(source_type: &'static str, summary: String) -> NewHandoverEvent {
    NewHandoverEvent {
        kind: HandoverEventKind::Wound,
        source_type,
        scope: NoteScope::CareTeam,
        summary,
        occurred_at: Utc::now(),
    }
}

/// Records a wound found: kind, site, origin (acquired here or present on admission), the stage
/// of a pressure ulcer. The hand-over is told.
pub async fn create(app: &App, scope: &TenantScope, command: RecordWound) -> AppResult<Created<Wound>> {
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record_care(&mut tx, command.resident, AuditAction::WoundCreate).await?;
    let today = stays::today(&mut tx, command.resident).await?;
    let new = NewWound::validate(command.wound, today)?;
    let event = told("wound", new.handover_summary());
    Ok(wounds::create(tx, command.key.as_ref(), command.resident, &new, Some(&event)).await?)
}

/// The person's wounds (open ones by default), each with its assessments, its protocols and its
/// size over time. Empty for those who do not read the care team's data.
pub async fn list(app: &App, scope: &TenantScope, resident: ResidentId, which: Listed) -> AppResult<Vec<WoundFile>> {
    let tx = app.db().begin(scope, Mode::Write);
    Ok(wounds::list(tx, resident, which).await?)
}

/// Records an assessment of an open wound. A worse stage, or signs of infection, are told at the
/// hand-over.
pub async fn assess(app: &App, scope: &TenantScope, command: AssessWound) -> AppResult<Created<WoundAssessment>> {
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record_care(&mut tx, command.resident, AuditAction::WoundAssess).await?;
    let (wound, stage) = open_wound(&mut tx, command.resident, command.wound).await?;
    let today = stays::today(&mut tx, command.resident).await?;
    let new = NewWoundAssessment::validate(command.assessment, &wound, today)?;
    let event = new.worsening(&wound, stage).map(|summary| told("wound_assessment", summary));
    Ok(wounds::assess(tx, command.key.as_ref(), command.resident, command.wound, &new, event.as_ref()).await?)
}

/// Sets the care protocol of an open wound: a new version, in force from now (the previous one
/// ends). Its dressings are tasks of the day from then on.
pub async fn set_protocol(app: &App, scope: &TenantScope, command: SetProtocol) -> AppResult<Created<WoundProtocol>> {
    let protocol = command.protocol.validate()?;
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record_care(&mut tx, command.resident, AuditAction::WoundProtocol).await?;
    open_wound(&mut tx, command.resident, command.wound).await?;
    match wounds::set_protocol(tx, command.key.as_ref(), command.resident, command.wound, &protocol).await {
        // Closed meanwhile.
        Err(StoreError::NotFound) => Err(AppError::Conflict("This wound was closed meanwhile.".to_owned())),
        other => Ok(other?),
    }
}

/// Closes a wound: healed, the person left with it, deceased, or recorded by mistake. Its
/// protocol ends with it.
pub async fn close(app: &App, scope: &TenantScope, command: CloseWound) -> AppResult<Wound> {
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record_care(&mut tx, command.resident, AuditAction::WoundClose).await?;
    let (wound, _) = open_wound(&mut tx, command.resident, command.wound).await?;
    let today = stays::today(&mut tx, command.resident).await?;
    let (on, outcome) = dui_domain::wound::closure(&wound, command.closed_on, command.outcome, today)?;
    match wounds::close(tx, command.resident, command.wound, on, outcome).await {
        Err(StoreError::NotFound) => Err(AppError::Conflict("This wound was closed meanwhile.".to_owned())),
        other => Ok(other?),
    }
}

/// The open pressure ulcers of the people staying in an establishment today, counted (the
/// quality indicator: those acquired in the establishment apart), and listed for those who read
/// the care team's data there. Directors get the counts.
pub async fn pressure_ulcers(
    app: &App,
    scope: &TenantScope,
    establishment: EstablishmentId,
) -> AppResult<PressureUlcerReport> {
    if !scope.resident_access().reaches(establishment) {
        return Err(AppError::NotFound);
    }
    crate::structure::get_establishment(app, scope, establishment).await?;
    if !policy::can_read_care_indicators(scope, establishment) {
        return Err(AppError::Forbidden(
            "Your roles do not allow you to read this establishment's care indicators.".to_owned(),
        ));
    }
    let tx = app.db().begin(scope, Mode::Write);
    Ok(wounds::pressure_ulcers(tx, establishment).await?)
}
