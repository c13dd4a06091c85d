//! Wiring: from a configuration to a running server, and back down again.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use dui_api::{ApiConfig, AppState};
use dui_app::outbox::{Transport, Worker, WorkerConfig};
use dui_auth::external::JwksCache;
use dui_auth::keys::{SigningKey, VerificationKey};
use dui_auth::own::OwnIssuer;
use dui_crypto::KekRing;
use dui_storage::{CryptoConfig, Db, DbConfig, migrate};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::{Config, LogFormat};

/// Sets up structured logs: JSON lines (one per event, with the request span's fields such as
/// the request id), or human-readable text.
pub fn init_logging(format: LogFormat, level: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).with_span_list(false).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// The server's own issuer, from the configured keys.
pub fn own_issuer(config: &Config) -> anyhow::Result<OwnIssuer> {
    let pem = match (&config.auth.signing_key, &config.auth.signing_key_file) {
        (Some(pem), _) => pem.expose().clone(),
        (None, Some(path)) => {
            std::fs::read_to_string(path).with_context(|| format!("cannot read the signing key {}", path.display()))?
        }
        (None, None) => anyhow::bail!("no signing key configured (auth.signing_key_file or auth.signing_key)"),
    };
    let signing = SigningKey::from_pem(&pem).context("auth.signing_key")?;
    let previous = config
        .auth
        .previous_key_files
        .iter()
        .map(|path| {
            let pem = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            VerificationKey::from_pem(&pem).with_context(|| format!("auth.previous_key_files: {}", path.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(OwnIssuer::new(&config.auth.issuer, &config.auth.audience, signing, previous, config.auth.leeway_secs))
}

/// The KEK ring and key settings from the configuration.
pub fn crypto_config(config: &Config) -> anyhow::Result<CryptoConfig> {
    let (active, keks) = config.crypto.keks()?;
    let ring = KekRing::from_base64(active, &keks).context("crypto.keks")?;
    let mut crypto = CryptoConfig::new(ring);
    crypto.cache_ttl = Duration::from_secs(config.crypto.key_cache_ttl_secs);
    crypto.reservation_block = config.crypto.reservation_block;
    crypto.max_encryptions_per_key = config.crypto.max_encryptions_per_key;
    Ok(crypto)
}

pub fn db_config(config: &Config) -> anyhow::Result<DbConfig> {
    let url = config.database.url.as_ref().context("database.url is required")?;
    let mut db = DbConfig::new(url.expose().clone(), crypto_config(config)?);
    db.pool_size = config.database.pool_size;
    db.acquire_timeout = Duration::from_millis(config.database.acquire_timeout_ms);
    db.connect_timeout = Duration::from_secs(config.database.connect_timeout_secs);
    db.statement_timeout = Duration::from_secs(config.database.statement_timeout_secs);
    db.ca_file = config.database.ca_file.clone();
    db.recent_stay_days = config.access.recent_stay_days;
    db.principal_cache_ttl = Duration::from_secs(config.database.principal_cache_ttl_secs);
    Ok(db)
}

/// Runs the migrations with the owner role, retrying while PostgreSQL is not up yet.
pub async fn migrate_with_retry(
    owner_url: &str,
    ca_file: Option<&std::path::Path>,
    wait: Duration,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match migrate::run_with_ca(owner_url, ca_file).await {
            Ok(_) => return Ok(()),
            Err(dui_storage::StoreError::Unavailable(why)) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(why, "PostgreSQL not reachable yet; retrying the migrations");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => return Err(error).context("applying the migrations"),
        }
    }
}

/// Builds everything a request needs. Checks the application role once PostgreSQL answers.
pub async fn build_state(config: &Config) -> anyhow::Result<AppState> {
    config.require_serving()?;
    if config.database.migrate_on_start {
        let owner = config.database.owner_url.as_ref().context("database.owner_url")?;
        migrate_with_retry(
            owner.expose(),
            config.database.ca_file.as_deref(),
            Duration::from_secs(config.database.startup_timeout_secs),
        )
        .await?;
    }
    let db = Db::new(&db_config(config)?)?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(config.database.startup_timeout_secs);
    loop {
        match db.check_application_role().await {
            Ok(()) => break,
            Err(dui_storage::StoreError::Unavailable(why)) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(why, "PostgreSQL not reachable yet; waiting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => return Err(error).context("checking the database role"),
        }
    }
    tracing::info!(encrypted = db.connection_encrypted().await?, "database connection established");
    if db.setting("autovacuum").await? == "off" {
        // Plans are made once per connection and kept until the statistics change: without
        // autovacuum, a table that grew from empty keeps the plans of an empty table.
        tracing::warn!(
            "autovacuum is off on this PostgreSQL: the statistics of dui's tables are not refreshed as they \
             grow, and statements keep plans made for small tables; enable it, or run ANALYZE after loading data"
        );
    }
    let issuer = own_issuer(config)?;
    let jwks = JwksCache::new(
        Duration::from_secs(config.auth.jwks_cache_ttl_secs),
        Duration::from_secs(config.auth.jwks_refresh_min_interval_secs),
        Duration::from_secs(config.auth.jwks_fetch_timeout_secs),
    )
    .map_err(anyhow::Error::msg)?;
    let api = ApiConfig {
        request_timeout: config.request_timeout(),
        upload_timeout: Duration::from_secs(config.http.upload_timeout_secs),
        body_limit_bytes: config.http.body_limit_bytes,
        document_max_bytes: config.http.document_max_bytes,
        token_leeway_secs: config.auth.leeway_secs,
        provider_cache_ttl: Duration::from_secs(config.auth.provider_cache_ttl_secs),
        readiness_timeout: Duration::from_secs(2),
        trust_forwarded_for: config.http.trust_forwarded_for,
        emergency_access_minutes: config.access.emergency_access_minutes,
        auth_failures_per_second: 50,
        tenant_limit: dui_api::limits::TenantLimit {
            per_second: config.limits.tenant_requests_per_second,
            burst: config.limits.tenant_burst,
            concurrency: config.tenant_concurrency(),
            alone: config.tenant_concurrency_alone(),
            queue_timeout: Duration::from_millis(config.limits.queue_timeout_ms),
        },
        insi: config.insi.service()?,
        connections: dui_api::connections::ConnectionLimits {
            header_read_timeout: Duration::from_secs(config.http.header_read_timeout_secs),
            keep_alive_idle: Duration::from_secs(config.http.keep_alive_idle_secs),
            max_connections: config.http.max_connections,
            max_per_client: config.http.max_connections_per_client,
            max_header_bytes: config.http.max_header_bytes,
        },
    };
    Ok(AppState::new(db, issuer, jwks, api))
}

/// What the server sends out: the transports of the outbox's channels and how many workers
/// carry them.
#[derive(Clone, Default)]
pub struct Exchanges {
    pub transports: Vec<Arc<dyn Transport>>,
    pub workers: usize,
    pub config: WorkerConfig,
}

impl std::fmt::Debug for Exchanges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let channels: Vec<&str> = self.transports.iter().map(|t| t.channel()).collect();
        f.debug_struct("Exchanges").field("channels", &channels).field("workers", &self.workers).finish()
    }
}

impl Exchanges {
    /// The exchanges `config` sets up. No channel has a transport yet: messages wait in the
    /// outbox, listed and cancellable, until one is configured.
    pub fn from_config(config: &Config) -> Self {
        Self { transports: Vec::new(), workers: config.outbox.workers, config: config.outbox.worker() }
    }
}

/// The tasks that run beside the server for as long as it does: the change listener (key
/// rotations, changes to users and memberships, messages enqueued), the audit chainer, the
/// outbox's workers, and the hourly maintenance (purge of expired idempotency keys,
/// re-encryption of rows still sealed with a rotated key). Abort them when the server stops.
pub fn spawn_background(state: &AppState, exchanges: &Exchanges) -> Vec<JoinHandle<()>> {
    let mut tasks =
        vec![state.db().spawn_listener(), spawn_maintenance(state), spawn_chainer(state), spawn_insi_verifier(state)];
    if !exchanges.transports.is_empty() {
        for _ in 0..exchanges.workers {
            let worker = Worker::new(state.app().clone(), exchanges.transports.clone(), exchanges.config.clone());
            tracing::info!(worker = %worker.id(), "outbox worker started");
            tasks.push(tokio::spawn(worker.run(std::future::pending())));
        }
    }
    tasks
}

/// Links new audit events into each tenant's hash chain: every two seconds those of the tenants
/// this server wrote to; every minute every tenant's (what other servers and the command line
/// wrote, and events written before transaction ids were recorded). Several servers may run it:
/// each tenant's chain is extended by one at a time.
fn spawn_chainer(state: &AppState) -> JoinHandle<()> {
    let db = state.db().clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        for pass in 0u64.. {
            tick.tick().await;
            let chained = if pass % 30 == 0 { db.chain_audit().await } else { db.chain_noted_audit().await };
            if let Err(error) = chained {
                tracing::warn!(%error, "audit chaining failed; the next pass resumes it");
            }
        }
    })
}

