//! The medication round, measured: in `units` establishments at once (the second of each of the
//! first tenants: 43 residents in one unit), 30 residents have a prescription of six lines — five
//! planned across the four rounds and one if needed —, recorded weeks ago (made once, kept with
//! the dataset). Each unit's nurse then does rounds of past days as on a tablet: lists the round's
//! plan, then records each dose listed and not yet recorded (given five minutes after its time),
//! one after the other; the nurses of the units go at once. The list's and the record's
//! latencies are reported (p50, p99, max), beside the budget of the other writes (a note's p99,
//! 25 ms).
//!
//! Each dose is recorded once: a round already done is skipped, so that runs can follow each
//! other on one dataset until the prescriptions' history (`HISTORY_DAYS`) is used up.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::manifest::Manifest;
use crate::server::{Environment, Server};

/// Residents of a unit given a prescription.
const RESIDENTS: usize = 30;
/// How far back the prescriptions were recorded: the days whose rounds can be done.
const HISTORY_DAYS: i64 = 60;
const ROUNDS: [&str; 4] = ["morning", "noon", "evening", "bedtime"];

/// Six lines as an EHPAD resident often has: paracetamol three times, an anticoagulant in the
/// evening, an antibiotic every 8 hours, amoxicillin-free; one drug if needed.
fn prescription(prescribed_on: chrono::NaiveDate) -> Value {
    let line = |cis: &str, unit: &str, moments: &[&str]| {
        json!({"cis": cis, "dose": {"quantity": 1, "unit": unit}, "route": "oral",
               "schedule": {"kind": "moments", "moments": moments.iter().map(|m| json!({"moment": m})).collect::<Vec<_>>()}})
    };
    json!({
        "prescriber": {"name": "Dr Claire Martin", "rpps": "10003456789"},
        "prescribed_on": prescribed_on,
        "source": "paper",
        "lines": [
            line("60234100", "comprimé", &["morning", "noon", "evening"]),
            line("64000003", "comprimé", &["morning", "evening"]),
            line("66000005", "sachet", &["noon"]),
            line("65000004", "comprimé", &["bedtime"]),
            {"cis": "60123456", "dose": {"quantity": 1, "unit": "gélule"}, "route": "oral",
             "schedule": {"kind": "every_hours", "interval_hours": 8, "first_at": "06:00:00"}},
            {"cis": "69000009", "dose": {"quantity": 2, "unit": "comprimé"}, "route": "oral",
             "schedule": {"kind": "if_needed", "max_per_day": 3, "condition": "si douleurs abdominales"}}
        ]
    })
}

