//! The re-encryption job: after a data-key rotation, reseals every value still sealed with an
//! older key.
//!
//! It works in batches, each its own transaction, picking rows by `dek_version` — so its
//! progress is the data itself: interrupted, it resumes where it stopped; run twice, the second
//! run finds nothing to do. Rows are locked while resealed (`FOR UPDATE SKIP LOCKED`), so a
//! concurrent edit by the server is neither lost nor waited for; a skipped row is taken in a
//! later pass.

use dui_domain::TenantId;

use crate::residents::{SEALED_TABLES, refuse_sealed};
use crate::tx::TenantTx;
use crate::{Db, StoreError, StoreResult};

/// Where the job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReencryptProgress {
    pub tenant: TenantId,
    pub table: &'static str,
    /// Rows resealed so far in this run, over all tables of the tenant.
    pub done: u64,
    /// Rows that needed it when the tenant's run started.
    pub total: u64,
}

/// How the job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReencryptOptions {
    pub batch_size: i64,
    /// Stop after this many batches (to bound a maintenance window; a later run resumes).
    pub max_batches: Option<u64>,
}

impl Default for ReencryptOptions {
    fn default() -> Self {
        Self { batch_size: 500, max_batches: None }
    }
}

impl Db {
    /// Rows of a tenant sealed with another key than the active one.
    pub async fn count_stale_rows(&self, tenant: TenantId) -> StoreResult<u64> {
        let active = self.load_keyring_fresh(tenant).await?.active_version() as i32;
        let mut total = 0;
        for (table, _) in SEALED_TABLES {
            let rows = self
                .read(
                    tenant,
                    &format!("SELECT count(*) FROM {table} WHERE tenant_id = $1 AND dek_version <> $2"),
                    &[&tenant.as_uuid(), &active],
                )
                .await?;
            total += rows.first().map_or(0, |r| r.get::<_, i64>(0)) as u64;
        }
        Ok(total)
    }

    /// Reseals a tenant's stale rows. Returns how many rows were resealed.
    pub async fn reencrypt_tenant(
        &self,
        tenant: TenantId,
        options: ReencryptOptions,
        progress: &mut (dyn FnMut(ReencryptProgress) + Send),
    ) -> StoreResult<u64> {
        let total = self.count_stale_rows(tenant).await?;
        let keys = self.load_keyring_fresh(tenant).await?;
        let active = keys.active_version() as i32;
        let mut done = 0;
        let mut batches = 0;
        for (table, columns) in SEALED_TABLES {
            let names: Vec<&str> = columns.iter().map(|c| c.column).collect();
            let select = format!(
                "SELECT id, {} FROM {table} WHERE tenant_id = $1 AND dek_version <> $2 \
                 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED",
                names.join(", ")
            );
            let assignments: Vec<String> = names.iter().enumerate().map(|(i, n)| format!("{n} = ${}", i + 3)).collect();
            let update = format!(
                "UPDATE {table} SET {}, dek_version = ${} WHERE tenant_id = $1 AND id = $2",
                assignments.join(", "),
                names.len() + 3
            );
            loop {
                if options.max_batches.is_some_and(|max| batches >= max) {
                    return Ok(done);
                }
                let mut conn = self.conn().await?;
                let tx = TenantTx::begin(&mut conn, tenant).await?;
                let rows = tx.query(&select, &[&tenant.as_uuid(), &active, &options.batch_size]).await?;
                if rows.is_empty() {
                    break;
                }
                for row in &rows {
                    let id: uuid::Uuid = row.try_get("id")?;
                    let mut values: Vec<Option<Vec<u8>>> = Vec::with_capacity(columns.len());
                    for column in columns.iter() {
                        let sealed: Option<Vec<u8>> = row.try_get(column.column)?;
                        let resealed = match sealed {
                            None => None,
                            Some(sealed) => Some(match keys.reseal(*column, id, &sealed) {
                                Ok(Some(resealed)) => resealed,
                                Ok(None) => sealed,
                                Err(error) => return Err(refuse_sealed(tenant, *column, id, error)),
                            }),
                        };
                        values.push(resealed);
                    }
                    let tenant_uuid = tenant.as_uuid();
                    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&tenant_uuid, &id];
                    params.extend(values.iter().map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync)));
                    params.push(&active);
                    tx.query(&update, &params).await?;
                }
                tx.commit().await?;
                done += rows.len() as u64;
                batches += 1;
                progress(ReencryptProgress { tenant, table, done, total });
            }
        }
        Ok(done)
    }

    /// Reads a tenant's keyring again, bypassing the cache (jobs must see the latest rotation).
    async fn load_keyring_fresh(&self, tenant: TenantId) -> StoreResult<std::sync::Arc<dui_crypto::Keyring>> {
        self.forget_keyring(tenant);
        self.keyring(tenant, []).await
    }

    /// Every tenant whose keys exist (shredded tenants have none left to use).
    pub async fn tenants_with_keys(&self) -> StoreResult<Vec<TenantId>> {
        let rows = self.platform("SELECT id FROM tenants WHERE status <> 'shredded' ORDER BY id", &[]).await?;
        rows.iter().map(|r| Ok(TenantId::from_uuid(r.try_get(0)?))).collect::<Result<_, StoreError>>()
    }
}
