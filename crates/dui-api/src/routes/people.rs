//! The caller, the tenant's users, their memberships and external identities.

use axum::extract::State;
use axum::http::StatusCode;
use dui_app::people;
use dui_domain::people::{ExternalIdentity, Membership, Profession, Role, User, UserKind, UserStatus};
use dui_domain::tenant::{IdentityProvider, TenantStatus};
use dui_domain::{EstablishmentId, IdentityProviderId, MembershipId, TenantId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use axum::response::Response;

use crate::extract::{CreateRequest, IdempotencyHeader, Json, Path, Query, created, nullable};
use crate::pagination::{ListParams, PageBody};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub type UserPage = PageBody<User>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// `person` (default) or `service`.
    pub kind: Option<UserKind>,
    pub family_name: String,
    /// Required for a person.
    pub given_name: Option<String>,
    pub profession: Option<Profession>,
    /// 11 digits.
    pub rpps: Option<String>,
    /// 9 characters.
    pub adeli: Option<String>,
    pub email: Option<String>,
}

impl CreateUser {
    pub fn into_command(self, key: Option<dui_domain::idempotency::IdempotencyKey>) -> people::CreateUser {
        people::CreateUser {
            kind: self.kind,
            family_name: self.family_name,
            given_name: self.given_name,
            profession: self.profession,
            rpps: self.rpps,
            adeli: self.adeli,
            email: self.email,
            key,
        }
    }
}

/// Absent fields stay as they are; `null` clears an optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Profession>)]
    pub profession: Option<Option<Profession>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub rpps: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub adeli: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// `disabled` refuses the user's tokens at once.
    pub status: Option<UserStatus>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMembership {
    /// Absent or null: the role applies to the whole tenant.
    pub establishment_id: Option<EstablishmentId>,
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkExternalIdentity {
    /// The value of the provider's subject claim for this user.
    pub subject: String,
}

/// The tenant, as its users see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantSummary {
    pub id: TenantId,
    pub name: String,
    pub status: TenantStatus,
}

/// Who you are: your account, your tenant, your current roles.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user: User,
    pub tenant: TenantSummary,
    pub memberships: Vec<Membership>,
}

#[utoipa::path(get, path = "/me", tag = "people", responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn me(State(state): State<AppState>, TenantAuth(scope): TenantAuth) -> Result<Json<Me>, ApiError> {
    let me = people::me(state.app(), &scope).await?;
    Ok(Json(Me {
        user: me.user,
        tenant: TenantSummary { id: me.tenant.id, name: me.tenant.name, status: me.tenant.status },
        memberships: me.memberships,
    }))
}

/// The tenant's users (tenant admins and directors).
#[utoipa::path(get, path = "/users", tag = "people", params(ListParams),
    responses((status = 200, body = PageBody<User>), (status = 403, body = Problem)))]
pub async fn list_users(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Query(params): Query<ListParams>,
) -> Result<Json<UserPage>, ApiError> {
    let page = params.page()?;
    Ok(Json(people::list_users(state.app(), &scope, page).await?.into()))
}

/// Creates a user (tenant admins).
#[utoipa::path(post, path = "/users", tag = "people", params(IdempotencyHeader), request_body = CreateUser,
    responses((status = 201, body = User), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_user(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    CreateRequest { body, key }: CreateRequest<CreateUser>,
) -> Result<Response, ApiError> {
    Ok(created(people::create_user(state.app(), &scope, body.into_command(key)).await?))
}

/// One user: yourself, or anyone for tenant admins and directors.
#[utoipa::path(get, path = "/users/{user_id}", tag = "people", params(("user_id" = UserId, Path)),
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_user(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<UserId>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(people::get_user(state.app(), &scope, id).await?))
}

