//! Platform-level rows: tenants, platform operators, identity providers. None of them holds
//! resident data; they are read without a tenant context.

use std::sync::LazyLock;

use dui_domain::audit::PlatformAction;
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::scope::RequestContext;
use dui_domain::structure::Finess;
use dui_domain::tenant::{IdentityProvider, NewIdentityProvider, NewTenant, Operator, Tenant, TenantStatus};
use dui_domain::{IdentityProviderId, OperatorId, TenantId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::args;
use crate::rows::{all, one, optional, parse};
use crate::sql::{Sql, Stmt};
use crate::tx::{Mode, Tx};
use crate::{Db, StoreError, StoreResult};

const TENANT_COLUMNS: &str = "id, name, finess_juridique, status, created_at, updated_at";
const PROVIDER_COLUMNS: &str = "id, tenant_id, label, issuer, audience, jwks_url, subject_claim, created_at";

pub(crate) fn tenant(row: &Row) -> StoreResult<Tenant> {
    let finess: String = row.try_get("finess_juridique")?;
    Ok(Tenant {
        id: TenantId::from_uuid(row.try_get("id")?),
        name: row.try_get("name")?,
        finess_juridique: Finess::parse(&finess)
            .map_err(|_| StoreError::Corrupt { column: "tenants.finess_juridique", value: finess })?,
        status: parse(row, "status", TenantStatus::parse)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn operator(row: &Row) -> StoreResult<Operator> {
    Ok(Operator {
        id: OperatorId::from_uuid(row.try_get("id")?),
        name: row.try_get("name")?,
        status: row.try_get("status")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(crate) fn provider(row: &Row) -> StoreResult<IdentityProvider> {
    Ok(IdentityProvider {
        id: IdentityProviderId::from_uuid(row.try_get("id")?),
        tenant_id: TenantId::from_uuid(row.try_get("tenant_id")?),
        label: row.try_get("label")?,
        issuer: row.try_get("issuer")?,
        audience: row.try_get("audience")?,
        jwks_url: row.try_get("jwks_url")?,
        subject_claim: row.try_get("subject_claim")?,
        created_at: row.try_get("created_at")?,
    })
}

/// An identity provider found for a token's issuer and audience, with its tenant's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedProvider {
    pub provider: IdentityProvider,
    pub tenant_status: TenantStatus,
}

static CREATE_TENANT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "INSERT INTO tenants (id, name, finess_juridique) VALUES (:id, :name, :finess) RETURNING {TENANT_COLUMNS}"
    ))
});

static TENANTS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {TENANT_COLUMNS} FROM tenants WHERE (:after::uuid IS NULL OR id > :after) ORDER BY id LIMIT :limit"
    ))
});

static TENANT: Stmt = LazyLock::new(|| Sql::new(&format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = :id")));

static TENANT_BY_FINESS: Stmt =
    LazyLock::new(|| Sql::new(&format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE finess_juridique = :finess")));

static SET_TENANT_STATUS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "UPDATE tenants SET status = :status, updated_at = now() WHERE id = :id AND status <> 'shredded' \
         RETURNING {TENANT_COLUMNS}"
    ))
});

static CREATE_OPERATOR: Stmt = LazyLock::new(|| {
    Sql::new("INSERT INTO platform_operators (id, name) VALUES (:id, :name) RETURNING id, name, status, created_at")
});

static OPERATORS: Stmt =
    LazyLock::new(|| Sql::new("SELECT id, name, status, created_at FROM platform_operators ORDER BY name"));

static OPERATOR: Stmt = LazyLock::new(|| {
    Sql::new("SELECT id, name, status, created_at FROM platform_operators WHERE id::text = :key OR name = :key")
});

static OPERATOR_ACTIVE: Stmt =
    LazyLock::new(|| Sql::new("SELECT status = 'active' FROM platform_operators WHERE id = :id"));

static CREATE_PROVIDER: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "INSERT INTO identity_providers (id, tenant_id, label, issuer, audience, jwks_url, subject_claim) \
         VALUES (:id, :tenant_id, :label, :issuer, :audience, :jwks_url, :subject_claim) RETURNING {PROVIDER_COLUMNS}"
    ))
});

