//! Wounds and pressure ulcers (plaies et escarres): a wound is recorded when it is found — its
//! kind, where it is on the body, whether it was acquired in the establishment or present on
//! admission (the EHPAD quality indicator counts the first), the stage of a pressure ulcer — then
//! assessed over time (size, stage, wound bed, exudate, pain, signs of infection), dressed
//! according to its care protocol, and closed when it heals (or is no longer followed here).
//!
//! Pressure ulcers are staged with the NPUAP/EPUAP classification (2014, and its 2016 wording):
//! stages 1 to 4, unstageable (the base hidden by slough or eschar) and suspected deep tissue
//! injury. Only pressure ulcers have a stage.
//!
//! The care protocol (products, how often) is the wound's own and becomes tasks of the daily care
//! plan through its schedule ([`crate::schedule`]): a dressing is a nursing prescription that
//! changes with the wound, often weekly, not an action of the projet personnalisé the person
//! co-signs (see the storage of care tasks). Photographs are documents, for the documents
//! feature.
//!
//! Codes, dates and the stage stay in clear (lists, the quality indicator); what is said of the
//! wound — the precise site, the description, the findings of each assessment, the protocol — is
//! sealed in storage.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::care_plan::Performer;
use crate::schedule::Schedule;
use crate::transmission::ResidentName;
use crate::validation::{ValidationErrors, optional_text, text};
use crate::{EstablishmentId, ResidentId, UserId, WoundAssessmentId, WoundId, WoundProtocolId};

/// The longest free text of a wound (description, observations, instructions), in characters.
pub const MAX_TEXT: usize = 4000;
/// The largest length or width of a wound, in cm.
pub const MAX_SIZE_CM: f64 = 100.0;
/// The largest depth of a wound, in cm.
pub const MAX_DEPTH_CM: f64 = 30.0;

crate::text_codes! {
    /// What kind of wound.
    pub enum WoundKind {
        /// Escarre.
        PressureUlcer = "pressure_ulcer",
        /// Déchirure cutanée.
        SkinTear = "skin_tear",
        /// Plaie chirurgicale.
        Surgical = "surgical",
        /// Ulcère de jambe (veineux, artériel, mixte).
        LegUlcer = "leg_ulcer",
        /// Brûlure.
        Burn = "burn",
        Other = "other",
    }
}

crate::text_codes! {
    /// Where the wound is: the usual sites of pressure ulcers, and `other` with a text.
    pub enum BodySite {
        Sacrum = "sacrum",
        HeelLeft = "heel_left",
        HeelRight = "heel_right",
        HipLeft = "hip_left",
        HipRight = "hip_right",
        /// Ischion.
        Ischium = "ischium",
        Elbow = "elbow",
        /// Occiput.
        Occiput = "occiput",
        /// Malléole.
        Malleolus = "malleolus",
        Leg = "leg",
        Foot = "foot",
        /// Said in `site_detail`.
        Other = "other",
    }
}

crate::text_codes! {
    /// Where the wound comes from: the quality indicator counts pressure ulcers acquired in the
    /// establishment apart from those the person arrived with.
    pub enum WoundOrigin {
        /// Appeared during the stay.
        Acquired = "acquired",
        /// Present on admission.
        PresentOnAdmission = "present_on_admission",
    }
}

crate::text_codes! {
    /// The NPUAP/EPUAP stage of a pressure ulcer.
    pub enum PressureUlcerStage {
        /// Non-blanchable erythema of intact skin.
        Stage1 = "stage_1",
        /// Partial-thickness skin loss, exposed dermis.
        Stage2 = "stage_2",
        /// Full-thickness skin loss.
        Stage3 = "stage_3",
        /// Full-thickness skin and tissue loss (fascia, muscle, tendon, bone).
        Stage4 = "stage_4",
        /// Full-thickness loss hidden by slough or eschar.
        Unstageable = "unstageable",
        /// Suspected deep tissue injury: persistent deep red, maroon or purple discolouration.
        DeepTissueInjury = "deep_tissue_injury",
    }
}

crate::text_codes! {
    /// Why a wound is no longer followed.
    pub enum WoundOutcome {
        /// Cicatrisée.
        Healed = "healed",
        /// The person left the establishment with it (discharge, transfer, hospitalisation).
        Discharged = "discharged",
        Deceased = "deceased",
        /// Recorded by mistake: it never was (the indicator leaves it out).
        EnteredInError = "entered_in_error",
    }
}

crate::text_codes! {
    /// How much the wound exudes.
    pub enum Exudate {
        None = "none",
        Low = "low",
        Moderate = "moderate",
        Heavy = "heavy",
    }
}

