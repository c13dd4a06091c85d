//! Nutrition and hydration: the person's diet and textures (versions), the food and fluid watch
//! and the intake recorded at each meal (days, totals, alerts), and the person's nutrition
//! summary — with their weight, BMI and undernutrition criteria as measurements give them
//! (`/nutrition-status`).

use axum::extract::State;
use axum::response::Response;
use chrono::NaiveDate;
use dui_app::nutrition::{self, IntakePeriod, RecordIntake, SetDiet, StartWatch};
use dui_domain::nutrition::{
    DietInput, DietPrescription, Intake, IntakeInput, IntakeReport, NutritionSummary, NutritionWatch, WatchInput,
};
use dui_domain::{NutritionWatchId, ResidentId};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{CreateRequest, IdempotencyHeader, Json, Path, Query, created};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// The person's diets and textures, the one in force first, then the earlier versions. Empty for
/// those who do not read the care team's data.
#[utoipa::path(get, path = "/residents/{resident_id}/diet", tag = "care",
    params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Vec<DietPrescription>), (status = 404, body = Problem)))]
pub async fn list_diets(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
) -> Result<Json<Vec<DietPrescription>>, ApiError> {
    Ok(Json(nutrition::diets(state.app(), &scope, resident).await?))
}

/// Sets the person's diet and textures: a new version (the earlier ones stay). Diets (normal
/// alone, or diabetic, low-salt, enriched, gluten-free, other), the texture of foods (IDDSI 3 to
/// 7, or normal, haché, mouliné, mixé, lisse) and of drinks (IDDSI 0 to 4, gelled), from when,
/// who decided. A change is told at the hand-over.
#[utoipa::path(post, path = "/residents/{resident_id}/diet", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = DietInput,
    responses((status = 201, body = DietPrescription), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn set_diet(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<DietInput>,
) -> Result<Response, ApiError> {
    let command = SetDiet { resident, diet: body, key };
    Ok(created(nutrition::set_diet(state.app(), &scope, command).await?))
}

/// The person's food and fluid watches, the latest started first.
#[utoipa::path(get, path = "/residents/{resident_id}/nutrition-watches", tag = "care",
    params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Vec<NutritionWatch>), (status = 404, body = Problem)))]
pub async fn list_watches(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
) -> Result<Json<Vec<NutritionWatch>>, ApiError> {
    Ok(Json(nutrition::watches(state.app(), &scope, resident).await?))
}

/// Starts a food and fluid watch: what it follows, why, from when (to when, if planned), and its
/// alerts' thresholds — drinks under 1,000 mL a day by default, main meals less than half eaten
/// for 3 days by default. One at a time: 409 while another goes on.
#[utoipa::path(post, path = "/residents/{resident_id}/nutrition-watches", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = WatchInput,
    responses((status = 201, body = NutritionWatch), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn start_watch(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<WatchInput>,
) -> Result<Response, ApiError> {
    let command = StartWatch { resident, watch: body, key };
    Ok(created(nutrition::start_watch(state.app(), &scope, command).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndWatch {
    /// The last day watched (default: today); from the start, not in the future.
    pub ended_on: Option<NaiveDate>,
}

/// Ends a watch: its last day. A watch ended already is a 409.
#[utoipa::path(post, path = "/residents/{resident_id}/nutrition-watches/{watch_id}/end", tag = "care",
    params(("resident_id" = ResidentId, Path), ("watch_id" = NutritionWatchId, Path)), request_body = EndWatch,
    responses((status = 200, body = NutritionWatch), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn end_watch(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, watch)): Path<(ResidentId, NutritionWatchId)>,
    Json(body): Json<EndWatch>,
) -> Result<Json<NutritionWatch>, ApiError> {
    Ok(Json(nutrition::end_watch(state.app(), &scope, resident, watch, body.ended_on).await?))
}

/// Records what the person ate (none, a quarter, half, three quarters, all) and drank (mL) at a
/// meal of a watched day (422 on a day no watch covers). Recording a meal again corrects it.
/// The day's first record tells the hand-over the alerts standing on the day before.
#[utoipa::path(post, path = "/residents/{resident_id}/intakes", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = IntakeInput,
    responses((status = 201, body = Intake), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn record_intake(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<IntakeInput>,
) -> Result<Response, ApiError> {
    let command = RecordIntake { resident, intake: body, key };
    Ok(created(nutrition::record_intake(state.app(), &scope, command).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IntakeParams {
    /// The first day (default: 13 days before `to`).
    pub from: Option<NaiveDate>,
    /// The last day, included (default: today); at most 92 days from `from`.
    pub to: Option<NaiveDate>,
}

/// The person's watched days in a period, oldest first — each meal (the latest record of it),
/// the drinks of the day, the share of the main meals eaten: the chart's series — and the
/// alerts standing today (drinks under the watch's threshold yesterday; main meals less than
/// half eaten on each of the last days).
#[utoipa::path(get, path = "/residents/{resident_id}/intakes", tag = "care",
    params(("resident_id" = ResidentId, Path), IntakeParams),
    responses((status = 200, body = IntakeReport), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list_intakes(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    Query(params): Query<IntakeParams>,
) -> Result<Json<IntakeReport>, ApiError> {
    let query = IntakePeriod { resident, from: params.from, to: params.to };
    Ok(Json(nutrition::intakes(state.app(), &scope, query).await?))
}

/// The person's nutrition at a glance: the diet and textures in force, the watch (in progress,
/// else the latest), the last seven days watched and the alerts standing, and their latest
/// weight with its BMI, losses and the HAS undernutrition criteria it meets (as
/// `/nutrition-status` gives them).
#[utoipa::path(get, path = "/residents/{resident_id}/nutrition", tag = "care",
    params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = NutritionSummary), (status = 404, body = Problem)))]
pub async fn summary(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
) -> Result<Json<NutritionSummary>, ApiError> {
    Ok(Json(nutrition::summary(state.app(), &scope, resident).await?))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list_diets, set_diet))
        .routes(routes!(list_watches, start_watch))
        .routes(routes!(end_watch))
        .routes(routes!(list_intakes, record_intake))
        .routes(routes!(summary))
}