static PROVIDERS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {PROVIDER_COLUMNS} FROM identity_providers WHERE tenant_id = :tenant_id ORDER BY created_at, id"
    ))
});

static DELETE_PROVIDER: Stmt =
    LazyLock::new(|| Sql::new("DELETE FROM identity_providers WHERE tenant_id = :tenant_id AND id = :id RETURNING id"));

static RESOLVE_PROVIDER: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT p.id, p.tenant_id, p.label, p.issuer, p.audience, p.jwks_url, p.subject_claim, p.created_at, \
           t.status AS tenant_status \
         FROM identity_providers p JOIN tenants t ON t.id = p.tenant_id \
         WHERE p.issuer = :issuer AND p.audience = ANY(:audiences) ORDER BY p.id LIMIT 1",
    )
});

static PLATFORM_EVENT: Stmt = LazyLock::new(|| {
    Sql::new(
        "INSERT INTO platform_events (id, operator_id, action, tenant_id, resource_id, request_id, client_address) \
         VALUES (:id, :operator, :action, :tenant_id, :resource, :request_id, :client_address)",
    )
});

/// An action of a platform operator (or of the console), as its trail records it.
#[derive(Debug, Clone, Copy)]
pub struct PlatformEvent<'a> {
    pub operator: Option<OperatorId>,
    pub action: PlatformAction,
    pub tenant: Option<TenantId>,
    pub resource: Option<Uuid>,
    pub request: &'a RequestContext,
}

/// Records an action in the platform operators' trail, in the transaction of the action.
pub async fn record(tx: &mut Tx<'_>, event: PlatformEvent<'_>) -> StoreResult<()> {
    let (id, operator, action) = (Uuid::now_v7(), event.operator.map(|o| o.as_uuid()), event.action.as_str());
    let tenant = event.tenant.map(|t| t.as_uuid());
    let args = args! { id: &id, operator: &operator, action: &action, tenant_id: &tenant, resource: &event.resource,
    request_id: &event.request.request_id, client_address: &event.request.client_address };
    tx.query(&PLATFORM_EVENT, &args).await?;
    Ok(())
}

/// Creates a tenant.
pub async fn create_tenant(tx: &mut Tx<'_>, new: &NewTenant) -> StoreResult<Tenant> {
    let (id, finess) = (Uuid::now_v7(), new.finess_juridique.as_str());
    one(tx.query(&CREATE_TENANT, &args! { id: &id, name: &new.name, finess: &finess }).await?, tenant)
}

/// The tenants, a page at a time.
pub async fn list_tenants(tx: Tx<'_>, page: PageRequest) -> StoreResult<Page<Tenant>> {
    let limit = page.fetch_limit();
    let rows = tx.finish(&TENANTS, &args! { after: &page.after, limit: &limit }).await?;
    Ok(Page::from_rows(all(&rows, tenant)?, page, |t| t.id.as_uuid()))
}

/// One tenant.
pub async fn get_tenant(tx: &mut Tx<'_>, id: TenantId) -> StoreResult<Tenant> {
    let id = id.as_uuid();
    one(tx.query(&TENANT, &args! { id: &id }).await?, tenant)
}

/// Suspends or resumes a tenant. A shredded tenant stays shredded (409).
pub async fn set_tenant_status(tx: &mut Tx<'_>, id: TenantId, status: TenantStatus) -> StoreResult<Tenant> {
    let (uuid, text) = (id.as_uuid(), status.as_str());
    let rows = tx.query(&SET_TENANT_STATUS, &args! { id: &uuid, status: &text }).await?;
    tx.db().principals.changed(id);
    if rows.is_empty() && !tx.query(&TENANT, &args! { id: &uuid }).await?.is_empty() {
        return Err(StoreError::Conflict { constraint: "tenants_shredded_is_final".to_owned() });
    }
    one(rows, tenant)
}

