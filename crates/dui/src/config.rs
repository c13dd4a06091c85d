//! Configuration: defaults in code, then a TOML file, then `DUI_<SECTION>__<KEY>` environment
//! variables (as Kubernetes passes them, from config maps and mounted secrets). Unknown keys are
//! errors, so a typo never silently falls back to a default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dui_domain::secret::Secret;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub crypto: CryptoSection,
    pub access: AccessConfig,
    pub limits: LimitsConfig,
    pub outbox: OutboxConfig,
    pub insi: InsiConfig,
    pub log: LogConfig,
}

/// The INSi teleservice, reached over mutual TLS with the structure's certificate. Without a
/// `url`, searches of an INS are refused (the identity stays as the professionals record it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InsiConfig {
    /// `https://…` of the service.
    pub url: Option<String>,
    /// The structure's authentication certificate (PEM, its chain after it) and its private key:
    /// files (mounted secrets), never in the database.
    pub certificate_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// The CA the service's certificate is checked against (default: the system's roots).
    pub ca_file: Option<PathBuf>,
    /// The structure calling, as the service knows it (its FINESS or SIRET).
    pub emitter: String,
    /// The software's authorisation number for the service (CNDA).
    pub authorisation: String,
    /// This installation, as the service's context names it (default: a new id at each start).
    pub instance: Option<uuid::Uuid>,
    pub timeout_ms: u64,
    /// After this many failures in a row, calls are suspended for `breaker_cooldown_secs`.
    pub breaker_failures: u32,
    pub breaker_cooldown_secs: u64,
    /// Keep the service's test identities (a test installation only).
    pub accept_test_identities: bool,
    /// Tenants that call the service as structures of their own, by tenant id: each with its
    /// certificate, key and emitter (a platform's organisations each hold their certificat
    /// personne morale). The other tenants call as the structure above.
    pub tenants: std::collections::BTreeMap<uuid::Uuid, InsiStructure>,
    /// After how many days an INS the service confirmed is verified again by the server's
    /// periodic pass (0: never; the identity-vigilance list then shows no verification due).
    pub verification_period_days: u32,
}

/// A structure calling the INSi teleservice: its authentication certificate (PEM, chain after
/// it) and key — files, never in the database — and its identifier as the service knows it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsiStructure {
    pub certificate_file: PathBuf,
    pub key_file: PathBuf,
    pub emitter: String,
}

impl Default for InsiConfig {
    fn default() -> Self {
        Self {
            url: None,
            certificate_file: None,
            key_file: None,
            ca_file: None,
            emitter: String::new(),
            authorisation: String::new(),
            instance: None,
            timeout_ms: 10_000,
            breaker_failures: 5,
            breaker_cooldown_secs: 30,
            accept_test_identities: false,
            verification_period_days: 365,
            tenants: std::collections::BTreeMap::new(),
        }
    }
}

impl InsiConfig {
    /// The service the use cases call, when configured.
    pub fn service(&self) -> anyhow::Result<Option<std::sync::Arc<dyn dui_app::insi::InsiPort>>> {
        use crate::exchange::insi::{InsiClient, InsiService};
        use crate::exchange::soap_client::{SoapClient, SoapEndpoint};
        let Some(url) = self.url.clone() else { return Ok(None) };
        let (Some(certificate_file), Some(key_file)) = (self.certificate_file.clone(), self.key_file.clone()) else {
            anyhow::bail!("insi.certificate_file and insi.key_file are required with insi.url");
        };
        let software = dui_exchange::insi::Software {
            authorisation: self.authorisation.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            name: format!("urn:lps:dui:{}", env!("CARGO_PKG_VERSION")),
            instance: self.instance.unwrap_or_else(uuid::Uuid::now_v7),
        };
        // One client per structure: its own certificate, and its own breaker.
        let client = |certificate_file: PathBuf, key_file: PathBuf, emitter: String| -> anyhow::Result<InsiClient> {
            let endpoint = SoapEndpoint {
                url: url.clone(),
                certificate_file,
                key_file,
                ca_file: self.ca_file.clone(),
                timeout: Duration::from_millis(self.timeout_ms),
                breaker_failures: self.breaker_failures,
                breaker_cooldown: Duration::from_secs(self.breaker_cooldown_secs),
            };
            let soap = SoapClient::new(endpoint).map_err(|e| anyhow::anyhow!("insi: {e}"))?;
            Ok(InsiClient::new(soap, software.clone(), emitter))
        };
        let default = client(certificate_file, key_file, self.emitter.clone())?;
        let mut tenants = std::collections::HashMap::new();
        for (tenant, structure) in &self.tenants {
            let own = client(structure.certificate_file.clone(), structure.key_file.clone(), structure.emitter.clone())
                .map_err(|e| anyhow::anyhow!("insi.tenants.{tenant}: {e}"))?;
            tenants.insert(dui_domain::TenantId::from_uuid(*tenant), own);
        }
        Ok(Some(std::sync::Arc::new(InsiService::new(
            default,
            tenants,
            self.accept_test_identities,
            self.verification_period_days,
        ))))
    }
}

