//! The fault campaign (`dui-bench chaos`, `scripts/chaos`): the real server as a child process,
//! on a PostgreSQL cluster of the campaign's own reached through a proxy that can cut the
//! network, under a steady load of writes whose acknowledgements are kept in a ledger. Faults:
//! the server killed with SIGKILL many times at random moments, PostgreSQL restarted, crashed,
//! its connections terminated, the network refused and stalled, a table locked (a slow
//! database), a tenfold overload, and SIGTERM under load. Afterwards everything is read back
//! and compared with the ledger, the audit chain is verified, and the report says what each
//! fault cost. The command fails when an acknowledged write is lost, altered or recorded twice,
//! the chain is broken, or the server did not come back by itself.

mod disk;
mod outbox;
mod process;
mod proxy;
mod workload;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use dui_auth::own::Subject;
use dui_domain::TenantId;
use serde_json::Value;

use self::process::Dui;
use self::proxy::{Mode, Proxy};
use self::workload::{Outcome, Verification, Workload};
use crate::rng::Rng;

#[derive(Debug, clap::Args)]
pub struct ChaosArgs {
    /// SIGKILLs of the server under load.
    #[arg(long, default_value_t = 50)]
    pub kills: usize,
    /// Outbox workers stopped dead while messages leave.
    #[arg(long, default_value_t = 20)]
    pub outbox_kills: u64,
    /// Messages enqueued meanwhile.
    #[arg(long, default_value_t = 400)]
    pub outbox_messages: u64,
    /// How long each database fault lasts, in seconds.
    #[arg(long, default_value_t = 10)]
    pub fault_seconds: u64,
    /// Seconds of the tenfold overload.
    #[arg(long, default_value_t = 10)]
    pub overload_seconds: u64,
    /// Writes per second of the steady load.
    #[arg(long, default_value_t = 60.0)]
    pub rate: f64,
    /// The server's statement timeout, seconds: shorter than the faults, so that they are
    /// met.
    #[arg(long, default_value_t = 3)]
    pub statement_timeout: u64,
    /// The server's request timeout, seconds.
    #[arg(long, default_value_t = 5)]
    pub request_timeout: u64,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Where the campaign's cluster, keys and logs live (emptied first).
    #[arg(long, default_value = "target/chaos")]
    pub dir: PathBuf,
    /// Where the report goes (report.json, summary.md).
    #[arg(long, default_value = "target/chaos-report")]
    pub out: PathBuf,
}

