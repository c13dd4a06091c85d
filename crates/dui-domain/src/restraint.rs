//! Physical restraint (contention) of a person: only on a prescription, time-limited,
//! reassessed at least every 24 hours, stopped with a reason; renewing it takes a new
//! prescription.
//!
//! The French guidance (HAS, *Limiter les risques de la contention physique de la personne
//! âgée*, 2000; ANESM) asks for a motivated medical prescription naming the device and the
//! conditions, a time-limited duration, a surveillance programmed and a reassessment at least
//! every 24 hours. Here:
//!
//! - a prescription ends at most [`MAX_PRESCRIPTION_DAYS`] days after its start: the
//!   prescriber decides again at least weekly. A 24-hour prescription would make the
//!   coordinating physician — in an EHPAD often present one or two days a week — renew it
//!   blindly every day; the daily judgement is the reassessment's (*design assumption*: a
//!   constant, easy to change; the database's check repeats it);
//! - a reassessment is due [`REASSESS_EVERY_HOURS`] hours after the start, then after each
//!   reassessment (a rolling deadline: one done early moves the next one earlier, so that two
//!   are never more than 24 hours apart); the due reassessments are tasks of the day's list;
//! - past its planned end, a restraint not stopped is *expired*: it is no longer prescribed,
//!   and the establishment's overdue list shows it until it is stopped or replaced by a new
//!   prescription.
//!
//! The reason, the conditions, the device's description and what a reassessment observed are
//! sealed; the kind, the times, the prescriber and the outcome stay in clear for the lists.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::absence::{optional_line, optional_text};
use crate::care_plan::Performer;
use crate::care_task::{GRACE_MINUTES, Task, TaskKind, TaskState};
use crate::people::Role;
use crate::transmission::ResidentName;
use crate::validation::ValidationErrors;
use crate::{EstablishmentId, ReassessmentId, ResidentId, RestraintId, UserId};

/// The longest a prescription may run, from its start.
pub const MAX_PRESCRIPTION_DAYS: i64 = 7;

/// A restraint is reassessed at least this often.
pub const REASSESS_EVERY_HOURS: i64 = 24;

/// How far back a restraint may start: one applied in an emergency at night is prescribed the
/// next morning.
pub const START_BACKDATE_HOURS: i64 = 24;

crate::text_codes! {
    /// The device.
    pub enum RestraintKind {
        /// Barrières de lit.
        BedRails = "bed_rails",
        /// Ceinture abdominale au fauteuil.
        ChairBelt = "chair_belt",
        /// Ceinture pelvienne (avec sangle d'entrejambe).
        PelvicBelt = "pelvic_belt",
        /// Attaches de poignets.
        Wrist = "wrist",
        /// Anything else, described in `device`.
        Other = "other",
    }
}

impl RestraintKind {
    /// How the care team names it, in the day's task list.
    pub const fn label_fr(self) -> &'static str {
        match self {
            Self::BedRails => "barrières de lit",
            Self::ChairBelt => "ceinture au fauteuil",
            Self::PelvicBelt => "ceinture pelvienne",
            Self::Wrist => "attaches de poignets",
            Self::Other => "autre dispositif",
        }
    }
}

crate::text_codes! {
    /// Where a restraint stands at an instant.
    pub enum RestraintStatus {
        /// Prescribed, its start has not come.
        Planned = "planned",
        /// Started, before its planned end, not stopped.
        InForce = "in_force",
        /// Past its planned end and not stopped: no longer prescribed.
        Expired = "expired",
        Ended = "ended",
    }
}

crate::text_codes! {
    /// How a restraint ended.
    pub enum EndKind {
        /// Stopped, with a reason.
        Stopped = "stopped",
        /// Stopped at a reassessment (its observations say why).
        Reassessment = "reassessment",
        /// Replaced by a new prescription (a renewal or a change).
        Replaced = "replaced",
    }
}

crate::text_codes! {
    /// What a reassessment decided.
    pub enum ReassessmentOutcome {
        Continue = "continue",
        /// Stop now: the restraint ends at the reassessment.
        Stop = "stop",
        /// A change is needed (device, conditions): it goes on as prescribed until the
        /// prescriber replaces the prescription.
        Change = "change",
    }
}

