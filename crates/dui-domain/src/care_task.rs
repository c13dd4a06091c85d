//! The daily care plan (plan de soins): the scheduled actions of the plans in force, and the
//! dressings of wounds' care protocols, become each day's tasks, and what was done, not done
//! (why) or refused is recorded — never deleted; a correction amends a record.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::absence::{AwayPeriod, away_at};
use crate::care_plan::Performer;
use crate::transmission::ResidentName;
use crate::validation::ValidationErrors;
use crate::{ReassessmentId, ResidentId, RestraintId, TaskRecordId, UserId};

/// A task not recorded this long after its time is late.
pub const GRACE_MINUTES: i64 = 60;

crate::text_codes! {
    pub enum TaskStatus {
        Done = "done",
        /// Not done, with a reason.
        NotDone = "not_done",
        /// Refused by the person.
        Refused = "refused",
    }
}

crate::text_codes! {
    /// Where a task of the day stands.
    pub enum TaskState {
        /// Not yet time.
        Pending = "pending",
        /// Its time has come (within the grace period).
        Due = "due",
        /// Past its time and the grace period, not recorded.
        Late = "late",
        /// Not recorded by the end of the window the tenant set (`task_missed_after_minutes`,
        /// four hours by default): the moment has passed, it is no longer to be done as
        /// planned. A record may still say what happened.
        Missed = "missed",
        Done = "done",
        NotDone = "not_done",
        Refused = "refused",
        /// The person is away (an absence): not owed, it resumes on their return.
        Suspended = "suspended",
    }
}

crate::text_codes! {
    /// Where a task comes from.
    pub enum TaskKind {
        /// A scheduled action of the projet personnalisé in force; recorded as a task record.
        CarePlan = "care_plan",
        /// The reassessment of a restraint, due 24 hours after the last one; recorded as a
        /// reassessment of the restraint.
        RestraintReassessment = "restraint_reassessment",
        /// A dressing of a wound's care protocol in force; recorded as a task record naming the
        /// protocol's version (the care team's).
        Dressing = "dressing",
    }
}

/// A record of a task, as kept.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskRecord {
    pub id: TaskRecordId,
    pub resident_id: ResidentId,
    /// The plan version of the action (none for a dressing).
    pub plan_version_id: Option<Uuid>,
    /// The version of the wound's care protocol, for a dressing.
    pub wound_protocol_id: Option<Uuid>,
    /// The plan's action, or the wound of a dressing.
    pub action_id: Uuid,
    pub scheduled_for: DateTime<Utc>,
    pub status: TaskStatus,
    pub performed_at: DateTime<Utc>,
    pub reason: Option<String>,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    /// The record this one corrects.
    pub amends: Option<TaskRecordId>,
}

impl std::fmt::Debug for TaskRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRecord").field("id", &self.id).field("status", &self.status).finish_non_exhaustive()
    }
}

/// A task of the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Task {
    pub resident: ResidentName,
    pub kind: TaskKind,
    /// A care-plan task: the plan version and its action.
    pub plan_version_id: Option<Uuid>,
    /// A dressing: the version of the wound's care protocol.
    pub wound_protocol_id: Option<Uuid>,
    /// A care-plan task's action, or a dressing's wound.
    pub action_id: Option<Uuid>,
    /// A restraint's reassessment: the restraint, and the reassessment that answered it.
    pub restraint_id: Option<RestraintId>,
    pub reassessment_id: Option<ReassessmentId>,
    pub what: String,
    pub who: Performer,
    pub scheduled_for: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub state: TaskState,
    /// The latest record (an amendment, if the first was corrected).
    pub record: Option<TaskRecord>,
}

/// Where a task stands at `now`, given its latest record and the window after which a task not
/// recorded is missed.
pub fn task_state(
    scheduled_for: DateTime<Utc>,
    record: Option<TaskStatus>,
    now: DateTime<Utc>,
    missed_after: chrono::Duration,
) -> TaskState {
    match record {
        Some(TaskStatus::Done) => TaskState::Done,
        Some(TaskStatus::NotDone) => TaskState::NotDone,
        Some(TaskStatus::Refused) => TaskState::Refused,
        None if now < scheduled_for => TaskState::Pending,
        None if now < scheduled_for + chrono::Duration::minutes(GRACE_MINUTES) => TaskState::Due,
        None if now < scheduled_for + missed_after => TaskState::Late,
        None => TaskState::Missed,
    }
}

/// Marks `Suspended` the tasks not recorded whose time falls while their person is away
/// (`periods`, see [`crate::absence`]): they are not owed, neither late nor missed. A task
/// recorded keeps its record's state.
pub fn suspend_while_away(tasks: &mut [Task], periods: &[AwayPeriod]) {
    for task in tasks {
        let recorded = task.record.is_some() || task.reassessment_id.is_some();
        if !recorded && away_at(periods, task.resident.id, task.scheduled_for).is_some() {
            task.state = TaskState::Suspended;
        }
    }
}

/// A record to write, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct NewTaskRecord {
    pub status: TaskStatus,
    pub performed_at: DateTime<Utc>,
    pub reason: Option<String>,
}

