//! Users and memberships.

use dui_domain::people::Role;
use dui_testkit::TestApp;
use serde_json::json;

#[tokio::test]
async fn the_tenant_admin_manages_users_and_their_roles() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let admin = &tenant.admin.token;
    let ehpad = tenant.establishments[0].id;

    let created = app
        .post(
            "/api/v1/users",
            admin,
            json!({"family_name": "Moreau", "given_name": "Claire", "profession": "nurse", "rpps": "10000000029", "email": "c.moreau@ehpad.mssante.fr"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let user = created.json["id"].as_str().unwrap().to_owned();
    assert_eq!(created.json["kind"], "person");
    assert_eq!(created.json["status"], "active");

    let duplicate = app
        .post("/api/v1/users", admin, json!({"family_name": "Autre", "given_name": "X", "rpps": "10000000029"}))
        .await;
    assert!(duplicate.problem(409)["detail"].as_str().unwrap().contains("RPPS"));
    let invalid = app.post("/api/v1/users", admin, json!({"family_name": "", "rpps": "123", "email": "nope"})).await;
    let fields: Vec<&str> =
        invalid.problem(422)["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["family_name", "given_name", "rpps", "email"]);

    // PATCH: absent keeps, null clears.
    let changed =
        app.patch(&format!("/api/v1/users/{user}"), admin, json!({"email": null, "given_name": "Claire-Marie"})).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.json["email"], serde_json::Value::Null);
    assert_eq!(changed.json["given_name"], "Claire-Marie");
    assert_eq!(changed.json["rpps"], "10000000029");

    let membership = app
        .post(&format!("/api/v1/users/{user}/memberships"), admin, json!({"establishment_id": ehpad, "role": "nurse"}))
        .await;
    assert_eq!(membership.status, 201, "{}", membership.text);
    app.post(&format!("/api/v1/users/{user}/memberships"), admin, json!({"establishment_id": ehpad, "role": "nurse"}))
        .await
        .problem(409);
    let admin_here = app
        .post(
            &format!("/api/v1/users/{user}/memberships"),
            admin,
            json!({"establishment_id": ehpad, "role": "tenant_admin"}),
        )
        .await;
    assert!(admin_here.problem(422)["detail"].as_str().unwrap().contains("tenant-wide"));
    let ghost_place = app
        .post(
            &format!("/api/v1/users/{user}/memberships"),
            admin,
            json!({"establishment_id": uuid::Uuid::now_v7(), "role": "nurse"}),
        )
        .await;
    ghost_place.problem(404);

    // The new user logs in and sees their role; ending it removes their access to the EHPAD.
    let token = app.token(dui_auth::own::Subject::TenantUser { tenant: tenant.id, user: user.parse().unwrap() });
    let me = app.get("/api/v1/me", &token).await;
    assert_eq!(me.json["memberships"][0]["role"], "nurse");
    assert_eq!(app.get(&format!("/api/v1/establishments/{ehpad}"), &token).await.status, 200);
    let membership_id = membership.json["id"].as_str().unwrap();
    let ended = app.post(&format!("/api/v1/memberships/{membership_id}/end"), admin, json!({})).await;
    assert!(ended.json["ended_at"].is_string(), "{}", ended.text);
    let again = app.post(&format!("/api/v1/memberships/{membership_id}/end"), admin, json!({})).await;
    assert_eq!(again.json["ended_at"], ended.json["ended_at"], "ending twice changes nothing");
    app.get(&format!("/api/v1/establishments/{ehpad}"), &token).await.problem(404);
    let history = app.get(&format!("/api/v1/users/{user}/memberships"), admin).await;
    assert_eq!(history.json.as_array().unwrap().len(), 1, "the ended membership is kept");

    // The admin cannot lock themselves out.
    let own = app.patch(&format!("/api/v1/users/{}", tenant.admin.id), admin, json!({"status": "disabled"})).await;
    own.problem(422);

    // A service account has no national identifier.
    let service =
        app.post("/api/v1/users", admin, json!({"kind": "service", "family_name": "Interface facturation"})).await;
    assert_eq!(service.status, 201, "{}", service.text);
}

#[tokio::test]
async fn directors_staff_their_establishments_only() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (ehpad, saad) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let director = app.user(&tenant, &[(Some(ehpad), Role::Director)]).await;
    let nurse = app.user(&tenant, &[]).await;

    let given = app
        .post(
            &format!("/api/v1/users/{}/memberships", nurse.id),
            &director.token,
            json!({"establishment_id": ehpad, "role": "nurse"}),
        )
        .await;
    assert_eq!(given.status, 201, "{}", given.text);
    for body in [
        json!({"establishment_id": saad, "role": "nurse"}),
        json!({"establishment_id": ehpad, "role": "director"}),
        json!({"role": "nurse"}),
    ] {
        app.post(&format!("/api/v1/users/{}/memberships", nurse.id), &director.token, body).await.problem(403);
    }
    // Directors read the directory but do not create or change accounts.
    assert_eq!(app.get("/api/v1/users", &director.token).await.status, 200);
    app.post("/api/v1/users", &director.token, json!({"family_name": "X", "given_name": "Y"})).await.problem(403);
    app.patch(&format!("/api/v1/users/{}", nurse.id), &director.token, json!({"status": "disabled"}))
        .await
        .problem(403);
    // A nurse sees herself, not others.
    let nurse_token = &nurse.token;
    assert_eq!(app.get(&format!("/api/v1/users/{}", nurse.id), nurse_token).await.status, 200);
    app.get(&format!("/api/v1/users/{}", director.id), nurse_token).await.problem(403);
    app.get("/api/v1/users", nurse_token).await.problem(403);
    app.get("/api/v1/identity-providers", nurse_token).await.problem(403);
}
