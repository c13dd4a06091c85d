//! The person supported: their record's identity part (identity traits and INS, see
//! [`crate::identity`]), its admission, its state, and the first screen of it.

use chrono::NaiveDate;
use serde::Serialize;

use crate::ResidentId;
pub use crate::identity::{
    Identity, IdentityStatus, Ins, InsOid, Likeness, Sex, StrictTraits, birth_identity_key, checked_ins,
    duplicate_probes, matricule, normalise_name,
};
use crate::validation::ValidationErrors;

/// A validated resident to create, with their first stay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResident {
    pub stay: crate::record::NewStay,
    pub identity: Identity,
    pub ins: Option<Ins>,
    pub identity_status: IdentityStatus,
}

impl NewResident {
    /// A new record starts provisional, even with an INS: an INS typed in (or copied from a
    /// card) is a candidate until the INSi service returns or verifies it (RNIV); it must agree
    /// with the traits it encodes. Retrieval, validation and qualification are later, evidenced
    /// changes.
    pub fn validate(
        stay: crate::record::NewStay,
        identity: Identity,
        ins: Option<Ins>,
        today: NaiveDate,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let identity = identity.validate(today, &mut errors, "identity/");
        let ins = ins.and_then(|ins| crate::identity::checked_ins(ins, &identity, &mut errors, "ins/"));
        errors.into_result(|| NewResident { stay, identity, ins, identity_status: IdentityStatus::Provisional })
    }
}

crate::text_codes! {
    /// A record is active, or was merged into another (a duplicate).
    pub enum RecordStatus {
        Active = "active",
        Merged = "merged",
    }
}

/// A resident's record, opened: identity, and where the person is supported now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resident {
    pub id: ResidentId,
    pub identity_status: IdentityStatus,
    /// The traits as typed, for display.
    pub identity: Identity,
    /// The strict traits in the national identity's form (capitals without accents, hyphens
    /// and apostrophes kept): what is compared with INSi and carried in exchanges.
    pub strict_traits: StrictTraits,
    pub ins: Option<Ins>,
    /// The stay in progress, if any.
    pub current_stay: Option<crate::record::Stay>,
    pub record_status: RecordStatus,
    /// For a merged duplicate: the record that holds everything now.
    pub merged_into: Option<ResidentId>,
    /// Changes with every update; send it back as `If-Match` to update.
    pub row_version: i32,
    /// Whether this read went through an emergency opening.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub emergency: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// How to look a resident up without reading every record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResidentLookup {
    /// By matricule INS.
    Ins(String),
    /// By birth name (any spelling that normalises the same) and birth date.
    BirthIdentity { birth_name: String, birth_date: NaiveDate },
}

/// The first screen of a person's record, in one read: the alerts and allergies first, then
/// identity and current stay, the latest GIR, the projet personnalisé in force and the latest
/// notes the reader may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResidentSummary {
    /// The allergies and major alerts in force that the reader may read, the most severe first:
    /// what every screen of the record shows before anything else.
    pub alerts: Vec<crate::alert::AlertEntry>,
    pub resident: Resident,
    /// The latest validated AGGIR outcome no correction superseded, if the reader may see it.
    pub gir: Option<crate::assessment::recorded::GirPoint>,
    /// The version of the projet personnalisé in force.
    pub care_plan: Option<PlanInForce>,
    /// The attending physician (médecin traitant) in force, if the reader reads the person's
    /// physicians: who to call.
    pub attending_physician: Option<AttendingPhysician>,
    /// The latest notes the reader may read, newest first.
    pub last_notes: Vec<crate::transmission::Note>,
}

/// The attending physician in force, as the record's first screen shows them.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttendingPhysician {
    /// The entry in the medical file's physicians.
    pub id: crate::PhysicianId,
    pub name: String,
    /// The RPPS number (11 digits).
    pub rpps: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub since: NaiveDate,
}

impl std::fmt::Debug for AttendingPhysician {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttendingPhysician").field("id", &self.id).finish_non_exhaustive()
    }
}

/// Which version of the projet personnalisé is in force, and when it is due for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanInForce {
    pub version_id: uuid::Uuid,
    pub version: i32,
    pub review_due_on: Option<NaiveDate>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EstablishmentId;
    use crate::identity::tests::identity;

    #[test]
    fn new_residents_are_validated_and_start_provisional() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let establishment = crate::record::NewStay {
            establishment_id: EstablishmentId::from_uuid(uuid::Uuid::nil()),
            unit_id: None,
            mode: crate::record::StayMode::Permanent,
            admitted_on: today,
            admission_mode: crate::record::AdmissionMode::New,
        };
        let resident = NewResident::validate(establishment.clone(), identity(), None, today).unwrap();
        assert_eq!(resident.identity.birth_name, "Dupont");
        assert_eq!(resident.identity.first_first_name.as_deref(), Some("Marie"));
        assert_eq!(resident.identity.birth_place.as_deref(), Some("2A004"));
        assert_eq!(resident.identity_status, IdentityStatus::Provisional);
        assert_eq!(resident.identity.display_name(), "Marie Martin");

        // The test INS of a woman born in August 1955.
        let ins = Ins { matricule: "255081416802538".to_owned(), oid: InsOid::NirTest };
        let born_1955 = Identity { birth_date: NaiveDate::from_ymd_opt(1955, 8, 3).unwrap(), ..identity() };
        let typed = NewResident::validate(establishment.clone(), born_1955, Some(ins.clone()), today).unwrap();
        assert_eq!(typed.identity_status, IdentityStatus::Provisional, "an INS typed in is not retrieved");
        // The same INS with the traits of someone else (born in 1936): refused.
        let errors = NewResident::validate(establishment.clone(), identity(), Some(ins), today).unwrap_err();
        assert_eq!(errors.errors()[0].field, "ins/matricule");
        assert!(errors.errors()[0].message.contains("the year of birth"), "{errors:?}");

        let mut bad = identity();
        bad.birth_name = String::new();
        bad.birth_date = NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
        bad.birth_place = Some("750".to_owned());
        let wrong_ins = Ins { matricule: "255081416802539".to_owned(), oid: InsOid::Nir };
        let errors = NewResident::validate(establishment, bad, Some(wrong_ins), today).unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["identity/birth_name", "identity/birth_place", "identity/birth_date", "ins/matricule"]);
    }
}
