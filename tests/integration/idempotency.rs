//! Creates with an Idempotency-Key happen once, however often and however concurrently they are
//! retried.

use dui_domain::people::Role;
use dui_testkit::{TestApp, TestResponse};
use serde_json::{Value, json};

async fn post_with_key(app: &TestApp, path: &str, token: &str, key: &str, body: &Value) -> TestResponse {
    let response = app
        .client
        .post(app.url(path))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    TestApp::read(response).await
}

#[tokio::test]
async fn a_retried_create_returns_the_first_result() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let token = &tenant.admin.token;
    let ehpad = tenant.establishments[0].id;
    let nurse = app.user(&tenant, &[]).await;

    // (path, body) of every idempotent create.
    let creates = [
        ("/api/v1/establishments".to_owned(), json!({"finess": "750000101", "name": "EHPAD X", "category": "ehpad"})),
        (format!("/api/v1/establishments/{ehpad}/units"), json!({"name": "Aile Z"})),
        ("/api/v1/users".to_owned(), json!({"family_name": "Durand", "given_name": "Léa"})),
        (format!("/api/v1/users/{}/memberships", nurse.id), json!({"establishment_id": ehpad, "role": "nurse"})),
    ];
    for (path, body) in &creates {
        let key = uuid::Uuid::new_v4().to_string();
        let first = post_with_key(&app, path, token, &key, body).await;
        assert_eq!(first.status, 201, "{path}: {}", first.text);
        assert_eq!(first.header("idempotent-replayed"), None);
        let retry = post_with_key(&app, path, token, &key, body).await;
        assert_eq!(retry.status, 201, "{path}: {}", retry.text);
        assert_eq!(retry.header("idempotent-replayed"), Some("true"));
        assert_eq!(retry.json["id"], first.json["id"], "{path}");

        // The same key for another request is refused, naming the header.
        let mut other = body.clone();
        let changed = if path.ends_with("memberships") {
            "role"
        } else if path.ends_with("users") {
            "family_name"
        } else {
            "name"
        };
        other[changed] = json!(if changed == "role" { "care_assistant" } else { "Autre" });
        let misuse = post_with_key(&app, path, token, &key, &other).await;
        assert_eq!(misuse.problem(422)["errors"][0]["field"], "Idempotency-Key", "{path}");
    }
    // Exactly one of each was created.
    let units = app.get(&format!("/api/v1/establishments/{ehpad}/units"), token).await;
    assert_eq!(units.json["items"].as_array().unwrap().iter().filter(|u| u["name"] == "Aile Z").count(), 1);
    let memberships = app.get(&format!("/api/v1/users/{}/memberships", nurse.id), token).await;
    assert_eq!(memberships.json.as_array().unwrap().len(), 1);

    // Without a key, a second identical create is a second create (or a conflict).
    let again = app.post("/api/v1/users", token, json!({"family_name": "Durand", "given_name": "Léa"})).await;
    assert_eq!(again.status, 201);

    // Keys are per user: another administrator's identical key is independent.
    let other_admin = app.user(&tenant, &[(None, Role::TenantAdmin)]).await;
    let key = "shared-key";
    let a = post_with_key(&app, "/api/v1/users", token, key, &json!({"family_name": "A", "given_name": "A"})).await;
    let b =
        post_with_key(&app, "/api/v1/users", &other_admin.token, key, &json!({"family_name": "B", "given_name": "B"}))
            .await;
    assert_eq!((a.status, b.status), (201, 201));
    assert_ne!(a.json["id"], b.json["id"]);
}

#[tokio::test]
async fn concurrent_retries_create_once() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let body = json!({"finess": "750000202", "name": "EHPAD Concurrent", "category": "ehpad"});
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let request = app
            .client
            .post(app.url("/api/v1/establishments"))
            .bearer_auth(&tenant.admin.token)
            .header("idempotency-key", "burst-1")
            .json(&body);
        requests.spawn(async move { TestApp::read(request.send().await.unwrap()).await });
    }
    let mut ids = Vec::new();
    while let Some(response) = requests.join_next().await {
        let response = response.unwrap();
        assert_eq!(response.status, 201, "{}", response.text);
        ids.push(response.json["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every attempt got the same establishment");
    let list = app.get("/api/v1/establishments", &tenant.admin.token).await;
    let created = list.json["items"].as_array().unwrap().iter().filter(|e| e["finess"] == "750000202").count();
    assert_eq!(created, 1);
}

#[tokio::test]
async fn a_failed_create_does_not_use_up_its_key() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let token = &tenant.admin.token;
    let taken = tenant.establishments[0].finess.as_str().to_owned();
    let body = json!({"finess": taken, "name": "Doublon", "category": "ehpad"});
    post_with_key(&app, "/api/v1/establishments", token, "k-1", &body).await.problem(409);
    // The retry meets the same conflict rather than a replay of nothing.
    post_with_key(&app, "/api/v1/establishments", token, "k-1", &body).await.problem(409);
    // Invalid keys are refused before anything happens.
    let long = "k".repeat(201);
    let refused = post_with_key(&app, "/api/v1/establishments", token, &long, &body).await;
    assert_eq!(refused.problem(422)["errors"][0]["field"], "Idempotency-Key");
}

