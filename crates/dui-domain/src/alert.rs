//! Alerts and allergies: what anyone caring for the person must know before anything else —
//! allergies and intolerances (to a medicine, a food, a material), and major alerts from a
//! closed list (a swallowing disorder, a risk of falling or of wandering, an anticoagulant
//! treatment, an implanted device, isolation precautions, advance directives, or another).
//!
//! Nothing is deleted: an allergy is resolved, an alert ends (at a time given, or now), and an
//! entry made by mistake is flagged as entered in error with a reason; each stays.
//!
//! What is said about the person (the substance, the reaction, an alert's label and detail) is
//! clinical data and sealed in storage; codes, levels, scopes and times stay in clear for lists.
//! The substance is kept both as typed and normalised ([`normalise_substance`]: lower case,
//! without accents, punctuation as spaces), inside the sealed value: a medication allergy check
//! compares one person's few allergies with a prescription, which needs no index across records.
//! (A blind index of the normalised substance would serve exact matching across records later;
//! it would also tell which records share a substance, so it is left until a use needs it.)

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::NoteScope;
use crate::transmission::EnteredInError;
use crate::validation::{ValidationErrors, optional_text};
use crate::{AlertId, AllergyId, EstablishmentId, ResidentId, UserId};

/// The longest substance, in characters.
pub const MAX_SUBSTANCE: usize = 200;
/// The longest label of an `other` alert, in characters.
pub const MAX_LABEL: usize = 200;
/// The longest reaction or detail, in characters.
pub const MAX_TEXT: usize = 2000;

crate::text_codes! {
    /// Allergy (an immune reaction) or intolerance (any other adverse reaction).
    pub enum AllergyKind {
        Allergy = "allergy",
        Intolerance = "intolerance",
    }
}

crate::text_codes! {
    /// How severe the reaction is, or was.
    pub enum AllergySeverity {
        Mild = "mild",
        Moderate = "moderate",
        Severe = "severe",
        /// Anaphylaxis, angioedema: a danger to life.
        LifeThreatening = "life_threatening",
    }
}

crate::text_codes! {
    /// Where the knowledge of the allergy comes from.
    pub enum AllergySource {
        /// The person said so.
        DeclaredByPerson = "declared_by_person",
        /// A relative or the trusted person said so.
        Family = "family",
        /// A medical record (hospital report, physician's letter).
        MedicalRecord = "medical_record",
        /// The team saw a reaction.
        Observed = "observed",
    }
}

crate::text_codes! {
    pub enum AllergyStatus {
        Active = "active",
        /// No longer present (desensitised, or found not to be an allergy).
        Resolved = "resolved",
        /// Recorded by mistake (wrong person, recorded twice): kept, flagged, not shown as active.
        EnteredInError = "entered_in_error",
    }
}

crate::text_codes! {
    /// The terminology a substance's code comes from.
    pub enum CodeSystem {
        /// WHO Anatomical Therapeutic Chemical classification (a class or a substance: `J01CA`, `J01CA04`).
        Atc = "atc",
        /// Code CIP 13 of a medicine's presentation (13 digits, EAN-13 check digit).
        Cip13 = "cip13",
        /// Code UCD of a dispensing unit (7 or 13 digits).
        Ucd = "ucd",
        /// SNOMED CT concept id (6 to 18 digits).
        SnomedCt = "snomed_ct",
    }
}

crate::text_codes! {
    /// The major alerts: a closed list, so that screens and exchanges can act on them.
    pub enum AlertKind {
        /// Troubles de la déglutition: risk of choking (fausse route) at every meal and drink.
        SwallowingDisorder = "swallowing_disorder",
        FallRisk = "fall_risk",
        /// Risque de fugue: the person may leave and get lost.
        WanderingRisk = "wandering_risk",
        /// Bleeding risk: after a fall, a head injury needs a physician at once.
        AnticoagulantTreatment = "anticoagulant_treatment",
        /// A pacemaker, a defibrillator, a pump, a neurostimulator...
        ImplantedDevice = "implanted_device",
        /// Contact, droplet or airborne precautions (`precautions`).
        IsolationPrecautions = "isolation_precautions",
        /// Directives anticipées exist: where they are is in the detail.
        AdvanceDirectives = "advance_directives",
        /// Anything else: `label` says what.
        Other = "other",
    }
}

