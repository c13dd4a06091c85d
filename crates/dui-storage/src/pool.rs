//! The connection pool of the application role.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use dui_domain::TenantId;
use dui_domain::secret::Secret;
use tokio_postgres::NoTls;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::keystore::{CryptoConfig, KeyStore};
use crate::principals::PrincipalCache;

use crate::{StoreError, StoreResult};

/// How to reach PostgreSQL as the application role.
#[derive(Debug, Clone)]
pub struct DbConfig {
    /// Connection string of the application role (`postgres://dui_app:...@host/db` or key=value).
    pub url: Secret<String>,
    pub pool_size: usize,
    /// How long a request waits for a free connection before it is answered 503.
    pub acquire_timeout: Duration,
    pub connect_timeout: Duration,
    /// Server-side cap on any one statement.
    pub statement_timeout: Duration,
    /// The KEK ring and key-handling settings.
    pub crypto: CryptoConfig,
    /// CA certificates (PEM) that sign the database server's certificate, when the connection
    /// string asks for TLS (`sslmode=require`); the system's roots otherwise.
    pub ca_file: Option<PathBuf>,
    /// A discharged resident stays visible to the team for this many days.
    pub recent_stay_days: i32,
    /// How long a request's principal (the user's status and memberships) may be reused by later
    /// requests while the listener receives change notices; zero reads it at every request.
    pub principal_cache_ttl: Duration,
}

impl DbConfig {
    pub fn new(url: impl Into<String>, crypto: CryptoConfig) -> Self {
        Self {
            url: Secret::new(url.into()),
            pool_size: 16,
            acquire_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            crypto,
            ca_file: None,
            recent_stay_days: 30,
            principal_cache_ttl: Duration::from_secs(300),
        }
    }
}

/// Parses a connection string and applies the connection-level settings every dui connection
/// shares.
pub(crate) fn pg_config(
    url: &str,
    connect_timeout: Duration,
    statement_timeout: Option<Duration>,
) -> StoreResult<tokio_postgres::Config> {
    let mut config = tokio_postgres::Config::from_str(url)
        .map_err(|e| StoreError::Unavailable(format!("invalid database connection string: {e}")))?;
    if config.get_application_name().is_none() {
        config.application_name("dui");
    }
    config.connect_timeout(connect_timeout);
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(30));
    // No parallel workers: every statement is a short indexed read or write, whose generic plan
    // cannot know how few rows it will touch, and a worker costs a process start (5–8 ms) where
    // the statement takes a tenth of a millisecond. The chainer's look at a tenant's new events
    // took 13 ms a pass, through a parallel plan that found nothing, instead of 0.1 ms.
    let mut options = format!("-c plan_cache_mode={PLAN_CACHE_MODE} -c max_parallel_workers_per_gather=0");
    if let Some(timeout) = statement_timeout {
        options.push_str(&format!(" -c statement_timeout={}", timeout.as_millis()));
    }
    config.options(options);
    Ok(config)
}

/// Prepared statements run on their generic plan, made once per connection, instead of being
/// planned again at each execution. Every statement of dui leads with the tenant and reaches its
/// rows through an index whatever the values, so the generic plan is the plan; but PostgreSQL's
/// own choice (`auto`) keeps re-planning the large access-checking statements, whose generic
/// estimate looks dearer than a plan with the caller's flags folded in, and planning them cost
/// more than running them (resident summaries: 524 against 1,171 per second on 2 cores).
const PLAN_CACHE_MODE: &str = "force_generic_plan";

/// How connections are made: in clear, or over TLS with verified certificates.
#[derive(Clone)]
pub(crate) enum Tls {
    Plain,
    Verified(MakeRustlsConnect),
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Tls::Plain => "Tls::Plain",
            Tls::Verified(_) => "Tls::Verified",
        })
    }
}

/// TLS when the connection string asks for it (`sslmode=require`), verifying the server's
/// certificate and name against `ca_file` (or the system's roots). Without `sslmode=require`,
/// connections are in clear — on a local socket or a private network.
pub(crate) fn tls_for(config: &tokio_postgres::Config, ca_file: Option<&Path>) -> StoreResult<Tls> {
    if config.get_ssl_mode() != tokio_postgres::config::SslMode::Require {
        return Ok(Tls::Plain);
    }
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject;
            let certificates = CertificateDer::pem_file_iter(path)
                .map_err(|e| StoreError::Misconfigured(format!("database CA file {}: {e}", path.display())))?;
            for certificate in certificates {
                let certificate = certificate
                    .map_err(|e| StoreError::Misconfigured(format!("database CA file {}: {e}", path.display())))?;
                roots
                    .add(certificate)
                    .map_err(|e| StoreError::Misconfigured(format!("database CA file {}: {e}", path.display())))?;
            }
        }
        None => {
            for certificate in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(certificate);
            }
        }
    }
    if roots.is_empty() {
        return Err(StoreError::Misconfigured(
            "sslmode=require, but no CA certificate to verify the database with".to_owned(),
        ));
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Misconfigured(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Tls::Verified(MakeRustlsConnect::new(client)))
}

