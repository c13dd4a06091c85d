//! The report: `report.json` (every figure), `latency.png` (latency percentiles against offered
//! load, one panel per operation) and `summary.md` (the headline ratios and the targets).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::chart::{Chart, Series, render_grid};
use crate::load::Figures;
use crate::server::Usage;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub profile: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub machine: Machine,
    pub dataset: Dataset,
    pub operations: Vec<OperationReport>,
    /// The hand-over feed at a fixed 200 requests/s.
    pub handover_at_200: Option<Measured>,
    pub mix: Option<MixReport>,
    pub noisy_neighbour: Option<NoisyReport>,
    /// Highest resident memory of the server over the whole run, MiB.
    pub server_peak_rss_mib: f64,
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub note: &'static str,
    /// Bare durable commits on the idle machine (one round trip: a one-column row inserted, the
    /// commit flushed) at a fixed rate, before the operations: the floor of any write's latency.
    pub durable_commit: Option<Figures>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dataset {
    pub tenants: usize,
    pub establishments: usize,
    pub residents: usize,
    pub notes: u64,
    /// Hand-over events (the feed reads them with the notes).
    pub events: u64,
}

/// Figures of a phase with the server's usage during it.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    #[serde(flatten)]
    pub figures: Figures,
    pub server: Usage,
}

#[derive(Debug, Clone, Serialize)]
pub struct OperationReport {
    pub key: &'static str,
    pub name: &'static str,
    /// Throughput at saturation (closed loop).
    pub dui_saturation: Measured,
    pub baseline_saturation: Figures,
    /// dui's saturation throughput over the baseline's: the headline figure.
    pub ratio_to_baseline: f64,
    /// Open loop at fractions of dui's saturation.
    pub curve: Vec<Measured>,
    /// Open loop at 70 % of dui's saturation.
    pub at_70_percent: Measured,
    /// The baseline in open loop at 70 % of its own saturation.
    pub baseline_at_70_percent: Figures,
    /// The baseline in open loop at the rate dui ran at 70 % of its saturation: the same load.
    pub baseline_at_same_rate: Figures,
    /// Open loop at a fixed rate, the same for every profile (to compare profiles).
    pub reference: Measured,
    /// Each round's figures. The ratio above is the median round's; the percentiles at 70 %
    /// and at the reference rate are over the calls of every round.
    pub rounds: Vec<Round>,
}

/// One round of an operation's phases.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub dui_per_s: f64,
    pub baseline_per_s: f64,
    pub ratio: f64,
    pub p99_at_70_ms: f64,
    pub baseline_p99_at_70_ms: f64,
    pub baseline_p99_same_rate_ms: f64,
    pub reference_p99_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MixReport {
    pub offered_per_s: f64,
    /// The tenants the mix's users belong to.
    pub tenants: usize,
    /// The server's cap on each tenant's requests in progress (0: none).
    pub tenant_concurrency: usize,
    pub operations: BTreeMap<&'static str, Figures>,
    pub server: Usage,
}

#[derive(Debug, Clone, Serialize)]
pub struct NoisyReport {
    pub tenant_limit_per_s: f64,
    pub tenant_burst: f64,
    /// Each round's quiet p99 during the flood over the worse of its p99s alone just before
    /// and just after.
    pub round_ratios: Vec<f64>,
    /// The quiet tenant alone (every round, before and after the flood).
    pub quiet_alone: Figures,
    /// The quiet tenant while the other floods the server.
    pub quiet_with_flood: Figures,
    /// The flooding tenant (most of its requests answered 429).
    pub flood: Figures,
    pub p99_ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub name: String,
    pub measured: String,
    pub wanted: String,
    pub met: bool,
}

