//! The person's medical file: medical history and active problems (with their CIM-10 code when
//! known), vaccinations, and the physicians who follow the person (the attending physician —
//! médecin traitant — and specialists).
//!
//! History, problems and vaccinations are medical data: read only by the health professionals
//! of the team (those who read notes of the medical scope: the coordinating physician and the
//! nurses), recorded by them. Nothing is deleted: a problem is resolved (on a date), an entry
//! made by mistake is flagged as entered in error with a reason (a correction is then recorded
//! anew); each stays.
//!
//! The physicians are contact data rather than medical data: the name and number of the
//! attending physician are what a nurse, and a care assistant at night, need to call them. They
//! are read by those who read the care team's data where the person is supported, and recorded
//! by those who record care data.
//!
//! What is said about the person (the problem and its code, its onset, the vaccine, its batch,
//! who the physicians are) is sealed in storage; kinds, statuses and dates stay in clear.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::transmission::EnteredInError;
use crate::validation::{ValidationErrors, optional_text, text};
use crate::{EstablishmentId, MedicalProblemId, PhysicianId, ResidentId, UserId, VaccinationId};

/// The longest free text (a problem, a vaccine), in characters.
pub const MAX_TEXT: usize = 2000;
/// The longest short text (a batch, a name, a speciality, a vaccine code), in characters.
pub const MAX_SHORT: usize = 200;
/// The highest dose number.
pub const MAX_DOSE: u32 = 20;

crate::text_codes! {
    /// An entry of the medical history (antécédent), or a problem the person has now.
    pub enum ProblemKind {
        History = "history",
        ActiveProblem = "active_problem",
    }
}

crate::text_codes! {
    pub enum ProblemStatus {
        Active = "active",
        /// Resolved on a date (`resolved_on`).
        Resolved = "resolved",
        /// Recorded by mistake: kept, flagged.
        EnteredInError = "entered_in_error",
    }
}

impl ProblemStatus {
    /// The status from the flags: an error flag outweighs a resolution.
    pub fn of(resolved: bool, in_error: bool) -> Self {
        match (resolved, in_error) {
            (_, true) => Self::EnteredInError,
            (true, false) => Self::Resolved,
            (false, false) => Self::Active,
        }
    }
}

crate::text_codes! {
    /// A physician's part in following the person.
    pub enum PhysicianRole {
        /// The médecin traitant: one in force at a time.
        Attending = "attending",
        /// A specialist (`speciality` says which).
        Specialist = "specialist",
    }
}

/// Checks the shape of a CIM-10 (ICD-10) code: a letter, two digits, then optionally a dot and
/// one or two characters (`I10`, `E11.9`, `F03`, `S72.00`). Upper case; the dot may be left out
/// (`E119` is `E11.9`).
pub fn check_cim10(value: &str) -> Result<String, String> {
    let code = value.trim().to_ascii_uppercase();
    let b = code.as_bytes();
    let head = b.len() >= 3 && b[0].is_ascii_uppercase() && b[1].is_ascii_digit() && b[2].is_ascii_digit();
    let tail = &code[if head { 3 } else { 0 }..];
    let tail = tail.strip_prefix('.').unwrap_or(tail);
    let tail_ok = tail.len() <= 2 && tail.bytes().all(|c| c.is_ascii_alphanumeric());
    let dotted_empty = code.len() == 4 && code.ends_with('.');
    if head && tail_ok && !dotted_empty {
        Ok(if tail.is_empty() { code[..3].to_owned() } else { format!("{}.{tail}", &code[..3]) })
    } else {
        Err("is not a CIM-10 code (a letter, two digits, optionally a dot and one or two characters: E11.9)".to_owned())
    }
}

/// Checks a date that may be partial: a year (`1998`), a year and month (`1998-04`) or a day
/// (`1998-04-17`), not after `today`. Returned as given, normalised.
pub fn check_partial_date(value: &str, today: NaiveDate) -> Result<String, String> {
    let value = value.trim();
    let bad = || "is not a date: a year (1998), a year and month (1998-04) or a day (1998-04-17)".to_owned();
    let parts: Vec<&str> = value.split('-').collect();
    let number = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u32>().ok()).flatten()
    };
    let (first, normalised) = match parts.as_slice() {
        [y] => {
            let y = number(y, 4).ok_or_else(bad)?;
            (NaiveDate::from_ymd_opt(y as i32, 1, 1).ok_or_else(bad)?, format!("{y:04}"))
        }
        [y, m] => {
            let (y, m) = (number(y, 4).ok_or_else(bad)?, number(m, 2).ok_or_else(bad)?);
            (NaiveDate::from_ymd_opt(y as i32, m, 1).ok_or_else(bad)?, format!("{y:04}-{m:02}"))
        }
        [y, m, d] => {
            let (y, m, d) =
                (number(y, 4).ok_or_else(bad)?, number(m, 2).ok_or_else(bad)?, number(d, 2).ok_or_else(bad)?);
            (NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(bad)?, format!("{y:04}-{m:02}-{d:02}"))
        }
        _ => return Err(bad()),
    };
    if first > today {
        return Err("is in the future".to_owned());
    }
    if first.year() < 1900 {
        return Err("is before 1900".to_owned());
    }
    Ok(normalised)
}