crate::text_codes! {
    /// Isolation precautions (précautions complémentaires d'hygiène).
    pub enum Precaution {
        Contact = "contact",
        Droplet = "droplet",
        Airborne = "airborne",
    }
}

crate::text_codes! {
    pub enum AlertStatus {
        Active = "active",
        /// Its end has come.
        Ended = "ended",
        EnteredInError = "entered_in_error",
    }
}

crate::text_codes! {
    /// How urgently an alert or allergy must be seen: lists show the most severe first.
    pub enum AlertLevel {
        Critical = "critical",
        High = "high",
        Moderate = "moderate",
        Low = "low",
    }
}

impl AlertLevel {
    /// 0 for the most severe.
    pub const fn rank(self) -> u8 {
        match self {
            Self::Critical => 0,
            Self::High => 1,
            Self::Moderate => 2,
            Self::Low => 3,
        }
    }
}

impl AllergySeverity {
    /// An allergy's level is its severity's: a life-threatening reaction is critical.
    pub const fn level(self) -> AlertLevel {
        match self {
            Self::LifeThreatening => AlertLevel::Critical,
            Self::Severe => AlertLevel::High,
            Self::Moderate => AlertLevel::Moderate,
            Self::Mild => AlertLevel::Low,
        }
    }
}

impl AlertKind {
    /// The level of each kind of alert, from the harm a professional who does not know it may
    /// do in ordinary care:
    ///
    /// | kind | level | why |
    /// |---|---|---|
    /// | swallowing disorder | high | every meal and drink given may choke the person |
    /// | anticoagulant treatment | high | a fall or a wound bleeds; a head injury needs a physician at once |
    /// | isolation precautions | high | every contact spreads the infection without them |
    /// | wandering risk | high | a door left open, an outing, and the person is lost |
    /// | fall risk | moderate | most residents of a nursing home: it must not drown the others |
    /// | implanted device | moderate | matters for imaging, defibrillation, end of life |
    /// | other | moderate | what it is, is in its label |
    /// | advance directives | low | to look up when a decision is to be made, not a danger in daily care |
    ///
    /// A life-threatening allergy is above all of them (critical), a severe one at their level.
    pub const fn level(self) -> AlertLevel {
        match self {
            Self::SwallowingDisorder
            | Self::AnticoagulantTreatment
            | Self::IsolationPrecautions
            | Self::WanderingRisk => AlertLevel::High,
            Self::FallRisk | Self::ImplantedDevice | Self::Other => AlertLevel::Moderate,
            Self::AdvanceDirectives => AlertLevel::Low,
        }
    }
}

/// A substance's code in a terminology.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SubstanceCode {
    pub system: CodeSystem,
    pub code: String,
}

/// What the person reacts to: as typed, and normalised for matching.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Substance {
    /// As typed ("Pénicilline G", "Œufs", "Latex").
    pub text: String,
    /// Lower case, without accents, ligatures spelt out, punctuation as single spaces
    /// ("penicilline g", "oeufs"): what a medication allergy check compares.
    pub normalised: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<SubstanceCode>,
}

impl std::fmt::Debug for Substance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Substance([redacted])")
    }
}

impl Substance {
    /// Whether `name` (a substance or a medicine's active substance) is this substance, as a
    /// medication allergy check would ask: the same normalised text, or the same code.
    pub fn matches(&self, name: &str, code: Option<&SubstanceCode>) -> bool {
        let name = normalise_substance(name);
        (!name.is_empty() && name == self.normalised)
            || code.is_some_and(|code| {
                self.code.as_ref().is_some_and(|own| own.system == code.system && own.code == code.code)
            })
    }
}

/// A substance's name ready for matching: lower case, without accents, ligatures spelt out
/// (`œ` → `oe`), every run of punctuation or spaces a single space; digits kept
/// ("Vitamine B12" → "vitamine b12", "Amoxicilline/acide clavulanique" → "amoxicilline acide
/// clavulanique").
pub fn normalise_substance(value: &str) -> String {
    crate::identity::normalise_name(value).to_lowercase()
}

/// What an allergy says about the person: sealed in storage.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllergyDetails {
    pub substance: Substance,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction: Option<String>,
}

impl std::fmt::Debug for AllergyDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AllergyDetails([redacted])")
    }
}

