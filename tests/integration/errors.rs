//! Bad input always gets a 4xx problem that says what is wrong; never a 500, never a panic.

use dui_testkit::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn malformed_requests_get_precise_problems() {
    let app = TestApp::spawn_with(|config| config.http.body_limit_bytes = 4096).await;
    let tenant = app.tenant("Alpha").await;
    let token = &tenant.admin.token;
    let post = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/establishments"))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    // (body, content type, status, words the detail must contain)
    let cases: &[(&'static str, &'static str, u16, &str)] = &[
        ("{\"finess\": ", "application/json", 400, "not valid JSON"),
        ("not json at all", "application/json", 400, "not valid JSON"),
        ("{\"finess\": \"750000000\"}", "text/plain", 415, "application/json"),
        ("{\"finess\": \"750000000\"}", "application/x-www-form-urlencoded", 415, "application/json"),
        ("{\"finess\": 12, \"name\": \"E\", \"category\": \"ehpad\"}", "application/json", 422, "finess"),
        ("{\"name\": \"E\", \"category\": \"ehpad\"}", "application/json", 422, "missing field `finess`"),
        ("{\"finess\": \"750000000\", \"name\": \"E\", \"category\": \"castle\"}", "application/json", 422, "category"),
        (
            "{\"finess\": \"750000000\", \"name\": \"E\", \"category\": \"ehpad\", \"admin\": true}",
            "application/json",
            422,
            "unknown field `admin`",
        ),
        ("[1, 2, 3]", "application/json", 422, "invalid type"),
        ("{\"finess\": \"75000\", \"name\": \"  \", \"category\": \"ehpad\"}", "application/json", 422, "FINESS"),
    ];
    for (body, content_type, status, words) in cases {
        let response = TestApp::read(post(body, content_type).await.unwrap()).await;
        let problem = response.problem(*status);
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(words), "{body:?} as {content_type}: {detail:?} should mention {words:?}");
    }

    // Validation problems list each field.
    let response = TestApp::read(
        post("{\"finess\": \"75000\", \"name\": \"  \", \"category\": \"ehpad\"}", "application/json").await.unwrap(),
    )
    .await;
    let fields: Vec<&str> =
        response.json["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["finess", "name"]);
    // A field left out is named.
    let response =
        TestApp::read(post("{\"name\": \"E\", \"category\": \"ehpad\"}", "application/json").await.unwrap()).await;
    assert_eq!(response.problem(422)["errors"][0]["field"], "finess", "{}", response.text);
    let response = TestApp::read(
        post(
            "{\"finess\": \"750000000\", \"name\": \"E\", \"category\": \"ehpad\", \"admin\": true}",
            "application/json",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(response.json["errors"][0]["field"], "admin");

    // Oversized body.
    let big = format!("{{\"finess\": \"750000000\", \"name\": \"{}\", \"category\": \"ehpad\"}}", "x".repeat(10_000));
    let response = TestApp::read(
        app.client
            .post(app.url("/api/v1/establishments"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .unwrap(),
    )
    .await;
    response.problem(413);

    // Bad path parameter, bad cursor, bad limit, unknown query parameter.
    for (path, status, words) in [
        ("/api/v1/establishments/not-a-uuid", 400, "invalid"),
        ("/api/v1/users/12345", 400, "invalid"),
        ("/api/v1/establishments?cursor=garbage", 400, "cursor"),
        ("/api/v1/establishments?limit=0", 422, "limit"),
        ("/api/v1/establishments?limit=1000", 422, "limit"),
        ("/api/v1/establishments?limit=many", 400, "query string"),
        ("/api/v1/establishments?sort=name", 400, "query string"),
    ] {
        let response = app.get(path, token).await;
        let detail = response.problem(status)["detail"].as_str().unwrap().to_owned();
        assert!(detail.to_lowercase().contains(words), "{path}: {detail}");
    }

    // Unknown routes and wrong methods, authenticated or not.
    app.get("/api/v1/residents-of-the-moon", token).await.problem(404);
    app.request(Method::GET, "/nothing-here", None, None).await.problem(404);
    let wrong_method = app.request(Method::DELETE, "/api/v1/establishments", Some(token), None).await;
    wrong_method.problem(405);
    assert!(wrong_method.header("allow").is_some_and(|allow| allow.contains("GET") && allow.contains("POST")));
    app.request(Method::PUT, "/livez", None, Some(json!({}))).await.problem(405);
}

/// JSON Schema counts `240.0` as an integer: where the OpenAPI document says integer, a number
/// written with a zero fraction is accepted, and one with a fraction is refused naming the field.
#[tokio::test]
async fn integers_written_with_a_zero_fraction_are_integers() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let patch =
        |body: serde_json::Value| app.request(Method::PATCH, "/api/v1/settings", Some(&tenant.admin.token), Some(body));

    let bad = patch(json!({"expected_version": 0.5, "task_missed_after_minutes": 300})).await;
    assert_eq!(bad.problem(422)["errors"][0]["field"], "expected_version", "{}", bad.text);
    let bad = patch(json!({"expected_version": 0, "task_missed_after_minutes": 300.25})).await;
    assert_eq!(bad.problem(422)["errors"][0]["field"], "task_missed_after_minutes", "{}", bad.text);
    let bad = patch(json!({"expected_version": 1e12, "task_missed_after_minutes": 300})).await;
    assert_eq!(bad.problem(422)["errors"][0]["field"], "expected_version", "out of range: {}", bad.text);

    let changed = patch(json!({"expected_version": 0.0, "task_missed_after_minutes": 300.0})).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.json["task_missed_after_minutes"], 300);
    assert_eq!(changed.json["version"], 1);
    // Creates read their body the same way (see the wound assessment in `wounds`).
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_no_cache() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let ok = app.get("/api/v1/me", &tenant.admin.token).await;
    let generated = ok.header("x-request-id").unwrap().to_owned();
    assert_eq!(generated.len(), 36, "a UUID");
    assert_eq!(ok.header("cache-control"), Some("no-store"));

    // A caller's reasonable request id is kept, and appears in the problem body.
    let response =
        app.client.get(app.url("/api/v1/nope")).header("x-request-id", "tablet-42.req-7").send().await.unwrap();
    let response = TestApp::read(response).await;
    assert_eq!(response.header("x-request-id"), Some("tablet-42.req-7"));
    assert_eq!(response.problem(404)["request_id"], "tablet-42.req-7");
    assert_eq!(response.json["instance"], "/api/v1/nope");

    // An unreasonable one is replaced.
    let response = app.client.get(app.url("/livez")).header("x-request-id", "x".repeat(500)).send().await.unwrap();
    assert_eq!(response.headers()["x-request-id"].len(), 36);
}

#[tokio::test]
async fn slow_requests_are_cut_off_with_a_problem() {
    // A statement that outlives the request timeout: the request is answered 503 and its work
    // is cancelled, while the server keeps serving.
    let app = TestApp::spawn_with(|config| config.http.request_timeout_secs = 1).await;
    let tenant = app.tenant("Alpha").await;
    let owner = app.db.connect(&app.db.owner_url).await;
    // Hold a lock on the tenant's row so that suspending it waits.
    let lock = tokio::spawn(async move {
        owner
            .batch_execute("BEGIN; LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT;")
            .await
            .unwrap();
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let response = app.get("/api/v1/me", &tenant.admin.token).await;
    let problem = response.problem(503);
    assert!(problem["detail"].as_str().unwrap().contains("took longer"), "{problem}");
    lock.await.unwrap();
    assert_eq!(app.get("/api/v1/me", &tenant.admin.token).await.status, 200);
}

/// JSON nested 100,000 deep (a few hundred kilobytes, under the body limit) is refused with a
/// problem that says so, without exhausting the stack; the server serves the next request.
#[tokio::test]
async fn a_body_nested_too_deep_is_refused_with_a_problem() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Profonde").await;
    let token = &tenant.admin.token;
    let depth = 100_000;
    for body in [
        format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
        format!("{{\"name\": {}1{}}}", "{\"a\": ".repeat(depth), "}".repeat(depth)),
    ] {
        let response = TestApp::read(
            app.client
                .post(app.url("/api/v1/establishments"))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(matches!(response.status, 400 | 413 | 422), "{}: {}", response.status, response.text);
        response.problem(response.status);
    }
    assert_eq!(app.get("/api/v1/me", token).await.status, 200);
}
