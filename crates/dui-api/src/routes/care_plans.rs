//! The projet personnalisé over HTTP: versions, drafts, activation, reviews, the validation by
//! the person, closing, and the due-for-review list of an establishment.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use dui_domain::care_plan::{DuePlan, PlanContent, PlanStatus, PlanVersion, Review, Validation, default_review_due};
use dui_domain::policy;
use dui_domain::{EstablishmentId, PlanVersionId, ResidentId, ValidationErrors};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::TenantAuth;
use crate::extract::{
    CreateRequest, IdempotencyHeader, IfMatch, IfMatchHeader, Json, Path, created_versioned, with_etag,
};
use crate::problem::{ApiError, Problem};
use crate::routes::residents::{acting_establishments, refuse};
use crate::state::AppState;

/// Checks content, giving ids to new objectives and actions.
fn checked(content: PlanContent) -> Result<PlanContent, ApiError> {
    Ok(content.validate(uuid::Uuid::now_v7)?)
}

fn due(date: Option<NaiveDate>) -> Result<Option<NaiveDate>, ApiError> {
    match date {
        Some(d) if d < Utc::now().date_naive() => {
            Err(ValidationErrors::single("review_due_on", "is in the past").into())
        }
        other => Ok(other),
    }
}

/// May draw up the person's plan: the professionals responsible for it where the person is
/// supported (with an emergency opening: where the user holds those roles).
async fn may_manage(
    state: &AppState,
    scope: &dui_domain::scope::TenantScope,
    resident: ResidentId,
    action: &str,
) -> Result<(), ApiError> {
    let establishments = acting_establishments(state, scope, resident, action).await?;
    if !policy::can_validate_care(scope, &establishments) {
        return Err(refuse(state, scope, action, resident, "draw up the projet personnalisé").await);
    }
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePlan {
    pub content: PlanContent,
    /// Default: twelve months after activation.
    pub review_due_on: Option<NaiveDate>,
}

/// Starts the person's projet personnalisé: version 1, a draft. A person has one plan: once it
/// exists, reviews make its next versions (409 otherwise).
#[utoipa::path(post, path = "/residents/{resident_id}/care-plan", tag = "care plans",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreatePlan,
    responses((status = 201, body = PlanVersion), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_plan(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreatePlan>,
) -> Result<Response, ApiError> {
    let content = checked(body.content)?;
    let review_due_on = due(body.review_due_on)?;
    may_manage(&state, &scope, resident, "care_plan.create").await?;
    Ok(created_versioned(
        state.db().create_care_plan(&scope, key.as_ref(), resident, &content, review_due_on).await?,
        |v| v.row_version,
    ))
}

/// Every version of the person's plan, newest first: the active one (`status: active`), the
/// draft being prepared, and the superseded ones, all readable.
#[utoipa::path(get, path = "/residents/{resident_id}/care-plan", tag = "care plans",
    params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Vec<PlanVersion>), (status = 404, body = Problem)))]
pub async fn list_versions(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
) -> Result<Json<Vec<PlanVersion>>, ApiError> {
    Ok(Json(state.db().list_plan_versions(&scope, resident, None).await?))
}

/// One version. Its `ETag` is what a change or the activation sends back as `If-Match`.
#[utoipa::path(get, path = "/residents/{resident_id}/care-plan/versions/{version_id}", tag = "care plans",
    params(("resident_id" = ResidentId, Path), ("version_id" = PlanVersionId, Path)),
    responses((status = 200, body = PlanVersion), (status = 404, body = Problem)))]
pub async fn get_version(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, PlanVersionId)>,
) -> Result<Response, ApiError> {
    let version = one_version(&state, &scope, resident, id).await?;
    let etag = version.row_version;
    Ok(with_etag(StatusCode::OK, version, etag))
}

fn not_a_draft(status: PlanStatus) -> ApiError {
    ApiError::Conflict(format!(
        "This version is {status}: only a draft changes. Review the plan to make a new version."
    ))
}

