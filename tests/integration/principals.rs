//! The principal cache: a user's status and memberships are read once and reused by the next
//! requests, and never outlive a change to them, wherever the change is made.

use std::str::FromStr;
use std::time::Duration;

use dui_domain::people::Role;
use dui_testkit::{TestApp, TestTenant, TestUser};
use serde_json::json;

use crate::encryption::as_owner;

/// Turns the change notices of memberships off (or on again), so that a test can tell the cache
/// at work from a fresh read.
async fn membership_notices(app: &TestApp, on: bool) {
    let owner = app.db.connect(&app.db.owner_url).await;
    let verb = if on { "ENABLE" } else { "DISABLE" };
    owner.batch_execute(&format!("ALTER TABLE memberships {verb} TRIGGER principals_changed")).await.unwrap();
}

/// A nurse of the tenant's EHPAD, and the EHPAD's path; the server's listener is in force.
async fn nurse(app: &TestApp, tenant: &TestTenant) -> (TestUser, String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !app.store.listening() {
        assert!(tokio::time::Instant::now() < deadline, "the server's listener did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ehpad = tenant.establishments[0].id;
    let nurse = app.user(tenant, &[(Some(ehpad), Role::Nurse)]).await;
    // Creating the nurse announced a change of the tenant's principals: let that notice arrive
    // (locally, within milliseconds), or it would drop what the test's first request caches.
    tokio::time::sleep(Duration::from_millis(300)).await;
    (nurse, format!("/api/v1/establishments/{ehpad}"))
}

/// Polls `path` until it is refused with one of `refusals`; fails after `within`.
async fn refused_within(app: &TestApp, user: &TestUser, path: &str, refusals: &[u16], within: Duration, what: &str) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let answer = app.get(path, &user.token).await;
        if refusals.contains(&answer.status) {
            return;
        }
        assert_eq!(answer.status, 200, "{what}: unexpected answer: {}", answer.text);
        assert!(tokio::time::Instant::now() < deadline, "{what}: still served after {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_principal_is_reused_until_a_change_to_it_is_announced() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (nurse, ehpad) = nurse(&app, &tenant).await;
    assert_eq!(app.get(&ehpad, &nurse.token).await.status, 200);

    // Changed with the notices off: the server keeps what it read, which shows it is cached.
    membership_notices(&app, false).await;
    as_owner(&app, &tenant, &format!("UPDATE memberships SET ended_at = now() WHERE user_id = '{}'", nurse.id)).await;
    for _ in 0..5 {
        assert_eq!(app.get(&ehpad, &nurse.token).await.status, 200, "served from the cache");
    }

    // Any change to the user's memberships, by any process, is announced and drops it at once
    // (far sooner than the cache's 30 s lifetime).
    membership_notices(&app, true).await;
    as_owner(&app, &tenant, &format!("UPDATE memberships SET role = role WHERE user_id = '{}'", nurse.id)).await;
    refused_within(&app, &nurse, &ehpad, &[404], Duration::from_secs(5), "after the notice").await;
}

#[tokio::test]
async fn a_user_disabled_by_another_server_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (nurse, ehpad) = nurse(&app, &tenant).await;
    assert_eq!(app.get(&ehpad, &nurse.token).await.status, 200);
    // Another server: its own pool and caches, the same database.
    let other = dui_storage::Db::new(&dui::server::db_config(&app.config).unwrap()).unwrap();
    let scope = dui_domain::scope::TenantScope::console(tenant.id);
    let other = dui_app::App::new(other, dui_app::AppConfig::default());
    let change =
        dui_app::people::ChangeUser { status: Some(dui_domain::people::UserStatus::Disabled), ..Default::default() };
    dui_app::people::update_user(&other, &scope, nurse.id, change).await.unwrap();
    refused_within(&app, &nurse, &ehpad, &[401, 403], Duration::from_secs(5), "a disabled user").await;
}

#[tokio::test]
async fn a_change_made_through_the_server_applies_to_its_next_request() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (nurse, ehpad) = nurse(&app, &tenant).await;
    assert_eq!(app.get(&ehpad, &nurse.token).await.status, 200);
    // Without the notice, only the server's own eviction can make the next request see it.
    membership_notices(&app, false).await;
    let memberships = app.get(&format!("/api/v1/users/{}/memberships", nurse.id), &tenant.admin.token).await;
    let id = memberships.json[0]["id"].as_str().unwrap().to_owned();
    let ended = app.post(&format!("/api/v1/memberships/{id}/end"), &tenant.admin.token, json!({})).await;
    assert_eq!(ended.status, 200, "{}", ended.text);
    app.get(&ehpad, &nurse.token).await.problem(404);
}

