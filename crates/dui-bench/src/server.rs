//! The environment of a run: PostgreSQL (found, started or created), the benchmark database,
//! its keys, and the real `dui` server started as a child process whose CPU time and memory are
//! read from `/proc`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use dui::config::Config;

/// The database and keys of one profile.
#[derive(Debug, Clone)]
pub struct Environment {
    pub dir: PathBuf,
    pub app_url: String,
    pub owner_url: String,
    /// A superuser connection to the same PostgreSQL.
    pub admin_url: String,
    pub config: Config,
}

/// Where the durable commit probe writes its rows.
pub const COMMIT_PROBE_TABLE: &str = "bench_commit_probe";

pub async fn prepare(
    profile: &str,
    dir: &Path,
    admin_url: &str,
    pool: usize,
    tenant_concurrency: Option<usize>,
) -> anyhow::Result<Environment> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = std::fs::canonicalize(dir)?;
    let admin = dui_storage::cluster::ensure_server(admin_url, &dir.join("pg")).await?;
    let name = format!("dui_bench_{profile}");
    let kek_file = dir.join("keks.toml");
    if !kek_file.exists() {
        // A database left by another copy of the keys could not be read with new ones: the
        // dataset starts again with them.
        let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await?;
        let _ = std::fs::remove_file(dir.join("manifest.json"));
        let _ = std::fs::remove_dir_all(dir.join("notes-done"));
    }
    let database = dui_storage::cluster::provision(&admin, &name).await?;
    let key_file = dir.join("signing-key.pem");
    if !key_file.exists() {
        dui::demo::write_private_file(&key_file, dui_auth::keys::generate_pem()?.expose())?;
    }
    if !kek_file.exists() {
        let kek = dui_crypto::KekRing::generate_base64()?;
        dui::demo::write_private_file(&kek_file, &format!("active_kek = 1\n\n[keks]\n1 = \"{kek}\"\n"))?;
    }
    dui::server::migrate_with_retry(&database.owner_url, None, Duration::from_secs(30)).await?;
    // The commit probe's table, outside the schema (the benchmark's database only), emptied at
    // each run.
    let (owner, connection) = tokio_postgres::connect(&database.owner_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    owner
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {COMMIT_PROBE_TABLE} (n integer); TRUNCATE {COMMIT_PROBE_TABLE}; \
             GRANT INSERT ON {COMMIT_PROBE_TABLE} TO {}",
            dui_storage::cluster::APP_ROLE
        ))
        .await?;
    let mut config = Config::default();
    config.crypto.kek_file = Some(kek_file);
    config.auth.signing_key_file = Some(key_file);
    config.auth.issuer = "http://127.0.0.1".to_owned();
    config.database.url = Some(database.app_url.clone().into());
    config.database.migrate_on_start = false;
    config.database.pool_size = pool.max(1);
    config.limits.tenant_concurrency = tenant_concurrency;
    Ok(Environment { dir, app_url: database.app_url, owner_url: database.owner_url, admin_url: admin, config })
}

impl Environment {
    /// Writes out what is dirty in PostgreSQL's memory (what seeding, or a previous run, left),
    /// so that the measurements do not pay for it. Only said when it cannot be done.
    pub async fn checkpoint(&self) {
        let attempt = async {
            let (client, connection) = tokio_postgres::connect(&self.admin_url, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            client.batch_execute("CHECKPOINT").await
        };
        if let Err(error) = attempt.await {
            eprintln!("no checkpoint before the run ({error}): the figures may include writing out earlier work");
        }
    }

    pub fn db(&self) -> anyhow::Result<dui_storage::Db> {
        Ok(dui_storage::Db::new(&dui::server::db_config(&self.config)?)?)
    }
}

/// The server under test.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub base_url: String,
}

/// CPU and memory of the server over a phase.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Usage {
    /// Share of one core (100 = one core busy all the time).
    pub cpu_percent: f64,
    /// Resident memory at the end of the phase, MiB.
    pub rss_mib: f64,
    /// Highest resident memory since the server started, MiB.
    pub peak_rss_mib: f64,
}