crate::text_codes! {
    pub enum SkinState {
        Intact = "intact",
        /// Rougeur.
        Redness = "redness",
        /// Lésion, escarre.
        Lesion = "lesion",
    }
}

crate::text_codes! {
    pub enum Agitation {
        Calm = "calm",
        Agitated = "agitated",
        VeryAgitated = "very_agitated",
    }
}

crate::text_codes! {
    /// What the person says of the restraint.
    pub enum ConsentStatus {
        Accepts = "accepts",
        Refuses = "refuses",
        /// Cannot express it.
        CannotExpress = "cannot_express",
    }
}

/// An external physician's prescription (a general practitioner, a hospital's physician).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExternalPrescriber {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name: String,
    /// 11 digits.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{11}$"))]
    pub rpps: String,
}

impl std::fmt::Debug for ExternalPrescriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalPrescriber").field("rpps", &self.rpps).finish_non_exhaustive()
    }
}

/// When and how long the restraint is applied.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// When it is applied ("la nuit, au lit", "au fauteuil pendant les repas").
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1000))]
    pub when: String,
    /// How long each time, at most, in minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1440))]
    pub max_minutes_each_time: Option<u32>,
}

impl std::fmt::Debug for Conditions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Conditions([redacted])")
    }
}

/// What a restraint's sealed column holds.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestraintDetails {
    pub reason: String,
    pub conditions: Conditions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

impl std::fmt::Debug for RestraintDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RestraintDetails([redacted])")
    }
}

/// What a reassessment observed (sealed).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Observations {
    pub skin: SkinState,
    pub agitation: Agitation,
    pub consent: ConsentStatus,
    /// Required to stop or change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub comment: Option<String>,
}

impl std::fmt::Debug for Observations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observations([redacted])")
    }
}

/// A reassessment, as kept.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Reassessment {
    pub id: ReassessmentId,
    pub restraint_id: RestraintId,
    pub resident_id: ResidentId,
    pub assessed_at: DateTime<Utc>,
    pub outcome: ReassessmentOutcome,
    pub observations: Observations,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
}

impl std::fmt::Debug for Reassessment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reassessment").field("id", &self.id).field("outcome", &self.outcome).finish_non_exhaustive()
    }
}

/// A restraint, as kept, with its reassessments and where it stands when read.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Restraint {
    pub id: RestraintId,
    pub resident_id: ResidentId,
    pub establishment_id: EstablishmentId,
    pub kind: RestraintKind,
    /// The device, when `kind` is `other`.
    pub device: Option<String>,
    /// The coordinating physician who prescribed it, or
    pub prescriber_id: Option<UserId>,
    /// the external physician whose prescription was recorded.
    pub external_prescriber: Option<ExternalPrescriber>,
    pub prescribed_on: NaiveDate,
    pub starts_at: DateTime<Utc>,
    pub planned_end_at: DateTime<Utc>,
    pub reason: String,
    pub conditions: Conditions,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    /// The prescription this one renews or changes.
    pub replaces: Option<RestraintId>,
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<UserId>,
    pub end_kind: Option<EndKind>,
    /// Why it was stopped (`stopped`).
    pub end_reason: Option<String>,
    pub status: RestraintStatus,
    /// When the next reassessment is due, while it is in force or expired.
    pub next_reassessment_due: Option<DateTime<Utc>>,
    /// Oldest first.
    pub reassessments: Vec<Reassessment>,
}

