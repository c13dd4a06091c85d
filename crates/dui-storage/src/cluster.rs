//! A local PostgreSQL for the demo and the tests: find one, start one, or make one.
//!
//! Production never uses this module: there, PostgreSQL is provisioned by its operators and dui
//! only connects. Here, "run the demo" and "run the tests" must work on a fresh machine with the
//! PostgreSQL packages installed, whether or not a server is running and whatever its
//! authentication rules: when the configured server cannot be used, a private cluster (trust
//! authentication, loopback only) is created under a directory of the project.

use std::fs::{self, File};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::NoTls;
use tokio_postgres::config::Host;

/// The role that owns the schema and runs migrations.
pub const OWNER_ROLE: &str = "dui_owner";
/// The role the server connects as: no superuser, no BYPASSRLS, owns nothing.
pub const APP_ROLE: &str = "dui_app";

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{0}")]
    Setup(String),
    #[error("PostgreSQL refused a set-up statement: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let context = context.into();
    move |source| ClusterError::Io { context, source }
}

/// Whether a connection (and an authentication) succeeds within two seconds.
pub async fn reachable(url: &str) -> bool {
    let Ok(mut config) = tokio_postgres::Config::from_str(url) else { return false };
    config.connect_timeout(Duration::from_secs(2));
    match tokio::time::timeout(Duration::from_secs(3), config.connect(NoTls)).await {
        Ok(Ok((client, connection))) => {
            drop(client);
            let _ = connection.await;
            true
        }
        _ => false,
    }
}

/// Returns the URL of a usable superuser connection: `admin_url` if it works (starting the
/// Debian system cluster first if it is merely stopped), else a private cluster in
/// `private_dir`, created and started as needed.
pub async fn ensure_server(admin_url: &str, private_dir: &Path) -> Result<String, ClusterError> {
    if reachable(admin_url).await {
        return Ok(admin_url.to_owned());
    }
    if start_system_cluster(admin_url) && wait_reachable(admin_url, Duration::from_secs(20)).await {
        return Ok(admin_url.to_owned());
    }
    tracing::info!(dir = %private_dir.display(), "no usable PostgreSQL at the configured address; using a private cluster");
    let dir = private_dir.to_owned();
    let cluster = tokio::task::spawn_blocking(move || PrivateCluster::open(&dir))
        .await
        .map_err(|e| ClusterError::Setup(format!("private cluster set-up panicked: {e}")))??;
    let url = cluster.admin_url();
    if !wait_reachable(&url, Duration::from_secs(30)).await {
        return Err(ClusterError::Setup(format!(
            "the private PostgreSQL cluster in {} did not accept connections; see its log file",
            private_dir.display()
        )));
    }
    Ok(url)
}

async fn wait_reachable(url: &str, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if reachable(url).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

/// On Debian, starts the stopped system cluster listening on the URL's port. Returns whether a
/// start was attempted successfully.
fn start_system_cluster(admin_url: &str) -> bool {
    let port =
        tokio_postgres::Config::from_str(admin_url).ok().and_then(|c| c.get_ports().first().copied()).unwrap_or(5432);
    let Ok(output) = Command::new("pg_lsclusters").arg("--no-header").output() else { return false };
    let listing = String::from_utf8_lossy(&output.stdout);
    for line in listing.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [version, name, cluster_port, status, ..] = fields[..]
            && cluster_port == port.to_string()
            && status.starts_with("down")
        {
            tracing::info!(version, name, "starting the system PostgreSQL cluster");
            return Command::new("pg_ctlcluster")
                .args(["--skip-systemctl-redirect", version, name, "start"])
                .status()
                .is_ok_and(|s| s.success());
        }
    }
    false
}

/// Finds a PostgreSQL server program: on the PATH, else in Debian's versioned directories
/// (newest first).
pub fn find_program(name: &str) -> Option<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let program = entry.path().join("bin").join(name);
            program.is_file().then_some((version, program))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, program)| program)
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL cluster in a directory of our own, listening on 127.0.0.1 only, with trust
/// authentication. PostgreSQL refuses to run as root, so when we are root it runs as the
/// `postgres` system user (present wherever the Debian packages are installed).
#[derive(Debug, Clone)]
pub struct PrivateCluster {
    dir: PathBuf,
    port: u16,
    run_as: Option<&'static str>,
    /// Extra server settings (`-c name=value`).
    settings: Vec<String>,
}

