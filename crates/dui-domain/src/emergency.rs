//! An emergency opening as its reviewer sees it: the opening, whose record, and what the
//! audit trail says was done through it.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// An emergency opening as its reviewer sees it: whose record, and what was done with it while
/// it was open.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EmergencyReview {
    #[serde(flatten)]
    pub access: crate::record::EmergencyAccess,
    pub resident: crate::transmission::ResidentName,
    /// What the professional read or wrote on the record through the opening, oldest first (at
    /// most 200): each event of the audit trail, with the resource it names.
    pub viewed: Vec<EmergencyUse>,
}

/// One use of an emergency opening, from the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EmergencyUse {
    pub at: DateTime<Utc>,
    /// The audit action (`resident.read`, `note.list`, `care_plan.print`...).
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<uuid::Uuid>,
}
