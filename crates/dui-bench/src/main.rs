//! `dui-bench`: the dataset generator, the load benchmark of the shift-change workload, and the
//! raw-PostgreSQL baseline it is measured against. See CONTRIBUTING.md for the commands.

mod chaos;
mod chart;
mod load;
mod manifest;
mod names;
mod ops;
mod profile;
mod report;
mod rng;
mod round;
mod seed;
mod server;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use dui_auth::own::Subject;
use dui_domain::{TenantId, UserId};

use crate::load::{Operation, closed_loop, open_loop, sweep};
use crate::manifest::Manifest;
use crate::ops::{Baseline, Http, Op, Raw, VirtualUser};
use crate::profile::Profile;
use crate::report::{Dataset, Machine, Measured, MixReport, NoisyReport, OperationReport, Report, Round};
use crate::server::{Environment, Server, Usage};

#[derive(Debug, Parser)]
#[command(name = "dui-bench", about = "dui's dataset generator and load benchmark")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct Common {
    /// small (2 tenants, 300 residents), platform (200 tenants, 50,000 residents), large (one
    /// organisation, 100,000 residents over ten years) or smoke.
    #[arg(long, default_value = "small")]
    profile: String,
    /// The dataset's seed: the same seed makes the same dataset.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where the dataset's keys, manifest and (if needed) private PostgreSQL live.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// A PostgreSQL superuser connection; when it does not work, a private cluster is created.
    #[arg(long, env = "DUI_BENCH_ADMIN_URL", default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    admin_url: String,
    /// PostgreSQL connections of the server (and of the baseline, the same number).
    #[arg(long, default_value_t = 16)]
    pool: usize,
    /// The server's cap on each tenant's requests in progress (default: the server's own, a
    /// quarter of the pool).
    #[arg(long)]
    tenant_concurrency: Option<usize>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create (or complete) the dataset of a profile.
    Seed(Common),
    /// Run the benchmark on a seeded dataset and write the report.
    Run {
        #[command(flatten)]
        common: Common,
        /// Where the report goes.
        #[arg(long, default_value = "target/bench-report")]
        out: PathBuf,
        /// Only these operations, and none of the later phases (for investigating one).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Rounds of each measured phase (default: the profile's).
        #[arg(long)]
        rounds: Option<usize>,
    },
    /// Seed, then run.
    All {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value = "target/bench-report")]
        out: PathBuf,
        #[arg(long)]
        rounds: Option<usize>,
    },
    /// Compare the fixed-rate p99 of two reports (e.g. small and platform).
    Compare { a: PathBuf, b: PathBuf },
    /// The CPU each operation costs the machine, per request, through dui and through the
    /// baseline, at a fixed rate: steadier than saturation on a shared machine, and the ratio
    /// of the two is what saturation comes to when the machine's cores are the limit.
    Cost {
        #[command(flatten)]
        common: Common,
        /// Only these operations.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Requests per second.
        #[arg(long, default_value_t = 400.0)]
        rate: f64,
        /// Seconds measured per operation and side.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// The fault campaign: the server killed under load, PostgreSQL restarted, crashed and cut
    /// off, a slow database, an overload, SIGTERM; every acknowledged write read back.
    Chaos(chaos::ChaosArgs),
    /// The medication round: in several units at once, a nurse lists each round's plan and
    /// records its doses; the latencies of both (prescriptions made once, kept with the dataset).
    Round {
        #[command(flatten)]
        common: Common,
        /// Units doing their rounds at once (one per tenant, from the first).
        #[arg(long, default_value_t = 8)]
        units: usize,
        /// Rounds each unit does (each round a nurse has not done yet, from yesterday back).
        #[arg(long, default_value_t = 8)]
        rounds: usize,
    },
    /// Print the analysed plan of the hand-over feed's statement for the first tenant's
    /// 80-resident unit, as one of its nurses reads it (for diagnosing).
    Explain(Common),
}

