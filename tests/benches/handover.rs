//! The hand-over feed under load: one unit of 80 residents with two years of notes and
//! hand-over events behind it,
//! the feed read through the real server (HTTP, authentication, access rule, decryption, the
//! trail), sequentially and with concurrent readers. Prints latency percentiles.
//!
//! `cargo bench -p dui-tests --bench handover`. Needs PostgreSQL, like the tests.
//!
//! The two years of history are copies made in SQL (their bodies are sealed for another row
//! and would not open, but the feed never reaches them: they are there for the index and the
//! planner); the notes of the last shifts are written through the API, sealed as in production.

use std::time::{Duration, Instant};

use dui_domain::people::Role;
use dui_testkit::TestApp;
use serde_json::json;

const RESIDENTS: usize = 80;
/// Notes per resident per day in the history (a busy EHPAD unit).
const NOTES_PER_DAY: usize = 6;
const DAYS: usize = 730;
/// Hand-over events per resident per day in the history, in tenths (a refused task, an abnormal
/// measurement... every third day or so).
const EVENTS_PER_DAY_TENTHS: usize = 3;
/// Notes per resident written today through the API (what the feed shows).
const RECENT_NOTES: usize = 3;
const SEQUENTIAL: usize = 1_000;
const CONCURRENCY: usize = 8;
const CONCURRENT_REQUESTS: usize = 2_000;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1e3
}