fn check_day(errors: &mut ValidationErrors, field: &str, day: NaiveDate, today: NaiveDate) {
    if day > today {
        errors.add(field, "is in the future");
    } else if day.year() < 1900 {
        errors.add(field, "is before 1900");
    }
}

/// What a history entry or a problem says about the person: sealed in storage.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemDetails {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cim10: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onset: Option<String>,
}

impl std::fmt::Debug for ProblemDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProblemDetails([redacted])")
    }
}

/// A history entry or a problem as entered.
#[derive(Clone, PartialEq, Eq)]
pub struct ProblemInput {
    pub kind: ProblemKind,
    pub text: String,
    pub cim10: Option<String>,
    pub onset: Option<String>,
}

impl std::fmt::Debug for ProblemInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProblemInput").field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// A checked history entry or problem, ready to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProblem {
    pub kind: ProblemKind,
    pub details: ProblemDetails,
}

impl NewProblem {
    /// Checks an entry on `today`. Errors name the field: `text`, `cim10`, `onset`.
    pub fn validate(input: ProblemInput, today: NaiveDate) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let text = errors.check("text", text(&input.text, 1, MAX_TEXT));
        let cim10 = input.cim10.filter(|c| !c.trim().is_empty()).and_then(|c| errors.check("cim10", check_cim10(&c)));
        let onset = input
            .onset
            .filter(|o| !o.trim().is_empty())
            .and_then(|o| errors.check("onset", check_partial_date(&o, today)));
        errors.into_result(|| NewProblem {
            kind: input.kind,
            details: ProblemDetails { text: text.unwrap_or_default(), cim10, onset },
        })
    }
}

/// When a problem was resolved, checked: not in the future (`None`: today).
pub fn check_resolved_on(day: Option<NaiveDate>, today: NaiveDate) -> Result<NaiveDate, ValidationErrors> {
    let day = day.unwrap_or(today);
    let mut errors = ValidationErrors::new();
    check_day(&mut errors, "resolved_on", day, today);
    errors.into_result(|| day)
}

/// An entry of the medical history, or a problem, as recorded.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MedicalProblem {
    pub id: MedicalProblemId,
    pub resident_id: ResidentId,
    /// Where it was recorded (the establishment of the person's stay).
    pub establishment_id: EstablishmentId,
    pub kind: ProblemKind,
    /// What it is, as the physician or nurse wrote it.
    pub text: String,
    /// Its CIM-10 code, when given (`E11.9`).
    pub cim10: Option<String>,
    /// Since when: a year, a year and month, or a day.
    pub onset: Option<String>,
    pub status: ProblemStatus,
    pub resolved_on: Option<NaiveDate>,
    pub resolved_by: Option<UserId>,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    pub entered_in_error: Option<EnteredInError>,
}

impl std::fmt::Debug for MedicalProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MedicalProblem").field("id", &self.id).field("status", &self.status).finish_non_exhaustive()
    }
}

/// What a vaccination says about the person: sealed in storage.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VaccinationDetails {
    pub vaccine: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dose: Option<u32>,
    #[serde(default)]
    pub booster: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_by: Option<String>,
}

impl std::fmt::Debug for VaccinationDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VaccinationDetails([redacted])")
    }
}

/// A vaccination as entered.
#[derive(Clone, PartialEq, Eq)]
pub struct VaccinationInput {
    pub vaccine: String,
    pub code: Option<String>,
    pub given_on: NaiveDate,
    pub dose: Option<u32>,
    pub booster: bool,
    pub batch: Option<String>,
    pub given_by: Option<String>,
}

impl std::fmt::Debug for VaccinationInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaccinationInput").field("given_on", &self.given_on).finish_non_exhaustive()
    }
}

/// A checked vaccination, ready to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVaccination {
    pub given_on: NaiveDate,
    pub details: VaccinationDetails,
}

