//! The falls register: a fall recorded, corrected by amendments, flagged when entered in error;
//! a person's register with the counts of the last 6 and 12 months; an establishment's falls
//! for its quality referent and its director (without what is said about each fall).

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use dui_app::falls::{self, AmendFall, Period, RecordFall};
use dui_domain::fall::{Consequence, Discovery, EstablishmentFalls, FallInput, FallPlace, FallRecord, FallRegister};
use dui_domain::{EstablishmentId, FallId, ResidentId};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{CreateRequest, IdempotencyHeader, Json, Path, Query, created};
use crate::problem::{ApiError, Problem};
use crate::routes::alerts::FlagEntryError;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFall {
    /// When the person fell (or was found on the floor).
    pub occurred_at: DateTime<Utc>,
    pub place: FallPlace,
    /// Where exactly: required when the place is `other`.
    #[schema(max_length = 200)]
    pub place_detail: Option<String>,
    /// Seen falling, or found on the floor.
    pub discovery: Discovery,
    /// What happened, as far as is known.
    #[schema(max_length = 2000)]
    pub circumstances: String,
    /// What the person was doing (getting up at night, going to the toilet, a transfer...).
    #[schema(max_length = 200)]
    pub activity: Option<String>,
    /// What came of it: `none` alone, or the consequences.
    #[schema(min_items = 1)]
    pub consequences: Vec<Consequence>,
    /// What the consequences were: required with `other`.
    #[schema(max_length = 2000)]
    pub consequence_detail: Option<String>,
    /// The care given (checks, first aid, monitoring).
    #[schema(max_length = 2000)]
    pub care_given: Option<String>,
    /// When the physician was told (not before the fall).
    pub physician_informed_at: Option<DateTime<Utc>>,
    /// Which physician: with `physician_informed_at`.
    #[schema(max_length = 200)]
    pub physician_informed: Option<String>,
    /// When a relative or the trusted person was told (not before the fall).
    pub family_informed_at: Option<DateTime<Utc>>,
    /// Who: with `family_informed_at`.
    #[schema(max_length = 200)]
    pub family_informed: Option<String>,
}

impl CreateFall {
    fn into_input(self) -> FallInput {
        FallInput {
            occurred_at: self.occurred_at,
            place: self.place,
            place_detail: self.place_detail,
            discovery: self.discovery,
            circumstances: self.circumstances,
            activity: self.activity,
            consequences: self.consequences,
            consequence_detail: self.consequence_detail,
            care_given: self.care_given,
            physician_informed_at: self.physician_informed_at,
            physician_informed: self.physician_informed,
            family_informed_at: self.family_informed_at,
            family_informed: self.family_informed,
        }
    }
}

/// Records a fall: when, where, seen or found on the floor, the circumstances, what came of it,
/// the care given, who was told and when. By those who give care; filed in the establishment of
/// the person's stay.
#[utoipa::path(post, path = "/residents/{resident_id}/falls", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateFall,
    responses((status = 201, body = FallRecord), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_fall(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateFall>,
) -> Result<Response, ApiError> {
    let command = RecordFall { resident, fall: body.into_input(), key };
    Ok(created(falls::record(state.app(), &scope, command).await?))
}

/// Corrects a fall (named by its id or any of its records' ids): a new record pointing to the
/// fall's first (`amends`) that replaces what it says — a fracture confirmed the next day, a time
/// corrected; every record stays. By any of the care team.
#[utoipa::path(post, path = "/residents/{resident_id}/falls/{fall_id}/amendments", tag = "care",
    params(("resident_id" = ResidentId, Path), ("fall_id" = FallId, Path), IdempotencyHeader), request_body = CreateFall,
    responses((status = 201, body = FallRecord), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn amend_fall(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, fall)): Path<(ResidentId, FallId)>,
    CreateRequest { body, key }: CreateRequest<CreateFall>,
) -> Result<Response, ApiError> {
    let command = AmendFall { resident, fall, corrected: body.into_input(), key };
    Ok(created(falls::amend(state.app(), &scope, command).await?))
}

/// Flags a fall as entered in error: it stays, flagged with who, when and why, and no longer
/// counts.
#[utoipa::path(post, path = "/residents/{resident_id}/falls/{fall_id}/entered-in-error", tag = "care",
    params(("resident_id" = ResidentId, Path), ("fall_id" = FallId, Path)), request_body = FlagEntryError,
    responses((status = 200, body = FallRecord), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn flag_fall(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, fall)): Path<(ResidentId, FallId)>,
    Json(body): Json<FlagEntryError>,
) -> Result<Json<FallRecord>, ApiError> {
    Ok(Json(falls::flag_error(state.app(), &scope, resident, fall, &body.reason).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodParams {
    /// From (inclusive; default: 12 months before `to`).
    pub from: Option<DateTime<Utc>>,
    /// To (exclusive; default: now).
    pub to: Option<DateTime<Utc>>,
}

impl PeriodParams {
    fn period(&self) -> Period {
        Period { from: self.from, to: self.to }
    }
}

/// A person's falls register over a period (default: the last 12 months; at most ten years):
/// each fall as its latest record says, newest first, those entered in error flagged; the falls
/// of the 6 and 12 months up to the period's end, and `recurrent` — two or more in 12 months,
/// chutes répétées (HAS 2009). The care team reads it in full; a director of the establishment
/// reads it without `details`; others read an empty register.
#[utoipa::path(get, path = "/residents/{resident_id}/falls", tag = "care",
    params(("resident_id" = ResidentId, Path), PeriodParams),
    responses((status = 200, body = FallRegister), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn fall_register(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    Query(params): Query<PeriodParams>,
) -> Result<Json<FallRegister>, ApiError> {
    Ok(Json(falls::register(state.app(), &scope, resident, params.period()).await?))
}

/// The falls of an establishment over a period (default: the last 12 months; at most a year),
/// newest first, with whom they happened to, the count, the serious ones and the people who fell
/// twice or more: for the care team in full, for the director without `details` (`view`). Each
/// person shown is recorded as read.
#[utoipa::path(get, path = "/establishments/{establishment_id}/falls", tag = "care",
    params(("establishment_id" = EstablishmentId, Path), PeriodParams),
    responses((status = 200, body = EstablishmentFalls), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn establishment_falls(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(establishment): Path<EstablishmentId>,
    Query(params): Query<PeriodParams>,
) -> Result<Json<EstablishmentFalls>, ApiError> {
    Ok(Json(falls::of_establishment(state.app(), &scope, establishment, params.period()).await?))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(fall_register, create_fall))
        .routes(routes!(amend_fall))
        .routes(routes!(flag_fall))
        .routes(routes!(establishment_falls))
}
