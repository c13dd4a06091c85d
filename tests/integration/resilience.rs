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
