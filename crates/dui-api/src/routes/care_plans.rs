//! The projet personnalisé over HTTP: versions, drafts, activation, reviews, the validation by
//! the person, closing, and the due-for-review list of an establishment.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use dui_app::care_plans::{self, ChangeDraft, ReviewPlan, StartPlan};
use dui_domain::care_plan::{DuePlan, PlanContent, PlanVersion, Review, Validation};
use dui_domain::{EstablishmentId, PlanVersionId, ResidentId};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{
    CreateRequest, IdempotencyHeader, IfMatch, IfMatchHeader, Json, Path, created_versioned, with_etag,
};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

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
    let command = StartPlan { resident, content: body.content, review_due_on: body.review_due_on, key };
    Ok(created_versioned(care_plans::start(state.app(), &scope, command).await?, |v| v.row_version))
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
    Ok(Json(care_plans::versions(state.app(), &scope, resident).await?))
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
    let version = care_plans::version(state.app(), &scope, resident, id).await?;
    let etag = version.row_version;
    Ok(with_etag(StatusCode::OK, version, etag))
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
    let command = ChangeDraft {
        resident,
        version: id,
        expected_version: version,
        content: body.content,
        review_due_on: body.review_due_on,
    };
    let changed = care_plans::change_draft(state.app(), &scope, command).await?;
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
    let active = care_plans::activate(state.app(), &scope, resident, id, version).await?;
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
) -> Result<Response, ApiError> {
    let validated = care_plans::record_validation(state.app(), &scope, resident, id, body).await?;
    let etag = validated.row_version;
    Ok(with_etag(StatusCode::OK, validated, etag))
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
    Ok(Json(care_plans::close(state.app(), &scope, resident, id).await?))
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
    let command = ReviewPlan {
        resident,
        version: body.version_id,
        review: body.review,
        content: body.content,
        review_due_on: body.review_due_on,
        key,
    };
    Ok(created_versioned(care_plans::review(state.app(), &scope, command).await?, |v| v.row_version))
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
    Ok(Json(care_plans::due_for_review(state.app(), &scope, establishment).await?))
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
    let document = care_plans::pdf(state.app(), &scope, resident, id).await?;
    let file = format!("attachment; filename=\"projet-personnalise-v{}.pdf\"", document.version);
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/pdf".to_owned()),
            (axum::http::header::CONTENT_DISPOSITION, file),
        ],
        document.bytes,
    )
        .into_response())
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list_versions, create_plan))
        .routes(routes!(get_version, change_draft))
        .routes(routes!(activate))
        .routes(routes!(record_validation))
        .routes(routes!(close))
        .routes(routes!(review))
        .routes(routes!(due_for_review))
        .routes(routes!(version_pdf))
}
