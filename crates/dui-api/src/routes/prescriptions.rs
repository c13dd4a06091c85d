//! Prescriptions: recorded from a paper, received or verbal-then-confirmed prescription, changed
//! by whole new versions, stopped with a reason. Written by the physicians and nurses where the
//! person is supported, read by the care team.

use axum::extract::State;
use axum::response::Response;
use chrono::NaiveDate;
use dui_app::prescriptions::{self, CreatePrescription, RevisePrescription, StopPrescription};
use dui_domain::prescription::{
    LineInput, Prescriber, Prescription, PrescriptionInput, PrescriptionSource, PrescriptionVersion,
};
use dui_domain::{PrescriptionId, PrescriptionVersionId, ResidentId};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{CreateRequest, IdempotencyHeader, Json, Path, Query, created};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Which prescriptions a list gives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrescriptionFilter {
    /// Those in force (the default).
    #[default]
    Active,
    /// Every prescription, by its latest version (stopped ones included).
    All,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PrescriptionsParams {
    #[param(inline)]
    pub status: Option<PrescriptionFilter>,
}

/// The person's prescriptions you may read: the versions in force (or `status=all`: the latest
/// version of each, stopped ones included), newest first, each with its lines and its safety
/// flags (`flagged`). Reading them is recorded.
#[utoipa::path(get, path = "/residents/{resident_id}/prescriptions", tag = "care",
    params(("resident_id" = ResidentId, Path), PrescriptionsParams),
    responses((status = 200, body = Vec<PrescriptionVersion>), (status = 404, body = Problem)))]
pub async fn list_prescriptions(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    Query(params): Query<PrescriptionsParams>,
) -> Result<Json<Vec<PrescriptionVersion>>, ApiError> {
    let all = params.status.unwrap_or_default() == PrescriptionFilter::All;
    Ok(Json(prescriptions::list(state.app(), &scope, resident, all).await?))
}

/// Records a prescription: its first version, in force. Each line names a drug of the
/// referential by its CIS (kept as the referential describes it today), its dose, route and
/// schedule. Safety flags (an allergy in force matched, a substance prescribed twice) are
/// computed and returned; the prescription is recorded with them. By the physicians and nurses
/// where the person is supported.
#[utoipa::path(post, path = "/residents/{resident_id}/prescriptions", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = PrescriptionInput,
    responses((status = 201, body = PrescriptionVersion), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_prescription(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<PrescriptionInput>,
) -> Result<Response, ApiError> {
    let command = CreatePrescription { resident, prescription: body, key };
    Ok(created(prescriptions::create(state.app(), &scope, command).await?))
}

/// One prescription with every version, newest first. Reading it is recorded.
#[utoipa::path(get, path = "/residents/{resident_id}/prescriptions/{prescription_id}", tag = "care",
    params(("resident_id" = ResidentId, Path), ("prescription_id" = PrescriptionId, Path)),
    responses((status = 200, body = Prescription), (status = 404, body = Problem)))]
pub async fn read_prescription(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, PrescriptionId)>,
) -> Result<Json<Prescription>, ApiError> {
    Ok(Json(prescriptions::get(state.app(), &scope, resident, id).await?))
}

/// A new version: the whole content, and the version it replaces.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVersion {
    /// The version replaced: the one in force (409 otherwise).
    pub replaces: PrescriptionVersionId,
    pub prescriber: Prescriber,
    pub prescribed_on: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    pub source: PrescriptionSource,
    /// 1 to 30 lines.
    pub lines: Vec<LineInput>,
}

/// Changes a prescription: a whole new version that supersedes the version in force (`replaces`;
/// 409 when another change or a stop came first). The replaced version stays, superseded.
#[utoipa::path(post, path = "/residents/{resident_id}/prescriptions/{prescription_id}/versions", tag = "care",
    params(("resident_id" = ResidentId, Path), ("prescription_id" = PrescriptionId, Path), IdempotencyHeader),
    request_body = CreateVersion,
    responses((status = 201, body = PrescriptionVersion), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_version(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, PrescriptionId)>,
    CreateRequest { body, key }: CreateRequest<CreateVersion>,
) -> Result<Response, ApiError> {
    let prescription = PrescriptionInput {
        prescriber: body.prescriber,
        prescribed_on: body.prescribed_on,
        valid_until: body.valid_until,
        source: body.source,
        lines: body.lines,
    };
    let command = RevisePrescription { resident, id, replaces: body.replaces, prescription, key };
    Ok(created(prescriptions::revise(state.app(), &scope, command).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopBody {
    /// Why it is stopped (3 characters at least).
    #[schema(max_length = 2000)]
    pub reason: String,
    /// The day (default: today; not in the future, not before the day prescribed).
    pub stopped_on: Option<NaiveDate>,
}

/// Stops a prescription with a reason: its version in force ends, stopped (409 when it is
/// stopped already). Nothing is deleted.
#[utoipa::path(post, path = "/residents/{resident_id}/prescriptions/{prescription_id}/stop", tag = "care",
    params(("resident_id" = ResidentId, Path), ("prescription_id" = PrescriptionId, Path)),
    request_body = StopBody,
    responses((status = 200, body = PrescriptionVersion), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn stop_prescription(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, PrescriptionId)>,
    Json(body): Json<StopBody>,
) -> Result<Json<PrescriptionVersion>, ApiError> {
    let command = StopPrescription { resident, id, reason: body.reason, stopped_on: body.stopped_on };
    Ok(Json(prescriptions::stop(state.app(), &scope, command).await?))
}

pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list_prescriptions))
        .routes(routes!(create_prescription))
        .routes(routes!(read_prescription))
        .routes(routes!(create_version))
        .routes(routes!(stop_prescription))
}