impl std::fmt::Debug for Restraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restraint").field("id", &self.id).field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// The facts of a restraint the rules read (what is in clear).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestraintTimes {
    pub starts_at: DateTime<Utc>,
    pub planned_end_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl RestraintTimes {
    pub fn status(&self, now: DateTime<Utc>) -> RestraintStatus {
        if self.ended_at.is_some_and(|end| end <= now) {
            RestraintStatus::Ended
        } else if now < self.starts_at {
            RestraintStatus::Planned
        } else if now < self.planned_end_at {
            RestraintStatus::InForce
        } else {
            RestraintStatus::Expired
        }
    }

    /// When it stops being prescribed: its end, or its planned end.
    pub fn until(&self) -> DateTime<Utc> {
        self.ended_at.map_or(self.planned_end_at, |end| end.min(self.planned_end_at))
    }

    /// Its reassessments as due instants, from its start to its end: each is due
    /// [`REASSESS_EVERY_HOURS`] after the one before (the start for the first), and is answered
    /// by the next reassessment recorded (`reassessed`: instants, oldest first). The last is
    /// the one outstanding, unless the restraint ends before it.
    pub fn reassessments_due(&self, reassessed: &[DateTime<Utc>]) -> Vec<DueReassessment> {
        let every = Duration::hours(REASSESS_EVERY_HOURS);
        let mut due = Vec::new();
        let mut last = self.starts_at;
        for (index, at) in reassessed.iter().enumerate() {
            due.push(DueReassessment { due_at: last + every, answered_by: Some(index) });
            last = *at;
        }
        if last + every < self.until() {
            due.push(DueReassessment { due_at: last + every, answered_by: None });
        }
        due
    }

    /// When the next reassessment is due, while the restraint is not ended (expired included:
    /// it may still be applied).
    pub fn next_due(&self, last_reassessed: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        if self.ended_at.is_some() {
            return None;
        }
        Some(last_reassessed.unwrap_or(self.starts_at) + Duration::hours(REASSESS_EVERY_HOURS))
    }
}

/// One reassessment due: when, and which reassessment answered it (an index in the list given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueReassessment {
    pub due_at: DateTime<Utc>,
    pub answered_by: Option<usize>,
}

/// A restraint of the day's list and what it needs to become tasks.
#[derive(Debug, Clone)]
pub struct RestraintForTasks {
    pub resident: ResidentName,
    pub restraint_id: RestraintId,
    pub kind: RestraintKind,
    pub times: RestraintTimes,
    /// Its reassessments, oldest first.
    pub reassessed: Vec<(ReassessmentId, DateTime<Utc>)>,
}

impl RestraintForTasks {
    /// The reassessments due in `[from, to)`, as tasks: done when answered (whenever it was),
    /// else pending, due for an hour, then late — never missed: the obligation stays until it
    /// is met. A reassessment still outstanding from before `from` is listed too when `now` is
    /// in `[from, to)`, so that today's list shows what is overdue.
    pub fn tasks(&self, from: DateTime<Utc>, to: DateTime<Utc>, now: DateTime<Utc>) -> Vec<Task> {
        let instants: Vec<DateTime<Utc>> = self.reassessed.iter().map(|(_, at)| *at).collect();
        let today = from <= now && now < to;
        self.times
            .reassessments_due(&instants)
            .into_iter()
            .filter(|due| {
                (from <= due.due_at && due.due_at < to) || (today && due.answered_by.is_none() && due.due_at < from)
            })
            .map(|due| {
                let answered = due.answered_by.map(|i| self.reassessed[i].0);
                let state = match answered {
                    Some(_) => TaskState::Done,
                    None if now < due.due_at => TaskState::Pending,
                    None if now < due.due_at + Duration::minutes(GRACE_MINUTES) => TaskState::Due,
                    None => TaskState::Late,
                };
                Task {
                    resident: self.resident.clone(),
                    kind: TaskKind::RestraintReassessment,
                    plan_version_id: None,
                    wound_protocol_id: None,
                    action_id: None,
                    restraint_id: Some(self.restraint_id),
                    reassessment_id: answered,
                    what: format!("Réévaluation de la contention ({})", self.kind.label_fr()),
                    who: Performer { role: Some(Role::Nurse), user_id: None },
                    scheduled_for: due.due_at,
                    until: None,
                    state,
                    record: None,
                }
            })
            .collect()
    }
}

crate::text_codes! {
    /// Why a restraint is on the establishment's overdue list.
    pub enum OverdueReason {
        /// No reassessment within 24 hours.
        ReassessmentOverdue = "reassessment_overdue",
        /// Past its planned end and not stopped: stop it, or prescribe it again.
        Expired = "expired",
    }
}

/// A restraint of the establishment's overdue list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OverdueRestraint {
    pub resident: ResidentName,
    pub restraint_id: RestraintId,
    pub kind: RestraintKind,
    pub starts_at: DateTime<Utc>,
    pub planned_end_at: DateTime<Utc>,
    pub last_reassessed_at: Option<DateTime<Utc>>,
    /// The last reassessment's outcome (`change`: the prescriber has a change to make).
    pub last_outcome: Option<ReassessmentOutcome>,
    pub next_reassessment_due: DateTime<Utc>,
    /// Each reason it is listed.
    pub reasons: Vec<OverdueReason>,
}