/// An allergy as entered.
#[derive(Clone, PartialEq, Eq)]
pub struct AllergyInput {
    pub kind: AllergyKind,
    pub substance: String,
    pub substance_code: Option<SubstanceCode>,
    pub reaction: Option<String>,
    pub severity: AllergySeverity,
    pub source: AllergySource,
    /// Default: the care team.
    pub scope: Option<NoteScope>,
}

impl std::fmt::Debug for AllergyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AllergyInput")
            .field("kind", &self.kind)
            .field("severity", &self.severity)
            .finish_non_exhaustive()
    }
}

/// A checked allergy, ready to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAllergy {
    pub kind: AllergyKind,
    pub details: AllergyDetails,
    pub severity: AllergySeverity,
    pub source: AllergySource,
    pub scope: NoteScope,
}

/// The scopes an alert or allergy may have: whole team (those outside the care team must know
/// it too — a food allergy for the home helper who cooks, a wandering risk for the reception),
/// care team (the default), or medical. The social scope has no care data.
fn care_scope(errors: &mut ValidationErrors, scope: Option<NoteScope>) -> NoteScope {
    match scope.unwrap_or(NoteScope::CareTeam) {
        NoteScope::Social => {
            errors.add("scope", "must be whole_team, care_team or medical");
            NoteScope::CareTeam
        }
        scope => scope,
    }
}

/// Checks a code's shape in its terminology.
fn check_code(code: &SubstanceCode) -> Result<String, String> {
    let text = code.code.trim();
    let digits = |min: usize, max: usize| (min..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    let ok = match code.system {
        CodeSystem::Atc => atc(text),
        CodeSystem::Cip13 => digits(13, 13) && text.starts_with("3400") && ean13_checks(text),
        CodeSystem::Ucd => digits(7, 7) || digits(13, 13),
        CodeSystem::SnomedCt => digits(6, 18) && !text.starts_with('0'),
    };
    if ok {
        return Ok(text.to_owned());
    }
    Err(match code.system {
        CodeSystem::Atc => "is not an ATC code (a letter, then 2 digits, a letter, a letter, 2 digits: J01CA04)",
        CodeSystem::Cip13 => "is not a CIP 13 code (13 digits starting 3400, with its check digit)",
        CodeSystem::Ucd => "is not a UCD code (7 or 13 digits)",
        CodeSystem::SnomedCt => "is not a SNOMED CT id (6 to 18 digits)",
    }
    .to_owned())
}

/// An ATC code of any level: `J`, `J01`, `J01C`, `J01CA`, `J01CA04`.
fn atc(text: &str) -> bool {
    let b = text.as_bytes();
    let letter = |i: usize| b.get(i).is_some_and(u8::is_ascii_uppercase);
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    match b.len() {
        1 => letter(0),
        3 => letter(0) && digit(1) && digit(2),
        4 => letter(0) && digit(1) && digit(2) && letter(3),
        5 => letter(0) && digit(1) && digit(2) && letter(3) && letter(4),
        7 => letter(0) && digit(1) && digit(2) && letter(3) && letter(4) && digit(5) && digit(6),
        _ => false,
    }
}

/// The EAN-13 check digit (the CIP 13 is an EAN-13): weights 1 and 3 from the left.
fn ean13_checks(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 13 {
        return false;
    }
    let sum: u32 = digits[..12].iter().enumerate().map(|(i, d)| if i % 2 == 0 { *d } else { d * 3 }).sum();
    (10 - sum % 10) % 10 == digits[12]
}

impl NewAllergy {
    /// Checks an entered allergy. Errors name the field: `substance`, `substance_code.code`,
    /// `reaction`, `scope`.
    pub fn validate(input: AllergyInput) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let text = errors.check("substance", crate::validation::text(&input.substance, 1, MAX_SUBSTANCE));
        let normalised = text.as_deref().map(normalise_substance).unwrap_or_default();
        if text.is_some() && normalised.is_empty() {
            errors.add("substance", "must name a substance with letters or digits");
        }
        let code = match input.substance_code {
            Some(code) => errors
                .check("substance_code.code", check_code(&code))
                .map(|checked| Some(SubstanceCode { system: code.system, code: checked })),
            None => Some(None),
        };
        let reaction = optional_text(&mut errors, "reaction", input.reaction, MAX_TEXT);
        let scope = care_scope(&mut errors, input.scope);
        errors.into_result(|| NewAllergy {
            kind: input.kind,
            details: AllergyDetails {
                substance: Substance { text: text.unwrap_or_default(), normalised, code: code.flatten() },
                reaction,
            },
            severity: input.severity,
            source: input.source,
            scope,
        })
    }
}

