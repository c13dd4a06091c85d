//! Tenants' keys: creation, unwrapping and caching, encryption budgets, rotation, KEK rewrap,
//! destruction.
//!
//! A tenant's keys are created on first use: a data key (DEK) and a blind-index key, each random
//! 256 bits, stored wrapped by the active KEK. Unwrapped keyrings are cached for `cache_ttl`.
//!
//! Random 96-bit nonces are safe for at most 2^32 encryptions per key (NIST SP 800-38D, 8.3).
//! Before sealing, a server reserves a block of encryptions on the active data key in the
//! database (one update per block), so the recorded count is never below the truth even if the
//! server crashes; when the count passes `max_encryptions_per_key`, the key is rotated.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use dui_crypto::{KeyPurpose, Keyring, SecretKey, WrappedKey};
use dui_domain::TenantId;

use crate::args;
use crate::feature::{Feature, Table, TenantExport};
use crate::keystore::{Cached, CryptoConfig};
use crate::sql::{Sql, Stmt};
use crate::tx::Mode;
use crate::{Db, StoreError, StoreResult};

/// Announces, on commit, that a tenant's keys changed (see [`crate::notices`]).
static NOTIFY_KEYS_CHANGED: Stmt = LazyLock::new(|| Sql::new("SELECT pg_notify('dui_tenant_keys', :channel_tenant)"));

static CREATE_KEY: Stmt = LazyLock::new(|| {
    Sql::new(
        "INSERT INTO tenant_keys (tenant_id, purpose, version, kek_version, wrapped, status) \
         SELECT :tenant::uuid, :purpose::text, 1, :kek_version::integer, :wrapped::bytea, 'active' WHERE NOT EXISTS \
           (SELECT 1 FROM tenant_keys WHERE tenant_id = :tenant AND purpose = :purpose) \
         ON CONFLICT DO NOTHING",
    )
});
static RESERVE: Stmt = LazyLock::new(|| {
    Sql::new(
        "UPDATE tenant_keys SET encryptions = encryptions + :block \
         WHERE tenant_id = :tenant AND purpose = 'data' AND version = :version AND status = 'active' \
         RETURNING encryptions",
    )
});
static ACTIVE_DATA_KEY: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT version FROM tenant_keys WHERE tenant_id = :tenant AND purpose = 'data' AND status = 'active' FOR UPDATE",
    )
});
static NEXT_DATA_KEY: Stmt = LazyLock::new(|| {
    Sql::new("SELECT coalesce(max(version), 0) + 1 FROM tenant_keys WHERE tenant_id = :tenant AND purpose = 'data'")
});
static RETIRE_DATA_KEYS: Stmt = LazyLock::new(|| {
    Sql::new(
        "UPDATE tenant_keys SET status = 'retired', retired_at = coalesce(retired_at, now()) \
         WHERE tenant_id = :tenant AND purpose = 'data' AND status IN ('active', 'exhausted')",
    )
});
static EXHAUST_DATA_KEY: Stmt = LazyLock::new(|| {
    Sql::new(
        "UPDATE tenant_keys SET status = 'exhausted', retired_at = now() \
         WHERE tenant_id = :tenant AND purpose = 'data' AND status = 'active'",
    )
});
static NEW_DATA_KEY: Stmt = LazyLock::new(|| {
    Sql::new(
        "INSERT INTO tenant_keys (tenant_id, purpose, version, kek_version, wrapped, status) \
         VALUES (:tenant, 'data', :version, :kek_version, :wrapped, 'active')",
    )
});
static RESEAL_TARGET: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT min(version) FROM tenant_keys \
         WHERE tenant_id = :tenant AND purpose = 'data' AND status IN ('active', 'exhausted')",
    )
});
static DATA_KEYS: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT version, status, encryptions FROM tenant_keys WHERE tenant_id = :tenant AND purpose = 'data' \
         ORDER BY version",
    )
});
static REWRAP: Stmt = LazyLock::new(|| {
    Sql::new(
        "UPDATE tenant_keys SET kek_version = :kek_version, wrapped = :wrapped \
         WHERE tenant_id = :tenant AND purpose = :purpose AND version = :version AND kek_version = :old_kek_version",
    )
});
static DESTROY_KEYS: Stmt = LazyLock::new(|| {
    Sql::new(
        "UPDATE tenant_keys SET status = 'destroyed', wrapped = NULL, destroyed_at = now() \
         WHERE tenant_id = :tenant AND status <> 'destroyed'",
    )
});
static SHREDDED: Stmt =
    LazyLock::new(|| Sql::new("UPDATE tenants SET status = 'shredded', updated_at = now() WHERE id = :tenant"));

