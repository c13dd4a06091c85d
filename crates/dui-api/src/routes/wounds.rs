//! Wounds and pressure ulcers: a person's wounds with their assessments, protocols and size over
//! time; recording one, assessing it, setting its care protocol (whose dressings become tasks of
//! the day), closing it; and an establishment's open pressure ulcers (the quality indicator).
//! Photographs are documents (the documents feature), not part of these records.

use axum::extract::State;
use axum::response::Response;
use chrono::NaiveDate;
use dui_app::wounds::{self, AssessWound, CloseWound, RecordWound, SetProtocol};
use dui_domain::wound::{
    DressingProtocol, PressureUlcerReport, Wound, WoundAssessment, WoundAssessmentInput, WoundFile, WoundInput,
    WoundOutcome, WoundProtocol,
};
use dui_domain::{EstablishmentId, ResidentId, WoundId};
use dui_storage::wounds::Listed;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{CreateRequest, IdempotencyHeader, Json, Path, Query, created};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Which wounds.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WoundStatus {
    #[default]
    Open,
    Closed,
    All,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WoundsParams {
    /// Open wounds (default), closed ones, or all.
    #[param(inline)]
    pub status: Option<WoundStatus>,
}

/// The person's wounds (open ones by default), oldest first, each with its assessments, its
/// protocol in force and earlier versions, its latest stage and its size over time (a chart's
/// series). Empty for those who do not read the care team's data.
#[utoipa::path(get, path = "/residents/{resident_id}/wounds", tag = "care",
    params(("resident_id" = ResidentId, Path), WoundsParams),
    responses((status = 200, body = Vec<WoundFile>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list_wounds(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    Query(params): Query<WoundsParams>,
) -> Result<Json<Vec<WoundFile>>, ApiError> {
    let which = match params.status.unwrap_or_default() {
        WoundStatus::Open => Listed::Open,
        WoundStatus::Closed => Listed::Closed,
        WoundStatus::All => Listed::All,
    };
    Ok(Json(wounds::list(state.app(), &scope, resident, which).await?))
}

/// Records a wound found: its kind, site, origin (acquired in the establishment or present on
/// admission) and, for a pressure ulcer, its NPUAP/EPUAP stage (required, and for pressure
/// ulcers only). Told at the hand-over.
#[utoipa::path(post, path = "/residents/{resident_id}/wounds", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = WoundInput,
    responses((status = 201, body = Wound), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_wound(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<WoundInput>,
) -> Result<Response, ApiError> {
    let command = RecordWound { resident, wound: body, key };
    Ok(created(wounds::create(state.app(), &scope, command).await?))
}

/// Records an assessment of an open wound: size (length × width, depth), stage (pressure
/// ulcers), wound bed (percentages adding up to 100), exudate, pain, signs of infection,
/// observations. A worse stage or signs of infection are told at the hand-over; a closed wound
/// is a 409.
#[utoipa::path(post, path = "/residents/{resident_id}/wounds/{wound_id}/assessments", tag = "care",
    params(("resident_id" = ResidentId, Path), ("wound_id" = WoundId, Path), IdempotencyHeader),
    request_body = WoundAssessmentInput,
    responses((status = 201, body = WoundAssessment), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn assess_wound(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, wound)): Path<(ResidentId, WoundId)>,
    CreateRequest { body, key }: CreateRequest<WoundAssessmentInput>,
) -> Result<Response, ApiError> {
    let command = AssessWound { resident, wound, assessment: body, key };
    Ok(created(wounds::assess(state.app(), &scope, command).await?))
}

/// Sets the care protocol of an open wound (products, frequency, instructions, schedule, who):
/// a new version, in force from now, the previous one ended. Its dressings are tasks of the
/// day (`GET /establishments/{id}/tasks`, with `wound_protocol_id`), recorded as tasks are.
#[utoipa::path(post, path = "/residents/{resident_id}/wounds/{wound_id}/protocol", tag = "care",
    params(("resident_id" = ResidentId, Path), ("wound_id" = WoundId, Path), IdempotencyHeader),
    request_body = DressingProtocol,
    responses((status = 201, body = WoundProtocol), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn set_protocol(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, wound)): Path<(ResidentId, WoundId)>,
    CreateRequest { body, key }: CreateRequest<DressingProtocol>,
) -> Result<Response, ApiError> {
    let command = SetProtocol { resident, wound, protocol: body, key };
    Ok(created(wounds::set_protocol(state.app(), &scope, command).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseWoundBody {
    pub outcome: WoundOutcome,
    /// Default: today; from the day it was found, not in the future.
    pub closed_on: Option<NaiveDate>,
}

/// Closes a wound: healed, the person left with it, deceased, or recorded by mistake (left out of
/// the indicator). Its protocol ends; a closed wound is a 409.
#[utoipa::path(post, path = "/residents/{resident_id}/wounds/{wound_id}/close", tag = "care",
    params(("resident_id" = ResidentId, Path), ("wound_id" = WoundId, Path)), request_body = CloseWoundBody,
    responses((status = 200, body = Wound), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn close_wound(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, wound)): Path<(ResidentId, WoundId)>,
    Json(body): Json<CloseWoundBody>,
) -> Result<Json<Wound>, ApiError> {
    let command = CloseWound { resident, wound, closed_on: body.closed_on, outcome: body.outcome };
    Ok(Json(wounds::close(state.app(), &scope, command).await?))
}

/// The open pressure ulcers of the people staying in an establishment today: how many, how many
/// acquired in the establishment and present on admission, the prevalence of people with an
/// acquired one (the quality indicator), and, for those who read the care team's data there,
/// the ulcers with whose they are, their site, latest stage and origin. Directors get the
/// counts; other roles (tenant administrators included) a 403.
#[utoipa::path(get, path = "/establishments/{establishment_id}/pressure-ulcers", tag = "care",
    params(("establishment_id" = EstablishmentId, Path)),
    responses((status = 200, body = PressureUlcerReport), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn pressure_ulcers(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(establishment): Path<EstablishmentId>,
) -> Result<Json<PressureUlcerReport>, ApiError> {
    Ok(Json(wounds::pressure_ulcers(state.app(), &scope, establishment).await?))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list_wounds, create_wound))
        .routes(routes!(assess_wound))
        .routes(routes!(set_protocol))
        .routes(routes!(close_wound))
        .routes(routes!(pressure_ulcers))
}