/// Changes a draft.
#[utoipa::path(put, path = "/residents/{resident_id}/care-plan/versions/{version_id}", tag = "care plans",
    params(("resident_id" = ResidentId, Path), ("version_id" = PlanVersionId, Path), IfMatchHeader), request_body = CreatePlan,
    responses((status = 200, body = PlanVersion), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn change_draft(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, PlanVersionId)>,
    IfMatch(version): IfMatch,
    Json(body): Json<CreatePlan>,
) -> Result<Response, ApiError> {
    let content = checked(body.content)?;
    let review_due_on = due(body.review_due_on)?;
    may_manage(&state, &scope, resident, "care_plan.update").await?;
    let meta = state.db().plan_meta(&scope, resident, id).await?;
    if meta.status != PlanStatus::Draft {
        return Err(not_a_draft(meta.status));
    }
    let changed = state.db().update_plan_draft(&scope, resident, id, Some(version), &content, review_due_on).await?;
    let etag = changed.row_version;
    Ok(with_etag(StatusCode::OK, changed, etag))
}

/// Activates a draft: it becomes the plan in force and the previous version is superseded.
#[utoipa::path(post, path = "/residents/{resident_id}/care-plan/versions/{version_id}/activate", tag = "care plans",
    params(("resident_id" = ResidentId, Path), ("version_id" = PlanVersionId, Path), IfMatchHeader),
    responses((status = 200, body = PlanVersion), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem)))]
pub async fn activate(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, PlanVersionId)>,
    IfMatch(version): IfMatch,
) -> Result<Response, ApiError> {
    may_manage(&state, &scope, resident, "care_plan.activate").await?;
    let meta = state.db().plan_meta(&scope, resident, id).await?;
    if meta.status != PlanStatus::Draft {
        return Err(not_a_draft(meta.status));
    }
    let today = Utc::now().date_naive();
    let active = state.db().activate_plan(&scope, resident, id, Some(version), default_review_due(today)).await?;
    let etag = active.row_version;
    Ok(with_etag(StatusCode::OK, active, etag))
}

/// Records the validation of a draft or of the plan in force by the person or their legal
/// representative: who, when, how.
#[utoipa::path(post, path = "/residents/{resident_id}/care-plan/versions/{version_id}/validation", tag = "care plans",
    params(("resident_id" = ResidentId, Path), ("version_id" = PlanVersionId, Path)), request_body = Validation,
    responses((status = 200, body = PlanVersion), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn record_validation(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, PlanVersionId)>,
    Json(body): Json<Validation>,
) -> Result<Json<PlanVersion>, ApiError> {
    let validation = body.validate(Utc::now().date_naive())?;
    may_manage(&state, &scope, resident, "care_plan.validate").await?;
    let meta = state.db().plan_meta(&scope, resident, id).await?;
    if !matches!(meta.status, PlanStatus::Draft | PlanStatus::Active) {
        return Err(ApiError::Conflict(format!(
            "This version is {}: it is history, it is not validated any more.",
            meta.status
        )));
    }
    Ok(Json(state.db().validate_plan(&scope, resident, id, &validation).await?))
}

/// Closes the plan in force (support ended).
#[utoipa::path(post, path = "/residents/{resident_id}/care-plan/versions/{version_id}/close", tag = "care plans",
    params(("resident_id" = ResidentId, Path), ("version_id" = PlanVersionId, Path)),
    responses((status = 200, body = PlanVersion), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem)))]