impl PrivateCluster {
    /// Opens the cluster in `dir`: creates it on first use, starts it if it is not running. Safe
    /// to call from several processes at once (a lock file serialises them).
    pub fn open(dir: &Path) -> Result<Self, ClusterError> {
        fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
        let lock = File::create(dir.join("setup.lock")).map_err(io("cannot create the set-up lock"))?;
        lock.lock().map_err(io("cannot take the set-up lock"))?;
        let run_as = running_as_root().then_some("postgres");
        let port_file = dir.join("port");
        let port = match fs::read_to_string(&port_file).ok().and_then(|p| p.trim().parse().ok()) {
            Some(port) => port,
            None => {
                let port = free_port()?;
                fs::write(&port_file, port.to_string()).map_err(io("cannot record the port"))?;
                port
            }
        };
        let cluster = Self { dir: dir.to_owned(), port, run_as, settings: Vec::new() };
        if !cluster.data_dir().join("PG_VERSION").exists() {
            cluster.init()?;
        }
        if !cluster.is_running() {
            cluster.start()?;
        }
        drop(lock);
        Ok(cluster)
    }

    /// Creates a fresh cluster in a new directory and starts it (used by tests that stop and
    /// restart PostgreSQL under a running server).
    pub fn create(dir: &Path) -> Result<Self, ClusterError> {
        Self::create_with(dir, &[])
    }

    /// [`PrivateCluster::create`] with extra server settings (`name=value`), e.g. to turn TLS on
    /// with certificates placed in `dir` beforehand.
    pub fn create_with(dir: &Path, settings: &[&str]) -> Result<Self, ClusterError> {
        fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
        let cluster = Self {
            dir: dir.to_owned(),
            port: free_port()?,
            run_as: running_as_root().then_some("postgres"),
            settings: settings.iter().map(|s| format!(" -c {s}")).collect(),
        };
        cluster.init()?;
        cluster.start()?;
        Ok(cluster)
    }

    /// [`PrivateCluster::create_with`], with every completed WAL segment copied into
    /// `archive` (created if needed; a segment already there is never overwritten): with a base
    /// backup, what a point-in-time restore needs.
    pub fn create_archiving(dir: &Path, archive: &Path, settings: &[&str]) -> Result<Self, ClusterError> {
        let archive = quotable(archive)?;
        fs::create_dir_all(&archive).map_err(io(format!("cannot create {}", archive.display())))?;
        let run_as = running_as_root().then_some("postgres");
        chown(run_as, &archive)?;
        let command = format!("archive_command='test ! -f {0}/%f && cp %p {0}/%f'", archive.display());
        let mut all = vec!["archive_mode=on", "wal_level=replica", command.as_str()];
        all.extend_from_slice(settings);
        Self::create_with(dir, &all)
    }

