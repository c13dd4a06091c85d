//! The outbox: what leaves the system, message by message — its status, its attempts, and what a
//! person may do about it (send a failed message again, cancel one).

use axum::extract::State;
use dui_app::outbox::{self, MessageFilter};
use dui_domain::outbox::{MessageStatus, OutboxMessage, OutboxMessageDetail};
use dui_domain::{OutboxMessageId, ResidentId};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{Json, Path, Query};
use crate::pagination::PageBody;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub type OutboxPage = PageBody<OutboxMessage>;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxParams {
    pub status: Option<MessageStatus>,
    /// Where messages go (`dmp`, `mssante`, ...).
    pub channel: Option<String>,
    /// Only the messages about this person.
    pub resident_id: Option<ResidentId>,
    /// The `next_cursor` of the previous page; absent for the first page.
    #[param(pattern = "^A[Q-Za-f][A-Za-z0-9_-]{20}[AEIMQUYcgkosw048]$")]
    pub cursor: Option<String>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// The tenant's outgoing messages, newest first (tenant administrators: all; directors: those
/// leaving from their establishments). Listing them is recorded for each person they are about.
#[utoipa::path(get, path = "/outbox", tag = "outbox", params(OutboxParams),
    responses((status = 200, body = PageBody<OutboxMessage>), (status = 400, body = Problem), (status = 403, body = Problem)))]
pub async fn list_outbox(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Query(params): Query<OutboxParams>,
) -> Result<Json<OutboxPage>, ApiError> {
    let page = crate::pagination::ListParams { cursor: params.cursor, limit: params.limit }.page()?;
    let filter = MessageFilter { status: params.status, channel: params.channel, resident: params.resident_id };
    Ok(Json(outbox::list(state.app(), &scope, filter, page).await?.into()))
}

/// One outgoing message with every attempt made at sending it.
#[utoipa::path(get, path = "/outbox/{message_id}", tag = "outbox", params(("message_id" = OutboxMessageId, Path)),
    responses((status = 200, body = OutboxMessageDetail), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_outbox_message(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<OutboxMessageId>,
) -> Result<Json<OutboxMessageDetail>, ApiError> {
    Ok(Json(outbox::get(state.app(), &scope, id).await?))
}

/// Sends a failed message again, with a new allowance of attempts; 409 when it is not failed.
#[utoipa::path(post, path = "/outbox/{message_id}/retry", tag = "outbox", params(("message_id" = OutboxMessageId, Path)),
    responses((status = 200, body = OutboxMessage), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn retry_outbox_message(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<OutboxMessageId>,
) -> Result<Json<OutboxMessage>, ApiError> {
    Ok(Json(outbox::retry(state.app(), &scope, id).await?))
}

/// Cancels a message that waits or failed; 409 when it is being sent or is finished.
#[utoipa::path(post, path = "/outbox/{message_id}/cancel", tag = "outbox", params(("message_id" = OutboxMessageId, Path)),
    responses((status = 200, body = OutboxMessage), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_outbox_message(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<OutboxMessageId>,
) -> Result<Json<OutboxMessage>, ApiError> {
    Ok(Json(outbox::cancel(state.app(), &scope, id).await?))
}

/// The messages about a person (documents sent to the shared record, secure messages), newest
/// first, for those who see the record; the reading is recorded.
#[utoipa::path(get, path = "/residents/{resident_id}/outbox", tag = "outbox", params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Vec<OutboxMessage>), (status = 404, body = Problem)))]
pub async fn resident_outbox(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
) -> Result<Json<Vec<OutboxMessage>>, ApiError> {
    Ok(Json(outbox::of_resident(state.app(), &scope, resident).await?))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list_outbox))
        .routes(routes!(get_outbox_message))
        .routes(routes!(retry_outbox_message))
        .routes(routes!(cancel_outbox_message))
        .routes(routes!(resident_outbox))
}
