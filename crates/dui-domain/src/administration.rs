//! Medication administration: the administration plan of each day, made from the prescriptions'
//! versions in force, and the record of each dose — given, partly given, refused, not given (why)
//! — by whom and as which act.
//!
//! # The plan
//!
//! A line scheduled at moments of the day gives one dose per moment, at the establishment's
//! round time of that moment ([`round_time`]: morning 08:00, noon 12:00, evening 18:00, bedtime
//! 21:00); a line every `n` hours gives one dose at each of its times of the day, from its first;
//! both on the days of the line (from its first day to its last, on its weekdays or every `n`
//! days from its first). A dose is named by its day and its *slot*: the moment (`"morning"`) or
//! the time (`"14:00"`), so that a record keeps naming its dose if round times change. A dose is
//! owed by the version that is in force at its time: from when the version was recorded to when
//! it was superseded or stopped (a stop on an earlier day ends it at the end of that day).
//!
//! A line "if needed" has no plan: each dose is recorded when given, at most `max_per_day` in the
//! establishment's day and at least `min_interval_hours` apart.
//!
//! # Acts
//!
//! French rules distinguish the *administration* of a drug, a nurse's act (or a physician's), from
//! the *help with taking* it (aide à la prise, art. L313-26 of the CASF), which a care assistant
//! gives when the drug was prepared and its mode of taking presents no difficulty: not an
//! injection, nor a rectal or vaginal route. The act is the recorder's: a nurse administers, a
//! care assistant helps; a dose by a route that needs a nurse is the nurse's.
//!
//! # Safety
//!
//! A line flagged when its version was made (an allergy matched, a substance prescribed twice),
//! or whose substances match an allergy recorded since, asks for a confirmation before a dose of
//! it is recorded as given.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::absence::{AbsenceKind, AwayPeriod, away_at};
use crate::alert::Allergy;
use crate::care_task::GRACE_MINUTES;
use crate::drug::allergy_check;
use crate::prescription::{Days, Dose, Moment, PrescriptionLine, Route, SafetyFlag, Schedule, Weekday};
use crate::transmission::ResidentName;
use crate::validation::{ValidationErrors, optional_text};
use crate::{AdministrationId, PrescriptionId, PrescriptionVersionId, ResidentId, UserId};

/// The longest note of a record, in characters.
pub const MAX_NOTE: usize = 2000;
/// How long before its time a dose may be recorded as given (a round starts early).
pub const EARLY_HOURS: i64 = 2;

crate::text_codes! {
    /// What happened to a dose.
    pub enum Outcome {
        Given = "given",
        /// Part of the dose taken (`quantity` says how much).
        PartlyGiven = "partly_given",
        /// Refused by the person.
        Refused = "refused",
        /// Not given, for a reason (`reason`).
        NotGiven = "not_given",
    }
}

crate::text_codes! {
    /// Why a dose was not given.
    pub enum NotGivenReason {
        /// The person was not there.
        Absent = "absent",
        Asleep = "asleep",
        Vomiting = "vomiting",
        Hospitalised = "hospitalised",
        /// Fasting (before an examination, an operation).
        Fasting = "fasting",
        /// Cannot swallow it.
        SwallowingDifficulty = "swallowing_difficulty",
        /// The drug was not available.
        Unavailable = "unavailable",
        /// Held back on a physician's or nurse's decision (a low blood pressure, a low glucose).
        ClinicalDecision = "clinical_decision",
        /// Another reason, said in the note.
        Other = "other",
    }
}

crate::text_codes! {
    /// Which act the dose was.
    pub enum Act {
        /// Administration: a nurse's act (or a physician's).
        Administration = "administration",
        /// Help with taking (aide à la prise): a care assistant's, for the routes without
        /// difficulty.
        HelpWithTaking = "help_with_taking",
    }
}

crate::text_codes! {
    /// Where a dose of the plan stands.
    pub enum DoseState {
        /// Not yet time.
        Pending = "pending",
        /// Its time has come (within the hour).
        Due = "due",
        /// Past its time and the hour of grace, not recorded.
        Late = "late",
        /// Not recorded by the end of the window the tenant set for tasks
        /// (`task_missed_after_minutes`): the moment has passed.
        Missed = "missed",
        Given = "given",
        PartlyGiven = "partly_given",
        Refused = "refused",
        NotGiven = "not_given",
        /// The person is away (an absence): not owed.
        Suspended = "suspended",
    }
}