/// An allergy or intolerance as recorded.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Allergy {
    pub id: AllergyId,
    pub resident_id: ResidentId,
    /// Where it was recorded (the establishment of the person's stay).
    pub establishment_id: EstablishmentId,
    pub kind: AllergyKind,
    pub substance: Substance,
    pub reaction: Option<String>,
    pub severity: AllergySeverity,
    pub source: AllergySource,
    /// Who may read it, as for notes.
    pub scope: NoteScope,
    pub status: AllergyStatus,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<UserId>,
    pub entered_in_error: Option<EnteredInError>,
}

impl std::fmt::Debug for Allergy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Allergy").field("id", &self.id).field("status", &self.status).finish_non_exhaustive()
    }
}

impl AllergyStatus {
    /// The status of an allergy from its flags: an error flag outweighs a resolution.
    pub fn of(resolved: bool, in_error: bool) -> Self {
        match (resolved, in_error) {
            (_, true) => Self::EnteredInError,
            (true, false) => Self::Resolved,
            (false, false) => Self::Active,
        }
    }
}

/// What an alert says about the person: sealed in storage.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertDetails {
    /// For `other`: what the alert is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl std::fmt::Debug for AlertDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AlertDetails([redacted])")
    }
}

/// A major alert as entered.
#[derive(Clone, PartialEq, Eq)]
pub struct AlertInput {
    pub kind: AlertKind,
    /// For isolation precautions: which.
    pub precautions: Vec<Precaution>,
    /// For `other`: what the alert is.
    pub label: Option<String>,
    pub detail: Option<String>,
    /// Default: the care team.
    pub scope: Option<NoteScope>,
    /// Default: now.
    pub starts_at: Option<DateTime<Utc>>,
    /// When it ends, if known (an isolation for ten days).
    pub ends_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for AlertInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertInput").field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// A checked alert, ready to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub kind: AlertKind,
    pub precautions: Vec<Precaution>,
    pub details: AlertDetails,
    pub scope: NoteScope,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
}

/// The clock skew a time "now" may have.
const SKEW_MINUTES: i64 = 5;

impl NewAlert {
    /// Checks an entered alert at `now`: isolation precautions say which, `other` says what (its
    /// `label`), an alert starts no later than now and ends after it starts. Errors name the
    /// field.
    pub fn validate(input: AlertInput, now: DateTime<Utc>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut precautions = input.precautions;
        precautions.sort_by_key(|p| Precaution::ALL.iter().position(|q| q == p));
        precautions.dedup();
        match (input.kind, precautions.is_empty()) {
            (AlertKind::IsolationPrecautions, true) => {
                errors.add("precautions", "are required for isolation precautions: contact, droplet or airborne");
            }
            (AlertKind::IsolationPrecautions, false) | (_, true) => {}
            (_, false) => errors.add("precautions", "are only for isolation precautions"),
        }
        let label = optional_text(&mut errors, "label", input.label, MAX_LABEL);
        match (input.kind, &label) {
            (AlertKind::Other, None) if !errors.errors().iter().any(|e| e.field == "label") => {
                errors.add("label", "is required for another alert: say what it is");
            }
            (AlertKind::Other, _) | (_, None) => {}
            (_, Some(_)) => errors.add("label", "is only for another alert: use detail"),
        }
        let detail = optional_text(&mut errors, "detail", input.detail, MAX_TEXT);
        let scope = care_scope(&mut errors, input.scope);
        let starts_at = input.starts_at.unwrap_or(now);
        if starts_at > now + chrono::Duration::minutes(SKEW_MINUTES) {
            errors.add("starts_at", "is in the future: record the alert when it starts");
        }
        if input.ends_at.is_some_and(|end| end <= starts_at) {
            errors.add("ends_at", "is not after starts_at");
        }
        errors.into_result(|| NewAlert {
            kind: input.kind,
            precautions,
            details: AlertDetails { label, detail },
            scope,
            starts_at,
            ends_at: input.ends_at,
        })
    }
}

