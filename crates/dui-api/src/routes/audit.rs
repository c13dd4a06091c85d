//! The tenant's audit trail, for its data-protection officer.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::Query;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// The period of the tenant's trail: instants (the trail spans establishments and their time
/// zones).
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodParams {
    /// From (inclusive).
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// To (exclusive).
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

/// The audit trail over a period (at most 31 days), one JSON event per line, each with its place
/// in the tenant's hash chain (tenant admins). The export is itself recorded.
#[utoipa::path(get, path = "/audit/export", tag = "audit", params(PeriodParams),
    responses((status = 200, content_type = "application/x-ndjson"), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn export_audit(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Query(period): Query<PeriodParams>,
) -> Result<Response, ApiError> {
    let mut body = Vec::new();
    let limit = Some(dui_app::audit::MAX_EXPORT_DAYS);
    dui_app::audit::export(state.app(), &scope, period.from, period.to, limit, &mut body).await?;
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    Ok(response)
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(routes!(export_audit))
}
