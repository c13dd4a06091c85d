//! The platform API.

use dui_testkit::TestApp;
use serde_json::json;

#[tokio::test]
async fn operators_onboard_a_tenant_end_to_end() {
    let app = TestApp::spawn().await;
    let (_, operator) = app.operator().await;

    let created = app
        .post("/platform/v1/tenants", &operator, json!({"name": "ADMR du Cantal", "finess_juridique": "150000016"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let tenant = created.json["id"].as_str().unwrap().to_owned();
    assert_eq!(created.json["status"], "active");
    app.post("/platform/v1/tenants", &operator, json!({"name": "Doublon", "finess_juridique": "150000016"}))
        .await
        .problem(409);
    let invalid = app.post("/platform/v1/tenants", &operator, json!({"name": "", "finess_juridique": "ABC"})).await;
    assert_eq!(invalid.problem(422)["errors"].as_array().unwrap().len(), 2);

    let admin = app
        .post(
            &format!("/platform/v1/tenants/{tenant}/admins"),
            &operator,
            json!({"family_name": "Roux", "given_name": "Anne", "email": "a.roux@admr15.fr"}),
        )
        .await;
    assert_eq!(admin.status, 201, "{}", admin.text);
    assert_eq!(admin.json["membership"]["role"], "tenant_admin");
    assert!(admin.json["membership"]["establishment_id"].is_null());

    // The new administrator takes over: creates an establishment.
    let token = app.token(dui_auth::own::Subject::TenantUser {
        tenant: tenant.parse().unwrap(),
        user: admin.json["user"]["id"].as_str().unwrap().parse().unwrap(),
    });
    let establishment = app
        .post(
            "/api/v1/establishments",
            &token,
            json!({"finess": "150000024", "name": "SAAD Aurillac", "category": "saad"}),
        )
        .await;
    assert_eq!(establishment.status, 201, "{}", establishment.text);

    let fetched = app.get(&format!("/platform/v1/tenants/{tenant}"), &operator).await;
    assert_eq!(fetched.json["name"], "ADMR du Cantal");
    app.get(&format!("/platform/v1/tenants/{}", uuid::Uuid::now_v7()), &operator).await.problem(404);
    app.post(
        &format!("/platform/v1/tenants/{}/admins", uuid::Uuid::now_v7()),
        &operator,
        json!({"family_name": "X", "given_name": "Y"}),
    )
    .await
    .problem(404);
}

#[tokio::test]
async fn tenants_list_pages_through_everything() {
    let app = TestApp::spawn().await;
    let (_, operator) = app.operator().await;
    for i in 0..5 {
        app.tenant(&format!("T{i}")).await;
    }
    let first = app.get("/platform/v1/tenants?limit=2", &operator).await;
    assert_eq!(first.json["items"].as_array().unwrap().len(), 2);
    let mut seen = first.json["items"].as_array().unwrap().len();
    let mut cursor = first.json["next_cursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let page = app.get(&format!("/platform/v1/tenants?limit=2&cursor={c}"), &operator).await;
        seen += page.json["items"].as_array().unwrap().len();
        cursor = page.json["next_cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, 5);
}

#[tokio::test]
async fn identity_providers_are_unique_per_issuer_and_audience() {
    let app = TestApp::spawn().await;
    let (_, operator) = app.operator().await;
    let a = app.tenant("A").await;
    let b = app.tenant("B").await;
    let body = json!({"label": "PSC", "issuer": "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet", "audience": "dui-a",
                      "jwks_url": "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet/protocol/openid-connect/certs"});
    let created = app.post(&format!("/platform/v1/tenants/{}/identity-providers", a.id), &operator, body.clone()).await;
    assert_eq!(created.status, 201, "{}", created.text);
    // The same issuer and audience cannot designate a second tenant.
    app.post(&format!("/platform/v1/tenants/{}/identity-providers", b.id), &operator, body.clone()).await.problem(409);
    // The same issuer with its own audience can.
    let mut other = body.clone();
    other["audience"] = json!("dui-b");
    assert_eq!(
        app.post(&format!("/platform/v1/tenants/{}/identity-providers", b.id), &operator, other).await.status,
        201
    );
    let invalid = app
        .post(
            &format!("/platform/v1/tenants/{}/identity-providers", a.id),
            &operator,
            json!({"label": "x", "issuer": "nope", "audience": "a", "jwks_url": "ftp://x"}),
        )
        .await;
    assert_eq!(invalid.problem(422)["errors"].as_array().unwrap().len(), 2);

    // The tenant admin sees their providers; the provider can be removed once no user is linked.
    let listed = app.get("/api/v1/identity-providers", &a.admin.token).await;
    assert_eq!(listed.json.as_array().unwrap().len(), 1);
    let provider = created.json["id"].as_str().unwrap();
    let linked = app
        .put(
            &format!("/api/v1/users/{}/external-identities/{provider}", a.admin.id),
            &a.admin.token,
            json!({"subject": "899700000001"}),
        )
        .await;
    assert_eq!(linked.status, 200, "{}", linked.text);
    app.delete(&format!("/platform/v1/tenants/{}/identity-providers/{provider}", a.id), &operator).await.problem(409);
    let unlinked =
        app.delete(&format!("/api/v1/users/{}/external-identities/{provider}", a.admin.id), &a.admin.token).await;
    assert_eq!(unlinked.status, 204);
    let deleted = app.delete(&format!("/platform/v1/tenants/{}/identity-providers/{provider}", a.id), &operator).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    app.delete(&format!("/platform/v1/tenants/{}/identity-providers/{provider}", a.id), &operator).await.problem(404);
}
