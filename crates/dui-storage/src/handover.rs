//! The events of the hand-over besides the notes: written by the statement of the change they
//! report (the `ev` item of its `WITH` clause, [`emit`]), read with the feed's notes.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::handover::{HandoverEvent, HandoverEventKind, NewHandoverEvent};
use dui_domain::record::NoteScope;
use dui_domain::resident::Identity;
use dui_domain::transmission::ResidentName;
use dui_domain::{ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::StoreResult;
use crate::access::{WHO_CTE, note_readable, visible};
use crate::feature::{Feature, Table, to_json};
use crate::residents::RESIDENT_IDENTITY;
use crate::rows::parse;
use crate::sealing::{open_json, seal_json};
use crate::sql::{Args, Sql, Stmt};
use crate::trace::Trace;
use crate::tx::Tx;

pub(crate) const EVENT_SUMMARY: Column = Column::new("handover_events", "summary");

const EVENT_COLUMNS: &str = "e.id, e.resident_id, e.establishment_id, e.unit_id, e.kind, e.source_type, e.source_id, \
     e.scope, e.summary, e.dek_version, e.occurred_at, e.recorded_by";

/// The values of the event a write reports, sealed: all NULL when it reports none.
#[derive(Default)]
pub(crate) struct EventRow {
    id: Option<Uuid>,
    kind: Option<&'static str>,
    source_type: Option<&'static str>,
    scope: Option<&'static str>,
    summary: Option<Vec<u8>>,
    dek: Option<i32>,
    at: Option<DateTime<Utc>>,
}

impl EventRow {
    /// Seals `event` under the active key of `keys`.
    pub(crate) fn seal(keys: &Keyring, event: Option<&NewHandoverEvent>) -> StoreResult<Self> {
        let Some(event) = event else { return Ok(Self::default()) };
        let id = Uuid::now_v7();
        Ok(Self {
            id: Some(id),
            kind: Some(event.kind.as_str()),
            source_type: Some(event.source_type),
            scope: Some(event.scope.as_str()),
            summary: Some(seal_json(keys, EVENT_SUMMARY, id, &event.summary)?),
            dek: Some(keys.active_version() as i32),
            at: Some(event.occurred_at),
        })
    }

    /// Binds the event's values (`:ev_*`) to a statement that has [`emit`] in its `WITH` clause.
    pub(crate) fn bind<'a>(&'a self, args: Args<'a>) -> Args<'a> {
        args.set("ev_id", &self.id)
            .set("ev_kind", &self.kind)
            .set("ev_source_type", &self.source_type)
            .set("ev_scope", &self.scope)
            .set("ev_summary", &self.summary)
            .set("ev_dek", &self.dek)
            .set("ev_at", &self.at)
    }
}

/// The `WITH` item writing the event (`:ev_*`, nothing when `:ev_id` is NULL) of the row the
/// statement wrote, `rows` (with `id` and `resident_id`): filed in the establishment and unit of
/// the person's stay in progress (else the latest), as notes are.
pub(crate) fn emit(rows: &str) -> String {
    format!(
        "ev AS (INSERT INTO handover_events (tenant_id, id, resident_id, establishment_id, unit_id, kind, source_type, \
           source_id, scope, summary, dek_version, occurred_at, recorded_by) \
         SELECT who.tenant_id, :ev_id, {rows}.resident_id, st.establishment_id, st.unit_id, :ev_kind, :ev_source_type, \
           {rows}.id, :ev_scope, :ev_summary, :ev_dek, :ev_at, CASE WHEN who.console THEN NULL ELSE who.user_id END \
         FROM who, {rows}, LATERAL (SELECT s.establishment_id, s.unit_id FROM stays s WHERE s.tenant_id = who.tenant_id \
           AND s.resident_id = {rows}.resident_id ORDER BY (s.discharged_on IS NULL) DESC, s.admitted_on DESC LIMIT 1) st \
         WHERE :ev_id::uuid IS NOT NULL)"
    )
}

/// How many events a feed shows at most (the newest).
pub const FEED_EVENTS: i64 = 200;

fn feed_sql(by_unit: bool) -> String {
    let place = if by_unit { "e.unit_id = :place" } else { "e.establishment_id = :place" };
    let each_resident = Trace {
        from: "who, (SELECT DISTINCT resident_id FROM feed) d",
        resident: "d.resident_id",
        resource: "d.resident_id",
        outcome: "'success'",
        emergency: "false",
    };
    format!(
        "WITH {WHO_CTE}, \
         feed AS MATERIALIZED (SELECT e.* FROM handover_events e, who WHERE e.tenant_id = who.tenant_id AND {place} \
             AND e.id >= :lower AND {readable} \
             AND (SELECT {visible} FROM residents r WHERE r.tenant_id = e.tenant_id AND r.id = e.resident_id) \
             ORDER BY e.id DESC LIMIT {FEED_EVENTS}), \
         trace AS ({trace}) \
         SELECT {EVENT_COLUMNS}, r.identity AS resident_identity, r.dek_version AS resident_dek_version \
         FROM feed e JOIN residents r ON r.tenant_id = e.tenant_id AND r.id = e.resident_id ORDER BY e.id DESC",
        readable = note_readable("e", "false"),
        visible = visible("r"),
        trace = each_resident.sql()
    )
}

static FEED_BY_UNIT: Stmt = LazyLock::new(|| Sql::new(&feed_sql(true)));
static FEED_BY_ESTABLISHMENT: Stmt = LazyLock::new(|| Sql::new(&feed_sql(false)));

fn parts(row: &Row, keys: &Keyring) -> StoreResult<(Uuid, String)> {
    let id: Uuid = row.try_get("id")?;
    Ok((id, open_json(keys, EVENT_SUMMARY, id, row.try_get("summary")?)?))
}

/// The events of a feed (unit or establishment `place`) from id `lower` on, newest first, that
/// the reader may read about people they may see; `read_up_to` tells which are unread. Each
/// person shown is recorded as read (`:action`).
pub(crate) async fn feed(
    tx: &mut Tx<'_>,
    by_unit: bool,
    place: Uuid,
    lower: Uuid,
    read_up_to: Option<Uuid>,
    action: dui_domain::audit::AuditAction,
) -> StoreResult<Vec<HandoverEvent>> {
    let sql: &Sql = if by_unit { &FEED_BY_UNIT } else { &FEED_BY_ESTABLISHMENT };
    let rows = tx.query(sql, &crate::args! { place: &place, lower: &lower }.action(action)).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut needed = crate::sealing::versions(&rows)?;
    for row in &rows {
        needed.push(row.try_get::<_, i32>("resident_dek_version")? as u32);
    }
    let keys = tx.keyring(needed).await?;
    let mut names: std::collections::HashMap<Uuid, ResidentName> = std::collections::HashMap::new();
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        let (id, summary) = parts(row, &keys)?;
        let resident: Uuid = row.try_get("resident_id")?;
        let name = match names.get(&resident) {
            Some(name) => name.clone(),
            None => {
                let identity: Identity =
                    open_json(&keys, RESIDENT_IDENTITY, resident, row.try_get("resident_identity")?)?;
                let name = ResidentName::of(identity, ResidentId::from_uuid(resident));
                names.insert(resident, name.clone());
                name
            }
        };
        events.push(HandoverEvent {
            id,
            resident: name,
            kind: parse(row, "kind", HandoverEventKind::parse)?,
            source_type: row.try_get("source_type")?,
            source_id: row.try_get("source_id")?,
            scope: parse(row, "scope", NoteScope::parse)?,
            summary,
            occurred_at: row.try_get("occurred_at")?,
            recorded_by: row.try_get::<_, Option<Uuid>>("recorded_by")?.map(UserId::from_uuid),
            unread: read_up_to.is_none_or(|marker| id > marker),
        });
    }
    Ok(events)
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