impl Usage {
    /// Over several phases: the mean CPU, the last memory reading, the highest peak.
    pub fn pooled(parts: &[Usage]) -> Usage {
        Usage {
            cpu_percent: parts.iter().map(|u| u.cpu_percent).sum::<f64>() / parts.len().max(1) as f64,
            rss_mib: parts.last().map_or(0.0, |u| u.rss_mib),
            peak_rss_mib: parts.iter().map(|u| u.peak_rss_mib).fold(0.0, f64::max),
        }
    }
}

/// A reading of the server's counters.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    at: Instant,
    pub cpu_ticks: u64,
}

pub fn server_binary() -> anyhow::Result<PathBuf> {
    let own = std::env::current_exe()?;
    let dir = own.parent().context("the benchmark's own directory")?;
    let binary = dir.join("dui");
    if !binary.exists() {
        bail!(
            "{} not found: build it with the benchmark (`cargo build --release -p dui -p dui-bench`)",
            binary.display()
        );
    }
    Ok(binary)
}

impl Server {
    /// Starts `dui serve` on a free port with the environment's database and keys.
    pub async fn start(env: &Environment, tenant_rate: f64, tenant_burst: f64) -> anyhow::Result<Self> {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            listener.local_addr()?.port()
        };
        let base_url = format!("http://127.0.0.1:{port}");
        let config = &env.config;
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
        let log = std::fs::File::create(env.dir.join("server.log"))?;
        let mut command = Command::new(server_binary()?);
        command.arg("serve").env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
        // The runtime's threads, when the run sets them (to compare settings).
        if let Some(threads) = std::env::var_os("TOKIO_WORKER_THREADS") {
            command.env("TOKIO_WORKER_THREADS", threads);
        }
        let child = command
            .env("DUI_HTTP__LISTEN", format!("127.0.0.1:{port}"))
            .env("DUI_AUTH__ISSUER", &config.auth.issuer)
            .env("DUI_AUTH__SIGNING_KEY_FILE", path(&config.auth.signing_key_file))
            .env("DUI_CRYPTO__KEK_FILE", path(&config.crypto.kek_file))
            .env("DUI_DATABASE__URL", &env.app_url)
            .env("DUI_DATABASE__MIGRATE_ON_START", "false")
            .env("DUI_DATABASE__POOL_SIZE", config.database.pool_size.to_string())
            .env("DUI_LIMITS__TENANT_REQUESTS_PER_SECOND", tenant_rate.to_string())
            .env("DUI_LIMITS__TENANT_BURST", tenant_burst.to_string())
            .env("DUI_LOG__LEVEL", "warn")
            .env("DUI_LIMITS__TENANT_CONCURRENCY", config.tenant_concurrency().to_string())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting the server")?;
        let mut server = Self { child, base_url };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(response) = client.get(format!("{}/readyz", server.base_url)).send().await
                && response.status().is_success()
            {
                return Ok(server);
            }
            if let Some(status) = server.child.try_wait()? {
                bail!("the server exited ({status}); see {}", env.dir.join("server.log").display());
            }
            if Instant::now() > deadline {
                server.stop();
                bail!("the server did not become ready; see {}", env.dir.join("server.log").display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn read(&self) -> Reading {
        Reading { at: Instant::now(), cpu_ticks: cpu_ticks(self.pid()).unwrap_or(0) }
    }

    /// Usage since `start`.
    pub fn usage_since(&self, start: Reading) -> Usage {
        let now = self.read();
        let seconds = now.at.duration_since(start.at).as_secs_f64().max(1e-9);
        // Linux counts CPU time in clock ticks of 1/100 s (USER_HZ).
        let cpu = now.cpu_ticks.saturating_sub(start.cpu_ticks) as f64 / 100.0;
        let (rss, peak) = memory_kib(self.pid()).unwrap_or((0, 0));
        Usage { cpu_percent: cpu / seconds * 100.0, rss_mib: rss as f64 / 1024.0, peak_rss_mib: peak as f64 / 1024.0 }
    }

    pub fn stop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// utime + stime of a process, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces), from field 3 on.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// (VmRSS, VmHWM) in KiB.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status.lines().find(|l| l.starts_with(name))?.split_whitespace().nth(1)?.parse().ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_counters_of_this_process_are_read() {
        let pid = std::process::id();
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(30) {}
        assert!(super::cpu_ticks(pid).is_some());
        let (rss, peak) = super::memory_kib(pid).unwrap();
        assert!(rss > 0 && peak >= rss);
    }
}