crate::text_codes! {
    /// Local or general signs of infection seen at an assessment.
    pub enum InfectionSign {
        /// Spreading redness around the wound.
        Erythema = "erythema",
        Warmth = "warmth",
        /// Oedema, induration.
        Swelling = "swelling",
        /// Purulent exudate.
        Pus = "pus",
        /// Malodour.
        Odour = "odour",
        /// Pain increasing.
        IncreasingPain = "increasing_pain",
        Fever = "fever",
    }
}

impl WoundKind {
    /// How the hand-over names it.
    pub fn label(self) -> &'static str {
        match self {
            Self::PressureUlcer => "Escarre",
            Self::SkinTear => "Déchirure cutanée",
            Self::Surgical => "Plaie chirurgicale",
            Self::LegUlcer => "Ulcère de jambe",
            Self::Burn => "Brûlure",
            Self::Other => "Plaie",
        }
    }
}

impl BodySite {
    /// How the hand-over and the task list name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sacrum => "sacrum",
            Self::HeelLeft => "talon gauche",
            Self::HeelRight => "talon droit",
            Self::HipLeft => "hanche gauche",
            Self::HipRight => "hanche droite",
            Self::Ischium => "ischion",
            Self::Elbow => "coude",
            Self::Occiput => "occiput",
            Self::Malleolus => "malléole",
            Self::Leg => "jambe",
            Self::Foot => "pied",
            Self::Other => "autre localisation",
        }
    }
}

impl PressureUlcerStage {
    /// The depth the stage says, for telling a worse stage: 1 to 4; unstageable is at least a
    /// full-thickness loss (3); a suspected deep tissue injury says nothing of depth yet.
    pub fn depth(self) -> Option<u8> {
        match self {
            Self::Stage1 => Some(1),
            Self::Stage2 => Some(2),
            Self::Stage3 | Self::Unstageable => Some(3),
            Self::Stage4 => Some(4),
            Self::DeepTissueInjury => None,
        }
    }

    /// Whether `self` is a worse stage than `before`.
    pub fn worse_than(self, before: Self) -> bool {
        matches!((self.depth(), before.depth()), (Some(now), Some(then)) if now > then)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Stage1 => "stade 1",
            Self::Stage2 => "stade 2",
            Self::Stage3 => "stade 3",
            Self::Stage4 => "stade 4",
            Self::Unstageable => "inclassable",
            Self::DeepTissueInjury => "lésion des tissus profonds suspectée",
        }
    }
}

impl InfectionSign {
    pub fn label(self) -> &'static str {
        match self {
            Self::Erythema => "rougeur extensive",
            Self::Warmth => "chaleur",
            Self::Swelling => "œdème",
            Self::Pus => "pus",
            Self::Odour => "odeur",
            Self::IncreasingPain => "douleur croissante",
            Self::Fever => "fièvre",
        }
    }
}

/// A wound as found, before validation.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WoundInput {
    pub kind: WoundKind,
    pub site: BodySite,
    /// The site in words: required with `other`, a precision otherwise ("face postérieure").
    /// At most 200 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub site_detail: Option<String>,
    pub origin: WoundOrigin,
    /// When it was found (default: today); not in the future.
    #[serde(default)]
    pub opened_on: Option<NaiveDate>,
    /// Pressure ulcers only, and required for them.
    #[serde(default)]
    pub stage: Option<PressureUlcerStage>,
    /// Circumstances, aspect: at most 4,000 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
    pub description: Option<String>,
}

/// What is said of a wound in words: sealed.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WoundDetails {
    #[serde(default)]
    pub site_detail: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// A wound to record, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct NewWound {
    pub kind: WoundKind,
    pub site: BodySite,
    pub origin: WoundOrigin,
    pub opened_on: NaiveDate,
    pub stage: Option<PressureUlcerStage>,
    pub details: WoundDetails,
}

crate::redacted_debug!(WoundInput, WoundDetails, NewWound);

/// A stage for a wound of `kind`: required for a pressure ulcer when `required`, refused for
/// any other wound.
fn check_stage(
    errors: &mut ValidationErrors,
    kind: WoundKind,
    stage: Option<PressureUlcerStage>,
    required: bool,
) -> Option<PressureUlcerStage> {
    match (kind, stage) {
        (WoundKind::PressureUlcer, None) if required => {
            errors.add("stage", "is required for a pressure ulcer");
            None
        }
        (WoundKind::PressureUlcer, stage) => stage,
        (_, Some(_)) => {
            errors.add("stage", "is for pressure ulcers only");
            None
        }
        (_, None) => None,
    }
}