/// Opens one connection outside the pool (migrations) and drives it in a task.
pub(crate) async fn connect_spawned(
    config: &tokio_postgres::Config,
    tls: &Tls,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), tokio_postgres::Error> {
    fn drive<F>(connection: F) -> tokio::task::JoinHandle<()>
    where
        F: std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
    {
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "database connection ended with an error");
            }
        })
    }
    Ok(match tls {
        Tls::Plain => {
            let (client, connection) = config.connect(NoTls).await?;
            (client, drive(connection))
        }
        Tls::Verified(connector) => {
            let (client, connection) = config.connect(connector.clone()).await?;
            (client, drive(connection))
        }
    })
}

/// Usage of the pool, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    pub max_size: usize,
    pub size: usize,
    pub available: usize,
    pub waiting: usize,
}

/// The database: a pool of connections as the application role, and the tenants' keys.
#[derive(Clone, Debug)]
pub struct Db {
    pool: Pool,
    pub(crate) keys: Arc<KeyStore>,
    pub(crate) principals: Arc<PrincipalCache>,
    /// For the connection that listens for change notices (outside the pool).
    pub(crate) listen_config: tokio_postgres::Config,
    pub(crate) tls: Tls,
    pub(crate) recent_stay_days: i32,
    /// Rung when a message is put in the outbox (here or, through the listener, elsewhere).
    pub(crate) outbox_bell: Arc<tokio::sync::Notify>,
    /// Tenants whose trail this process added to since the chainer last looked.
    pub(crate) audited: Arc<std::sync::Mutex<std::collections::HashSet<TenantId>>>,
    /// The writer of reads' audit events ([`crate::trail`]).
    pub(crate) trail: Arc<crate::trail::Trail>,
}