/// Changes a user; `"status": "disabled"` refuses their tokens at once (tenant admins).
#[utoipa::path(patch, path = "/users/{user_id}", tag = "people", params(("user_id" = UserId, Path)),
    request_body = UpdateUser,
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_user(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<UserId>,
    Json(body): Json<UpdateUser>,
) -> Result<Json<User>, ApiError> {
    let change = people::ChangeUser {
        family_name: body.family_name,
        given_name: body.given_name,
        profession: body.profession,
        rpps: body.rpps,
        adeli: body.adeli,
        email: body.email,
        status: body.status,
    };
    Ok(Json(people::update_user(state.app(), &scope, id, change).await?))
}

/// A user's memberships, current and ended.
#[utoipa::path(get, path = "/users/{user_id}/memberships", tag = "people", params(("user_id" = UserId, Path)),
    responses((status = 200, body = Vec<Membership>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_memberships(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(user): Path<UserId>,
) -> Result<Json<Vec<Membership>>, ApiError> {
    Ok(Json(people::list_memberships(state.app(), &scope, user).await?))
}

/// Gives a user a role in an establishment, or tenant-wide (tenant admins; directors in their
/// establishments for care and support roles).
#[utoipa::path(post, path = "/users/{user_id}/memberships", tag = "people", params(("user_id" = UserId, Path), IdempotencyHeader),
    request_body = CreateMembership,
    responses((status = 201, body = Membership), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_membership(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(user): Path<UserId>,
    CreateRequest { body, key }: CreateRequest<CreateMembership>,
) -> Result<Response, ApiError> {
    Ok(created(people::add_membership(state.app(), &scope, user, body.establishment_id, body.role, key).await?))
}

/// Ends a membership. The record stays: who could see what, when, must remain known.
#[utoipa::path(post, path = "/memberships/{membership_id}/end", tag = "people",
    params(("membership_id" = MembershipId, Path)),
    responses((status = 200, body = Membership), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn end_membership(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<MembershipId>,
) -> Result<Json<Membership>, ApiError> {
    Ok(Json(people::end_membership(state.app(), &scope, id).await?))
}

/// The identity providers configured for your tenant (tenant admins).
#[utoipa::path(get, path = "/identity-providers", tag = "people",
    responses((status = 200, body = Vec<IdentityProvider>), (status = 403, body = Problem)))]
pub async fn list_identity_providers(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
) -> Result<Json<Vec<IdentityProvider>>, ApiError> {
    Ok(Json(people::identity_providers(state.app(), &scope).await?))
}

#[utoipa::path(get, path = "/users/{user_id}/external-identities", tag = "people", params(("user_id" = UserId, Path)),
    responses((status = 200, body = Vec<ExternalIdentity>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_external_identities(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(user): Path<UserId>,
) -> Result<Json<Vec<ExternalIdentity>>, ApiError> {
    Ok(Json(people::external_identities(state.app(), &scope, user).await?))
}

/// Links a user to their identity at a provider: tokens of that provider whose subject claim has
/// this value then authenticate this user (tenant admins).
#[utoipa::path(put, path = "/users/{user_id}/external-identities/{provider_id}", tag = "people",
    params(("user_id" = UserId, Path), ("provider_id" = IdentityProviderId, Path)), request_body = LinkExternalIdentity,
    responses((status = 200, body = ExternalIdentity), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn link_external_identity(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((user, provider)): Path<(UserId, IdentityProviderId)>,
    Json(body): Json<LinkExternalIdentity>,
) -> Result<Json<ExternalIdentity>, ApiError> {
    Ok(Json(people::link_external_identity(state.app(), &scope, user, provider, &body.subject).await?))
}

#[utoipa::path(delete, path = "/users/{user_id}/external-identities/{provider_id}", tag = "people",
    params(("user_id" = UserId, Path), ("provider_id" = IdentityProviderId, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn unlink_external_identity(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((user, provider)): Path<(UserId, IdentityProviderId)>,
) -> Result<StatusCode, ApiError> {
    people::unlink_external_identity(state.app(), &scope, user, provider).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
        .routes(routes!(list_memberships, create_membership))
        .routes(routes!(end_membership))
        .routes(routes!(list_external_identities))
        .routes(routes!(link_external_identity, unlink_external_identity))
        .routes(routes!(list_identity_providers))
}
