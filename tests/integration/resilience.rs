//! The server survives PostgreSQL going away and coming back, without a restart of its own.

use std::time::Duration;

use dui_storage::cluster::{self, PrivateCluster};
use dui_testkit::{TestApp, TestDb};
use reqwest::Method;

async fn wait_for_status(app: &TestApp, path: &str, status: u16, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if app.request(Method::GET, path, None, None).await.status == status {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

/// A PostgreSQL cluster of the test's own in `dir` (with `settings`), a migrated database
/// `name` in it, and the server on that database.
async fn on_private_cluster(dir: &std::path::Path, settings: &[&str], name: &str) -> (PrivateCluster, TestApp) {
    let pg = PrivateCluster::create_with(dir, settings).expect("a private PostgreSQL cluster");
    let provisioned = cluster::provision(&pg.admin_url(), name).await.unwrap();
    dui_storage::migrate::run(&provisioned.owner_url).await.unwrap();
    let db = TestDb {
        name: provisioned.database.clone(),
        admin_url: pg.admin_url(),
        owner_url: provisioned.owner_url.clone(),
        app_url: provisioned.app_url.clone(),
    };
    (pg, TestApp::spawn_on(db, |_| {}).await)
}

#[tokio::test]
async fn recovers_by_itself_when_postgresql_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (pg, app) = on_private_cluster(dir.path(), &[], "dui_restart").await;
    let tenant = app.tenant("Alpha").await;
    assert_eq!(app.request(Method::GET, "/readyz", None, None).await.status, 200);
    assert_eq!(app.get("/api/v1/me", &tenant.admin.token).await.status, 200);

    pg.stop().unwrap();
    // Not ready while the database is down; requests get a 503 problem, and liveness holds.
    let not_ready = app.request(Method::GET, "/readyz", None, None).await;
    not_ready.problem(503);
    assert!(not_ready.header("retry-after").is_some());
    app.get("/api/v1/me", &tenant.admin.token).await.problem(503);
    assert_eq!(app.request(Method::GET, "/livez", None, None).await.status, 200);

    pg.start().unwrap();
    assert!(wait_for_status(&app, "/readyz", 200, Duration::from_secs(30)).await, "ready again");
    // Every pooled connection died with the old server; none of that reaches the user.
    for _ in 0..10 {
        let me = app.get("/api/v1/me", &tenant.admin.token).await;
        assert_eq!(me.status, 200, "{}", me.text);
    }
    let _ = app.stop().await;
    pg.stop().unwrap();
}

#[tokio::test]
async fn a_private_cluster_is_made_when_no_server_is_usable() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: the fallback creates, starts and returns a cluster of its own.
    let url = cluster::ensure_server("postgres://postgres@127.0.0.1:1/postgres", dir.path()).await.unwrap();
    assert!(cluster::reachable(&url).await);
    // Opening it again reuses it.
    let again = cluster::ensure_server("postgres://postgres@127.0.0.1:1/postgres", dir.path()).await.unwrap();
    assert_eq!(url, again);
    PrivateCluster::open(dir.path()).unwrap().stop().unwrap();
}