impl Common {
    fn profile(&self) -> anyhow::Result<Profile> {
        Profile::named(&self.profile).with_context(|| format!("unknown profile {:?}", self.profile))
    }

    fn dir(&self) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| PathBuf::from(format!("target/bench/{}", self.profile)))
    }

    /// The profile's database, keys and server configuration, made ready.
    async fn environment(&self, profile: &Profile) -> anyhow::Result<Environment> {
        server::prepare(profile.name, &self.dir(), &self.admin_url, self.pool, self.tenant_concurrency).await
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    dui_auth::install_tls_provider();
    dui::server::init_logging(dui::config::LogFormat::Pretty, "warn");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Seed(common) => {
                seed(&common).await?;
            }
            Command::Run { common, out, only, rounds } => run(&common, &out, &only, rounds).await?,
            Command::All { common, out, rounds } => {
                seed(&common).await?;
                run(&common, &out, &[], rounds).await?;
            }
            Command::Explain(common) => explain(&common).await?,
            Command::Round { common, units, rounds } => {
                let profile = common.profile()?;
                let env = common.environment(&profile).await?;
                let manifest = Manifest::read(&seed::manifest_path(&env.dir))?;
                let issuer = dui::server::own_issuer(&env.config)?;
                let minted_at = chrono::Utc::now();
                let mint = |tenant: uuid::Uuid, user: uuid::Uuid| Session::token(&issuer, minted_at, tenant, user);
                round::run(&env, &manifest, &mint, units, rounds).await?
            }
            Command::Chaos(args) => chaos::run(args).await?,
            Command::Cost { common, only, rate, seconds } => cost(&common, &only, rate, seconds).await?,
            Command::Compare { a, b } => {
                let read = |p: &PathBuf| -> anyhow::Result<serde_json::Value> {
                    Ok(serde_json::from_slice(
                        &std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
                    )?)
                };
                println!("{}", report::compare(&read(&a)?, &read(&b)?));
            }
        }
        Ok(())
    })
}

async fn seed(common: &Common) -> anyhow::Result<(Environment, Manifest)> {
    let profile = common.profile()?;
    if profile.is_smoke() {
        // The smoke run checks the whole path, seeding included: always from nothing.
        let _ = std::fs::remove_dir_all(common.dir());
    }
    let env = common.environment(&profile).await?;
    let db = env.db()?;
    let manifest =
        seed::seed(&db, profile, common.seed, &env.app_url, &env.dir, &seed::manifest_path(&env.dir)).await?;
    // The trail of the seeding is chained as the server would have chained it, so that runs
    // do not start with a backlog.
    let started = std::time::Instant::now();
    let chained = db.chain_audit().await?;
    if chained > 0 {
        eprintln!("audit trail: {chained} events chained in {:.0} s", started.elapsed().as_secs_f64());
    }
    db.close();
    seed::analyze(&env.owner_url).await?;
    Ok((env, manifest))
}

async fn explain(common: &Common) -> anyhow::Result<()> {
    let profile = common.profile()?;
    let env = common.environment(&profile).await?;
    let manifest = Manifest::read(&seed::manifest_path(&env.dir))?;
    let users = ops::virtual_users(&manifest, &[0], true, &|_, _| String::new());
    let nurse = users.iter().find(|u| u.role == dui_domain::people::Role::Nurse).context("a nurse")?;
    let db = env.db()?;
    let feed = dui_storage::notes::Feed {
        establishment: dui_domain::EstablishmentId::from_uuid(nurse.establishment),
        unit: Some(dui_domain::UnitId::from_uuid(nurse.unit)),
    };
    let since = chrono::Utc::now() - chrono::Duration::hours(10);
    let scope = nurse.scope();
    let tx = db.begin(&scope, dui_storage::Mode::Write);
    println!("{}", dui_storage::notes::explain_handover(tx, feed, since, true).await?);
    Ok(())
}

