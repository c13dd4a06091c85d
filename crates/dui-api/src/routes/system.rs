//! Probes, metrics, and the documents that describe the server.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::Json;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// The process is alive. Never touches the database, so a database outage does not get the
/// process restarted.
#[utoipa::path(get, path = "/livez", tag = "system", responses((status = 200, body = Health)))]
pub async fn livez() -> Json<Health> {
    Json(Health { status: "alive" })
}

/// The server can serve requests: PostgreSQL answers and the server is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = Problem)))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    if state.is_shutting_down() {
        return Err(ApiError::Unavailable("shutting down".to_owned()));
    }
    state
        .db()
        .ping(state.config().readiness_timeout)
        .await
        .map_err(|e| ApiError::Unavailable(format!("database: {e}")))?;
    Ok(Json(Health { status: "ready" }))
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, content_type = "application/openmetrics-text")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.metrics().render(state.db().status());
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

/// The public keys of the server's own token issuer (RFC 7517).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "system", responses((status = 200, content_type = "application/json")))]
pub async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = axum::Json(state.issuer().jwks()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}
