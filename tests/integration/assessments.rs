//! Needs assessments: a draft changes, a validated assessment never does, a correction
//! supersedes it; the GIR history follows; who may record, validate and read them.

use dui_domain::people::Role;
use dui_testkit::{TestApp, TestResponse};
use reqwest::Method;
use serde_json::{Value, json};

use crate::residents::admit;

/// An AGGIR grid answering `code` (A, B or C) to every variable.
pub fn grid(code: &str) -> Value {
    let keys = [
        "coherence",
        "orientation",
        "toilette",
        "habillage",
        "alimentation",
        "elimination",
        "transferts",
        "deplacement_interieur",
        "deplacement_exterieur",
        "alerter",
    ];
    json!({"variables": keys.iter().map(|k| ((*k).to_owned(), json!(code))).collect::<serde_json::Map<_, _>>()})
}

async fn send_if(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    etag: &str,
    body: Option<Value>,
) -> TestResponse {
    app.request_with(method, path, Some(token), body, &[("If-Match", etag)]).await
}

#[tokio::test]
async fn a_validated_assessment_never_changes_and_a_correction_supersedes_it() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let admitted =
        admit(&app, &tenant, json!({"identity": crate::residents::identity("Grille", "Marthe", "1931-03-03")})).await;
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let assistant = app.user(&tenant, &[(Some(ehpad), Role::CareAssistant)]).await;
    let social = app.user(&tenant, &[(Some(ehpad), Role::SocialWorker)]).await;
    let physician = app.user(&tenant, &[(Some(ehpad), Role::CoordinatingPhysician)]).await;

    // A draft, computed at once.
    let assessments = format!("{record}/assessments");
    let draft = app
        .post(
            &assessments,
            &nurse.token,
            json!({"instrument": "aggir", "assessed_on": "2026-11-02", "answers": grid("B")}),
        )
        .await;
    assert_eq!(draft.status, 201, "{}", draft.text);
    assert_eq!(
        (draft.json["status"].as_str(), draft.json["instrument_version"].as_str()),
        (Some("draft"), Some("2008"))
    );
    let gir_of = |v: &Value| v["outcome"]["gir"]["gir"].as_i64();
    let first_gir = gir_of(&draft.json);
    assert!(first_gir.is_some(), "{}", draft.text);
    let id = draft.json["id"].as_str().unwrap().to_owned();
    let one = format!("{assessments}/{id}");

    // Invalid answers and unknown instruments name the field; a future date too.
    let bad = app
        .post(&assessments, &nurse.token, json!({"instrument": "aggir", "assessed_on": "2026-11-02", "answers": {}}))
        .await;
    assert!(bad.problem(422)["errors"][0]["field"].as_str().unwrap().starts_with("answers"), "{}", bad.text);
    let unknown = app
        .post(&assessments, &nurse.token, json!({"instrument": "pathos", "assessed_on": "2026-11-02", "answers": {}}))
        .await;
    assert_eq!(unknown.problem(422)["errors"][0]["field"], "instrument");
    let future = app
        .post(
            &assessments,
            &nurse.token,
            json!({"instrument": "aggir", "assessed_on": "2099-01-01", "answers": grid("A")}),
        )
        .await;
    assert_eq!(future.problem(422)["errors"][0]["field"], "assessed_on");

    // The draft changes with If-Match; a stale version is refused.
    let read = app.get(&one, &nurse.token).await;
    let etag = read.header("etag").unwrap().to_owned();
    let changed = send_if(
        &app,
        Method::PUT,
        &one,
        &nurse.token,
        &etag,
        Some(json!({"assessed_on": "2026-11-03", "answers": grid("C")})),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(gir_of(&changed.json), Some(1));
    send_if(
        &app,
        Method::PUT,
        &one,
        &nurse.token,
        &etag,
        Some(json!({"assessed_on": "2026-11-03", "answers": grid("A")})),
    )
    .await
    .problem(412);
    let etag = changed.header("etag").unwrap().to_owned();

    // Care assistants record but do not validate; nor does the nurse who assessed: in an EHPAD
    // the coordinating physician validates the GIR.
    send_if(&app, Method::POST, &format!("{one}/validate"), &assistant.token, &etag, None).await.problem(403);
    let by_nurse = send_if(&app, Method::POST, &format!("{one}/validate"), &nurse.token, &etag, None).await;
    assert!(by_nurse.problem(403)["detail"].as_str().unwrap().contains("coordinating_physician"), "{}", by_nurse.text);
    let validated = send_if(&app, Method::POST, &format!("{one}/validate"), &physician.token, &etag, None).await;
    assert_eq!(validated.status, 200, "{}", validated.text);
    assert_eq!(validated.json["validated_by"], physician.id.to_string());
    let etag = validated.header("etag").unwrap().to_owned();
    // From then on, nothing changes it.
    let refused = send_if(
        &app,
        Method::PUT,
        &one,
        &nurse.token,
        &etag,
        Some(json!({"assessed_on": "2026-11-03", "answers": grid("A")})),
    )
    .await;
    assert!(refused.problem(409)["detail"].as_str().unwrap().contains("correction"));
    send_if(&app, Method::POST, &format!("{one}/validate"), &physician.token, &etag, None).await.problem(409);

    // Not even the database lets the application change it.
    let app_role = app.db.connect(&app.db.app_url).await;
    let denied = app_role
        .batch_execute(&format!(
            "BEGIN; SELECT set_config('app.tenant_id', '{}', true); UPDATE assessments SET gir = 6 WHERE id = '{id}'; COMMIT;",
            tenant.id
        ))
        .await
        .unwrap_err();
    assert!(
        denied.to_string().contains("validated assessment")
            || format!("{denied:?}").contains("assessments_validated_immutable"),
        "{denied:?}"
    );

    // A correction supersedes it once validated; the history shows the correction.
    let history = app.get(&format!("{record}/gir-history"), &nurse.token).await;
    assert_eq!(history.json.as_array().unwrap().len(), 1);
    assert_eq!(history.json[0]["gir"], 1);
    let wrong = app
        .post(
            &assessments,
            &nurse.token,
            json!({"instrument": "braden", "assessed_on": "2026-11-04", "answers": {}, "supersedes": id}),
        )
        .await;
    assert_eq!(wrong.status, 422, "{}", wrong.text);
    let correction = app
        .post(
            &assessments,
            &nurse.token,
            json!({"instrument": "aggir", "assessed_on": "2026-11-03", "answers": grid("A"), "supersedes": id}),
        )
        .await;
    assert_eq!(correction.status, 201, "{}", correction.text);
    let fixed = format!("{assessments}/{}", correction.json["id"].as_str().unwrap());
    let etag = correction.header("etag").map(str::to_owned).unwrap_or_else(|| "\"1\"".to_owned());
    let done = send_if(&app, Method::POST, &format!("{fixed}/validate"), &physician.token, &etag, None).await;
    assert_eq!(done.status, 200, "{}", done.text);
    let original = app.get(&one, &nurse.token).await;
    assert_eq!(original.json["superseded_by"], correction.json["id"]);
    assert_eq!(gir_of(&original.json), Some(1), "the original is still readable as it was");
    let history = app.get(&format!("{record}/gir-history"), &nurse.token).await;
    let points: Vec<(i64, &str)> = history
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["gir"].as_i64().unwrap(), p["group"].as_str().unwrap()))
        .collect();
    assert_eq!(points, [(6, "H")]);
    let again = app
        .post(
            &assessments,
            &nurse.token,
            json!({"instrument": "aggir", "assessed_on": "2026-11-03", "answers": grid("B"), "supersedes": id}),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.text);

    // Another instrument, and who reads what: the social worker does not read care-team
    // assessments; an assessment written for the whole team is read by all.
    let braden = app.get("/api/v1/instruments/braden", &nurse.token).await;
    let answers: serde_json::Map<String, Value> = braden.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["code"].as_str().unwrap().to_owned(), i["answers"][0]["code"].clone()))
        .collect();
    let shared = app
        .post(
            &assessments,
            &assistant.token,
            json!({"instrument": "braden", "assessed_on": "2026-11-05", "answers": answers, "scope": "whole_team"}),
        )
        .await;
    assert_eq!(shared.status, 201, "{}", shared.text);
    let seen = app.get(&assessments, &social.token).await;
    assert_eq!(seen.json.as_array().unwrap().len(), 1, "{}", seen.text);
    assert_eq!(seen.json[0]["instrument"], "braden");
    app.get(&one, &social.token).await.problem(404);
    let filtered = app.get(&format!("{assessments}?instrument=aggir"), &nurse.token).await;
    assert_eq!(filtered.json.as_array().unwrap().len(), 2);
    // Found by fuzzing: a filter holding a NUL character reached PostgreSQL, which refused it
    // (500). It names no instrument, and matches nothing.
    for code in ["aggir%00", "%00", "ag%00gir"] {
        let filtered = app.get(&format!("{assessments}?instrument={code}"), &nurse.token).await;
        assert_eq!(filtered.status, 200, "{code}: {}", filtered.text);
        assert_eq!(filtered.json, json!([]), "{code}");
    }
}