impl Report {
    /// Checks the targets against the figures.
    pub fn judge(&mut self) {
        let mut targets = Vec::new();
        let op = |key: &str| self.operations.iter().find(|o| o.key == key);
        if let Some(o) = op("note_write") {
            targets.push(Target {
                name: "note write: throughput vs baseline".into(),
                measured: format!("{:.0} %", o.ratio_to_baseline * 100.0),
                wanted: "≥ 60 %".into(),
                met: o.ratio_to_baseline >= 0.60,
            });
            targets.push(Target {
                name: "note write: p99 at 70 % of saturation".into(),
                measured: format!("{:.1} ms", o.at_70_percent.figures.p99_ms),
                wanted: "< 25 ms".into(),
                met: o.at_70_percent.figures.p99_ms < 25.0,
            });
        }
        if let Some(o) = op("resident_summary") {
            targets.push(Target {
                name: "resident summary: throughput vs baseline".into(),
                measured: format!("{:.0} %", o.ratio_to_baseline * 100.0),
                wanted: "≥ 50 %".into(),
                met: o.ratio_to_baseline >= 0.50,
            });
            targets.push(Target {
                name: "resident summary: p99 at 70 % of saturation".into(),
                measured: format!("{:.1} ms", o.at_70_percent.figures.p99_ms),
                wanted: "< 10 ms".into(),
                met: o.at_70_percent.figures.p99_ms < 10.0,
            });
        }
        if let Some(h) = &self.handover_at_200 {
            targets.push(Target {
                name: "hand-over feed at 200 requests/s: p99".into(),
                measured: format!(
                    "{:.1} ms ({:.0} req/s achieved, {} errors)",
                    h.figures.p99_ms, h.figures.achieved_per_s, h.figures.errors
                ),
                wanted: "< 50 ms".into(),
                met: h.figures.p99_ms < 50.0 && h.figures.errors == 0 && h.figures.achieved_per_s >= 190.0,
            });
        }
        if let Some(n) = &self.noisy_neighbour {
            targets.push(Target {
                name: "noisy neighbour: quiet tenant's p99 with / without the flood".into(),
                measured: format!(
                    "{:.2}× ({:.1} → {:.1} ms)",
                    n.p99_ratio, n.quiet_alone.p99_ms, n.quiet_with_flood.p99_ms
                ),
                wanted: "≤ 2×".into(),
                met: n.p99_ratio <= 2.0 && n.quiet_with_flood.errors == 0 && n.quiet_with_flood.rate_limited == 0,
            });
        }
        targets.push(Target {
            name: "server memory under load (peak RSS)".into(),
            measured: format!("{:.0} MiB", self.server_peak_rss_mib),
            wanted: "< 200 MB".into(),
            met: self.server_peak_rss_mib * 1.048_576 < 200.0,
        });
        self.targets = targets;
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("report.json"), serde_json::to_vec_pretty(self)?)?;
        std::fs::write(dir.join("latency.png"), self.chart())?;
        std::fs::write(dir.join("summary.md"), self.markdown())?;
        Ok(())
    }

    fn chart(&self) -> Vec<u8> {
        let charts: Vec<Chart> = self
            .operations
            .iter()
            .map(|o| {
                let points = |f: fn(&Figures) -> f64| -> Vec<(f64, f64)> {
                    o.curve.iter().map(|m| (m.figures.offered_per_s.unwrap_or(0.0), f(&m.figures))).collect()
                };
                Chart {
                    title: format!("{} ({:.0}% of baseline)", o.key, o.ratio_to_baseline * 100.0),
                    x_label: "offered load (req/s)".into(),
                    y_label: "latency (ms)".into(),
                    log_y: true,
                    series: vec![
                        Series { name: "p50".into(), points: points(|f| f.p50_ms), dashed: true },
                        Series { name: "p95".into(), points: points(|f| f.p95_ms), dashed: false },
                        Series { name: "p99".into(), points: points(|f| f.p99_ms), dashed: false },
                    ],
                }
            })
            .collect();
        render_grid(&charts, 2)
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        md.push_str(&format!(
            "# dui load benchmark — profile `{}`\n\n{} · {} cores shared by the server, PostgreSQL and the load generator · \
             dataset: {} tenants, {} establishments, {} residents, {} notes, {} hand-over events\n\n",
            self.profile,
            self.started_at.format("%Y-%m-%d %H:%M UTC"),
            self.machine.cores,
            self.dataset.tenants,
            self.dataset.establishments,
            self.dataset.residents,
            self.dataset.notes,
            self.dataset.events
        ));
        if let Some(c) = &self.machine.durable_commit {
            md.push_str(&format!(
                "Machine: a bare durable commit (one round trip: BEGIN, a one-column row, COMMIT and its flush) on the \
                 idle machine ({:.0}/s) takes p50 {:.2} / p99 {:.2} / max {:.1} ms. Every operation below commits \
                 durably (reads too: their trace), so the machine's I/O stalls reach every p99; the baseline at the \
                 same rate as dui shows what is left to dui.\n\n",
                c.offered_per_s.unwrap_or(0.0),
                c.p50_ms,
                c.p99_ms,
                c.max_ms
            ));
        }
        let rounds = self.operations.first().map_or(0, |o| o.rounds.len());
        md.push_str(&format!(
            "## Throughput against the raw-PostgreSQL baseline (the headline)\n\n{rounds} rounds per operation: the \
             ratio is the median round's (each round's in brackets); the percentiles at 70 % of saturation are over \
             the calls of every round (each round's p99 in brackets).\n\n"
        ));
        md.push_str("| operation | dui at saturation | baseline at saturation | ratio | p50 / p95 / p99 / max at 70 % (ms) | baseline p99 at the same rate (each round) | baseline p99 at 70 % of its own | errors |\n");
        md.push_str("|---|---:|---:|---:|---|---:|---:|---:|\n");
        for o in &self.operations {
            let f = &o.at_70_percent.figures;
            md.push_str(&format!(
                "| {} | {:.0} req/s | {:.0} req/s | **{:.0} %** ({}) | {:.1} / {:.1} / {:.1} ({}) / {:.1} | {:.1} ms ({}) | {:.1} ms | {} |\n",
                o.name,
                o.dui_saturation.figures.achieved_per_s,
                o.baseline_saturation.achieved_per_s,
                o.ratio_to_baseline * 100.0,
                each(&o.rounds, |r| r.ratio * 100.0, 0),
                f.p50_ms,
                f.p95_ms,
                f.p99_ms,
                each(&o.rounds, |r| r.p99_at_70_ms, 1),
                f.max_ms,
                o.baseline_at_same_rate.p99_ms,
                each(&o.rounds, |r| r.baseline_p99_same_rate_ms, 1),
                o.baseline_at_70_percent.p99_ms,
                o.dui_saturation.figures.errors + f.errors
            ));
        }
        md.push_str("\n## Fixed-rate reference (compare profiles with `dui-bench compare`)\n\n");
        md.push_str(
            "| operation | offered | achieved | p50 | p99 (each round) | server CPU |\n|---|---:|---:|---:|---:|---:|\n",
        );
        for o in &self.operations {
            let f = &o.reference.figures;
            md.push_str(&format!(
                "| {} | {:.0}/s | {:.0}/s | {:.1} ms | {:.1} ms ({}) | {:.0} % |\n",
                o.name,
                f.offered_per_s.unwrap_or(0.0),
                f.achieved_per_s,
                f.p50_ms,
                f.p99_ms,
                each(&o.rounds, |r| r.reference_p99_ms, 1),
                o.reference.server.cpu_percent
            ));
        }
        if let Some(mix) = &self.mix {
            md.push_str(&format!(
                "\n## Shift-change mix at {:.0} requests/s (70 % of its estimated capacity)\n\n| operation | achieved | p50 | p95 | p99 | max | errors |\n|---|---:|---:|---:|---:|---:|---:|\n",
                mix.offered_per_s
            ));
            for (key, f) in &mix.operations {
                md.push_str(&format!(
                    "| {key} | {:.0}/s | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {} |\n",
                    f.achieved_per_s, f.p50_ms, f.p95_ms, f.p99_ms, f.max_ms, f.errors
                ));
            }
            md.push_str(&format!(
                "\nServer during the mix: {:.0} % CPU, {:.0} MiB resident.\n",
                mix.server.cpu_percent, mix.server.rss_mib
            ));
            let per_tenant = mix.offered_per_s / mix.tenants.max(1) as f64;
            let cap = match mix.tenant_concurrency {
                0 => "no cap on a tenant's requests in progress".to_owned(),
                n => format!(
                    "the server holds each tenant to {n} requests in progress (`limits.tenant_concurrency`; \
                     `--tenant-concurrency 0` runs without); a request whose commit is waiting for the disk \
                     has given its place up"
                ),
            };
            md.push_str(&format!(
                "The mix comes from the dataset's {} tenants alike, about {per_tenant:.0} requests/s each; {cap}.\n",
                mix.tenants
            ));
        }
        if let Some(n) = &self.noisy_neighbour {
            md.push_str(&format!(
                "\n## Noisy neighbour\n\nPer-tenant limit {:.0} requests/s (burst {:.0}). Quiet tenant alone: p99 {:.1} ms; \
                 while the other tenant floods at {:.0} requests/s: p99 {:.1} ms ({:.2}×; each round: {}), {} errors, {} refused. \
                 The flooding tenant got {:.0} requests/s through and {} answers 429.\n",
                n.tenant_limit_per_s,
                n.tenant_burst,
                n.quiet_alone.p99_ms,
                n.flood.offered_per_s.unwrap_or(0.0),
                n.quiet_with_flood.p99_ms,
                n.p99_ratio,
                n.round_ratios.iter().map(|r| format!("{r:.2}×")).collect::<Vec<_>>().join(", "),
                n.quiet_with_flood.errors,
                n.quiet_with_flood.rate_limited,
                n.flood.achieved_per_s,
                n.flood.rate_limited
            ));
        }
        md.push_str("\n## Targets\n\n| target | measured | wanted | |\n|---|---|---|---|\n");
        for t in &self.targets {
            md.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                t.name,
                t.measured,
                t.wanted,
                if t.met { "met" } else { "**missed**" }
            ));
        }
        md.push_str("\nFigures in `report.json`; latency against offered load in `latency.png`.\n");
        md
    }
}

