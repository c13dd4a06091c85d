//! The identity providers the server has looked up, remembered for a while.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dui_storage::ResolvedProvider;

use crate::problem::ApiError;

/// Remembers which identity provider (if any) serves an issuer and audience, so that neither
/// valid nor garbage tokens cost a database look-up each.
/// A token's issuer and audiences.
type ProviderKey = (String, Vec<String>);
/// What the database said for a key (possibly nothing), and when.
type ProviderEntry = (Option<ResolvedProvider>, Instant);

#[derive(Debug)]
pub(crate) struct ProviderCache {
    ttl: Duration,
    entries: Mutex<HashMap<ProviderKey, ProviderEntry>>,
}

/// Bounds the cache: tokens with made-up issuers must not grow it without limit.
const PROVIDER_CACHE_MAX: usize = 10_000;

impl ProviderCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::new(HashMap::new()) }
    }

    pub(crate) async fn resolve(
        &self,
        db: &dui_storage::Db,
        issuer: &str,
        audiences: &[String],
    ) -> Result<Option<ResolvedProvider>, ApiError> {
        let key = (issuer.to_owned(), audiences.to_vec());
        {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((provider, at)) = entries.get(&key)
                && at.elapsed() < self.ttl
            {
                return Ok(provider.clone());
            }
        }
        let provider = db.resolve_identity_provider(issuer, audiences).await?;
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= PROVIDER_CACHE_MAX {
            entries.clear();
        }
        entries.insert(key, (provider.clone(), Instant::now()));
        Ok(provider)
    }

    /// Forgets everything: called when this process changes a provider.
    pub(crate) fn invalidate(&self) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