static LOAD_KEYS: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT purpose, version, kek_version, wrapped, status FROM tenant_keys \
         WHERE tenant_id = :tenant AND status <> 'destroyed'",
    )
});

fn stored_keys(rows: &[tokio_postgres::Row]) -> StoreResult<Vec<StoredKey>> {
    rows.iter()
        .map(|row| {
            let purpose: &str = row.try_get("purpose")?;
            Ok(StoredKey {
                purpose: KeyPurpose::parse(purpose)
                    .ok_or(StoreError::Corrupt { column: "tenant_keys.purpose", value: purpose.to_owned() })?,
                version: version(row.try_get("version")?)?,
                status: row.try_get("status")?,
                wrapped: WrappedKey {
                    kek_version: version(row.try_get("kek_version")?)?,
                    bytes: row.try_get("wrapped")?,
                },
            })
        })
        .collect()
}

/// Whether stored keys hold an active key of every purpose.
fn complete(stored: &[StoredKey]) -> bool {
    [KeyPurpose::Data, KeyPurpose::Index, KeyPurpose::Audit]
        .iter()
        .all(|purpose| stored.iter().any(|k| k.purpose == *purpose && k.status == "active"))
}

/// A stored key row.
struct StoredKey {
    purpose: KeyPurpose,
    version: u32,
    status: String,
    wrapped: WrappedKey,
}

fn version(value: i32) -> StoreResult<u32> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt { column: "tenant_keys.version", value: value.to_string() })
}

/// Why a data key is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rotation {
    /// An operator asked: what the old keys sealed is to be resealed.
    Operator,
    /// The key's encryption budget is used up: it stops sealing, nothing needs resealing.
    Exhausted,
}

/// What a KEK rotation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewrapReport {
    pub tenants: u64,
    pub rewrapped: u64,
    pub already_current: u64,
}

impl Db {
    async fn load_keys(&self, tenant: TenantId) -> StoreResult<Vec<StoredKey>> {
        stored_keys(&self.begin_for_tenant(tenant, Mode::Read).finish(&LOAD_KEYS, &args! {}).await?)
    }

    /// Creates whichever of a tenant's keys do not exist yet (all of them on first use; the
    /// audit key for tenants older than the audit trail). Concurrent callers are harmless: the
    /// first insert wins and the others insert nothing.
    async fn create_missing_keys(&self, tenant: TenantId) -> StoreResult<()> {
        let ring = &self.keys.config.ring;
        let crypto = |e: dui_crypto::CryptoError| StoreError::Crypto(e.to_string());
        let kek = ring.active_version() as i32;
        for purpose in [KeyPurpose::Data, KeyPurpose::Index, KeyPurpose::Audit] {
            let wrapped = ring.wrap(tenant, purpose, 1, &SecretKey::generate().map_err(crypto)?).map_err(crypto)?;
            let purpose = purpose.as_str();
            let args = args! { purpose: &purpose, kek_version: &kek, wrapped: &wrapped.bytes };
            self.begin_for_tenant(tenant, Mode::Write).finish(&CREATE_KEY, &args).await?;
        }
        Ok(())
    }

    /// Reads, unwraps and caches a tenant's keyring, creating its keys on first use.
    async fn load_keyring(&self, tenant: TenantId) -> StoreResult<Arc<Keyring>> {
        let mut stored = self.load_keys(tenant).await?;
        if !complete(&stored) {
            if self.tenant_by_id(tenant).await?.is_some_and(|t| t.status == dui_domain::tenant::TenantStatus::Shredded)
            {
                return Err(StoreError::KeysDestroyed);
            }
            self.create_missing_keys(tenant).await?;
            stored = self.load_keys(tenant).await?;
        }
        self.install_keyring(tenant, &stored)
    }

    /// How keys are handled (the KEK ring among it).
    pub(crate) fn keys_config(&self) -> &CryptoConfig {
        &self.keys.config
    }