/// What a measuring command works with: the seeded dataset, its virtual users with their
/// tokens, the server started on it, and the baseline's connections.
struct Session {
    env: Environment,
    manifest: Manifest,
    everyone: Arc<Vec<VirtualUser>>,
    unit_staff: Arc<Vec<VirtualUser>>,
    client: reqwest::Client,
    server: Server,
    baseline: Arc<Baseline>,
    issuer: dui_auth::own::OwnIssuer,
    minted_at: chrono::DateTime<chrono::Utc>,
}

impl Session {
    async fn start(common: &Common, profile: &Profile) -> anyhow::Result<Self> {
        let env = common.environment(profile).await?;
        let manifest = Manifest::read(&seed::manifest_path(&env.dir))?;
        anyhow::ensure!(
            manifest.tenants.len() == profile.tenants,
            "the dataset is incomplete ({} of {} tenants): run `dui-bench seed --profile {}`",
            manifest.tenants.len(),
            profile.tenants,
            profile.name
        );
        let issuer = dui::server::own_issuer(&env.config)?;
        let minted_at = chrono::Utc::now();
        let mint = |tenant: uuid::Uuid, user: uuid::Uuid| Session::token(&issuer, minted_at, tenant, user);
        let everyone = Arc::new(ops::virtual_users(&manifest, &[], false, &mint));
        let unit_staff = Arc::new(ops::virtual_users(&manifest, &[], true, &mint));
        let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
        let server = Server::start(&env, 0.0, 0.0).await?;
        let baseline = Arc::new(Baseline::connect(&dui::server::db_config(&env.config)?, 30, env.db()?).await?);
        Ok(Self { env, manifest, everyone, unit_staff, client, server, baseline, issuer, minted_at })
    }

    /// A token of a virtual user, valid for the day.
    fn token(
        issuer: &dui_auth::own::OwnIssuer,
        at: chrono::DateTime<chrono::Utc>,
        tenant: uuid::Uuid,
        user: uuid::Uuid,
    ) -> String {
        let subject = Subject::TenantUser { tenant: TenantId::from_uuid(tenant), user: UserId::from_uuid(user) };
        issuer.mint(subject, at, chrono::Duration::hours(12))
    }
}

/// CPU ticks (1/100 s) of every process named `postgres` (the server's backends and its own
/// workers), of this process, and of the dui server.
fn machine_ticks(server: &Server) -> (u64, u64, u64) {
    let mut postgres = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let is_postgres = std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres");
        if is_postgres {
            postgres += server::cpu_ticks(pid).unwrap_or(0);
        }
    }
    (postgres, server::cpu_ticks(std::process::id()).unwrap_or(0), server.read().cpu_ticks)
}

async fn cost(common: &Common, only: &[String], rate: f64, seconds: u64) -> anyhow::Result<()> {
    let profile = common.profile()?;
    let Session { everyone, unit_staff, client, server, baseline, .. } = Session::start(common, &profile).await?;
    let users_for = |op: Op| if op == Op::HandoverFeed { unit_staff.clone() } else { everyone.clone() };
    let duration = Duration::from_secs(seconds.max(1));
    println!("| operation | side | µs of CPU per request: PostgreSQL | dui server | load generator | total |");
    println!("|---|---|---:|---:|---:|---:|");
    let mut offset = 0u64;
    for op in Op::ALL {
        if !only.is_empty() && !only.iter().any(|o| o == op.key()) {
            continue;
        }
        let dui: Arc<dyn Operation> =
            Arc::new(Http { op, client: client.clone(), base: server.base_url.clone(), users: users_for(op) });
        let raw: Arc<dyn Operation> = Arc::new(Raw::new(op, baseline.clone(), users_for(op)));
        let mut totals = Vec::new();
        let users = users_for(op).len() as u64;
        for (side, operation) in [("dui", dui), ("baseline", raw)] {
            // Warm: every user once (connections, caches, each user's principal), then the
            // measure from where the warm-up stopped, user after user again.
            offset += 1 << 20;
            let warm = sweep(operation.clone(), WORKERS, users, offset).await;
            anyhow::ensure!(warm.errors == 0, "{} {side} warm-up: {:?}", op.name(), warm.first_error);
            offset += users;
            let before = machine_ticks(&server);
            let outcome = open_loop(operation, rate, duration, offset).await;
            let after = machine_ticks(&server);
            anyhow::ensure!(outcome.errors == 0, "{} {side}: {:?}", op.name(), outcome.first_error);
            let per = |a: u64, b: u64| (b.saturating_sub(a)) as f64 * 10_000.0 / outcome.ok.max(1) as f64;
            let (pg, generator, dui_server) = (per(before.0, after.0), per(before.1, after.1), per(before.2, after.2));
            let total = pg + generator + dui_server;
            totals.push(total);
            println!("| {} | {side} | {pg:.0} | {dui_server:.0} | {generator:.0} | {total:.0} |", op.name());
        }
        println!("| {} | baseline ÷ dui | | | | **{:.0} %** |", op.name(), totals[1] / totals[0] * 100.0);
    }
    Ok(())
}