/// Verifies again, every hour, the INS the INSi teleservice has not confirmed for the configured
/// period: a few per tenant at a time, so that a large installation spreads its calls (and a
/// national outage, which opens the client's breaker, costs one failed call per pass).
fn spawn_insi_verifier(state: &AppState) -> JoinHandle<()> {
    const PER_TENANT: i64 = 50;
    let app = state.app().clone();
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            if app.insi().is_none_or(|port| port.verification_period_days() == 0) {
                continue;
            }
            let tenants = match app.db().tenants_with_keys().await {
                Ok(tenants) => tenants,
                Err(error) => {
                    tracing::warn!(%error, "INSi verifications: the tenants could not be listed");
                    continue;
                }
            };
            for tenant in tenants {
                match dui_app::insi::verify_due(&app, tenant, PER_TENANT).await {
                    Ok((0, _)) => {}
                    Ok((made, lowered)) => tracing::info!(%tenant, made, lowered, "INS verified again with INSi"),
                    Err(error) => tracing::warn!(%error, %tenant, "INSi verifications failed"),
                }
            }
        }
    })
}

fn spawn_maintenance(state: &AppState) -> JoinHandle<()> {
    let db = state.db().clone();
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            match db.purge_expired_idempotency_keys().await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "expired idempotency keys purged"),
                Err(error) => tracing::warn!(%error, "purging expired idempotency keys failed"),
            }
            match db.lower_typed_retrievals_everywhere().await {
                Ok(0) => {}
                Ok(lowered) => {
                    tracing::info!(lowered, "identities an INS typed at admission made RECUP are provisional again")
                }
                Err(error) => tracing::warn!(%error, "lowering typed retrievals failed; the next pass resumes it"),
            }
            match db.reencrypt_stale_tenants().await {
                Ok(0) => {}
                Ok(resealed) => tracing::info!(resealed, "rows resealed with their tenant's current data key"),
                Err(error) => tracing::warn!(%error, "re-encryption pass failed; the next pass resumes it"),
            }
        }
    })
}

