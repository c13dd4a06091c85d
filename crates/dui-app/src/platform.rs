//! The platform: tenants and their identity providers, for platform operators (and the
//! console). Nothing here reads a tenant's residents or their records; every action is
//! recorded in the operators' trail, in the action's transaction.

use std::io::{BufRead, Write};

use dui_domain::audit::{AuditAction, PlatformAction};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::people::{Membership, Role, User};
use dui_domain::scope::{PlatformScope, RequestContext};
use dui_domain::tenant::{IdentityProvider, NewIdentityProvider, NewTenant, Tenant, TenantStatus};
use dui_domain::{IdentityProviderId, TenantId};
use dui_storage::platform::{self as store, PlatformEvent};
use dui_storage::tenant_export::{ImportOptions, ImportReport, TableCounts};
use dui_storage::{Mode, StoreError, people};

use crate::{App, AppError, AppResult};

/// Who acts on the platform, and from where: an operator, or the console (the command line,
/// run by whoever holds the database's credentials).
#[derive(Debug, Clone, Copy)]
pub struct Operator<'a> {
    id: Option<dui_domain::OperatorId>,
    request: &'a RequestContext,
}

impl<'a> Operator<'a> {
    pub fn of(scope: &PlatformScope, request: &'a RequestContext) -> Self {
        Self { id: Some(scope.operator_id()), request }
    }

    pub fn console(request: &'a RequestContext) -> Self {
        Self { id: None, request }
    }

    fn event(
        &self,
        action: PlatformAction,
        tenant: Option<TenantId>,
        resource: Option<uuid::Uuid>,
    ) -> PlatformEvent<'_> {
        PlatformEvent { operator: self.id, action, tenant, resource, request: self.request }
    }
}

/// The tenants, a page at a time.
pub async fn list_tenants(app: &App, _operator: Operator<'_>, page: PageRequest) -> AppResult<Page<Tenant>> {
    Ok(store::list_tenants(app.db().begin_platform(Mode::Read), page).await?)
}

/// Creates a tenant (an organisme gestionnaire).
pub async fn create_tenant(app: &App, operator: Operator<'_>, name: &str, finess_juridique: &str) -> AppResult<Tenant> {
    let new = NewTenant::validate(name, finess_juridique)?;
    let mut tx = app.db().begin_platform(Mode::Write);
    let created = store::create_tenant(&mut tx, &new).await?;
    store::record(&mut tx, operator.event(PlatformAction::TenantCreate, Some(created.id), None)).await?;
    tx.commit().await?;
    Ok(created)
}

/// One tenant.
pub async fn get_tenant(app: &App, _operator: Operator<'_>, id: TenantId) -> AppResult<Tenant> {
    let mut tx = app.db().begin_platform(Mode::Read);
    let found = store::get_tenant(&mut tx, id).await?;
    tx.commit().await?;
    Ok(found)
}

/// Suspends a tenant (its users are refused at once) or resumes it. A shredded tenant stays so.
pub async fn set_status(app: &App, operator: Operator<'_>, id: TenantId, status: TenantStatus) -> AppResult<Tenant> {
    let action =
        if status == TenantStatus::Active { PlatformAction::TenantResume } else { PlatformAction::TenantSuspend };
    let mut tx = app.db().begin_platform(Mode::Write);
    let changed = store::set_tenant_status(&mut tx, id, status).await?;
    store::record(&mut tx, operator.event(action, Some(id), None)).await?;
    tx.commit().await?;
    Ok(changed)
}

/// Creates a tenant administrator: the first account of a new tenant, from which the
/// organisation runs its own administration.
pub async fn create_admin(
    app: &App,
    operator: Operator<'_>,
    id: TenantId,
    admin: crate::people::CreateUser,
) -> AppResult<(User, Membership)> {
    let new = admin.validate()?;
    let mut check = app.db().begin_platform(Mode::Read);
    store::get_tenant(&mut check, id).await?;
    check.commit().await?;
    // The user is the tenant's (written under its context); the event is the platform's.
    let mut tx = app.db().begin_for_tenant(id, Mode::Write);
    let (user, membership) = people::create_user_with_role(&mut tx, &new, Role::TenantAdmin).await?;
    store::record(&mut tx, operator.event(PlatformAction::TenantCreateAdmin, Some(id), Some(user.id.as_uuid())))
        .await?;
    tx.commit().await?;
    Ok((user, membership))
}