/// Each round's value of `f`, with `decimals`, separated by slashes.
fn each(rounds: &[Round], f: impl Fn(&Round) -> f64, decimals: usize) -> String {
    rounds.iter().map(|r| format!("{:.*}", decimals, f(r))).collect::<Vec<_>>().join(" / ")
}

/// Compares the fixed-rate reference p99 of two reports (e.g. small and platform).
pub fn compare(a: &serde_json::Value, b: &serde_json::Value) -> String {
    let (name_a, name_b) = (a["profile"].as_str().unwrap_or("a"), b["profile"].as_str().unwrap_or("b"));
    let mut md = format!(
        "At the fixed reference rates (open loop), over the calls of every round (each round's p99 in brackets).\n\n| operation | p50 `{name_a}` | p50 `{name_b}` | p99 `{name_a}` | p99 `{name_b}` | p99 difference |\n|---|---:|---:|---:|---:|---:|\n"
    );
    let ops = a["operations"].as_array().cloned().unwrap_or_default();
    for op in ops {
        let key = op["key"].as_str().unwrap_or_default();
        let other = b["operations"].as_array().and_then(|all| all.iter().find(|o| o["key"] == key).cloned());
        let (Some(pa), Some(pb)) =
            (op["reference"]["p99_ms"].as_f64(), other.as_ref().and_then(|o| o["reference"]["p99_ms"].as_f64()))
        else {
            continue;
        };
        let median = |report: &serde_json::Value| report["reference"]["p50_ms"].as_f64().unwrap_or(0.0);
        let (ma, mb) = (median(&op), other.as_ref().map(median).unwrap_or(0.0));
        let rounds = |report: Option<&serde_json::Value>| -> String {
            let values: Vec<String> = report
                .and_then(|r| r["rounds"].as_array())
                .map(|all| {
                    all.iter().filter_map(|r| r["reference_p99_ms"].as_f64()).map(|v| format!("{v:.1}")).collect()
                })
                .unwrap_or_default();
            if values.is_empty() { String::new() } else { format!(" ({})", values.join(" / ")) }
        };
        md.push_str(&format!(
            "| {key} | {ma:.1} ms | {mb:.1} ms | {pa:.1} ms{} | {pb:.1} ms{} | {:+.0} % |\n",
            rounds(Some(&op)),
            rounds(other.as_ref()),
            (pb / pa.max(1e-9) - 1.0) * 100.0
        ));
    }
    md
}
