//! Prescriptions: the medication circuit's first piece. A prescription entered from a paper one,
//! a received one, or a verbal order confirmed, is a lineage of versions, never edited: a change
//! is a whole new version that supersedes the one in force, a stop ends it (with a reason). Each
//! line names a drug of the referential by its CIS, kept as the referential described it at the
//! time (its denomination and active substances), with its dose, route and schedule. The
//! administration rounds to come name a version and a line number.
//!
//! At each version the use case computes safety flags: a line whose active substances match an
//! allergy or intolerance in force of the person, and a substance prescribed twice (on two lines,
//! or on a line of another prescription in force). The version is accepted with its flags; the
//! administration asks for confirmation.
//!
//! What is prescribed and the flags are sealed in storage; the status, dates and whether a flag
//! was raised stay in clear for the lists.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::Allergy;
use crate::drug::{ActiveSubstance, allergy_check};
use crate::validation::{ValidationErrors, optional_text, text};
use crate::{AllergyId, EstablishmentId, PrescriptionId, PrescriptionVersionId, ResidentId, UserId};

/// The most lines of one prescription.
pub const MAX_LINES: usize = 30;
/// The longest short text (a name, a unit), in characters.
pub const MAX_SHORT: usize = 200;
/// The longest free text (notes, a condition), in characters.
pub const MAX_TEXT: usize = 2000;
/// The largest quantity of one intake (a dose of 1000 units is a typing error).
pub const MAX_QUANTITY: f64 = 1000.0;

crate::text_codes! {
    /// How the prescription reached the establishment.
    pub enum PrescriptionSource {
        /// A paper prescription, transcribed.
        Paper = "paper",
        /// Received (by mail, fax, secure messaging), transcribed.
        Received = "received",
        /// Given orally by the physician and confirmed by them in writing afterwards.
        VerbalConfirmed = "verbal_confirmed",
    }
}

crate::text_codes! {
    pub enum PrescriptionStatus {
        /// The version in force.
        Active = "active",
        /// Replaced by a later version.
        Superseded = "superseded",
        /// Stopped, with a reason.
        Stopped = "stopped",
    }
}

crate::text_codes! {
    /// The route of administration.
    pub enum Route {
        Oral = "oral",
        Sublingual = "sublingual",
        Cutaneous = "cutaneous",
        Transdermal = "transdermal",
        Subcutaneous = "subcutaneous",
        Intramuscular = "intramuscular",
        Intravenous = "intravenous",
        Inhaled = "inhaled",
        Ocular = "ocular",
        Nasal = "nasal",
        Auricular = "auricular",
        Rectal = "rectal",
        Vaginal = "vaginal",
        Other = "other",
    }
}

crate::text_codes! {
    /// A moment of the day's intakes.
    pub enum Moment {
        Morning = "morning",
        Noon = "noon",
        Evening = "evening",
        Bedtime = "bedtime",
    }
}

crate::text_codes! {
    pub enum Weekday {
        Monday = "monday",
        Tuesday = "tuesday",
        Wednesday = "wednesday",
        Thursday = "thursday",
        Friday = "friday",
        Saturday = "saturday",
        Sunday = "sunday",
    }
}

crate::redacted_debug!(Prescriber, Dose, MomentDose, Schedule, Days, LineInput, PrescriptionInput, PrescribedDrug);
crate::redacted_debug!(PrescriptionLine, SafetyFlag, PrescriptionContent, PrescriptionVersion, PrescriptionStop);

/// Who prescribed.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Prescriber {
    /// The physician's name ("Dr Claire Martin").
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub name: String,
    /// Their RPPS number: 11 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^ *[0-9]{11} *$"))]
    pub rpps: Option<String>,
}

/// A quantity of a unit, taken at once.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Dose {
    /// How much: more than 0 (0.5 for half a tablet), at most 1000, three decimals at most.
    pub quantity: f64,
    /// Of what ("comprimé", "mg", "goutte", "UI").
    #[cfg_attr(feature = "openapi", schema(max_length = 40))]
    pub unit: String,
}

/// A moment of the day, with its own quantity when it differs from the line's dose.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MomentDose {
    pub moment: Moment,
    /// The quantity at this moment (default: the line's dose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<f64>,
}

/// When the drug is taken in a day.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// At moments of the day (morning, noon, evening, bedtime), each once.
    Moments { moments: Vec<MomentDose> },
    /// Every `interval_hours` hours (1 to 24), from `first_at` in the day.
    EveryHours { interval_hours: u32, first_at: NaiveTime },
    /// If needed: on a condition, at most `max_per_day` times a day (required), at least
    /// `min_interval_hours` apart.
    IfNeeded {
        #[serde(default)]
        max_per_day: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min_interval_hours: Option<u32>,
        /// The condition, in words ("si douleur EVA > 3").
        condition: String,
    },
}