/// How the outbox's workers send what leaves the system (once a channel's transport is
/// configured: until then, messages wait in the outbox).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Workers per server; 0 sends nothing from this server (another one does).
    pub workers: usize,
    /// Messages leased at a time from one tenant.
    pub batch: i64,
    /// A worker's lease on a message: another worker takes the message over once it runs out.
    /// Longer than `send_timeout_secs`.
    pub lease_secs: u64,
    /// How long a send may take; beyond, it is a retryable failure.
    pub send_timeout_secs: u64,
    /// The first retry waits up to this; each next one twice as long (with jitter).
    pub backoff_base_secs: u64,
    /// The longest wait between two attempts.
    pub backoff_max_secs: u64,
    /// The longest pause between passes when nothing is enqueued.
    pub poll_secs: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            workers: 1,
            batch: 10,
            lease_secs: 120,
            send_timeout_secs: 60,
            backoff_base_secs: 30,
            backoff_max_secs: 3600,
            poll_secs: 5,
        }
    }
}

impl OutboxConfig {
    /// The workers' settings.
    pub fn worker(&self) -> dui_app::outbox::WorkerConfig {
        dui_app::outbox::WorkerConfig {
            batch: self.batch,
            tenants_per_pass: 50,
            lease: Duration::from_secs(self.lease_secs),
            send_timeout: Duration::from_secs(self.send_timeout_secs),
            backoff: dui_domain::outbox::Backoff {
                base: Duration::from_secs(self.backoff_base_secs),
                max: Duration::from_secs(self.backoff_max_secs),
            },
            poll: Duration::from_secs(self.poll_secs),
        }
    }
}

/// What one tenant may ask of one server. Beyond it, requests are answered 429 with
/// `Retry-After`, so that one organisation cannot slow the others down. Size it at a fraction
/// of what one server answers (the load benchmark measures it), times the number of servers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Sustained requests per second per tenant; 0 turns the limit off.
    pub tenant_requests_per_second: f64,
    /// Requests a tenant may send at once above its sustained rate.
    pub tenant_burst: f64,
    /// Requests of one tenant in progress at once; the others wait for their turn, so that an
    /// admitted burst cannot take the database connections the other tenants need. Unset: a
    /// quarter of the pool (at least one); 0 turns the cap off (a server with one tenant).
    pub tenant_concurrency: Option<usize>,
    /// Requests of one tenant in progress at once while no other tenant has any: a large
    /// organisation working alone on a platform uses the machine instead of queueing at its
    /// share. Unset: the pool less one share and the server's own two connections (never less
    /// than the share).
    pub tenant_concurrency_alone: Option<usize>,
    /// How long a request may wait for its turn among its tenant's requests in progress; past
    /// it the request is answered 503 with `Retry-After: 1`, so that an overload sheds load
    /// instead of growing a queue (and memory) until every request times out. 0: no bound.
    pub queue_timeout_ms: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            tenant_requests_per_second: 500.0,
            tenant_burst: 1000.0,
            tenant_concurrency: None,
            tenant_concurrency_alone: None,
            queue_timeout_ms: 2000,
        }
    }
}

/// Connections of the pool the server's own work may hold while requests run: the audit trail's
/// writer and the chainer (or an outbox worker).
const SERVER_CONNECTIONS: usize = 2;