impl NewWound {
    /// Checks a wound found: a stage for a pressure ulcer only (and always for one), a site in
    /// words when it is `other`, a date not in the future.
    pub fn validate(input: WoundInput, today: NaiveDate) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let site_detail = optional_text(&mut errors, "site_detail", input.site_detail, 200);
        if input.site == BodySite::Other && site_detail.is_none() {
            errors.add("site_detail", "is required when the site is other");
        }
        let description = optional_text(&mut errors, "description", input.description, MAX_TEXT);
        let opened_on = input.opened_on.unwrap_or(today);
        if opened_on > today {
            errors.add("opened_on", "is in the future");
        }
        let stage = check_stage(&mut errors, input.kind, input.stage, true);
        errors.into_result(|| Self {
            kind: input.kind,
            site: input.site,
            origin: input.origin,
            opened_on,
            stage,
            details: WoundDetails { site_detail, description },
        })
    }

    /// What the hand-over says of it: "Escarre stade 2 — sacrum (acquise dans l'établissement)".
    pub fn handover_summary(&self) -> String {
        let stage = self.stage.map(|s| format!(" {}", s.label())).unwrap_or_default();
        let origin = match self.origin {
            WoundOrigin::Acquired => "apparue dans l'établissement",
            WoundOrigin::PresentOnAdmission => "présente à l'admission",
        };
        format!("{}{stage} — {} ({origin})", self.kind.label(), self.site.label())
    }
}

/// A wound as recorded.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Wound {
    pub id: WoundId,
    pub resident_id: ResidentId,
    /// Where it was recorded (the establishment of the person's stay).
    pub establishment_id: EstablishmentId,
    pub kind: WoundKind,
    pub site: BodySite,
    pub site_detail: Option<String>,
    pub origin: WoundOrigin,
    pub opened_on: NaiveDate,
    /// The stage when it was found (pressure ulcers).
    pub stage_at_opening: Option<PressureUlcerStage>,
    pub description: Option<String>,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    /// When it healed, or stopped being followed here.
    pub closed_on: Option<NaiveDate>,
    pub outcome: Option<WoundOutcome>,
    pub closed_by: Option<UserId>,
    pub closed_at: Option<DateTime<Utc>>,
}

crate::redacted_debug!(Wound);

/// The dressings and care of a wound, before validation.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WoundBedInput {
    /// Percentages of the wound bed; they add up to 100.
    #[cfg_attr(feature = "openapi", schema(maximum = 100))]
    pub necrosis: u8,
    /// Fibrine (slough).
    #[cfg_attr(feature = "openapi", schema(maximum = 100))]
    pub fibrin: u8,
    #[cfg_attr(feature = "openapi", schema(maximum = 100))]
    pub granulation: u8,
    #[cfg_attr(feature = "openapi", schema(maximum = 100))]
    pub epithelialisation: u8,
}

/// The colours of the wound bed, in percent of its surface (they add up to 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WoundBed {
    /// Black: necrosis.
    pub necrosis: u8,
    /// Yellow: fibrin (slough).
    pub fibrin: u8,
    /// Red: granulation tissue.
    pub granulation: u8,
    /// Pink: epithelialisation.
    pub epithelialisation: u8,
}

/// An assessment of a wound, before validation.
#[derive(Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WoundAssessmentInput {
    /// Default: today; from the day the wound was found, not in the future.
    #[serde(default)]
    pub assessed_on: Option<NaiveDate>,
    /// cm, with `width_cm` (greater than 0, at most 100; rounded to the millimetre).
    #[serde(default)]
    pub length_cm: Option<f64>,
    /// cm, with `length_cm`.
    #[serde(default)]
    pub width_cm: Option<f64>,
    /// cm, 0 to 30.
    #[serde(default)]
    pub depth_cm: Option<f64>,
    /// Pressure ulcers only: the stage seen (it may change).
    #[serde(default)]
    pub stage: Option<PressureUlcerStage>,
    #[serde(default)]
    pub bed: Option<WoundBedInput>,
    #[serde(default)]
    pub exudate: Option<Exudate>,
    /// 0 to 10 (EVA, EN) at the dressing.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 10))]
    pub pain: Option<u8>,
    #[serde(default)]
    pub infection_signs: Vec<InfectionSign>,
    /// At most 4,000 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
    pub observations: Option<String>,
}

/// What an assessment found: sealed.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    #[serde(default)]
    pub length_cm: Option<f64>,
    #[serde(default)]
    pub width_cm: Option<f64>,
    #[serde(default)]
    pub depth_cm: Option<f64>,
    #[serde(default)]
    pub bed: Option<WoundBed>,
    #[serde(default)]
    pub exudate: Option<Exudate>,
    #[serde(default)]
    pub pain: Option<u8>,
    #[serde(default)]
    pub infection_signs: Vec<InfectionSign>,
    #[serde(default)]
    pub observations: Option<String>,
}