fn report(label: &str, mut latencies: Vec<Duration>, wall: Duration) {
    latencies.sort();
    println!(
        "  {label:<32} {:>6} req  {:>7.1} req/s  p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms",
        latencies.len(),
        latencies.len() as f64 / wall.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.95),
        percentile(&latencies, 0.99),
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let app = TestApp::spawn_with(|config| config.database.pool_size = 16).await;
        let tenant = app.tenant("Bench").await;
        let ehpad = tenant.establishments[0].id;
        let unit = tenant.units[0].id;
        let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
        let mut records = Vec::new();
        for i in 0..RESIDENTS {
            let body = json!({"establishment_id": ehpad, "unit_id": unit, "admitted_on": "2024-01-02", "identity": {
                "birth_name": format!("Nom{}", dui_testkit::letters(i)), "first_names": "Marie Louise", "sex": "female",
                "birth_date": "1936-04-02", "birth_place": "75056"}});
            let created = app.post("/api/v1/residents", &tenant.admin.token, body).await;
            assert_eq!(created.status, 201, "{}", created.text);
            records.push(format!("/api/v1/residents/{}", created.json["id"].as_str().unwrap()));
        }
        let first = app.post(&format!("{}/notes", records[0]), &nurse.token, json!({"text": "Modèle"})).await;
        assert_eq!(first.status, 201, "{}", first.text);

        // Today's hand-over events, through the API: an abnormal temperature for each resident.
        for record in &records {
            let fever =
                app.post(&format!("{record}/measurements"), &nurse.token, json!({"kind": "temperature", "value": 38.6})).await;
            assert_eq!(fever.status, 201, "{}", fever.text);
        }

        // Two years of history for every resident of the unit, before today.
        let started = Instant::now();
        let owner = app.db.connect(&app.db.owner_url).await;
        owner
            .batch_execute(&format!(
                "BEGIN; SELECT set_config('app.tenant_id', '{tenant}', true); \
                 INSERT INTO notes (tenant_id, id, resident_id, author_id, establishment_id, unit_id, kind, scope, written_at, \
                                    facts_at, body, dek_version) \
                 SELECT m.tenant_id, (lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0') || '7000' || '8' \
                                      || lpad(to_hex(g), 8, '0') || substr(md5(r.id::text), 1, 7))::uuid, \
                        r.id, m.author_id, m.establishment_id, m.unit_id, 'free', \
                        (ARRAY['whole_team', 'care_team', 'medical', 'social'])[1 + g % 4], t, t, m.body, m.dek_version \
                 FROM notes m, residents r, generate_series(1, {per_resident}) g, \
                      LATERAL (SELECT now() - interval '1 day' - (g * interval '1 day' / {per_day}) AS t) x \
                 WHERE r.tenant_id = m.tenant_id; \
                 COMMIT;",
                tenant = tenant.id,
                per_resident = NOTES_PER_DAY * DAYS,
                per_day = NOTES_PER_DAY,
            ))
            .await
            .unwrap();
        // And two years of hand-over events (copies of today's, as for the notes).
        owner
            .batch_execute(&format!(
                "BEGIN; SELECT set_config('app.tenant_id', '{tenant}', true); \
                 INSERT INTO handover_events (tenant_id, id, resident_id, establishment_id, unit_id, kind, source_type, \
                                              source_id, scope, summary, dek_version, occurred_at, recorded_by) \
                 SELECT e.tenant_id, (lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0') || '7000' || '9' \
                                      || lpad(to_hex(g), 8, '0') || substr(md5(e.id::text), 1, 7))::uuid, \
                        e.resident_id, e.establishment_id, e.unit_id, e.kind, e.source_type, e.source_id, \
                        (ARRAY['whole_team', 'care_team'])[1 + g % 2], e.summary, e.dek_version, t, e.recorded_by \
                 FROM handover_events e, generate_series(1, {per_resident}) g, \
                      LATERAL (SELECT now() - interval '1 day' - (g * interval '1 day' / {per_day}) AS t) x \
                 WHERE e.kind = 'abnormal_measurement'; \
                 COMMIT;",
                tenant = tenant.id,
                per_resident = EVENTS_PER_DAY_TENTHS * DAYS / 10,
                per_day = EVENTS_PER_DAY_TENTHS as f64 / 10.0,
            ))
            .await
            .unwrap();
        owner.batch_execute("VACUUM ANALYZE notes; VACUUM ANALYZE handover_events").await.unwrap();
        owner.execute("SELECT set_config('app.tenant_id', $1, false)", &[&tenant.id.to_string()]).await.unwrap();
        let count: i64 = owner.query_one("SELECT count(*) FROM notes", &[]).await.unwrap().get(0);
        let events: i64 = owner.query_one("SELECT count(*) FROM handover_events", &[]).await.unwrap().get(0);
        println!(
            "history: {count} notes and {events} hand-over events for {RESIDENTS} residents, made in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        // Today's notes, through the API.
        for record in &records {
            for n in 0..RECENT_NOTES {
                let body = json!({"target": "Nuit", "data": format!("Observation {n}: a dormi, pas de douleur"),
                                  "actions": "Change à 3 h", "scope": if n == 2 { "medical" } else { "whole_team" }});
                let written = app.post(&format!("{record}/notes"), &nurse.token, body).await;
                assert_eq!(written.status, 201, "{}", written.text);
            }
        }
        for table in ["notes", "audit_events"] {
            owner.batch_execute(&format!("VACUUM ANALYZE {table}")).await.unwrap();
        }

        let feed = app.url(&format!("/api/v1/establishments/{ehpad}/handover?unit_id={unit}&limit=200"));
        let check = app.client.get(&feed).bearer_auth(&nurse.token).send().await.unwrap();
        assert_eq!(check.status(), 200);
        let body: serde_json::Value = check.json().await.unwrap();
        let shown = body["items"].as_array().unwrap().len();
        let told = body["events"].as_array().unwrap().len();
        println!("feed of the unit since the previous shift: {shown} notes and {told} events about {RESIDENTS} residents\n");
        assert!(told >= RESIDENTS, "the feed shows today's events (fevers and admissions)");
        assert!(shown >= RESIDENTS * RECENT_NOTES / 2, "the feed shows today's notes");

        // Where the database's time goes, for one read.
        let scope = dui_domain::scope::TenantScope::new(
            tenant.id,
            nurse.id,
            vec![dui_domain::scope::Grant { establishment: Some(ehpad), role: Role::Nurse }],
        );
        let since = chrono::Utc::now() - chrono::Duration::hours(12);
        let feed_of_unit = dui_storage::notes::Feed { establishment: ehpad, unit: Some(unit) };
        let tx = app.store.begin(&scope, dui_storage::Mode::Write);
        let plan = dui_storage::notes::explain_handover(tx, feed_of_unit, since, true).await.unwrap();
        for line in plan.lines().filter(|l| l.contains("Execution Time") || l.contains("Planning Time")) {
            println!("feed statement: {}", line.trim());
        }
        if std::env::var_os("DUI_BENCH_PLAN").is_some() {
            println!("{plan}");
        }

        // Warm-up, then one reader after another.
        for _ in 0..50 {
            app.client.get(&feed).bearer_auth(&nurse.token).send().await.unwrap().bytes().await.unwrap();
        }
        let mut latencies = Vec::with_capacity(SEQUENTIAL);
        let wall = Instant::now();
        for _ in 0..SEQUENTIAL {
            let start = Instant::now();
            let response = app.client.get(&feed).bearer_auth(&nurse.token).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.bytes().await.unwrap();
            latencies.push(start.elapsed());
        }
        println!("hand-over feed, unit of {RESIDENTS}, two years of notes:");
        report("one reader at a time", latencies, wall.elapsed());

        // The same read through the storage layer alone (no HTTP, no token, no JSON): what the
        // database and the decryption take.
        let page = dui_domain::pagination::PageRequest::first(200);
        let mut latencies = Vec::with_capacity(SEQUENTIAL);
        let wall = Instant::now();
        for _ in 0..SEQUENTIAL {
            let start = Instant::now();
            let tx = app.store.begin(&scope, dui_storage::Mode::Write);
            let previous = dui_storage::notes::FeedStart::PreviousShift;
            let read = dui_storage::notes::handover(tx, feed_of_unit, previous, page).await.unwrap();
            assert!(!read.page.items.is_empty());
            latencies.push(start.elapsed());
        }
        report("storage only, one at a time", latencies, wall.elapsed());

        // Concurrent readers (closed loop: each sends its next request when the last returns).
        let wall = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..CONCURRENCY {
            let (client, feed, token) = (app.client.clone(), feed.clone(), nurse.token.clone());
            tasks.spawn(async move {
                let mut latencies = Vec::new();
                for _ in 0..CONCURRENT_REQUESTS / CONCURRENCY {
                    let start = Instant::now();
                    let response = client.get(&feed).bearer_auth(&token).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    response.bytes().await.unwrap();
                    latencies.push(start.elapsed());
                }
                latencies
            });
        }
        let mut all = Vec::new();
        while let Some(done) = tasks.join_next().await {
            all.extend(done.unwrap());
        }
        report(&format!("{CONCURRENCY} readers at once"), all, wall.elapsed());
    });
}