/// When an alert ends, checked: not before it started, not in the future (a planned end is
/// given when the alert is recorded). `None` is now, the time the change is recorded.
pub fn check_end(
    ends_at: Option<DateTime<Utc>>,
    starts_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ValidationErrors> {
    let end = ends_at.unwrap_or(now);
    if end > now + chrono::Duration::minutes(SKEW_MINUTES) {
        return Err(ValidationErrors::single("ends_at", "is in the future: an alert ends now or earlier"));
    }
    if end <= starts_at {
        return Err(ValidationErrors::single("ends_at", "is not after the alert's start"));
    }
    Ok(ends_at)
}

/// A major alert as recorded.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MajorAlert {
    pub id: AlertId,
    pub resident_id: ResidentId,
    /// Where it was recorded (the establishment of the person's stay).
    pub establishment_id: EstablishmentId,
    pub kind: AlertKind,
    /// For isolation precautions.
    pub precautions: Vec<Precaution>,
    /// For `other`: what the alert is.
    pub label: Option<String>,
    pub detail: Option<String>,
    /// Who may read it, as for notes.
    pub scope: NoteScope,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub status: AlertStatus,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    /// Who ended it (none when it ended at the end given when it was recorded).
    pub ended_by: Option<UserId>,
    pub entered_in_error: Option<EnteredInError>,
}

impl std::fmt::Debug for MajorAlert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MajorAlert").field("id", &self.id).field("kind", &self.kind).finish_non_exhaustive()
    }
}

impl AlertStatus {
    /// The status of an alert from its flags.
    pub fn of(ended: bool, in_error: bool) -> Self {
        match (ended, in_error) {
            (_, true) => Self::EnteredInError,
            (true, false) => Self::Ended,
            (false, false) => Self::Active,
        }
    }
}

/// One entry of the alerts of a record: an allergy or a major alert, with its level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AlertEntry {
    Allergy { level: AlertLevel, allergy: Box<Allergy> },
    Alert { level: AlertLevel, alert: Box<MajorAlert> },
}

impl AlertEntry {
    pub fn of_allergy(allergy: Allergy) -> Self {
        Self::Allergy { level: allergy.severity.level(), allergy: Box::new(allergy) }
    }

    pub fn of_alert(alert: MajorAlert) -> Self {
        Self::Alert { level: alert.kind.level(), alert: Box::new(alert) }
    }

    pub fn level(&self) -> AlertLevel {
        match self {
            Self::Allergy { level, .. } | Self::Alert { level, .. } => *level,
        }
    }

    /// Whether it is in force: an active allergy, an active alert.
    pub fn is_active(&self) -> bool {
        match self {
            Self::Allergy { allergy, .. } => allergy.status == AllergyStatus::Active,
            Self::Alert { alert, .. } => alert.status == AlertStatus::Active,
        }
    }

    /// The order of a list: the most severe first; at one level, those in force first, then
    /// allergies before alerts, then the most recently recorded.
    fn order_key(&self) -> (u8, bool, u8, std::cmp::Reverse<DateTime<Utc>>, uuid::Uuid) {
        match self {
            Self::Allergy { level, allergy } => {
                (level.rank(), !self.is_active(), 0, std::cmp::Reverse(allergy.recorded_at), allergy.id.as_uuid())
            }
            Self::Alert { level, alert } => {
                (level.rank(), !self.is_active(), 1, std::cmp::Reverse(alert.recorded_at), alert.id.as_uuid())
            }
        }
    }
}

/// Puts a record's allergies and alerts in the order lists show them: the most severe first
/// (see [`AlertKind::level`] and [`AllergySeverity::level`]).
pub fn order_alerts(entries: &mut [AlertEntry]) {
    entries.sort_by_key(AlertEntry::order_key);
}