#[tokio::test]
async fn losing_the_listener_empties_and_bypasses_the_cache() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (nurse, ehpad) = nurse(&app, &tenant).await;
    assert_eq!(app.get(&ehpad, &nurse.token).await.status, 200);
    membership_notices(&app, false).await;
    as_owner(&app, &tenant, &format!("UPDATE memberships SET ended_at = now() WHERE user_id = '{}'", nurse.id)).await;
    assert_eq!(app.get(&ehpad, &nurse.token).await.status, 200, "served from the cache");

    // The listener's connection is cut: notices could be missed from now on, so what was
    // cached goes and principals are read again.
    let admin = app.db.connect(&app.db.admin_url).await;
    let cut = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND application_name LIKE '%-listener'",
            &[&app.db.name],
        )
        .await
        .unwrap();
    assert_eq!(cut.len(), 1, "the server has one listener connection");
    refused_within(&app, &nurse, &ehpad, &[404], Duration::from_secs(5), "after the listener was cut").await;
}

/// A TCP relay to PostgreSQL that can go silent: it stops relaying without closing anything,
/// as a network partition does.
struct SilentRelay {
    addr: std::net::SocketAddr,
    silent: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Copies `from` to `to` until either ends; once `silent`, swallows and holds the connection.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    silent: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = from.read(&mut buffer).await.unwrap_or(0);
        if read == 0 {
            return;
        }
        if silent.load(std::sync::atomic::Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

impl SilentRelay {
    async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let silent = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let relay_silent = silent.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else { continue };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, relay_silent.clone()));
                tokio::spawn(pump(server_read, client_write, relay_silent.clone()));
            }
        });
        Self { addr, silent }
    }
}

/// A listener whose connection goes silent (no error, no close: a partition) stops being
/// trusted within seconds, through its heartbeat, instead of the minutes TCP keepalives take:
/// the cache of principals is bypassed from then on.
#[tokio::test]
async fn a_listener_whose_connection_goes_silent_is_distrusted_within_seconds() {
    let db = dui_testkit::TestDb::new().await;
    let config = tokio_postgres::Config::from_str(&db.app_url).unwrap();
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
        other => panic!("a TCP test server, not {other:?}"),
    };
    let upstream = format!("{host}:{}", config.get_ports()[0]);
    let relay = SilentRelay::start(upstream).await;
    let through = db.app_url.replace(
        &format!("host={host} port={}", config.get_ports()[0]),
        &format!("host=127.0.0.1 port={}", relay.addr.port()),
    );
    assert_ne!(through, db.app_url, "the connection goes through the relay");
    let store = dui_storage::Db::new(&dui_storage::DbConfig::new(through, dui_testkit::keys::crypto_config())).unwrap();
    let listener = store.spawn_listener();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !store.listening() {
        assert!(tokio::time::Instant::now() < deadline, "the listener did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    relay.silent.store(true, std::sync::atomic::Ordering::SeqCst);
    let gone_silent = tokio::time::Instant::now();
    while store.listening() {
        assert!(gone_silent.elapsed() < Duration::from_secs(15), "still trusted after 15 s of silence");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone_silent.elapsed() >= Duration::from_secs(4), "not before a heartbeat went unanswered");
    listener.abort();
}