/// What one fault cost.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FaultReport {
    pub fault: String,
    /// How long the fault was applied, seconds.
    pub applied_seconds: f64,
    /// Attempts that started during the fault or until recovery, by outcome.
    pub outcomes: BTreeMap<String, u64>,
    /// The longest any attempt waited for its answer in that time, seconds.
    pub longest_answer_seconds: f64,
    /// From the end of the fault to the first write acknowledged that was sent after it.
    pub recovery_seconds: Option<f64>,
    /// From the first failed attempt to the last one.
    pub error_window_seconds: f64,
    /// Whether `/readyz` failed during the fault, and when it was ready again after its end.
    pub readiness_failed: bool,
    pub ready_again_seconds: Option<f64>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct KillReport {
    pub kills: usize,
    /// Time from the SIGKILL to the restarted server's readiness, seconds.
    pub restart_median_seconds: f64,
    pub restart_max_seconds: f64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct OverloadReport {
    pub capacity_per_second: f64,
    pub offered_per_second: f64,
    pub seconds: f64,
    pub outcomes: BTreeMap<String, u64>,
    pub rss_before_mib: f64,
    pub rss_peak_mib: f64,
    pub rss_after_mib: f64,
    pub answered_p50_ms: f64,
    pub answered_p99_ms: f64,
    /// After the overload, the time until a read is answered again.
    pub recovery_seconds: Option<f64>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ShutdownReport {
    /// Writes in flight when SIGTERM arrived.
    pub in_flight: u64,
    /// Of those, answered.
    pub in_flight_answered: u64,
    /// Of those, cut before their answer.
    pub in_flight_cut: u64,
    pub exit_seconds: f64,
    pub exit_status: String,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AuditReport {
    pub intact: bool,
    pub links: i64,
    /// Acknowledged writes whose event is in the trail.
    pub writes_with_event: u64,
    pub writes_without_event: u64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ChaosReport {
    pub started_at: String,
    pub seconds: f64,
    pub kills: KillReport,
    pub faults: Vec<FaultReport>,
    pub overload: OverloadReport,
    /// The same with the per-tenant rate limit off: what the server's own shedding (the queue
    /// timeout, the connection cap) does.
    pub overload_without_rate_limit: OverloadReport,
    pub shutdown: ShutdownReport,
    pub outbox: outbox::OutboxReport,
    pub writes: Verification,
    pub attempts: u64,
    pub audit: AuditReport,
    pub anomalies: Vec<String>,
    /// Faults that could not be applied on this machine, and why.
    pub skipped: Vec<String>,
    pub passed: bool,
}

struct Campaign {
    args: ChaosArgs,
    cluster: dui_storage::cluster::PrivateCluster,
    /// The WAL's own small file system, when it could be mounted (else why not).
    wal_disk: Result<disk::WalDisk, String>,
    proxy: Proxy,
    dui: Dui,
    workload: Arc<Workload>,
    app_url: String,
    direct_app_url: String,
    owner_url: String,
    config: dui::config::Config,
    tenant: TenantId,
    rng: Rng,
}

pub async fn run(args: ChaosArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let mut campaign = Campaign::prepare(args).await?;
    let mut report = ChaosReport { started_at: started_at.to_rfc3339(), ..ChaosReport::default() };
    let writers = campaign.workload.spawn_writers(8, campaign.args.rate, campaign.args.seed);
    tokio::time::sleep(Duration::from_secs(2)).await;

    eprintln!("chaos: {} kills of the server under load", campaign.args.kills);
    report.kills = campaign.kills().await?;
    for fault in ["postgres restart", "postgres crash", "connections terminated", "network refused", "network stalled"]
    {
        eprintln!("chaos: {fault}");
        report.faults.push(campaign.database_fault(fault).await?);
    }
    if campaign.wal_disk.is_ok() {
        eprintln!("chaos: the WAL's disk full");
        report.faults.push(campaign.database_fault("WAL disk full").await?);
    } else if let Err(why) = &campaign.wal_disk {
        report.skipped.push(format!("WAL disk full: {why}"));
    }
    eprintln!("chaos: slow database (a table locked)");
    report.faults.push(campaign.database_fault("notes table locked").await?);
    eprintln!("chaos: tenfold overload");
    report.overload = campaign.overload().await?;
    eprintln!("chaos: tenfold overload, the per-tenant rate limit off");
    campaign.dui.kill();
    campaign.dui.set_env("DUI_LIMITS__TENANT_REQUESTS_PER_SECOND", "0");
    campaign.dui.start().await?;
    report.overload_without_rate_limit = campaign.overload().await?;
    campaign.dui.kill();
    campaign.dui.remove_env("DUI_LIMITS__TENANT_REQUESTS_PER_SECOND");
    campaign.dui.start().await?;
    eprintln!("chaos: SIGTERM under load");
    report.shutdown = campaign.shutdown().await?;

    eprintln!("chaos: outbox workers stopped dead while messages leave");
    report.outbox = outbox::run(
        &campaign.direct_config(),
        campaign.tenant,
        &campaign.owner_url,
        campaign.args.outbox_messages,
        campaign.args.outbox_kills,
        campaign.args.seed,
    )
    .await?;

    campaign.workload.stopping.store(true, Ordering::Relaxed);
    for writer in writers {
        let _ = writer.await;
    }
    eprintln!("chaos: reading everything back");
    report.writes = workload::verify(&campaign.workload).await?;
    report.attempts = campaign.workload.timeline.lock().await.len() as u64;
    report.audit = campaign.audit().await?;
    report.anomalies = campaign.workload.anomalies.lock().await.iter().map(|a| a.what.clone()).collect();
    report.seconds = started.elapsed().as_secs_f64();
    let w = &report.writes;
    report.passed = w.lost == 0
        && w.altered == 0
        && w.duplicated == 0
        && w.ledger_collisions == 0
        && report.audit.intact
        && report.audit.writes_without_event == 0
        && report.anomalies.is_empty()
        && report.faults.iter().all(|f| f.recovery_seconds.is_some())
        && report.overload.recovery_seconds.is_some()
        && report.overload_without_rate_limit.recovery_seconds.is_some()
        && report.outbox.lost == 0
        && report.outbox.not_sent == 0;
    write_report(&campaign.args.out, &report)?;
    campaign.dui.kill();
    let _ = campaign.cluster.stop();
    drop(campaign.wal_disk);
    if !report.passed {
        bail!("the campaign found defects: see {}", campaign.args.out.join("report.json").display());
    }
    Ok(())
}

impl Campaign {
    async fn prepare(args: ChaosArgs) -> anyhow::Result<Self> {
        let _ = std::fs::remove_dir_all(&args.dir);
        std::fs::create_dir_all(&args.dir)?;
        let dir = std::fs::canonicalize(&args.dir)?;
        // Durable commits, as in production.
        let cluster = dui_storage::cluster::PrivateCluster::create_with(
            &dir.join("pg"),
            &["fsync=on", "full_page_writes=on", "synchronous_commit=on", "max_wal_size=96MB", "min_wal_size=32MB"],
        )?;
        let wal_disk = disk::WalDisk::attach(&cluster, &dir, 320).map_err(|e| e.to_string());
        if let Err(why) = &wal_disk {
            eprintln!("chaos: the WAL stays on the machine's disk ({why}): the full-disk fault is skipped");
        }
        let provisioned = dui_storage::cluster::provision(&cluster.admin_url(), "dui_chaos").await?;
        dui::server::migrate_with_retry(&provisioned.owner_url, None, Duration::from_secs(30)).await?;
        let proxy = Proxy::start(std::net::SocketAddr::from(([127, 0, 0, 1], cluster.port()))).await?;
        let proxied_admin = format!("postgres://postgres@127.0.0.1:{}/postgres", proxy.port);
        let app_url = dui_storage::cluster::url_for(&proxied_admin, dui_storage::cluster::APP_ROLE, "dui_chaos")?;

        let key_file = dir.join("signing-key.pem");
        dui::demo::write_private_file(&key_file, dui_auth::keys::generate_pem()?.expose())?;
        let kek_file = dir.join("keks.toml");
        let kek = dui_crypto::KekRing::generate_base64()?;
        dui::demo::write_private_file(&kek_file, &format!("active_kek = 1\n\n[keks]\n1 = \"{kek}\"\n"))?;
        let mut config = dui::config::Config::default();
        config.crypto.kek_file = Some(kek_file.clone());
        config.auth.signing_key_file = Some(key_file.clone());
        config.auth.issuer = "http://127.0.0.1".to_owned();
        config.database.url = Some(provisioned.app_url.clone().into());
        config.database.migrate_on_start = false;

        // The demo's organisation: its nurse writes about its residents.
        let db = dui_storage::Db::new(&dui::server::db_config(&config)?)?;
        let demo = dui::demo::seed(&db).await?;
        db.close();
        let nurse = demo.users.iter().find(|u| u.user.family_name == "Moreau").context("the demo nurse")?.user.id;
        let issuer = dui::server::own_issuer(&config)?;
        let token = issuer.mint(
            Subject::TenantUser { tenant: demo.tenant.id, user: nurse },
            chrono::Utc::now(),
            chrono::Duration::hours(12),
        );

        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let path = |p: &Path| p.display().to_string();
        let env = vec![
            ("DUI_HTTP__LISTEN".to_owned(), format!("127.0.0.1:{port}")),
            // Many clients behind one address here: the per-client cap would be the limit.
            ("DUI_HTTP__MAX_CONNECTIONS_PER_CLIENT".to_owned(), "0".to_owned()),
            ("DUI_AUTH__ISSUER".to_owned(), config.auth.issuer.clone()),
            ("DUI_AUTH__SIGNING_KEY_FILE".to_owned(), path(&key_file)),
            ("DUI_CRYPTO__KEK_FILE".to_owned(), path(&kek_file)),
            ("DUI_DATABASE__URL".to_owned(), app_url.clone()),
            ("DUI_DATABASE__MIGRATE_ON_START".to_owned(), "false".to_owned()),
            ("DUI_LOG__LEVEL".to_owned(), "warn".to_owned()),
            ("DUI_DATABASE__STATEMENT_TIMEOUT_SECS".to_owned(), args.statement_timeout.to_string()),
            ("DUI_HTTP__REQUEST_TIMEOUT_SECS".to_owned(), args.request_timeout.to_string()),
        ];
        let mut dui = Dui::new(crate::server::server_binary()?, port, env, dir.join("server.log"));
        dui.start().await?;

        let client = reqwest::Client::new();
        let list: Value = client
            .get(format!("{}/api/v1/residents?limit=200", dui.base_url))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        let items = list["items"].as_array().context("the residents")?;
        // The resident with a plan in force first: task records are hers.
        let mut residents: Vec<(bool, uuid::Uuid)> = Vec::new();
        for item in items {
            let id: uuid::Uuid = item["id"].as_str().context("a resident's id")?.parse()?;
            let plan = client
                .get(format!("{}/api/v1/residents/{id}/care-plan", dui.base_url))
                .bearer_auth(&token)
                .send()
                .await?;
            residents.push((!plan.status().is_success(), id));
        }
        residents.sort();
        anyhow::ensure!(residents.first().is_some_and(|r| !r.0), "no demo resident has a plan in force");
        let establishments: Value = client
            .get(format!("{}/api/v1/establishments?limit=200", dui.base_url))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        let establishment = establishments["items"]
            .as_array()
            .and_then(|all| all.iter().find(|e| e["finess"] == "750099991"))
            .and_then(|e| e["id"].as_str())
            .context("the demo's first nursing home")?
            .parse()?;
        let workload =
            Workload::new(dui.base_url.clone(), token, residents.iter().map(|r| r.1).collect(), establishment);
        let rng = Rng::new(args.seed);
        Ok(Self {
            args,
            cluster,
            wal_disk,
            proxy,
            dui,
            workload,
            app_url,
            direct_app_url: provisioned.app_url,
            owner_url: provisioned.owner_url,
            config,
            tenant: demo.tenant.id,
            rng,
        })
    }

    /// SIGKILL at random moments under load, restarting at once.
    async fn kills(&mut self) -> anyhow::Result<KillReport> {
        let mut restarts = Vec::new();
        for _ in 0..self.args.kills {
            let pause = Duration::from_millis(200 + self.rng.below(1800));
            tokio::time::sleep(pause).await;
            let killed = Instant::now();
            self.dui.kill();
            self.dui.start().await?;
            restarts.push(killed.elapsed().as_secs_f64());
        }
        restarts.sort_by(f64::total_cmp);
        Ok(KillReport {
            kills: restarts.len(),
            restart_median_seconds: restarts.get(restarts.len() / 2).copied().unwrap_or(0.0),
            restart_max_seconds: restarts.last().copied().unwrap_or(0.0),
        })
    }

    async fn admin(&self) -> anyhow::Result<tokio_postgres::Client> {
        let url = dui_storage::cluster::url_for(&self.cluster.admin_url(), "postgres", "dui_chaos")?;
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        Ok(client)
    }

    /// Applies one fault for the configured time, polls readiness meanwhile, heals it, and
    /// waits for the writes to be acknowledged again.
    async fn database_fault(&mut self, fault: &str) -> anyhow::Result<FaultReport> {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let hold = Duration::from_secs(self.args.fault_seconds);
        let start = self.workload.now();
        let mut notes = Vec::new();
        let mut lock: Option<tokio_postgres::Client> = None;
        match fault {
            "postgres restart" => self.cluster.stop()?,
            "postgres crash" => self.cluster.crash()?,
            "connections terminated" => {
                let admin = self.admin().await?;
                let ended = admin
                    .query(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
                        &[&dui_storage::cluster::APP_ROLE],
                    )
                    .await?;
                notes.push(format!("{} connections of the server terminated", ended.len()));
            }
            "network refused" => self.proxy.set(Mode::Refuse),
            "network stalled" => self.proxy.set(Mode::Stall),
            "notes table locked" => {
                let admin = self.admin().await?;
                admin.batch_execute("BEGIN; LOCK TABLE notes IN ACCESS EXCLUSIVE MODE").await?;
                lock = Some(admin);
            }
            "WAL disk full" => {
                let disk = self.wal_disk.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
                let filled = disk.fill()?;
                // New WAL segments are needed for PostgreSQL to run into the full disk: each
                // switch asks for one (once the recycled ones are used up).
                let mut switches = 0;
                if let Ok(admin) = self.admin().await {
                    for _ in 0..200 {
                        if admin.batch_execute("SELECT pg_switch_wal()").await.is_err() {
                            break;
                        }
                        switches += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                notes.push(format!(
                    "{} MiB written to fill the WAL's file system; {switches} WAL switches went through before PostgreSQL stopped",
                    filled >> 20
                ));
            }
            other => bail!("unknown fault {other}"),
        }
        // Instant faults are not held: they are over once applied.
        let held = fault != "connections terminated";
        let mut readiness_failed = false;
        let until = Instant::now() + if held { hold } else { Duration::ZERO };
        while Instant::now() < until {
            if !self.dui.ready().await {
                readiness_failed = true;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        match fault {
            "postgres restart" | "postgres crash" => self.cluster.start()?,
            "network refused" | "network stalled" => self.proxy.set(Mode::Pass),
            "WAL disk full" => {
                if let Ok(disk) = &self.wal_disk {
                    disk.free();
                }
                // PostgreSQL stops when it cannot write its WAL; started again, it recovers.
                if !self.cluster.is_running() {
                    notes.push("PostgreSQL had stopped: started again".to_owned());
                    self.cluster.start()?;
                }
            }
            "notes table locked" => {
                if let Some(admin) = lock.take() {
                    admin.batch_execute("COMMIT").await?;
                }
            }
            _ => {}
        }
        let end = self.workload.now();
        let mut ready_again = None;
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut recovery = None;
        while Instant::now() < deadline && (ready_again.is_none() || recovery.is_none()) {
            if ready_again.is_none() {
                if self.dui.ready().await {
                    ready_again = Some(self.workload.now() - end);
                } else {
                    readiness_failed = true;
                }
            }
            if recovery.is_none() {
                let timeline = self.workload.timeline.lock().await;
                recovery = timeline
                    .iter()
                    .filter(|a| a.start >= end && a.outcome == Outcome::Acknowledged)
                    .map(|a| a.end - end)
                    .reduce(f64::min);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let timeline = self.workload.timeline.lock().await;
        let recovered_at = end + recovery.unwrap_or(90.0);
        let window: Vec<_> = timeline.iter().filter(|a| a.start >= start - 1.0 && a.start <= recovered_at).collect();
        let mut outcomes = BTreeMap::new();
        for attempt in &window {
            *outcomes.entry(outcome_name(attempt.outcome)).or_insert(0) += 1;
        }
        let failures: Vec<_> = window.iter().filter(|a| a.outcome != Outcome::Acknowledged).collect();
        let error_window = match (failures.first(), failures.iter().map(|a| a.end).reduce(f64::max)) {
            (Some(first), Some(last)) => last - first.start,
            _ => 0.0,
        };
        Ok(FaultReport {
            fault: fault.to_owned(),
            applied_seconds: end - start,
            outcomes,
            longest_answer_seconds: window.iter().map(|a| a.end - a.start).fold(0.0, f64::max),
            recovery_seconds: recovery,
            error_window_seconds: error_window,
            readiness_failed,
            ready_again_seconds: ready_again,
            notes,
        })
    }

    /// Reads of a resident's summary: capacity in closed loop, then ten times that offered in
    /// open loop by up to [`OVERLOAD_CLIENTS`] clients at once, the server's memory sampled
    /// throughout. Latency is counted from each request's sending.
    async fn overload(&mut self) -> anyhow::Result<OverloadReport> {
        let url = format!("{}/api/v1/residents/{}/summary", self.dui.base_url, self.workload.residents[0]);
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(60)).pool_max_idle_per_host(4096).build()?;
        let token = self.workload.token.clone();
        // Capacity: 16 workers for three seconds.
        let answered = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let measure_until = Instant::now() + Duration::from_secs(3);
        let mut workers = Vec::new();
        for _ in 0..16 {
            let (client, url, token, answered) = (client.clone(), url.clone(), token.clone(), answered.clone());
            workers.push(tokio::spawn(async move {
                while Instant::now() < measure_until {
                    if let Ok(r) = client.get(&url).bearer_auth(&token).send().await
                        && r.status().is_success()
                        && r.bytes().await.is_ok()
                    {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for worker in workers {
            let _ = worker.await;
        }
        let capacity = answered.load(Ordering::Relaxed) as f64 / 3.0;
        let offered = (capacity * 10.0).max(100.0);
        let pid = self.dui.pid().context("the server's pid")?;
        let rss_before = rss_mib(pid);
        let seconds = self.args.overload_seconds as f64;
        let peak = Arc::new(std::sync::Mutex::new(rss_before));
        let sampling = {
            let peak = peak.clone();
            tokio::spawn(async move {
                loop {
                    let now = rss_mib(pid);
                    {
                        let mut p = peak.lock().expect("the peak");
                        *p = p.max(now);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        let outcomes = Arc::new(std::sync::Mutex::new((BTreeMap::<String, u64>::new(), Vec::<f64>::new())));
        // As many clients as this: a request due while all of them wait for an answer is not
        // sent (the load generator shares the machine; it cannot hold more without measuring
        // itself).
        let clients = Arc::new(tokio::sync::Semaphore::new(OVERLOAD_CLIENTS));
        let start = Instant::now();
        let total = (offered * seconds) as u64;
        let mut calls = Vec::with_capacity(total as usize);
        for i in 0..total {
            let due = start + Duration::from_secs_f64(i as f64 / offered);
            tokio::time::sleep_until(due.into()).await;
            let Ok(permit) = clients.clone().try_acquire_owned() else {
                *outcomes.lock().expect("the outcomes").0.entry("not sent".to_owned()).or_insert(0) += 1;
                continue;
            };
            let (client, url, token, outcomes) = (client.clone(), url.clone(), token.clone(), outcomes.clone());
            calls.push(tokio::spawn(async move {
                let sent_at = Instant::now();
                let sent = client.get(&url).bearer_auth(&token).send().await;
                let name = match sent {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let _ = r.bytes().await;
                        status.to_string()
                    }
                    Err(e) if e.is_connect() => "unreachable".to_owned(),
                    Err(e) if e.is_timeout() => "timeout".to_owned(),
                    Err(_) => "broken".to_owned(),
                };
                drop(permit);
                let latency = sent_at.elapsed().as_secs_f64() * 1000.0;
                let mut o = outcomes.lock().expect("the outcomes");
                if name == "200" {
                    o.1.push(latency);
                }
                *o.0.entry(name).or_insert(0) += 1;
            }));
        }
        for call in calls {
            let _ = call.await;
        }
        let ended = Instant::now();
        let mut recovery = None;
        while ended.elapsed() < Duration::from_secs(60) {
            if let Ok(r) = client.get(&url).bearer_auth(&token).send().await
                && r.status().is_success()
            {
                recovery = Some(ended.elapsed().as_secs_f64());
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        sampling.abort();
        let (counts, mut latencies) = outcomes.lock().expect("the outcomes").clone();
        latencies.sort_by(f64::total_cmp);
        let quantile = |q: f64| latencies.get(((latencies.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(0.0);
        let rss_peak = *peak.lock().expect("the peak");
        Ok(OverloadReport {
            capacity_per_second: capacity,
            offered_per_second: offered,
            seconds,
            outcomes: counts,
            rss_before_mib: rss_before,
            rss_peak_mib: rss_peak,
            rss_after_mib: rss_mib(pid),
            answered_p50_ms: quantile(0.5),
            answered_p99_ms: quantile(0.99),
            recovery_seconds: recovery,
        })
    }

    /// SIGTERM while the writers write: those in flight must be answered, the process must end
    /// within its grace period; then the server is started again.
    async fn shutdown(&mut self) -> anyhow::Result<ShutdownReport> {
        tokio::time::sleep(Duration::from_secs(2)).await;
        // A burst of writes, so that some are in flight when the signal comes.
        let burst = self.workload.burst(48, self.args.seed);
        tokio::time::sleep(Duration::from_millis(15)).await;
        let at = self.workload.now();
        let exited = Instant::now();
        self.dui.terminate();
        let status = self.dui.wait(Duration::from_secs(40)).await;
        let exit_seconds = exited.elapsed().as_secs_f64();
        if status.is_none() {
            self.dui.kill();
        }
        // Let the attempts under way when the signal came end.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let timeline = self.workload.timeline.lock().await;
        let in_flight: Vec<_> = timeline.iter().filter(|a| a.start < at && a.end >= at).collect();
        let answered = in_flight.iter().filter(|a| matches!(a.outcome, Outcome::Acknowledged)).count() as u64;
        let report = ShutdownReport {
            in_flight: in_flight.len() as u64,
            in_flight_answered: answered,
            in_flight_cut: in_flight.len() as u64 - answered,
            exit_seconds,
            exit_status: status.map_or("did not exit: killed".to_owned(), |s| s.to_string()),
        };
        drop(timeline);
        self.dui.start().await?;
        // The burst's writes cut by the shutdown are sent again, and acknowledged, now.
        for write in burst {
            let _ = write.await;
        }
        Ok(report)
    }

    /// The server's configuration on a direct connection to PostgreSQL (not through the proxy).
    fn direct_config(&self) -> dui::config::Config {
        let mut config = self.config.clone();
        config.database.url = Some(self.direct_app_url.clone().into());
        config
    }

    /// The trail chained and verified; each acknowledged write's event found in it.
    async fn audit(&self) -> anyhow::Result<AuditReport> {
        let config = self.direct_config();
        let db = dui_storage::Db::new(&dui::server::db_config(&config)?)?;
        db.chain_tenant(self.tenant).await?;
        let chain = db.verify_audit(self.tenant).await?;
        let app = dui_app::App::new(db.clone(), dui_app::AppConfig::default());
        let scope = dui_domain::scope::TenantScope::console(self.tenant);
        let mut lines = Vec::new();
        dui_app::audit::export(&app, &scope, None, None, None, &mut lines).await?;
        let mut mentioned = std::collections::HashSet::new();
        for line in String::from_utf8_lossy(&lines).lines() {
            if let Ok(event) = serde_json::from_str::<Value>(line) {
                collect_strings(&event, &mut mentioned);
            }
        }
        let ledger = self.workload.ledger.lock().await;
        let with = ledger.iter().filter(|e| mentioned.contains(&e.id)).count() as u64;
        db.close();
        let _ = &self.app_url;
        Ok(AuditReport {
            intact: chain.broken.is_none(),
            links: chain.links,
            writes_with_event: with,
            writes_without_event: ledger.len() as u64 - with,
        })
    }
}

/// Clients of the overload, each waiting for its answer before its next request.
const OVERLOAD_CLIENTS: usize = 1000;

fn collect_strings(value: &Value, into: &mut std::collections::HashSet<String>) {
    match value {
        Value::String(s) => {
            into.insert(s.clone());
        }
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, into)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, into)),
        _ => {}
    }
}

fn outcome_name(outcome: Outcome) -> String {
    match outcome {
        Outcome::Acknowledged => "acknowledged".to_owned(),
        Outcome::Status(status) => status.to_string(),
        Outcome::Unreachable => "unreachable".to_owned(),
        Outcome::Broken => "broken".to_owned(),
    }
}

fn rss_mib(pid: u32) -> f64 {
    crate::server::memory_kib(pid).map_or(0.0, |(rss, _)| rss as f64 / 1024.0)
}

fn write_report(out: &Path, report: &ChaosReport) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("report.json"), serde_json::to_vec_pretty(report)?)?;
    let summary = summary(report);
    std::fs::write(out.join("summary.md"), &summary)?;
    println!("{summary}");
    Ok(())
}

fn summary(r: &ChaosReport) -> String {
    let mut s = String::new();
    let w = &r.writes;
    let acknowledged: u64 = w.acknowledged.values().sum();
    s.push_str(&format!(
        "# Fault campaign ({}, {:.0} s): {}\n\n",
        r.started_at,
        r.seconds,
        if r.passed { "passed" } else { "FAILED" }
    ));
    s.push_str(&format!(
        "- Server killed with SIGKILL under load: {} times; back and ready in {:.2} s median, {:.2} s at most.\n",
        r.kills.kills, r.kills.restart_median_seconds, r.kills.restart_max_seconds
    ));
    s.push_str(&format!(
        "- Writes acknowledged: {acknowledged} ({}); {} of them after a retry; attempts in all: {}.\n",
        w.acknowledged.iter().map(|(k, n)| format!("{k:?} {n}")).collect::<Vec<_>>().join(", "),
        w.retried,
        r.attempts
    ));
    s.push_str(&format!(
        "- Read back: lost {}, altered {}, recorded twice {}, ids given twice {}.\n",
        w.lost, w.altered, w.duplicated, w.ledger_collisions
    ));
    s.push_str(&format!(
        "- Audit chain: {} ({} links); acknowledged writes with their event: {}, without: {}.\n\n",
        if r.audit.intact { "intact" } else { "BROKEN" },
        r.audit.links,
        r.audit.writes_with_event,
        r.audit.writes_without_event
    ));
    s.push_str("| Fault | Applied (s) | Longest answer (s) | Error window (s) | Recovery after it (s) | Readiness failed / ready again (s) | Outcomes |\n");
    s.push_str("|---|---|---|---|---|---|---|\n");
    for f in &r.faults {
        s.push_str(&format!(
            "| {} | {:.1} | {:.2} | {:.2} | {} | {} / {} | {} |\n",
            f.fault,
            f.applied_seconds,
            f.longest_answer_seconds,
            f.error_window_seconds,
            f.recovery_seconds.map_or("never".to_owned(), |x| format!("{x:.2}")),
            if f.readiness_failed { "yes" } else { "no" },
            f.ready_again_seconds.map_or("never".to_owned(), |x| format!("{x:.2}")),
            f.outcomes.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
        ));
    }
    for (o, which) in [(&r.overload, "Overload"), (&r.overload_without_rate_limit, "Overload, rate limit off")] {
        s.push_str(&format!(
            "{}- {which}: capacity {:.0} reads/s, {:.0}/s offered for {:.0} s: {}; answered p50 {:.0} ms, p99 {:.0} ms; \
             RSS {:.0} MiB before, {:.0} MiB peak, {:.0} MiB after; served again {} s after.\n",
            if which == "Overload" { "\n" } else { "" },
            o.capacity_per_second,
            o.offered_per_second,
            o.seconds,
            o.outcomes.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", "),
            o.answered_p50_ms,
            o.answered_p99_ms,
            o.rss_before_mib,
            o.rss_peak_mib,
            o.rss_after_mib,
            o.recovery_seconds.map_or("never".to_owned(), |x| format!("{x:.2}"))
        ));
    }
    let d = &r.shutdown;
    s.push_str(&format!(
        "- SIGTERM under load: {} writes in flight, {} answered, {} cut; exited in {:.2} s ({}).\n",
        d.in_flight, d.in_flight_answered, d.in_flight_cut, d.exit_seconds, d.exit_status
    ));
    let x = &r.outbox;
    s.push_str(&format!(
        "- Outbox: {} messages enqueued while its worker was stopped dead {} times: {} sent, {} not sent, {} never \
         received, {} resent with their key (taken once); all out {:.1} s after the last stop.\n",
        x.enqueued, x.worker_kills, x.sent, x.not_sent, x.lost, x.resent, x.drained_seconds
    ));
    for skipped in &r.skipped {
        s.push_str(&format!("- Not applied here: {skipped}.\n"));
    }
    for f in r.faults.iter().filter(|f| !f.notes.is_empty()) {
        s.push_str(&format!("- {}: {}.\n", f.fault, f.notes.join("; ")));
    }
    if !r.anomalies.is_empty() {
        s.push_str(&format!("\n## Anomalies ({})\n\n", r.anomalies.len()));
        for a in r.anomalies.iter().take(50) {
            s.push_str(&format!("- {a}\n"));
        }
    }
    if !w.details.is_empty() {
        s.push_str(&format!("\n## Differences ({})\n\n", w.details.len()));
        for d in w.details.iter().take(50) {
            s.push_str(&format!("- {d}\n"));
        }
    }
    s
}
