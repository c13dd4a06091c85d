//! The principal cache: a user's status and memberships are read once and reused by the next
//! requests, and never outlive a change to them, wherever the change is made.

use std::time::Duration;

use dui_domain::people::Role;
use dui_testkit::{TestApp, TestTenant, TestUser};
use serde_json::json;

/// Runs statements as the owner inside `tenant`'s context.
async fn as_owner(app: &TestApp, tenant: &TestTenant, sql: &str) {
    let owner = app.db.connect(&app.db.owner_url).await;
    owner
        .batch_execute(&format!("BEGIN; SELECT set_config('app.tenant_id', '{}', true); {sql}; COMMIT;", tenant.id))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

/// Turns the change notices of memberships off (or on again), so that a test can tell the cache
/// at work from a fresh read.
async fn membership_notices(app: &TestApp, on: bool) {
    let owner = app.db.connect(&app.db.owner_url).await;
    let verb = if on { "ENABLE" } else { "DISABLE" };
    owner.batch_execute(&format!("ALTER TABLE memberships {verb} TRIGGER principals_changed")).await.unwrap();
}

/// A nurse of the tenant's EHPAD, and the EHPAD's path.
async fn nurse(app: &TestApp, tenant: &TestTenant) -> (TestUser, String) {
    let ehpad = tenant.establishments[0].id;
    let nurse = app.user(tenant, &[(Some(ehpad), Role::Nurse)]).await;
    (nurse, format!("/api/v1/establishments/{ehpad}"))
}

/// Polls `path` until it is refused; fails after `within`.
async fn refused_within(app: &TestApp, user: &TestUser, path: &str, within: Duration, what: &str) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let status = app.get(path, &user.token).await.status;
        if status == 404 {
            return;
        }
        assert_eq!(status, 200, "{what}: unexpected status");
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
    refused_within(&app, &nurse, &ehpad, Duration::from_secs(5), "after the notice").await;
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
    let changes = dui_domain::people::UserChanges {
        status: Some(dui_domain::people::UserStatus::Disabled),
        ..Default::default()
    };
    other.update_user(&scope, nurse.id, &changes).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let answer = app.get(&ehpad, &nurse.token).await;
        if answer.status == 401 || answer.status == 403 {
            break;
        }
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert!(tokio::time::Instant::now() < deadline, "a disabled user was still served");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
    refused_within(&app, &nurse, &ehpad, Duration::from_secs(5), "after the listener was cut").await;
}
