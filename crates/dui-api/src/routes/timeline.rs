//! A person's timeline: notes, assessments, versions of the projet personnalisé and stays,
//! merged in one chronology, newest first.

use axum::extract::State;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use dui_domain::ResidentId;
use dui_domain::ValidationErrors;
use dui_domain::assessment::recorded::AssessmentStatus;
use dui_domain::care_plan::PlanStatus;
use dui_domain::pagination::PageRequest;
use dui_domain::transmission::Note;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
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

impl TimelineEntry {
    fn at(&self) -> DateTime<Utc> {
        match self {
            Self::Note { at, .. }
            | Self::Assessment { at, .. }
            | Self::CarePlan { at, .. }
            | Self::Admission { at, .. }
            | Self::Discharge { at, .. } => *at,
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

fn day(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
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
    let to = params.to.unwrap_or_else(Utc::now);
    let from = params.from.unwrap_or(to - chrono::Duration::days(30));
    if to <= from || to - from > chrono::Duration::days(366) {
        return Err(ValidationErrors::single("from", "must be before to, at most a year before").into());
    }
    let db = state.db();
    let within = |at: DateTime<Utc>| at >= from && at < to;
    let mut entries = Vec::new();
    for stay in db.list_stays(&scope, resident).await? {
        let establishment_id = stay.establishment_id.as_uuid();
        if within(day(stay.admitted_on)) {
            entries.push(TimelineEntry::Admission {
                at: day(stay.admitted_on),
                stay_id: stay.id.as_uuid(),
                establishment_id,
            });
        }
        if let Some(discharged) = stay.discharged_on.map(day).filter(|d| within(*d)) {
            entries.push(TimelineEntry::Discharge { at: discharged, stay_id: stay.id.as_uuid(), establishment_id });
        }
    }
    for version in db.list_plan_versions(&scope, resident, None).await? {
        let at = version.activated_at.unwrap_or(version.created_at);
        if within(at) {
            entries.push(TimelineEntry::CarePlan {
                at,
                id: version.id,
                version: version.version,
                status: version.status,
            });
        }
    }
    for assessment in db.list_assessments(&scope, resident, None, None).await? {
        let at = day(assessment.assessed_on);
        if within(at) {
            entries.push(TimelineEntry::Assessment {
                at,
                id: assessment.id.as_uuid(),
                instrument: assessment.instrument,
                status: assessment.status,
                gir: assessment.outcome.gir.map(|g| g.gir),
                superseded: assessment.superseded_by.is_some(),
            });
        }
    }
    // Notes, newest first, page by page until the period's start (at most 2,000).
    let mut page = PageRequest::first(200);
    'pages: for _ in 0..10 {
        let notes = db.list_notes(&scope, resident, page).await?;
        for note in notes.items {
            if note.written_at < from {
                break 'pages;
            }
            if note.written_at < to {
                entries.push(TimelineEntry::Note { at: note.written_at, note: Box::new(note) });
            }
        }
        match notes.next_after {
            Some(after) => page = PageRequest { after: Some(after), limit: 200 },
            None => break,
        }
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.at()));
    Ok(Json(entries))
}