/// Registers an identity provider for a tenant.
pub async fn create_identity_provider(
    tx: &mut Tx<'_>,
    tenant_id: TenantId,
    new: &NewIdentityProvider,
) -> StoreResult<IdentityProvider> {
    let (id, tenant_id) = (Uuid::now_v7(), tenant_id.as_uuid());
    let args = args! { id: &id, tenant_id: &tenant_id, label: &new.label, issuer: &new.issuer, audience: &new.audience,
    jwks_url: &new.jwks_url, subject_claim: &new.subject_claim };
    one(tx.query(&CREATE_PROVIDER, &args).await?, provider)
}

/// Removes a tenant's identity provider; `NotFound` when it has none of this id.
pub async fn delete_identity_provider(tx: &mut Tx<'_>, tenant_id: TenantId, id: IdentityProviderId) -> StoreResult<()> {
    let (tenant_id, id) = (tenant_id.as_uuid(), id.as_uuid());
    match tx.query(&DELETE_PROVIDER, &args! { tenant_id: &tenant_id, id: &id }).await?.len() {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

impl Db {
    /// Runs one statement on the platform's tables, in a transaction of its own.
    async fn platform_statement(&self, sql: &Sql, args: &crate::sql::Args<'_>) -> StoreResult<Vec<Row>> {
        self.begin_platform(Mode::Write).finish(sql, args).await
    }

    /// The tenant a request runs for, read without any scope: used by authentication.
    pub async fn tenant_by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        let id = id.as_uuid();
        optional(self.platform_statement(&TENANT, &args! { id: &id }).await?, tenant)
    }

    /// Finds a tenant by its FINESS juridique (for the command line).
    pub async fn tenant_by_finess(&self, finess: &Finess) -> StoreResult<Option<Tenant>> {
        let finess = finess.as_str();
        optional(self.platform_statement(&TENANT_BY_FINESS, &args! { finess: &finess }).await?, tenant)
    }

    pub async fn create_operator(&self, name: &str) -> StoreResult<Operator> {
        let id = Uuid::now_v7();
        one(self.platform_statement(&CREATE_OPERATOR, &args! { id: &id, name: &name }).await?, operator)
    }

    pub async fn list_operators(&self) -> StoreResult<Vec<Operator>> {
        all(&self.platform_statement(&OPERATORS, &args! {}).await?, operator)
    }

    /// An operator by id, or by name when `key` is not a UUID.
    pub async fn find_operator(&self, key: &str) -> StoreResult<Option<Operator>> {
        optional(self.platform_statement(&OPERATOR, &args! { key: &key }).await?, operator)
    }

    /// Whether an operator exists and is active: checked on every platform request.
    pub async fn operator_is_active(&self, id: OperatorId) -> StoreResult<bool> {
        let id = id.as_uuid();
        let rows = self.platform_statement(&OPERATOR_ACTIVE, &args! { id: &id }).await?;
        Ok(rows.first().is_some_and(|row| row.get::<_, bool>(0)))
    }

    /// The identity providers of one tenant. Platform operators and tenant admins both read them.
    pub async fn list_identity_providers(&self, tenant: TenantId) -> StoreResult<Vec<IdentityProvider>> {
        let tenant = tenant.as_uuid();
        all(&self.platform_statement(&PROVIDERS, &args! { tenant_id: &tenant }).await?, provider)
    }

    /// The provider that issued a token, by the token's `iss` and one of its audiences.
    pub async fn resolve_identity_provider(
        &self,
        issuer: &str,
        audiences: &[String],
    ) -> StoreResult<Option<ResolvedProvider>> {
        let rows =
            self.platform_statement(&RESOLVE_PROVIDER, &args! { issuer: &issuer, audiences: &audiences }).await?;
        optional(rows, |row| {
            Ok(ResolvedProvider {
                provider: provider(row)?,
                tenant_status: parse(row, "tenant_status", TenantStatus::parse)?,
            })
        })
    }

    /// The ids of every tenant.
    pub(crate) async fn all_tenants(&self) -> StoreResult<Vec<TenantId>> {
        let rows = self.platform_statement(&ALL_TENANTS, &args! {}).await?;
        rows.iter().map(|r| Ok(TenantId::from_uuid(r.try_get(0)?))).collect()
    }
}

static ALL_TENANTS: Stmt = LazyLock::new(|| Sql::new("SELECT id FROM tenants ORDER BY id"));
