//! Server time of the request paths that seal or open fields, set against the time their
//! encryption work takes, to check that encryption at rest stays a small fraction of a request.
//!
//! `cargo bench -p dui-tests --bench request_path`. Needs PostgreSQL, like the tests. The server
//! time of each route is read from the server's own latency histogram (`/metrics`), so the HTTP
//! client's overhead is not counted in it.

use std::time::{Duration, Instant};

use dui_crypto::{BlindIndex, Column, Keyring, SecretKey};
use dui_domain::TenantId;
use dui_domain::people::Role;
use dui_testkit::TestApp;
use serde_json::json;
use uuid::Uuid;

const REQUESTS: usize = 400;

/// Mean seconds per request of `route` and `method`, from the server's histogram.
fn mean_server_time(metrics: &str, method: &str, route: &str) -> Duration {
    let find = |name: &str| -> f64 {
        let prefix =
            format!("dui_http_request_duration_seconds_{name}{{method=\"{method}\",route=\"{route}\",status=\"");
        metrics
            .lines()
            .filter(|line| {
                line.starts_with(&prefix) && (line.contains("status=\"200\"") || line.contains("status=\"201\""))
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    Duration::from_secs_f64(find("sum") / find("count").max(1.0))
}

/// Mean time of `work`, over many runs.
fn crypto_time(mut work: impl FnMut()) -> Duration {
    for _ in 0..1000 {
        work();
    }
    let runs = 20_000;
    let started = Instant::now();
    for _ in 0..runs {
        work();
    }
    started.elapsed() / runs
}

fn main() {
    // `cargo bench` passes filter arguments; this benchmark has a single fixed plan.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let app = TestApp::spawn().await;
        let tenant = app.tenant("Bench").await;
        let ehpad = tenant.establishments[0].id;
        let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
        let mut residents = Vec::new();
        for i in 0..REQUESTS {
            let body = json!({"establishment_id": ehpad, "identity": {"birth_name": format!("Nom{}", dui_testkit::letters(i)), "first_names": "Marie Louise",
                "sex": "female", "birth_date": "1936-04-02", "birth_place": "75056", "used_name": "Martin"}});
            let created = app.post("/api/v1/residents", &nurse.token, body).await;
            assert_eq!(created.status, 201, "{}", created.text);
            residents.push(created.json["id"].as_str().unwrap().to_owned());
        }
        for id in &residents {
            assert_eq!(app.get(&format!("/api/v1/residents/{id}"), &nurse.token).await.status, 200);
            let note = json!({"text": "Transmission ciblée — douleur : EVA 6 au lever, antalgique donné à 7h30, EVA 3 à 8h30. À surveiller au repas de midi, prévenir l'IDE si EVA > 4."});
            assert_eq!(app.post(&format!("/api/v1/residents/{id}/notes"), &nurse.token, note).await.status, 201);
        }
        for id in residents.iter().take(REQUESTS / 4) {
            assert_eq!(app.get(&format!("/api/v1/residents/{id}/notes"), &nurse.token).await.status, 200);
        }
        let metrics = app.request(reqwest::Method::GET, "/metrics", None, None).await.text;

        let keys = Keyring::new(
            TenantId::from_uuid(Uuid::now_v7()),
            1,
            vec![(1, SecretKey::generate().unwrap())],
            &SecretKey::generate().unwrap(),
            &SecretKey::generate().unwrap(),
        )
        .unwrap();
        let row = Uuid::now_v7();
        let (identity, ins, body) =
            (Column::new("residents", "identity"), Column::new("residents", "ins"), Column::new("notes", "body"));
        let identity_json = br#"{"birth_name":"Nom1","first_names":"Marie Louise","first_first_name":"Marie","used_name":"Martin","used_first_name":null,"sex":"female","birth_date":"1936-04-02","birth_place":"75056"}"#;
        let note_json = vec![b'n'; 190];
        let sealed_identity = keys.seal(identity, row, identity_json).unwrap();
        let sealed_note = keys.seal(body, row, &note_json).unwrap();
        let paths = [
            (
                "POST",
                "/api/v1/residents",
                "admit a resident: seal identity, two blind indexes",
                crypto_time(|| {
                    keys.seal(identity, row, identity_json).unwrap();
                    keys.blind_index(BlindIndex::new("birth_identity"), "NOM1|1936-04-02");
                    keys.blind_index(BlindIndex::new("birth_identity"), "NOM1|1936-04-02");
                }),
            ),
            (
                "GET",
                "/api/v1/residents/{resident_id}",
                "read a resident: open identity",
                crypto_time(|| {
                    keys.open(identity, row, &sealed_identity).unwrap();
                }),
            ),
            (
                "POST",
                "/api/v1/residents/{resident_id}/notes",
                "write a note: seal the text",
                crypto_time(|| {
                    keys.seal(body, row, &note_json).unwrap();
                }),
            ),
            (
                "GET",
                "/api/v1/residents/{resident_id}/notes",
                "read a resident's notes: open one note",
                crypto_time(|| {
                    keys.open(body, row, &sealed_note).unwrap();
                }),
            ),
        ];
        let _ = ins;
        println!("\n{:<45} {:>14} {:>14} {:>9}", "request path", "server time", "encryption", "share");
        for (method, route, label, crypto) in paths {
            let server = mean_server_time(&metrics, method, route);
            let share = crypto.as_secs_f64() / server.as_secs_f64() * 100.0;
            println!(
                "{label:<45} {:>11.1} µs {:>11.2} µs {share:>8.2}%",
                server.as_secs_f64() * 1e6,
                crypto.as_secs_f64() * 1e6
            );
        }
        let _ = app.stop().await;
    });
}