/// An assessment to record, checked.
#[derive(Clone, PartialEq)]
pub struct NewWoundAssessment {
    pub assessed_on: NaiveDate,
    pub stage: Option<PressureUlcerStage>,
    pub findings: Findings,
}

crate::redacted_debug!(WoundAssessmentInput, Findings, NewWoundAssessment, WoundBedInput);

/// A size in cm rounded to the millimetre, within `(min, max]` (or `[0, max]` when zero is
/// allowed).
fn size(errors: &mut ValidationErrors, field: &str, value: Option<f64>, max: f64, zero: bool) -> Option<f64> {
    let value = value?;
    let rounded = (value * 10.0).round() / 10.0;
    let low = if zero { rounded >= 0.0 } else { rounded > 0.0 };
    if !value.is_finite() || !low || rounded > max {
        let from = if zero { "from 0" } else { "greater than 0" };
        errors.add(field, format!("must be {from} to {max} cm"));
        return None;
    }
    Some(rounded)
}

impl NewWoundAssessment {
    /// Checks an assessment of `wound`: within its life (from the day it was found, before it
    /// closed, not in the future), a stage for a pressure ulcer only, both length and width or
    /// neither, a wound bed that adds up to 100 %, something found.
    pub fn validate(input: WoundAssessmentInput, wound: &Wound, today: NaiveDate) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let assessed_on = input.assessed_on.unwrap_or(today);
        if assessed_on > today {
            errors.add("assessed_on", "is in the future");
        } else if assessed_on < wound.opened_on {
            errors.add("assessed_on", "is before the wound was found");
        }
        let length_cm = size(&mut errors, "length_cm", input.length_cm, MAX_SIZE_CM, false);
        let width_cm = size(&mut errors, "width_cm", input.width_cm, MAX_SIZE_CM, false);
        let depth_cm = size(&mut errors, "depth_cm", input.depth_cm, MAX_DEPTH_CM, true);
        match (input.length_cm.is_some(), input.width_cm.is_some()) {
            (true, false) => errors.add("width_cm", "is required with length_cm"),
            (false, true) => errors.add("length_cm", "is required with width_cm"),
            _ => {}
        }
        let stage = check_stage(&mut errors, wound.kind, input.stage, false);
        let bed = input.bed.and_then(|b| {
            let parts = [b.necrosis, b.fibrin, b.granulation, b.epithelialisation];
            let sum: u32 = parts.iter().map(|p| u32::from(*p)).sum();
            if parts.iter().any(|p| *p > 100) || sum != 100 {
                errors.add("bed", format!("must add up to 100 % (now {sum} %)"));
                return None;
            }
            Some(WoundBed {
                necrosis: b.necrosis,
                fibrin: b.fibrin,
                granulation: b.granulation,
                epithelialisation: b.epithelialisation,
            })
        });
        if input.pain.is_some_and(|p| p > 10) {
            errors.add("pain", "must be from 0 to 10");
        }
        let mut signs = input.infection_signs;
        let count = signs.len();
        signs.sort_by_key(|s| InfectionSign::ALL.iter().position(|a| a == s));
        signs.dedup();
        if signs.len() != count {
            errors.add("infection_signs", "lists a sign twice");
        }
        let observations = optional_text(&mut errors, "observations", input.observations, MAX_TEXT);
        let findings = Findings {
            length_cm,
            width_cm,
            depth_cm,
            bed,
            exudate: input.exudate,
            pain: input.pain,
            infection_signs: signs,
            observations,
        };
        if errors.is_empty() && stage.is_none() && findings == Findings::default() {
            errors.add("observations", "an assessment says something: a size, a stage, the bed, observations...");
        }
        errors.into_result(|| Self { assessed_on, stage, findings })
    }

    /// What the hand-over says when the wound gets worse: a higher stage than `before`, or
    /// signs of infection. Nothing otherwise.
    pub fn worsening(&self, wound: &Wound, before: Option<PressureUlcerStage>) -> Option<String> {
        let mut said = Vec::new();
        if let (Some(now), Some(then)) = (self.stage, before)
            && now.worse_than(then)
        {
            said.push(format!("{} → {}", then.label(), now.label()));
        }
        if !self.findings.infection_signs.is_empty() {
            let signs: Vec<&str> = self.findings.infection_signs.iter().map(|s| s.label()).collect();
            said.push(format!("signes d'infection ({})", signs.join(", ")));
        }
        (!said.is_empty()).then(|| format!("{} {} : {}", wound.kind.label(), wound.site.label(), said.join(" ; ")))
    }
}

