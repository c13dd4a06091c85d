//! Per-tenant request limits: a tenant over its rate is answered 429 with Retry-After, before
//! any database work; other tenants are not affected.

use std::time::Duration;

use dui_testkit::TestApp;
use serde_json::json;

#[tokio::test]
async fn a_tenant_over_its_rate_is_told_when_to_retry_and_others_are_served() {
    let app = TestApp::spawn_with(|config| {
        config.limits.tenant_requests_per_second = 0.5;
        config.limits.tenant_burst = 3.0;
    })
    .await;
    let noisy = app.tenant("Bruyant").await;
    let quiet = app.tenant("Calme").await;
    // Setting the tenants up used part of their buckets: wait for them to refill.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;

    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(app.get("/api/v1/me", &noisy.admin.token).await);
    }
    let codes: Vec<u16> = statuses.iter().map(|r| r.status).collect();
    assert_eq!(&codes[..3], [200, 200, 200], "the burst is served: {codes:?}");
    let refused = &statuses[3];
    let problem = refused.problem(429);
    assert_eq!(problem["title"], "Too many requests");
    let retry: u64 = refused.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((1..=2).contains(&retry), "a token comes back every 2 s: {retry}");
    assert!(codes[3..].iter().all(|c| *c == 429), "{codes:?}");

    // Another tenant is served meanwhile; an invalid token is still 401, not 429.
    assert_eq!(app.get("/api/v1/me", &quiet.admin.token).await.status, 200);
    app.get("/api/v1/me", "not-a-token").await.problem(401);

    // A forged token naming the quiet tenant takes nothing from its bucket (refused, 401); while
    // the noisy tenant's bucket is empty, even a forged token naming it is refused early (429).
    let forged = |token: &str| {
        let mut forged = token.to_owned();
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        forged
    };
    for _ in 0..5 {
        app.get("/api/v1/me", &forged(&quiet.admin.token)).await.problem(401);
    }
    assert_eq!(app.get("/api/v1/me", &quiet.admin.token).await.status, 200, "the quiet tenant's bucket is intact");
    app.get("/api/v1/me", &forged(&noisy.admin.token)).await.problem(429);

    // After the advertised delay, the noisy tenant is served again.
    tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
    assert_eq!(app.get("/api/v1/me", &noisy.admin.token).await.status, 200);
}