impl Db {
    /// Builds the pool. No connection is opened until the first request, so the server can start
    /// while PostgreSQL is still coming up (and `/readyz` says so).
    pub fn new(config: &DbConfig) -> StoreResult<Self> {
        let pg = pg_config(config.url.expose(), config.connect_timeout, Some(config.statement_timeout))?;
        let listen_config = pg.clone();
        let tls = tls_for(&pg, config.ca_file.as_deref())?;
        // Fast: a checkout only looks whether the connection has closed. A PostgreSQL restart
        // closes every connection (the server says so, and the socket ends), which the
        // connection task sees at once, so a broken connection is discarded and replaced without
        // a test query — which would cost every request a round trip per checkout (two per
        // request whose principal is read: the principal, then the statement).
        let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = match &tls {
            Tls::Plain => Manager::from_config(pg, NoTls, manager_config),
            Tls::Verified(connector) => Manager::from_config(pg, connector.clone(), manager_config),
        };
        // Last in, first out: the connection just given back serves the next request, so at
        // ordinary load a few backends do the work with their caches and plans warm (FIFO would
        // turn every request over to the coldest backend, and make each one replan after every
        // invalidation); the others only serve peaks.
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .queue_mode(deadpool_postgres::QueueMode::Lifo)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(config.acquire_timeout))
            .create_timeout(Some(config.connect_timeout))
            .recycle_timeout(Some(config.connect_timeout))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot build the connection pool: {e}")))?;
        Ok(Self {
            pool,
            keys: Arc::new(KeyStore::new(config.crypto.clone())),
            principals: Arc::new(PrincipalCache::new(config.principal_cache_ttl)),
            listen_config,
            tls,
            recent_stay_days: config.recent_stay_days,
            outbox_bell: Arc::new(tokio::sync::Notify::new()),
            audited: Arc::default(),
            trail: Arc::new(crate::trail::Trail::new()),
        })
    }

    /// Rung when a message is put in the outbox by any server (while the listener listens) and
    /// when the listener (re)connects: outbox workers wait on it between passes.
    pub fn outbox_bell(&self) -> Arc<tokio::sync::Notify> {
        self.outbox_bell.clone()
    }

    /// Notes that `tenant`'s trail received events (committed), for the chainer's next pass.
    pub(crate) fn note_audited(&self, tenant: TenantId) {
        self.audited.lock().unwrap_or_else(|e| e.into_inner()).insert(tenant);
    }

    /// Records the events of reads answered by this task, with those of the others waiting;
    /// returns once they are durable.
    pub(crate) async fn record_reads(&self, events: Vec<crate::trail::ReadEvent>) -> StoreResult<()> {
        let tenants = crate::trail::tenants_of(&events);
        self.trail.record(&self.pool, events).await?;
        for tenant in tenants {
            self.note_audited(tenant);
        }
        Ok(())
    }

    /// The tenants noted since the last call.
    pub(crate) fn take_audited(&self) -> Vec<TenantId> {
        self.audited.lock().unwrap_or_else(|e| e.into_inner()).drain().collect()
    }

    /// A connection from the pool; a request that gave its place up for a commit's flush takes
    /// one again first ([`crate::place`]).
    pub(crate) async fn conn(&self) -> StoreResult<Object> {
        crate::place::rejoin().await;
        Ok(self.pool.get().await?)
    }

    /// Whether this server's database connections are encrypted (reported at start-up).
    pub async fn connection_encrypted(&self) -> StoreResult<bool> {
        let conn = self.conn().await?;
        let row = conn
            .query_one("SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)", &[])
            .await?;
        Ok(row.get(0))
    }

    /// How this server's connections plan prepared statements (reported at start-up).
    pub async fn plan_cache_mode(&self) -> StoreResult<String> {
        self.setting("plan_cache_mode").await
    }

    /// A setting of this server's connections, as PostgreSQL reports it.
    pub async fn setting(&self, name: &str) -> StoreResult<String> {
        let conn = self.conn().await?;
        Ok(conn.query_one("SELECT current_setting($1)", &[&name]).await?.try_get(0)?)
    }

    /// The PostgreSQL backend that serves a checkout now (for diagnosing the pool).
    pub async fn backend_pid(&self) -> StoreResult<i32> {
        let conn = self.conn().await?;
        Ok(conn.query_one("SELECT pg_backend_pid()", &[]).await?.try_get(0)?)
    }

    /// Whether PostgreSQL answers now, within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> StoreResult<()> {
        let attempt = async {
            let conn = self.conn().await?;
            conn.simple_query("SELECT 1").await?;
            Ok::<_, StoreError>(())
        };
        tokio::time::timeout(timeout, attempt)
            .await
            .map_err(|_| StoreError::Unavailable("no answer in time".to_owned()))?
    }

    pub fn status(&self) -> PoolStatus {
        let status = self.pool.status();
        PoolStatus {
            max_size: status.max_size,
            size: status.size,
            available: status.available,
            waiting: status.waiting,
        }
    }

    /// Closes the pool: used at shutdown, after the last request.
    pub fn close(&self) {
        self.pool.close();
    }

    /// Checks that the application role is what it must be: not a superuser, not BYPASSRLS, and
    /// unable to act as the owner of the tables (which could disable row-level security). The
    /// server refuses to start otherwise.
    pub async fn check_application_role(&self) -> StoreResult<()> {
        let conn = self.conn().await?;
        let row = conn
            .query_opt(
                "SELECT r.rolname::text AS role, r.rolsuper, r.rolbypassrls, pg_has_role(current_user, c.relowner, 'USAGE') AS acts_as_owner \
                 FROM pg_roles r, pg_class c \
                 WHERE r.rolname = current_user AND c.oid = to_regclass('public.establishments')",
                &[],
            )
            .await?;
        let Some(row) = row else {
            return Err(StoreError::Misconfigured(
                "the database schema is missing: run `dui migrate` first".to_owned(),
            ));
        };
        let role: String = row.get("role");
        let problems: Vec<&str> = [
            (row.get::<_, bool>("rolsuper"), "is a superuser"),
            (row.get::<_, bool>("rolbypassrls"), "has BYPASSRLS"),
            (row.get::<_, bool>("acts_as_owner"), "owns the tables (or can act as their owner)"),
        ]
        .into_iter()
        .filter_map(|(bad, why)| bad.then_some(why))
        .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Misconfigured(format!(
                "the application role {role} {}: row-level security would not protect tenants; connect as the application role (dui_app)",
                problems.join(", ")
            )))
        }
    }
}