/// The fixed rates at which profiles are compared: a fifth or so of what each operation
/// saturates at, high enough for a p99 over thousands of calls.
fn reference_rate(op: Op) -> f64 {
    match op {
        Op::NoteWrite => 200.0,
        Op::ResidentSummary => 200.0,
        Op::HandoverFeed => 100.0,
        Op::AssessmentsRead => 300.0,
        Op::CarePlanRead => 300.0,
        Op::ResidentRead => 300.0,
        Op::ResidentSearch => 300.0,
    }
}

const WORKERS: usize = 16;

/// Bare durable commits per second while the machine is otherwise idle.
const COMMIT_PROBE_RATE: f64 = 200.0;

async fn measured(server: &Server, op: Arc<dyn Operation>, rate: f64, step: Duration, offset: u64) -> Measured {
    let start = server.read();
    let outcome = open_loop(op, rate, step, offset).await;
    Measured { figures: outcome.figures(Some(rate)), server: server.usage_since(start) }
}

/// The calls of several rounds of one phase, pooled: their percentiles are over all of them.
#[derive(Default)]
struct Pooled {
    outcome: Option<load::Outcome>,
    usage: Vec<Usage>,
    offered: Vec<f64>,
}

impl Pooled {
    /// Runs one more round of `op` at `rate`; returns that round's p99.
    async fn round(
        &mut self,
        server: Option<&Server>,
        op: Arc<dyn Operation>,
        rate: f64,
        step: Duration,
        offset: u64,
    ) -> f64 {
        let start = server.map(Server::read);
        let outcome = open_loop(op, rate, step, offset).await;
        let usage = server.zip(start).map(|(server, start)| server.usage_since(start));
        self.add(outcome, rate, usage)
    }

    /// Adds a round measured elsewhere; returns its p99.
    fn add(&mut self, outcome: load::Outcome, rate: f64, usage: Option<Usage>) -> f64 {
        self.usage.extend(usage);
        self.offered.push(rate);
        let p99 = outcome.quantile_ms(0.99);
        match &mut self.outcome {
            Some(pooled) => pooled.merge(outcome),
            None => self.outcome = Some(outcome),
        }
        p99
    }

    fn figures(&self) -> load::Figures {
        let offered = self.offered.iter().sum::<f64>() / self.offered.len().max(1) as f64;
        self.outcome
            .as_ref()
            .map(|o| o.figures(Some(offered)))
            .unwrap_or_else(|| load::Outcome::default().figures(None))
    }

    fn measured(&self) -> Measured {
        Measured { figures: self.figures(), server: Usage::pooled(&self.usage) }
    }
}

/// Which of `values` is the median (the upper one of the two middles).
fn median_index(values: &[f64]) -> usize {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    order.get(values.len() / 2).copied().unwrap_or(0)
}