/// An assessment as recorded.
#[derive(Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WoundAssessment {
    pub id: WoundAssessmentId,
    pub wound_id: WoundId,
    pub resident_id: ResidentId,
    pub assessed_on: NaiveDate,
    pub stage: Option<PressureUlcerStage>,
    pub length_cm: Option<f64>,
    pub width_cm: Option<f64>,
    pub depth_cm: Option<f64>,
    pub bed: Option<WoundBed>,
    pub exudate: Option<Exudate>,
    pub pain: Option<u8>,
    pub infection_signs: Vec<InfectionSign>,
    pub observations: Option<String>,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
}

crate::redacted_debug!(WoundAssessment);

/// The care protocol of a wound: the dressing plan, and when it is done (which makes it tasks of
/// the daily care plan).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DressingProtocol {
    /// The products, in the order they are applied ("sérum physiologique", "hydrocolloïde
    /// mince"): 1 to 20, each at most 200 characters.
    pub products: Vec<String>,
    /// How often, as said to the team ("tous les 2 jours et si décollé"): at most 200 characters.
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub frequency: String,
    /// At most 4,000 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
    pub instructions: Option<String>,
    /// When the dressing is done: each occurrence is a task of the day.
    pub schedule: Schedule,
    /// Who does it (default: a nurse).
    #[serde(default = "nurse")]
    pub who: Performer,
    #[serde(default)]
    pub from: Option<NaiveDate>,
    #[serde(default)]
    pub to: Option<NaiveDate>,
}

fn nurse() -> Performer {
    Performer { role: Some(crate::people::Role::Nurse), user_id: None }
}

crate::redacted_debug!(DressingProtocol);

impl DressingProtocol {
    /// Checks the protocol: products named, a frequency in words, a valid schedule, someone to do
    /// it, an end after the start.
    pub fn validate(self) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if self.products.is_empty() || self.products.len() > 20 {
            errors.add("products", "must list 1 to 20 products");
        }
        let products = self
            .products
            .iter()
            .enumerate()
            .filter_map(|(i, p)| errors.check(&format!("products[{i}]"), text(p, 1, 200)))
            .collect();
        let frequency = errors.check("frequency", text(&self.frequency, 1, 200)).unwrap_or_default();
        let instructions = optional_text(&mut errors, "instructions", self.instructions, MAX_TEXT);
        let schedule = match self.schedule.validate("schedule") {
            Ok(schedule) => Some(schedule),
            Err(found) => {
                for error in found.errors() {
                    errors.add(error.field.clone(), error.message.clone());
                }
                None
            }
        };
        if self.who.role.is_none() && self.who.user_id.is_none() {
            errors.add("who", "names a role or a professional");
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && to < from
        {
            errors.add("to", "is before from");
        }
        match schedule {
            Some(schedule) if errors.is_empty() => {
                Ok(Self { products, frequency, instructions, schedule, who: self.who, from: self.from, to: self.to })
            }
            _ => Err(errors),
        }
    }

    /// What the day's task says: "Pansement escarre (sacrum) : hydrocolloïde mince".
    pub fn task_label(&self, kind: WoundKind, site: BodySite) -> String {
        format!("Pansement {} ({}) : {}", kind.label().to_lowercase(), site.label(), self.products.join(", "))
    }
}

/// A version of a wound's care protocol.
#[derive(Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WoundProtocol {
    pub id: WoundProtocolId,
    pub wound_id: WoundId,
    pub resident_id: ResidentId,
    pub establishment_id: EstablishmentId,
    pub protocol: DressingProtocol,
    pub recorded_by: UserId,
    /// In force from then (its tasks start after it).
    pub recorded_at: DateTime<Utc>,
    /// When a new version replaced it, or the wound closed.
    pub ended_at: Option<DateTime<Utc>>,
}

crate::redacted_debug!(WoundProtocol);

/// A point of the wound's size series, for a chart: the assessments that measured it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WoundSize {
    pub assessed_on: NaiveDate,
    pub length_cm: f64,
    pub width_cm: f64,
    pub depth_cm: Option<f64>,
    /// Length × width, cm² (the usual approximation of the surface), to the hundredth.
    pub area_cm2: f64,
}

/// A wound and what was done for it: its assessments, its protocols and its size over time.
#[derive(Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WoundFile {
    pub wound: Wound,
    /// The latest stage seen (pressure ulcers): of the latest assessment that staged it, else at
    /// opening.
    pub stage: Option<PressureUlcerStage>,
    /// Oldest first.
    pub assessments: Vec<WoundAssessment>,
    /// The protocol in force.
    pub protocol: Option<WoundProtocol>,
    /// Every version of the protocol, oldest first.
    pub protocols: Vec<WoundProtocol>,
    /// The size at each assessment that measured it, oldest first.
    pub size: Vec<WoundSize>,
}

crate::redacted_debug!(WoundFile);