impl Config {
    /// The cap on one tenant's requests in progress: as set, else a quarter of the pool.
    pub fn tenant_concurrency(&self) -> usize {
        self.limits.tenant_concurrency.unwrap_or((self.database.pool_size / 4).max(1))
    }

    /// The cap on one tenant's requests in progress while it is the only one at work: as set,
    /// else the pool less one share and the server's own connections; never under
    /// [`Self::tenant_concurrency`].
    pub fn tenant_concurrency_alone(&self) -> usize {
        let share = self.tenant_concurrency();
        self.limits
            .tenant_concurrency_alone
            .unwrap_or(self.database.pool_size.saturating_sub(share + SERVER_CONNECTIONS))
            .max(share)
    }
}

/// Who sees which records.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// After a discharge, the team still sees the record for this many days.
    pub recent_stay_days: i32,
    /// How long an emergency (break-the-glass) opening lasts.
    pub emergency_access_minutes: i32,
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self { recent_stay_days: 30, emergency_access_minutes: 240 }
    }
}

/// Encryption at rest. The key-encryption keys (KEKs) come from here — a file mounted from a
/// secret, or the values themselves — and never reach the database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CryptoSection {
    /// A TOML file holding `active_kek` and a `[keks]` table (version = base64 key).
    pub kek_file: Option<PathBuf>,
    /// The version of the KEK that wraps new keys.
    pub active_kek: Option<u32>,
    /// KEKs by version (`"1" = "base64 of 32 bytes"`); `dui keys generate-kek` makes one.
    pub keks: BTreeMap<String, Secret<String>>,
    /// How long a tenant's unwrapped keys are reused before being read again.
    pub key_cache_ttl_secs: u64,
    /// Encryptions reserved at a time on a data key.
    pub reservation_block: u64,
    /// A data key is rotated once this many encryptions were reserved on it (the bound for random
    /// 96-bit nonces is 2^32).
    pub max_encryptions_per_key: u64,
}

impl Default for CryptoSection {
    fn default() -> Self {
        Self {
            kek_file: None,
            active_kek: None,
            keks: BTreeMap::new(),
            key_cache_ttl_secs: 30,
            reservation_block: 10_000,
            max_encryptions_per_key: 1 << 31,
        }
    }
}

/// The KEK part of a `crypto.kek_file`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KekFile {
    active_kek: u32,
    keks: BTreeMap<String, Secret<String>>,
}