/// A tenant's requests over its cap on requests in progress wait for their turn; another
/// tenant's are answered meanwhile. A row lock held by the test keeps one request in progress.
#[tokio::test]
async fn a_tenant_over_its_cap_waits_for_its_turn_and_others_are_served() {
    let app = TestApp::spawn_with(|config| {
        config.limits.tenant_concurrency = Some(1);
        config.limits.queue_timeout_ms = 30_000;
    })
    .await;
    let busy = app.tenant("Occupé").await;
    let other = app.tenant("Libre").await;
    let colleague = app.user(&busy, &[]).await;

    let owner = app.db.connect(&app.db.owner_url).await;
    owner.batch_execute("BEGIN").await.unwrap();
    owner.execute("SELECT set_config('app.tenant_id', $1, true)", &[&busy.id.to_string()]).await.unwrap();
    let locked =
        owner.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&colleague.id.as_uuid()]).await.unwrap();
    assert_eq!(locked, 1);

    // The busy tenant's only place is taken by a change stuck on the locked row...
    let path = format!("/api/v1/users/{}", colleague.id);
    let stuck = tokio::spawn({
        let (url, token) = (app.url(&path), busy.admin.token.clone());
        let client = app.client.clone();
        async move { client.patch(url).bearer_auth(token).json(&json!({"given_name": "Camille"})).send().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ...so its next request waits, while the other tenant is answered.
    let waiting = tokio::spawn({
        let (url, token) = (app.url("/api/v1/me"), busy.admin.token.clone());
        let client = app.client.clone();
        async move { client.get(url).bearer_auth(token).send().await }
    });
    assert_eq!(app.get("/api/v1/me", &other.admin.token).await.status, 200, "another tenant is served");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!stuck.is_finished(), "the change waits for the row: {:?}", stuck.await);
    assert!(!waiting.is_finished(), "the busy tenant's next request waits for its turn");

    // Once the change goes through, the waiting request is answered.
    owner.batch_execute("COMMIT").await.unwrap();
    assert_eq!(stuck.await.unwrap().unwrap().status(), 200);
    assert_eq!(waiting.await.unwrap().unwrap().status(), 200);
}

/// A request waits for its turn no longer than the queue timeout: past it, it is answered 503
/// `busy` with `Retry-After`, so that an overload sheds load instead of piling up requests
/// until they time out. Another tenant is served meanwhile, and the tenant itself once its
/// place is free.
#[tokio::test]
async fn a_request_that_waited_its_queue_timeout_is_shed_with_503_and_retry_after() {
    let app = TestApp::spawn_with(|config| {
        config.limits.tenant_concurrency = Some(1);
        config.limits.tenant_concurrency_alone = Some(1);
        config.limits.queue_timeout_ms = 300;
    })
    .await;
    let busy = app.tenant("Saturé").await;
    let other = app.tenant("Disponible").await;
    let colleague = app.user(&busy, &[]).await;

    let owner = app.db.connect(&app.db.owner_url).await;
    owner.batch_execute("BEGIN").await.unwrap();
    owner.execute("SELECT set_config('app.tenant_id', $1, true)", &[&busy.id.to_string()]).await.unwrap();
    owner.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &[&colleague.id.as_uuid()]).await.unwrap();
    let stuck = tokio::spawn({
        let (url, token) = (app.url(&format!("/api/v1/users/{}", colleague.id)), busy.admin.token.clone());
        let client = app.client.clone();
        async move { client.patch(url).bearer_auth(token).json(&json!({"given_name": "Camille"})).send().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = std::time::Instant::now();
    let shed = app.get("/api/v1/me", &busy.admin.token).await;
    assert!(started.elapsed() >= Duration::from_millis(300), "it waited its turn first");
    let problem = shed.problem(503);
    assert_eq!(problem["type"], "urn:dui:problem:busy");
    assert!(problem["detail"].as_str().unwrap().contains("300 ms"), "{problem}");
    assert_eq!(shed.header("retry-after"), Some("1"));
    assert_eq!(app.get("/api/v1/me", &other.admin.token).await.status, 200, "another tenant is served");
    assert!(!stuck.is_finished(), "the change still waits for the row");

    owner.batch_execute("COMMIT").await.unwrap();
    assert_eq!(stuck.await.unwrap().unwrap().status(), 200);
    assert_eq!(app.get("/api/v1/me", &busy.admin.token).await.status, 200, "served again once its place is free");
}

/// A request whose commit is waiting (for the disk, usually) gives its place to its tenant's
/// next request: a stalling flush must not make a tenant queue behind its own commits. A
/// deferred trigger, run at commit time, holds one note's commit on an advisory lock the test
/// keeps; with a cap of one, the tenant's next read is still answered.
#[tokio::test]
async fn a_request_waiting_for_its_commit_does_not_hold_its_tenants_place() {
    let app = TestApp::spawn_with(|config| config.limits.tenant_concurrency = Some(1)).await;
    let tenant = app.tenant("Engorgé").await;
    let mut ids = Vec::new();
    for name in ["Attente", "Suivante"] {
        let admitted = crate::residents::admit(
            &app,
            &tenant,
            json!({"identity": crate::residents::identity(name, "Lucie", "1940-02-03")}),
        )
        .await;
        assert_eq!(admitted.status, 201, "{}", admitted.text);
        ids.push(admitted.json["id"].as_str().unwrap().to_owned());
    }
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), dui_domain::people::Role::Nurse)]).await;
    let owner = app.db.connect(&app.db.owner_url).await;
    owner
        .batch_execute(&format!(
            "CREATE FUNCTION hold_commit() RETURNS trigger LANGUAGE plpgsql AS \
               $$ BEGIN PERFORM pg_advisory_xact_lock(4242); RETURN NULL; END $$; \
             CREATE CONSTRAINT TRIGGER hold_commit AFTER INSERT ON audit_events \
               DEFERRABLE INITIALLY DEFERRED FOR EACH ROW \
               WHEN (NEW.resident_id = '{}' AND NEW.action = 'note.create') EXECUTE FUNCTION hold_commit()",
            ids[0]
        ))
        .await
        .unwrap();
    owner.execute("SELECT pg_advisory_lock(4242)", &[]).await.unwrap();

    // The note's statement answers; its commit waits on the lock.
    let held = tokio::spawn({
        let (url, token) = (app.url(&format!("/api/v1/residents/{}/notes", ids[0])), nurse.token.clone());
        let client = app.client.clone();
        async move { client.post(url).bearer_auth(token).json(&json!({"text": "Nuit calme."})).send().await }
    });
    let admin = app.db.connect(&app.db.admin_url).await;
    let waiting_commit = "SELECT count(*) FROM pg_stat_activity \
                          WHERE datname = $1 AND wait_event = 'advisory' AND query = 'COMMIT'";
    let mut waited = 0;
    while admin.query_one(waiting_commit, &[&app.db.name]).await.unwrap().get::<_, i64>(0) == 0 {
        assert!(waited < 200, "the note's commit never reached the lock");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }

    // The tenant's only place is free meanwhile: its next read is answered.
    let next = tokio::time::timeout(
        Duration::from_secs(10),
        app.get(&format!("/api/v1/residents/{}", ids[1]), &tenant.admin.token),
    )
    .await
    .expect("the next read waited for the note's commit");
    assert_eq!(next.status, 200, "{}", next.text);
    assert!(!held.is_finished(), "the note is acknowledged only once its commit is done");

    owner.execute("SELECT pg_advisory_unlock(4242)", &[]).await.unwrap();
    let first = held.await.unwrap().unwrap();
    assert_eq!(first.status(), 201);
    owner.batch_execute("BEGIN").await.unwrap();
    owner.execute("SELECT set_config('app.tenant_id', $1, true)", &[&tenant.id.to_string()]).await.unwrap();
    let recorded: i64 = owner
        .query_one(
            "SELECT count(*) FROM audit_events WHERE resident_id = $1::text::uuid AND action = 'note.create'",
            &[&ids[0]],
        )
        .await
        .unwrap()
        .get(0);
    owner.batch_execute("COMMIT").await.unwrap();
    assert_eq!(recorded, 1, "the note whose commit waited is on record");
}