impl std::fmt::Debug for NewTaskRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewTaskRecord").field("status", &self.status).finish_non_exhaustive()
    }
}

impl NewTaskRecord {
    /// Not done or refused needs a reason; the time cannot be in the future.
    pub fn validate(
        status: TaskStatus,
        performed_at: DateTime<Utc>,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
        if status != TaskStatus::Done && reason.is_none() {
            errors.add("reason", "is required when the task is not done or refused");
        }
        if reason.as_ref().is_some_and(|r| r.chars().count() > 2000) {
            errors.add("reason", "must be at most 2000 characters");
        }
        if performed_at > now + chrono::Duration::minutes(5) {
            errors.add("performed_at", "is in the future");
        }
        errors.into_result(|| Self { status, performed_at, reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_pending_due_late_missed_or_as_recorded() {
        let at = DateTime::parse_from_rfc3339("2026-11-30T08:00:00Z").unwrap().with_timezone(&Utc);
        let minutes = |m: i64| at + chrono::Duration::minutes(m);
        let window = chrono::Duration::hours(4);
        let state = |record, now| task_state(at, record, now, window);
        assert_eq!(state(None, minutes(-1)), TaskState::Pending);
        assert_eq!(state(None, minutes(0)), TaskState::Due);
        assert_eq!(state(None, minutes(GRACE_MINUTES - 1)), TaskState::Due);
        assert_eq!(state(None, minutes(GRACE_MINUTES)), TaskState::Late);
        assert_eq!(state(None, minutes(239)), TaskState::Late);
        // The 08:00 task is no longer late at 19:00: it was missed at noon.
        assert_eq!(state(None, minutes(240)), TaskState::Missed);
        assert_eq!(state(None, minutes(11 * 60)), TaskState::Missed);
        assert_eq!(task_state(at, None, minutes(11 * 60), chrono::Duration::hours(12)), TaskState::Late);
        assert_eq!(state(Some(TaskStatus::Refused), minutes(500)), TaskState::Refused);
        let now = minutes(10);
        assert!(NewTaskRecord::validate(TaskStatus::NotDone, at, None, now).is_err());
        assert!(NewTaskRecord::validate(TaskStatus::Refused, at, Some(" ".to_owned()), now).is_err());
        assert!(NewTaskRecord::validate(TaskStatus::Done, minutes(60), None, now).is_err());
        assert!(NewTaskRecord::validate(TaskStatus::Done, at, None, now).is_ok());
    }

    #[test]
    fn tasks_not_recorded_while_the_person_is_away_are_suspended() {
        use crate::absence::{AbsenceKind, AbsenceTimes};
        let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
        let resident = ResidentId::from_uuid(Uuid::from_u128(7));
        let someone_else = ResidentId::from_uuid(Uuid::from_u128(8));
        let task = |who: ResidentId, when: &str, recorded: bool| Task {
            resident: ResidentName { id: who, family_name: "A".to_owned(), given_name: "B".to_owned() },
            kind: TaskKind::CarePlan,
            plan_version_id: Some(Uuid::from_u128(1)),
            wound_protocol_id: None,
            action_id: Some(Uuid::from_u128(2)),
            restraint_id: None,
            reassessment_id: None,
            what: "Toilette".to_owned(),
            who: Performer { role: None, user_id: None },
            scheduled_for: at(when),
            until: None,
            state: TaskState::Late,
            record: recorded.then(|| TaskRecord {
                id: TaskRecordId::from_uuid(Uuid::from_u128(3)),
                resident_id: who,
                plan_version_id: Some(Uuid::from_u128(1)),
                wound_protocol_id: None,
                action_id: Uuid::from_u128(2),
                scheduled_for: at(when),
                status: TaskStatus::Done,
                performed_at: at(when),
                reason: None,
                recorded_by: UserId::from_uuid(Uuid::from_u128(4)),
                recorded_at: at(when),
                amends: None,
            }),
        };
        let now = at("2026-12-10T20:00:00Z");
        let hospital = AbsenceTimes {
            starts_at: at("2026-12-10T09:00:00Z"),
            expected_return_at: Some(at("2026-12-10T17:00:00Z")),
            returned_at: Some(at("2026-12-10T16:00:00Z")),
            cancelled: false,
        };
        let periods: Vec<AwayPeriod> = AwayPeriod::of(
            crate::AbsenceId::from_uuid(Uuid::from_u128(9)),
            resident,
            AbsenceKind::Consultation,
            hospital,
            now,
        )
        .into_iter()
        .collect();
        let mut tasks = vec![
            task(resident, "2026-12-10T08:00:00Z", false),
            task(resident, "2026-12-10T12:00:00Z", false),
            task(resident, "2026-12-10T13:00:00Z", true),
            task(resident, "2026-12-10T16:00:00Z", false),
            task(someone_else, "2026-12-10T12:00:00Z", false),
        ];
        tasks[2].state = TaskState::Done;
        suspend_while_away(&mut tasks, &periods);
        let states: Vec<TaskState> = tasks.iter().map(|t| t.state).collect();
        assert_eq!(states, [TaskState::Late, TaskState::Suspended, TaskState::Done, TaskState::Late, TaskState::Late]);
    }
}
