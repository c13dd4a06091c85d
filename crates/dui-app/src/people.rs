//! The caller, the tenant's users, their memberships and their external identities.

use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::people::{
    ExternalIdentity, Membership, NewUser, Profession, Role, User, UserChanges, UserChangesInput, UserInput, UserKind,
    UserStatus,
};
use dui_domain::scope::TenantScope;
use dui_domain::tenant::{IdentityProvider, Tenant};
use dui_domain::validation;
use dui_domain::{EstablishmentId, IdentityProviderId, MembershipId, UserId, policy};
use dui_storage::{Mode, people as store};

use crate::{App, AppError, AppResult};

fn forbidden(what: &str) -> AppError {
    AppError::Forbidden(format!("Your roles do not allow you to {what}."))
}

/// Who the caller is: their account, their tenant, their current memberships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Me {
    pub user: User,
    pub tenant: Tenant,
    pub memberships: Vec<Membership>,
}

/// The caller's account, tenant and current roles.
pub async fn me(app: &App, scope: &TenantScope) -> AppResult<Me> {
    let mut tx = app.db().begin(scope, Mode::Read);
    let user = store::get_user(&mut tx, scope.user_id()).await?;
    let memberships = store::list_memberships(&mut tx, scope.user_id()).await?;
    tx.commit().await?;
    let tenant = app.db().tenant_by_id(scope.tenant_id()).await?.ok_or(AppError::NotFound)?;
    Ok(Me { user, tenant, memberships: memberships.into_iter().filter(|m| m.ended_at.is_none()).collect() })
}

/// The tenant's users (tenant administrators and directors).
pub async fn list_users(app: &App, scope: &TenantScope, page: PageRequest) -> AppResult<Page<User>> {
    if !policy::can_read_users(scope) {
        return Err(forbidden("list users"));
    }
    Ok(store::list_users(app.db().begin(scope, Mode::Read), page).await?)
}

/// A professional's name as the staff directory has it, for a document that names who does
/// what (the directory is not resident data).
pub async fn professional_name(app: &App, scope: &TenantScope, user: UserId) -> AppResult<String> {
    let mut tx = app.db().begin(scope, Mode::Read);
    let found = store::get_user(&mut tx, user).await?;
    tx.commit().await?;
    Ok(format!("{} {}", found.given_name, found.family_name))
}

/// A user to create, as received.
#[derive(Debug, Clone, Default)]
pub struct CreateUser {
    pub kind: Option<UserKind>,
    pub family_name: String,
    pub given_name: Option<String>,
    pub profession: Option<Profession>,
    pub rpps: Option<String>,
    pub adeli: Option<String>,
    pub email: Option<String>,
    pub key: Option<IdempotencyKey>,
}

