//! Identifier newtypes. Every id is a UUID (version 7 when the server makes it, so ids sort by
//! creation time and make good keyset-pagination cursors), wrapped so that a tenant id can never be
//! passed where a user id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = Uuid))]
        pub struct $name(Uuid);

        impl $name {
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// An organisme gestionnaire: the legal body, and the unit of isolation.
    TenantId
);
id_type!(
    /// An establishment or service (one FINESS géographique) of a tenant.
    EstablishmentId
);
id_type!(
    /// A unit (wing, floor, home-help round) of an establishment.
    UnitId
);
id_type!(
    /// A professional or service account of a tenant.
    UserId
);
id_type!(
    /// A user's role in one establishment, or in the whole tenant.
    MembershipId
);
id_type!(
    /// A platform operator: administers tenants, never sees their residents.
    OperatorId
);
id_type!(
    /// An external OpenID Connect issuer configured for a tenant.
    IdentityProviderId
);
id_type!(
    /// A person supported by the tenant (usager, résident).
    ResidentId
);
id_type!(
    /// A professional note about a resident.
    NoteId
);
id_type!(
    /// A stay of a resident in an establishment or service.
    StayId
);
id_type!(
    /// A contact of a resident.
    ContactId
);
id_type!(
    /// A recorded consent or opposition.
    ConsentId
);
id_type!(
    /// An emergency (break-the-glass) opening of a record.
    EmergencyAccessId
);
id_type!(
    /// An entry of the audit trail.
    AuditEventId
);
id_type!(
    /// A needs assessment.
    AssessmentId
);
id_type!(
    /// A projet personnalisé (the series of its versions).
    CarePlanId
);
id_type!(
    /// One version of a projet personnalisé.
    PlanVersionId
);
id_type!(
    /// A record of a scheduled care task (done, not done, refused).
    TaskRecordId
);
id_type!(
    /// A measurement (vital sign, weight...).
    MeasurementId
);
id_type!(
    /// A wound or pressure ulcer of a person, from its discovery to its closure.
    WoundId
);
id_type!(
    /// One assessment of a wound (size, stage, wound bed...).
    WoundAssessmentId
);
id_type!(
    /// One version of a wound's care protocol (the dressing plan).
    WoundProtocolId
);
id_type!(
    /// One version of a person's diet and textures.
    DietPrescriptionId
);
id_type!(
    /// A food and fluid watch (surveillance alimentaire et hydrique).
    NutritionWatchId
);
id_type!(
    /// What a person ate and drank at one meal of a watched day.
    IntakeId
);
id_type!(
    /// A message in the outbox, waiting to leave or gone.
    OutboxMessageId
);
id_type!(
    /// An absence of a resident (hospitalisation, family stay, consultation outside...).
    AbsenceId
);
id_type!(
    /// An appointment of a resident (consultation, examination...).
    AppointmentId
);
id_type!(
    /// A prescribed physical restraint (contention).
    RestraintId
);
id_type!(
    /// A reassessment of a restraint.
    ReassessmentId
);
id_type!(
    /// An allergy or intolerance of a resident.
    AllergyId
);
id_type!(
    /// A major alert on a resident's record (swallowing disorder, fall risk...).
    AlertId
);
id_type!(
    /// A fall of a resident, as first recorded (its corrections are records that amend it).
    FallId
);
id_type!(
    /// An entry of a resident's medical history, or an active problem.
    MedicalProblemId
);
id_type!(
    /// A vaccination of a resident.
    VaccinationId
);
id_type!(
    /// A document attached to a resident's record.
    DocumentId
);
id_type!(
    /// A physician of a resident (the attending physician, a specialist).
    PhysicianId
);
id_type!(
    /// A prescription of a resident: the lineage of its versions.
    PrescriptionId
);
id_type!(
    /// One version of a prescription (what an administration names, with a line number).
    PrescriptionVersionId
);
id_type!(
    /// The record of one dose of a prescription: given, partly given, refused or not given.
    AdministrationId
);
