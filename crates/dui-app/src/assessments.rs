//! Needs assessments of a person: drafts, validation (then immutable), corrections that
//! supersede, and the GIR history.

use chrono::NaiveDate;
use dui_domain::assessment::instrument;
use dui_domain::assessment::recorded::{Assessment, AssessmentStatus, GirPoint};
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::policy;
use dui_domain::record::NoteScope;
use dui_domain::scope::TenantScope;
use dui_domain::{AssessmentId, ResidentId};
use dui_storage::assessments::{self, NewAssessment};
use dui_storage::{Mode, Reading, StoreError};

use crate::access::{acting, refuse};
use crate::{App, AppError, AppResult};

/// An assessment to record: a draft, or with `supersedes` the correction of a validated one.
#[derive(Debug, Clone)]
pub struct RecordAssessment {
    pub resident: ResidentId,
    /// `aggir`, `mna`, `braden`...
    pub instrument: String,
    /// Default: the instrument's latest version.
    pub version: Option<String>,
    /// Who may read it (default: the care team).
    pub scope: Option<NoteScope>,
    pub assessed_on: NaiveDate,
    pub answers: serde_json::Value,
    pub supersedes: Option<AssessmentId>,
    pub key: Option<IdempotencyKey>,
}

/// A change of a draft.
#[derive(Debug, Clone)]
pub struct ChangeAssessment {
    pub resident: ResidentId,
    pub id: AssessmentId,
    pub expected_version: i32,
    pub assessed_on: NaiveDate,
    pub answers: serde_json::Value,
}

/// The day of an assessment, not after today in the person's establishment's calendar (at 00:30
/// in Paris, UTC's day is still yesterday).
async fn assessed_on(tx: &mut dui_storage::Tx<'_>, resident: ResidentId, date: NaiveDate) -> AppResult<NaiveDate> {
    if date > dui_storage::stays::today(tx, resident).await? {
        return Err(AppError::invalid("assessed_on", "is in the future"));
    }
    Ok(date)
}

fn refused_change(error: StoreError) -> AppError {
    match error {
        StoreError::Invalid { constraint } if constraint == "assessments_change_refused" => AppError::Conflict(
            "A validated assessment cannot change: record a correction that supersedes it.".to_owned(),
        ),
        other => other.into(),
    }
}

/// Records a draft assessment (or the correction of a validated one).
pub async fn record(app: &App, scope: &TenantScope, command: RecordAssessment) -> AppResult<Created<Assessment>> {
    let instrument = instrument(&command.instrument, command.version.as_deref()).ok_or_else(|| {
        AppError::invalid(
            if command.version.is_some() { "version" } else { "instrument" },
            "is not an instrument this server knows (see /api/v1/instruments)",
        )
    })?;
    let evaluation = instrument.evaluate(&command.answers)?;
    let note_scope = command.scope.unwrap_or(NoteScope::CareTeam);
    let (resident, action) = (command.resident, AuditAction::AssessmentCreate);
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let assessed_on = assessed_on(&mut tx, resident, command.assessed_on).await?;
    if !policy::can_assess(scope, &establishments) || !policy::can_write_note(scope, &establishments, note_scope) {
        return Err(refuse(&mut tx, action, resident, "record this assessment").await);
    }
    if let Some(original) = command.supersedes {
        let meta = assessments::meta(&mut tx, resident, original).await.map_err(|e| match e {
            StoreError::NotFound => AppError::invalid("supersedes", "is not an assessment of this person"),
            other => other.into(),
        })?;
        if meta.instrument != instrument.code || meta.status != AssessmentStatus::Validated {
            return Err(AppError::invalid("supersedes", "must be a validated assessment with the same instrument"));
        }
        if meta.superseded {
            return Err(AppError::Conflict(
                "This assessment was corrected already: correct the correction.".to_owned(),
            ));
        }
    }
    let new = NewAssessment { evaluation, scope: note_scope, assessed_on, supersedes: command.supersedes };
    Ok(assessments::create(tx, command.key.as_ref(), resident, &new).await?)
}

