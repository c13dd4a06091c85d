//! Needs assessments of a person: drafts, validation (then immutable), corrections that
//! supersede, and the GIR history.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use dui_domain::assessment::instrument;
use dui_domain::assessment::recorded::{Assessment, AssessmentStatus, GirPoint};
use dui_domain::policy;
use dui_domain::record::NoteScope;
use dui_domain::{AssessmentId, ResidentId, ValidationErrors};
use dui_storage::StoreError;
use dui_storage::assessments::NewAssessment;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::TenantAuth;
use crate::extract::{
    CreateRequest, IdempotencyHeader, IfMatch, IfMatchHeader, Json, Path, Query, created_versioned, with_etag,
};
use crate::problem::{ApiError, Problem};
use crate::routes::residents::{acting_establishments, refuse};
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

fn assessed_on(date: NaiveDate) -> Result<NaiveDate, ApiError> {
    if date > Utc::now().date_naive() {
        return Err(ValidationErrors::single("assessed_on", "is in the future").into());
    }
    Ok(date)
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
    let instrument = instrument(&body.instrument, body.version.as_deref()).ok_or_else(|| {
        ApiError::from(ValidationErrors::single(
            if body.version.is_some() { "version" } else { "instrument" },
            "is not an instrument this server knows (see /api/v1/instruments)",
        ))
    })?;
    let evaluation = instrument.evaluate(&body.answers)?;
    let assessed_on = assessed_on(body.assessed_on)?;
    let note_scope = body.scope.unwrap_or(NoteScope::CareTeam);
    let establishments = acting_establishments(&state, &scope, resident, "assessment.create").await?;
    if !policy::can_assess(&scope, &establishments) || !policy::can_write_note(&scope, &establishments, note_scope) {
        return Err(refuse(&state, &scope, "assessment.create", resident, "record this assessment").await);
    }
    if let Some(original) = body.supersedes {
        let meta = state.db().assessment_meta(&scope, resident, original).await.map_err(|e| match e {
            StoreError::NotFound => {
                ValidationErrors::single("supersedes", "is not an assessment of this person").into()
            }
            other => ApiError::from(other),
        })?;
        if meta.instrument != instrument.code || meta.status != AssessmentStatus::Validated {
            return Err(ValidationErrors::single(
                "supersedes",
                "must be a validated assessment with the same instrument",
            )
            .into());
        }
        if meta.superseded {
            return Err(ApiError::Conflict(
                "This assessment was corrected already: correct the correction.".to_owned(),
            ));
        }
    }
    let new = NewAssessment { evaluation, scope: note_scope, assessed_on, supersedes: body.supersedes };
    Ok(created_versioned(state.db().create_assessment(&scope, key.as_ref(), resident, &new).await?, |a| a.row_version))
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
    Ok(Json(state.db().list_assessments(&scope, resident, filter.instrument.as_deref(), None).await?))
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
    let found = state.db().list_assessments(&scope, resident, None, Some(id)).await?;
    let assessment = found.into_iter().next().ok_or(ApiError::NotFound)?;
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

fn refused_change(error: StoreError) -> ApiError {
    match error {
        StoreError::Invalid { constraint } if constraint == "assessments_change_refused" => ApiError::Conflict(
            "A validated assessment cannot change: record a correction that supersedes it.".to_owned(),
        ),
        other => other.into(),
    }
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
    let establishments = acting_establishments(&state, &scope, resident, "assessment.update").await?;
    let meta = state.db().assessment_meta(&scope, resident, id).await?;
    if !policy::can_assess(&scope, &establishments) {
        return Err(refuse(&state, &scope, "assessment.update", resident, "change assessments").await);
    }
    if meta.status == AssessmentStatus::Validated {
        return Err(refused_change(StoreError::Invalid { constraint: "assessments_change_refused".to_owned() }));
    }
    let current = state.db().list_assessments(&scope, resident, None, Some(id)).await?;
    let current = current.first().ok_or(ApiError::NotFound)?;
    let instrument = instrument(&current.instrument, Some(&current.instrument_version)).ok_or(ApiError::NotFound)?;
    let evaluation = instrument.evaluate(&body.answers)?;
    let assessed_on = assessed_on(body.assessed_on)?;
    let changed = state
        .db()
        .update_assessment(&scope, resident, id, Some(version), &evaluation, assessed_on)
        .await
        .map_err(refused_change)?;
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
    let establishments = acting_establishments(&state, &scope, resident, "assessment.validate").await?;
    let meta = state.db().assessment_meta(&scope, resident, id).await?;
    if !policy::can_validate_care(&scope, &establishments) {
        return Err(refuse(&state, &scope, "assessment.validate", resident, "validate assessments").await);
    }
    if meta.status == AssessmentStatus::Validated {
        return Err(ApiError::Conflict("This assessment is validated already.".to_owned()));
    }
    let validated =
        state.db().validate_assessment(&scope, resident, id, Some(version)).await.map_err(refused_change)?;
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
    Ok(Json(state.db().gir_history(&scope, resident).await?))
}
