//! Probes, metrics and the served documents.

use dui_testkit::TestApp;
use reqwest::Method;

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_show_the_pool() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/me", &tenant.admin.token).await.status, 200);
    }
    app.get(&format!("/api/v1/establishments/{}", uuid::Uuid::now_v7()), &tenant.admin.token).await.problem(404);
    app.request(Method::GET, "/no/such/route", None, None).await.problem(404);

    let metrics = app.request(Method::GET, "/metrics", None, None).await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.header("content-type").unwrap().starts_with("application/openmetrics-text"));
    let text = &metrics.text;
    for line in [
        r#"dui_http_requests_total{method="GET",route="/api/v1/me",status="200"} 3"#,
        r#"dui_http_requests_total{method="GET",route="/api/v1/establishments/{establishment_id}",status="404"} 1"#,
        r#"dui_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"dui_http_request_duration_seconds_count{method="GET",route="/api/v1/me",status="200"} 3"#,
        r#"dui_db_pool_connections{state="max"} 4"#,
    ] {
        assert!(text.contains(line), "missing {line} in:\n{text}");
    }
    assert!(text.contains(r#"dui_db_pool_connections{state="open"}"#));
    // Concrete ids never become label values.
    assert!(!text.contains(&tenant.establishments[0].id.to_string()));
}

#[tokio::test]
async fn the_openapi_document_is_served() {
    let app = TestApp::spawn().await;
    let served = app.request(Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.text, dui_api::openapi_json());
    assert_eq!(served.json["openapi"], "3.1.0");
}