/// The identity providers of a tenant.
pub async fn identity_providers(app: &App, operator: Operator<'_>, id: TenantId) -> AppResult<Vec<IdentityProvider>> {
    get_tenant(app, operator, id).await?;
    Ok(app.db().list_identity_providers(id).await?)
}

/// An identity provider to trust, as received.
#[derive(Debug, Clone)]
pub struct NewProvider {
    pub label: String,
    pub issuer: String,
    pub audience: String,
    pub jwks_url: String,
    pub subject_claim: Option<String>,
}

/// Trusts an OpenID Connect issuer for a tenant: the pair (issuer, audience) designates the
/// tenant.
pub async fn create_identity_provider(
    app: &App,
    operator: Operator<'_>,
    id: TenantId,
    provider: NewProvider,
) -> AppResult<IdentityProvider> {
    let new = NewIdentityProvider::validate(
        &provider.label,
        &provider.issuer,
        &provider.audience,
        &provider.jwks_url,
        provider.subject_claim.as_deref(),
    )?;
    let mut tx = app.db().begin_platform(Mode::Write);
    store::get_tenant(&mut tx, id).await?;
    let created = store::create_identity_provider(&mut tx, id, &new).await?;
    store::record(
        &mut tx,
        operator.event(PlatformAction::IdentityProviderCreate, Some(id), Some(created.id.as_uuid())),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// Stops trusting an issuer; refused while users are linked to it.
pub async fn delete_identity_provider(
    app: &App,
    operator: Operator<'_>,
    tenant: TenantId,
    provider: IdentityProviderId,
) -> AppResult<()> {
    let mut tx = app.db().begin_platform(Mode::Write);
    match store::delete_identity_provider(&mut tx, tenant, provider).await {
        Err(StoreError::Invalid { .. }) => {
            return Err(AppError::Conflict(
                "Users are still linked to this identity provider: unlink them first.".to_owned(),
            ));
        }
        other => other?,
    }
    let event = operator.event(PlatformAction::IdentityProviderDelete, Some(tenant), Some(provider.as_uuid()));
    store::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(())
}

/// Writes a tenant's whole data to `out`, opened (reversibility: the organisation leaves with
/// its records). The export is recorded in the platform's trail and in the tenant's own, once
/// it is complete; `out` is the caller's to make durable.
pub async fn export_tenant(
    app: &App,
    operator: Operator<'_>,
    id: TenantId,
    out: &mut dyn Write,
) -> AppResult<TableCounts> {
    let counts = app.db().export_tenant(id, out).await?;
    let mut tx = app.db().begin_for_tenant(id, Mode::Write);
    dui_storage::audit::record_on_tenant(&mut tx, AuditAction::TenantExport).await?;
    store::record(&mut tx, operator.event(PlatformAction::TenantExport, Some(id), Some(id.as_uuid()))).await?;
    tx.commit().await?;
    Ok(counts)
}

/// Reads a tenant export into a new tenant, under keys of its own: all of it or nothing.
pub async fn import_tenant(
    app: &App,
    operator: Operator<'_>,
    input: &mut dyn BufRead,
    options: &ImportOptions,
) -> AppResult<ImportReport> {
    let event = operator.event(PlatformAction::TenantImport, None, None);
    Ok(app.db().import_tenant(input, options, event).await?)
}

/// Crypto-shredding: destroys the tenant's keys, after which its sealed data cannot be read by
/// anyone. `confirm` must be the tenant's FINESS juridique. The caller exports first.
pub async fn shred_tenant(app: &App, operator: Operator<'_>, id: TenantId, confirm: &str) -> AppResult<()> {
    let tenant = get_tenant(app, operator, id).await?;
    if confirm.trim() != tenant.finess_juridique.as_str() {
        return Err(AppError::invalid("confirm", "must be the tenant's FINESS juridique"));
    }
    if tenant.status == TenantStatus::Shredded {
        return Err(AppError::Conflict("the tenant is already shredded".into()));
    }
    let event = operator.event(PlatformAction::TenantShred, Some(id), Some(id.as_uuid()));
    Ok(app.db().destroy_tenant_keys(id, event).await?)
}
