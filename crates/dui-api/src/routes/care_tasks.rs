//! The daily care plan (plan de soins): each day's tasks of a unit or establishment, and the
//! traceability of care — done, not done (why), refused — recorded per occurrence, amended,
//! never deleted.

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use dui_domain::care_plan::PlanStatus;
use dui_domain::care_task::{NewTaskRecord, Task, TaskRecord, TaskState, TaskStatus};
use dui_domain::policy;
use dui_domain::{EstablishmentId, ResidentId, TaskRecordId, UnitId, ValidationErrors};
use dui_storage::care_tasks::TaskRef;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::TenantAuth;
use crate::extract::{CreateRequest, IdempotencyHeader, Json, Path, Query, created};
use crate::problem::{ApiError, Problem};
use crate::routes::residents::{acting_establishments, refuse};
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
    if !scope.resident_access().reaches(establishment) {
        return Err(ApiError::NotFound);
    }
    state.db().get_establishment(&scope, establishment).await?;
    let now = Utc::now();
    let mut tasks = if params.shift {
        if params.date.is_some() {
            return Err(ValidationErrors::single("shift", "cannot be combined with date").into());
        }
        let (since, until) = state.db().current_shift(&scope, establishment, now).await?;
        let local = state.db().local_times(&scope, establishment, &[since, until]).await?;
        let (first, last) = (local[0].date(), local[1].date());
        let mut tasks = Vec::new();
        let mut day = first;
        loop {
            tasks.extend(state.db().day_tasks(&scope, establishment, params.unit_id, day, now).await?);
            match day.succ_opt() {
                Some(next) if next <= last => day = next,
                _ => break,
            }
        }
        tasks.retain(|t| t.scheduled_for >= since && t.scheduled_for < until);
        tasks.sort_by_key(|t| t.scheduled_for);
        tasks
    } else {
        let day = params.date.unwrap_or_else(|| now.date_naive());
        state.db().day_tasks(&scope, establishment, params.unit_id, day, now).await?
    };
    if let Some(wanted) = params.state {
        tasks.retain(|t| t.state == wanted);
    }
    if params.mine {
        let roles: Vec<_> = scope
            .grants()
            .iter()
            .filter(|g| g.establishment.is_none_or(|e| e == establishment))
            .map(|g| g.role)
            .collect();
        tasks.retain(|t| t.who.user_id == Some(scope.user_id()) || t.who.role.is_some_and(|r| roles.contains(&r)));
    }
    Ok(Json(tasks))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordTask {
    pub plan_version_id: Uuid,
    pub action_id: Uuid,
    /// The occurrence, as listed by the day's tasks.
    pub scheduled_for: DateTime<Utc>,
    pub status: TaskStatus,
    /// When it was done (default: now).
    pub performed_at: Option<DateTime<Utc>>,
    /// Why it was not done, or what the person said: required unless done.
    pub reason: Option<String>,
}

async fn may_record(
    state: &AppState,
    scope: &dui_domain::scope::TenantScope,
    resident: ResidentId,
    action: &str,
) -> Result<(), ApiError> {
    let establishments = acting_establishments(state, scope, resident, action).await?;
    // Everyone who writes notes about the person carries out care: home helpers included.
    if !policy::can_write_note(scope, &establishments, dui_domain::record::NoteScope::WholeTeam) {
        return Err(refuse(state, scope, action, resident, "record care").await);
    }
    Ok(())
}

/// Records what happened for a task: done, not done (with why), or refused by the person. Once
/// per occurrence (409 after): corrections are amendments.
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
    let now = Utc::now();
    let new = NewTaskRecord::validate(body.status, body.performed_at.unwrap_or(now), body.reason, now)?;
    may_record(&state, &scope, resident, "care_task.record").await?;
    // The occurrence must be one of the plan's schedule, in the establishment's time zone.
    let plans = state
        .db()
        .list_plan_versions(&scope, resident, Some(dui_domain::PlanVersionId::from_uuid(body.plan_version_id)))
        .await?;
    let plan = plans.first().ok_or_else(|| {
        ApiError::from(ValidationErrors::single("plan_version_id", "is not a version of this person's plan"))
    })?;
    if plan.status == PlanStatus::Draft {
        return Err(ValidationErrors::single("plan_version_id", "is a draft: only plans in force have tasks").into());
    }
    let action = plan.content.actions.iter().find(|a| a.id == Some(body.action_id)).ok_or_else(|| {
        ApiError::from(ValidationErrors::single("action_id", "is not an action of this plan version"))
    })?;
    let schedule = action
        .schedule
        .as_ref()
        .ok_or_else(|| ApiError::from(ValidationErrors::single("action_id", "has no schedule")))?;
    let local = state.db().local_times(&scope, plan.establishment_id, &[body.scheduled_for]).await?;
    let local = local.first().ok_or(ApiError::NotFound)?;
    if !schedule.occurrences_within(local.date(), action.from, action.to).iter().any(|o| o.at == local.time()) {
        return Err(ValidationErrors::single("scheduled_for", "is not a time this action is scheduled").into());
    }
    let task =
        TaskRef { plan_version_id: body.plan_version_id, action_id: body.action_id, scheduled_for: body.scheduled_for };
    Ok(created(state.db().record_task(&scope, key.as_ref(), resident, task, &new, None).await?))
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
    let now = Utc::now();
    let new = NewTaskRecord::validate(body.status, body.performed_at.unwrap_or(now), body.reason, now)?;
    may_record(&state, &scope, resident, "care_task.amend").await?;
    let task = state.db().task_record_ref(&scope, resident, record).await?;
    Ok(created(state.db().record_task(&scope, key.as_ref(), resident, task, &new, Some(record)).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// From (inclusive).
    pub from: DateTime<Utc>,
    /// To (exclusive); at most 92 days after `from`.
    pub to: DateTime<Utc>,
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
    if period.to <= period.from || period.to - period.from > chrono::Duration::days(92) {
        return Err(ValidationErrors::single("to", "must be after from, at most 92 days").into());
    }
    Ok(Json(state.db().task_records(&scope, resident, period.from, period.to).await?))
}
