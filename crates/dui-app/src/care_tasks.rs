//! The daily care plan (plan de soins): each day's tasks of a unit or establishment, and the
//! traceability of care — done, not done (why), refused — recorded per occurrence, amended,
//! never deleted.

use chrono::{DateTime, NaiveDate, Utc};
use dui_domain::audit::AuditAction;
use dui_domain::care_plan::{PlanStatus, PlanVersion};
use dui_domain::care_task::{self, NewTaskRecord, Task, TaskKind, TaskRecord, TaskState, TaskStatus};
use dui_domain::handover::{HandoverEventKind, NewHandoverEvent};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::period::TimeBound;
use dui_domain::policy;
use dui_domain::record::NoteScope;
use dui_domain::scope::TenantScope;
use dui_domain::{EstablishmentId, PlanVersionId, ResidentId, TaskRecordId, UnitId};
use dui_storage::care_tasks::{self, TaskRef};
use dui_storage::{Mode, StoreError, Tx, absences, care_plans, restraints};

use crate::access::{acting, refuse};
use crate::{App, AppError, AppResult};

/// Which tasks of which day.
#[derive(Debug, Clone, Copy)]
pub struct DayTasks {
    pub establishment: EstablishmentId,
    /// The day, in the establishment's calendar (default: today).
    pub date: Option<NaiveDate>,
    pub unit: Option<UnitId>,
    /// Only the tasks in this state.
    pub state: Option<TaskState>,
    /// Only the tasks of the caller's roles or assigned to them by name.
    pub mine: bool,
    /// The shift in progress instead of a day.
    pub shift: bool,
}

/// What happened for an occurrence of a scheduled action.
#[derive(Debug, Clone)]
pub struct RecordTask {
    pub resident: ResidentId,
    pub plan_version: PlanVersionId,
    pub action: uuid::Uuid,
    /// The occurrence, as listed by the day's tasks.
    pub scheduled_for: DateTime<Utc>,
    pub status: TaskStatus,
    /// When it was done (default: now).
    pub performed_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub key: Option<IdempotencyKey>,
}

/// A correction of a task record.
#[derive(Debug, Clone)]
pub struct AmendTask {
    pub resident: ResidentId,
    pub record: TaskRecordId,
    pub status: TaskStatus,
    pub performed_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub key: Option<IdempotencyKey>,
}

/// The day's tasks of an establishment or one of its units: who (role or person) does what,
/// when, for whom, and where each stands.
pub async fn day(app: &App, scope: &TenantScope, query: DayTasks) -> AppResult<Vec<Task>> {
    if !scope.resident_access().reaches(query.establishment) {
        return Err(AppError::NotFound);
    }
    if query.shift && query.date.is_some() {
        return Err(AppError::invalid("shift", "cannot be combined with date"));
    }
    crate::structure::get_establishment(app, scope, query.establishment).await?;
    let (establishment, now) = (query.establishment, Utc::now());
    let mut tx = app.db().begin(scope, Mode::Write);
    let missed_after = dui_storage::settings::get(&mut tx).await?.missed_after();
    let mut tasks = if query.shift {
        let (since, until) = care_tasks::current_shift(&mut tx, establishment, now).await?;
        let local = care_tasks::local_times(&mut tx, establishment, &[since, until]).await?;
        let (first, last) = (local[0].date(), local[1].date());
        let mut tasks = Vec::new();
        let mut day = first;
        loop {
            tasks.extend(tasks_of_day(&mut tx, establishment, query.unit, day, now, missed_after).await?);
            match day.succ_opt() {
                Some(next) if next <= last => day = next,
                _ => break,
            }
        }
        // A reassessment outstanding from before the shift stays on it until it is done.
        let outstanding = |t: &Task| t.kind == TaskKind::RestraintReassessment && t.reassessment_id.is_none();
        tasks.retain(|t| (t.scheduled_for >= since || outstanding(t)) && t.scheduled_for < until);
        tasks.sort_by_key(|t| t.scheduled_for);
        // A night shift spans two days: a reassessment due on the first is also outstanding on
        // the second.
        let mut seen = std::collections::HashSet::new();
        tasks.retain(|t| t.restraint_id.is_none() || seen.insert((t.restraint_id, t.scheduled_for)));
        tasks
    } else {
        let day = query.date.unwrap_or_else(|| now.date_naive());
        tasks_of_day(&mut tx, establishment, query.unit, day, now, missed_after).await?
    };
    suspend_while_away(&mut tx, &mut tasks, now).await?;
    tx.commit().await?;
    if let Some(wanted) = query.state {
        tasks.retain(|t| t.state == wanted);
    }
    if query.mine {
        let roles: Vec<_> = scope
            .grants()
            .iter()
            .filter(|g| g.establishment.is_none_or(|e| e == establishment))
            .map(|g| g.role)
            .collect();
        tasks.retain(|t| t.who.user_id == Some(scope.user_id()) || t.who.role.is_some_and(|r| roles.contains(&r)));
    }
    Ok(tasks)
}

