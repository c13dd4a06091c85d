//! Platform-level rows: tenants, platform operators, identity providers. None of them holds
//! resident data; they are read without a tenant context.

use dui_domain::pagination::{Page, PageRequest};
use dui_domain::scope::PlatformScope;
use dui_domain::structure::Finess;
use dui_domain::tenant::{IdentityProvider, NewIdentityProvider, NewTenant, Operator, Tenant, TenantStatus};
use dui_domain::{IdentityProviderId, OperatorId, TenantId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::rows::{all, one, optional, parse};
use crate::tx::Params;
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

impl Db {
    /// Runs one statement on platform tables (no tenant context, autocommit).
    pub(crate) async fn platform(&self, sql: &str, params: Params<'_>) -> StoreResult<Vec<Row>> {
        let conn = self.conn().await?;
        let statement = conn.prepare_cached(sql).await?;
        Ok(conn.query(&statement, params).await?)
    }

    pub async fn create_tenant(&self, _scope: &PlatformScope, new: &NewTenant) -> StoreResult<Tenant> {
        let sql =
            format!("INSERT INTO tenants (id, name, finess_juridique) VALUES ($1, $2, $3) RETURNING {TENANT_COLUMNS}");
        one(self.platform(&sql, &[&Uuid::now_v7(), &new.name, &new.finess_juridique.as_str()]).await?, tenant)
    }

    pub async fn list_tenants(&self, _scope: &PlatformScope, page: PageRequest) -> StoreResult<Page<Tenant>> {
        let sql =
            format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2");
        let rows = self.platform(&sql, &[&page.after, &page.fetch_limit()]).await?;
        Ok(Page::from_rows(all(&rows, tenant)?, page, |t| t.id.as_uuid()))
    }

    pub async fn get_tenant(&self, _scope: &PlatformScope, id: TenantId) -> StoreResult<Tenant> {
        self.tenant_by_id(id).await?.ok_or(StoreError::NotFound)
    }

    /// The tenant a request runs for, read without any scope: used by authentication.
    pub async fn tenant_by_id(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        optional(self.platform(&sql, &[&id.as_uuid()]).await?, tenant)
    }

    /// Suspends or resumes a tenant. A shredded tenant stays shredded (409).
    pub async fn set_tenant_status(
        &self,
        _scope: &PlatformScope,
        id: TenantId,
        status: TenantStatus,
    ) -> StoreResult<Tenant> {
        let sql = format!(
            "UPDATE tenants SET status = $2, updated_at = now() WHERE id = $1 AND status <> 'shredded' \
             RETURNING {TENANT_COLUMNS}"
        );
        let rows = self.platform(&sql, &[&id.as_uuid(), &status.as_str()]).await?;
        self.principals.changed(id);
        if rows.is_empty() && self.tenant_by_id(id).await?.is_some() {
            return Err(StoreError::Conflict { constraint: "tenants_shredded_is_final".to_owned() });
        }
        one(rows, tenant)
    }

    /// Finds a tenant by its FINESS juridique (for the CLI).
    pub async fn tenant_by_finess(&self, finess: &Finess) -> StoreResult<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE finess_juridique = $1");
        optional(self.platform(&sql, &[&finess.as_str()]).await?, tenant)
    }

    pub async fn create_operator(&self, name: &str) -> StoreResult<Operator> {
        let sql = "INSERT INTO platform_operators (id, name) VALUES ($1, $2) RETURNING id, name, status, created_at";
        one(self.platform(sql, &[&Uuid::now_v7(), &name]).await?, operator)
    }

    pub async fn list_operators(&self) -> StoreResult<Vec<Operator>> {
        let rows =
            self.platform("SELECT id, name, status, created_at FROM platform_operators ORDER BY name", &[]).await?;
        all(&rows, operator)
    }

    /// An operator by id, or by name when `key` is not a UUID.
    pub async fn find_operator(&self, key: &str) -> StoreResult<Option<Operator>> {
        let sql = "SELECT id, name, status, created_at FROM platform_operators WHERE id::text = $1 OR name = $1";
        optional(self.platform(sql, &[&key]).await?, operator)
    }

    /// Whether an operator exists and is active: checked on every platform request.
    pub async fn operator_is_active(&self, id: OperatorId) -> StoreResult<bool> {
        let rows =
            self.platform("SELECT status = 'active' FROM platform_operators WHERE id = $1", &[&id.as_uuid()]).await?;
        Ok(rows.first().is_some_and(|row| row.get::<_, bool>(0)))
    }

    pub async fn create_identity_provider(
        &self,
        _scope: &PlatformScope,
        tenant: TenantId,
        new: &NewIdentityProvider,
    ) -> StoreResult<IdentityProvider> {
        let sql = format!(
            "INSERT INTO identity_providers (id, tenant_id, label, issuer, audience, jwks_url, subject_claim) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {PROVIDER_COLUMNS}"
        );
        let params: Params<'_> = &[
            &Uuid::now_v7(),
            &tenant.as_uuid(),
            &new.label,
            &new.issuer,
            &new.audience,
            &new.jwks_url,
            &new.subject_claim,
        ];
        one(self.platform(&sql, params).await?, provider)
    }

    /// The identity providers of one tenant. Platform operators and tenant admins both read them.
    pub async fn list_identity_providers(&self, tenant: TenantId) -> StoreResult<Vec<IdentityProvider>> {
        let sql =
            format!("SELECT {PROVIDER_COLUMNS} FROM identity_providers WHERE tenant_id = $1 ORDER BY created_at, id");
        all(&self.platform(&sql, &[&tenant.as_uuid()]).await?, provider)
    }

    pub async fn delete_identity_provider(
        &self,
        _scope: &PlatformScope,
        tenant: TenantId,
        id: IdentityProviderId,
    ) -> StoreResult<()> {
        let sql = "DELETE FROM identity_providers WHERE tenant_id = $1 AND id = $2 RETURNING id";
        match self.platform(sql, &[&tenant.as_uuid(), &id.as_uuid()]).await?.len() {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    /// The provider that issued a token, by the token's `iss` and one of its audiences.
    pub async fn resolve_identity_provider(
        &self,
        issuer: &str,
        audiences: &[String],
    ) -> StoreResult<Option<ResolvedProvider>> {
        let sql = "SELECT p.id, p.tenant_id, p.label, p.issuer, p.audience, p.jwks_url, p.subject_claim, p.created_at, \
                    t.status AS tenant_status \
             FROM identity_providers p JOIN tenants t ON t.id = p.tenant_id \
             WHERE p.issuer = $1 AND p.audience = ANY($2) ORDER BY p.id LIMIT 1";
        let rows = self.platform(sql, &[&issuer, &audiences]).await?;
        optional(rows, |row| {
            Ok(ResolvedProvider {
                provider: provider(row)?,
                tenant_status: parse(row, "tenant_status", TenantStatus::parse)?,
            })
        })
    }
}
