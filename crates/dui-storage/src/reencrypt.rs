//! The re-encryption job: after a data-key rotation, reseals every value still sealed with an
//! older key.
//!
//! It works in batches, each its own transaction, picking rows by `dek_version` — so its
//! progress is the data itself: interrupted, it resumes where it stopped; run twice, the second
//! run finds nothing to do. Rows are locked while resealed (`FOR UPDATE SKIP LOCKED`), so a
//! concurrent edit by the server is neither lost nor waited for; a skipped row is taken in a
//! later pass.

use dui_domain::TenantId;

use crate::args;
use crate::features::resealed;
use crate::sealing::refuse_sealed;
use crate::sql::{Sql, Stmt};
use crate::tx::Mode;

static WITH_KEYS: Stmt =
    std::sync::LazyLock::new(|| Sql::new("SELECT id FROM tenants WHERE status <> 'shredded' ORDER BY id"));
use crate::{Db, StoreError, StoreResult};

/// Rows resealed per batch in a table of raw bytes.
const RAW_BATCH: i64 = 8;

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
    /// Rows of a tenant sealed with a retired key (one an operator rotated away).
    pub async fn count_stale_rows(&self, tenant: TenantId) -> StoreResult<u64> {
        let active = self.reseal_target(tenant).await?;
        let mut total = 0;
        for (table, _) in resealed() {
            let count =
                Sql::new(&format!("SELECT count(*) FROM {table} WHERE tenant_id = :tenant AND dek_version < :active"));
            let rows = self.begin_for_tenant(tenant, Mode::Read).finish(&count, &args! { active: &active }).await?;
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
        // The goal is fixed when the run starts: no row under a retired key. Rows are resealed
        // under the active key, or a newer one if its budget runs out during the run (the
        // exhausted key still counts as current); so a run touches each row at most once, and
        // always ends. What a later operator rotation retires is the next run's.
        let target = self.reseal_target(tenant).await?;
        let mut done = 0;
        let mut batches = 0;
        for (table, columns) in resealed() {
            let names: Vec<&str> = columns.iter().map(|c| c.column).collect();
            let select = Sql::new(&format!(
                "SELECT id, {} FROM {table} WHERE tenant_id = :tenant AND dek_version < :target \
                 ORDER BY id LIMIT :batch FOR UPDATE SKIP LOCKED",
                names.join(", ")
            ));
            // The sealed values travel as one array, in the order of the table's sealed columns.
            let assignments: Vec<String> =
                names.iter().enumerate().map(|(i, n)| format!("{n} = (:sealed::bytea[])[{}]", i + 1)).collect();
            let update = Sql::new(&format!(
                "UPDATE {table} SET {}, dek_version = :version WHERE tenant_id = :tenant AND id = :id",
                assignments.join(", ")
            ));
            loop {
                if options.max_batches.is_some_and(|max| batches >= max) {
                    return Ok(done);
                }
                let mut tx = self.begin_for_tenant(tenant, Mode::Write);
                // A table of raw bytes (a document's chunks, 256 KiB each) goes a few rows at a time.
                let batch =
                    if columns.iter().any(|c| c.raw) { options.batch_size.min(RAW_BATCH) } else { options.batch_size };
                let rows = tx.query(&select, &args! { target: &target, batch: &batch }).await?;
                if rows.is_empty() {
                    break;
                }
                for row in &rows {
                    // Resealing is encrypting: counted against the key's budget like any other
                    // sealing (and it may rotate the key: the row then takes the newer one).
                    let keys = self.keyring_for_sealing(tenant, columns.len() as u64).await?;
                    let version = keys.active_version() as i32;
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
                    tx.query(&update, &args! { id: &id, sealed: &values, version: &version }).await?;
                }
                tx.commit().await?;
                done += rows.len() as u64;
                batches += 1;
                progress(ReencryptProgress { tenant, table, done, total });
            }
        }
        Ok(done)
    }

    /// Whether any row of the tenant is sealed with a retired key (cheap: an index range probe
    /// per table, retired versions being the oldest).
    pub async fn has_stale_rows(&self, tenant: TenantId) -> StoreResult<bool> {
        let active = self.reseal_target(tenant).await?;
        for (table, _) in resealed() {
            let sql = Sql::new(&format!(
                "SELECT EXISTS (SELECT 1 FROM {table} WHERE tenant_id = :tenant AND dek_version < :active)"
            ));
            let rows = self.begin_for_tenant(tenant, Mode::Read).finish(&sql, &args! { active: &active }).await?;
            if rows.first().is_some_and(|r| r.get::<_, bool>(0)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Reseals, tenant by tenant, whatever retired keys still seal. Run by every server's
    /// maintenance task, so that after `dui keys rotate-dek` the data moves even if nobody runs
    /// the job by hand; several servers doing it at once share the rows (`SKIP LOCKED`).
    /// Returns the rows resealed.
    pub async fn reencrypt_stale_tenants(&self) -> StoreResult<u64> {
        let mut resealed = 0;
        for tenant in self.tenants_with_keys().await? {
            if self.has_stale_rows(tenant).await? {
                resealed += self.reencrypt_tenant(tenant, ReencryptOptions::default(), &mut |_| {}).await?;
            }
        }
        Ok(resealed)
    }

    /// Every tenant whose keys exist (shredded tenants have none left to use).
    pub async fn tenants_with_keys(&self) -> StoreResult<Vec<TenantId>> {
        let rows = self.begin_platform(Mode::Read).finish(&WITH_KEYS, &args! {}).await?;
        rows.iter().map(|r| Ok(TenantId::from_uuid(r.try_get(0)?))).collect::<Result<_, StoreError>>()
    }
}