/// The time of the round of a moment of the day.
pub fn round_time(moment: Moment) -> NaiveTime {
    let (hour, minute) = match moment {
        Moment::Morning => (8, 0),
        Moment::Noon => (12, 0),
        Moment::Evening => (18, 0),
        Moment::Bedtime => (21, 0),
    };
    NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or(NaiveTime::MIN)
}

/// The round a time of the day belongs to: the last round started by then; before the morning
/// round, the night's (bedtime).
pub fn round_of(time: NaiveTime) -> Moment {
    Moment::ALL.iter().rev().copied().find(|m| round_time(*m) <= time).unwrap_or(Moment::Bedtime)
}

/// A dose of a line on a day, in the establishment's calendar and clock.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedDose {
    pub line: u32,
    /// The moment (`"morning"`) or the time (`"14:00"`).
    pub slot: String,
    pub round: Moment,
    pub at: NaiveTime,
    pub quantity: f64,
}

fn weekday(day: NaiveDate) -> Weekday {
    match day.weekday() {
        chrono::Weekday::Mon => Weekday::Monday,
        chrono::Weekday::Tue => Weekday::Tuesday,
        chrono::Weekday::Wed => Weekday::Wednesday,
        chrono::Weekday::Thu => Weekday::Thursday,
        chrono::Weekday::Fri => Weekday::Friday,
        chrono::Weekday::Sat => Weekday::Saturday,
        chrono::Weekday::Sun => Weekday::Sunday,
    }
}

/// Whether `day` is a day of the line: within its first and last day, on its days.
pub fn is_day_of(line: &PrescriptionLine, day: NaiveDate) -> bool {
    if day < line.starts_on || line.ends_on.is_some_and(|end| day > end) {
        return false;
    }
    match &line.days {
        None => true,
        Some(Days::Weekdays { weekdays }) => weekdays.contains(&weekday(day)),
        Some(Days::EveryNDays { every }) => (day - line.starts_on).num_days() % i64::from((*every).max(1)) == 0,
    }
}

/// The doses of a line on a day, in time order: none for a line given if needed, nor on a day
/// that is not the line's.
pub fn planned_doses(line: &PrescriptionLine, day: NaiveDate) -> Vec<PlannedDose> {
    if !is_day_of(line, day) {
        return Vec::new();
    }
    match &line.schedule {
        Schedule::Moments { moments } => moments
            .iter()
            .map(|m| PlannedDose {
                line: line.number,
                slot: m.moment.as_str().to_owned(),
                round: m.moment,
                at: round_time(m.moment),
                quantity: m.quantity.unwrap_or(line.dose.quantity),
            })
            .collect(),
        Schedule::EveryHours { interval_hours, first_at } => {
            let step = TimeDelta::hours(i64::from((*interval_hours).max(1)));
            let first = first_at.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(*first_at);
            let mut doses = Vec::new();
            let mut at = first;
            loop {
                doses.push(PlannedDose {
                    line: line.number,
                    slot: at.format("%H:%M").to_string(),
                    round: round_of(at),
                    at,
                    quantity: line.dose.quantity,
                });
                let (next, wrapped) = at.overflowing_add_signed(step);
                if wrapped != 0 {
                    break;
                }
                at = next;
            }
            doses
        }
        Schedule::IfNeeded { .. } => Vec::new(),
    }
}

/// Whether a version was in force at `at`: from `from` (recorded) to `until` (excluded; none:
/// still in force).
pub fn in_force_at(from: DateTime<Utc>, until: Option<DateTime<Utc>>, at: DateTime<Utc>) -> bool {
    from <= at && until.is_none_or(|until| at < until)
}

/// Whether a dose by `route` may be a care assistant's help with taking.
pub fn helpable(route: Route) -> bool {
    matches!(
        route,
        Route::Oral
            | Route::Sublingual
            | Route::Cutaneous
            | Route::Transdermal
            | Route::Inhaled
            | Route::Ocular
            | Route::Nasal
            | Route::Auricular
    )
}

