//! What every handler shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dui_app::{App, AppConfig};
use dui_auth::external::JwksCache;
use dui_auth::own::OwnIssuer;
use dui_storage::Db;

use crate::metrics::Metrics;
use crate::providers::ProviderCache;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// A request that takes longer is answered 503 and its work cancelled.
    pub request_timeout: Duration,
    /// The same for a document's upload (a scan sent from a tablet on a slow link): its content
    /// is received before the database is asked, so the time it takes holds no connection.
    pub upload_timeout: Duration,
    /// The largest request body accepted.
    pub body_limit_bytes: usize,
    /// The largest document accepted (its content is streamed, not bound by `body_limit_bytes`).
    pub document_max_bytes: u64,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub token_leeway_secs: u64,
    /// How long an identity provider look-up (or a miss) is remembered.
    pub provider_cache_ttl: Duration,
    /// How long `/readyz` waits for PostgreSQL.
    pub readiness_timeout: Duration,
    /// Take the client's address from `X-Forwarded-For` (behind a trusted reverse proxy only).
    pub trust_forwarded_for: bool,
    /// How long an emergency opening of a record lasts.
    pub emergency_access_minutes: i32,
    /// At most this many refused authentications are recorded per second (the rest are counted
    /// in the logs only).
    pub auth_failures_per_second: u32,
    /// Requests each tenant may make of this server.
    pub tenant_limit: crate::limits::TenantLimit,
    /// The INSi teleservice, when configured.
    pub insi: Option<Arc<dyn dui_app::insi::InsiPort>>,
    /// Caps on the connections the server holds, and how long request headers may take.
    pub connections: crate::connections::ConnectionLimits,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(600),
            body_limit_bytes: 1024 * 1024,
            document_max_bytes: 20 * 1024 * 1024,
            token_leeway_secs: 30,
            provider_cache_ttl: Duration::from_secs(30),
            readiness_timeout: Duration::from_secs(2),
            trust_forwarded_for: false,
            emergency_access_minutes: 240,
            auth_failures_per_second: 50,
            tenant_limit: crate::limits::TenantLimit::UNLIMITED,
            insi: None,
            connections: crate::connections::ConnectionLimits::default(),
        }
    }
}

/// Shared by every request.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    app: App,
    issuer: OwnIssuer,
    jwks: JwksCache,
    providers: ProviderCache,
    metrics: Metrics,
    config: ApiConfig,
    shutting_down: AtomicBool,
    /// (second, records in it) for the refused-authentication rate limit.
    auth_failures: std::sync::Mutex<(u64, u32)>,
    limiter: crate::limits::TenantLimiter,
}

impl AppState {
    pub fn new(db: Db, issuer: OwnIssuer, jwks: JwksCache, config: ApiConfig) -> Self {
        let providers = ProviderCache::new(config.provider_cache_ttl);
        Self {
            inner: Arc::new(Inner {
                app: {
                    let app =
                        App::new(db.clone(), AppConfig { emergency_access_minutes: config.emergency_access_minutes });
                    match config.insi.clone() {
                        Some(port) => app.with_insi(port),
                        None => app,
                    }
                },
                db,
                issuer,
                jwks,
                providers,
                metrics: Metrics::new(),
                limiter: crate::limits::TenantLimiter::new(config.tenant_limit),
                config,
                shutting_down: AtomicBool::new(false),
                auth_failures: std::sync::Mutex::new((0, 0)),
            }),
        }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The use cases.
    pub fn app(&self) -> &App {
        &self.inner.app
    }

    pub fn issuer(&self) -> &OwnIssuer {
        &self.inner.issuer
    }

    pub(crate) fn jwks(&self) -> &JwksCache {
        &self.inner.jwks
    }

    pub(crate) fn providers(&self) -> &ProviderCache {
        &self.inner.providers
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn limiter(&self) -> &crate::limits::TenantLimiter {
        &self.inner.limiter
    }

    pub fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    /// Whether one more refused authentication may be recorded this second.
    pub(crate) fn allow_auth_failure_record(&self) -> bool {
        let second =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let mut window = self.inner.auth_failures.lock().unwrap_or_else(|e| e.into_inner());
        if window.0 != second {
            *window = (second, 0);
        }
        window.1 = window.1.saturating_add(1);
        if window.1 > self.inner.config.auth_failures_per_second {
            // Said once a second, not once per refusal: the flood must not move to the log.
            if window.1 == self.inner.config.auth_failures_per_second + 1 {
                tracing::warn!(
                    "refused authentications above the recording rate; the rest of this second's are counted only"
                );
            }
            return false;
        }
        true
    }

    /// From now on `/readyz` answers 503, so the load balancer stops sending traffic while
    /// in-flight requests finish.
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }
}