#[tokio::test]
async fn keys_expire_after_a_day_and_are_purged() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let token = &tenant.admin.token;
    let body = json!({"family_name": "Martin", "given_name": "Paul"});
    let first = post_with_key(&app, "/api/v1/users", token, "old-key", &body).await;
    assert_eq!(first.status, 201);

    // Age the key by 25 hours (as the owner, inside the tenant's context: the policies bind it too).
    let owner = app.db.connect(&app.db.owner_url).await;
    owner
        .batch_execute(&format!(
            "BEGIN; SELECT set_config('app.tenant_id', '{}', true); \
             UPDATE idempotency_keys SET created_at = now() - interval '25 hours'; COMMIT;",
            tenant.id
        ))
        .await
        .unwrap();
    let later = post_with_key(&app, "/api/v1/users", token, "old-key", &body).await;
    assert_eq!(later.status, 201);
    assert_eq!(later.header("idempotent-replayed"), None, "an expired key is a new request");
    assert_ne!(later.json["id"], first.json["id"]);

    owner
        .batch_execute(&format!(
            "BEGIN; SELECT set_config('app.tenant_id', '{}', true); \
             UPDATE idempotency_keys SET created_at = now() - interval '25 hours'; COMMIT;",
            tenant.id
        ))
        .await
        .unwrap();
    assert_eq!(app.store.purge_expired_idempotency_keys().await.unwrap(), 1);
    assert_eq!(app.store.purge_expired_idempotency_keys().await.unwrap(), 0);
}

#[tokio::test]
async fn every_create_on_a_record_happens_once() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let token = &tenant.admin.token;
    let (ehpad, saad) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let admitted = crate::residents::admit(
        &app,
        &tenant,
        json!({"identity": crate::residents::identity("Reprise", "Anne", "1941-02-03")}),
    )
    .await;
    assert_eq!(admitted.status, 201, "{}", admitted.text);
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let helper = app.user(&tenant, &[(Some(saad), Role::HomeHelper)]).await;
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let night_nurse = app.user(&tenant, &[(Some(saad), Role::Nurse)]).await;
    let today = chrono::Utc::now().date_naive().to_string();

    // (path, caller, body, a field to change for a misuse of the key) of every create on a record.
    let creates = [
        // First, while the record is outside the night nurse's reach.
        (format!("{record}/emergency-access"), &night_nurse.token, json!({"reason": "Appel de nuit, chute"}), "reason"),
        (
            format!("{record}/stays"),
            token,
            json!({"establishment_id": saad, "mode": "at_home", "admitted_on": today}),
            "mode",
        ),
        (format!("{record}/contacts"), token, json!({"kind": "relative", "details": {"family_name": "Fille"}}), "kind"),
        (
            format!("{record}/consents"),
            token,
            json!({"kind": "image_rights", "decision": "granted", "expressed_by": "person"}),
            "decision",
        ),
        (format!("{record}/notes"), &nurse.token, json!({"text": "Une seule fois"}), "text"),
        (format!("{record}/assignments"), token, json!({"user_id": helper.id}), "starts_on"),
    ];
    for (path, caller, body, changed) in &creates {
        let key = uuid::Uuid::new_v4().to_string();
        let first = post_with_key(&app, path, caller, &key, body).await;
        assert_eq!(first.status, 201, "{path}: {}", first.text);
        let retry = post_with_key(&app, path, caller, &key, body).await;
        assert_eq!(retry.status, 201, "{path}: {}", retry.text);
        assert_eq!(retry.header("idempotent-replayed"), Some("true"), "{path}");
        assert_eq!(retry.json["id"], first.json["id"], "{path}");
        assert_eq!(retry.json, first.json, "{path}: a replay answers what the first attempt did");

        let mut other = body.clone();
        other[*changed] = match *changed {
            "mode" => json!("day_care"),
            "kind" => json!("carer"),
            "decision" => json!("refused"),
            "starts_on" => json!(today),
            _ => json!("Un autre texte, assez long"),
        };
        let misuse = post_with_key(&app, path, caller, &key, &other).await;
        assert_eq!(misuse.problem(422)["errors"][0]["field"], "Idempotency-Key", "{path}");
    }

    // Exactly one of each: the trail shows one creation per create, however many attempts.
    let trail = app.get(&format!("{record}/access-report"), token).await;
    assert_eq!(trail.status, 200, "{}", trail.text);
    for action in
        ["stay.create", "contact.create", "consent.create", "note.create", "assignment.create", "emergency_access.open"]
    {
        let count = trail.json.as_array().unwrap().iter().filter(|e| e["action"] == action).count();
        assert_eq!(count, 1, "{action}: {}", trail.text);
    }

    // An opening refused (no such record) does not use up its key, and is a plain 404.
    let missing = format!("/api/v1/residents/{}/emergency-access", uuid::Uuid::now_v7());
    let body = json!({"reason": "Appel de nuit, chute"});
    post_with_key(&app, &missing, &night_nurse.token, "k-missing", &body).await.problem(404);
    let retried =
        post_with_key(&app, &format!("{record}/emergency-access"), &night_nurse.token, "k-missing", &body).await;
    assert_eq!(retried.status, 201, "{}", retried.text);
}