/// Where a planned dose stands at `now`, given its record, if any.
pub fn dose_state(
    due_at: DateTime<Utc>,
    outcome: Option<Outcome>,
    now: DateTime<Utc>,
    missed_after: TimeDelta,
) -> DoseState {
    match outcome {
        Some(Outcome::Given) => DoseState::Given,
        Some(Outcome::PartlyGiven) => DoseState::PartlyGiven,
        Some(Outcome::Refused) => DoseState::Refused,
        Some(Outcome::NotGiven) => DoseState::NotGiven,
        None if now < due_at => DoseState::Pending,
        None if now < due_at + TimeDelta::minutes(GRACE_MINUTES) => DoseState::Due,
        None if now < due_at + missed_after => DoseState::Late,
        None => DoseState::Missed,
    }
}

/// What makes a dose of a line ask for a confirmation: the version's flags on the line, and the
/// allergies in force now that one of its substances matches (recorded since, or resolved and
/// back).
#[derive(Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DoseWarning {
    /// A flag raised when the version was made.
    Flag { flag: SafetyFlag },
    /// An allergy or intolerance in force now matches one of the drug's substances.
    Allergy { substance: String, allergy_substance: String },
}

crate::redacted_debug!(DoseWarning, Administration, AdministrationInput, DueDose, AsNeeded, NewAdministration);

/// The warnings of a line: the version's flags on it, and the allergies in force now that its
/// substances match (those a flag already names are not repeated).
pub fn warnings(line: &PrescriptionLine, flags: &[SafetyFlag], allergies: &[Allergy]) -> Vec<DoseWarning> {
    let mut warnings: Vec<DoseWarning> = flags
        .iter()
        .filter(|f| match f {
            SafetyFlag::Allergy { line: l, .. } | SafetyFlag::DuplicateSubstance { line: l, .. } => *l == line.number,
        })
        .map(|f| DoseWarning::Flag { flag: f.clone() })
        .collect();
    for found in allergy_check(&line.drug.active_substances, allergies) {
        let flagged = flags.iter().any(|f| {
            matches!(f, SafetyFlag::Allergy { line: l, allergy_id, .. } if *l == line.number && *allergy_id == found.allergy_id)
        });
        if !flagged {
            warnings
                .push(DoseWarning::Allergy { substance: found.substance, allergy_substance: found.allergy_substance });
        }
    }
    warnings
}

/// A dose's record, as kept.
#[derive(Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Administration {
    pub id: AdministrationId,
    pub resident_id: ResidentId,
    pub prescription_id: PrescriptionId,
    pub prescription_version_id: PrescriptionVersionId,
    pub line: u32,
    /// The drug, as the version names it.
    pub drug: String,
    /// The planned dose's day and slot (none for a dose given if needed).
    pub due_on: Option<NaiveDate>,
    pub slot: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub outcome: Outcome,
    pub act: Act,
    /// When it was given (or refused, or found not to be given).
    pub given_at: DateTime<Utc>,
    /// How much was taken (none when nothing was).
    pub quantity: Option<f64>,
    pub unit: String,
    pub reason: Option<NotGivenReason>,
    pub note: Option<String>,
    /// A warning was shown and the recorder confirmed.
    pub confirmed_warnings: bool,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    /// Entered in error: when, by whom, why (the dose is owed again).
    pub error_at: Option<DateTime<Utc>>,
    pub error_by: Option<UserId>,
    pub error_reason: Option<String>,
}

/// A dose of the day's plan, with where it stands.
#[derive(Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DueDose {
    pub resident: ResidentName,
    pub prescription_id: PrescriptionId,
    pub prescription_version_id: PrescriptionVersionId,
    pub line: u32,
    pub drug: String,
    pub dose: Dose,
    pub route: Route,
    pub crushable: bool,
    pub notes: Option<String>,
    pub due_on: NaiveDate,
    pub slot: String,
    pub round: Moment,
    pub due_at: DateTime<Utc>,
    pub state: DoseState,
    /// The route needs a nurse (no help with taking).
    pub nurse_only: bool,
    /// Recording it given asks for a confirmation.
    pub warnings: Vec<DoseWarning>,
    /// What was recorded.
    pub administration: Option<Administration>,
}

/// A line given if needed, in force on the day, with what was given of it that day.
#[derive(Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AsNeeded {
    pub resident: ResidentName,
    pub prescription_id: PrescriptionId,
    pub prescription_version_id: PrescriptionVersionId,
    pub line: u32,
    pub drug: String,
    pub dose: Dose,
    pub route: Route,
    pub condition: String,
    pub max_per_day: Option<u32>,
    pub min_interval_hours: Option<u32>,
    /// Doses given (or partly) on the day.
    pub given: u32,
    pub last_given_at: Option<DateTime<Utc>>,
    pub nurse_only: bool,
    pub warnings: Vec<DoseWarning>,
}

