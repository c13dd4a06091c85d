//! A person's timeline: notes, assessments, versions of the projet personnalisé and stays,
//! merged in one chronology, newest first.

use axum::extract::State;
use chrono::{DateTime, Utc};
use dui_app::timeline;
use dui_domain::ResidentId;
use dui_domain::assessment::recorded::AssessmentStatus;
use dui_domain::care_plan::PlanStatus;
use dui_domain::transmission::Note;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::TenantAuth;
use crate::extract::{Json, Path, Query};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// One event of the timeline.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
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
}

impl From<timeline::Entry> for TimelineEntry {
    fn from(entry: timeline::Entry) -> Self {
        match entry {
            timeline::Entry::Note { at, note } => Self::Note { at, note },
            timeline::Entry::Assessment { at, id, instrument, status, gir, superseded } => {
                Self::Assessment { at, id, instrument, status, gir, superseded }
            }
            timeline::Entry::CarePlan { at, id, version, status } => Self::CarePlan { at, id, version, status },
            timeline::Entry::Admission { at, stay_id, establishment_id } => {
                Self::Admission { at, stay_id, establishment_id }
            }
            timeline::Entry::Discharge { at, stay_id, establishment_id } => {
                Self::Discharge { at, stay_id, establishment_id }
            }
        }
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimelineParams {
    /// From (inclusive; default: 30 days before `to`).
    pub from: Option<DateTime<Utc>>,
    /// To (exclusive; default: now).
    pub to: Option<DateTime<Utc>>,
}

/// The person's timeline over a period (at most a year; default the last 30 days): notes you may
/// read, assessments you may read, plan versions, admissions and discharges, newest first.
#[utoipa::path(get, path = "/residents/{resident_id}/timeline", tag = "residents",
    params(("resident_id" = ResidentId, Path), TimelineParams),
    responses((status = 200, body = Vec<TimelineEntry>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn timeline(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    Query(params): Query<TimelineParams>,
) -> Result<Json<Vec<TimelineEntry>>, ApiError> {
    let entries = timeline::read(state.app(), &scope, resident, params.from, params.to).await?;
    Ok(Json(entries.into_iter().map(TimelineEntry::from).collect()))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(routes!(timeline))
}