impl CryptoSection {
    /// The active KEK version and the KEKs by version, from the file or the inline values.
    pub fn keks(&self) -> Result<(u32, BTreeMap<u32, String>), ConfigError> {
        let (active, keks) = match &self.kek_file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
                let file: KekFile = toml::from_str(&text)
                    .map_err(|e| ConfigError::Invalid(format!("{}: {}", path.display(), e.message())))?;
                (Some(file.active_kek), file.keks)
            }
            None => (self.active_kek, self.keks.clone()),
        };
        let active = active.ok_or_else(|| {
            ConfigError::Invalid("crypto.active_kek and crypto.keks (or crypto.kek_file) are required".to_owned())
        })?;
        let keks = keks
            .into_iter()
            .map(|(version, key)| {
                let version: u32 = version
                    .parse()
                    .map_err(|_| ConfigError::Invalid(format!("crypto.keks: {version:?} is not a version number")))?;
                Ok((version, key.expose().clone()))
            })
            .collect::<Result<BTreeMap<_, _>, ConfigError>>()?;
        Ok((active, keks))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address and port to listen on.
    pub listen: String,
    pub request_timeout_secs: u64,
    /// How long a document's upload may take (its content is received before the database is
    /// asked for anything: a slow upload holds no connection).
    pub upload_timeout_secs: u64,
    pub body_limit_bytes: usize,
    /// The largest document (PDF, JPEG, PNG) accepted on a person's record, in bytes. Its
    /// content is streamed, chunk by chunk, so this bounds storage, not memory.
    pub document_max_bytes: u64,
    /// After SIGTERM, how long `/readyz` fails before the listener closes (let the load balancer
    /// notice).
    pub shutdown_delay_secs: u64,
    /// After the listener closes, how long in-flight requests may take to finish.
    pub shutdown_grace_secs: u64,
    /// Take the client's address (recorded in the audit trail) from `X-Forwarded-For`: only
    /// behind a reverse proxy that sets it.
    pub trust_forwarded_for: bool,
    /// From a request's first byte, the time its headers may take; past it the connection is
    /// closed (a client trickling them: slowloris).
    pub header_read_timeout_secs: u64,
    /// How long a kept-alive connection may wait idle for its next request: longer than the
    /// reverse proxy in front keeps its idle connections to the server (75 s covers nginx's
    /// default of 60 s).
    pub keep_alive_idle_secs: u64,
    /// Connections open at once; those over the cap are closed as they arrive.
    pub max_connections: usize,
    /// Connections open at once from one client address; 0: no cap (set 0 behind a reverse
    /// proxy, whose address every connection then has).
    pub max_connections_per_client: usize,
    /// The most a request's line and headers may take, in bytes; past it the answer is `431`
    /// and the connection closes.
    pub max_header_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Connection string of the application role (`dui_app`).
    pub url: Option<Secret<String>>,
    /// Connection string of the owner role, for migrations.
    pub owner_url: Option<Secret<String>>,
    /// With `sslmode=require` in the connection strings: the CA certificates (PEM) that sign the
    /// database's certificate (default: the system's roots). The server's name is verified too.
    pub ca_file: Option<PathBuf>,
    pub pool_size: usize,
    pub acquire_timeout_ms: u64,
    pub connect_timeout_secs: u64,
    pub statement_timeout_secs: u64,
    /// How long a user's status and memberships, read for one request, serve the next ones while
    /// change notices are received (0: read at every request). Any change drops them at once
    /// (the notices), and a listener that stops hearing drops them all within seconds (its
    /// heartbeat): this only bounds how long an unchanged user is not read again.
    pub principal_cache_ttl_secs: u64,
    /// Apply pending migrations when the server starts (needs `owner_url`).
    pub migrate_on_start: bool,
    /// How long the server waits for PostgreSQL at start-up before giving up.
    pub startup_timeout_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// The `iss` of the server's own tokens: its public base URL.
    pub issuer: String,
    /// The `aud` the server's own tokens carry.
    pub audience: String,
    /// Ed25519 private key (PKCS#8 PEM) signing the server's own tokens: a file...
    pub signing_key_file: Option<PathBuf>,
    /// ... or the PEM itself (e.g. from a secret mounted as an environment variable).
    pub signing_key: Option<Secret<String>>,
    /// Previous keys (public or private PEM files) still accepted after a rotation.
    pub previous_key_files: Vec<PathBuf>,
    /// Lifetime of tokens minted by `dui token`.
    pub token_ttl_secs: u64,
    pub leeway_secs: u64,
    pub jwks_cache_ttl_secs: u64,
    pub jwks_refresh_min_interval_secs: u64,
    pub jwks_fetch_timeout_secs: u64,
    pub provider_cache_ttl_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A tracing filter (`info`, `dui_api=debug,info`, ...).
    pub level: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8080".to_owned(),
            request_timeout_secs: 30,
            upload_timeout_secs: 600,
            body_limit_bytes: 1024 * 1024,
            document_max_bytes: 20 * 1024 * 1024,
            shutdown_delay_secs: 0,
            shutdown_grace_secs: 30,
            trust_forwarded_for: false,
            header_read_timeout_secs: 5,
            keep_alive_idle_secs: 75,
            max_connections: 10_000,
            max_connections_per_client: 256,
            max_header_bytes: 64 * 1024,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            owner_url: None,
            ca_file: None,
            pool_size: 16,
            acquire_timeout_ms: 5000,
            connect_timeout_secs: 5,
            statement_timeout_secs: 30,
            principal_cache_ttl_secs: 300,
            migrate_on_start: true,
            startup_timeout_secs: 60,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "http://localhost:8080".to_owned(),
            audience: "dui".to_owned(),
            signing_key_file: None,
            signing_key: None,
            previous_key_files: Vec::new(),
            token_ttl_secs: 3600,
            leeway_secs: 30,
            jwks_cache_ttl_secs: 3600,
            jwks_refresh_min_interval_secs: 30,
            jwks_fetch_timeout_secs: 5,
            provider_cache_ttl_secs: 30,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: LogFormat::Json, level: "info".to_owned() }
    }
}

