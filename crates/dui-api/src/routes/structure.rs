//! Establishments and units of the caller's tenant.

use axum::extract::State;
use dui_app::{settings, structure};
use dui_domain::pagination::PageRequest;
use dui_domain::people::Role;
use dui_domain::settings::{CareSettings, SettingsChange};
use dui_domain::structure::{Establishment, EstablishmentCategory, StructureStatus, Unit};
use dui_domain::{EstablishmentId, UnitId};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use axum::response::Response;

use crate::extract::{CreateRequest, IdempotencyHeader, Json, Path, Query, created as created_response};
use crate::pagination::{ListParams, PageBody};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub type EstablishmentPage = PageBody<Establishment>;
pub type UnitPage = PageBody<Unit>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEstablishment {
    /// FINESS géographique (9 characters).
    pub finess: String,
    pub name: String,
    pub category: EstablishmentCategory,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEstablishment {
    pub name: Option<String>,
    pub category: Option<EstablishmentCategory>,
    pub status: Option<StructureStatus>,
    /// IANA time zone (default `Europe/Paris`; `Indian/Reunion`, `America/Martinique`...).
    pub timezone: Option<String>,
    /// When shifts start, local time: `["07:00", "14:00", "21:00"]` by default.
    pub shift_starts: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUnit {
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUnit {
    pub name: Option<String>,
    pub status: Option<StructureStatus>,
}

/// The establishments you work in (all of them for tenant-wide roles).
#[utoipa::path(get, path = "/establishments", tag = "structure", params(ListParams),
    responses((status = 200, body = PageBody<Establishment>), (status = 400, body = Problem), (status = 401, body = Problem)))]
pub async fn list_establishments(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Query(params): Query<ListParams>,
) -> Result<Json<EstablishmentPage>, ApiError> {
    Ok(Json(structure::list_establishments(state.app(), &scope, params.page()?).await?.into()))
}

/// Creates an establishment or service (tenant admins).
#[utoipa::path(post, path = "/establishments", tag = "structure", params(IdempotencyHeader), request_body = CreateEstablishment,
    responses((status = 201, body = Establishment), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_establishment(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    CreateRequest { body, key }: CreateRequest<CreateEstablishment>,
) -> Result<Response, ApiError> {
    let created =
        structure::create_establishment(state.app(), &scope, &body.finess, &body.name, body.category, key).await?;
    Ok(created_response(created))
}

#[utoipa::path(get, path = "/establishments/{establishment_id}", tag = "structure",
    params(("establishment_id" = EstablishmentId, Path)),
    responses((status = 200, body = Establishment), (status = 404, body = Problem)))]
pub async fn get_establishment(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<EstablishmentId>,
) -> Result<Json<Establishment>, ApiError> {
    Ok(Json(structure::get_establishment(state.app(), &scope, id).await?))
}

/// Renames, recategorises, closes or reopens an establishment (tenant admins).
#[utoipa::path(patch, path = "/establishments/{establishment_id}", tag = "structure",
    params(("establishment_id" = EstablishmentId, Path)), request_body = UpdateEstablishment,
    responses((status = 200, body = Establishment), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_establishment(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<EstablishmentId>,
    Json(body): Json<UpdateEstablishment>,
) -> Result<Json<Establishment>, ApiError> {
    let change = structure::ChangeEstablishment {
        name: body.name,
        category: body.category,
        status: body.status,
        timezone: body.timezone,
        shift_starts: body.shift_starts,
    };
    Ok(Json(structure::update_establishment(state.app(), &scope, id, change).await?))
}

#[utoipa::path(get, path = "/establishments/{establishment_id}/units", tag = "structure",
    params(("establishment_id" = EstablishmentId, Path), ListParams),
    responses((status = 200, body = PageBody<Unit>), (status = 404, body = Problem)))]
pub async fn list_units(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(establishment): Path<EstablishmentId>,
    Query(params): Query<ListParams>,
) -> Result<Json<UnitPage>, ApiError> {
    let page: PageRequest = params.page()?;
    Ok(Json(structure::list_units(state.app(), &scope, establishment, page).await?.into()))
}

