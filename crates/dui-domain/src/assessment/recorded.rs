//! Assessments as recorded about a person: dated, by an assessor, draft until validated and
//! immutable afterwards; a correction supersedes a validated assessment and links to it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::assessment::aggir::Group;
use crate::assessment::instruments::Outcome;
use crate::record::NoteScope;
use crate::{AssessmentId, EstablishmentId, ResidentId, UserId};

crate::text_codes! {
    pub enum AssessmentStatus {
        Draft = "draft",
        Validated = "validated",
    }
}

/// An assessment, opened: its answers and what they come to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Assessment {
    pub id: AssessmentId,
    pub resident_id: ResidentId,
    pub establishment_id: EstablishmentId,
    pub instrument: String,
    pub instrument_version: String,
    /// Who may read it, as for notes.
    pub scope: NoteScope,
    pub assessed_on: NaiveDate,
    pub assessor_id: UserId,
    pub status: AssessmentStatus,
    /// The answers as given.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub answers: serde_json::Value,
    pub outcome: Outcome,
    /// The validated assessment this one corrects.
    pub supersedes: Option<AssessmentId>,
    /// The validated correction of this one, if any: this one no longer counts.
    pub superseded_by: Option<AssessmentId>,
    pub created_at: DateTime<Utc>,
    pub validated_at: Option<DateTime<Utc>>,
    pub validated_by: Option<UserId>,
    /// Changes with every update of a draft; send it back as `If-Match`.
    pub row_version: i32,
}

/// One point of a person's GIR history: a validated AGGIR assessment that no correction
/// superseded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GirPoint {
    pub assessment_id: AssessmentId,
    pub assessed_on: NaiveDate,
    pub gir: u8,
    pub group: Group,
    pub rank: u8,
    pub assessor_id: UserId,
    pub establishment_id: EstablishmentId,
}
