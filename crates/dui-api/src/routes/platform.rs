//! The platform API: tenants and their identity providers, for platform operators. Nothing here
//! reads a tenant's residents or their records.

use axum::extract::State;
use axum::http::StatusCode;
use dui_app::platform::{self, Operator};
use dui_domain::people::{Membership, User};
use dui_domain::tenant::{IdentityProvider, Tenant, TenantStatus};
use dui_domain::{IdentityProviderId, TenantId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::auth::PlatformAuth;
use crate::extract::{Json, Path, Query};
use crate::pagination::{ListParams, PageBody};
use crate::problem::{ApiError, Problem};
use crate::routes::people::CreateUser;
use crate::state::AppState;

pub type TenantPage = PageBody<Tenant>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// The organisme gestionnaire's name.
    pub name: String,
    /// Its FINESS juridique (9 characters).
    pub finess_juridique: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIdentityProvider {
    pub label: String,
    pub issuer: String,
    pub audience: String,
    pub jwks_url: String,
    /// Defaults to `sub`.
    pub subject_claim: Option<String>,
}

/// A tenant administrator created by the platform, with their tenant-wide membership.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedAdmin {
    pub user: User,
    pub membership: Membership,
}

#[utoipa::path(get, path = "/tenants", tag = "platform", params(ListParams),
    responses((status = 200, body = PageBody<Tenant>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_tenants(
    State(state): State<AppState>,
    PlatformAuth(scope, request): PlatformAuth,
    Query(params): Query<ListParams>,
) -> Result<Json<TenantPage>, ApiError> {
    Ok(Json(platform::list_tenants(state.app(), Operator::of(&scope, &request), params.page()?).await?.into()))
}

#[utoipa::path(post, path = "/tenants", tag = "platform", request_body = CreateTenant,
    responses((status = 201, body = Tenant), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_tenant(
    State(state): State<AppState>,
    PlatformAuth(scope, request): PlatformAuth,
    Json(body): Json<CreateTenant>,
) -> Result<(StatusCode, Json<Tenant>), ApiError> {
    let operator = Operator::of(&scope, &request);
    let created = platform::create_tenant(state.app(), operator, &body.name, &body.finess_juridique).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/tenants/{tenant_id}", tag = "platform", params(("tenant_id" = TenantId, Path)),
    responses((status = 200, body = Tenant), (status = 404, body = Problem)))]
pub async fn get_tenant(
    State(state): State<AppState>,
    PlatformAuth(scope, request): PlatformAuth,
    Path(id): Path<TenantId>,
) -> Result<Json<Tenant>, ApiError> {
    Ok(Json(platform::get_tenant(state.app(), Operator::of(&scope, &request), id).await?))
}

/// Suspends a tenant: its users' tokens are refused from the next request on. Data is kept.
#[utoipa::path(post, path = "/tenants/{tenant_id}/suspend", tag = "platform", params(("tenant_id" = TenantId, Path)),
    responses((status = 200, body = Tenant), (status = 404, body = Problem)))]
pub async fn suspend_tenant(
    State(state): State<AppState>,
    PlatformAuth(scope, request): PlatformAuth,
    Path(id): Path<TenantId>,
) -> Result<Json<Tenant>, ApiError> {
    let tenant = platform::set_status(state.app(), Operator::of(&scope, &request), id, TenantStatus::Suspended).await?;
    state.providers().invalidate();
    Ok(Json(tenant))
}

#[utoipa::path(post, path = "/tenants/{tenant_id}/resume", tag = "platform", params(("tenant_id" = TenantId, Path)),
    responses((status = 200, body = Tenant), (status = 404, body = Problem)))]
pub async fn resume_tenant(
    State(state): State<AppState>,
    PlatformAuth(scope, request): PlatformAuth,
    Path(id): Path<TenantId>,
) -> Result<Json<Tenant>, ApiError> {
    let tenant = platform::set_status(state.app(), Operator::of(&scope, &request), id, TenantStatus::Active).await?;
    state.providers().invalidate();
    Ok(Json(tenant))
}

/// Creates a tenant administrator: the first account of a new tenant, from which the
/// organisation runs its own administration.
#[utoipa::path(post, path = "/tenants/{tenant_id}/admins", tag = "platform", params(("tenant_id" = TenantId, Path)),
    request_body = CreateUser,
    responses((status = 201, body = CreatedAdmin), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_tenant_admin(
    State(state): State<AppState>,
    PlatformAuth(scope, request): PlatformAuth,
    Path(id): Path<TenantId>,
    Json(body): Json<CreateUser>,
) -> Result<(StatusCode, Json<CreatedAdmin>), ApiError> {
    let admin = body.into_command(None);
    let (user, membership) = platform::create_admin(state.app(), Operator::of(&scope, &request), id, admin).await?;
    Ok((StatusCode::CREATED, Json(CreatedAdmin { user, membership })))
}

#[utoipa::path(get, path = "/tenants/{tenant_id}/identity-providers", tag = "platform",
    params(("tenant_id" = TenantId, Path)),
    responses((status = 200, body = Vec<IdentityProvider>), (status = 404, body = Problem)))]
pub async fn list_identity_providers(
    State(state): State<AppState>,
    PlatformAuth(scope, request): PlatformAuth,
    Path(id): Path<TenantId>,
) -> Result<Json<Vec<IdentityProvider>>, ApiError> {
    Ok(Json(platform::identity_providers(state.app(), Operator::of(&scope, &request), id).await?))
}

/// Trusts an OpenID Connect issuer for a tenant. Its tokens must carry this audience; the
/// pair (issuer, audience) designates the tenant.
#[utoipa::path(post, path = "/tenants/{tenant_id}/identity-providers", tag = "platform",
    params(("tenant_id" = TenantId, Path)), request_body = CreateIdentityProvider,
    responses((status = 201, body = IdentityProvider), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_identity_provider(
    State(state): State<AppState>,
    PlatformAuth(scope, request): PlatformAuth,
    Path(id): Path<TenantId>,
    Json(body): Json<CreateIdentityProvider>,
) -> Result<(StatusCode, Json<IdentityProvider>), ApiError> {
    let provider = platform::NewProvider {
        label: body.label,
        issuer: body.issuer,
        audience: body.audience,
        jwks_url: body.jwks_url,
        subject_claim: body.subject_claim,
    };
    let created = platform::create_identity_provider(state.app(), Operator::of(&scope, &request), id, provider).await?;
    state.providers().invalidate();
    Ok((StatusCode::CREATED, Json(created)))
}

/// Stops trusting an issuer. Refused (409) while users are linked to it.
#[utoipa::path(delete, path = "/tenants/{tenant_id}/identity-providers/{provider_id}", tag = "platform",
    params(("tenant_id" = TenantId, Path), ("provider_id" = IdentityProviderId, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_identity_provider(
    State(state): State<AppState>,
    PlatformAuth(scope, request): PlatformAuth,
    Path((tenant, provider)): Path<(TenantId, IdentityProviderId)>,
) -> Result<StatusCode, ApiError> {
    platform::delete_identity_provider(state.app(), Operator::of(&scope, &request), tenant, provider).await?;
    state.providers().invalidate();
    Ok(StatusCode::NO_CONTENT)
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant))
        .routes(routes!(suspend_tenant))
        .routes(routes!(resume_tenant))
        .routes(routes!(create_tenant_admin))
        .routes(routes!(list_identity_providers, create_identity_provider))
        .routes(routes!(delete_identity_provider))
}