    /// The keyring of a tenant, if cached, fresh and holding every version in `needed`.
    pub(crate) fn cached_keyring(&self, tenant: TenantId, needed: &[u32]) -> Option<Arc<Keyring>> {
        let (keyring, _, loaded_at) = self.keys.cached(tenant)?;
        (loaded_at.elapsed() < self.keys.config.cache_ttl && needed.iter().all(|v| keyring.holds(*v)))
            .then_some(keyring)
    }

    /// [`Db::load_keyring`] through a connection that is inside one of the tenant's
    /// transactions (so that an operation never needs a second connection); keys still to be
    /// made are made in their own transaction.
    pub(crate) async fn load_keyring_on(
        &self,
        tenant: TenantId,
        conn: &deadpool_postgres::Object,
    ) -> StoreResult<Arc<Keyring>> {
        let statement = conn.prepare_cached(LOAD_KEYS.text()).await?;
        let stored = stored_keys(&conn.query(&statement, &[&tenant.as_uuid()]).await?)?;
        if !complete(&stored) {
            return self.load_keyring(tenant).await;
        }
        self.install_keyring(tenant, &stored)
    }

    /// Unwraps stored keys and caches the keyring.
    fn install_keyring(&self, tenant: TenantId, stored: &[StoredKey]) -> StoreResult<Arc<Keyring>> {
        let ring = &self.keys.config.ring;
        let unwrap = |key: &StoredKey| {
            ring.unwrap(tenant, key.purpose, key.version, &key.wrapped).map_err(|e| {
                // A key that does not open under a KEK of the ring is, in practice, a database
                // restored or copied without the KEK it was wrapped with: say so to the operator.
                let why = match e {
                    dui_crypto::CryptoError::Tampered => format!(
                        "does not open with key-encryption key v{} of this server's ring (not the KEK it was wrapped with, or altered)",
                        key.wrapped.kek_version
                    ),
                    other => other.to_string(),
                };
                tracing::error!(%tenant, purpose = key.purpose.as_str(), version = key.version, error = %why, "cannot unwrap a tenant key");
                StoreError::Crypto(format!("tenant key {} v{}: {why}", key.purpose.as_str(), key.version))
            })
        };
        let active = stored
            .iter()
            .find(|k| k.purpose == KeyPurpose::Data && k.status == "active")
            .map(|k| k.version)
            .ok_or(StoreError::KeysDestroyed)?;
        let index = stored
            .iter()
            .find(|k| k.purpose == KeyPurpose::Index && k.status == "active")
            .ok_or(StoreError::KeysDestroyed)?;
        let audit = stored
            .iter()
            .find(|k| k.purpose == KeyPurpose::Audit && k.status == "active")
            .ok_or(StoreError::KeysDestroyed)?;
        let data = stored
            .iter()
            .filter(|k| k.purpose == KeyPurpose::Data)
            .map(|k| Ok((k.version, unwrap(k)?)))
            .collect::<StoreResult<Vec<_>>>()?;
        let keyring = Keyring::new(tenant, active, data, &unwrap(index)?, &unwrap(audit)?)
            .map_err(|e| StoreError::Crypto(e.to_string()))?;
        let keyring = Arc::new(keyring);
        let mut cache = self.keys.cache.lock().unwrap_or_else(|e| e.into_inner());
        // Encryptions reserved on the active key and not used yet stay ours when the keyring is
        // read again: dropping them made every reload (each `crypto.key_cache_ttl_secs`) cost a
        // reservation — its own transaction, on a second connection for a request that already
        // held one — and wasted the rest of the block.
        let budget = match cache.get(&tenant) {
            Some(previous) if previous.keyring.active_version() == keyring.active_version() => previous.budget.clone(),
            _ => Arc::new(AtomicI64::new(0)),
        };
        cache.insert(tenant, Cached { keyring: keyring.clone(), loaded_at: Instant::now(), budget });
        Ok(keyring)
    }

    /// A tenant's keyring, for opening values. `needed` names the data-key versions the caller
    /// is about to open: if the cached keyring lacks one (rotated by another server), it is read
    /// again.
    pub(crate) async fn keyring(
        &self,
        tenant: TenantId,
        needed: impl IntoIterator<Item = u32>,
    ) -> StoreResult<Arc<Keyring>> {
        if let Some((keyring, _, loaded_at)) = self.keys.cached(tenant)
            && loaded_at.elapsed() < self.keys.config.cache_ttl
            && needed.into_iter().all(|v| keyring.holds(v))
        {
            return Ok(keyring);
        }
        self.load_keyring(tenant).await
    }