/// A server running in the background (for tests and the demo).
#[derive(Debug)]
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    background: Vec<JoinHandle<()>>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, and waits for the end.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let result = self.task.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
        self.background.iter().for_each(JoinHandle::abort);
        result
    }
}

/// Starts a server in the background on `listener`, sending nothing out.
pub fn spawn(listener: TcpListener, state: AppState) -> std::io::Result<RunningServer> {
    spawn_with(listener, state, &Exchanges::default())
}

/// Starts a server in the background on `listener`, with these exchanges.
pub fn spawn_with(listener: TcpListener, state: AppState, exchanges: &Exchanges) -> std::io::Result<RunningServer> {
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task_state = state.clone();
    let task = tokio::spawn(async move {
        dui_api::serve(
            listener,
            task_state,
            async move {
                let _ = rx.await;
            },
            Duration::ZERO,
            Duration::from_secs(10),
        )
        .await
    });
    let background = spawn_background(&state, exchanges);
    Ok(RunningServer { addr, state, shutdown: Some(tx), task, background })
}

/// Resolves on SIGTERM (Kubernetes) or Ctrl-C.
pub async fn termination_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// `dui serve`.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let state = build_state(&config).await?;
    let listener = TcpListener::bind(config.listen_addr())
        .await
        .with_context(|| format!("cannot listen on {}", config.http.listen))?;
    tracing::info!(addr = %listener.local_addr()?, "dui listening");
    let background = spawn_background(&state, &Exchanges::from_config(&config));
    let served = dui_api::serve(
        listener,
        state,
        termination_signal(),
        Duration::from_secs(config.http.shutdown_delay_secs),
        Duration::from_secs(config.http.shutdown_grace_secs),
    )
    .await;
    background.iter().for_each(JoinHandle::abort);
    served?;
    Ok(())
}