impl OverdueRestraint {
    /// Why a restraint not ended is overdue at `now` (nothing when it is not).
    pub fn reasons(
        times: &RestraintTimes,
        last_reassessed: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Vec<OverdueReason> {
        let mut reasons = Vec::new();
        if times.ended_at.is_some() || now < times.starts_at {
            return reasons;
        }
        if times.next_due(last_reassessed).is_some_and(|due| due < now) {
            reasons.push(OverdueReason::ReassessmentOverdue);
        }
        if times.planned_end_at <= now {
            reasons.push(OverdueReason::Expired);
        }
        reasons
    }
}

/// A prescription as entered.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PrescriptionInput {
    pub kind: Option<RestraintKind>,
    pub device: Option<String>,
    pub external_prescriber: Option<ExternalPrescriber>,
    pub prescribed_on: Option<NaiveDate>,
    pub starts_at: Option<DateTime<Utc>>,
    pub planned_end_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub conditions: Option<Conditions>,
}

impl std::fmt::Debug for PrescriptionInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrescriptionInput").field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// A prescription, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct NewRestraint {
    pub kind: RestraintKind,
    pub external_prescriber: Option<ExternalPrescriber>,
    pub prescribed_on: NaiveDate,
    pub starts_at: DateTime<Utc>,
    pub planned_end_at: DateTime<Utc>,
    pub details: RestraintDetails,
}

impl std::fmt::Debug for NewRestraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewRestraint")
            .field("kind", &self.kind)
            .field("starts_at", &self.starts_at)
            .finish_non_exhaustive()
    }
}

impl NewRestraint {
    /// Checks a prescription: a device (described when `other`), a reason, the conditions, a
    /// start (default now) at most [`START_BACKDATE_HOURS`] back and at most
    /// [`MAX_PRESCRIPTION_DAYS`] ahead, a planned end after the start and at most
    /// [`MAX_PRESCRIPTION_DAYS`] days after it; an external prescriber with a name and an RPPS
    /// number; the prescription's date (default `today`) not after `today` and within the last
    /// [`MAX_PRESCRIPTION_DAYS`] days.
    pub fn validate(input: PrescriptionInput, now: DateTime<Utc>, today: NaiveDate) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let kind = input.kind;
        if kind.is_none() {
            errors.add("kind", "is required");
        }
        let device = optional_line(&mut errors, "device", input.device, 200);
        if kind == Some(RestraintKind::Other)
            && device.is_none()
            && !errors.errors().iter().any(|e| e.field == "device")
        {
            errors.add("device", "is required when kind is other: say what device");
        }
        let external_prescriber = input.external_prescriber.and_then(|p| {
            let name = optional_line(&mut errors, "external_prescriber/name", Some(p.name), 200);
            if name.is_none() && !errors.errors().iter().any(|e| e.field == "external_prescriber/name") {
                errors.add("external_prescriber/name", "is required");
            }
            let rpps = errors.check("external_prescriber/rpps", crate::people::rpps(&p.rpps));
            Some(ExternalPrescriber { name: name?, rpps: rpps? })
        });
        let prescribed_on = input.prescribed_on.unwrap_or(today);
        if prescribed_on > today {
            errors.add("prescribed_on", "is in the future");
        }
        if prescribed_on < today - chrono::Days::new(MAX_PRESCRIPTION_DAYS as u64) {
            errors.add("prescribed_on", format!("must be within the last {MAX_PRESCRIPTION_DAYS} days"));
        }
        let starts_at = input.starts_at.unwrap_or(now);
        if starts_at < now - Duration::hours(START_BACKDATE_HOURS) {
            errors.add("starts_at", format!("must be at most {START_BACKDATE_HOURS} hours ago"));
        }
        if starts_at > now + Duration::days(MAX_PRESCRIPTION_DAYS) {
            errors.add("starts_at", format!("must be within {MAX_PRESCRIPTION_DAYS} days"));
        }
        let planned_end_at = match input.planned_end_at {
            None => {
                errors.add("planned_end_at", "is required: a restraint is prescribed for a limited time");
                starts_at
            }
            Some(end) if end <= starts_at => {
                errors.add("planned_end_at", "must be after starts_at");
                end
            }
            Some(end) if end - starts_at > Duration::days(MAX_PRESCRIPTION_DAYS) => {
                errors.add(
                    "planned_end_at",
                    format!(
                        "must be at most {MAX_PRESCRIPTION_DAYS} days after starts_at: renew with a new prescription"
                    ),
                );
                end
            }
            Some(end) => end,
        };
        let reason = optional_text(&mut errors, "reason", input.reason, 2000);
        if reason.is_none() && !errors.errors().iter().any(|e| e.field == "reason") {
            errors.add("reason", "is required: a restraint is prescribed for a reason");
        }
        let conditions = match input.conditions {
            None => {
                errors.add("conditions", "are required: when, and how long each time");
                None
            }
            Some(c) => {
                let when = optional_text(&mut errors, "conditions/when", Some(c.when), 1000);
                if when.is_none() && !errors.errors().iter().any(|e| e.field == "conditions/when") {
                    errors.add("conditions/when", "is required");
                }
                if c.max_minutes_each_time.is_some_and(|m| !(1..=1440).contains(&m)) {
                    errors.add("conditions/max_minutes_each_time", "must be from 1 to 1440 minutes");
                }
                when.map(|when| Conditions { when, max_minutes_each_time: c.max_minutes_each_time })
            }
        };
        errors.into_result(|| Self {
            kind: kind.unwrap_or(RestraintKind::Other),
            external_prescriber,
            prescribed_on,
            starts_at,
            planned_end_at,
            details: RestraintDetails {
                reason: reason.unwrap_or_default(),
                conditions: conditions.unwrap_or(Conditions { when: String::new(), max_minutes_each_time: None }),
                device,
            },
        })
    }
}