    /// A tenant's keyring for sealing `count` values, with that many encryptions reserved on its
    /// active data key.
    pub(crate) async fn keyring_for_sealing(&self, tenant: TenantId, count: u64) -> StoreResult<Arc<Keyring>> {
        if count > self.keys.config.max_encryptions_per_key {
            return Err(StoreError::Crypto(format!(
                "{count} values cannot be sealed under one key whose budget is {}",
                self.keys.config.max_encryptions_per_key
            )));
        }
        let count = count as i64;
        loop {
            let (keyring, budget) = match self.keys.cached(tenant) {
                Some((keyring, budget, loaded_at)) if loaded_at.elapsed() < self.keys.config.cache_ttl => {
                    (keyring, budget)
                }
                _ => {
                    self.load_keyring(tenant).await?;
                    continue;
                }
            };
            if budget.fetch_sub(count, Ordering::SeqCst) >= count {
                return Ok(keyring);
            }
            budget.fetch_add(count, Ordering::SeqCst);
            let lock = self.keys.reservation_lock(tenant);
            let _guard = lock.lock().await;
            if budget.load(Ordering::SeqCst) >= count {
                continue;
            }
            self.reserve(tenant, &keyring, &budget, count as u64).await?;
        }
    }

    async fn reserve(&self, tenant: TenantId, keyring: &Keyring, budget: &AtomicI64, count: u64) -> StoreResult<()> {
        // Never more than a whole key's budget at once, or every new key would be rotated away.
        let block = self.keys.config.reservation_block.max(count).min(self.keys.config.max_encryptions_per_key);
        let active = keyring.active_version() as i32;
        let rows = self
            .begin_for_tenant(tenant, Mode::Write)
            .finish(&RESERVE, &args! { version: &active, block: &(block as i64) })
            .await?;
        let Some(row) = rows.first() else {
            // Another server rotated the key: use the new one.
            self.keys.forget(tenant);
            return Ok(());
        };
        let reserved: i64 = row.try_get(0)?;
        if reserved as u64 > self.keys.config.max_encryptions_per_key {
            tracing::info!(%tenant, version = active, reserved, "data key reached its encryption budget; rotating");
            self.rotate_data_key_from(tenant, Some(keyring.active_version()), Rotation::Exhausted).await?;
            return Ok(());
        }
        budget.fetch_add(block as i64, Ordering::SeqCst);
        Ok(())
    }

    /// Starts a new data-key version for `tenant`; new values are sealed with it at once (in
    /// this server; in others within the cache lifetime). Older versions stay, retired, to open
    /// what they sealed until the re-encryption job has resealed it. Returns the new version.
    pub async fn rotate_data_key(&self, tenant: TenantId) -> StoreResult<u32> {
        self.rotate_data_key_from(tenant, None, Rotation::Operator).await
    }

    /// Rotates only if `from` (when given) is still the active version, so that two servers
    /// crossing the budget together rotate once.
    async fn rotate_data_key_from(&self, tenant: TenantId, from: Option<u32>, why: Rotation) -> StoreResult<u32> {
        self.keyring(tenant, []).await?;
        let mut tx = self.begin_for_tenant(tenant, Mode::Write);
        let current = tx.query_opt(&ACTIVE_DATA_KEY, &args! {}).await?.ok_or(StoreError::KeysDestroyed)?;
        let current = version(current.try_get(0)?)?;
        if from.is_some_and(|from| from != current) {
            self.keys.forget(tenant);
            return Ok(current);
        }
        let next = tx.query_one(&NEXT_DATA_KEY, &args! {}).await?;
        let next = version(next.try_get(0)?)?;
        let crypto = |e: dui_crypto::CryptoError| StoreError::Crypto(e.to_string());
        let key = SecretKey::generate().map_err(crypto)?;
        let wrapped = self.keys.config.ring.wrap(tenant, KeyPurpose::Data, next, &key).map_err(crypto)?;
        let retire: &Sql = match why {
            // Everything older is resealed: the retired versions stay the oldest ones.
            Rotation::Operator => &RETIRE_DATA_KEYS,
            Rotation::Exhausted => &EXHAUST_DATA_KEY,
        };
        tx.query(retire, &args! {}).await?;
        let (next_version, kek) = (next as i32, wrapped.kek_version as i32);
        tx.query(&NEW_DATA_KEY, &args! { version: &next_version, kek_version: &kek, wrapped: &wrapped.bytes }).await?;
        let tenant_text = tenant.to_string();
        tx.query(&NOTIFY_KEYS_CHANGED, &args! { channel_tenant: &tenant_text }).await?;
        tx.commit().await?;
        self.keys.forget(tenant);
        tracing::info!(%tenant, from = current, to = next, "data key rotated");
        Ok(next)
    }