/// The latest stage of a wound given its assessments, oldest first.
pub fn current_stage(wound: &Wound, assessments: &[WoundAssessment]) -> Option<PressureUlcerStage> {
    assessments.iter().rev().find_map(|a| a.stage).or(wound.stage_at_opening)
}

impl WoundFile {
    /// Gathers a wound's file; `assessments` and `protocols` in any order.
    pub fn of(wound: Wound, mut assessments: Vec<WoundAssessment>, mut protocols: Vec<WoundProtocol>) -> Self {
        assessments.sort_by_key(|a| (a.assessed_on, a.recorded_at, a.id));
        protocols.sort_by_key(|p| (p.recorded_at, p.id));
        let size = assessments
            .iter()
            .filter_map(|a| match (a.length_cm, a.width_cm) {
                (Some(length_cm), Some(width_cm)) => Some(WoundSize {
                    assessed_on: a.assessed_on,
                    length_cm,
                    width_cm,
                    depth_cm: a.depth_cm,
                    area_cm2: (length_cm * width_cm * 100.0).round() / 100.0,
                }),
                _ => None,
            })
            .collect();
        Self {
            stage: current_stage(&wound, &assessments),
            protocol: protocols.iter().rev().find(|p| p.ended_at.is_none()).cloned(),
            wound,
            assessments,
            protocols,
            size,
        }
    }
}

/// The closure of a wound, checked: from the day it was found, not in the future.
pub fn closure(
    wound: &Wound,
    on: Option<NaiveDate>,
    outcome: WoundOutcome,
    today: NaiveDate,
) -> Result<(NaiveDate, WoundOutcome), ValidationErrors> {
    let on = on.unwrap_or(today);
    if on > today {
        return Err(ValidationErrors::single("closed_on", "is in the future"));
    }
    if on < wound.opened_on {
        return Err(ValidationErrors::single("closed_on", "is before the wound was found"));
    }
    Ok((on, outcome))
}

/// An open pressure ulcer in an establishment's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListedPressureUlcer {
    pub wound_id: WoundId,
    pub resident: ResidentName,
    pub site: BodySite,
    pub stage: Option<PressureUlcerStage>,
    pub origin: WoundOrigin,
    pub opened_on: NaiveDate,
}

/// The pressure ulcers open today among the people staying in an establishment: the quality
/// indicator (prevalence of pressure ulcers, those acquired in the establishment apart).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PressureUlcerReport {
    pub establishment_id: EstablishmentId,
    /// The day, in the establishment's calendar.
    pub on: NaiveDate,
    /// People with a stay in progress.
    pub residents: i64,
    /// Open pressure ulcers of those people, recorded in this establishment.
    pub open: i64,
    /// Of which acquired in the establishment.
    pub acquired: i64,
    /// Of which present on admission.
    pub present_on_admission: i64,
    /// People with at least one acquired pressure ulcer open.
    pub residents_with_acquired: i64,
    /// `residents_with_acquired` out of `residents`, in percent to the tenth (none without
    /// residents).
    pub acquired_prevalence_percent: Option<f64>,
    /// The ulcers themselves, for those who read the care team's data (empty for a director
    /// who does not: the counts are the indicator).
    pub ulcers: Vec<ListedPressureUlcer>,
}