/// A reassessment, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct NewReassessment {
    pub assessed_at: DateTime<Utc>,
    pub outcome: ReassessmentOutcome,
    pub observations: Observations,
}

impl std::fmt::Debug for NewReassessment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewReassessment").field("outcome", &self.outcome).finish_non_exhaustive()
    }
}

impl NewReassessment {
    /// Checks a reassessment: not in the future, not before the restraint started; a comment
    /// that says why when it stops or changes the restraint.
    pub fn validate(
        assessed_at: Option<DateTime<Utc>>,
        outcome: ReassessmentOutcome,
        observations: Observations,
        times: &RestraintTimes,
        now: DateTime<Utc>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let assessed_at = assessed_at.unwrap_or(now);
        if assessed_at > now + Duration::minutes(5) {
            errors.add("assessed_at", "is in the future");
        }
        if assessed_at < times.starts_at {
            errors.add("assessed_at", "is before the restraint started");
        }
        let comment = optional_text(&mut errors, "comment", observations.comment, 2000);
        if outcome != ReassessmentOutcome::Continue
            && comment.is_none()
            && !errors.errors().iter().any(|e| e.field == "comment")
        {
            errors.add("comment", "is required to stop or change a restraint: say why");
        }
        errors.into_result(|| Self { assessed_at, outcome, observations: Observations { comment, ..observations } })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn times(start: &str, end: &str, ended: Option<&str>) -> RestraintTimes {
        RestraintTimes { starts_at: at(start), planned_end_at: at(end), ended_at: ended.map(at) }
    }

    #[test]
    fn reassessments_are_due_every_24_hours_from_the_last_one() {
        let restraint = times("2026-12-01T20:00:00Z", "2026-12-05T20:00:00Z", None);
        // None yet: due a day after the start.
        assert_eq!(
            restraint.reassessments_due(&[]),
            [DueReassessment { due_at: at("2026-12-02T20:00:00Z"), answered_by: None }]
        );
        // One early, one late: the next is due a day after the last.
        let due = restraint.reassessments_due(&[at("2026-12-02T09:00:00Z"), at("2026-12-03T11:00:00Z")]);
        assert_eq!(
            due,
            [
                DueReassessment { due_at: at("2026-12-02T20:00:00Z"), answered_by: Some(0) },
                DueReassessment { due_at: at("2026-12-03T09:00:00Z"), answered_by: Some(1) },
                DueReassessment { due_at: at("2026-12-04T11:00:00Z"), answered_by: None },
            ]
        );
        // Ending before the next due: nothing outstanding.
        let stopped = times("2026-12-01T20:00:00Z", "2026-12-05T20:00:00Z", Some("2026-12-02T10:00:00Z"));
        assert_eq!(stopped.reassessments_due(&[at("2026-12-02T09:00:00Z")]).len(), 1);
        assert_eq!(stopped.next_due(Some(at("2026-12-02T09:00:00Z"))), None);
    }

    #[test]
    fn a_restraint_is_planned_in_force_expired_or_ended_and_listed_when_overdue() {
        let restraint = times("2026-12-01T20:00:00Z", "2026-12-03T20:00:00Z", None);
        assert_eq!(restraint.status(at("2026-12-01T19:00:00Z")), RestraintStatus::Planned);
        assert_eq!(restraint.status(at("2026-12-02T19:00:00Z")), RestraintStatus::InForce);
        assert_eq!(restraint.status(at("2026-12-04T19:00:00Z")), RestraintStatus::Expired);
        let ended = times("2026-12-01T20:00:00Z", "2026-12-03T20:00:00Z", Some("2026-12-02T08:00:00Z"));
        assert_eq!(ended.status(at("2026-12-02T09:00:00Z")), RestraintStatus::Ended);

        assert!(OverdueRestraint::reasons(&restraint, None, at("2026-12-02T19:59:00Z")).is_empty());
        assert_eq!(
            OverdueRestraint::reasons(&restraint, None, at("2026-12-02T20:01:00Z")),
            [OverdueReason::ReassessmentOverdue]
        );
        assert_eq!(
            OverdueRestraint::reasons(&restraint, Some(at("2026-12-03T19:00:00Z")), at("2026-12-03T21:00:00Z")),
            [OverdueReason::Expired]
        );
        assert!(OverdueRestraint::reasons(&ended, None, at("2026-12-05T00:00:00Z")).is_empty());
    }

    #[test]
    fn a_prescription_is_time_limited_reasoned_and_names_its_prescriber() {
        let now = at("2026-12-01T10:00:00Z");
        let today = now.date_naive();
        let conditions = Conditions { when: "La nuit, au lit".to_owned(), max_minutes_each_time: None };
        let good = PrescriptionInput {
            kind: Some(RestraintKind::BedRails),
            planned_end_at: Some(at("2026-12-04T10:00:00Z")),
            reason: Some("Chutes nocturnes répétées".to_owned()),
            conditions: Some(conditions.clone()),
            ..Default::default()
        };
        assert!(NewRestraint::validate(good.clone(), now, today).is_ok());
        let cases: Vec<(PrescriptionInput, &str)> = vec![
            (PrescriptionInput { planned_end_at: None, ..good.clone() }, "planned_end_at"),
            (PrescriptionInput { planned_end_at: Some(at("2026-12-08T10:01:00Z")), ..good.clone() }, "planned_end_at"),
            (PrescriptionInput { reason: Some("  ".to_owned()), ..good.clone() }, "reason"),
            (PrescriptionInput { kind: Some(RestraintKind::Other), ..good.clone() }, "device"),
            (PrescriptionInput { conditions: None, ..good.clone() }, "conditions"),
            (PrescriptionInput { starts_at: Some(at("2026-11-29T10:00:00Z")), ..good.clone() }, "starts_at"),
            (PrescriptionInput { prescribed_on: Some(today.succ_opt().unwrap()), ..good.clone() }, "prescribed_on"),
            (
                PrescriptionInput {
                    external_prescriber: Some(ExternalPrescriber {
                        name: "Dr Martin".to_owned(),
                        rpps: "123".to_owned(),
                    }),
                    ..good.clone()
                },
                "external_prescriber/rpps",
            ),
        ];
        for (input, field) in cases {
            let errors = NewRestraint::validate(input, now, today).unwrap_err();
            assert_eq!(errors.errors()[0].field, field, "{errors}");
        }
        let observed = Observations {
            skin: SkinState::Redness,
            agitation: Agitation::Calm,
            consent: ConsentStatus::Refuses,
            comment: None,
        };
        let restraint = times("2026-12-01T09:00:00Z", "2026-12-03T09:00:00Z", None);
        let stop = NewReassessment::validate(None, ReassessmentOutcome::Stop, observed.clone(), &restraint, now);
        assert_eq!(stop.unwrap_err().errors()[0].field, "comment");
        assert!(NewReassessment::validate(None, ReassessmentOutcome::Continue, observed, &restraint, now).is_ok());
    }
}