    /// The oldest data-key version a value may stay sealed with: values under older (retired)
    /// versions are the re-encryption job's work.
    pub(crate) async fn reseal_target(&self, tenant: TenantId) -> StoreResult<i32> {
        self.keyring(tenant, []).await?;
        let rows = self.begin_for_tenant(tenant, Mode::Read).finish(&RESEAL_TARGET, &args! {}).await?;
        rows.first().and_then(|r| r.get::<_, Option<i32>>(0)).ok_or(StoreError::KeysDestroyed)
    }

    /// The data-key versions of a tenant and their status, oldest first (for the CLI and tests).
    pub async fn data_key_versions(&self, tenant: TenantId) -> StoreResult<Vec<(u32, String, i64)>> {
        let rows = self.begin_for_tenant(tenant, Mode::Read).finish(&DATA_KEYS, &args! {}).await?;
        rows.iter().map(|r| Ok((version(r.try_get(0)?)?, r.try_get(1)?, r.try_get(2)?))).collect()
    }

    /// KEK rotation: rewraps every tenant key not yet under the active KEK. Data rows are not
    /// touched; the server keeps serving (cached keyrings stay valid, and every KEK of the ring
    /// still unwraps). Safe to run again.
    pub async fn rewrap_all_keys(&self) -> StoreResult<RewrapReport> {
        let ring = &self.keys.config.ring;
        let mut report = RewrapReport::default();
        for tenant in self.all_tenants().await? {
            report.tenants += 1;
            for key in self.load_keys(tenant).await? {
                let rewrapped = ring.rewrap(tenant, key.purpose, key.version, &key.wrapped).map_err(|e| {
                    StoreError::Crypto(format!("tenant {tenant} {} v{}: {e}", key.purpose.as_str(), key.version))
                })?;
                match rewrapped {
                    None => report.already_current += 1,
                    Some(wrapped) => {
                        let (purpose, version, kek, old_kek) = (
                            key.purpose.as_str(),
                            key.version as i32,
                            wrapped.kek_version as i32,
                            key.wrapped.kek_version as i32,
                        );
                        let args = args! { purpose: &purpose, version: &version, kek_version: &kek,
                        wrapped: &wrapped.bytes, old_kek_version: &old_kek };
                        self.begin_for_tenant(tenant, Mode::Write).finish(&REWRAP, &args).await?;
                        report.rewrapped += 1;
                    }
                }
            }
        }
        Ok(report)
    }

    /// Crypto-shredding: destroys every key of the tenant and marks it shredded. Afterwards its
    /// sealed values cannot be opened by anyone: the keys existed only wrapped, here.
    /// `event` is recorded in the platform's trail in the same transaction.
    pub async fn destroy_tenant_keys(
        &self,
        tenant: TenantId,
        event: crate::platform::PlatformEvent<'_>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_for_tenant(tenant, Mode::Write);
        tx.query(&DESTROY_KEYS, &args! {}).await?;
        tx.query(&SHREDDED, &args! {}).await?;
        crate::platform::record(&mut tx, event).await?;
        let tenant_text = tenant.to_string();
        tx.query(&NOTIFY_KEYS_CHANGED, &args! { channel_tenant: &tenant_text }).await?;
        tx.commit().await?;
        self.keys.forget(tenant);
        self.principals.changed(tenant);
        tracing::warn!(%tenant, "tenant keys destroyed: the tenant's sealed data is unreadable from now on");
        Ok(())
    }
}

/// The tenant's keys: never exported (the export carries the data itself, opened; an import
/// makes keys of its own).
pub(crate) const FEATURE: Feature = Feature {
    name: "keys",
    tables: &[Table {
        name: "tenant_keys",
        sealed: &[],
        reseal: false,
        tenant_export: TenantExport::Omitted("keys protect the data; the export carries the data itself, opened"),
        resident: None,
    }],
};