/// A percentage to the tenth.
pub fn percent(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 * 1000.0 / whole as f64).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn input(kind: WoundKind, site: BodySite, stage: Option<PressureUlcerStage>) -> WoundInput {
        WoundInput {
            kind,
            site,
            site_detail: None,
            origin: WoundOrigin::Acquired,
            opened_on: Some(day("2026-11-02")),
            stage,
            description: None,
        }
    }

    fn wound(kind: WoundKind) -> Wound {
        Wound {
            id: WoundId::from_uuid(uuid::Uuid::from_u128(1)),
            resident_id: ResidentId::from_uuid(uuid::Uuid::from_u128(2)),
            establishment_id: EstablishmentId::from_uuid(uuid::Uuid::from_u128(3)),
            kind,
            site: BodySite::Sacrum,
            site_detail: None,
            origin: WoundOrigin::Acquired,
            opened_on: day("2026-11-02"),
            stage_at_opening: (kind == WoundKind::PressureUlcer).then_some(PressureUlcerStage::Stage2),
            description: None,
            recorded_by: UserId::from_uuid(uuid::Uuid::from_u128(4)),
            recorded_at: "2026-11-02T10:00:00Z".parse().unwrap(),
            closed_on: None,
            outcome: None,
            closed_by: None,
            closed_at: None,
        }
    }

    fn fields(result: Result<impl Sized, ValidationErrors>) -> Vec<String> {
        match result {
            Ok(_) => Vec::new(),
            Err(errors) => errors.errors().iter().map(|e| e.field.clone()).collect(),
        }
    }

    #[test]
    fn a_stage_goes_with_pressure_ulcers_only_and_other_sites_are_said() {
        use PressureUlcerStage::*;
        use WoundKind::*;
        let today = day("2026-11-10");
        let cases: Vec<(WoundInput, Vec<&str>)> = vec![
            (input(PressureUlcer, BodySite::Sacrum, Some(Stage2)), vec![]),
            (input(PressureUlcer, BodySite::HeelLeft, None), vec!["stage"]),
            (input(SkinTear, BodySite::Elbow, Some(Stage1)), vec!["stage"]),
            (input(Surgical, BodySite::HipRight, None), vec![]),
            (input(Burn, BodySite::Other, None), vec!["site_detail"]),
            (
                WoundInput {
                    site_detail: Some("  Lobe de l'oreille ".to_owned()),
                    ..input(Burn, BodySite::Other, None)
                },
                vec![],
            ),
            (
                WoundInput { opened_on: Some(day("2026-11-11")), ..input(LegUlcer, BodySite::Leg, None) },
                vec!["opened_on"],
            ),
            (
                WoundInput { description: Some("x".repeat(MAX_TEXT + 1)), ..input(Other, BodySite::Foot, None) },
                vec!["description"],
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(fields(NewWound::validate(input, today)), expected);
        }
        let new = NewWound::validate(input(PressureUlcer, BodySite::Sacrum, Some(Stage2)), today).unwrap();
        assert_eq!(new.handover_summary(), "Escarre stade 2 — sacrum (apparue dans l'établissement)");
    }

    fn assessment() -> WoundAssessmentInput {
        WoundAssessmentInput {
            assessed_on: Some(day("2026-11-05")),
            length_cm: Some(3.04),
            width_cm: Some(2.0),
            depth_cm: Some(0.0),
            stage: None,
            bed: Some(WoundBedInput { necrosis: 0, fibrin: 30, granulation: 70, epithelialisation: 0 }),
            exudate: Some(Exudate::Low),
            pain: Some(2),
            infection_signs: vec![],
            observations: None,
        }
    }

    #[test]
    fn an_assessment_is_checked_against_its_wound() {
        let today = day("2026-11-10");
        let ulcer = wound(WoundKind::PressureUlcer);
        let tear = wound(WoundKind::SkinTear);
        let bed = |necrosis, fibrin, granulation, epithelialisation| {
            Some(WoundBedInput { necrosis, fibrin, granulation, epithelialisation })
        };
        let cases: Vec<(&Wound, WoundAssessmentInput, Vec<&str>)> = vec![
            (&ulcer, assessment(), vec![]),
            (&ulcer, WoundAssessmentInput { stage: Some(PressureUlcerStage::Stage3), ..assessment() }, vec![]),
            (&tear, WoundAssessmentInput { stage: Some(PressureUlcerStage::Stage3), ..assessment() }, vec!["stage"]),
            (&ulcer, WoundAssessmentInput { bed: bed(10, 30, 50, 0), ..assessment() }, vec!["bed"]),
            (&ulcer, WoundAssessmentInput { bed: bed(0, 0, 100, 0), ..assessment() }, vec![]),
            (&ulcer, WoundAssessmentInput { width_cm: None, ..assessment() }, vec!["width_cm"]),
            (&ulcer, WoundAssessmentInput { length_cm: Some(0.0), ..assessment() }, vec!["length_cm"]),
            (&ulcer, WoundAssessmentInput { length_cm: Some(120.0), ..assessment() }, vec!["length_cm"]),
            (&ulcer, WoundAssessmentInput { depth_cm: Some(-1.0), ..assessment() }, vec!["depth_cm"]),
            (&ulcer, WoundAssessmentInput { pain: Some(11), ..assessment() }, vec!["pain"]),
            (
                &ulcer,
                WoundAssessmentInput { assessed_on: Some(day("2026-11-01")), ..assessment() },
                vec!["assessed_on"],
            ),
            (
                &ulcer,
                WoundAssessmentInput { assessed_on: Some(day("2026-11-11")), ..assessment() },
                vec!["assessed_on"],
            ),
            (
                &ulcer,
                WoundAssessmentInput { infection_signs: vec![InfectionSign::Pus, InfectionSign::Pus], ..assessment() },
                vec!["infection_signs"],
            ),
            (
                &ulcer,
                WoundAssessmentInput {
                    length_cm: None,
                    width_cm: None,
                    depth_cm: None,
                    bed: None,
                    exudate: None,
                    pain: None,
                    ..assessment()
                },
                vec!["observations"],
            ),
        ];
        for (i, (wound, input, expected)) in cases.into_iter().enumerate() {
            assert_eq!(fields(NewWoundAssessment::validate(input, wound, today)), expected, "case {i}");
        }
        let checked = NewWoundAssessment::validate(assessment(), &ulcer, today).unwrap();
        assert_eq!(checked.findings.length_cm, Some(3.0), "rounded to the millimetre");
    }

    #[test]
    fn a_worse_stage_or_signs_of_infection_are_told() {
        use PressureUlcerStage::*;
        let ulcer = wound(WoundKind::PressureUlcer);
        let today = day("2026-11-10");
        let at = |stage, signs: Vec<InfectionSign>| {
            NewWoundAssessment::validate(
                WoundAssessmentInput { stage, infection_signs: signs, ..assessment() },
                &ulcer,
                today,
            )
            .unwrap()
        };
        assert_eq!(
            at(Some(Stage3), vec![]).worsening(&ulcer, Some(Stage2)).unwrap(),
            "Escarre sacrum : stade 2 → stade 3"
        );
        assert_eq!(at(Some(Stage2), vec![]).worsening(&ulcer, Some(Stage2)), None);
        assert_eq!(at(Some(Stage1), vec![]).worsening(&ulcer, Some(Stage2)), None, "better is not told");
        assert_eq!(at(None, vec![]).worsening(&ulcer, Some(Stage2)), None);
        // Unstageable is a full-thickness loss at least; a deep tissue injury tells no depth.
        assert!(Unstageable.worse_than(Stage2));
        assert!(!Unstageable.worse_than(Stage3));
        assert!(!DeepTissueInjury.worse_than(Stage1) && !Stage4.worse_than(DeepTissueInjury));
        assert_eq!(
            at(Some(Stage4), vec![InfectionSign::Odour, InfectionSign::Pus]).worsening(&ulcer, Some(Stage3)).unwrap(),
            "Escarre sacrum : stade 3 → stade 4 ; signes d'infection (pus, odeur)"
        );
    }

    #[test]
    fn a_file_gives_the_latest_stage_the_protocol_in_force_and_the_size_series() {
        let ulcer = wound(WoundKind::PressureUlcer);
        let assessed = |n: u128, on: &str, stage, size: Option<(f64, f64)>| WoundAssessment {
            id: WoundAssessmentId::from_uuid(uuid::Uuid::from_u128(n)),
            wound_id: ulcer.id,
            resident_id: ulcer.resident_id,
            assessed_on: day(on),
            stage,
            length_cm: size.map(|s| s.0),
            width_cm: size.map(|s| s.1),
            depth_cm: None,
            bed: None,
            exudate: None,
            pain: None,
            infection_signs: vec![],
            observations: None,
            recorded_by: ulcer.recorded_by,
            recorded_at: ulcer.recorded_at,
        };
        let file = WoundFile::of(
            ulcer.clone(),
            vec![
                assessed(12, "2026-11-09", None, Some((2.5, 1.5))),
                assessed(11, "2026-11-05", Some(PressureUlcerStage::Stage3), Some((3.0, 2.0))),
            ],
            vec![],
        );
        assert_eq!(file.stage, Some(PressureUlcerStage::Stage3));
        let areas: Vec<f64> = file.size.iter().map(|s| s.area_cm2).collect();
        assert_eq!(areas, [6.0, 3.75]);
        assert_eq!(WoundFile::of(ulcer, vec![], vec![]).stage, Some(PressureUlcerStage::Stage2));
        assert_eq!(percent(1, 3), Some(33.3));
        assert_eq!(percent(0, 0), None);
    }

    #[test]
    fn a_protocol_names_its_products_and_schedule() {
        let protocol = DressingProtocol {
            products: vec!["Sérum physiologique".to_owned(), " Hydrocolloïde mince ".to_owned()],
            frequency: "Tous les 2 jours".to_owned(),
            instructions: None,
            schedule: Schedule::EveryDays { every: 2, from_date: day("2026-11-02"), time: "10:00".parse().unwrap() },
            who: nurse(),
            from: None,
            to: None,
        };
        let checked = protocol.clone().validate().unwrap();
        assert_eq!(checked.products[1], "Hydrocolloïde mince");
        assert_eq!(
            checked.task_label(WoundKind::PressureUlcer, BodySite::Sacrum),
            "Pansement escarre (sacrum) : Sérum physiologique, Hydrocolloïde mince"
        );
        let broken = DressingProtocol {
            products: vec![],
            schedule: Schedule::EveryDays { every: 1, from_date: day("2026-11-02"), time: "10:00".parse().unwrap() },
            who: Performer { role: None, user_id: None },
            from: Some(day("2026-11-10")),
            to: Some(day("2026-11-01")),
            ..protocol
        };
        assert_eq!(fields(broken.validate()), ["products", "schedule.every", "who", "to"]);
    }
}