/// A record's allergies and alerts in one list, the most severe first.
pub fn alert_list(allergies: Vec<Allergy>, alerts: Vec<MajorAlert>) -> Vec<AlertEntry> {
    let mut entries: Vec<AlertEntry> =
        allergies.into_iter().map(AlertEntry::of_allergy).chain(alerts.into_iter().map(AlertEntry::of_alert)).collect();
    order_alerts(&mut entries);
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn allergy(substance: &str) -> AllergyInput {
        AllergyInput {
            kind: AllergyKind::Allergy,
            substance: substance.to_owned(),
            substance_code: None,
            reaction: None,
            severity: AllergySeverity::Severe,
            source: AllergySource::MedicalRecord,
            scope: None,
        }
    }

    fn alert(kind: AlertKind) -> AlertInput {
        AlertInput {
            kind,
            precautions: Vec::new(),
            label: None,
            detail: None,
            scope: None,
            starts_at: None,
            ends_at: None,
        }
    }

    fn fields(errors: ValidationErrors) -> Vec<String> {
        errors.errors().iter().map(|e| e.field.clone()).collect()
    }

    #[test]
    fn substances_are_normalised_for_matching() {
        let cases = [
            ("Pénicilline G", "penicilline g"),
            ("  ŒUFS  ", "oeufs"),
            ("Amoxicilline/acide clavulanique", "amoxicilline acide clavulanique"),
            ("Vitamine B12", "vitamine b12"),
            ("Arachide (cacahuète)", "arachide cacahuete"),
            ("Iode — produits de contraste", "iode produits de contraste"),
        ];
        for (typed, normalised) in cases {
            assert_eq!(normalise_substance(typed), normalised, "{typed}");
            let checked = NewAllergy::validate(allergy(typed)).unwrap();
            assert_eq!(checked.details.substance.normalised, normalised);
            assert_eq!(checked.details.substance.text, typed.trim());
        }
        let penicillin = NewAllergy::validate(allergy("Pénicilline")).unwrap().details.substance;
        assert!(penicillin.matches("PENICILLINE", None));
        assert!(penicillin.matches("pénicilline ", None));
        assert!(!penicillin.matches("amoxicilline", None));
        let coded = Substance {
            code: Some(SubstanceCode { system: CodeSystem::Atc, code: "J01CE".to_owned() }),
            ..penicillin.clone()
        };
        let same_code = SubstanceCode { system: CodeSystem::Atc, code: "J01CE".to_owned() };
        assert!(coded.matches("Oracilline", Some(&same_code)));
        assert!(!penicillin.matches("Oracilline", Some(&same_code)));
        assert!(!penicillin.matches("", None));
    }

    #[test]
    fn an_allergy_names_its_bad_fields() {
        assert_eq!(fields(NewAllergy::validate(allergy("  ")).unwrap_err()), ["substance"]);
        assert_eq!(fields(NewAllergy::validate(allergy("---")).unwrap_err()), ["substance"]);
        assert_eq!(fields(NewAllergy::validate(allergy(&"x".repeat(MAX_SUBSTANCE + 1))).unwrap_err()), ["substance"]);
        let mut social = allergy("Latex");
        social.scope = Some(NoteScope::Social);
        social.reaction = Some("a\u{7}".to_owned());
        assert_eq!(fields(NewAllergy::validate(social).unwrap_err()), ["reaction", "scope"]);
        let mut medical = allergy("Latex");
        medical.scope = Some(NoteScope::Medical);
        medical.reaction = Some("  ".to_owned());
        let checked = NewAllergy::validate(medical).unwrap();
        assert_eq!((checked.scope, checked.details.reaction), (NoteScope::Medical, None));
        assert_eq!(NewAllergy::validate(allergy("Latex")).unwrap().scope, NoteScope::CareTeam);
    }

    #[test]
    fn codes_are_checked_in_their_terminology() {
        let with = |system, code: &str| {
            let mut input = allergy("Amoxicilline");
            input.substance_code = Some(SubstanceCode { system, code: code.to_owned() });
            NewAllergy::validate(input)
        };
        for (system, code) in [
            (CodeSystem::Atc, "J"),
            (CodeSystem::Atc, "J01"),
            (CodeSystem::Atc, "J01C"),
            (CodeSystem::Atc, "J01CA"),
            (CodeSystem::Atc, " J01CA04 "),
            (CodeSystem::Cip13, "3400930000014"),
            (CodeSystem::Ucd, "9000001"),
            (CodeSystem::Ucd, "3400890000017"),
            (CodeSystem::SnomedCt, "294505008"),
        ] {
            let checked = with(system, code).unwrap_or_else(|e| panic!("{system} {code}: {e}"));
            assert_eq!(checked.details.substance.code.unwrap().code, code.trim());
        }
        for (system, code) in [
            (CodeSystem::Atc, "j01ca04"),
            (CodeSystem::Atc, "J01CA4"),
            (CodeSystem::Atc, "J1"),
            (CodeSystem::Cip13, "3400930000015"),
            (CodeSystem::Cip13, "1234567890128"),
            (CodeSystem::Cip13, "340093000001"),
            (CodeSystem::Ucd, "12345678"),
            (CodeSystem::SnomedCt, "012345"),
            (CodeSystem::SnomedCt, "12345"),
        ] {
            assert_eq!(fields(with(system, code).unwrap_err()), ["substance_code.code"], "{system} {code}");
        }
    }

    #[test]
    fn an_alert_has_the_shape_of_its_kind() {
        let ok = NewAlert::validate(alert(AlertKind::FallRisk), now()).unwrap();
        assert_eq!((ok.starts_at, ok.ends_at, ok.scope), (now(), None, NoteScope::CareTeam));
        assert_eq!(
            fields(NewAlert::validate(alert(AlertKind::IsolationPrecautions), now()).unwrap_err()),
            ["precautions"]
        );
        let mut isolation = alert(AlertKind::IsolationPrecautions);
        isolation.precautions = vec![Precaution::Droplet, Precaution::Contact, Precaution::Droplet];
        assert_eq!(
            NewAlert::validate(isolation, now()).unwrap().precautions,
            [Precaution::Contact, Precaution::Droplet]
        );
        let mut wrong = alert(AlertKind::FallRisk);
        wrong.precautions = vec![Precaution::Contact];
        wrong.label = Some("Chutes".to_owned());
        assert_eq!(fields(NewAlert::validate(wrong, now()).unwrap_err()), ["precautions", "label"]);
        assert_eq!(fields(NewAlert::validate(alert(AlertKind::Other), now()).unwrap_err()), ["label"]);
        let mut other = alert(AlertKind::Other);
        other.label = Some(" Refus de soins la nuit ".to_owned());
        other.detail = Some("Appeler sa fille avant".to_owned());
        let checked = NewAlert::validate(other, now()).unwrap();
        assert_eq!(checked.details.label.as_deref(), Some("Refus de soins la nuit"));
        let mut long = alert(AlertKind::Other);
        long.label = Some("x".repeat(MAX_LABEL + 1));
        assert_eq!(fields(NewAlert::validate(long, now()).unwrap_err()), ["label"]);
    }

    #[test]
    fn an_alert_starts_by_now_and_ends_after_it_starts() {
        let minutes = |m: i64| now() + chrono::Duration::minutes(m);
        let mut planned = alert(AlertKind::IsolationPrecautions);
        planned.precautions = vec![Precaution::Airborne];
        planned.starts_at = Some(minutes(-60));
        planned.ends_at = Some(minutes(10 * 24 * 60));
        assert!(NewAlert::validate(planned.clone(), now()).is_ok(), "a planned end may be in the future");
        planned.ends_at = planned.starts_at;
        assert_eq!(fields(NewAlert::validate(planned.clone(), now()).unwrap_err()), ["ends_at"]);
        planned.starts_at = Some(minutes(6));
        planned.ends_at = None;
        assert_eq!(fields(NewAlert::validate(planned.clone(), now()).unwrap_err()), ["starts_at"]);
        planned.starts_at = Some(minutes(5));
        assert!(NewAlert::validate(planned, now()).is_ok(), "clock skew");

        assert_eq!(check_end(None, minutes(-60), now()).unwrap(), None);
        assert_eq!(check_end(Some(minutes(-30)), minutes(-60), now()).unwrap(), Some(minutes(-30)));
        assert_eq!(fields(check_end(None, minutes(1), now()).unwrap_err()), ["ends_at"]);
        assert_eq!(fields(check_end(Some(minutes(-60)), minutes(-60), now()).unwrap_err()), ["ends_at"]);
        assert_eq!(fields(check_end(Some(minutes(60)), minutes(-60), now()).unwrap_err()), ["ends_at"]);
    }

    fn recorded_allergy(severity: AllergySeverity, minutes: i64, status: AllergyStatus) -> Allergy {
        Allergy {
            id: AllergyId::from_uuid(uuid::Uuid::from_u128(minutes as u128 + 1000)),
            resident_id: ResidentId::from_uuid(uuid::Uuid::nil()),
            establishment_id: EstablishmentId::from_uuid(uuid::Uuid::nil()),
            kind: AllergyKind::Allergy,
            substance: NewAllergy::validate(allergy("Latex")).unwrap().details.substance,
            reaction: None,
            severity,
            source: AllergySource::Observed,
            scope: NoteScope::CareTeam,
            status,
            recorded_by: UserId::from_uuid(uuid::Uuid::nil()),
            recorded_at: now() + chrono::Duration::minutes(minutes),
            resolved_at: None,
            resolved_by: None,
            entered_in_error: None,
        }
    }

    fn recorded_alert(kind: AlertKind, minutes: i64) -> MajorAlert {
        MajorAlert {
            id: AlertId::from_uuid(uuid::Uuid::from_u128(minutes as u128 + 2000)),
            resident_id: ResidentId::from_uuid(uuid::Uuid::nil()),
            establishment_id: EstablishmentId::from_uuid(uuid::Uuid::nil()),
            kind,
            precautions: Vec::new(),
            label: None,
            detail: None,
            scope: NoteScope::CareTeam,
            starts_at: now(),
            ends_at: None,
            status: AlertStatus::Active,
            recorded_by: UserId::from_uuid(uuid::Uuid::nil()),
            recorded_at: now() + chrono::Duration::minutes(minutes),
            ended_by: None,
            entered_in_error: None,
        }
    }

    #[test]
    fn the_most_severe_come_first() {
        use AllergySeverity::*;
        let list = alert_list(
            vec![
                recorded_allergy(Mild, 1, AllergyStatus::Active),
                recorded_allergy(LifeThreatening, 2, AllergyStatus::Active),
                recorded_allergy(Severe, 3, AllergyStatus::Active),
                recorded_allergy(LifeThreatening, 4, AllergyStatus::Resolved),
            ],
            vec![
                recorded_alert(AlertKind::AdvanceDirectives, 5),
                recorded_alert(AlertKind::FallRisk, 6),
                recorded_alert(AlertKind::SwallowingDisorder, 7),
                recorded_alert(AlertKind::AnticoagulantTreatment, 8),
            ],
        );
        let shown: Vec<(AlertLevel, String)> = list
            .iter()
            .map(|entry| {
                let what = match entry {
                    AlertEntry::Allergy { allergy, .. } => format!("{}:{}", allergy.severity, allergy.status),
                    AlertEntry::Alert { alert, .. } => alert.kind.to_string(),
                };
                (entry.level(), what)
            })
            .collect();
        let expected = [
            (AlertLevel::Critical, "life_threatening:active"),
            (AlertLevel::Critical, "life_threatening:resolved"),
            (AlertLevel::High, "severe:active"),
            (AlertLevel::High, "anticoagulant_treatment"),
            (AlertLevel::High, "swallowing_disorder"),
            (AlertLevel::Moderate, "fall_risk"),
            (AlertLevel::Low, "mild:active"),
            (AlertLevel::Low, "advance_directives"),
        ];
        let expected: Vec<(AlertLevel, String)> = expected.iter().map(|(l, w)| (*l, (*w).to_owned())).collect();
        assert_eq!(shown, expected);
        for kind in AlertKind::ALL {
            assert_ne!(kind.level(), AlertLevel::Critical, "only a life-threatening allergy is critical");
        }
    }

    #[test]
    fn statuses_follow_the_flags() {
        assert_eq!(AllergyStatus::of(false, false), AllergyStatus::Active);
        assert_eq!(AllergyStatus::of(true, false), AllergyStatus::Resolved);
        assert_eq!(AllergyStatus::of(true, true), AllergyStatus::EnteredInError);
        assert_eq!(AlertStatus::of(true, false), AlertStatus::Ended);
        assert_eq!(AlertStatus::of(false, true), AlertStatus::EnteredInError);
        let entry = AlertEntry::of_allergy(recorded_allergy(AllergySeverity::Moderate, 0, AllergyStatus::Active));
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!((json["type"].as_str(), json["level"].as_str()), (Some("allergy"), Some("moderate")));
        assert_eq!(json["allergy"]["substance"]["normalised"], "latex");
        let debug = format!("{entry:?}");
        assert!(!debug.contains("Latex") && !debug.contains("latex"), "{debug}");
    }
}
