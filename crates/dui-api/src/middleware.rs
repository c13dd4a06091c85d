//! The layers around every request: request id, tracing span, timeout, problem details for
//! every error, security headers and metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use uuid::Uuid;

use crate::problem::{PROBLEM_JSON, Problem};
use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id: the caller's `x-request-id` when it is reasonable, else a new UUIDv7.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The route template a request matched, carried from the router to the outer layer.
#[derive(Debug, Clone)]
struct MatchedRoute(String);

fn acceptable_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let ok = !text.is_empty()
        && text.len() <= 128
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| text.to_owned())
}

/// Where the route that matched is noted for the outer layer as soon as routing is done: a
/// request cancelled at its timeout has no response to carry it.
#[derive(Debug, Clone, Default)]
struct RouteSlot(Arc<std::sync::OnceLock<String>>);

/// Runs inside routing (as a route layer): records which route matched.
pub async fn capture_route(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    if let (Some(route), Some(slot)) = (&route, request.extensions().get::<RouteSlot>()) {
        let _ = slot.0.set(route.clone());
    }
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(MatchedRoute(route));
    }
    response
}

/// The outermost layer.
pub async fn outer(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(acceptable_request_id)
        .unwrap_or_else(|| Uuid::now_v7().to_string());
    request.extensions_mut().insert(RequestId(request_id.clone()));
    // Held until the response is made: the tenant's place, once authentication takes one (lent
    // to the storage layer, which gives it up while a commit is flushed).
    let place = crate::limits::TenantPlace::default();
    request.extensions_mut().insert(place.clone());
    let route_slot = RouteSlot::default();
    request.extensions_mut().insert(route_slot.clone());
    let method = request.method().clone();
    // The path only: query strings may one day carry search terms about people, and logs must
    // not.
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, path = %path);
    let started = Instant::now();
    // A document's upload may take longer: its content arrives before anything else is done.
    let upload =
        method == axum::http::Method::POST && path.starts_with("/api/v1/residents/") && path.ends_with("/documents");
    let timeout = if upload { state.config().upload_timeout } else { state.config().request_timeout };

    let lent = dui_storage::place::lend(Arc::new(place.clone()), next.run(request));
    let outcome = tokio::time::timeout(timeout, lent).instrument(span.clone()).await;
    let mut response = match outcome {
        Ok(response) => response,
        Err(_) => {
            span.in_scope(|| {
                tracing::warn!(timeout_ms = timeout.as_millis() as u64, "request timed out and was cancelled")
            });
            let mut problem = Problem::for_status(StatusCode::SERVICE_UNAVAILABLE);
            problem.detail =
                format!("The request took longer than {} s and was cancelled; retry shortly.", timeout.as_secs());
            let mut response = problem.to_response();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            if let Some(route) = route_slot.0.get() {
                response.extensions_mut().insert(MatchedRoute(route.clone()));
            }
            response
        }
    };

    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        response = finish_problem(response, &request_id, &path);
    }
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID, value);
    }
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));

    let route = response.extensions().get::<MatchedRoute>().map_or("unmatched", |r| r.0.as_str()).to_owned();
    let elapsed = started.elapsed();
    state.metrics().record_request(method.as_str(), &route, status.as_u16(), elapsed);
    span.in_scope(|| log_completion(status, elapsed, &route));
    drop(place);
    response
}

fn log_completion(status: StatusCode, elapsed: Duration, route: &str) {
    let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), elapsed_ms, route, "request completed");
    } else {
        tracing::info!(status = status.as_u16(), elapsed_ms, route, "request completed");
    }
}

/// Gives every error response the problem shape, with the request id and path. Responses made
/// by handlers already carry their [`Problem`]; others (no route, wrong method, panic, body
/// limit) get the generic problem of their status. Their headers (Allow, Retry-After,
/// WWW-Authenticate) are kept.
fn finish_problem(mut response: Response, request_id: &str, path: &str) -> Response {
    let status = response.status();
    let mut problem = response.extensions_mut().remove::<Problem>().unwrap_or_else(|| Problem::for_status(status));
    problem.request_id = Some(request_id.to_owned());
    problem.instance = Some(path.to_owned());
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    Response::from_parts(parts, Body::from(serde_json::to_vec(&problem).unwrap_or_default()))
}