/// The administration plan of a day (or one round of it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DosePlan {
    pub date: NaiveDate,
    pub round: Option<Moment>,
    /// The planned doses, by time, then by person.
    pub doses: Vec<DueDose>,
    /// The lines given if needed, by person.
    pub if_needed: Vec<AsNeeded>,
}

/// Marks suspended the doses not recorded whose time falls while their person is away.
pub fn suspend_while_away(doses: &mut [DueDose], periods: &[AwayPeriod]) {
    for dose in doses {
        if dose.administration.is_none() && away_at(periods, dose.resident.id, dose.due_at).is_some() {
            dose.state = DoseState::Suspended;
        }
    }
}

/// A dose's record as entered.
#[derive(Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AdministrationInput {
    /// The version, as the plan lists it.
    pub prescription_version_id: PrescriptionVersionId,
    /// The line's number.
    pub line: u32,
    /// The planned dose's day and slot, as the plan lists them (none for a line given if
    /// needed).
    #[serde(default)]
    pub due_on: Option<NaiveDate>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 20))]
    pub slot: Option<String>,
    pub outcome: Outcome,
    /// How much was taken: required when partly given (less than the dose), otherwise the dose.
    #[serde(default)]
    pub quantity: Option<f64>,
    /// Required when not given.
    #[serde(default)]
    pub reason: Option<NotGivenReason>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub note: Option<String>,
    /// When (default: now).
    #[serde(default)]
    pub given_at: Option<DateTime<Utc>>,
    /// The warnings of the dose were read: required to record a dose with warnings as given.
    #[serde(default)]
    pub confirm: bool,
}

/// What is known of the dose when a record is decided.
#[derive(Debug, Clone, Copy)]
pub struct DoseContext<'a> {
    pub line: &'a PrescriptionLine,
    /// The planned dose and its instant (none for a line given if needed).
    pub planned: Option<(&'a PlannedDose, DateTime<Utc>)>,
    pub warnings: &'a [DoseWarning],
    pub act: Act,
    /// For a line given if needed: the doses given of it in the day of `given_at`, and the
    /// local day's bounds.
    pub given_today: &'a [DateTime<Utc>],
    /// Why the person was away when the dose was given, if they were.
    pub away: Option<AbsenceKind>,
    pub now: DateTime<Utc>,
}

/// A record decided, to write.
#[derive(Clone, PartialEq)]
pub struct NewAdministration {
    pub due_on: Option<NaiveDate>,
    pub slot: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
    pub outcome: Outcome,
    pub act: Act,
    pub given_at: DateTime<Utc>,
    pub confirmed_warnings: bool,
    pub details: AdministrationDetails,
}

/// What a record says, sealed in storage.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct AdministrationDetails {
    pub drug: String,
    pub quantity: Option<f64>,
    pub unit: String,
    pub reason: Option<NotGivenReason>,
    pub note: Option<String>,
}

impl std::fmt::Debug for AdministrationDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdministrationDetails").finish_non_exhaustive()
    }
}

fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl NewAdministration {
    /// Decides a record: the outcome's rules (a reason when not given, a smaller quantity when
    /// partly given), the time (not in the future, not long before the dose), the act (a route
    /// that needs a nurse is not helped with), the warnings confirmed, and for a line given if
    /// needed its maximum per day and its interval.
    pub fn decide(input: AdministrationInput, context: DoseContext<'_>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let line = context.line;
        let given_at = input.given_at.unwrap_or(context.now);
        let taken = matches!(input.outcome, Outcome::Given | Outcome::PartlyGiven);
        if given_at > context.now + TimeDelta::minutes(5) {
            errors.add("given_at", "is in the future");
        }
        let due_quantity = context.planned.map(|(dose, _)| dose.quantity).unwrap_or(line.dose.quantity);
        let quantity = match input.outcome {
            Outcome::Given => {
                if input.quantity.is_some_and(|q| (q - due_quantity).abs() > 1e-9) {
                    errors.add(
                        "quantity",
                        format!("is the dose ({due_quantity} {}) when given: partly_given says less", line.dose.unit),
                    );
                }
                Some(due_quantity)
            }
            Outcome::PartlyGiven => match input.quantity {
                None => {
                    errors.add("quantity", "is required when partly given");
                    None
                }
                Some(q) if !q.is_finite() || q <= 0.0 || q >= due_quantity => {
                    errors.add("quantity", format!("must be more than 0 and less than the dose ({due_quantity})"));
                    None
                }
                Some(q) => Some(q),
            },
            Outcome::Refused | Outcome::NotGiven => {
                if input.quantity.is_some() {
                    errors.add("quantity", "is only for a dose given or partly given");
                }
                None
            }
        };
        if input.outcome == Outcome::NotGiven && input.reason.is_none() {
            errors.add("reason", "is required when the dose is not given");
        }
        if input.outcome != Outcome::NotGiven && input.reason.is_some() {
            errors.add("reason", "is only for a dose not given (a refusal or a partial dose is told in the note)");
        }
        if input.reason == Some(NotGivenReason::Other) && input.note.as_deref().is_none_or(|n| n.trim().is_empty()) {
            errors.add("note", "is required when the reason is other: say why");
        }
        let note = optional_text(&mut errors, "note", input.note, MAX_NOTE);
        if taken && context.act == Act::HelpWithTaking && !helpable(line.route) {
            errors.add(
                "line",
                format!("is given by the {} route: a nurse administers it (no help with taking)", line.route.as_str()),
            );
        }
        if let Some(kind) = context.away.filter(|_| taken) {
            errors.add(
                "outcome",
                format!(
                    "cannot be {} while the person is away ({}): record the dose not given (absent, hospitalised)",
                    input.outcome.as_str(),
                    kind.as_str()
                ),
            );
        }
        if taken && !context.warnings.is_empty() && !input.confirm {
            errors.add(
                "confirm",
                "is required: this line has warnings (allergy or duplicate substance), read them first",
            );
        }
        match (&line.schedule, context.planned) {
            (Schedule::IfNeeded { max_per_day, min_interval_hours, .. }, None) => {
                if input.due_on.is_some() || input.slot.is_some() {
                    errors.add("slot", "is not for a line given if needed");
                }
                if input.outcome == Outcome::NotGiven {
                    errors.add("outcome", "cannot be not_given for a line given if needed: record only what is given");
                }
                if taken {
                    let given = context.given_today.len() as u32;
                    if let Some(max) = max_per_day.filter(|max| given >= *max) {
                        errors.add("line", format!("was given {given} times today: the maximum is {max} a day"));
                    }
                    let interval = min_interval_hours.map(|h| TimeDelta::hours(i64::from(h)));
                    let last = context.given_today.iter().filter(|at| **at <= given_at).max();
                    if let (Some(interval), Some(last)) = (interval, last)
                        && given_at < *last + interval
                    {
                        errors.add(
                            "given_at",
                            format!("is less than {} hours after the last dose ({})", interval.num_hours(), utc(*last)),
                        );
                    }
                }
            }
            (_, Some((_, due_at))) => {
                if given_at < due_at - TimeDelta::hours(EARLY_HOURS) {
                    errors.add(
                        "given_at",
                        format!("is more than {EARLY_HOURS} hours before the dose's time ({})", utc(due_at)),
                    );
                }
            }
            (_, None) => errors.add("slot", "is required: the day and slot of the planned dose"),
        }
        errors.into_result(|| NewAdministration {
            due_on: context.planned.map(|_| input.due_on).unwrap_or(None),
            slot: context.planned.map(|(dose, _)| dose.slot.clone()),
            due_at: context.planned.map(|(_, at)| at),
            outcome: input.outcome,
            act: context.act,
            given_at,
            confirmed_warnings: taken && !context.warnings.is_empty(),
            details: AdministrationDetails {
                drug: line.drug.denomination.clone(),
                quantity,
                unit: line.dose.unit.clone(),
                reason: input.reason,
                note,
            },
        })
    }

    /// What the hand-over says of a dose not given as prescribed (nothing of one given).
    pub fn summary(&self) -> Option<String> {
        let details = &self.details;
        let when = self.slot.as_deref().map(|s| format!(" ({})", slot_words(s))).unwrap_or_default();
        let note = details.note.as_deref().map(|n| format!(" — {n}")).unwrap_or_default();
        let what = match self.outcome {
            Outcome::Given => return None,
            Outcome::PartlyGiven => {
                format!("pris en partie ({} {} sur la dose)", details.quantity.unwrap_or_default(), details.unit)
            }
            Outcome::Refused => "refusé".to_owned(),
            Outcome::NotGiven => {
                format!("non donné — {}", details.reason.map(reason_words).unwrap_or("raison non dite"))
            }
        };
        Some(format!("{}{when} : {what}{note}", details.drug))
    }
}

