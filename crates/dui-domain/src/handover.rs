//! What the hand-over tells besides the notes: the events of the shift that the team must know
//! — a task refused or not done, an abnormal measurement, an admission or a discharge; falls,
//! alerts and absences as their features report them. Each is decided by the use case of the
//! change it reports, written with it, and read under the confidentiality scopes of notes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::UserId;
use crate::record::NoteScope;
use crate::transmission::ResidentName;

crate::text_codes! {
    /// What happened.
    pub enum HandoverEventKind {
        /// A task of the plan refused by the person.
        TaskRefused = "task_refused",
        /// A task of the plan not done, with why.
        TaskNotDone = "task_not_done",
        /// A measurement outside its reference range (T° 38.6 °C, SpO2 89 %, BP 210/115).
        AbnormalMeasurement = "abnormal_measurement",
        /// A weight that meets the undernutrition criteria.
        Undernutrition = "undernutrition",
        Admission = "admission",
        Discharge = "discharge",
        Fall = "fall",
        /// A new major alert or allergy.
        Alert = "alert",
        /// The person left (hospitalisation, holiday, consultation) or came back.
        Absence = "absence",
        Return = "return",
        Restraint = "restraint",
        /// A wound or pressure ulcer found, or one getting worse (a higher stage, signs of
        /// infection).
        Wound = "wound",
        /// A person under food and fluid watch drank less than their threshold, or left most of
        /// their meals, over the last days.
        IntakeAlert = "intake_alert",
        /// A change of diet or of the textures of foods and drinks.
        DietChange = "diet_change",
        /// A new active problem in the medical file (told to the medical scope).
        MedicalProblem = "medical_problem",
        /// A new prescription (its drugs).
        PrescriptionNew = "prescription_new",
        /// A prescription changed: a new version in force.
        PrescriptionChanged = "prescription_changed",
        /// A prescription stopped, with why.
        PrescriptionStopped = "prescription_stopped",
        /// A dose refused by the person.
        DoseRefused = "dose_refused",
        /// A dose not given (why), or only partly taken.
        DoseNotGiven = "dose_not_given",
    }
}

/// An event to report, decided by a use case: the source is the row its statement writes.
#[derive(Clone, PartialEq, Eq)]
pub struct NewHandoverEvent {
    pub kind: HandoverEventKind,
    /// What the source is (`care_task_record`, `measurement`, `stay`...).
    pub source_type: &'static str,
    /// Who may read it, as for a note.
    pub scope: NoteScope,
    /// What the hand-over says of it, short.
    pub summary: String,
    pub occurred_at: DateTime<Utc>,
}

impl std::fmt::Debug for NewHandoverEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewHandoverEvent").field("kind", &self.kind).field("scope", &self.scope).finish_non_exhaustive()
    }
}

/// An event of the hand-over feed, as a reader sees it.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HandoverEvent {
    pub id: Uuid,
    pub resident: ResidentName,
    pub kind: HandoverEventKind,
    /// What the event comes from, to open it (`care_task_record`, `measurement`, `stay`...).
    pub source_type: String,
    pub source_id: Uuid,
    pub scope: NoteScope,
    pub summary: String,
    pub occurred_at: DateTime<Utc>,
    pub recorded_by: Option<UserId>,
    /// Recorded after the reader's marker on this feed.
    pub unread: bool,
}

impl std::fmt::Debug for HandoverEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandoverEvent").field("id", &self.id).field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// An event as a person's timeline shows it: what was told at the hand-over about them.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordEvent {
    pub id: Uuid,
    pub kind: HandoverEventKind,
    /// What the event comes from, to open it (`care_task_record`, `measurement`, `fall`...).
    pub source_type: String,
    pub source_id: Uuid,
    pub scope: NoteScope,
    pub summary: String,
    pub recorded_by: Option<UserId>,
}

