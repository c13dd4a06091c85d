//! A person's timeline: notes, assessments, versions of the projet personnalisé, stays and what
//! the hand-over told of the person (falls, alerts, absences, restraints, wounds...), merged in
//! one chronology, newest first. Read in one snapshot and recorded as one reading.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use dui_domain::ResidentId;
use dui_domain::audit::AuditAction;
use dui_domain::pagination::PageRequest;
use dui_domain::period::TimeBound;
use dui_domain::scope::TenantScope;
use dui_storage::{Mode, Reading, assessments, care_plans, handover, notes, residents, stays};

use crate::{App, AppError, AppResult};

pub use dui_domain::timeline::TimelineEntry as Entry;

fn day(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

/// The person's timeline over a period (at most a year; default the last 30 days): notes,
/// assessments and hand-over events the caller may read, plan versions, admissions and
/// discharges, newest first.
pub async fn read(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    from: Option<TimeBound>,
    to: Option<TimeBound>,
) -> AppResult<Vec<Entry>> {
    let mut tx = app.db().begin(scope, Mode::Snapshot);
    let [from, to] = crate::period::resolve(&mut tx, resident, [from, to]).await?;
    let to = to.unwrap_or_else(Utc::now);
    let from = from.unwrap_or(to - chrono::Duration::days(30));
    if to <= from || to - from > chrono::Duration::days(366) {
        return Err(AppError::invalid("from", "must be before to, at most a year before"));
    }
    let within = |at: DateTime<Utc>| at >= from && at < to;
    residents::record_reading(&mut tx, resident, AuditAction::ResidentTimeline).await?;
    let mut entries = Vec::new();
    for stay in stays::list_within(&mut tx, resident, Reading::Unrecorded).await? {
        let establishment_id = stay.establishment_id.as_uuid();
        if within(day(stay.admitted_on)) {
            entries.push(Entry::Admission { at: day(stay.admitted_on), stay_id: stay.id.as_uuid(), establishment_id });
        }
        if let Some(discharged) = stay.discharged_on.map(day).filter(|d| within(*d)) {
            entries.push(Entry::Discharge { at: discharged, stay_id: stay.id.as_uuid(), establishment_id });
        }
    }
    for version in care_plans::versions_within(&mut tx, resident, Reading::Unrecorded).await? {
        let at = version.activated_at.unwrap_or(version.created_at);
        if within(at) {
            entries.push(Entry::CarePlan { at, id: version.id, version: version.version, status: version.status });
        }
    }
    for assessment in assessments::list_within(&mut tx, resident, None, Reading::Unrecorded).await? {
        let at = day(assessment.assessed_on);
        if within(at) {
            entries.push(Entry::Assessment {
                at,
                id: assessment.id.as_uuid(),
                instrument: assessment.instrument,
                status: assessment.status,
                gir: assessment.outcome.gir.map(|g| g.gir),
                superseded: assessment.superseded_by.is_some(),
            });
        }
    }
    for (at, event) in handover::of_person_within(&mut tx, resident, from, to).await? {
        entries.push(Entry::Event { at, event: Box::new(event) });
    }
    // Notes, newest first, page by page until the period's start (at most 2,000).
    let mut page = PageRequest::first(200);
    'pages: for _ in 0..10 {
        let found = notes::list_within(&mut tx, resident, page, Reading::Unrecorded).await?;
        for note in found.items {
            if note.written_at < from {
                break 'pages;
            }
            if note.written_at < to {
                entries.push(Entry::Note { at: note.written_at, note: Box::new(note) });
            }
        }
        match found.next_after {
            Some(after) => page = PageRequest { after: Some(after), limit: 200 },
            None => break,
        }
    }
    tx.commit().await?;
    entries.sort_by_key(|e| std::cmp::Reverse(e.at()));
    Ok(entries)
}
