//! Needs-assessment instruments: their definitions, and stateless scoring for forms that preview
//! a result before saving. Nothing here reads or writes a person's data.

use axum::extract::State;
use dui_domain::assessment::aggir::{AggirEvaluation, GirResult, VariableCodes};
use dui_domain::assessment::{Evaluation, Instrument, instrument, instruments};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{Json, Path, Query};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// The instruments this server scores, every version.
#[utoipa::path(get, path = "/instruments", tag = "assessments",
    responses((status = 200, body = Vec<Instrument>)))]
pub async fn list_instruments(TenantAuth(_scope): TenantAuth) -> Json<&'static [Instrument]> {
    Json(instruments())
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VersionParams {
    /// A version (default: the latest).
    pub version: Option<String>,
}

/// One instrument: its items, their answers and points, and how it is scored.
#[utoipa::path(get, path = "/instruments/{code}", tag = "assessments",
    params(("code" = String, Path, example = "braden"), VersionParams),
    responses((status = 200, body = Instrument), (status = 404, body = Problem)))]
pub async fn get_instrument(
    TenantAuth(_scope): TenantAuth,
    Path(code): Path<String>,
    Query(params): Query<VersionParams>,
) -> Result<Json<&'static Instrument>, ApiError> {
    instrument(&code, params.version.as_deref()).map(Json).ok_or(ApiError::NotFound)
}

/// The result of an AGGIR grid.
#[derive(Debug, Serialize, ToSchema)]
pub struct AggirScore {
    #[serde(flatten)]
    pub result: GirResult,
    /// The code each discriminant variable comes to, from its sub-variables or adverbs.
    pub variables: VariableCodes,
}

/// Scores an AGGIR grid without saving anything: the ten discriminant variables, each given as
/// a code (`"toilette": "C"`), as the four adverbs (`{"spontaneously": true, "totally": true,
/// "correctly": false, "habitually": true}`), or by sub-variables (`"toilette": {"haut": "A",
/// "bas": "B"}`); illustrative variables optional. Answers the GIR, the group and the rank
/// (CASF annexe 2-2); an invalid grid is a 422 naming every bad field. The grid may also come
/// as `{"answers": {"variables": ...}}`, the form of the other instruments.
#[utoipa::path(post, path = "/instruments/aggir/score", tag = "assessments",
    request_body(content = Object, example = json!({"variables": {"coherence": "A", "orientation": "A", "toilette": "B",
        "habillage": "B", "alimentation": "A", "elimination": "A", "transferts": "A", "deplacement_interieur": "A",
        "deplacement_exterieur": "B", "alerter": "A"}})),
    responses((status = 200, body = AggirScore), (status = 422, body = Problem)))]
pub async fn score_aggir(
    TenantAuth(_scope): TenantAuth,
    Json(body): Json<Value>,
) -> Result<Json<AggirScore>, ApiError> {
    // The generic form (`{"answers": {...}}`, as for every instrument) is accepted too.
    let grid = match body.as_object() {
        Some(object) if object.contains_key("answers") => &object["answers"],
        _ => &body,
    };
    let evaluation = AggirEvaluation::parse(grid)?;
    Ok(Json(AggirScore { result: evaluation.gir(), variables: *evaluation.codes() }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    /// A version (default: the latest).
    pub version: Option<String>,
    /// `{"item": "answer", ...}`; for AGGIR, `{"variables": {...}, "illustrative": {...}}`.
    #[schema(value_type = Object)]
    pub answers: Value,
}

/// Scores any instrument without saving anything: the total and its band, the GIR, or the
/// needs, as the instrument is scored. Invalid answers are a 422 naming each one.
#[utoipa::path(post, path = "/instruments/{code}/score", tag = "assessments",
    params(("code" = String, Path, example = "mna-sf")), request_body = ScoreRequest,
    responses((status = 200, body = Evaluation), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn score_instrument(
    State(_state): State<AppState>,
    TenantAuth(_scope): TenantAuth,
    Path(code): Path<String>,
    Json(body): Json<ScoreRequest>,
) -> Result<Json<Evaluation>, ApiError> {
    let instrument = instrument(&code, body.version.as_deref()).ok_or(ApiError::NotFound)?;
    Ok(Json(instrument.evaluate(&body.answers)?))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list_instruments))
        .routes(routes!(get_instrument))
        .routes(routes!(score_aggir))
        .routes(routes!(score_instrument))
}