impl std::fmt::Debug for RecordEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordEvent").field("id", &self.id).field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// The event of an admission (a first stay, a transfer, a return) on `on`.
pub fn admission(
    mode: crate::record::StayMode,
    admission: crate::record::AdmissionMode,
    on: chrono::NaiveDate,
    at: DateTime<Utc>,
) -> NewHandoverEvent {
    use crate::record::{AdmissionMode, StayMode};
    let what = match admission {
        AdmissionMode::Transfer => "Arrivée par transfert",
        AdmissionMode::Return => "Retour",
        AdmissionMode::New | AdmissionMode::Other => "Admission",
    };
    let stay = match mode {
        StayMode::Permanent => "hébergement permanent",
        StayMode::Temporary => "hébergement temporaire",
        StayMode::DayCare => "accueil de jour",
        StayMode::AtHome => "accompagnement à domicile",
    };
    NewHandoverEvent {
        kind: HandoverEventKind::Admission,
        source_type: "stay",
        scope: NoteScope::WholeTeam,
        summary: format!("{what} le {} ({stay})", on.format("%d/%m/%Y")),
        occurred_at: at,
    }
}

/// The event of a discharge on `on`.
pub fn discharge(mode: crate::record::DischargeMode, on: chrono::NaiveDate, at: DateTime<Utc>) -> NewHandoverEvent {
    use crate::record::DischargeMode;
    let how = match mode {
        DischargeMode::Home => "retour à domicile",
        DischargeMode::OtherEstablishment => "vers un autre établissement",
        DischargeMode::Hospital => "hospitalisation",
        DischargeMode::Death => "décès",
        DischargeMode::Transfer => "transfert",
        DischargeMode::Other => "autre motif",
    };
    NewHandoverEvent {
        kind: HandoverEventKind::Discharge,
        source_type: "stay",
        scope: NoteScope::WholeTeam,
        summary: format!("Sortie le {} ({how})", on.format("%d/%m/%Y")),
        occurred_at: at,
    }
}

/// The event of a fall recorded: to the care team, who read the falls register.
pub fn fall(new: &crate::fall::NewFall) -> NewHandoverEvent {
    let serious = new.consequences.iter().any(|c| c.serious());
    let consequences: Vec<&str> = new.consequences.iter().map(|c| c.as_str()).collect();
    let found = match new.discovery {
        crate::fall::Discovery::FoundOnFloor => ", retrouvé(e) au sol",
        _ => "",
    };
    NewHandoverEvent {
        kind: HandoverEventKind::Fall,
        source_type: "fall",
        scope: NoteScope::CareTeam,
        summary: format!(
            "Chute{} ({}{found}) : {}",
            if serious { " grave" } else { "" },
            new.place.as_str(),
            consequences.join(", ")
        ),
        occurred_at: new.occurred_at,
    }
}

/// The event of a new allergy or intolerance, in the scope it was recorded in.
pub fn allergy(new: &crate::alert::NewAllergy, at: DateTime<Utc>) -> NewHandoverEvent {
    NewHandoverEvent {
        kind: HandoverEventKind::Alert,
        source_type: "allergy",
        scope: new.scope,
        summary: format!(
            "{} : {} ({})",
            if matches!(new.kind, crate::alert::AllergyKind::Allergy) { "Allergie" } else { "Intolérance" },
            new.details.substance.text,
            new.severity.as_str()
        ),
        occurred_at: at,
    }
}

/// The event of a new active problem of the medical file, told to those who read the medical
/// scope (a history entry is not news for the next shift): its text and CIM-10 code.
pub fn medical_problem(new: &crate::medical::NewProblem, at: DateTime<Utc>) -> Option<NewHandoverEvent> {
    (new.kind == crate::medical::ProblemKind::ActiveProblem).then(|| NewHandoverEvent {
        kind: HandoverEventKind::MedicalProblem,
        source_type: "medical_problem",
        scope: NoteScope::Medical,
        summary: match &new.details.cim10 {
            Some(code) => format!("Problème actif : {} ({code})", new.details.text),
            None => format!("Problème actif : {}", new.details.text),
        },
        occurred_at: at,
    })
}

