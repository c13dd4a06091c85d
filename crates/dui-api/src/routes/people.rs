//! The caller, the tenant's users, their memberships and external identities.

use axum::extract::State;
use axum::http::StatusCode;
use dui_domain::people::{
    ExternalIdentity, Membership, NewUser, Profession, Role, User, UserChanges, UserChangesInput, UserInput, UserKind,
    UserStatus,
};
use dui_domain::tenant::{IdentityProvider, TenantStatus};
use dui_domain::validation::{self, ValidationErrors};
use dui_domain::{EstablishmentId, IdentityProviderId, MembershipId, TenantId, UserId, policy};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
    pub fn validate(&self) -> Result<NewUser, ValidationErrors> {
        NewUser::validate(UserInput {
            kind: self.kind,
            family_name: Some(&self.family_name),
            given_name: self.given_name.as_deref(),
            profession: self.profession,
            rpps: self.rpps.as_deref(),
            adeli: self.adeli.as_deref(),
            email: self.email.as_deref(),
        })
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

fn forbidden(what: &str) -> ApiError {
    ApiError::Forbidden(format!("Your roles do not allow you to {what}."))
}

#[utoipa::path(get, path = "/me", tag = "people", responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn me(State(state): State<AppState>, TenantAuth(scope): TenantAuth) -> Result<Json<Me>, ApiError> {
    let db = state.db();
    let (user, memberships, tenant) = tokio::try_join!(
        db.get_user(&scope, scope.user_id()),
        db.list_memberships(&scope, scope.user_id()),
        db.tenant_by_id(scope.tenant_id()),
    )?;
    let tenant = tenant.ok_or(ApiError::NotFound)?;
    Ok(Json(Me {
        user,
        tenant: TenantSummary { id: tenant.id, name: tenant.name, status: tenant.status },
        memberships: memberships.into_iter().filter(|m| m.ended_at.is_none()).collect(),
    }))
}

/// The tenant's users (tenant admins and directors).
#[utoipa::path(get, path = "/users", tag = "people", params(ListParams),
    responses((status = 200, body = UserPage), (status = 403, body = Problem)))]
pub async fn list_users(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Query(params): Query<ListParams>,
) -> Result<Json<UserPage>, ApiError> {
    let page = params.page()?;
    if !policy::can_read_users(&scope) {
        return Err(forbidden("list users"));
    }
    Ok(Json(state.db().list_users(&scope, page).await?.into()))
}

/// Creates a user (tenant admins).
#[utoipa::path(post, path = "/users", tag = "people", params(IdempotencyHeader), request_body = CreateUser,
    responses((status = 201, body = User), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_user(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    CreateRequest { body, key }: CreateRequest<CreateUser>,
) -> Result<Response, ApiError> {
    if !policy::can_manage_users(&scope) {
        return Err(forbidden("create users"));
    }
    let new = body.validate()?;
    Ok(created(state.db().create_user(&scope, key.as_ref(), &new).await?))
}

/// One user: yourself, or anyone for tenant admins and directors.
#[utoipa::path(get, path = "/users/{user_id}", tag = "people", params(("user_id" = UserId, Path)),
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_user(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<UserId>,
) -> Result<Json<User>, ApiError> {
    if id != scope.user_id() && !policy::can_read_users(&scope) {
        return Err(forbidden("see other users"));
    }
    Ok(Json(state.db().get_user(&scope, id).await?))
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
    if !policy::can_manage_users(&scope) {
        return Err(forbidden("change users"));
    }
    let changes = UserChanges::validate(UserChangesInput {
        family_name: body.family_name.as_deref(),
        given_name: body.given_name.as_deref(),
        profession: body.profession,
        rpps: body.rpps.as_ref().map(Option::as_deref),
        adeli: body.adeli.as_ref().map(Option::as_deref),
        email: body.email.as_ref().map(Option::as_deref),
        status: body.status,
    })?;
    if id == scope.user_id() && changes.status == Some(UserStatus::Disabled) {
        return Err(ValidationErrors::single("status", "you cannot disable your own account").into());
    }
    Ok(Json(state.db().update_user(&scope, id, &changes).await?))
}

/// A user's memberships, current and ended.
#[utoipa::path(get, path = "/users/{user_id}/memberships", tag = "people", params(("user_id" = UserId, Path)),
    responses((status = 200, body = Vec<Membership>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_memberships(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(user): Path<UserId>,
) -> Result<Json<Vec<Membership>>, ApiError> {
    if user != scope.user_id() && !policy::can_read_users(&scope) {
        return Err(forbidden("see other users"));
    }
    state.db().get_user(&scope, user).await?;
    Ok(Json(state.db().list_memberships(&scope, user).await?))
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
    policy::membership_shape(body.establishment_id, body.role)
        .map_err(|message| ValidationErrors::single("establishment_id", message))?;
    if !policy::can_manage_membership(&scope, body.establishment_id, body.role) {
        return Err(forbidden("give this role here"));
    }
    Ok(created(state.db().add_membership(&scope, key.as_ref(), user, body.establishment_id, body.role).await?))
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
    let membership = state.db().get_membership(&scope, id).await?;
    if !policy::can_manage_membership(&scope, membership.establishment_id, membership.role) {
        return Err(forbidden("end this membership"));
    }
    Ok(Json(state.db().end_membership(&scope, id).await?))
}

/// The identity providers configured for your tenant (tenant admins).
#[utoipa::path(get, path = "/identity-providers", tag = "people",
    responses((status = 200, body = Vec<IdentityProvider>), (status = 403, body = Problem)))]
pub async fn list_identity_providers(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
) -> Result<Json<Vec<IdentityProvider>>, ApiError> {
    if !policy::can_manage_users(&scope) {
        return Err(forbidden("see identity providers"));
    }
    Ok(Json(state.db().list_identity_providers(scope.tenant_id()).await?))
}

#[utoipa::path(get, path = "/users/{user_id}/external-identities", tag = "people", params(("user_id" = UserId, Path)),
    responses((status = 200, body = Vec<ExternalIdentity>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_external_identities(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(user): Path<UserId>,
) -> Result<Json<Vec<ExternalIdentity>>, ApiError> {
    if !policy::can_manage_users(&scope) {
        return Err(forbidden("see external identities"));
    }
    state.db().get_user(&scope, user).await?;
    Ok(Json(state.db().list_external_identities(&scope, user).await?))
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
    if !policy::can_manage_users(&scope) {
        return Err(forbidden("link external identities"));
    }
    let subject = validation::text(&body.subject, 1, 255).map_err(|m| ValidationErrors::single("subject", m))?;
    let providers = state.db().list_identity_providers(scope.tenant_id()).await?;
    if !providers.iter().any(|p| p.id == provider) {
        return Err(ApiError::NotFound);
    }
    Ok(Json(state.db().link_external_identity(&scope, user, provider, &subject).await?))
}

#[utoipa::path(delete, path = "/users/{user_id}/external-identities/{provider_id}", tag = "people",
    params(("user_id" = UserId, Path), ("provider_id" = IdentityProviderId, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn unlink_external_identity(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((user, provider)): Path<(UserId, IdentityProviderId)>,
) -> Result<StatusCode, ApiError> {
    if !policy::can_manage_users(&scope) {
        return Err(forbidden("unlink external identities"));
    }
    state.db().unlink_external_identity(&scope, user, provider).await?;
    Ok(StatusCode::NO_CONTENT)
}
