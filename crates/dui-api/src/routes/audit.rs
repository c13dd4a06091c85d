//! The tenant's audit trail, for its data-protection officer.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use dui_domain::policy;

use crate::auth::TenantAuth;
use crate::extract::Query;
use crate::problem::{ApiError, Problem};
use crate::routes::residents::PeriodParams;
use crate::state::AppState;

/// The longest period one request may export; the CLI (`dui audit export`) has no limit.
const MAX_DAYS: i64 = 31;

/// The audit trail over a period (at most 31 days), one JSON event per line, each with its place
/// in the tenant's hash chain (tenant admins). The export is itself recorded.
#[utoipa::path(get, path = "/audit/export", tag = "audit", params(PeriodParams),
    responses((status = 200, content_type = "application/x-ndjson"), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn export_audit(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Query(period): Query<PeriodParams>,
) -> Result<Response, ApiError> {
    if !policy::can_export_audit(&scope) {
        return Err(ApiError::Forbidden("Exporting the audit trail is for tenant administrators.".to_owned()));
    }
    let (Some(from), Some(to)) = (period.from, period.to) else {
        return Err(dui_domain::ValidationErrors::single("from", "give from and to (at most 31 days apart)").into());
    };
    if to <= from || to - from > chrono::Duration::days(MAX_DAYS) {
        return Err(dui_domain::ValidationErrors::single("to", "must be after from, at most 31 days later").into());
    }
    let mut body = Vec::new();
    state.db().export_audit(&scope, Some(from), Some(to), &mut body).await?;
    let mut response = body.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    Ok(response)
}
