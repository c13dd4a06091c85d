//! Establishments and units: who may do what, and lists that page.

use dui_domain::people::Role;
use dui_testkit::TestApp;
use serde_json::json;

#[tokio::test]
async fn the_tenant_admin_builds_the_structure() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let admin = &tenant.admin.token;

    let created = app
        .post(
            "/api/v1/establishments",
            admin,
            json!({"finess": "2a0000017", "name": " Résidence U Castellu ", "category": "ehpad"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json["finess"], "2A0000017");
    assert_eq!(created.json["name"], "Résidence U Castellu");
    assert_eq!(created.json["status"], "open");
    let id = created.json["id"].as_str().unwrap().to_owned();

    let duplicate = app
        .post("/api/v1/establishments", admin, json!({"finess": "2A0000017", "name": "Autre", "category": "ehpad"}))
        .await;
    assert!(duplicate.problem(409)["detail"].as_str().unwrap().contains("FINESS"));

    let changed =
        app.patch(&format!("/api/v1/establishments/{id}"), admin, json!({"status": "closed", "category": "fam"})).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!((changed.json["status"].as_str(), changed.json["category"].as_str()), (Some("closed"), Some("fam")));
    assert_eq!(changed.json["name"], "Résidence U Castellu", "absent fields are kept");

    let unit = app.post(&format!("/api/v1/establishments/{id}/units"), admin, json!({"name": "Étage 1"})).await;
    assert_eq!(unit.status, 201, "{}", unit.text);
    let again = app.post(&format!("/api/v1/establishments/{id}/units"), admin, json!({"name": "Étage 1"})).await;
    again.problem(409);
    let unit_id = unit.json["id"].as_str().unwrap();
    let renamed = app.patch(&format!("/api/v1/units/{unit_id}"), admin, json!({"name": "Étage 2"})).await;
    assert_eq!(renamed.json["name"], "Étage 2");
    let empty = app.patch(&format!("/api/v1/units/{unit_id}"), admin, json!({"name": ""})).await;
    empty.problem(422);
}

#[tokio::test]
async fn roles_decide_who_sees_and_changes_the_structure() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (ehpad, saad) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let director = app.user(&tenant, &[(Some(ehpad), Role::Director)]).await;
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let helper = app.user(&tenant, &[(Some(saad), Role::HomeHelper)]).await;
    let nobody = app.user(&tenant, &[]).await;

    // Each sees the establishments of their memberships.
    for (user, expected) in [(&director, vec![ehpad]), (&nurse, vec![ehpad]), (&helper, vec![saad]), (&nobody, vec![])]
    {
        let list = app.get("/api/v1/establishments", &user.token).await;
        let ids: Vec<String> =
            list.json["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids, expected.iter().map(ToString::to_string).collect::<Vec<_>>());
    }
    // Others' establishments are absent, not forbidden.
    app.get(&format!("/api/v1/establishments/{saad}"), &nurse.token).await.problem(404);
    app.get(&format!("/api/v1/units/{}", tenant.units[1].id), &nurse.token).await.problem(404);
    app.get(&format!("/api/v1/establishments/{saad}/units"), &nurse.token).await.problem(404);

    // Only the tenant admin creates establishments.
    for user in [&director, &nurse] {
        let refused = app
            .post(
                "/api/v1/establishments",
                &user.token,
                json!({"finess": "750000001", "name": "X", "category": "ehpad"}),
            )
            .await;
        refused.problem(403);
        app.patch(&format!("/api/v1/establishments/{ehpad}"), &user.token, json!({"name": "X"})).await.problem(403);
    }
    // A director manages the units of their establishment, not of others.
    let unit =
        app.post(&format!("/api/v1/establishments/{ehpad}/units"), &director.token, json!({"name": "Aile B"})).await;
    assert_eq!(unit.status, 201, "{}", unit.text);
    app.post(&format!("/api/v1/establishments/{saad}/units"), &director.token, json!({"name": "Tournée Est"}))
        .await
        .problem(404);
    app.post(&format!("/api/v1/establishments/{ehpad}/units"), &nurse.token, json!({"name": "Aile C"}))
        .await
        .problem(403);
    let unit_id = unit.json["id"].as_str().unwrap();
    app.patch(&format!("/api/v1/units/{unit_id}"), &nurse.token, json!({"status": "closed"})).await.problem(403);
    let closed = app.patch(&format!("/api/v1/units/{unit_id}"), &director.token, json!({"status": "closed"})).await;
    assert_eq!(closed.json["status"], "closed");
}

#[tokio::test]
async fn lists_page_with_opaque_cursors() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    for i in 0..7 {
        let created = app
            .post(
                &format!("/api/v1/establishments/{ehpad}/units"),
                &tenant.admin.token,
                json!({"name": format!("Unité {i}")}),
            )
            .await;
        assert_eq!(created.status, 201);
    }
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/establishments/{ehpad}/units?limit=3&cursor={c}"),
            None => format!("/api/v1/establishments/{ehpad}/units?limit=3"),
        };
        let page = app.get(&path, &tenant.admin.token).await;
        assert_eq!(page.status, 200, "{}", page.text);
        let items = page.json["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        names.extend(items.iter().map(|u| u["name"].as_str().unwrap().to_owned()));
        pages += 1;
        match page.json["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> =
        std::iter::once("Aile A".to_owned()).chain((0..7).map(|i| format!("Unité {i}"))).collect();
    assert_eq!(names, expected, "every unit once, in creation order");
}