/// The tasks of one day: the scheduled actions of the plans in force, and the reassessments of
/// restraints due (for those who read the care team's data), in time order.
async fn tasks_of_day(
    tx: &mut Tx<'_>,
    establishment: EstablishmentId,
    unit: Option<UnitId>,
    day: NaiveDate,
    now: DateTime<Utc>,
    missed_after: chrono::Duration,
) -> AppResult<Vec<Task>> {
    let mut tasks = care_tasks::day_tasks(tx, establishment, unit, day, now, missed_after).await?;
    let listed: Vec<ResidentId> = tasks.iter().map(|t| t.resident.id).collect();
    tasks.extend(restraints::day_reassessments(tx, establishment, unit, day, now, &listed).await?);
    tasks.sort_by(|a, b| (a.scheduled_for, &a.resident.family_name).cmp(&(b.scheduled_for, &b.resident.family_name)));
    Ok(tasks)
}

/// Marks suspended the tasks not recorded whose time falls while their person is away (the
/// absences' rule, `dui_domain::absence`): not owed, neither late nor missed.
async fn suspend_while_away(tx: &mut Tx<'_>, tasks: &mut [Task], now: DateTime<Utc>) -> AppResult<()> {
    let (Some(first), Some(last)) =
        (tasks.iter().map(|t| t.scheduled_for).min(), tasks.iter().map(|t| t.scheduled_for).max())
    else {
        return Ok(());
    };
    let mut residents: Vec<ResidentId> = tasks.iter().map(|t| t.resident.id).collect();
    residents.sort();
    residents.dedup();
    let periods = absences::away_periods(tx, &residents, first, last + chrono::Duration::seconds(1), now).await?;
    care_task::suspend_while_away(tasks, &periods);
    Ok(())
}

/// An occurrence is a task of a version from its activation to its end; what was done for it
/// was done once the plan was in force, and not long before its time (a day at most: the task
/// of 08:00 is not done the week before).
fn in_force(plan: &PlanVersion, scheduled_for: DateTime<Utc>, performed_at: DateTime<Utc>) -> AppResult<()> {
    let Some(activated) = plan.activated_at else {
        return Err(AppError::invalid("plan_version_id", "is a draft: only plans in force have tasks"));
    };
    let utc = |at: DateTime<Utc>| at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    if scheduled_for < activated || plan.ended_at.is_some_and(|ended| scheduled_for >= ended) {
        return Err(AppError::invalid(
            "scheduled_for",
            &format!(
                "is not while this plan version was in force (from {}{})",
                utc(activated),
                plan.ended_at.map(|e| format!(" to {}", utc(e))).unwrap_or_default()
            ),
        ));
    }
    if performed_at < activated {
        return Err(AppError::invalid(
            "performed_at",
            &format!("is before this plan version was in force ({})", utc(activated)),
        ));
    }
    if performed_at < scheduled_for - chrono::Duration::days(1) {
        return Err(AppError::invalid("performed_at", "is more than a day before the task's time"));
    }
    Ok(())
}

/// What the hand-over says of a task refused or not done (nothing of one done): to the whole
/// team, who share the care.
fn reported(what: &str, new: &NewTaskRecord) -> Option<NewHandoverEvent> {
    let (kind, word) = match new.status {
        TaskStatus::Done => return None,
        TaskStatus::Refused => (HandoverEventKind::TaskRefused, "refusé"),
        TaskStatus::NotDone => (HandoverEventKind::TaskNotDone, "non fait"),
    };
    let reason = new.reason.as_deref().unwrap_or_default();
    Some(NewHandoverEvent {
        kind,
        source_type: "care_task_record",
        scope: NoteScope::WholeTeam,
        summary: format!("{what} : {word} — {reason}"),
        occurred_at: new.performed_at,
    })
}

/// Everyone who writes notes about the person carries out care: home helpers included.
async fn may_record(tx: &mut Tx<'_>, resident: ResidentId, action: AuditAction) -> AppResult<()> {
    let establishments = acting(tx, resident, action).await?;
    if !policy::can_write_note(tx.scope()?, &establishments, NoteScope::WholeTeam) {
        return Err(refuse(tx, action, resident, "record care").await);
    }
    Ok(())
}