impl CreateUser {
    /// The user, checked field by field.
    pub fn validate(&self) -> Result<NewUser, dui_domain::ValidationErrors> {
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

/// A change of a user, as received: absent fields stay, `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default)]
pub struct ChangeUser {
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    pub profession: Option<Option<Profession>>,
    pub rpps: Option<Option<String>>,
    pub adeli: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub status: Option<UserStatus>,
}

/// Creates a user (tenant administrators).
pub async fn create_user(app: &App, scope: &TenantScope, command: CreateUser) -> AppResult<Created<User>> {
    if !policy::can_manage_users(scope) {
        return Err(forbidden("create users"));
    }
    let new = command.validate()?;
    Ok(store::create_user(app.db().begin(scope, Mode::Write), command.key.as_ref(), &new).await?)
}

/// One user: the caller, or anyone for tenant administrators and directors.
pub async fn get_user(app: &App, scope: &TenantScope, id: UserId) -> AppResult<User> {
    if id != scope.user_id() && !policy::can_read_users(scope) {
        return Err(forbidden("see other users"));
    }
    let mut tx = app.db().begin(scope, Mode::Read);
    let found = store::get_user(&mut tx, id).await?;
    tx.commit().await?;
    Ok(found)
}

/// Changes a user; disabling one refuses their tokens at once (tenant administrators).
pub async fn update_user(app: &App, scope: &TenantScope, id: UserId, change: ChangeUser) -> AppResult<User> {
    if !policy::can_manage_users(scope) {
        return Err(forbidden("change users"));
    }
    let changes = UserChanges::validate(UserChangesInput {
        family_name: change.family_name.as_deref(),
        given_name: change.given_name.as_deref(),
        profession: change.profession,
        rpps: change.rpps.as_ref().map(Option::as_deref),
        adeli: change.adeli.as_ref().map(Option::as_deref),
        email: change.email.as_ref().map(Option::as_deref),
        status: change.status,
    })?;
    if id == scope.user_id() && changes.status == Some(UserStatus::Disabled) {
        return Err(AppError::invalid("status", "you cannot disable your own account"));
    }
    Ok(store::update_user(app.db().begin(scope, Mode::Write), id, &changes).await?)
}

/// A user's memberships, current and ended.
pub async fn list_memberships(app: &App, scope: &TenantScope, user: UserId) -> AppResult<Vec<Membership>> {
    if user != scope.user_id() && !policy::can_read_users(scope) {
        return Err(forbidden("see other users"));
    }
    let mut tx = app.db().begin(scope, Mode::Read);
    store::get_user(&mut tx, user).await?;
    let found = store::list_memberships(&mut tx, user).await?;
    tx.commit().await?;
    Ok(found)
}

/// Gives a user a role in an establishment, or tenant-wide (tenant administrators; directors in
/// their establishments for care and support roles).
pub async fn add_membership(
    app: &App,
    scope: &TenantScope,
    user: UserId,
    establishment: Option<EstablishmentId>,
    role: Role,
    key: Option<IdempotencyKey>,
) -> AppResult<Created<Membership>> {
    policy::membership_shape(establishment, role).map_err(|message| AppError::invalid("establishment_id", &message))?;
    if !policy::can_manage_membership(scope, establishment, role) {
        return Err(forbidden("give this role here"));
    }
    Ok(store::add_membership(app.db().begin(scope, Mode::Write), key.as_ref(), user, establishment, role).await?)
}

/// Ends a membership; the record stays (who could see what, when, must remain known).
pub async fn end_membership(app: &App, scope: &TenantScope, id: MembershipId) -> AppResult<Membership> {
    // Refused before the look-up to those who see no one's memberships: after it, their 403
    // for an existing membership and 404 for an absent one told which ids exist.
    if !policy::can_read_users(scope) {
        return Err(forbidden("end this membership"));
    }
    let mut tx = app.db().begin(scope, Mode::Write);
    let membership = store::get_membership(&mut tx, id).await?;
    if !policy::can_manage_membership(scope, membership.establishment_id, membership.role) {
        return Err(forbidden("end this membership"));
    }
    Ok(store::end_membership(tx, id).await?)
}

/// The identity providers the tenant's users may sign in with (tenant administrators).
pub async fn identity_providers(app: &App, scope: &TenantScope) -> AppResult<Vec<IdentityProvider>> {
    if !policy::can_manage_users(scope) {
        return Err(forbidden("see identity providers"));
    }
    Ok(app.db().list_identity_providers(scope.tenant_id()).await?)
}

/// A user's external identities (tenant administrators).
pub async fn external_identities(app: &App, scope: &TenantScope, user: UserId) -> AppResult<Vec<ExternalIdentity>> {
    if !policy::can_manage_users(scope) {
        return Err(forbidden("see external identities"));
    }
    let mut tx = app.db().begin(scope, Mode::Read);
    store::get_user(&mut tx, user).await?;
    let found = store::list_external_identities(&mut tx, user).await?;
    tx.commit().await?;
    Ok(found)
}

/// Links a user to their identity at a provider of the tenant: tokens of that provider whose
/// subject claim has this value then authenticate this user (tenant administrators).
pub async fn link_external_identity(
    app: &App,
    scope: &TenantScope,
    user: UserId,
    provider: IdentityProviderId,
    subject: &str,
) -> AppResult<ExternalIdentity> {
    if !policy::can_manage_users(scope) {
        return Err(forbidden("link external identities"));
    }
    let subject = validation::text(subject, 1, 255).map_err(|m| AppError::invalid("subject", &m))?;
    let providers = app.db().list_identity_providers(scope.tenant_id()).await?;
    if !providers.iter().any(|p| p.id == provider) {
        return Err(AppError::NotFound);
    }
    Ok(store::link_external_identity(app.db().begin(scope, Mode::Write), user, provider, &subject).await?)
}

/// Unlinks a user from a provider (tenant administrators).
pub async fn unlink_external_identity(
    app: &App,
    scope: &TenantScope,
    user: UserId,
    provider: IdentityProviderId,
) -> AppResult<()> {
    if !policy::can_manage_users(scope) {
        return Err(forbidden("unlink external identities"));
    }
    Ok(store::unlink_external_identity(app.db().begin(scope, Mode::Write), user, provider).await?)
}