impl NewVaccination {
    /// Checks a vaccination on `today`. Errors name the field: `vaccine`, `code`, `given_on`,
    /// `dose`, `batch`, `given_by`.
    pub fn validate(input: VaccinationInput, today: NaiveDate) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let vaccine = errors.check("vaccine", text(&input.vaccine, 1, MAX_SHORT));
        let code = optional_text(&mut errors, "code", input.code, MAX_SHORT);
        check_day(&mut errors, "given_on", input.given_on, today);
        if input.dose.is_some_and(|d| !(1..=MAX_DOSE).contains(&d)) {
            errors.add("dose", format!("must be between 1 and {MAX_DOSE}"));
        }
        let batch = optional_text(&mut errors, "batch", input.batch, MAX_SHORT);
        let given_by = optional_text(&mut errors, "given_by", input.given_by, MAX_SHORT);
        errors.into_result(|| NewVaccination {
            given_on: input.given_on,
            details: VaccinationDetails {
                vaccine: vaccine.unwrap_or_default(),
                code,
                dose: input.dose,
                booster: input.booster,
                batch,
                given_by,
            },
        })
    }
}

crate::text_codes! {
    pub enum VaccinationStatus {
        Given = "given",
        EnteredInError = "entered_in_error",
    }
}

/// A vaccination as recorded.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Vaccination {
    pub id: VaccinationId,
    pub resident_id: ResidentId,
    pub establishment_id: EstablishmentId,
    /// The vaccine, as written ("Vaxigrip Tetra", "Comirnaty").
    pub vaccine: String,
    /// Its code, when given (a CIP 13, a UCD...).
    pub code: Option<String>,
    pub given_on: NaiveDate,
    /// The dose number (1 for the first injection...).
    pub dose: Option<u32>,
    /// A booster (rappel).
    pub booster: bool,
    /// The batch number (numéro de lot), for traceability.
    pub batch: Option<String>,
    /// Who gave it, when known.
    pub given_by: Option<String>,
    pub status: VaccinationStatus,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    pub entered_in_error: Option<EnteredInError>,
}

impl std::fmt::Debug for Vaccination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vaccination").field("id", &self.id).field("status", &self.status).finish_non_exhaustive()
    }
}

/// Who a physician is: sealed in storage.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhysicianDetails {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speciality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpps: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl std::fmt::Debug for PhysicianDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PhysicianDetails([redacted])")
    }
}

/// A physician as entered.
#[derive(Clone, PartialEq, Eq)]
pub struct PhysicianInput {
    pub role: PhysicianRole,
    pub name: String,
    pub speciality: Option<String>,
    pub rpps: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Default: today.
    pub since: Option<NaiveDate>,
}

impl std::fmt::Debug for PhysicianInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhysicianInput").field("role", &self.role).finish_non_exhaustive()
    }
}

/// A checked physician, ready to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPhysician {
    pub role: PhysicianRole,
    pub since: NaiveDate,
    pub details: PhysicianDetails,
}

impl NewPhysician {
    /// Checks a physician on `today`: a specialist says their speciality (and only a specialist
    /// has one). Errors name the field: `name`, `speciality`, `rpps`, `phone`, `email`, `since`.
    pub fn validate(input: PhysicianInput, today: NaiveDate) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = errors.check("name", text(&input.name, 1, MAX_SHORT));
        let speciality = optional_text(&mut errors, "speciality", input.speciality, MAX_SHORT);
        match (input.role, &speciality) {
            (PhysicianRole::Specialist, None) if !errors.errors().iter().any(|e| e.field == "speciality") => {
                errors.add("speciality", "is required for a specialist");
            }
            (PhysicianRole::Attending, Some(_)) => errors.add("speciality", "is only for a specialist"),
            _ => {}
        }
        let rpps =
            input.rpps.filter(|r| !r.trim().is_empty()).and_then(|r| errors.check("rpps", crate::people::rpps(&r)));
        let phone =
            input.phone.filter(|p| !p.trim().is_empty()).and_then(|p| errors.check("phone", crate::record::phone(&p)));
        let email =
            input.email.filter(|e| !e.trim().is_empty()).and_then(|e| errors.check("email", crate::people::email(&e)));
        let since = input.since.unwrap_or(today);
        check_day(&mut errors, "since", since, today);
        errors.into_result(|| NewPhysician {
            role: input.role,
            since,
            details: PhysicianDetails { name: name.unwrap_or_default(), speciality, rpps, phone, email },
        })
    }
}

