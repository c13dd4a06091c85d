//! Measurements (constantes): recording, with physiological bounds and out-of-range flags, the
//! series of a person for charts, flagging an entry made in error (with the reason), and the
//! person's nutrition status (the undernutrition criteria their weights meet).

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use dui_app::measurements::{self, RecordMeasurement, Series};
use dui_domain::period::TimeBound;
use dui_domain::measurement::nutrition::NutritionStatus;
use dui_domain::measurement::{Measurement, MeasurementInput, MeasurementKind};
use dui_domain::{MeasurementId, ResidentId};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{CreateRequest, IdempotencyHeader, Json, Path, Query, created};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// A measurement as entered (see `MeasurementInput`), and when it was measured. The fields are
/// listed here rather than flattened: a document that combined the input's closed object with
/// `measured_at` would forbid `measured_at` itself.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMeasurement {
    pub kind: dui_domain::measurement::MeasurementKind,
    /// Every kind but blood_pressure.
    pub value: Option<f64>,
    /// blood_pressure only, mmHg.
    pub systolic: Option<f64>,
    /// blood_pressure only, mmHg.
    pub diastolic: Option<f64>,
    /// The unit the value was read in, kept with it: blood glucose `g/L`, `mmol/L` or `mg/dL`
    /// (required), height `cm` or `m`; every other kind its one unit (`kg`, `mmHg`, `bpm`, `°C`,
    /// `%`, `/10`, `/min`). Left out: the kind's reference unit. Any case.
    pub unit: Option<String>,
    /// When it was measured (default: now).
    pub measured_at: Option<DateTime<Utc>>,
}

/// Records a measurement. A value outside physiological bounds (temperature 30–43 °C...) is a
/// 422 naming the field, the bounds and the unit; a value outside the usual range is recorded
/// and flagged `low` or `high`. The answer gives the value as entered (`value` or
/// `systolic`/`diastolic`, and `unit`) and in the kind's reference unit (`reference`); a
/// weight, the undernutrition criteria it meets against the weights measured before it
/// (`nutrition`).
#[utoipa::path(post, path = "/residents/{resident_id}/measurements", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateMeasurement,
    responses((status = 201, body = Measurement), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_measurement(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateMeasurement>,
) -> Result<Response, ApiError> {
    let measurement = MeasurementInput {
        kind: body.kind,
        value: body.value,
        systolic: body.systolic,
        diastolic: body.diastolic,
        unit: body.unit,
    };
    let command = RecordMeasurement { resident, measurement, measured_at: body.measured_at, key };
    Ok(created(measurements::record(state.app(), &scope, command).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SeriesParams {
    pub kind: Option<MeasurementKind>,
    /// From (inclusive): a day, from its first hour in the establishment's calendar, or an
    /// instant.
    #[param(inline)]
    pub from: Option<TimeBound>,
    /// To: a day (included), or an instant (excluded).
    #[param(inline)]
    pub to: Option<TimeBound>,
}

/// A person's measurements (of one kind, in a period), oldest first: the series for charts
/// (plotted from `reference`). At most 5,000 points; entries made in error are included,
/// flagged; weights with the undernutrition criteria they meet.
#[utoipa::path(get, path = "/residents/{resident_id}/measurements", tag = "care",
    params(("resident_id" = ResidentId, Path), SeriesParams),
    responses((status = 200, body = Vec<Measurement>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list_measurements(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    Query(params): Query<SeriesParams>,
) -> Result<Json<Vec<Measurement>>, ApiError> {
    let query = Series { resident, kind: params.kind, from: params.from, to: params.to };
    Ok(Json(measurements::series(state.app(), &scope, query).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagMeasurementError {
    /// Why (wrong person, wrong figure...): 3 to 2,000 characters.
    #[schema(max_length = 2000)]
    pub reason: String,
}

/// Flags a measurement as entered in error: it stays, flagged, with who, when and why.
#[utoipa::path(post, path = "/residents/{resident_id}/measurements/{measurement_id}/entered-in-error", tag = "care",
    params(("resident_id" = ResidentId, Path), ("measurement_id" = MeasurementId, Path)),
    request_body = FlagMeasurementError,
    responses((status = 200, body = Measurement), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn flag_measurement(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, MeasurementId)>,
    Json(body): Json<FlagMeasurementError>,
) -> Result<Json<Measurement>, ApiError> {
    Ok(Json(measurements::flag_error(state.app(), &scope, resident, id, &body.reason).await?))
}

/// A person's nutrition status: their latest weight not entered in error, with the BMI (from
/// their latest height), the losses over one and six months and the undernutrition criteria of
/// the HAS it meets (70 and over: BMI < 22, loss ≥ 5 % in a month or ≥ 10 % in six; severe:
/// BMI < 20, ≥ 10 % or ≥ 15 %). From the measurements the caller reads: none for those who do
/// not read the care team's data.
#[utoipa::path(get, path = "/residents/{resident_id}/nutrition-status", tag = "care",
    params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = NutritionStatus), (status = 404, body = Problem)))]
pub async fn nutrition_status(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
) -> Result<Json<NutritionStatus>, ApiError> {
    Ok(Json(measurements::nutrition_status(state.app(), &scope, resident).await?))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list_measurements, create_measurement))
        .routes(routes!(flag_measurement))
        .routes(routes!(nutrition_status))
}
