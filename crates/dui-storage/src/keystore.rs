//! The keys a server holds: the key-encryption keys (from its configuration) and the tenants'
//! keyrings it unwrapped, cached for a while with the encryptions reserved on their data key.
//! How keys are made, reserved, rotated and destroyed is [`crate::keys`]'s.

use std::collections::HashMap;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dui_crypto::{KekRing, Keyring};
use dui_domain::TenantId;

/// How the server handles tenants' keys.
#[derive(Debug, Clone)]
pub struct CryptoConfig {
    pub ring: Arc<KekRing>,
    /// How long an unwrapped keyring is reused before it is read again (rotations done by other
    /// servers are picked up within this time).
    pub cache_ttl: Duration,
    /// Encryptions reserved at a time.
    pub reservation_block: u64,
    /// Rotate a data key once this many encryptions have been reserved on it.
    pub max_encryptions_per_key: u64,
}

impl CryptoConfig {
    pub fn new(ring: KekRing) -> Self {
        Self {
            ring: Arc::new(ring),
            cache_ttl: Duration::from_secs(30),
            reservation_block: 10_000,
            max_encryptions_per_key: 1 << 31,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Cached {
    pub(crate) keyring: Arc<Keyring>,
    pub(crate) loaded_at: Instant,
    /// Encryptions reserved on the active key and not used yet.
    pub(crate) budget: Arc<AtomicI64>,
}

#[derive(Debug)]
pub(crate) struct KeyStore {
    pub(crate) config: CryptoConfig,
    pub(crate) cache: Mutex<HashMap<TenantId, Cached>>,
    /// One reservation at a time per tenant.
    pub(crate) reserving: Mutex<HashMap<TenantId, Arc<tokio::sync::Mutex<()>>>>,
}

impl KeyStore {
    pub(crate) fn new(config: CryptoConfig) -> Self {
        Self { config, cache: Mutex::new(HashMap::new()), reserving: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn cached(&self, tenant: TenantId) -> Option<(Arc<Keyring>, Arc<AtomicI64>, Instant)> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.get(&tenant).map(|c| (c.keyring.clone(), c.budget.clone(), c.loaded_at))
    }

    pub(crate) fn forget(&self, tenant: TenantId) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).remove(&tenant);
    }

    pub(crate) fn forget_all(&self) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub(crate) fn reservation_lock(&self, tenant: TenantId) -> Arc<tokio::sync::Mutex<()>> {
        self.reserving.lock().unwrap_or_else(|e| e.into_inner()).entry(tenant).or_default().clone()
    }
}
