//! A person's timeline: notes, assessments, versions of the projet personnalisé and stays,
//! merged in one chronology, newest first.

use axum::extract::State;
use dui_app::timeline;
use dui_domain::ResidentId;
use dui_domain::timeline::TimelineEntry;
use dui_domain::period::TimeBound;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{Json, Path, Query};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimelineParams {
    /// From (inclusive; default: 30 days before `to`): a day, from its first hour in the
    /// establishment's calendar, or an instant.
    #[param(inline)]
    pub from: Option<TimeBound>,
    /// To (default: now): a day (included), or an instant (excluded).
    #[param(inline)]
    pub to: Option<TimeBound>,
}

/// The person's timeline over a period (at most a year; default the last 30 days): notes you may
/// read, assessments you may read, plan versions, admissions and discharges, newest first.
#[utoipa::path(get, path = "/residents/{resident_id}/timeline", tag = "residents",
    params(("resident_id" = ResidentId, Path), TimelineParams),
    responses((status = 200, body = Vec<TimelineEntry>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn timeline(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    Query(params): Query<TimelineParams>,
) -> Result<Json<Vec<TimelineEntry>>, ApiError> {
    let entries = timeline::read(state.app(), &scope, resident, params.from, params.to).await?;
    Ok(Json(entries))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(routes!(timeline))
}