/// Which days the drug is taken (none: every day).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Days {
    /// On these days of the week.
    Weekdays { weekdays: Vec<Weekday> },
    /// Every `every` days from the line's start (2: every other day).
    EveryNDays { every: u32 },
}

/// A line as entered.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    /// The drug's CIS code in the referential (8 digits).
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[0-9]{8}$"))]
    pub cis: String,
    pub dose: Dose,
    pub route: Route,
    pub schedule: Schedule,
    #[serde(default)]
    pub days: Option<Days>,
    /// The first day (default: the day prescribed).
    #[serde(default)]
    pub starts_on: Option<NaiveDate>,
    /// The last day, if any (not before the first).
    #[serde(default)]
    pub ends_on: Option<NaiveDate>,
    /// Whether the tablets may be crushed (for a person who swallows with difficulty).
    #[serde(default)]
    pub crushable: bool,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub notes: Option<String>,
}

/// A prescription (or a new version of one) as entered.
#[derive(Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PrescriptionInput {
    pub prescriber: Prescriber,
    /// The day of the prescription (not in the future, in the establishment's calendar).
    pub prescribed_on: NaiveDate,
    /// Valid until (not before the day prescribed).
    #[serde(default)]
    pub valid_until: Option<NaiveDate>,
    pub source: PrescriptionSource,
    /// 1 to 30 lines.
    pub lines: Vec<LineInput>,
}

/// A line checked, its drug not yet looked up: what the referential must then say.
#[derive(Clone, PartialEq)]
pub struct CheckedLine {
    pub cis: String,
    pub dose: Dose,
    pub route: Route,
    pub schedule: Schedule,
    pub days: Option<Days>,
    pub starts_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub crushable: bool,
    pub notes: Option<String>,
}

impl std::fmt::Debug for CheckedLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedLine").field("cis", &self.cis).finish_non_exhaustive()
    }
}

/// A prescription checked, its drugs not yet looked up.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedPrescription {
    pub prescriber: Prescriber,
    pub prescribed_on: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    pub source: PrescriptionSource,
    pub lines: Vec<CheckedLine>,
}

fn quantity(errors: &mut ValidationErrors, field: &str, value: f64) {
    if !value.is_finite() || value <= 0.0 {
        errors.add(field, "must be more than 0");
    } else if value > MAX_QUANTITY {
        errors.add(field, format!("must be at most {MAX_QUANTITY}"));
    } else if ((value * 1000.0).round() - value * 1000.0).abs() > 1e-6 {
        errors.add(field, "has at most three decimals");
    }
}

fn check_schedule(errors: &mut ValidationErrors, field: &str, schedule: Schedule) -> Schedule {
    match schedule {
        Schedule::Moments { moments } => {
            if moments.is_empty() {
                errors.add(format!("{field}.moments"), "names at least one moment");
            }
            for (i, m) in moments.iter().enumerate() {
                if moments[..i].iter().any(|o| o.moment == m.moment) {
                    errors.add(format!("{field}.moments[{i}].moment"), "appears twice");
                }
                if let Some(q) = m.quantity {
                    quantity(errors, &format!("{field}.moments[{i}].quantity"), q);
                }
            }
            let mut moments = moments;
            moments.sort_by_key(|m| Moment::ALL.iter().position(|o| *o == m.moment));
            Schedule::Moments { moments }
        }
        Schedule::EveryHours { interval_hours, first_at } => {
            if !(1..=24).contains(&interval_hours) {
                errors.add(format!("{field}.interval_hours"), "must be between 1 and 24");
            }
            Schedule::EveryHours { interval_hours, first_at }
        }
        Schedule::IfNeeded { max_per_day, min_interval_hours, condition } => {
            match max_per_day {
                None => errors.add(format!("{field}.max_per_day"), "is required for a drug given if needed"),
                Some(0) => errors.add(format!("{field}.max_per_day"), "must be at least 1"),
                Some(n) if n > 24 => errors.add(format!("{field}.max_per_day"), "must be at most 24"),
                Some(_) => {}
            }
            if min_interval_hours.is_some_and(|h| !(1..=72).contains(&h)) {
                errors.add(format!("{field}.min_interval_hours"), "must be between 1 and 72");
            }
            let condition = errors.check(&format!("{field}.condition"), text(&condition, 1, MAX_TEXT));
            Schedule::IfNeeded { max_per_day, min_interval_hours, condition: condition.unwrap_or_default() }
        }
    }
}