/// A unit of the round: its establishment, a nurse's token, the residents given prescriptions.
struct Unit {
    establishment: uuid::Uuid,
    token: String,
    residents: Vec<uuid::Uuid>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

/// Latencies in microseconds.
#[derive(Debug)]
struct Latencies {
    list: Histogram<u64>,
    record: Histogram<u64>,
    listed_doses: u64,
    errors: Vec<String>,
}

fn figures(name: &str, h: &Histogram<u64>) -> String {
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    format!(
        "{name}: {} calls, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        h.len(),
        ms(0.5),
        ms(0.99),
        h.max() as f64 / 1000.0
    )
}

async fn send(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

/// Gives the units' residents their prescriptions (once) and makes them weeks old.
async fn prepare(
    env: &Environment,
    database: &str,
    client: &reqwest::Client,
    base: &str,
    units: &[Unit],
) -> anyhow::Result<()> {
    let drugs = std::path::Path::new("tests/fixtures/bdpm");
    dui::drugs::import_dir(&env.owner_url, None, drugs).await.context("the drug referential's fixture")?;
    let today = chrono::Utc::now().date_naive();
    let prescribed_on = today - chrono::Duration::days(HISTORY_DAYS + 1);
    let mut made = 0;
    for unit in units {
        for resident in &unit.residents {
            let url = format!("{base}/api/v1/residents/{resident}/prescriptions");
            let (status, listed) = send(client, reqwest::Method::GET, &url, &unit.token, None).await?;
            anyhow::ensure!(status == 200, "prescriptions of {resident}: {status} {listed}");
            if listed.as_array().is_some_and(|a| !a.is_empty()) {
                continue;
            }
            let body = prescription(prescribed_on);
            let (status, created) = send(client, reqwest::Method::POST, &url, &unit.token, Some(&body)).await?;
            anyhow::ensure!(status == 201, "prescription of {resident}: {status} {created}");
            made += 1;
        }
    }
    // Recorded when prescribed: the past days' doses were owed.
    let superuser = dui_storage::cluster::url_for(&env.admin_url, "postgres", database)?;
    let (db, connection) = tokio_postgres::connect(&superuser, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let backdate = format!(
        "UPDATE prescriptions SET recorded_at = prescribed_on::timestamptz \
         WHERE prescribed_on <= '{prescribed_on}' AND recorded_at > prescribed_on::timestamptz"
    );
    let moved = db.execute(backdate.as_str(), &[]).await?;
    eprintln!("{made} prescriptions recorded, {moved} dated back to when they were prescribed");
    Ok(())
}

/// One nurse's rounds: `rounds` rounds not done yet, from yesterday back.
async fn nurse(client: reqwest::Client, base: String, unit: Arc<Unit>, rounds: usize) -> Latencies {
    let mut latencies = Latencies { list: histogram(), record: histogram(), listed_doses: 0, errors: Vec::new() };
    let today = chrono::Utc::now().date_naive();
    let mut done = 0;
    'days: for back in 1..HISTORY_DAYS {
        let day = today - chrono::Duration::days(back);
        for round in ROUNDS {
            if done == rounds {
                break 'days;
            }
            let url = format!("{base}/api/v1/establishments/{}/doses?date={day}&round={round}", unit.establishment);
            let started = Instant::now();
            let listed = send(&client, reqwest::Method::GET, &url, &unit.token, None).await;
            let elapsed = started.elapsed().as_micros() as u64;
            let plan = match listed {
                Ok((200, plan)) => plan,
                Ok((status, body)) => {
                    latencies.errors.push(format!("plan {status}: {body}"));
                    continue;
                }
                Err(error) => {
                    latencies.errors.push(format!("plan: {error}"));
                    continue;
                }
            };
            latencies.list.record(elapsed.max(1)).ok();
            let doses: Vec<&Value> =
                plan["doses"].as_array().into_iter().flatten().filter(|d| d["administration"].is_null()).collect();
            latencies.listed_doses += doses.len() as u64;
            if doses.is_empty() {
                continue;
            }
            done += 1;
            for dose in doses {
                let resident = dose["resident"]["id"].as_str().unwrap_or_default();
                let due_at: chrono::DateTime<chrono::Utc> =
                    dose["due_at"].as_str().and_then(|d| d.parse().ok()).unwrap_or_default();
                let body = json!({
                    "prescription_version_id": dose["prescription_version_id"], "line": dose["line"],
                    "due_on": dose["due_on"], "slot": dose["slot"], "outcome": "given",
                    // The nurse reads the warnings (paracetamol twice, here) and confirms.
                    "confirm": dose["warnings"].as_array().is_some_and(|w| !w.is_empty()),
                    "given_at": (due_at + chrono::Duration::minutes(5)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                });
                let url = format!("{base}/api/v1/residents/{resident}/administrations");
                let started = Instant::now();
                let recorded = send(&client, reqwest::Method::POST, &url, &unit.token, Some(&body)).await;
                let elapsed = started.elapsed().as_micros() as u64;
                match recorded {
                    Ok((201, _)) => {
                        latencies.record.record(elapsed.max(1)).ok();
                    }
                    Ok((status, body)) => latencies.errors.push(format!("record {status}: {body}")),
                    Err(error) => latencies.errors.push(format!("record: {error}")),
                }
            }
        }
    }
    latencies
}

/// Runs the rounds of `units` units, `rounds` each, and prints the figures.
pub async fn run(
    env: &Environment,
    manifest: &Manifest,
    mint: &dyn Fn(uuid::Uuid, uuid::Uuid) -> String,
    units: usize,
    rounds: usize,
) -> anyhow::Result<()> {
    let mut chosen = Vec::new();
    for tenant in manifest.tenants.iter().take(units) {
        let establishment =
            tenant.establishments.get(1).or(tenant.establishments.first()).context("an establishment")?;
        let nurse = establishment.staff.iter().find(|s| s.role == "nurse").context("a nurse")?;
        chosen.push(Unit {
            establishment: establishment.id,
            token: mint(tenant.id, nurse.id),
            residents: establishment.residents.iter().take(RESIDENTS).copied().collect(),
        });
    }
    let server = Server::start(env, 0.0, 0.0).await?;
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let database = format!("dui_bench_{}", manifest.profile);
    prepare(env, &database, &client, &server.base_url, &chosen).await?;
    env.checkpoint().await;
    let residents: usize = chosen.iter().map(|u| u.residents.len()).sum();
    eprintln!("{} units ({residents} residents with prescriptions), {rounds} rounds each...", chosen.len());
    let started = Instant::now();
    let mut nurses = tokio::task::JoinSet::new();
    for unit in chosen {
        nurses.spawn(nurse(client.clone(), server.base_url.clone(), Arc::new(unit), rounds));
    }
    let (mut list, mut record, mut listed, mut errors) = (histogram(), histogram(), 0, Vec::new());
    while let Some(done) = nurses.join_next().await {
        let latencies = done?;
        list.add(&latencies.list)?;
        record.add(&latencies.record)?;
        listed += latencies.listed_doses;
        errors.extend(latencies.errors);
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(server);
    println!("medication rounds, {units} units at once, {rounds} rounds each ({listed} doses listed, {seconds:.0} s):");
    println!("  {}", figures("round plan (list)", &list));
    println!("  {}", figures("dose record", &record));
    println!("  budget of the other writes: a note's p99 under 25 ms");
    if !errors.is_empty() {
        println!("  {} errors, the first: {}", errors.len(), errors[0]);
        anyhow::bail!("{} requests failed", errors.len());
    }
    Ok(())
}