#[tokio::test]
async fn the_roles_that_validate_the_gir_are_a_setting_of_the_tenant() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ehpad = tenant.establishments[0].id;
    let admitted =
        admit(&app, &tenant, json!({"identity": crate::residents::identity("Reglage", "Odile", "1933-04-04")})).await;
    let record = format!("/api/v1/residents/{}", admitted.json["id"].as_str().unwrap());
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let director = app.user(&tenant, &[(Some(ehpad), Role::Director)]).await;

    // The defaults, readable by everyone of the tenant.
    let read = app.get("/api/v1/settings", &nurse.token).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.json["aggir_validators"], json!(["coordinating_physician"]));
    assert_eq!(read.json["task_missed_after_minutes"], 240);
    assert_eq!(read.json["version"], 0);

    // Only the tenant's administrators change them; a bad change says what is wrong.
    let change = json!({"expected_version": 0, "aggir_validators": ["coordinating_physician", "nurse"]});
    app.request(Method::PATCH, "/api/v1/settings", Some(&director.token), Some(change.clone())).await.problem(403);
    for (body, field) in [
        (json!({"expected_version": 0, "aggir_validators": ["care_assistant"]}), "aggir_validators[0]"),
        (json!({"expected_version": 0, "aggir_validators": []}), "aggir_validators"),
        (json!({"expected_version": 0, "task_missed_after_minutes": 30}), "task_missed_after_minutes"),
    ] {
        let bad = app.request(Method::PATCH, "/api/v1/settings", Some(&tenant.admin.token), Some(body)).await;
        assert_eq!(bad.problem(422)["errors"][0]["field"], field, "{}", bad.text);
    }

    // A SSIAD-like choice: nurses validate too. A stale version is a conflict.
    let changed = app.request(Method::PATCH, "/api/v1/settings", Some(&tenant.admin.token), Some(change.clone())).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.json["version"], 1);
    assert_eq!(changed.json["aggir_validators"], json!(["coordinating_physician", "nurse"]));
    assert_eq!(changed.json["updated_by"], tenant.admin.id.to_string());
    app.request(Method::PATCH, "/api/v1/settings", Some(&tenant.admin.token), Some(change)).await.problem(409);
    let owner = app.db.connect(&app.db.owner_url).await;
    owner.batch_execute(&format!("SET app.tenant_id = '{}'", tenant.id)).await.unwrap();
    let events: i64 = owner
        .query_one("SELECT count(*) FROM audit_events WHERE action = 'settings.update'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(events, 1, "the change is in the trail");
    // Another tenant's settings are its own.
    let beta = app.tenant("Beta").await;
    let theirs = app.get("/api/v1/settings", &beta.admin.token).await;
    assert_eq!(theirs.json["version"], 0, "{}", theirs.text);
    assert_eq!(theirs.json["aggir_validators"], json!(["coordinating_physician"]));

    let draft = app
        .post(
            &format!("{record}/assessments"),
            &nurse.token,
            json!({"instrument": "aggir", "assessed_on": "2026-11-02", "answers": grid("B")}),
        )
        .await;
    assert_eq!(draft.status, 201, "{}", draft.text);
    let one = format!("{record}/assessments/{}", draft.json["id"].as_str().unwrap());
    let etag = draft.header("etag").unwrap().to_owned();
    let validated = send_if(&app, Method::POST, &format!("{one}/validate"), &nurse.token, &etag, None).await;
    assert_eq!(validated.status, 200, "{}", validated.text);
}