/// A request never holds one connection while it waits for another: when the tenant's keys
/// expire from the cache, the writes in progress read them again through the connection they
/// hold. With each write taking a second connection for that, a pool as small as the requests
/// in progress ran dry and every write waited out its acquire timeout (503).
#[tokio::test]
async fn writes_reload_the_keys_without_a_second_connection() {
    let app = TestApp::spawn_with(|config| {
        config.database.pool_size = 4;
        config.database.acquire_timeout_ms = 3000;
        config.crypto.key_cache_ttl_secs = 1;
        config.limits.tenant_concurrency = Some(4);
        config.limits.tenant_concurrency_alone = Some(4);
    })
    .await;
    let tenant = app.tenant("Étroit").await;
    let admitted = crate::residents::admit(
        &app,
        &tenant,
        json!({"identity": crate::residents::identity("Clef", "Lucie", "1940-02-03")}),
    )
    .await;
    assert_eq!(admitted.status, 201, "{}", admitted.text);
    let id = admitted.json["id"].as_str().unwrap().to_owned();
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), dui_domain::people::Role::Nurse)]).await;
    for round in 0..3 {
        // The keys are stale for every write of the round.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let writes = (0..4).map(|n| {
            let (url, token) = (app.url(&format!("/api/v1/residents/{id}/notes")), nurse.token.clone());
            let client = app.client.clone();
            tokio::spawn(async move {
                let text = format!("Transmission {round}-{n}");
                client.post(url).bearer_auth(token).json(&json!({ "text": text })).send().await.unwrap().status()
            })
        });
        let writes: Vec<_> = writes.collect();
        for write in writes {
            assert_eq!(write.await.unwrap(), 201, "round {round}");
        }
    }
}