#[tokio::test]
async fn shutdown_fails_readiness_first_then_drains_in_flight_requests() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    assert_eq!(app.request(Method::GET, "/readyz", None, None).await.status, 200);

    // A request held up by a lock is in flight when the shutdown starts.
    let owner = app.db.connect(&app.db.owner_url).await;
    let lock = tokio::spawn(async move {
        owner
            .batch_execute("BEGIN; LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1.5); COMMIT;")
            .await
            .unwrap();
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let in_flight = tokio::spawn(app.client.get(app.url("/api/v1/me")).bearer_auth(&tenant.admin.token).send());
    tokio::time::sleep(Duration::from_millis(200)).await;

    app.begin_shutdown();
    app.request(Method::GET, "/readyz", None, None).await.problem(503);
    assert_eq!(app.request(Method::GET, "/livez", None, None).await.status, 200);

    let db = app.stop().await;
    let response = in_flight.await.unwrap().expect("the in-flight request was answered");
    assert_eq!(response.status(), 200, "drained, not cut");
    lock.await.unwrap();

    // The database is intact and another server takes over.
    let app = TestApp::spawn_on(db, |_| {}).await;
    assert_eq!(app.get("/api/v1/me", &tenant.admin.token).await.status, 200);
}

/// The pool gives out the connection given back last: at ordinary load a few backends serve
/// every request with their caches and plans warm, instead of each request going to the
/// backend idle the longest (which costs PostgreSQL a quarter more CPU per read, and makes
/// every backend replan after each invalidation).
#[tokio::test]
async fn the_pool_reuses_the_connection_given_back_last() {
    let db = TestDb::new().await;
    let store =
        dui_storage::Db::new(&dui_storage::DbConfig::new(db.app_url.clone(), dui_testkit::keys::crypto_config()))
            .unwrap();
    // Three checkouts at once: the pool now holds three connections.
    let (a, b, c) = tokio::join!(store.backend_pid(), store.backend_pid(), store.backend_pid());
    let opened = std::collections::BTreeSet::from([a.unwrap(), b.unwrap(), c.unwrap()]);
    assert_eq!(opened.len(), 3, "three connections were open at once");
    // One after the other, the same one serves.
    let mut served = std::collections::BTreeSet::new();
    for _ in 0..6 {
        served.insert(store.backend_pid().await.unwrap());
    }
    assert_eq!(served.len(), 1, "sequential checkouts went to {served:?}");
}

/// A read is answered only once its audit event is durable. The server's log writer is made to
/// wait ten seconds between passes, so that a commit nobody flushed would stay in shared memory;
/// then PostgreSQL is killed right after the last answer, as a crash would. Every answered read
/// is in the trail after recovery. (A round of the shared flush that did not really flush lost
/// 12 of 200 here.)
#[tokio::test]
async fn a_crash_loses_no_audit_event_of_an_answered_read() {
    let dir = tempfile::tempdir().unwrap();
    let (pg, app) = on_private_cluster(dir.path(), &["wal_writer_delay=10000ms"], "dui_crash").await;
    let tenant = app.tenant("Alpha").await;
    let created = app
        .post(
            "/api/v1/residents",
            &tenant.admin.token,
            serde_json::json!({"establishment_id": tenant.establishments[0].id, "unit_id": tenant.units[0].id,
                               "confirm_homonym": true,
                               "identity": {"birth_name": "DURAND", "first_names": "Paul", "sex": "male",
                                            "birth_date": "1940-05-06", "birth_place": "75056"}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let resident = created.json["id"].as_str().unwrap().to_owned();

    // Eight clients reading at once, so that rounds cover several reads.
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut readers = Vec::new();
    for _ in 0..8 {
        let (client, url, token) =
            (reqwest::Client::new(), app.url(&format!("/api/v1/residents/{resident}")), tenant.admin.token.clone());
        let answered = answered.clone();
        readers.push(tokio::spawn(async move {
            for _ in 0..25 {
                let read = client.get(&url).bearer_auth(&token).send().await.unwrap();
                assert_eq!(read.status(), 200);
                answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }));
    }
    for reader in readers {
        reader.await.unwrap();
    }
    pg.crash().unwrap();
    let answered = answered.load(std::sync::atomic::Ordering::SeqCst);
    pg.start().unwrap();

    let owner = app.db.connect(&app.db.owner_url).await;
    owner.query("SELECT set_config('app.tenant_id', $1, false)", &[&tenant.id.to_string()]).await.unwrap();
    let recorded: i64 = owner
        .query_one(
            "SELECT count(*) FROM audit_events WHERE action = 'resident.read' AND resident_id = $1::text::uuid",
            &[&resident],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(answered, 200);
    assert_eq!(recorded, answered as i64, "every answered read is in the trail after the crash");
    let _ = app.stop().await;
    pg.stop().unwrap();
}

/// A statement that runs past the statement timeout (here: a note written while the notes table
/// is locked) is answered 503 with `Retry-After`, as when the database is away — not 500 — and
/// the same request sent again once the lock is gone is recorded once.
#[tokio::test]
async fn a_statement_past_its_timeout_is_answered_503_and_its_retry_is_recorded() {
    use dui_domain::people::Role;
    use serde_json::json;
    let app = TestApp::spawn_with(|config| config.database.statement_timeout_secs = 1).await;
    let tenant = app.tenant("Lente").await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let admitted = crate::residents::admit(
        &app,
        &tenant,
        json!({"identity": crate::residents::identity("Lent", "Anne", "1940-01-01")}),
    )
    .await;
    assert_eq!(admitted.status, 201, "{}", admitted.text);
    let notes = format!("/api/v1/residents/{}/notes", admitted.json["id"].as_str().unwrap());
    let note = json!({"text": "Nuit calme.", "scope": "whole_team"});
    let key = [("Idempotency-Key", "note-under-lock")];

    let owner = app.db.connect(&app.db.owner_url).await;
    owner.batch_execute("BEGIN; LOCK TABLE notes IN ACCESS EXCLUSIVE MODE").await.unwrap();
    let started = std::time::Instant::now();
    let slow = app.request_with(Method::POST, &notes, Some(&nurse.token), Some(note.clone()), &key).await;
    assert!(started.elapsed() >= Duration::from_secs(1), "it waited for its statement timeout");
    slow.problem(503);
    assert!(slow.header("retry-after").is_some(), "{:?}", slow.headers);
    owner.batch_execute("COMMIT").await.unwrap();

    let written = app.request_with(Method::POST, &notes, Some(&nurse.token), Some(note.clone()), &key).await;
    assert_eq!(written.status, 201, "{}", written.text);
    let again = app.request_with(Method::POST, &notes, Some(&nurse.token), Some(note), &key).await;
    assert_eq!(again.json["id"], written.json["id"], "the retry is the same note");
    let listed = app.get(&notes, &nurse.token).await;
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 1, "{}", listed.text);
}

/// A request dropped at its timeout while its transaction's first statement waits (here on a
/// lock) rolls its transaction back before the connection goes back to the pool. Otherwise,
/// once the statement goes through, the connection stays inside the abandoned transaction, and
/// the next request the pool gives it to runs in it: committing the abandoned work with its
/// own, or failing on its aborted state (what a statement timeout leaves).
#[tokio::test]
async fn a_write_dropped_at_its_timeout_leaves_nothing_open_and_its_retry_is_recorded() {
    use dui_domain::people::Role;
    use serde_json::json;
    let app = TestApp::spawn_with(|config| config.http.request_timeout_secs = 1).await;
    let tenant = app.tenant("Abandon").await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let admitted = crate::residents::admit(
        &app,
        &tenant,
        json!({"identity": crate::residents::identity("Abandon", "Anne", "1940-01-01")}),
    )
    .await;
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    // A first measurement: the nurse's memberships are read once (and kept), and its statements
    // are prepared on the connection, so that the lock below holds the next one in its
    // transaction's first statement (not in authentication, not in preparing).
    let first = json!({"kind": "weight", "value": 61.0});
    let warm = [("Idempotency-Key", "pesee-de-la-veille")];
    let measurements = format!("{record}/measurements");
    let warmed = app.request_with(Method::POST, &measurements, Some(&nurse.token), Some(first), &warm).await;
    assert_eq!(warmed.status, 201, "{}", warmed.text);

    let owner = app.db.connect(&app.db.owner_url).await;
    owner.batch_execute("BEGIN; LOCK TABLE idempotency_keys IN ACCESS EXCLUSIVE MODE").await.unwrap();
    // A measurement sent with a key: its transaction's first statement claims the key, and
    // waits past the request's timeout.
    let weight = json!({"kind": "weight", "value": 61.5});
    let key = [("Idempotency-Key", "pesee-du-matin")];
    let send = || app.request_with(Method::POST, &measurements, Some(&nurse.token), Some(weight.clone()), &key);
    let timed_out = send().await;
    timed_out.problem(503);
    assert_eq!(timed_out.header("retry-after"), Some("1"));
    // Counted under its route, though it was cancelled before any response was made.
    let metrics = app.request(Method::GET, "/metrics", None, None).await.text;
    let series =
        r#"dui_http_requests_total{method="POST",route="/api/v1/residents/{resident_id}/measurements",status="503"} 1"#;
    assert!(metrics.contains(series), "{metrics}");
    let admin = app.db.connect(&app.db.admin_url).await;
    let released: chrono::DateTime<chrono::Utc> =
        admin.query_one("SELECT clock_timestamp()", &[]).await.unwrap().get(0);
    owner.batch_execute("COMMIT").await.unwrap();

    // The claim goes through now; its transaction must end with it, not stay open for the next
    // request given the connection (which would commit the claim, and the key would be held
    // for good by a request that is gone).
    let mut abandoned = 0;
    let watching = std::time::Instant::now();
    while watching.elapsed() < Duration::from_millis(1000) {
        let seen: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND usename = $2 \
                 AND state LIKE 'idle in transaction%' AND xact_start < $3",
                &[&app.db.name, &cluster::APP_ROLE, &released],
            )
            .await
            .unwrap()
            .get(0);
        abandoned = abandoned.max(seen);
        for row in admin.query("SELECT pid, state, left(query, 40), xact_start::text FROM pg_stat_activity WHERE usename = $1 AND datname = $2", &[&cluster::APP_ROLE, &app.db.name]).await.unwrap() {
            eprintln!("DBG {:?} {:?} {:?} {:?}", row.get::<_, i32>(0), row.get::<_, Option<String>>(1), row.get::<_, Option<String>>(2), row.get::<_, Option<String>>(3));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Other work of the server on the pool meanwhile (the trail's chainer runs every 2 s).
    for _ in 0..5 {
        assert_eq!(app.get(&record, &nurse.token).await.status, 200);
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(abandoned, 0, "a pooled connection was left inside the abandoned transaction");
    let retried = send().await;
    assert_eq!(retried.status, 201, "the retry is recorded: {}", retried.text);
    assert_eq!(app.get(&measurements, &nurse.token).await.json.as_array().unwrap().len(), 2);
}
