//! The daily care plan (plan de soins): each day's tasks of a unit or establishment, and the
//! traceability of care — done, not done (why), refused — recorded per occurrence, amended,
//! never deleted.

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use dui_app::care_tasks;
use dui_domain::care_task::{Task, TaskRecord, TaskState, TaskStatus};
use dui_domain::{EstablishmentId, PlanVersionId, ResidentId, TaskRecordId, UnitId, WoundProtocolId};
use serde::Deserialize;
use dui_domain::period::TimeBound;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::TenantAuth;
use crate::extract::{CreateRequest, IdempotencyHeader, Json, Path, Query, created};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DayParams {
    /// The day, in the establishment's calendar (default: today).
    pub date: Option<NaiveDate>,
    /// One unit (or home-help round) of the establishment.
    pub unit_id: Option<UnitId>,
    /// Only the tasks in this state (e.g. `late`: the shift's late and missed tasks).
    pub state: Option<TaskState>,
    /// Only the tasks of your roles or assigned to you by name.
    #[serde(default)]
    pub mine: bool,
    /// The shift in progress instead of a day (a night shift spans two dates): with
    /// `state=late`, what the shift has left undone so far.
    #[serde(default)]
    pub shift: bool,
}

/// The day's tasks of an establishment or one of its units: who (role or person) does what,
/// when, for whom, and where each stands (pending, due, late, done, not done, refused).
#[utoipa::path(get, path = "/establishments/{establishment_id}/tasks", tag = "care",
    params(("establishment_id" = EstablishmentId, Path), DayParams),
    responses((status = 200, body = Vec<Task>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn day_tasks(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(establishment): Path<EstablishmentId>,
    Query(params): Query<DayParams>,
) -> Result<Json<Vec<Task>>, ApiError> {
    let query = care_tasks::DayTasks {
        establishment,
        date: params.date,
        unit: params.unit_id,
        state: params.state,
        mine: params.mine,
        shift: params.shift,
    };
    Ok(Json(care_tasks::day(state.app(), &scope, query).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordTask {
    /// The plan version of the action, as listed by the day's tasks (or `wound_protocol_id`).
    pub plan_version_id: Option<Uuid>,
    /// The wound's protocol version, for a dressing, as listed by the day's tasks.
    pub wound_protocol_id: Option<Uuid>,
    /// The plan's action, or the wound of a dressing.
    pub action_id: Uuid,
    /// The occurrence, as listed by the day's tasks.
    pub scheduled_for: DateTime<Utc>,
    pub status: TaskStatus,
    /// When it was done (default: now).
    pub performed_at: Option<DateTime<Utc>>,
    /// Why it was not done, or what the person said: required unless done.
    pub reason: Option<String>,
}

/// Records what happened for a task: done, not done (with why), or refused by the person. Once
/// per occurrence (409 after): corrections are amendments. A plan's task names its plan
/// version; a wound's dressing its protocol version (recorded by the care team).
#[utoipa::path(post, path = "/residents/{resident_id}/tasks", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = RecordTask,
    responses((status = 201, body = TaskRecord), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn record_task(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<RecordTask>,
) -> Result<Response, ApiError> {
    let command = care_tasks::RecordTask {
        resident,
        plan_version: body.plan_version_id.map(PlanVersionId::from_uuid),
        wound_protocol: body.wound_protocol_id.map(WoundProtocolId::from_uuid),
        action: body.action_id,
        scheduled_for: body.scheduled_for,
        status: body.status,
        performed_at: body.performed_at,
        reason: body.reason,
        key,
    };
    Ok(created(care_tasks::record(state.app(), &scope, command).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmendTask {
    pub status: TaskStatus,
    pub performed_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
}

/// Corrects a task record: a new record of the same occurrence that points to it; both stay.
#[utoipa::path(post, path = "/residents/{resident_id}/tasks/{record_id}/amendments", tag = "care",
    params(("resident_id" = ResidentId, Path), ("record_id" = TaskRecordId, Path), IdempotencyHeader), request_body = AmendTask,
    responses((status = 201, body = TaskRecord), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn amend_task(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, record)): Path<(ResidentId, TaskRecordId)>,
    CreateRequest { body, key }: CreateRequest<AmendTask>,
) -> Result<Response, ApiError> {
    let command = care_tasks::AmendTask {
        resident,
        record,
        status: body.status,
        performed_at: body.performed_at,
        reason: body.reason,
        key,
    };
    Ok(created(care_tasks::amend(state.app(), &scope, command).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// From (inclusive): a day (2026-12-01), from its first hour in the establishment's
    /// calendar, or an instant.
    #[param(inline)]
    pub from: TimeBound,
    /// To: a day (included), or an instant (excluded); at most 92 days after `from`.
    #[param(inline)]
    pub to: TimeBound,
}

/// The traceability of the person's care over a period: every record, amendments included.
#[utoipa::path(get, path = "/residents/{resident_id}/tasks", tag = "care",
    params(("resident_id" = ResidentId, Path), PeriodQuery),
    responses((status = 200, body = Vec<TaskRecord>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn task_records(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    Query(period): Query<PeriodQuery>,
) -> Result<Json<Vec<TaskRecord>>, ApiError> {
    Ok(Json(care_tasks::records(state.app(), &scope, resident, period.from, period.to).await?))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(day_tasks))
        .routes(routes!(task_records, record_task))
        .routes(routes!(amend_task))
}