/// A person's assessments the caller may read (of one instrument), newest first.
pub async fn list(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    instrument: Option<&str>,
) -> AppResult<Vec<Assessment>> {
    // A filter that names no instrument matches nothing. One holding a NUL character must not
    // reach PostgreSQL, which refuses such a text (and the request failed with a 500): the
    // empty code matches nothing just as well.
    let instrument = instrument.map(|code| if code.contains('\0') { "" } else { code });
    let tx = app.db().begin(scope, Mode::Write);
    Ok(assessments::list(tx, resident, instrument, None, Reading::Recorded(AuditAction::AssessmentRead)).await?)
}

/// One assessment the caller may read.
pub async fn get(app: &App, scope: &TenantScope, resident: ResidentId, id: AssessmentId) -> AppResult<Assessment> {
    let tx = app.db().begin(scope, Mode::Write);
    let found = assessments::list(tx, resident, None, Some(id), Reading::Recorded(AuditAction::AssessmentRead)).await?;
    found.into_iter().next().ok_or(AppError::NotFound)
}

/// Changes a draft (answers, date). A validated assessment is a conflict: it is corrected by a
/// new assessment that supersedes it.
pub async fn change(app: &App, scope: &TenantScope, command: ChangeAssessment) -> AppResult<Assessment> {
    let (resident, id, action) = (command.resident, command.id, AuditAction::AssessmentUpdate);
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let current = assessments::one(&mut tx, resident, id).await?;
    if !policy::can_assess(scope, &establishments) {
        return Err(refuse(&mut tx, action, resident, "change assessments").await);
    }
    if current.status == AssessmentStatus::Validated {
        return Err(refused_change(StoreError::Invalid { constraint: "assessments_change_refused".to_owned() }));
    }
    let instrument = instrument(&current.instrument, Some(&current.instrument_version)).ok_or(AppError::NotFound)?;
    let evaluation = instrument.evaluate(&command.answers)?;
    let assessed_on = assessed_on(&mut tx, resident, command.assessed_on).await?;
    assessments::update(tx, resident, id, Some(command.expected_version), &evaluation, assessed_on)
        .await
        .map_err(refused_change)
}

/// Validates a draft: from then on it cannot change, and it counts (a validated AGGIR enters the
/// GIR history; a correction then supersedes the assessment it corrects).
pub async fn validate(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: AssessmentId,
    expected_version: i32,
) -> AppResult<Assessment> {
    let action = AuditAction::AssessmentValidate;
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let meta = assessments::meta(&mut tx, resident, id).await?;
    if meta.instrument == "aggir" {
        // The GIR is validated by the roles the tenant chose (the coordinating physician by
        // default), not by whoever assessed.
        let settings = dui_storage::settings::get(&mut tx).await?;
        if !policy::can_validate_gir(scope, &establishments, &settings.aggir_validators) {
            let roles: Vec<&str> = settings.aggir_validators.iter().map(|r| r.as_str()).collect();
            let what = format!("validate a GIR (in this organisation: {})", roles.join(", "));
            return Err(refuse(&mut tx, action, resident, &what).await);
        }
    } else if !policy::can_validate_care(scope, &establishments) {
        return Err(refuse(&mut tx, action, resident, "validate assessments").await);
    }
    if meta.status == AssessmentStatus::Validated {
        return Err(AppError::Conflict("This assessment is validated already.".to_owned()));
    }
    assessments::validate(tx, resident, id, Some(expected_version)).await.map_err(refused_change)
}

/// The person's GIR over time: validated AGGIR assessments, corrections in place of what they
/// correct, oldest first.
pub async fn gir_history(app: &App, scope: &TenantScope, resident: ResidentId) -> AppResult<Vec<GirPoint>> {
    Ok(assessments::gir_history(app.db().begin(scope, Mode::Write), resident).await?)
}