async fn run(common: &Common, out: &std::path::Path, only: &[String], rounds: Option<usize>) -> anyhow::Result<()> {
    let profile = common.profile()?;
    let rounds = rounds.unwrap_or(profile.rounds).max(1);
    if let Some(unknown) = only.iter().find(|o| *o != "noisy" && !Op::ALL.iter().any(|op| op.key() == o.as_str())) {
        let known: Vec<&str> = Op::ALL.iter().map(|op| op.key()).chain(["noisy"]).collect();
        anyhow::bail!("--only {unknown}: no such phase (known: {})", known.join(", "));
    }
    let Session { env, manifest, everyone, unit_staff, client, mut server, baseline, issuer, minted_at } =
        Session::start(common, &profile).await?;
    let mint = |tenant: uuid::Uuid, user: uuid::Uuid| Session::token(&issuer, minted_at, tenant, user);
    let users_for = |op: Op| if op == Op::HandoverFeed { unit_staff.clone() } else { everyone.clone() };
    let http = |op: Op, users: Arc<Vec<VirtualUser>>, base: &str| -> Arc<dyn Operation> {
        Arc::new(Http { op, client: client.clone(), base: base.to_owned(), users })
    };
    env.checkpoint().await;
    let started_at = chrono::Utc::now();
    let mut offset = 0u64;
    let mut next = |n: u64| {
        offset += n;
        offset
    };
    eprintln!("warming up...");
    for op in Op::ALL {
        let outcome = closed_loop(http(op, users_for(op), &server.base_url), 4, profile.step / 2, next(1 << 20)).await;
        anyhow::ensure!(outcome.ok > 0 && outcome.errors == 0, "{}: {:?}", op.name(), outcome.first_error);
        let raw: Arc<dyn Operation> = Arc::new(Raw::new(op, baseline.clone(), users_for(op)));
        let outcome = closed_loop(raw, 4, profile.step / 4, next(1 << 20)).await;
        anyhow::ensure!(outcome.ok > 0 && outcome.errors == 0, "baseline {}: {:?}", op.name(), outcome.first_error);
    }

    // The storage alone, while nothing else runs: what a durable commit costs on this machine.
    let probe: Arc<dyn Operation> = Arc::new(ops::CommitProbe::new(baseline.clone()));
    let durable_commit = open_loop(probe, COMMIT_PROBE_RATE, profile.step, next(1 << 20)).await;
    anyhow::ensure!(durable_commit.errors == 0, "durable commit probe: {:?}", durable_commit.first_error);
    let durable_commit = durable_commit.figures(Some(COMMIT_PROBE_RATE));
    eprintln!(
        "durable commit, idle: p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
        durable_commit.p50_ms, durable_commit.p99_ms, durable_commit.max_ms
    );

    let mut operations = Vec::new();
    for op in Op::ALL {
        if !only.is_empty() && !only.iter().any(|o| o == op.key()) {
            continue;
        }
        eprintln!("{} ({rounds} rounds)...", op.name());
        let dui = http(op, users_for(op), &server.base_url);
        let raw: Arc<dyn Operation> = Arc::new(Raw::new(op, baseline.clone(), users_for(op)));
        // Each round measures both saturations, then dui at 70 % of its own, the baseline at that
        // same rate and at 70 % of its own, then the reference rate: what drifts on a shared
        // machine drifts for both. The other points of the curve are measured in the first round
        // only.
        let mut saturations = Vec::new();
        let mut per_round = Vec::new();
        let (mut at_70, mut base_same, mut base_70, mut reference) =
            (Pooled::default(), Pooled::default(), Pooled::default(), Pooled::default());
        let mut curve = Vec::new();
        for round in 0..rounds {
            let start = server.read();
            let saturation = closed_loop(dui.clone(), WORKERS, profile.step, next(1 << 20)).await;
            let dui_saturation = Measured { figures: saturation.figures(None), server: server.usage_since(start) };
            let base = closed_loop(raw.clone(), WORKERS, profile.step, next(1 << 20)).await.figures(None);
            if round == 0 {
                for fraction in [0.25, 0.5] {
                    let rate = (dui_saturation.figures.achieved_per_s * fraction).max(1.0);
                    curve.push(measured(&server, dui.clone(), rate, profile.step, next(1 << 20)).await);
                }
            }
            let rate = (dui_saturation.figures.achieved_per_s * 0.7).max(1.0);
            let p99_at_70_ms = at_70.round(Some(&server), dui.clone(), rate, profile.step, next(1 << 20)).await;
            let baseline_p99_same_rate_ms = base_same.round(None, raw.clone(), rate, profile.step, next(1 << 20)).await;
            let rate = (base.achieved_per_s * 0.7).max(1.0);
            let baseline_p99_at_70_ms = base_70.round(None, raw.clone(), rate, profile.step, next(1 << 20)).await;
            let reference_p99_ms =
                reference.round(Some(&server), dui.clone(), reference_rate(op), profile.step, next(1 << 20)).await;
            per_round.push(Round {
                dui_per_s: dui_saturation.figures.achieved_per_s,
                baseline_per_s: base.achieved_per_s,
                ratio: dui_saturation.figures.achieved_per_s / base.achieved_per_s.max(1e-9),
                p99_at_70_ms,
                baseline_p99_at_70_ms,
                baseline_p99_same_rate_ms,
                reference_p99_ms,
            });
            saturations.push((dui_saturation, base));
        }
        let middle = median_index(&per_round.iter().map(|r| r.ratio).collect::<Vec<_>>());
        let ratio_to_baseline = per_round[middle].ratio;
        let (dui_saturation, baseline_saturation) = saturations.swap_remove(middle);
        curve.push(at_70.measured());
        let rate = (dui_saturation.figures.achieved_per_s * 0.9).max(1.0);
        curve.push(measured(&server, dui.clone(), rate, profile.step, next(1 << 20)).await);
        let report = OperationReport {
            key: op.key(),
            name: op.name(),
            ratio_to_baseline,
            dui_saturation,
            baseline_saturation,
            at_70_percent: at_70.measured(),
            baseline_at_70_percent: base_70.figures(),
            baseline_at_same_rate: base_same.figures(),
            reference: reference.measured(),
            curve,
            rounds: per_round,
        };
        eprintln!(
            "  dui {:.0} req/s, baseline {:.0} req/s ({:.0} %, rounds {}), p99 at 70 % {:.1} ms (rounds {})",
            report.dui_saturation.figures.achieved_per_s,
            report.baseline_saturation.achieved_per_s,
            report.ratio_to_baseline * 100.0,
            report.rounds.iter().map(|r| format!("{:.0}", r.ratio * 100.0)).collect::<Vec<_>>().join("/"),
            report.at_70_percent.figures.p99_ms,
            report.rounds.iter().map(|r| format!("{:.1}", r.p99_at_70_ms)).collect::<Vec<_>>().join("/"),
        );
        operations.push(report);
    }

    if !only.is_empty() {
        for o in &operations {
            println!("{}", serde_json::to_string_pretty(o)?);
        }
        // The operations measured, in the report's shape, for `compare`.
        let partial = serde_json::json!({"profile": profile.name, "started_at": started_at, "operations": operations});
        let path = out.join(profile.name).join("operations.json");
        std::fs::create_dir_all(out.join(profile.name))?;
        std::fs::write(&path, serde_json::to_vec_pretty(&partial)?)?;
        eprintln!("operations written to {}", path.display());
        if only.iter().any(|o| o == "noisy") {
            let summary = http(Op::ResidentSummary, everyone.clone(), &server.base_url);
            let capacity = closed_loop(summary, WORKERS, profile.step, next(1 << 20)).await.achieved();
            server.stop();
            let (report, _) = noisy(&env, &manifest, &mint, &client, capacity, profile.long_step, rounds).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        return Ok(());
    }
    eprintln!("hand-over feed at 200 requests/s...");
    let handover_at_200 = measured(
        &server,
        http(Op::HandoverFeed, unit_staff.clone(), &server.base_url),
        200.0,
        profile.long_step,
        next(1 << 20),
    )
    .await;

    eprintln!("shift-change mix...");
    let capacity = 1.0
        / Op::ALL
            .iter()
            .zip(&operations)
            .map(|(op, r)| op.mix_weight() / r.dui_saturation.figures.achieved_per_s.max(1e-9))
            .sum::<f64>();
    let mix_rate = capacity * 0.7;
    let start = server.read();
    let mut phases = tokio::task::JoinSet::new();
    for op in Op::ALL {
        let operation = http(op, users_for(op), &server.base_url);
        let (rate, step, offset) = ((mix_rate * op.mix_weight()).max(1.0), profile.long_step, next(1 << 20));
        phases.spawn(async move { (op, open_loop(operation, rate, step, offset).await.figures(Some(rate))) });
    }
    let mut mix_ops = BTreeMap::new();
    while let Some(done) = phases.join_next().await {
        let (op, figures) = done?;
        mix_ops.insert(op.key(), figures);
    }
    let mix = MixReport {
        offered_per_s: mix_rate,
        tenants: manifest.tenants.len(),
        tenant_concurrency: env.config.tenant_concurrency(),
        operations: mix_ops,
        server: server.usage_since(start),
    };
    let mut peak = server.usage_since(server.read()).peak_rss_mib;
    server.stop();

    eprintln!("noisy neighbour...");
    let summary_capacity = operations[1].dui_saturation.figures.achieved_per_s;
    let (noisy_neighbour, noisy_peak) =
        noisy(&env, &manifest, &mint, &client, summary_capacity, profile.long_step, rounds).await?;
    peak = peak.max(noisy_peak);

    let mut report = Report {
        profile: profile.name.to_owned(),
        started_at,
        machine: Machine {
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            note: "server, PostgreSQL and load generator share these cores",
            durable_commit: Some(durable_commit),
        },
        dataset: Dataset {
            tenants: manifest.tenants.len(),
            establishments: manifest.tenants.iter().map(|t| t.establishments.len()).sum(),
            residents: manifest.residents(),
            notes: manifest.notes(),
            events: manifest.events(),
        },
        operations,
        handover_at_200: Some(handover_at_200),
        mix: Some(mix),
        noisy_neighbour: Some(noisy_neighbour),
        server_peak_rss_mib: peak,
        targets: Vec::new(),
    };
    report.judge();
    let out = out.join(profile.name);
    report.write(&out)?;
    println!("{}", report.markdown());
    eprintln!("report written to {}", out.display());
    if profile.is_smoke() {
        smoke_checks(&report)?;
    }
    Ok(())
}

/// One tenant floods the server with resident summaries at 1.5 times what the server answers,
/// under a per-tenant limit of a fifth of that (a server shared by many organisations, none of
/// which may take more than a fifth of it), while another tenant works at a tenth of it, well
/// within its own limit. The quiet tenant is measured alone before and after each flood, and
/// during it; each round starts the flood afresh (a full bucket, new connections), the
/// harshest moment for the others.
async fn noisy(
    env: &Environment,
    manifest: &Manifest,
    mint: &dyn Fn(uuid::Uuid, uuid::Uuid) -> String,
    client: &reqwest::Client,
    summary_capacity: f64,
    step: Duration,
    rounds: usize,
) -> anyhow::Result<(NoisyReport, f64)> {
    let limit = (summary_capacity * 0.2).max(2.0);
    let burst = (limit / 4.0).max(2.0);
    let server = Server::start(env, limit, burst).await?;
    let quiet_users = Arc::new(ops::virtual_users(manifest, &[1], false, mint));
    let noisy_users = Arc::new(ops::virtual_users(manifest, &[0], false, mint));
    let operation = |client: &reqwest::Client, users| -> Arc<dyn Operation> {
        Arc::new(Http { op: Op::ResidentSummary, client: client.clone(), base: server.base_url.clone(), users })
    };
    let quiet = operation(client, quiet_users);
    // The server was just started: its caches (keys, prepared statements) warm up first.
    for op in [&quiet, &operation(client, noisy_users.clone())] {
        closed_loop(op.clone(), 4, step / 2, 4 << 40).await;
    }
    let quiet_rate = (summary_capacity * 0.1).max(1.0);
    let flood_rate = summary_capacity * 1.5;
    let (mut alone, mut with_flood, mut flood) = (Pooled::default(), Pooled::default(), Pooled::default());
    let mut round_ratios = Vec::new();
    for round in 0..rounds as u64 {
        // A second apart, so that the flood's bucket is full again and the quiet tenant's
        // latency alone is measured as close to the flood as possible.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = alone.round(None, quiet.clone(), quiet_rate, step, (10 + round) << 40).await;
        let start = server.read();
        // The flood has its own threads and HTTP client: what the quiet tenant measures is the
        // server, not a generator busy sending the flood.
        let flood_op = operation(&reqwest::Client::builder().pool_max_idle_per_host(256).build()?, noisy_users.clone());
        let flooding = std::thread::spawn(move || -> anyhow::Result<load::Outcome> {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
            Ok(runtime.block_on(open_loop(flood_op, flood_rate, step, (20 + round) << 40)))
        });
        let during = with_flood.round(None, quiet.clone(), quiet_rate, step, (30 + round) << 40).await;
        let flooded = flooding.join().map_err(|_| anyhow::anyhow!("the flood's thread panicked"))??;
        flood.add(flooded, flood_rate, Some(server.usage_since(start)));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after = alone.round(None, quiet.clone(), quiet_rate, step, (40 + round) << 40).await;
        round_ratios.push(during / before.max(after).max(1e-9));
    }
    let usage = Usage::pooled(&flood.usage);
    let (alone, with_flood) = (alone.figures(), with_flood.figures());
    eprintln!("  server during the floods: {:.0} % CPU", usage.cpu_percent);
    let report = NoisyReport {
        tenant_limit_per_s: limit,
        tenant_burst: burst,
        p99_ratio: with_flood.p99_ms / alone.p99_ms.max(1e-9),
        round_ratios,
        quiet_alone: alone,
        quiet_with_flood: with_flood,
        flood: flood.figures(),
    };
    Ok((report, usage.peak_rss_mib))
}

/// The smoke run measures nothing, but the tooling must have worked end to end.
fn smoke_checks(report: &Report) -> anyhow::Result<()> {
    for o in &report.operations {
        anyhow::ensure!(
            o.dui_saturation.figures.requests > 0 && o.dui_saturation.figures.errors == 0,
            "{}: {:?}",
            o.key,
            o.dui_saturation.figures.first_error
        );
        anyhow::ensure!(
            o.baseline_saturation.requests > 0 && o.baseline_saturation.errors == 0,
            "baseline {}: {:?}",
            o.key,
            o.baseline_saturation.first_error
        );
        anyhow::ensure!(o.ratio_to_baseline > 0.0 && o.ratio_to_baseline.is_finite(), "{}: no ratio", o.key);
        anyhow::ensure!(o.curve.iter().all(|m| m.figures.errors == 0), "{}: errors in the curve", o.key);
    }
    let noisy = report.noisy_neighbour.as_ref().context("noisy neighbour")?;
    anyhow::ensure!(noisy.flood.rate_limited > 0, "the flooding tenant was never limited");
    anyhow::ensure!(report.server_peak_rss_mib > 0.0, "the server's memory was not read");
    Ok(())
}
