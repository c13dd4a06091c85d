//! The projet personnalisé: versions, drafts, activation, reviews, the validation by the
//! person, closing, the due-for-review list of an establishment, and the PDF for the family.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use dui_domain::audit::AuditAction;
use dui_domain::care_plan::{DuePlan, PlanContent, PlanStatus, PlanVersion, Review, Validation, default_review_due};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::policy;
use dui_domain::scope::TenantScope;
use dui_domain::{EstablishmentId, PlanVersionId, ResidentId};
use dui_storage::{Mode, Reading, Tx, care_plans};

use crate::access::{acting, refuse};
use crate::{App, AppError, AppResult};

/// A first plan for the person.
#[derive(Debug, Clone)]
pub struct StartPlan {
    pub resident: ResidentId,
    pub content: PlanContent,
    /// Default: twelve months after activation.
    pub review_due_on: Option<NaiveDate>,
    pub key: Option<IdempotencyKey>,
}

/// A change of a draft.
#[derive(Debug, Clone)]
pub struct ChangeDraft {
    pub resident: ResidentId,
    pub version: PlanVersionId,
    pub expected_version: i32,
    pub content: PlanContent,
    pub review_due_on: Option<NaiveDate>,
}

/// A review of the plan in force, making its next version.
#[derive(Debug, Clone)]
pub struct ReviewPlan {
    pub resident: ResidentId,
    /// The version reviewed: the plan in force.
    pub version: PlanVersionId,
    pub review: Review,
    /// The next version's content (default: the reviewed version's, with objectives' statuses
    /// taken from the review's outcomes).
    pub content: Option<PlanContent>,
    pub review_due_on: Option<NaiveDate>,
    pub key: Option<IdempotencyKey>,
}

/// A version of the plan as a document to hand to the person and their family.
#[derive(Debug, Clone)]
pub struct PlanPdf {
    pub version: i32,
    pub bytes: Vec<u8>,
}

/// Checks content, giving ids to new objectives and actions.
fn checked(content: PlanContent) -> AppResult<PlanContent> {
    Ok(content.validate(uuid::Uuid::now_v7)?)
}

fn due(date: Option<NaiveDate>) -> AppResult<Option<NaiveDate>> {
    match date {
        Some(d) if d < Utc::now().date_naive() => Err(AppError::invalid("review_due_on", "is in the past")),
        other => Ok(other),
    }
}

/// May draw up the person's plan: the professionals responsible for it where the person is
/// supported (with an emergency opening: where the user holds those roles).
async fn may_manage(tx: &mut Tx<'_>, resident: ResidentId, action: AuditAction) -> AppResult<()> {
    let establishments = acting(tx, resident, action).await?;
    if !policy::can_validate_care(tx.scope()?, &establishments) {
        return Err(refuse(tx, action, resident, "draw up the projet personnalisé").await);
    }
    Ok(())
}

fn not_a_draft(status: PlanStatus) -> AppError {
    AppError::Conflict(format!(
        "This version is {status}: only a draft changes. Review the plan to make a new version."
    ))
}

/// Starts the person's projet personnalisé: version 1, a draft. A person has one plan: once it
/// exists, reviews make its next versions.
pub async fn start(app: &App, scope: &TenantScope, command: StartPlan) -> AppResult<Created<PlanVersion>> {
    let content = checked(command.content)?;
    let review_due_on = due(command.review_due_on)?;
    let mut tx = app.db().begin(scope, Mode::Write);
    may_manage(&mut tx, command.resident, AuditAction::CarePlanCreate).await?;
    Ok(care_plans::create_version(tx, command.key.as_ref(), command.resident, &content, review_due_on, None).await?)
}

/// Every version of the person's plan, newest first.
pub async fn versions(app: &App, scope: &TenantScope, resident: ResidentId) -> AppResult<Vec<PlanVersion>> {
    let tx = app.db().begin(scope, Mode::Write);
    Ok(care_plans::versions(tx, resident, None, Reading::Recorded(AuditAction::CarePlanRead)).await?)
}

/// One version of the person's plan.
pub async fn version(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: PlanVersionId,
) -> AppResult<PlanVersion> {
    let tx = app.db().begin(scope, Mode::Write);
    let found = care_plans::versions(tx, resident, Some(id), Reading::Recorded(AuditAction::CarePlanRead)).await?;
    found.into_iter().next().ok_or(AppError::NotFound)
}

/// Changes a draft. A validation the person gave to the draft as it was lapses when its content
/// changes: they validated another text.
pub async fn change_draft(app: &App, scope: &TenantScope, command: ChangeDraft) -> AppResult<PlanVersion> {
    let content = checked(command.content)?;
    let review_due_on = due(command.review_due_on)?;
    let mut tx = app.db().begin(scope, Mode::Write);
    may_manage(&mut tx, command.resident, AuditAction::CarePlanUpdate).await?;
    let current = care_plans::version(&mut tx, command.resident, command.version).await?;
    if current.status != PlanStatus::Draft {
        return Err(not_a_draft(current.status));
    }
    let validation = if content == current.content { current.validation.clone() } else { None };
    let change = care_plans::DraftChange { content: &content, review_due_on, validation: validation.as_ref() };
    Ok(care_plans::update_draft(tx, &current, Some(command.expected_version), change).await?)
}