fn check_days(errors: &mut ValidationErrors, field: &str, days: Option<Days>) -> Option<Days> {
    match days? {
        Days::Weekdays { mut weekdays } => {
            if weekdays.is_empty() {
                errors.add(format!("{field}.weekdays"), "names at least one day");
            }
            weekdays.sort_by_key(|d| Weekday::ALL.iter().position(|o| o == d));
            weekdays.dedup();
            Some(Days::Weekdays { weekdays })
        }
        Days::EveryNDays { every } => {
            if !(2..=366).contains(&every) {
                errors.add(format!("{field}.every"), "must be between 2 and 366");
            }
            Some(Days::EveryNDays { every })
        }
    }
}

impl CheckedPrescription {
    /// Checks a prescription on `today` (the establishment's day). Errors name the field:
    /// `prescriber.name`, `prescriber.rpps`, `prescribed_on`, `valid_until`, `lines`,
    /// `lines[2].cis`, `lines[2].dose.quantity`, `lines[2].schedule.max_per_day`,
    /// `lines[2].ends_on`...
    pub fn validate(input: PrescriptionInput, today: NaiveDate) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.check("prescriber.name", text(&input.prescriber.name, 1, MAX_SHORT));
        let rpps = input
            .prescriber
            .rpps
            .filter(|r| !r.trim().is_empty())
            .and_then(|r| errors.check("prescriber.rpps", crate::people::rpps(&r)));
        if input.prescribed_on > today {
            errors.add("prescribed_on", "is in the future");
        } else if input.prescribed_on < NaiveDate::from_ymd_opt(1990, 1, 1).unwrap_or(NaiveDate::MIN) {
            errors.add("prescribed_on", "is before 1990");
        }
        if input.valid_until.is_some_and(|v| v < input.prescribed_on) {
            errors.add("valid_until", "is before prescribed_on");
        }
        if input.lines.is_empty() {
            errors.add("lines", "has at least one line");
        } else if input.lines.len() > MAX_LINES {
            errors.add("lines", format!("has at most {MAX_LINES} lines"));
        }
        let mut lines = Vec::with_capacity(input.lines.len());
        for (i, line) in input.lines.into_iter().enumerate() {
            let field = format!("lines[{i}]");
            let cis = line.cis.trim().to_owned();
            if !crate::drug::is_cis(&cis) {
                errors.add(format!("{field}.cis"), "must be 8 digits");
            }
            quantity(&mut errors, &format!("{field}.dose.quantity"), line.dose.quantity);
            let unit = errors.check(&format!("{field}.dose.unit"), text(&line.dose.unit, 1, 40)).unwrap_or_default();
            let schedule = check_schedule(&mut errors, &format!("{field}.schedule"), line.schedule);
            let days = check_days(&mut errors, &format!("{field}.days"), line.days);
            let starts_on = line.starts_on.unwrap_or(input.prescribed_on);
            if starts_on < input.prescribed_on {
                errors.add(format!("{field}.starts_on"), "is before prescribed_on");
            }
            if line.ends_on.is_some_and(|e| e < starts_on) {
                errors.add(format!("{field}.ends_on"), "is before starts_on");
            }
            let notes = optional_text(&mut errors, &format!("{field}.notes"), line.notes, MAX_TEXT);
            lines.push(CheckedLine {
                cis,
                dose: Dose { quantity: line.dose.quantity, unit },
                route: line.route,
                schedule,
                days,
                starts_on,
                ends_on: line.ends_on,
                crushable: line.crushable,
                notes,
            });
        }
        errors.into_result(|| CheckedPrescription {
            prescriber: Prescriber { name: name.unwrap_or_default(), rpps },
            prescribed_on: input.prescribed_on,
            valid_until: input.valid_until,
            source: input.source,
            lines,
        })
    }
}

/// A drug as the referential described it when prescribed.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrescribedDrug {
    pub cis: String,
    pub denomination: String,
    pub active_substances: Vec<ActiveSubstance>,
}

