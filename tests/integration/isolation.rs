//! Tenant isolation over HTTP: tenant B's administrator, the most privileged user of B, tries
//! every tenant endpoint on tenant A's ids and must get 404 — indistinguishable from absence —
//! and A's data must be untouched. A route added without a line here fails the coverage check.

use std::collections::BTreeSet;

use dui_domain::people::Role;
use dui_testkit::{FakeIdp, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

struct Attempt {
    method: Method,
    /// The route template, as in the OpenAPI document.
    route: &'static str,
    path: String,
    body: Option<Value>,
}

fn attempt(method: Method, route: &'static str, path: String, body: Option<Value>) -> Attempt {
    Attempt { method, route, path, body }
}

/// Tenant routes that take no id: they are checked by listing instead.
const LIST_ROUTES: [(&str, &str); 8] = [
    ("get", "/api/v1/me"),
    ("get", "/api/v1/establishments"),
    ("post", "/api/v1/establishments"),
    ("get", "/api/v1/users"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/residents"),
    ("post", "/api/v1/residents"),
    ("post", "/api/v1/residents/search"),
];

#[tokio::test]
async fn tenant_b_cannot_reach_any_of_tenant_a_by_id() {
    let app = TestApp::spawn().await;
    let idp = FakeIdp::start().await;
    let a = app.tenant("Alpha").await;
    let b = app.tenant("Beta").await;
    let a_nurse = app.user(&a, &[(Some(a.establishments[0].id), Role::Nurse)]).await;
    let memberships = app.get(&format!("/api/v1/users/{}/memberships", a_nurse.id), &a.admin.token).await;
    let a_membership = memberships.json[0]["id"].as_str().unwrap().to_owned();
    let (_, operator) = app.operator().await;
    let provider = app
        .post(
            &format!("/platform/v1/tenants/{}/identity-providers", a.id),
            &operator,
            json!({"label": "IdP A", "issuer": idp.issuer, "audience": "a", "jwks_url": idp.jwks_url}),
        )
        .await;
    let a_provider = provider.json["id"].as_str().unwrap().to_owned();
    let linked = app
        .put(
            &format!("/api/v1/users/{}/external-identities/{a_provider}", a_nurse.id),
            &a.admin.token,
            json!({"subject": "s-a"}),
        )
        .await;
    assert_eq!(linked.status, 200, "{}", linked.text);

    let a_resident = app
        .post(
            "/api/v1/residents",
            &a.admin.token,
            json!({"establishment_id": a.establishments[0].id, "identity": {"birth_name": "Isolée", "first_names": "Anne",
                   "sex": "female", "birth_date": "1930-01-01"}, "ins": {"matricule": "255081416802538", "oid": "1.2.250.1.213.1.4.10"}}),
        )
        .await;
    assert_eq!(a_resident.status, 201, "{}", a_resident.text);
    let a_resident = a_resident.json["id"].as_str().unwrap().to_owned();
    let a_note =
        app.post(&format!("/api/v1/residents/{a_resident}/notes"), &a.admin.token, json!({"text": "Note A"})).await;
    // The tenant admin is not a carer: the note is written by a nurse of A.
    assert_eq!(a_note.status, 403);
    let a_note =
        app.post(&format!("/api/v1/residents/{a_resident}/notes"), &a_nurse.token, json!({"text": "Note de A"})).await;
    assert_eq!(a_note.status, 201, "{}", a_note.text);

    let a_est = a.establishments[0].id;
    let a_unit = a.units[0].id;
    let a_user = a_nurse.id;
    let b_est = b.establishments[0].id;
    let b_user = b.admin.id;
    let attempts = vec![
        attempt(
            Method::GET,
            "/api/v1/establishments/{establishment_id}",
            format!("/api/v1/establishments/{a_est}"),
            None,
        ),
        attempt(
            Method::PATCH,
            "/api/v1/establishments/{establishment_id}",
            format!("/api/v1/establishments/{a_est}"),
            Some(json!({"name": "hijacked"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/establishments/{establishment_id}/units",
            format!("/api/v1/establishments/{a_est}/units"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/establishments/{establishment_id}/units",
            format!("/api/v1/establishments/{a_est}/units"),
            Some(json!({"name": "intruder"})),
        ),
        attempt(Method::GET, "/api/v1/units/{unit_id}", format!("/api/v1/units/{a_unit}"), None),
        attempt(
            Method::PATCH,
            "/api/v1/units/{unit_id}",
            format!("/api/v1/units/{a_unit}"),
            Some(json!({"name": "hijacked"})),
        ),
        attempt(Method::GET, "/api/v1/users/{user_id}", format!("/api/v1/users/{a_user}"), None),
        attempt(
            Method::PATCH,
            "/api/v1/users/{user_id}",
            format!("/api/v1/users/{a_user}"),
            Some(json!({"status": "disabled"})),
        ),
        attempt(
            Method::GET,
            "/api/v1/users/{user_id}/memberships",
            format!("/api/v1/users/{a_user}/memberships"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/users/{user_id}/memberships",
            format!("/api/v1/users/{a_user}/memberships"),
            Some(json!({"establishment_id": b_est, "role": "director"})),
        ),
        // B's own user, given a role in A's establishment.
        attempt(
            Method::POST,
            "/api/v1/users/{user_id}/memberships",
            format!("/api/v1/users/{b_user}/memberships"),
            Some(json!({"establishment_id": a_est, "role": "nurse"})),
        ),
        attempt(
            Method::POST,
            "/api/v1/memberships/{membership_id}/end",
            format!("/api/v1/memberships/{a_membership}/end"),
            None,
        ),
        attempt(
            Method::GET,
            "/api/v1/users/{user_id}/external-identities",
            format!("/api/v1/users/{a_user}/external-identities"),
            None,
        ),
        attempt(
            Method::PUT,
            "/api/v1/users/{user_id}/external-identities/{provider_id}",
            format!("/api/v1/users/{a_user}/external-identities/{a_provider}"),
            Some(json!({"subject": "s-b"})),
        ),
        // B's own user, linked through A's provider.
        attempt(
            Method::PUT,
            "/api/v1/users/{user_id}/external-identities/{provider_id}",
            format!("/api/v1/users/{b_user}/external-identities/{a_provider}"),
            Some(json!({"subject": "s-b"})),
        ),
        attempt(
            Method::DELETE,
            "/api/v1/users/{user_id}/external-identities/{provider_id}",
            format!("/api/v1/users/{a_user}/external-identities/{a_provider}"),
            None,
        ),
        attempt(Method::GET, "/api/v1/residents/{resident_id}", format!("/api/v1/residents/{a_resident}"), None),
        attempt(
            Method::GET,
            "/api/v1/residents/{resident_id}/notes",
            format!("/api/v1/residents/{a_resident}/notes"),
            None,
        ),
        attempt(
            Method::POST,
            "/api/v1/residents/{resident_id}/notes",
            format!("/api/v1/residents/{a_resident}/notes"),
            Some(json!({"text": "intrusion"})),
        ),
        // A resident admitted by B into A's establishment.
        attempt(
            Method::POST,
            "/api/v1/residents",
            "/api/v1/residents".to_owned(),
            Some(json!({"establishment_id": a_est, "identity": {"birth_name": "Intrus", "first_names": "Paul",
                        "sex": "male", "birth_date": "1940-01-01"}})),
        ),
    ];

    let mut covered: BTreeSet<(String, String)> =
        LIST_ROUTES.iter().map(|(m, r)| ((*m).to_owned(), (*r).to_owned())).collect();
    covered.insert(("get".to_owned(), "/api/v1/identity-providers".to_owned()));
    for attempt in &attempts {
        let response =
            app.request(attempt.method.clone(), &attempt.path, Some(&b.admin.token), attempt.body.clone()).await;
        let problem = response.problem(404);
        assert_eq!(problem["detail"], "No such resource.", "{} {}", attempt.method, attempt.path);
        covered.insert((attempt.method.as_str().to_ascii_lowercase(), attempt.route.to_owned()));
    }

    // Every tenant route of the API is covered.
    let openapi: Value = serde_json::from_str(dui_api::openapi_json()).unwrap();
    for (path, item) in openapi["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            assert!(
                covered.contains(&(method.clone(), path.clone())),
                "{method} {path} has no cross-tenant attempt in this test"
            );
        }
    }

    // Lists of B show nothing of A.
    let a_ids =
        [a_est.to_string(), a.establishments[1].id.to_string(), a_user.to_string(), a.admin.id.to_string(), a_provider];
    // The same INS and the same identity searched from B find nothing of A.
    for body in [json!({"ins": "255081416802538"}), json!({"birth_name": "ISOLEE", "birth_date": "1930-01-01"})] {
        let found = app.post("/api/v1/residents/search", &b.admin.token, body).await;
        assert_eq!(found.status, 200, "{}", found.text);
        assert_eq!(found.json, json!([]));
    }
    // B may even create its own record with the same INS: indexes are per tenant.
    let b_resident = app
        .post(
            "/api/v1/residents",
            &b.admin.token,
            json!({"establishment_id": b_est, "identity": {"birth_name": "Isolée", "first_names": "Anne",
                   "sex": "female", "birth_date": "1930-01-01"}, "ins": {"matricule": "255081416802538", "oid": "1.2.250.1.213.1.4.10"}}),
        )
        .await;
    assert_eq!(b_resident.status, 201, "{}", b_resident.text);
    let a_ids = [a_ids.to_vec(), vec![a_resident.clone()]].concat();
    for path in
        ["/api/v1/establishments", "/api/v1/users", "/api/v1/identity-providers", "/api/v1/me", "/api/v1/residents"]
    {
        let response = app.get(path, &b.admin.token).await;
        assert_eq!(response.status, 200, "{path}");
        for id in &a_ids {
            assert!(!response.text.contains(id.as_str()), "{path} shows {id} of tenant A");
        }
    }

    // A's data is untouched.
    let establishment = app.get(&format!("/api/v1/establishments/{a_est}"), &a.admin.token).await;
    assert_eq!(establishment.json["name"], a.establishments[0].name);
    let unit = app.get(&format!("/api/v1/units/{a_unit}"), &a.admin.token).await;
    assert_eq!(unit.json["name"], "Aile A");
    let units = app.get(&format!("/api/v1/establishments/{a_est}/units"), &a.admin.token).await;
    assert_eq!(units.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.get("/api/v1/me", &a_nurse.token).await.status, 200, "the nurse is still active");
    let memberships = app.get(&format!("/api/v1/users/{a_user}/memberships"), &a.admin.token).await;
    assert!(memberships.json.as_array().unwrap().iter().all(|m| m["ended_at"].is_null()));
    let identities = app.get(&format!("/api/v1/users/{a_user}/external-identities"), &a.admin.token).await;
    assert_eq!(identities.json[0]["subject"], "s-a");
    let notes = app.get(&format!("/api/v1/residents/{a_resident}/notes"), &a_nurse.token).await;
    assert_eq!(notes.json["items"].as_array().unwrap().len(), 1, "only A's own note");
    let b_memberships = app.get(&format!("/api/v1/users/{b_user}/memberships"), &b.admin.token).await;
    assert_eq!(b_memberships.json.as_array().unwrap().len(), 1, "only B's own tenant admin membership");
}