/// Activates a draft the person (or their representative) validated: it becomes the plan in
/// force and the previous version is superseded.
pub async fn activate(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: PlanVersionId,
    expected_version: i32,
) -> AppResult<PlanVersion> {
    let mut tx = app.db().begin(scope, Mode::Write);
    may_manage(&mut tx, resident, AuditAction::CarePlanActivate).await?;
    let meta = care_plans::meta(&mut tx, resident, id).await?;
    if meta.status != PlanStatus::Draft {
        return Err(not_a_draft(meta.status));
    }
    if !meta.validated {
        return Err(AppError::Conflict(
            "This version is not validated: the person, or their legal representative, validates the projet \
             personnalisé before it comes into force (record their validation first)."
                .to_owned(),
        ));
    }
    let default_due = default_review_due(Utc::now().date_naive());
    Ok(care_plans::activate(tx, resident, id, Some(expected_version), default_due).await?)
}

/// Records the validation of a draft or of the plan in force by the person or their legal
/// representative: who, when, how.
pub async fn record_validation(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: PlanVersionId,
    validation: Validation,
) -> AppResult<PlanVersion> {
    let mut tx = app.db().begin(scope, Mode::Write);
    may_manage(&mut tx, resident, AuditAction::CarePlanValidate).await?;
    let current = care_plans::version(&mut tx, resident, id).await?;
    if !matches!(current.status, PlanStatus::Draft | PlanStatus::Active) {
        return Err(AppError::Conflict(format!(
            "This version is {}: it is history, it is not validated any more.",
            current.status
        )));
    }
    // The person validates a version that exists: between the day it was written and today, as
    // days go in the establishment's time zone.
    let local =
        dui_storage::care_tasks::local_times(&mut tx, current.establishment_id, &[current.created_at, Utc::now()])
            .await?;
    let (Some(written), Some(today)) = (local.first().map(|t| t.date()), local.get(1).map(|t| t.date())) else {
        return Err(AppError::NotFound);
    };
    let validation = validation.validate(today)?;
    if validation.on < written {
        return Err(AppError::invalid("on", &format!("is before this version was written ({written})")));
    }
    Ok(care_plans::validate(tx, &current, &validation).await?)
}

/// Closes the plan in force (support ended).
pub async fn close(app: &App, scope: &TenantScope, resident: ResidentId, id: PlanVersionId) -> AppResult<PlanVersion> {
    let mut tx = app.db().begin(scope, Mode::Write);
    may_manage(&mut tx, resident, AuditAction::CarePlanClose).await?;
    let meta = care_plans::meta(&mut tx, resident, id).await?;
    if meta.status != PlanStatus::Active {
        return Err(AppError::Conflict(format!("Only the plan in force is closed; this version is {}.", meta.status)));
    }
    Ok(care_plans::close(tx, resident, id).await?)
}

/// Reviews the plan in force: makes the next version, a draft holding the review, to be
/// activated once agreed with the person.
pub async fn review(app: &App, scope: &TenantScope, command: ReviewPlan) -> AppResult<Created<PlanVersion>> {
    let review_due_on = due(command.review_due_on)?;
    if command.review.date > Utc::now().date_naive() {
        return Err(AppError::invalid("review.date", "is in the future"));
    }
    let mut tx = app.db().begin(scope, Mode::Write);
    may_manage(&mut tx, command.resident, AuditAction::CarePlanReview).await?;
    let reviewed = care_plans::version(&mut tx, command.resident, command.version).await?;
    if reviewed.status != PlanStatus::Active {
        return Err(AppError::Conflict(format!(
            "Only the plan in force is reviewed; this version is {}.",
            reviewed.status
        )));
    }
    let review = command.review;
    let mut content = command.content.unwrap_or_else(|| {
        let mut next = reviewed.content.clone();
        for objective in &mut next.objectives {
            if let Some(outcome) = review.outcomes.iter().find(|o| Some(o.objective_id) == objective.id) {
                objective.status = outcome.status;
            }
        }
        next
    });
    content.review = Some(review);
    let content = checked(content)?;
    let key = command.key.as_ref();
    Ok(care_plans::create_version(tx, key, command.resident, &content, review_due_on, Some(command.version)).await?)
}

/// The plans of an establishment due for review: past their review date, or in force for
/// twelve months. Soonest first, with the people's names.
pub async fn due_for_review(app: &App, scope: &TenantScope, establishment: EstablishmentId) -> AppResult<Vec<DuePlan>> {
    let access = scope.resident_access();
    if !(access.all || access.full.contains(&establishment)) {
        return Err(AppError::NotFound);
    }
    crate::structure::get_establishment(app, scope, establishment).await?;
    let tx = app.db().begin(scope, Mode::Write);
    Ok(care_plans::due_for_review(tx, establishment, Utc::now().date_naive()).await?)
}

/// A version of the plan as a PDF, to hand to the person and their family. Printing is recorded
/// as one reading of the record.
pub async fn pdf(app: &App, scope: &TenantScope, resident: ResidentId, id: PlanVersionId) -> AppResult<PlanPdf> {
    let tx = app.db().begin(scope, Mode::Write);
    let plan = care_plans::versions(tx, resident, Some(id), Reading::Recorded(AuditAction::CarePlanPrint))
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound)?;
    let mut tx = app.db().begin(scope, Mode::Read);
    let person = dui_storage::residents::identity(&mut tx, resident).await?;
    tx.commit().await?;
    let establishment = crate::structure::get_establishment(app, scope, plan.establishment_id).await?;
    let mut professionals = HashMap::new();
    for user in plan.content.actions.iter().filter_map(|a| a.who.user_id) {
        if let std::collections::hash_map::Entry::Vacant(entry) = professionals.entry(user)
            && let Ok(name) = crate::people::professional_name(app, scope, user).await
        {
            entry.insert(name);
        }
    }
    let document = dui_render::PlanDocument {
        establishment_name: &establishment.name,
        person: &person,
        plan: &plan,
        professionals: &professionals,
        printed_at: Utc::now(),
    };
    Ok(PlanPdf { version: plan.version, bytes: dui_render::render_plan(&document) })
}