    /// Takes a base backup of the running cluster into `target` (a new directory): the data
    /// files as of the backup's start, with the WAL that makes them consistent.
    pub fn base_backup(&self, target: &Path) -> Result<(), ClusterError> {
        let parent = target.parent().ok_or_else(|| ClusterError::Setup("a backup needs a parent directory".into()))?;
        fs::create_dir_all(parent).map_err(io(format!("cannot create {}", parent.display())))?;
        fs::create_dir_all(target).map_err(io(format!("cannot create {}", target.display())))?;
        chown(self.run_as, target)?;
        let mut backup = self.command("pg_basebackup")?;
        backup.arg("-D").arg(target).args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
            "--checkpoint=fast",
            "--wal-method=stream",
            "--no-sync",
        ]);
        self.run(backup, "pg_basebackup")
    }

    /// A new cluster in `dir` made from the base backup in `base_backup`, recovered with the WAL
    /// of `archive` up to `target_time` (a PostgreSQL `timestamptz` literal: the transactions
    /// committed by then are restored, none after), then promoted: it leaves recovery and takes
    /// writes, as a cluster of its own on a port of its own. Returns once recovery has ended;
    /// until then it accepts no connection (`hot_standby` off).
    pub fn restore(dir: &Path, base_backup: &Path, archive: &Path, target_time: &str) -> Result<Self, ClusterError> {
        let archive = quotable(archive)?;
        fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
        let cluster = Self {
            dir: dir.to_owned(),
            port: free_port()?,
            run_as: running_as_root().then_some("postgres"),
            settings: vec![" -c hot_standby=off".to_owned()],
        };
        let data = cluster.data_dir();
        let mut copy = Command::new("cp");
        copy.arg("-a").arg(base_backup).arg(&data);
        cluster.run(copy, "copying the base backup")?;
        let recovery = format!(
            "\n# Point-in-time recovery\nrestore_command = 'cp {}/%f %p'\nrecovery_target_time = '{}'\nrecovery_target_action = 'promote'\n",
            archive.display(),
            literal(target_time)?
        );
        let conf = data.join("postgresql.auto.conf");
        let mut settings = fs::read_to_string(&conf).unwrap_or_default();
        settings.push_str(&recovery);
        fs::write(&conf, settings).map_err(io("cannot write the recovery settings"))?;
        File::create(data.join("recovery.signal")).map_err(io("cannot create recovery.signal"))?;
        chown(cluster.run_as, dir)?;
        // PostgreSQL refuses a data directory others may read.
        let mut chmod = Command::new("chmod");
        chmod.arg("700").arg(&data);
        cluster.run(chmod, "chmod")?;
        cluster.start()?;
        cluster.wait_in_production(Duration::from_secs(600))?;
        Ok(cluster)
    }

    /// Waits until recovery has ended and the cluster was promoted. `pg_ctl start -w` returns
    /// when a recovering cluster reaches a consistent state, before the end of its WAL; the
    /// control file says when it is a primary again.
    fn wait_in_production(&self, timeout: Duration) -> Result<(), ClusterError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let mut control = self.command("pg_controldata")?;
            let output =
                control.env("LC_ALL", "C").arg(self.data_dir()).output().map_err(io("cannot run pg_controldata"))?;
            let state = String::from_utf8_lossy(&output.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("Database cluster state:").map(|s| s.trim().to_owned()))
                .unwrap_or_default();
            if state == "in production" {
                return Ok(());
            }
            if !self.is_running() {
                return Err(ClusterError::Setup(format!(
                    "the restored cluster stopped during recovery (state: {state}); see {}",
                    self.dir.join("postgresql.log").display()
                )));
            }
            if std::time::Instant::now() > deadline {
                return Err(ClusterError::Setup(format!("recovery did not end within {timeout:?} (state: {state})")));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A superuser connection string.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn command(&self, program: &str) -> Result<Command, ClusterError> {
        let path = find_program(program).ok_or_else(|| {
            ClusterError::Setup(format!(
                "PostgreSQL's {program} was not found: install PostgreSQL (Debian: apt-get install postgresql)"
            ))
        })?;
        Ok(match self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(path);
                command
            }
            None => Command::new(path),
        })
    }

    fn run(&self, mut command: Command, what: &str) -> Result<(), ClusterError> {
        let output = command.output().map_err(io(format!("cannot run {what}")))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(ClusterError::Setup(format!(
                "{what} failed: {}{}",
                String::from_utf8_lossy(&output.stderr),
                String::from_utf8_lossy(&output.stdout)
            )))
        }
    }

    fn init(&self) -> Result<(), ClusterError> {
        // The postgres user must own the directory it runs in.
        chown(self.run_as, &self.dir)?;
        let mut initdb = self.command("initdb")?;
        initdb.arg("-D").arg(self.data_dir()).args([
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]);
        self.run(initdb, "initdb")
    }

    pub fn is_running(&self) -> bool {
        self.command("pg_ctl")
            .ok()
            .and_then(|mut c| c.arg("-D").arg(self.data_dir()).arg("status").output().ok())
            .is_some_and(|o| o.status.success())
    }

    pub fn start(&self) -> Result<(), ClusterError> {
        let mut pg_ctl = self.command("pg_ctl")?;
        pg_ctl
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.dir.join("postgresql.log"))
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c full_page_writes=off{}",
                self.port,
                self.dir.display(),
                self.settings.concat()
            ))
            .args(["-w", "-t", "60", "start"]);
        self.run(pg_ctl, "pg_ctl start")
    }

    pub fn stop(&self) -> Result<(), ClusterError> {
        let mut pg_ctl = self.command("pg_ctl")?;
        pg_ctl.arg("-D").arg(self.data_dir()).args(["-m", "fast", "-w", "stop"]);
        self.run(pg_ctl, "pg_ctl stop")
    }

    /// Stops the server as a crash would: every process killed at once, what sits in shared
    /// memory (the log buffers not yet written) lost; the next start recovers from the log on
    /// disk.
    pub fn crash(&self) -> Result<(), ClusterError> {
        let mut pg_ctl = self.command("pg_ctl")?;
        pg_ctl.arg("-D").arg(self.data_dir()).args(["-m", "immediate", "-w", "stop"]);
        self.run(pg_ctl, "pg_ctl stop -m immediate")
    }
}