/// The environment variable prefix; nesting is written with a double underscore.
const ENV_PREFIX: &str = "DUI_";

impl Config {
    /// Loads the configuration: `file` (if any) over the defaults, then the environment over that.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
                toml::from_str::<toml::Table>(&text)
                    .map_err(|e| ConfigError::Invalid(format!("{}: {}", path.display(), e.message())))?
            }
            None => toml::Table::new(),
        };
        let overrides: BTreeMap<String, String> =
            env.into_iter().filter(|(key, _)| key.starts_with(ENV_PREFIX) && key.contains("__")).collect();
        for (key, raw) in overrides {
            let path: Vec<String> = key[ENV_PREFIX.len()..].split("__").map(str::to_ascii_lowercase).collect();
            set_path(&mut table, &path, env_value(&raw))
                .map_err(|why| ConfigError::Invalid(format!("{key}: {why}")))?;
        }
        let config: Config = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().message().to_owned();
            // The path names the key, so that the operator knows exactly what to fix.
            ConfigError::Invalid(if path == "." { message } else { format!("{path}: {message}") })
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what the types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.http.listen.parse::<SocketAddr>().is_err() {
            problems.push(format!("http.listen: {:?} is not an address:port", self.http.listen));
        }
        if self.http.request_timeout_secs == 0 {
            problems.push("http.request_timeout_secs must be at least 1".to_owned());
        }
        if self.http.upload_timeout_secs < self.http.request_timeout_secs {
            problems.push("http.upload_timeout_secs must be at least http.request_timeout_secs".to_owned());
        }
        if self.crypto.key_cache_ttl_secs == 0 {
            // A keyring that is never fresh would be loaded again at every encryption, forever.
            problems.push("crypto.key_cache_ttl_secs must be at least 1".to_owned());
        }
        if self.http.document_max_bytes == 0 {
            problems.push("http.document_max_bytes must be at least 1".to_owned());
        }
        if self.http.body_limit_bytes < 1024 {
            problems.push("http.body_limit_bytes must be at least 1024".to_owned());
        }
        if self.http.max_header_bytes < 8192 {
            problems.push("http.max_header_bytes must be at least 8192".to_owned());
        }
        if self.http.header_read_timeout_secs == 0
            || self.http.keep_alive_idle_secs == 0
            || self.http.max_connections == 0
        {
            problems.push(
                "http.header_read_timeout_secs, http.keep_alive_idle_secs and http.max_connections must be at least 1"
                    .to_owned(),
            );
        }
        if !(self.limits.tenant_requests_per_second >= 0.0 && self.limits.tenant_burst >= 0.0) {
            problems.push("limits.tenant_requests_per_second and limits.tenant_burst must be positive or 0".to_owned());
        }
        if self.database.pool_size == 0 {
            problems.push("database.pool_size must be at least 1".to_owned());
        }
        if self.database.acquire_timeout_ms == 0 || self.database.connect_timeout_secs == 0 {
            problems.push("database timeouts must be positive".to_owned());
        }
        if !(self.auth.issuer.starts_with("https://") || self.auth.issuer.starts_with("http://")) {
            problems.push("auth.issuer must be the server's public http(s) URL".to_owned());
        }
        if self.auth.audience.trim().is_empty() {
            problems.push("auth.audience must not be empty".to_owned());
        }
        if self.auth.signing_key.is_some() && self.auth.signing_key_file.is_some() {
            problems.push("set auth.signing_key or auth.signing_key_file, not both".to_owned());
        }
        if self.crypto.kek_file.is_some() && (self.crypto.active_kek.is_some() || !self.crypto.keks.is_empty()) {
            problems.push("set crypto.kek_file or crypto.active_kek with crypto.keks, not both".to_owned());
        }
        if self.crypto.reservation_block == 0 || self.crypto.max_encryptions_per_key == 0 {
            problems.push("crypto.reservation_block and crypto.max_encryptions_per_key must be positive".to_owned());
        }
        if self.crypto.max_encryptions_per_key > 1 << 32 {
            problems.push("crypto.max_encryptions_per_key must not exceed 2^32 (NIST SP 800-38D)".to_owned());
        }
        if !(0..=3650).contains(&self.access.recent_stay_days) {
            problems.push("access.recent_stay_days must be between 0 and 3650".to_owned());
        }
        if !(5..=24 * 60).contains(&self.access.emergency_access_minutes) {
            problems.push("access.emergency_access_minutes must be between 5 and 1440".to_owned());
        }
        if self.auth.token_ttl_secs == 0 {
            problems.push("auth.token_ttl_secs must be at least 1".to_owned());
        }
        let outbox = &self.outbox;
        if !(1..=1000).contains(&outbox.batch) {
            problems.push("outbox.batch must be between 1 and 1000".to_owned());
        }
        if outbox.send_timeout_secs == 0 || outbox.lease_secs < outbox.send_timeout_secs + 10 {
            problems
                .push("outbox.lease_secs must exceed outbox.send_timeout_secs (at least 1) by 10 s or more".to_owned());
        }
        if outbox.backoff_base_secs == 0 || outbox.backoff_max_secs < outbox.backoff_base_secs || outbox.poll_secs == 0
        {
            problems.push(
                "outbox.backoff_base_secs and outbox.poll_secs must be positive, outbox.backoff_max_secs at least the base"
                    .to_owned(),
            );
        }
        let insi = &self.insi;
        if let Some(url) = &insi.url {
            if !url.starts_with("https://") {
                problems.push("insi.url must be an https:// URL".to_owned());
            }
            if insi.certificate_file.is_none() || insi.key_file.is_none() {
                problems.push("insi.certificate_file and insi.key_file are required with insi.url".to_owned());
            }
            if insi.emitter.trim().is_empty() || insi.authorisation.trim().is_empty() {
                problems.push("insi.emitter and insi.authorisation are required with insi.url".to_owned());
            }
            if insi.tenants.values().any(|structure| structure.emitter.trim().is_empty()) {
                problems.push("insi.tenants.<tenant>.emitter is required".to_owned());
            }
            if insi.timeout_ms == 0 || insi.breaker_failures == 0 {
                problems.push("insi.timeout_ms and insi.breaker_failures must be positive".to_owned());
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(ConfigError::Invalid(problems.join("; "))) }
    }

    /// What serving needs on top of the shape checks: a database and a signing key.
    pub fn require_serving(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.database.url.is_none() {
            problems.push("database.url (DUI_DATABASE__URL) is required");
        }
        if self.database.migrate_on_start && self.database.owner_url.is_none() {
            problems.push(
                "database.owner_url (DUI_DATABASE__OWNER_URL) is required when database.migrate_on_start is true",
            );
        }
        if self.crypto.kek_file.is_none() && self.crypto.active_kek.is_none() {
            problems.push("crypto.kek_file, or crypto.active_kek with crypto.keks, is required (create a KEK with `dui keys generate-kek`)");
        }
        if self.auth.signing_key.is_none() && self.auth.signing_key_file.is_none() {
            problems
                .push("auth.signing_key_file or auth.signing_key is required (create one with `dui keys generate`)");
        }
        if problems.is_empty() { Ok(()) } else { Err(ConfigError::Invalid(problems.join("; "))) }
    }

    pub fn listen_addr(&self) -> SocketAddr {
        self.http.listen.parse().expect("validated")
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.http.request_timeout_secs)
    }
}

