//! The events of the hand-over besides the notes: written by the statement of the change they
//! report (the `ev` item of its `WITH` clause, [`emit`]), read by the feed's statement with
//! its notes.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use dui_crypto::Keyring;
use dui_domain::handover::{HandoverEvent, HandoverEventKind, RecordEvent};
use dui_domain::record::NoteScope;
use dui_domain::transmission::ResidentName;
use dui_domain::{ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::StoreResult;
use crate::access::{WHO_CTE, note_readable, target, visible};
use crate::feature::{Feature, Table, to_json};
use crate::rows::parse;
use crate::sealing::open_json;
use crate::sql::{Sql, Stmt};
use crate::tx::Tx;

pub(crate) use crate::handover_write::EVENT_SUMMARY;

const EVENT_COLUMNS: &str = "e.id, e.resident_id, e.establishment_id, e.unit_id, e.kind, e.source_type, e.source_id, \
     e.scope, e.summary, e.dek_version, e.occurred_at, e.recorded_by";

/// How many events a feed shows at most (the newest).
pub const FEED_EVENTS: i64 = 200;

/// The events of a feed, as the `events` item of the feed's `WITH` clause (after `who`): those
/// of unit (or establishment) `:place` from id `:lower` on, newest first, that the reader may
/// read about people they may see; none when the page is not the first (`:after` set).
pub(crate) fn feed_events_cte(by_unit: bool) -> String {
    let place = if by_unit { "e.unit_id = :place" } else { "e.establishment_id = :place" };
    format!(
        "events AS MATERIALIZED (SELECT e.* FROM handover_events e, who WHERE :after::uuid IS NULL \
             AND e.tenant_id = who.tenant_id AND {place} AND e.id >= :lower AND {readable} \
             AND (SELECT {visible} FROM residents r WHERE r.tenant_id = e.tenant_id AND r.id = e.resident_id) \
             ORDER BY e.id DESC LIMIT {FEED_EVENTS})",
        readable = note_readable("e", "false"),
        visible = visible("r"),
    )
}

/// The columns of an event of [`feed_events_cte`] as the feed's rows carry them beside a
/// note's, each under a name of its own.
pub(crate) const FEED_EVENT_COLUMNS: &str = "e.id AS event_id, e.resident_id AS event_resident_id, \
     e.kind AS event_kind, e.source_type AS event_source_type, e.source_id AS event_source_id, \
     e.scope AS event_scope, e.summary AS event_summary, e.dek_version AS event_dek_version, \
     e.occurred_at AS event_occurred_at, e.recorded_by AS event_recorded_by";

/// The event of a feed's row, if the row is one (and not a note); `read_up_to` tells whether
/// it is unread.
pub(crate) fn feed_event(
    row: &Row,
    keys: &Keyring,
    resident: ResidentName,
    read_up_to: Option<Uuid>,
) -> StoreResult<Option<HandoverEvent>> {
    let Some(id) = row.try_get::<_, Option<Uuid>>("event_id")? else { return Ok(None) };
    Ok(Some(HandoverEvent {
        id,
        resident,
        kind: parse(row, "event_kind", HandoverEventKind::parse)?,
        source_type: row.try_get("event_source_type")?,
        source_id: row.try_get("event_source_id")?,
        scope: parse(row, "event_scope", NoteScope::parse)?,
        summary: open_json(keys, EVENT_SUMMARY, id, row.try_get("event_summary")?)?,
        occurred_at: row.try_get("event_occurred_at")?,
        recorded_by: row.try_get::<_, Option<Uuid>>("event_recorded_by")?.map(UserId::from_uuid),
        unread: read_up_to.is_none_or(|marker| id > marker),
    }))
}

fn parts(row: &Row, keys: &Keyring) -> StoreResult<(Uuid, String)> {
    let id: Uuid = row.try_get("id")?;
    Ok((id, open_json(keys, EVENT_SUMMARY, id, row.try_get("summary")?)?))
}

/// The most events a timeline shows (the newest of its period).
pub const TIMELINE_EVENTS: i64 = 2_000;

static OF_PERSON: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} \
         SELECT {EVENT_COLUMNS} FROM handover_events e, target t, who \
         WHERE e.tenant_id = t.tenant_id AND e.resident_id = t.id AND e.occurred_at >= :from AND e.occurred_at < :to \
         AND e.kind NOT IN ('admission', 'discharge') AND {readable} \
         ORDER BY e.occurred_at DESC, e.id DESC LIMIT {TIMELINE_EVENTS}",
        target = target(),
        readable = note_readable("e", "NOT t.normal"),
    ))
});

/// The events told about a person that occurred from `from` to `to` (excluded), newest first,
/// that the reader may read; admissions and discharges left out (their stays tell them). Not
/// recorded: the caller records its reading. Empty when the person is out of reach.
pub async fn of_person_within(
    tx: &mut Tx<'_>,
    resident: ResidentId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> StoreResult<Vec<(DateTime<Utc>, RecordEvent)>> {
    let resident = resident.as_uuid();
    let rows = tx.query(&OF_PERSON, &crate::args! { resident: &resident, from: &from, to: &to }).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let keys = tx.keyring(crate::sealing::versions(&rows)?).await?;
    rows.iter()
        .map(|row| {
            let (id, summary) = parts(row, &keys)?;
            let event = RecordEvent {
                id,
                kind: parse(row, "kind", HandoverEventKind::parse)?,
                source_type: row.try_get("source_type")?,
                source_id: row.try_get("source_id")?,
                scope: parse(row, "scope", NoteScope::parse)?,
                summary,
                recorded_by: row.try_get::<_, Option<Uuid>>("recorded_by")?.map(UserId::from_uuid),
            };
            Ok((row.try_get("occurred_at")?, event))
        })
        .collect()
}

/// An event as the person's export shows it.
#[derive(serde::Serialize)]
struct Exported {
    id: Uuid,
    kind: String,
    source_type: String,
    source_id: Uuid,
    scope: String,
    summary: String,
    occurred_at: DateTime<Utc>,
    recorded_by: Option<Uuid>,
}

fn exported(row: &Row, keys: &Keyring) -> StoreResult<Exported> {
    let (id, summary) = parts(row, keys)?;
    Ok(Exported {
        id,
        kind: row.try_get("kind")?,
        source_type: row.try_get("source_type")?,
        source_id: row.try_get("source_id")?,
        scope: row.try_get("scope")?,
        summary,
        occurred_at: row.try_get("occurred_at")?,
        recorded_by: row.try_get("recorded_by")?,
    })
}

/// Hand-over events: summaries sealed; a merge moves them with the rest of the record; the
/// person's export lists them in time order.
pub(crate) const FEATURE: Feature = Feature {
    name: "handover",
    tables: &[Table::of_person(
        "handover_events",
        &[EVENT_SUMMARY],
        "handover_events e",
        EVENT_COLUMNS,
        "e.id",
        |row, keys| to_json(exported(row, keys)),
    )],
};