/// The event of a new major alert, in the scope it was recorded in.
pub fn alert(new: &crate::alert::NewAlert) -> NewHandoverEvent {
    NewHandoverEvent {
        kind: HandoverEventKind::Alert,
        source_type: "major_alert",
        scope: new.scope,
        summary: format!("Alerte : {}", new.kind.as_str()),
        occurred_at: new.starts_at,
    }
}

/// The event of a departure (an absence recorded): to the whole team, who must know the person
/// is away; where and why stay in the absence.
pub fn absence(new: &crate::absence::NewAbsence) -> NewHandoverEvent {
    use crate::absence::AbsenceKind;
    let what = match new.kind {
        AbsenceKind::Hospitalisation => "Hospitalisation",
        AbsenceKind::FamilyStay => "Séjour en famille",
        AbsenceKind::Consultation => "Consultation à l'extérieur",
        AbsenceKind::Other => "Absence",
    };
    NewHandoverEvent {
        kind: HandoverEventKind::Absence,
        source_type: "absence",
        scope: NoteScope::WholeTeam,
        summary: format!("{what} à partir du {}", new.starts_at.format("%d/%m/%Y %H:%M UTC")),
        occurred_at: new.starts_at,
    }
}

/// The event of a return from an absence: to the whole team.
pub fn return_at(at: DateTime<Utc>) -> NewHandoverEvent {
    NewHandoverEvent {
        kind: HandoverEventKind::Return,
        source_type: "absence",
        scope: NoteScope::WholeTeam,
        summary: format!("Retour le {}", at.format("%d/%m/%Y %H:%M UTC")),
        occurred_at: at,
    }
}

/// The event of a restraint prescribed (or renewed): to the care team.
pub fn restraint_started(new: &crate::restraint::NewRestraint) -> NewHandoverEvent {
    NewHandoverEvent {
        kind: HandoverEventKind::Restraint,
        source_type: "restraint",
        scope: NoteScope::CareTeam,
        summary: format!(
            "Contention ({}) prescrite jusqu'au {}",
            new.kind.as_str(),
            new.planned_end_at.format("%d/%m/%Y %H:%M UTC")
        ),
        occurred_at: new.starts_at,
    }
}

/// The event of a restraint stopped: to the care team.
pub fn restraint_stopped(at: DateTime<Utc>) -> NewHandoverEvent {
    NewHandoverEvent {
        kind: HandoverEventKind::Restraint,
        source_type: "restraint",
        scope: NoteScope::CareTeam,
        summary: "Contention arrêtée".to_owned(),
        occurred_at: at,
    }
}

/// The event of a dose refused, not given or partly taken (`summary`: the administration's
/// words), told to the care team who give the drugs.
pub fn dose(refused: bool, summary: String, at: DateTime<Utc>) -> NewHandoverEvent {
    let kind = if refused { HandoverEventKind::DoseRefused } else { HandoverEventKind::DoseNotGiven };
    NewHandoverEvent { kind, source_type: "administration", scope: NoteScope::CareTeam, summary, occurred_at: at }
}

/// The event of a prescription: a new one, a new version of one, or one stopped (with why), told
/// to the care team who give the drugs.
pub fn prescription(
    kind: HandoverEventKind,
    denominations: &str,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> NewHandoverEvent {
    let summary = match (kind, reason) {
        (HandoverEventKind::PrescriptionStopped, Some(reason)) => {
            format!("Traitement arrêté : {denominations} — {reason}")
        }
        (HandoverEventKind::PrescriptionStopped, None) => format!("Traitement arrêté : {denominations}"),
        (HandoverEventKind::PrescriptionChanged, _) => format!("Traitement modifié : {denominations}"),
        _ => format!("Nouveau traitement : {denominations}"),
    };
    NewHandoverEvent { kind, source_type: "prescription", scope: NoteScope::CareTeam, summary, occurred_at: at }
}