/// A line of a version. `number` (from 1) is what an administration names.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrescriptionLine {
    pub number: u32,
    pub drug: PrescribedDrug,
    pub dose: Dose,
    pub route: Route,
    pub schedule: Schedule,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<Days>,
    pub starts_on: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_on: Option<NaiveDate>,
    pub crushable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// A safety flag raised on a line when the version was made.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SafetyFlag {
    /// One of the line's active substances matches an allergy or intolerance in force.
    Allergy {
        line: u32,
        /// The drug's substance that matched.
        substance: String,
        allergy_id: AllergyId,
        /// The allergy's substance, as recorded.
        allergy_substance: String,
    },
    /// One of the line's active substances is also on another line of this version, or on a
    /// line of another prescription in force (`other_prescription`, its version
    /// `other_version`).
    DuplicateSubstance {
        line: u32,
        substance: String,
        other_line: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        other_prescription: Option<PrescriptionId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        other_version: Option<PrescriptionVersionId>,
    },
}

/// What a version says: sealed in storage.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct PrescriptionContent {
    pub prescriber: Prescriber,
    pub source: PrescriptionSource,
    pub lines: Vec<PrescriptionLine>,
    pub flags: Vec<SafetyFlag>,
}

/// The lines of another prescription in force, for the duplicate check.
#[derive(Debug, Clone)]
pub struct OtherPrescription {
    pub prescription: PrescriptionId,
    pub version: PrescriptionVersionId,
    pub lines: Vec<PrescriptionLine>,
}

/// A checked version, its drugs looked up and its flags computed, ready to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPrescription {
    pub prescribed_on: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    pub content: PrescriptionContent,
}

/// Two substances are the same one: the same code in the referential (the displayed one — the
/// therapeutic fraction —, or the salt's name when both carry one).
fn same_substance(a: &ActiveSubstance, b: &ActiveSubstance) -> bool {
    a.substance_code == b.substance_code
        || crate::alert::normalise_substance(&a.name) == crate::alert::normalise_substance(&b.name)
}

/// The safety flags of `lines`: allergies in force matched, substances on two lines or on a line
/// of another prescription in force.
pub fn safety_flags(
    lines: &[PrescriptionLine],
    allergies: &[Allergy],
    others: &[OtherPrescription],
) -> Vec<SafetyFlag> {
    let mut flags = Vec::new();
    for line in lines {
        for found in allergy_check(&line.drug.active_substances, allergies) {
            flags.push(SafetyFlag::Allergy {
                line: line.number,
                substance: found.substance,
                allergy_id: found.allergy_id,
                allergy_substance: found.allergy_substance,
            });
        }
        for substance in &line.drug.active_substances {
            for other in lines.iter().filter(|o| o.number != line.number) {
                if other.drug.active_substances.iter().any(|s| same_substance(s, substance)) {
                    flags.push(SafetyFlag::DuplicateSubstance {
                        line: line.number,
                        substance: substance.name.clone(),
                        other_line: other.number,
                        other_prescription: None,
                        other_version: None,
                    });
                }
            }
            for prescription in others {
                for other in &prescription.lines {
                    if other.drug.active_substances.iter().any(|s| same_substance(s, substance)) {
                        flags.push(SafetyFlag::DuplicateSubstance {
                            line: line.number,
                            substance: substance.name.clone(),
                            other_line: other.number,
                            other_prescription: Some(prescription.prescription),
                            other_version: Some(prescription.version),
                        });
                    }
                }
            }
        }
    }
    flags
}

impl NewPrescription {
    /// Completes a checked prescription with its drugs (`drugs[i]` is line `i`'s, none when the
    /// referential has no such CIS: `lines[i].cis` then) and its safety flags.
    pub fn of(
        checked: CheckedPrescription,
        drugs: Vec<Option<PrescribedDrug>>,
        allergies: &[Allergy],
        others: &[OtherPrescription],
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut lines = Vec::with_capacity(checked.lines.len());
        for (i, (line, drug)) in checked.lines.into_iter().zip(drugs).enumerate() {
            let Some(drug) = drug else {
                errors.add(format!("lines[{i}].cis"), "is not a speciality of the drug referential");
                continue;
            };
            lines.push(PrescriptionLine {
                number: i as u32 + 1,
                drug,
                dose: line.dose,
                route: line.route,
                schedule: line.schedule,
                days: line.days,
                starts_on: line.starts_on,
                ends_on: line.ends_on,
                crushable: line.crushable,
                notes: line.notes,
            });
        }
        errors.into_result(|| {
            let flags = safety_flags(&lines, allergies, others);
            NewPrescription {
                prescribed_on: checked.prescribed_on,
                valid_until: checked.valid_until,
                content: PrescriptionContent { prescriber: checked.prescriber, source: checked.source, lines, flags },
            }
        })
    }

    /// The drugs' denominations, for the hand-over.
    pub fn denominations(&self) -> String {
        denominations(&self.content.lines)
    }
}