/// A path that can be written between single quotes in a setting and in a shell command.
fn quotable(path: &Path) -> Result<PathBuf, ClusterError> {
    let text = path.to_str().ok_or_else(|| ClusterError::Setup(format!("{} is not UTF-8", path.display())))?;
    if text.contains(['\'', '%', '"', '\\', ' ']) {
        return Err(ClusterError::Setup(format!("{text}: a WAL archive's path must hold no quote, space or %")));
    }
    Ok(path.to_owned())
}

/// A value that can be written between single quotes in a setting.
fn literal(value: &str) -> Result<&str, ClusterError> {
    if value.contains(['\'', '\\', '\n']) {
        return Err(ClusterError::Setup(format!("{value:?} cannot be a recovery target")));
    }
    Ok(value)
}

/// Gives `path` to the user PostgreSQL runs as, when that is not us.
fn chown(run_as: Option<&str>, path: &Path) -> Result<(), ClusterError> {
    let Some(user) = run_as else { return Ok(()) };
    let output =
        Command::new("chown").args(["-R", &format!("{user}:")]).arg(path).output().map_err(io("cannot run chown"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(ClusterError::Setup(format!("chown failed: {}", String::from_utf8_lossy(&output.stderr))))
    }
}

fn free_port() -> Result<u16, ClusterError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io("cannot find a free port"))?;
    listener.local_addr().map(|a| a.port()).map_err(io("cannot find a free port"))
}

/// Connection strings of a provisioned database.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub database: String,
    /// As the owner: migrations.
    pub owner_url: String,
    /// As the application role: the server.
    pub app_url: String,
}

/// The connection string for `user` on `database`, on the same server as `admin_url`.
pub fn url_for(admin_url: &str, user: &str, database: &str) -> Result<String, ClusterError> {
    let config = tokio_postgres::Config::from_str(admin_url)
        .map_err(|e| ClusterError::Setup(format!("invalid administrator connection string: {e}")))?;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "127.0.0.1".to_owned(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    Ok(format!("host={host} port={port} user={user} dbname={database}"))
}

/// Makes sure the two roles exist. Roles belong to the whole server, and several processes may
/// get here together, so creation tolerates a concurrent creator.
pub async fn ensure_roles(admin: &tokio_postgres::Client) -> Result<(), ClusterError> {
    for (role, options) in [(OWNER_ROLE, "LOGIN"), (APP_ROLE, "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE")]
    {
        let exists = admin.query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&role]).await?.is_some();
        if !exists
            && let Err(error) = admin.batch_execute(&format!("CREATE ROLE {role} {options}")).await
            && error.code() != Some(&tokio_postgres::error::SqlState::DUPLICATE_OBJECT)
            && error.code() != Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
        {
            return Err(error.into());
        }
    }
    Ok(())
}

/// Creates the roles and (if missing) the database `database` owned by the owner role.
pub async fn provision(admin_url: &str, database: &str) -> Result<Provisioned, ClusterError> {
    if !database.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(ClusterError::Setup(format!("invalid database name {database:?}")));
    }
    let (admin, connection) = tokio_postgres::connect(admin_url, NoTls).await?;
    let connection = tokio::spawn(connection);
    ensure_roles(&admin).await?;
    let exists = admin.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&database]).await?.is_some();
    if !exists {
        admin.batch_execute(&format!("CREATE DATABASE {database} OWNER {OWNER_ROLE}")).await?;
    }
    drop(admin);
    let _ = connection.await;
    Ok(Provisioned {
        database: database.to_owned(),
        owner_url: url_for(admin_url, OWNER_ROLE, database)?,
        app_url: url_for(admin_url, APP_ROLE, database)?,
    })
}