/// Creates a unit (tenant admins, and directors of the establishment).
#[utoipa::path(post, path = "/establishments/{establishment_id}/units", tag = "structure",
    params(("establishment_id" = EstablishmentId, Path), IdempotencyHeader), request_body = CreateUnit,
    responses((status = 201, body = Unit), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn create_unit(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(establishment): Path<EstablishmentId>,
    CreateRequest { body, key }: CreateRequest<CreateUnit>,
) -> Result<Response, ApiError> {
    Ok(created_response(structure::create_unit(state.app(), &scope, establishment, &body.name, key).await?))
}

#[utoipa::path(get, path = "/units/{unit_id}", tag = "structure", params(("unit_id" = UnitId, Path)),
    responses((status = 200, body = Unit), (status = 404, body = Problem)))]
pub async fn get_unit(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<UnitId>,
) -> Result<Json<Unit>, ApiError> {
    Ok(Json(structure::get_unit(state.app(), &scope, id).await?))
}

/// Renames, closes or reopens a unit (tenant admins, and directors of its establishment).
#[utoipa::path(patch, path = "/units/{unit_id}", tag = "structure", params(("unit_id" = UnitId, Path)),
    request_body = UpdateUnit,
    responses((status = 200, body = Unit), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn update_unit(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<UnitId>,
    Json(body): Json<UpdateUnit>,
) -> Result<Json<Unit>, ApiError> {
    Ok(Json(structure::update_unit(state.app(), &scope, id, body.name.as_deref(), body.status).await?))
}

/// A change of the tenant's settings of care: what is left out stays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettings {
    /// The version read (0 while the defaults apply): a change made meanwhile is a 409.
    pub expected_version: i32,
    /// The roles that validate an AGGIR assessment, i.e. the GIR (default:
    /// `["coordinating_physician"]`).
    #[schema(min_items = 1)]
    pub aggir_validators: Option<Vec<GirValidator>>,
    /// Minutes after its time at which a task not recorded is missed (61 to 1440; default 240).
    #[schema(minimum = 61, maximum = 1440)]
    pub task_missed_after_minutes: Option<u32>,
}

/// A role that may be given the validation of the GIR.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GirValidator {
    Director,
    CoordinatingPhysician,
    Nurse,
    Psychologist,
    SocialWorker,
    Educator,
}

impl From<GirValidator> for Role {
    fn from(role: GirValidator) -> Self {
        match role {
            GirValidator::Director => Role::Director,
            GirValidator::CoordinatingPhysician => Role::CoordinatingPhysician,
            GirValidator::Nurse => Role::Nurse,
            GirValidator::Psychologist => Role::Psychologist,
            GirValidator::SocialWorker => Role::SocialWorker,
            GirValidator::Educator => Role::Educator,
        }
    }
}

/// The tenant's settings of care (the defaults until an administrator changes them).
#[utoipa::path(get, path = "/settings", tag = "structure",
    responses((status = 200, body = CareSettings), (status = 401, body = Problem)))]
pub async fn get_settings(State(state): State<AppState>, TenantAuth(scope): TenantAuth) -> Result<Json<CareSettings>, ApiError> {
    Ok(Json(settings::get(state.app(), &scope).await?))
}

/// Changes the tenant's settings of care (tenant admins).
#[utoipa::path(patch, path = "/settings", tag = "structure", request_body = UpdateSettings,
    responses((status = 200, body = CareSettings), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_settings(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Json(body): Json<UpdateSettings>,
) -> Result<Json<CareSettings>, ApiError> {
    let change = SettingsChange {
        aggir_validators: body.aggir_validators.map(|roles| roles.into_iter().map(Role::from).collect()),
        task_missed_after_minutes: body.task_missed_after_minutes,
    };
    Ok(Json(settings::change(state.app(), &scope, change, body.expected_version).await?))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list_establishments, create_establishment))
        .routes(routes!(get_establishment, update_establishment))
        .routes(routes!(list_units, create_unit))
        .routes(routes!(get_unit, update_unit))
        .routes(routes!(get_settings, update_settings))
}