/// The lines' denominations, joined.
pub fn denominations(lines: &[PrescriptionLine]) -> String {
    lines.iter().map(|l| l.drug.denomination.as_str()).collect::<Vec<_>>().join(" ; ")
}

/// When a prescription is stopped, checked: not in the future, not before it was prescribed
/// (`None`: today).
pub fn check_stopped_on(
    on: Option<NaiveDate>,
    prescribed_on: NaiveDate,
    today: NaiveDate,
) -> Result<NaiveDate, ValidationErrors> {
    let on = on.unwrap_or(today);
    let mut errors = ValidationErrors::new();
    if on > today {
        errors.add("stopped_on", "is in the future");
    } else if on < prescribed_on {
        errors.add("stopped_on", "is before prescribed_on");
    }
    errors.into_result(|| on)
}

/// A stop: when, why, by whom.
#[derive(Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrescriptionStop {
    pub stopped_on: NaiveDate,
    pub reason: String,
    pub by: UserId,
    pub at: DateTime<Utc>,
}

/// A version of a prescription, as recorded.
#[derive(Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrescriptionVersion {
    /// The version's id: what an administration names, with a line number.
    pub id: PrescriptionVersionId,
    /// The prescription (the lineage of versions).
    pub prescription_id: PrescriptionId,
    pub resident_id: ResidentId,
    pub establishment_id: EstablishmentId,
    pub version: i32,
    pub status: PrescriptionStatus,
    /// The version this one replaced (none for the first).
    pub replaces: Option<PrescriptionVersionId>,
    pub prescriber: Prescriber,
    pub source: PrescriptionSource,
    pub prescribed_on: NaiveDate,
    pub valid_until: Option<NaiveDate>,
    pub lines: Vec<PrescriptionLine>,
    /// Whether a safety flag was raised (see `flags`).
    pub flagged: bool,
    pub flags: Vec<SafetyFlag>,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    /// Superseded or stopped: when, and by whom.
    pub ended_at: Option<DateTime<Utc>>,
    pub ended_by: Option<UserId>,
    pub stop: Option<PrescriptionStop>,
}

/// A prescription with every version, newest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Prescription {
    pub id: PrescriptionId,
    /// The status of its latest version.
    pub status: PrescriptionStatus,
    /// Every version, newest first.
    pub versions: Vec<PrescriptionVersion>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn line(cis: &str, schedule: Schedule) -> LineInput {
        LineInput {
            cis: cis.into(),
            dose: Dose { quantity: 1.0, unit: "comprimé".into() },
            route: Route::Oral,
            schedule,
            days: None,
            starts_on: None,
            ends_on: None,
            crushable: false,
            notes: None,
        }
    }

    #[test]
    fn errors_name_the_fields_of_the_lines() {
        let today = day(2026, 12, 7);
        let mut zero = line("60234100", Schedule::Moments { moments: vec![] });
        zero.dose.quantity = 0.0;
        let mut ends = line("6023410", Schedule::EveryHours { interval_hours: 30, first_at: NaiveTime::MIN });
        ends.starts_on = Some(day(2026, 12, 9));
        ends.ends_on = Some(day(2026, 12, 8));
        let if_needed = line(
            "60234100",
            Schedule::IfNeeded { max_per_day: None, min_interval_hours: None, condition: "douleur".into() },
        );
        let input = PrescriptionInput {
            prescriber: Prescriber { name: "Dr Martin".into(), rpps: Some("123".into()) },
            prescribed_on: day(2026, 12, 8),
            valid_until: None,
            source: PrescriptionSource::Paper,
            lines: vec![zero, ends, if_needed],
        };
        let errors = CheckedPrescription::validate(input, today).unwrap_err();
        let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "prescriber.rpps",
                "prescribed_on",
                "lines[0].dose.quantity",
                "lines[0].schedule.moments",
                "lines[1].cis",
                "lines[1].schedule.interval_hours",
                "lines[1].ends_on",
                "lines[2].schedule.max_per_day"
            ]
        );
    }

    #[test]
    fn quantities_are_positive_with_three_decimals_at_most() {
        let mut errors = ValidationErrors::new();
        for ok in [0.5, 0.25, 1.0, 2.125, 1000.0] {
            quantity(&mut errors, "q", ok);
        }
        assert!(errors.is_empty());
        for bad in [0.0, -1.0, 0.0001, 1000.5, f64::NAN] {
            let mut errors = ValidationErrors::new();
            quantity(&mut errors, "q", bad);
            assert!(!errors.is_empty(), "{bad}");
        }
    }
}
