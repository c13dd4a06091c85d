//! Medication rounds: the administration plan of a day or a round for an establishment or a
//! unit, and the record of each dose (given, partly given, refused, not given), flagged when
//! entered in error, never deleted.

use axum::extract::State;
use axum::response::Response;
use chrono::NaiveDate;
use dui_app::administrations::{self, PlanQuery, RecordDose};
use dui_domain::administration::{Administration, AdministrationInput, DosePlan, DoseState};
use dui_domain::prescription::Moment;
use dui_domain::{AdministrationId, EstablishmentId, ResidentId, UnitId};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{CreateRequest, IdempotencyHeader, Json, Path, Query, created};
use crate::problem::{ApiError, Problem};
use crate::routes::alerts::FlagEntryError;
use crate::routes::care_tasks::PeriodQuery;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PlanParams {
    /// The day, in the establishment's calendar (default: today there).
    pub date: Option<NaiveDate>,
    /// One unit of the establishment.
    pub unit_id: Option<UnitId>,
    /// One person's doses (staying in the establishment that day).
    pub resident_id: Option<ResidentId>,
    /// One round: `morning` (08:00), `noon` (12:00), `evening` (18:00), `bedtime` (21:00 and the
    /// night's doses before the morning).
    #[param(inline)]
    pub round: Option<Moment>,
    /// Only the doses in this state (e.g. `late`, `missed`).
    #[param(inline)]
    pub state: Option<DoseState>,
}

/// The administration plan of a day or of one round, for an establishment, one of its units or
/// one person:
/// each planned dose of the prescriptions in force (drug, dose, route, crushable, warnings to
/// confirm, whether a nurse gives it) with what was recorded and where it stands — pending,
/// due, late, missed, given, partly given, refused, not given, suspended while the person is
/// away — and the lines given if needed with what was given of them that day. For the care team;
/// each person listed is recorded as read.
#[utoipa::path(get, path = "/establishments/{establishment_id}/doses", tag = "care",
    params(("establishment_id" = EstablishmentId, Path), PlanParams),
    responses((status = 200, body = DosePlan), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn dose_plan(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(establishment): Path<EstablishmentId>,
    Query(params): Query<PlanParams>,
) -> Result<Json<DosePlan>, ApiError> {
    let query = PlanQuery {
        establishment,
        date: params.date,
        unit: params.unit_id,
        resident: params.resident_id,
        round: params.round,
        state: params.state,
    };
    Ok(Json(administrations::plan(state.app(), &scope, query).await?))
}

/// Records a dose: a planned one (its version, line, day and slot as the plan lists them) or one
/// of a line given if needed (no day nor slot). Given, partly given (`quantity`), refused, or not
/// given (`reason`). A nurse's record is an administration, a care assistant's a help with
/// taking (not by injection, nor rectal or vaginal routes: 422). A dose with warnings needs
/// `confirm` to be given; a line given if needed keeps to its maximum per day and its interval.
/// Once per planned dose (409 after). A dose not given as prescribed is told to the hand-over.
#[utoipa::path(post, path = "/residents/{resident_id}/administrations", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = AdministrationInput,
    responses((status = 201, body = Administration), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn record_dose(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<AdministrationInput>,
) -> Result<Response, ApiError> {
    let command = RecordDose { resident, dose: body, key };
    Ok(created(administrations::record(state.app(), &scope, command).await?))
}

/// The person's doses recorded over a period (by when given), newest first, those entered in
/// error included (flagged). Reading them is recorded.
#[utoipa::path(get, path = "/residents/{resident_id}/administrations", tag = "care",
    params(("resident_id" = ResidentId, Path), PeriodQuery),
    responses((status = 200, body = Vec<Administration>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list_administrations(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    Query(period): Query<PeriodQuery>,
) -> Result<Json<Vec<Administration>>, ApiError> {
    Ok(Json(administrations::list(state.app(), &scope, resident, period.from, period.to).await?))
}

/// Flags a dose's record as entered in error: it stays, flagged with who, when and why, and the
/// dose is owed again.
#[utoipa::path(post, path = "/residents/{resident_id}/administrations/{administration_id}/entered-in-error", tag = "care",
    params(("resident_id" = ResidentId, Path), ("administration_id" = AdministrationId, Path)),
    request_body = FlagEntryError,
    responses((status = 200, body = Administration), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn flag_administration(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, AdministrationId)>,
    Json(body): Json<FlagEntryError>,
) -> Result<Json<Administration>, ApiError> {
    Ok(Json(administrations::flag_error(state.app(), &scope, resident, id, &body.reason).await?))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(dose_plan))
        .routes(routes!(list_administrations, record_dose))
        .routes(routes!(flag_administration))
}
