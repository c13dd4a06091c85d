//! A person's timeline: the events of the record, of every kind, in one chronology.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::assessment::recorded::AssessmentStatus;
use crate::care_plan::PlanStatus;
use crate::handover::RecordEvent;
use crate::transmission::Note;

/// One event of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TimelineEntry {
    /// A note (transmission), as listed by the notes.
    Note { at: DateTime<Utc>, note: Box<Note> },
    /// An assessment: its instrument, status and what it comes to.
    Assessment {
        at: DateTime<Utc>,
        id: Uuid,
        instrument: String,
        status: AssessmentStatus,
        gir: Option<u8>,
        superseded: bool,
    },
    /// A version of the projet personnalisé was drawn up or came into force.
    CarePlan { at: DateTime<Utc>, id: Uuid, version: i32, status: PlanStatus },
    /// An admission.
    Admission { at: DateTime<Utc>, stay_id: Uuid, establishment_id: Uuid },
    /// A discharge.
    Discharge { at: DateTime<Utc>, stay_id: Uuid, establishment_id: Uuid },
    /// What the hand-over told of the person (a task refused, an abnormal measurement, a fall,
    /// an alert, an absence, a restraint, a wound, a diet change...), linked to its source;
    /// admissions and discharges are the entries above.
    Event { at: DateTime<Utc>, event: Box<RecordEvent> },
}

impl TimelineEntry {
    /// When it happened.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Note { at, .. }
            | Self::Assessment { at, .. }
            | Self::CarePlan { at, .. }
            | Self::Admission { at, .. }
            | Self::Discharge { at, .. }
            | Self::Event { at, .. } => *at,
        }
    }
}