pub async fn close(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, PlanVersionId)>,
) -> Result<Json<PlanVersion>, ApiError> {
    may_manage(&state, &scope, resident, "care_plan.close").await?;
    let meta = state.db().plan_meta(&scope, resident, id).await?;
    if meta.status != PlanStatus::Active {
        return Err(ApiError::Conflict(format!("Only the plan in force is closed; this version is {}.", meta.status)));
    }
    Ok(Json(state.db().close_plan(&scope, resident, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReview {
    /// The version reviewed: the plan in force.
    pub version_id: PlanVersionId,
    pub review: Review,
    /// The next version's content (default: the reviewed version's, with objectives' statuses
    /// taken from the review's outcomes).
    pub content: Option<PlanContent>,
    pub review_due_on: Option<NaiveDate>,
}

/// Reviews the plan in force: makes the next version, a draft holding the review, to be
/// activated once agreed with the person.
#[utoipa::path(post, path = "/residents/{resident_id}/care-plan/reviews", tag = "care plans",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateReview,
    responses((status = 201, body = PlanVersion), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn review(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateReview>,
) -> Result<Response, ApiError> {
    let review_due_on = due(body.review_due_on)?;
    if body.review.date > Utc::now().date_naive() {
        return Err(ValidationErrors::single("review.date", "is in the future").into());
    }
    may_manage(&state, &scope, resident, "care_plan.review").await?;
    let reviewed = state
        .db()
        .list_plan_versions(&scope, resident, Some(body.version_id))
        .await?
        .into_iter()
        .next()
        .ok_or(ApiError::NotFound)?;
    if reviewed.status != PlanStatus::Active {
        return Err(ApiError::Conflict(format!(
            "Only the plan in force is reviewed; this version is {}.",
            reviewed.status
        )));
    }
    let mut content = body.content.unwrap_or_else(|| {
        let mut next = reviewed.content.clone();
        for objective in &mut next.objectives {
            if let Some(outcome) = body.review.outcomes.iter().find(|o| Some(o.objective_id) == objective.id) {
                objective.status = outcome.status;
            }
        }
        next
    });
    content.review = Some(body.review);
    let content = checked(content)?;
    Ok(created_versioned(
        state.db().review_care_plan(&scope, key.as_ref(), resident, &content, review_due_on, body.version_id).await?,
        |v| v.row_version,
    ))
}

/// The plans of an establishment due for review: past their review date, or in force for
/// twelve months. Soonest first, with the people's names.
#[utoipa::path(get, path = "/establishments/{establishment_id}/care-plans/due", tag = "care plans",
    params(("establishment_id" = EstablishmentId, Path)),
    responses((status = 200, body = Vec<DuePlan>), (status = 404, body = Problem)))]
pub async fn due_for_review(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(establishment): Path<EstablishmentId>,
) -> Result<Json<Vec<DuePlan>>, ApiError> {
    let access = scope.resident_access();
    if !(access.all || access.full.contains(&establishment)) {
        return Err(ApiError::NotFound);
    }
    state.db().get_establishment(&scope, establishment).await?;
    Ok(Json(state.db().plans_due_for_review(&scope, establishment, Utc::now().date_naive()).await?))
}

/// A version of the plan as a PDF, to hand to the person and their family.
#[utoipa::path(get, path = "/residents/{resident_id}/care-plan/versions/{version_id}/pdf", tag = "care plans",
    params(("resident_id" = ResidentId, Path), ("version_id" = PlanVersionId, Path)),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>), (status = 404, body = Problem)))]
pub async fn version_pdf(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, PlanVersionId)>,
) -> Result<Response, ApiError> {
    let plan = one_version(&state, &scope, resident, id).await?;
    let person = state.db().get_resident(&scope, resident).await?;
    let establishment = state.db().get_establishment(&scope, plan.establishment_id).await?;
    let mut professionals = std::collections::HashMap::new();
    for user in plan.content.actions.iter().filter_map(|a| a.who.user_id) {
        if let std::collections::hash_map::Entry::Vacant(entry) = professionals.entry(user)
            && let Ok(found) = state.db().get_user(&scope, user).await
        {
            entry.insert(format!("{} {}", found.given_name, found.family_name));
        }
    }
    let document = dui_render::PlanDocument {
        establishment_name: &establishment.name,
        person: &person.identity,
        plan: &plan,
        professionals: &professionals,
        printed_at: Utc::now(),
    };
    let bytes = dui_render::render_plan(&document);
    let file = format!("attachment; filename=\"projet-personnalise-v{}.pdf\"", plan.version);
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/pdf".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, file),
        ],
        bytes,
    )
        .into_response())
}

/// One version of a resident's plan, read (and recorded) as the list reads it.
async fn one_version(
    state: &AppState,
    scope: &dui_domain::scope::TenantScope,
    resident: ResidentId,
    id: PlanVersionId,
) -> Result<PlanVersion, ApiError> {
    state.db().list_plan_versions(scope, resident, Some(id)).await?.into_iter().next().ok_or(ApiError::NotFound)
}