/// Records what happened for a task: done, not done (with why), or refused by the person. Once
/// per occurrence: corrections are amendments.
pub async fn record(app: &App, scope: &TenantScope, command: RecordTask) -> AppResult<Created<TaskRecord>> {
    let now = Utc::now();
    let new = NewTaskRecord::validate(command.status, command.performed_at.unwrap_or(now), command.reason, now)?;
    let resident = command.resident;
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record(&mut tx, resident, AuditAction::CareTaskRecord).await?;
    // The occurrence must be one of the plan's schedule, in the establishment's time zone.
    let plan = match care_plans::version(&mut tx, resident, command.plan_version).await {
        Err(StoreError::NotFound) => {
            return Err(AppError::invalid("plan_version_id", "is not a version of this person's plan"));
        }
        other => other?,
    };
    if plan.status == PlanStatus::Draft {
        return Err(AppError::invalid("plan_version_id", "is a draft: only plans in force have tasks"));
    }
    in_force(&plan, command.scheduled_for, new.performed_at)?;
    let action = plan
        .content
        .actions
        .iter()
        .find(|a| a.id == Some(command.action))
        .ok_or_else(|| AppError::invalid("action_id", "is not an action of this plan version"))?;
    let schedule = action.schedule.as_ref().ok_or_else(|| AppError::invalid("action_id", "has no schedule"))?;
    let local = care_tasks::local_times(&mut tx, plan.establishment_id, &[command.scheduled_for]).await?;
    let local = local.first().ok_or(AppError::NotFound)?;
    if !schedule.occurrences_within(local.date(), action.from, action.to).iter().any(|o| o.at == local.time()) {
        return Err(AppError::invalid("scheduled_for", "is not a time this action is scheduled"));
    }
    // While the person is away the task is suspended: there is nothing to record (not even
    // "not done"), and a record would say they were cared for while absent.
    if let Some(away) = absences::away_at(&mut tx, resident, command.scheduled_for, now).await? {
        let message = format!(
            "falls while the person is away ({} since {}): the task is suspended, there is nothing to record",
            away.kind,
            away.from.format("%Y-%m-%dT%H:%M:%SZ")
        );
        return Err(AppError::invalid("scheduled_for", &message));
    }
    let event = reported(&action.what, &new);
    let task = TaskRef {
        plan_version_id: command.plan_version.as_uuid(),
        action_id: command.action,
        scheduled_for: command.scheduled_for,
    };
    Ok(care_tasks::record(tx, command.key.as_ref(), resident, task, &new, None, event.as_ref()).await?)
}

/// Corrects a task record: a new record of the same occurrence that points to it; both stay.
pub async fn amend(app: &App, scope: &TenantScope, command: AmendTask) -> AppResult<Created<TaskRecord>> {
    let now = Utc::now();
    let new = NewTaskRecord::validate(command.status, command.performed_at.unwrap_or(now), command.reason, now)?;
    let resident = command.resident;
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record(&mut tx, resident, AuditAction::CareTaskAmend).await?;
    let task = care_tasks::record_ref(&mut tx, resident, command.record).await?;
    let plan = care_plans::version(&mut tx, resident, PlanVersionId::from_uuid(task.plan_version_id)).await?;
    in_force(&plan, task.scheduled_for, new.performed_at)?;
    let what = plan.content.actions.iter().find(|a| a.id == Some(task.action_id)).map_or("Soin", |a| a.what.as_str());
    let event = reported(what, &new);
    Ok(care_tasks::record(tx, command.key.as_ref(), resident, task, &new, Some(command.record), event.as_ref()).await?)
}

/// The traceability of the person's care over a period (at most 92 days): every record,
/// amendments included. Days are read in the calendar of the person's establishment, an end day
/// included.
pub async fn records(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    from: TimeBound,
    to: TimeBound,
) -> AppResult<Vec<TaskRecord>> {
    let mut tx = app.db().begin(scope, Mode::Write);
    let [from, to] = crate::period::resolve(&mut tx, resident, [Some(from), Some(to)]).await?;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(AppError::invalid("to", "is not a day of the calendar"));
    };
    if to <= from || to - from > chrono::Duration::days(92) {
        return Err(AppError::invalid("to", "must be after from, at most 92 days"));
    }
    Ok(care_tasks::records(tx, resident, from, to).await?)
}