fn slot_words(slot: &str) -> &str {
    match Moment::parse(slot) {
        Some(Moment::Morning) => "matin",
        Some(Moment::Noon) => "midi",
        Some(Moment::Evening) => "soir",
        Some(Moment::Bedtime) => "coucher",
        None => slot,
    }
}

fn reason_words(reason: NotGivenReason) -> &'static str {
    match reason {
        NotGivenReason::Absent => "absent",
        NotGivenReason::Asleep => "endormi",
        NotGivenReason::Vomiting => "vomissements",
        NotGivenReason::Hospitalised => "hospitalisé",
        NotGivenReason::Fasting => "à jeun",
        NotGivenReason::SwallowingDifficulty => "troubles de la déglutition",
        NotGivenReason::Unavailable => "médicament indisponible",
        NotGivenReason::ClinicalDecision => "décision clinique",
        NotGivenReason::Other => "autre",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drug::ActiveSubstance;
    use crate::prescription::{MomentDose, PrescribedDrug};

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn line(schedule: Schedule, route: Route) -> PrescriptionLine {
        PrescriptionLine {
            number: 2,
            drug: PrescribedDrug {
                cis: "60234100".into(),
                denomination: "DOLIPRANE 500 mg, comprimé".into(),
                active_substances: vec![ActiveSubstance {
                    name: "PARACÉTAMOL".into(),
                    substance_code: "2202".into(),
                    dosage: None,
                    dosage_reference: None,
                    active_substance: None,
                }],
            },
            dose: Dose { quantity: 2.0, unit: "comprimé".into() },
            route,
            schedule,
            days: None,
            starts_on: day(2026, 12, 1),
            ends_on: Some(day(2026, 12, 31)),
            crushable: false,
            notes: None,
        }
    }

    fn moments(list: &[(Moment, Option<f64>)]) -> Schedule {
        Schedule::Moments {
            moments: list
                .iter()
                .map(|(moment, quantity)| MomentDose { moment: *moment, quantity: *quantity })
                .collect(),
        }
    }

    fn input(outcome: Outcome) -> AdministrationInput {
        AdministrationInput {
            prescription_version_id: PrescriptionVersionId::from_uuid(uuid::Uuid::from_u128(1)),
            line: 2,
            due_on: Some(day(2026, 12, 8)),
            slot: Some("morning".into()),
            outcome,
            quantity: None,
            reason: None,
            note: None,
            given_at: None,
            confirm: false,
        }
    }

    #[test]
    fn moments_give_a_dose_at_each_round_and_hours_from_the_first_time() {
        let l = line(moments(&[(Moment::Morning, None), (Moment::Bedtime, Some(1.0))]), Route::Oral);
        let doses = planned_doses(&l, day(2026, 12, 8));
        assert_eq!(doses.len(), 2);
        assert_eq!((doses[0].slot.as_str(), doses[0].at, doses[0].quantity), ("morning", time(8, 0), 2.0));
        assert_eq!((doses[1].slot.as_str(), doses[1].at, doses[1].quantity), ("bedtime", time(21, 0), 1.0));
        // Outside the line's days, nothing.
        assert!(planned_doses(&l, day(2026, 11, 30)).is_empty());
        assert!(planned_doses(&l, day(2027, 1, 1)).is_empty());

        let every = line(Schedule::EveryHours { interval_hours: 6, first_at: time(6, 0) }, Route::Oral);
        let doses = planned_doses(&every, day(2026, 12, 8));
        let slots: Vec<(&str, Moment)> = doses.iter().map(|d| (d.slot.as_str(), d.round)).collect();
        assert_eq!(slots, [("06:00", Moment::Bedtime), ("12:00", Moment::Noon), ("18:00", Moment::Evening)]);
        let hourly = line(Schedule::EveryHours { interval_hours: 1, first_at: time(0, 30) }, Route::Oral);
        assert_eq!(planned_doses(&hourly, day(2026, 12, 8)).len(), 24);
        let if_needed = line(
            Schedule::IfNeeded { max_per_day: Some(3), min_interval_hours: Some(4), condition: "douleur".into() },
            Route::Oral,
        );
        assert!(planned_doses(&if_needed, day(2026, 12, 8)).is_empty());
    }

    #[test]
    fn days_of_the_week_and_every_n_days_count_from_the_first_day() {
        let mut l = line(moments(&[(Moment::Morning, None)]), Route::Oral);
        l.days = Some(Days::Weekdays { weekdays: vec![Weekday::Monday, Weekday::Thursday] });
        // 2026-12-07 is a Monday.
        assert!(is_day_of(&l, day(2026, 12, 7)));
        assert!(!is_day_of(&l, day(2026, 12, 8)));
        assert!(is_day_of(&l, day(2026, 12, 10)));
        l.days = Some(Days::EveryNDays { every: 3 });
        assert!(is_day_of(&l, day(2026, 12, 1)));
        assert!(!is_day_of(&l, day(2026, 12, 2)));
        assert!(is_day_of(&l, day(2026, 12, 4)));
    }

    #[test]
    fn a_dose_is_pending_due_late_missed_or_as_recorded() {
        let due = at("2026-12-08T07:00:00Z");
        let window = TimeDelta::hours(4);
        assert_eq!(dose_state(due, None, due - TimeDelta::minutes(1), window), DoseState::Pending);
        assert_eq!(dose_state(due, None, due + TimeDelta::minutes(59), window), DoseState::Due);
        assert_eq!(dose_state(due, None, due + TimeDelta::minutes(60), window), DoseState::Late);
        assert_eq!(dose_state(due, None, due + TimeDelta::hours(4), window), DoseState::Missed);
        assert_eq!(dose_state(due, Some(Outcome::Refused), due + TimeDelta::hours(9), window), DoseState::Refused);
    }

    #[test]
    fn the_outcome_rules_and_the_act() {
        let l = line(moments(&[(Moment::Morning, None)]), Route::Oral);
        let planned = planned_doses(&l, day(2026, 12, 8));
        let due_at = at("2026-12-08T07:00:00Z");
        let now = at("2026-12-08T07:20:00Z");
        let context = DoseContext {
            line: &l,
            planned: Some((&planned[0], due_at)),
            warnings: &[],
            act: Act::HelpWithTaking,
            given_today: &[],
            away: None,
            now,
        };
        let given = NewAdministration::decide(input(Outcome::Given), context).unwrap();
        assert_eq!((given.details.quantity, given.act, given.due_at), (Some(2.0), Act::HelpWithTaking, Some(due_at)));
        assert_eq!(given.summary(), None);

        let fields = |input: AdministrationInput, context: DoseContext<'_>| -> Vec<String> {
            NewAdministration::decide(input, context).unwrap_err().errors().iter().map(|e| e.field.clone()).collect()
        };
        assert_eq!(fields(input(Outcome::NotGiven), context), ["reason"]);
        assert_eq!(fields(input(Outcome::PartlyGiven), context), ["quantity"]);
        let mut too_much = input(Outcome::PartlyGiven);
        too_much.quantity = Some(2.0);
        assert_eq!(fields(too_much, context), ["quantity"]);
        let mut early = input(Outcome::Given);
        early.given_at = Some(due_at - TimeDelta::hours(3));
        assert_eq!(fields(early, context), ["given_at"]);
        let mut future = input(Outcome::Given);
        future.given_at = Some(now + TimeDelta::hours(1));
        assert_eq!(fields(future, context), ["given_at"]);
        let mut other = input(Outcome::NotGiven);
        other.reason = Some(NotGivenReason::Other);
        assert_eq!(fields(other, context), ["note"]);

        let mut half = input(Outcome::PartlyGiven);
        half.quantity = Some(1.0);
        half.note = Some("a recraché".into());
        let partly = NewAdministration::decide(half, context).unwrap();
        assert_eq!(
            partly.summary().unwrap(),
            "DOLIPRANE 500 mg, comprimé (matin) : pris en partie (1 comprimé sur la dose) — a recraché"
        );
        let mut asleep = input(Outcome::NotGiven);
        asleep.reason = Some(NotGivenReason::Asleep);
        let asleep = NewAdministration::decide(asleep, context).unwrap();
        assert_eq!(asleep.summary().unwrap(), "DOLIPRANE 500 mg, comprimé (matin) : non donné — endormi");

        // A subcutaneous injection is a nurse's: a care assistant does not help with it, but may
        // record that it was refused.
        let injection = line(moments(&[(Moment::Morning, None)]), Route::Subcutaneous);
        let context = DoseContext { line: &injection, ..context };
        assert_eq!(fields(input(Outcome::Given), context), ["line"]);
        assert!(NewAdministration::decide(input(Outcome::Refused), context).is_ok());
        let nurse = DoseContext { act: Act::Administration, ..context };
        assert!(NewAdministration::decide(input(Outcome::Given), nurse).is_ok());
        // Away in hospital: not given, not given as such.
        let away = DoseContext { away: Some(AbsenceKind::Hospitalisation), ..nurse };
        assert_eq!(fields(input(Outcome::Given), away), ["outcome"]);
        let mut hospitalised = input(Outcome::NotGiven);
        hospitalised.reason = Some(NotGivenReason::Hospitalised);
        assert!(NewAdministration::decide(hospitalised, away).is_ok());
    }

    #[test]
    fn warnings_ask_for_a_confirmation() {
        let l = line(moments(&[(Moment::Morning, None)]), Route::Oral);
        let planned = planned_doses(&l, day(2026, 12, 8));
        let warning =
            DoseWarning::Allergy { substance: "PARACÉTAMOL".into(), allergy_substance: "paracétamol".into() };
        let context = DoseContext {
            line: &l,
            planned: Some((&planned[0], at("2026-12-08T07:00:00Z"))),
            warnings: std::slice::from_ref(&warning),
            act: Act::Administration,
            given_today: &[],
            away: None,
            now: at("2026-12-08T07:10:00Z"),
        };
        let errors = NewAdministration::decide(input(Outcome::Given), context).unwrap_err();
        assert_eq!(errors.errors()[0].field, "confirm");
        // Refusing needs no confirmation.
        assert!(!NewAdministration::decide(input(Outcome::Refused), context).unwrap().confirmed_warnings);
        let mut confirmed = input(Outcome::Given);
        confirmed.confirm = true;
        assert!(NewAdministration::decide(confirmed, context).unwrap().confirmed_warnings);
    }

    #[test]
    fn a_line_if_needed_keeps_to_its_maximum_and_its_interval() {
        let l = line(
            Schedule::IfNeeded { max_per_day: Some(3), min_interval_hours: Some(4), condition: "douleur".into() },
            Route::Oral,
        );
        let now = at("2026-12-08T15:00:00Z");
        let mut if_needed = input(Outcome::Given);
        if_needed.due_on = None;
        if_needed.slot = None;
        let earlier = [at("2026-12-08T05:00:00Z"), at("2026-12-08T09:00:00Z")];
        let context = DoseContext {
            line: &l,
            planned: None,
            warnings: &[],
            act: Act::Administration,
            given_today: &earlier,
            away: None,
            now,
        };
        let third = NewAdministration::decide(if_needed.clone(), context).unwrap();
        assert_eq!((third.due_on, third.slot.as_deref()), (None, None));
        let soon = [at("2026-12-08T05:00:00Z"), at("2026-12-08T13:00:00Z")];
        let errors =
            NewAdministration::decide(if_needed.clone(), DoseContext { given_today: &soon, ..context }).unwrap_err();
        assert_eq!(errors.errors()[0].field, "given_at");
        let three = [at("2026-12-08T01:00:00Z"), at("2026-12-08T05:00:00Z"), at("2026-12-08T09:00:00Z")];
        let errors =
            NewAdministration::decide(if_needed.clone(), DoseContext { given_today: &three, ..context }).unwrap_err();
        assert_eq!(errors.errors()[0].field, "line");
        assert!(errors.errors()[0].message.contains("maximum is 3"));
        // A refusal does not count.
        let mut refused = if_needed.clone();
        refused.outcome = Outcome::Refused;
        assert!(NewAdministration::decide(refused, DoseContext { given_today: &three, ..context }).is_ok());
        // A line given if needed has no slot; a planned line needs one.
        let mut slotted = if_needed;
        slotted.slot = Some("morning".into());
        assert_eq!(NewAdministration::decide(slotted, context).unwrap_err().errors()[0].field, "slot");
    }
}