/// When a physician stops following the person, checked: not before they started, not in the
/// future (`None`: today).
pub fn check_until(
    until: Option<NaiveDate>,
    since: NaiveDate,
    today: NaiveDate,
) -> Result<NaiveDate, ValidationErrors> {
    let until = until.unwrap_or(today);
    let mut errors = ValidationErrors::new();
    if until > today {
        errors.add("until", "is in the future");
    } else if until < since {
        errors.add("until", "is before since");
    }
    errors.into_result(|| until)
}

/// A physician of the person, as recorded.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Physician {
    pub id: PhysicianId,
    pub resident_id: ResidentId,
    pub establishment_id: EstablishmentId,
    pub role: PhysicianRole,
    pub name: String,
    /// For a specialist: which (cardiologie, néphrologie...).
    pub speciality: Option<String>,
    /// The RPPS number (11 digits).
    pub rpps: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub since: NaiveDate,
    /// The day they stopped following the person; none while they do.
    pub until: Option<NaiveDate>,
    /// Following the person now (not ended, not entered in error).
    pub in_force: bool,
    pub ended_by: Option<UserId>,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    /// Recorded by mistake (the wrong physician, the wrong person): flagged, with who, when
    /// and why; kept in the list, not in force.
    pub entered_in_error: Option<EnteredInError>,
}

impl std::fmt::Debug for Physician {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Physician").field("id", &self.id).field("role", &self.role).finish_non_exhaustive()
    }
}

/// The medical file as one reads it: what the reader may read of it (the physicians for the care
/// team, the rest for the health professionals), the rest empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MedicalFile {
    /// The problems in force (kind `active_problem`, active), oldest first.
    pub active_problems: Vec<MedicalProblem>,
    /// The medical history: history entries, resolved problems, and entries flagged as entered
    /// in error (with their status), oldest first.
    pub history: Vec<MedicalProblem>,
    /// Every vaccination, by the day given, those entered in error included (flagged).
    pub vaccinations: Vec<Vaccination>,
    /// The physicians, those in force first, the attending physician before specialists.
    pub physicians: Vec<Physician>,
}

impl MedicalFile {
    /// Sorts entries read in any order into the file.
    pub fn of(
        problems: Vec<MedicalProblem>,
        mut vaccinations: Vec<Vaccination>,
        mut physicians: Vec<Physician>,
    ) -> Self {
        let (mut active_problems, mut history): (Vec<_>, Vec<_>) = problems
            .into_iter()
            .partition(|p| p.kind == ProblemKind::ActiveProblem && p.status == ProblemStatus::Active);
        active_problems.sort_by_key(|p| (p.recorded_at, p.id));
        history.sort_by_key(|p| (p.recorded_at, p.id));
        vaccinations.sort_by_key(|v| (v.given_on, v.recorded_at, v.id));
        physicians.sort_by_key(|p| (!p.in_force, p.role != PhysicianRole::Attending, p.since, p.id));
        MedicalFile { active_problems, history, vaccinations, physicians }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn cim10_codes_have_their_shape() {
        for (given, kept) in
            [("I10", "I10"), ("e11.9", "E11.9"), ("F03", "F03"), ("S72.00", "S72.00"), ("E119", "E11.9")]
        {
            assert_eq!(check_cim10(given).as_deref(), Ok(kept), "{given}");
        }
        for bad in ["", "I1", "110", "I10.", "E11.123", "EE1.9", "I10-1", "I 10"] {
            assert!(check_cim10(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn onsets_may_be_partial_and_not_in_the_future() {
        let today = day(2026, 12, 7);
        assert_eq!(check_partial_date("1998", today).as_deref(), Ok("1998"));
        assert_eq!(check_partial_date("1998-04", today).as_deref(), Ok("1998-04"));
        assert_eq!(check_partial_date("1998-04-17", today).as_deref(), Ok("1998-04-17"));
        for bad in ["98", "1998-13", "1998-02-30", "1998/04", "2027", "1850", "1998-4"] {
            assert!(check_partial_date(bad, today).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_specialist_says_which_and_errors_name_fields() {
        let today = day(2026, 12, 7);
        let input = PhysicianInput {
            role: PhysicianRole::Specialist,
            name: "Dr Martin".into(),
            speciality: None,
            rpps: Some("123".into()),
            phone: None,
            email: Some("nope".into()),
            since: Some(day(2027, 1, 1)),
        };
        let errors = NewPhysician::validate(input, today).unwrap_err();
        let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["speciality", "rpps", "email", "since"]);
    }
}
