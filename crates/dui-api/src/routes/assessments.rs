//! Needs assessments of a person: drafts, validation (then immutable), corrections that
//! supersede, and the GIR history.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use dui_app::assessments;
use dui_domain::assessment::recorded::{Assessment, GirPoint};
use dui_domain::record::NoteScope;
use dui_domain::{AssessmentId, ResidentId};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{
    CreateRequest, IdempotencyHeader, IfMatch, IfMatchHeader, Json, Path, Query, created_versioned, with_etag,
};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAssessment {
    /// `aggir`, `mna`, `braden`... (see `/instruments`).
    pub instrument: String,
    /// Default: the instrument's latest version.
    pub version: Option<String>,
    /// Who may read it (default: the care team).
    pub scope: Option<NoteScope>,
    pub assessed_on: NaiveDate,
    /// As for `/instruments/{code}/score`.
    #[schema(value_type = Object)]
    pub answers: Value,
    /// The validated assessment (same instrument) this one corrects.
    pub supersedes: Option<AssessmentId>,
}

/// Records a draft assessment (or, with `supersedes`, the correction of a validated one).
#[utoipa::path(post, path = "/residents/{resident_id}/assessments", tag = "assessments",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateAssessment,
    responses((status = 201, body = Assessment), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_assessment(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateAssessment>,
) -> Result<Response, ApiError> {
    let command = assessments::RecordAssessment {
        resident,
        instrument: body.instrument,
        version: body.version,
        scope: body.scope,
        assessed_on: body.assessed_on,
        answers: body.answers,
        supersedes: body.supersedes,
        key,
    };
    Ok(created_versioned(assessments::record(state.app(), &scope, command).await?, |a| a.row_version))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AssessmentFilter {
    /// One instrument only.
    pub instrument: Option<String>,
}

/// A person's assessments you may read, newest first (drafts, validated, superseded).
#[utoipa::path(get, path = "/residents/{resident_id}/assessments", tag = "assessments",
    params(("resident_id" = ResidentId, Path), AssessmentFilter),
    responses((status = 200, body = Vec<Assessment>), (status = 404, body = Problem)))]
pub async fn list_assessments(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    Query(filter): Query<AssessmentFilter>,
) -> Result<Json<Vec<Assessment>>, ApiError> {
    Ok(Json(assessments::list(state.app(), &scope, resident, filter.instrument.as_deref()).await?))
}

/// One assessment. Its `ETag` is what an update or the validation sends back as `If-Match`.
#[utoipa::path(get, path = "/residents/{resident_id}/assessments/{assessment_id}", tag = "assessments",
    params(("resident_id" = ResidentId, Path), ("assessment_id" = AssessmentId, Path)),
    responses((status = 200, body = Assessment), (status = 404, body = Problem)))]
pub async fn get_assessment(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, AssessmentId)>,
) -> Result<Response, ApiError> {
    let assessment = assessments::get(state.app(), &scope, resident, id).await?;
    let version = assessment.row_version;
    Ok(with_etag(StatusCode::OK, assessment, version))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeAssessment {
    pub assessed_on: NaiveDate,
    #[schema(value_type = Object)]
    pub answers: Value,
}

/// Changes a draft (answers, date). A validated assessment is a 409: correct it with a new
/// assessment that supersedes it.
#[utoipa::path(put, path = "/residents/{resident_id}/assessments/{assessment_id}", tag = "assessments",
    params(("resident_id" = ResidentId, Path), ("assessment_id" = AssessmentId, Path), IfMatchHeader), request_body = ChangeAssessment,
    responses((status = 200, body = Assessment), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn change_assessment(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, AssessmentId)>,
    IfMatch(version): IfMatch,
    Json(body): Json<ChangeAssessment>,
) -> Result<Response, ApiError> {
    let command = assessments::ChangeAssessment {
        resident,
        id,
        expected_version: version,
        assessed_on: body.assessed_on,
        answers: body.answers,
    };
    let changed = assessments::change(state.app(), &scope, command).await?;
    let version = changed.row_version;
    Ok(with_etag(StatusCode::OK, changed, version))
}

/// Validates a draft: from then on it cannot change, and it counts (a validated AGGIR enters
/// the GIR history; a correction then supersedes the assessment it corrects).
#[utoipa::path(post, path = "/residents/{resident_id}/assessments/{assessment_id}/validate", tag = "assessments",
    params(("resident_id" = ResidentId, Path), ("assessment_id" = AssessmentId, Path), IfMatchHeader),
    responses((status = 200, body = Assessment), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem)))]
pub async fn validate_assessment(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, AssessmentId)>,
    IfMatch(version): IfMatch,
) -> Result<Response, ApiError> {
    let validated = assessments::validate(state.app(), &scope, resident, id, version).await?;
    let version = validated.row_version;
    Ok(with_etag(StatusCode::OK, validated, version))
}

/// The person's GIR over time: validated AGGIR assessments, corrections in place of what they
/// correct, oldest first.
#[utoipa::path(get, path = "/residents/{resident_id}/gir-history", tag = "assessments",
    params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Vec<GirPoint>), (status = 404, body = Problem)))]
pub async fn gir_history(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
) -> Result<Json<Vec<GirPoint>>, ApiError> {
    Ok(Json(assessments::gir_history(state.app(), &scope, resident).await?))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list_assessments, create_assessment))
        .routes(routes!(get_assessment, change_assessment))
        .routes(routes!(validate_assessment))
        .routes(routes!(gir_history))
}