/// An environment value: TOML syntax when it parses as a value (numbers, booleans, arrays,
/// quoted strings), a plain string otherwise.
fn env_value(raw: &str) -> toml::Value {
    match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut table) => table.remove("v").unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Err("empty key".to_owned()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table.entry(first.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(inner) => set_path(inner, rest, value),
                _ => Err(format!("{first} is not a section")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_then_file_then_environment() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "[database]\npool_size = 4\nurl = \"postgres://file\"\n[http]\nlisten = \"127.0.0.1:9000\"")
            .unwrap();
        let config = Config::load(
            Some(file.path()),
            env(&[
                ("DUI_DATABASE__POOL_SIZE", "8"),
                ("DUI_AUTH__ISSUER", "https://dui.example.fr"),
                ("DUI_AUTH__PREVIOUS_KEY_FILES", "[\"/a.pem\", \"/b.pem\"]"),
                ("DUI_TEST_DATABASE_URL", "ignored: no double underscore"),
                ("OTHER__THING", "ignored: no prefix"),
            ]),
        )
        .unwrap();
        assert_eq!(config.database.pool_size, 8, "the environment wins over the file");
        assert_eq!(config.database.url.as_ref().unwrap().expose(), "postgres://file");
        assert_eq!(config.http.listen, "127.0.0.1:9000");
        assert_eq!(config.auth.issuer, "https://dui.example.fr");
        assert_eq!(config.auth.previous_key_files.len(), 2);
        assert_eq!(config.http.request_timeout_secs, 30, "untouched keys keep their default");
        assert_eq!(config.tenant_concurrency(), 2, "a quarter of the pool by default");
        let set = Config::load(None, env(&[("DUI_LIMITS__TENANT_CONCURRENCY", "0")])).unwrap();
        assert_eq!(set.tenant_concurrency(), 0, "as set: no cap");
        let small = Config::load(None, env(&[("DUI_DATABASE__POOL_SIZE", "2")])).unwrap();
        assert_eq!(small.tenant_concurrency(), 1, "at least one");
        assert_eq!(config.tenant_concurrency_alone(), 4, "alone: the pool of 8 less a share and the server's two");
        assert_eq!(small.tenant_concurrency_alone(), 1, "never under the share");
    }

    #[test]
    fn refuses_unknown_keys_and_bad_values_with_a_clear_message() {
        let cases = [
            (vec![("DUI_DATABASE__POOL_SIZ", "8")], "unknown field `pool_siz`"),
            (vec![("DUI_DATABASE__POOL_SIZE", "many")], "database.pool_size: invalid type"),
            (vec![("DUI_DATABASE__POOL_SIZE", "0")], "database.pool_size must be at least 1"),
            (vec![("DUI_CRYPTO__KEY_CACHE_TTL_SECS", "0")], "crypto.key_cache_ttl_secs must be at least 1"),
            (vec![("DUI_HTTP__LISTEN", "localhost")], "http.listen"),
            (vec![("DUI_AUTH__ISSUER", "dui")], "auth.issuer"),
            (vec![("DUI_NOPE__X", "1")], "unknown field `nope`"),
        ];
        for (vars, expected) in cases {
            let error = Config::load(None, env(&vars)).unwrap_err().to_string();
            assert!(error.contains(expected), "{vars:?}: {error}");
        }
    }

    #[test]
    fn secrets_are_not_printed() {
        let config = Config::load(
            None,
            env(&[
                ("DUI_DATABASE__URL", "postgres://dui_app:hunter2@db/dui"),
                ("DUI_CRYPTO__KEKS", "{ 1 = \"c2VjcmV0LWtleS1tYXRlcmlhbA==\" }"),
                ("DUI_CRYPTO__ACTIVE_KEK", "1"),
            ]),
        )
        .unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2") && !printed.contains("c2VjcmV0"), "{printed}");
        let (active, keks) = config.crypto.keks().unwrap();
        assert_eq!((active, keks[&1].as_str()), (1, "c2VjcmV0LWtleS1tYXRlcmlhbA=="));
    }

    #[test]
    fn keks_come_from_a_file_or_inline_but_not_both() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "active_kek = 2\n[keks]\n1 = \"a\"\n2 = \"b\"").unwrap();
        let path = file.path().to_str().unwrap().to_owned();
        let config = Config::load(None, env(&[("DUI_CRYPTO__KEK_FILE", &path)])).unwrap();
        let (active, keks) = config.crypto.keks().unwrap();
        assert_eq!((active, keks.len()), (2, 2));
        let both = Config::load(None, env(&[("DUI_CRYPTO__KEK_FILE", &path), ("DUI_CRYPTO__ACTIVE_KEK", "1")]));
        assert!(both.unwrap_err().to_string().contains("not both"));
        let none = Config::load(None, Vec::new()).unwrap();
        assert!(none.crypto.keks().unwrap_err().to_string().contains("crypto.active_kek"));
    }

    #[test]
    fn serving_needs_a_database_and_a_key() {
        let error = Config::load(None, Vec::new()).unwrap().require_serving().unwrap_err().to_string();
        assert!(error.contains("database.url"), "{error}");
        assert!(error.contains("signing_key"), "{error}");
        assert!(error.contains("crypto.kek_file"), "{error}");
    }
}
