//! Transmissions: writing notes, amending them, flagging errors, a resident's notes, and the
//! hand-over feed of a unit or an establishment with per-user read markers. Every read and
//! write is checked against the access rule and recorded in the same statement.

use chrono::{DateTime, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::record::NoteScope;
use dui_domain::resident::Identity;
use dui_domain::transmission::{
    EnteredInError, FeedNote, Incident, IncidentType, NewNote, Note, NoteContent, NoteKind, ResidentName, Severity,
    first_id_at,
};
use dui_domain::{EstablishmentId, NoteId, ResidentId, UnitId, UserId};
use serde::Deserialize;
use tokio_postgres::Row;
use uuid::Uuid;

use std::sync::LazyLock;

use dui_domain::audit::AuditAction;

use crate::access::{WHO_CTE, note_readable, target, urgent, visible};
use crate::args;
use crate::feature::{Feature, Table, to_json};
use crate::idempotency::{Create, create_once};
use crate::listing::{listed, open_listed, query_listed};
use crate::residents::RESIDENT_IDENTITY;
use crate::rows::{parse, parse_opt};
use crate::sealing::{open_json, seal_json, versions};
use crate::sql::{Sql, Stmt};
use crate::trace::{Reading, Trace, Variants, read_trace};
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

/// Where the previous shift started in establishment `:establishment`'s time zone, and the
/// user's marker on the feed (unit `:unit`, or the establishment).
pub(crate) const FEED_START: &str = "SELECT (SELECT x.st AT TIME ZONE e.timezone FROM \
                           (SELECT d::date + s AS st FROM generate_series((now() AT TIME ZONE e.timezone)::date - 2, \
                              (now() AT TIME ZONE e.timezone)::date, interval '1 day') d, unnest(e.shift_starts) s) x \
                         WHERE x.st <= now() AT TIME ZONE e.timezone ORDER BY x.st DESC OFFSET 1 LIMIT 1) AS shift_since, \
                        (SELECT m.read_up_to FROM read_markers m WHERE m.tenant_id = e.tenant_id AND m.user_id = :user \
                           AND m.feed_id = coalesce(:unit, e.id)) AS read_up_to \
                 FROM establishments e WHERE e.tenant_id = :tenant AND e.id = :establishment \
                 AND (:unit::uuid IS NULL OR EXISTS (SELECT 1 FROM units u WHERE u.tenant_id = e.tenant_id AND u.id = :unit \
                                                  AND u.establishment_id = e.id))";

pub(crate) const NOTE_BODY: Column = Column::new("notes", "body");
pub(crate) const NOTE_ERROR_REASON: Column = Column::new("notes", "error_reason");

/// A note's columns, from alias `n` (a table or a CTE of notes), with its latest amendment.
pub(crate) const NOTE_COLUMNS: &str = "n.id, n.resident_id, n.author_id, n.establishment_id, n.unit_id, n.kind, \
     n.scope, n.written_at, n.facts_at, n.body, n.incident_type, n.severity, n.amends, n.error_at, n.error_by, \
     n.error_reason, n.dek_version, n.objective_id, \
     (SELECT a.id FROM notes a WHERE a.tenant_id = n.tenant_id AND a.amends = n.id ORDER BY a.id DESC LIMIT 1) AS amended_by";

/// A note's body as stored: a JSON object, or a plain string for notes written before kinds
/// existed (read as free notes).
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredBody {
    Text(String),
    Content(NoteContent),
}

pub(crate) fn note(row: &Row, keys: &Keyring) -> StoreResult<Note> {
    let id: Uuid = row.try_get("id")?;
    let content = match open_json::<StoredBody>(keys, NOTE_BODY, id, row.try_get("body")?)? {
        StoredBody::Text(text) => NoteContent { text: Some(text), ..NoteContent::default() },
        StoredBody::Content(content) => content,
    };
    let incident =
        match (parse_opt(row, "incident_type", IncidentType::parse)?, parse_opt(row, "severity", Severity::parse)?) {
            (Some(incident_type), Some(severity)) => Some(Incident { incident_type, severity }),
            _ => None,
        };
    let entered_in_error = match row.try_get::<_, Option<DateTime<Utc>>>("error_at")? {
        Some(at) => Some(EnteredInError {
            at,
            by: UserId::from_uuid(row.try_get("error_by")?),
            reason: open_json(keys, NOTE_ERROR_REASON, id, row.try_get("error_reason")?)?,
        }),
        None => None,
    };
    Ok(Note {
        id: NoteId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        author_id: UserId::from_uuid(row.try_get("author_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        unit_id: row.try_get::<_, Option<Uuid>>("unit_id")?.map(UnitId::from_uuid),
        kind: parse(row, "kind", NoteKind::parse)?,
        scope: parse(row, "scope", NoteScope::parse)?,
        written_at: row.try_get("written_at")?,
        facts_at: row.try_get("facts_at")?,
        content,
        incident,
        objective_id: row.try_get("objective_id")?,
        amends: row.try_get::<_, Option<Uuid>>("amends")?.map(NoteId::from_uuid),
        amended_by: row.try_get::<_, Option<Uuid>>("amended_by")?.map(NoteId::from_uuid),
        entered_in_error,
    })
}

/// What the API needs to decide on a change to a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteMeta {
    pub author_id: UserId,
    pub kind: NoteKind,
    pub scope: NoteScope,
    pub establishment_id: EstablishmentId,
    pub in_error: bool,
    /// Through an emergency opening.
    pub emergency: bool,
}

/// The feed to read: an establishment's, or one of its units'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feed {
    pub establishment: EstablishmentId,
    pub unit: Option<UnitId>,
}

/// A page of the hand-over feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverPage {
    /// Notes written from this time on.
    pub since: DateTime<Utc>,
    /// The reader's marker on this feed, if any.
    pub read_up_to: Option<NoteId>,
    pub page: Page<FeedNote>,
    /// The other events of the period (tasks refused or not done, abnormal measurements,
    /// admissions, discharges...), newest first, at most [`crate::handover::FEED_EVENTS`]; given
    /// with the first page only.
    pub events: Vec<dui_domain::handover::HandoverEvent>,
}

/// Which notes of a feed: from a time, or those not read yet, or (default) since the start of
/// the previous shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedStart {
    PreviousShift,
    Since(DateTime<Utc>),
    Unread,
}

static INSERT: Stmt = LazyLock::new(|| Sql::new(&note_insert_sql(false)));
static INSERT_AMENDMENT: Stmt = LazyLock::new(|| Sql::new(&note_insert_sql(true)));

static BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {NOTE_COLUMNS} FROM notes n WHERE n.tenant_id = :tenant AND n.id = :id"))
});

/// A note of a visible resident that the caller may read, without its content.
static META: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} \
         SELECT n.author_id, n.kind, n.scope, n.establishment_id, n.error_at IS NOT NULL AS in_error, \
                NOT t.normal AS emergency \
         FROM notes n, target t, who WHERE n.tenant_id = t.tenant_id AND n.resident_id = t.id AND n.id = :id AND {readable}",
        target = target(),
        readable = note_readable("n", "NOT t.normal")
    ))
});

static SEALED_BODY: Stmt = LazyLock::new(|| {
    Sql::new("SELECT body, dek_version FROM notes WHERE tenant_id = :tenant AND id = :id AND resident_id = :resident")
});

static FLAG_ERROR: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         n AS (UPDATE notes n SET error_at = now(), error_by = who.user_id, error_reason = :reason, body = :body, \
                 dek_version = :dek_version \
               FROM target t, who WHERE n.tenant_id = t.tenant_id AND n.resident_id = t.id AND n.id = :id \
               AND n.error_at IS NULL AND n.dek_version = :sealed_under RETURNING n.*), \
         trace AS ({trace}) \
         SELECT {NOTE_COLUMNS} FROM n",
        target = target(),
        trace = Trace::written("n"),
    ))
});

/// A resident's notes that the reader may read, newest first, a page at a time.
fn list_sql(recorded: bool) -> String {
    format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT n.* FROM notes n, target t, who WHERE n.tenant_id = t.tenant_id AND n.resident_id = t.id \
                  AND n.resident_id = :resident AND {readable} AND (:after::uuid IS NULL OR n.id < :after) \
                  ORDER BY n.id DESC LIMIT :limit){trace} \
         {listed}",
        target = target(),
        readable = note_readable("n", "NOT t.normal"),
        trace = read_trace(recorded),
        listed = listed(&format!("SELECT {NOTE_COLUMNS} FROM data n"), "x.id DESC"),
    )
}

pub(crate) static LIST: Variants = Variants {
    recorded: LazyLock::new(|| Sql::new(&list_sql(true))),
    unrecorded: LazyLock::new(|| Sql::new(&list_sql(false))),
};

static FEED_START_SQL: Stmt = LazyLock::new(|| Sql::new(FEED_START));
static HANDOVER_BY_UNIT: Stmt = LazyLock::new(|| Sql::new(&handover_sql(true)));
static HANDOVER_BY_ESTABLISHMENT: Stmt = LazyLock::new(|| Sql::new(&handover_sql(false)));
static EXPLAIN_BY_UNIT: Stmt = LazyLock::new(|| Sql::new(&format!("EXPLAIN {}", handover_sql(true))));
static EXPLAIN_BY_ESTABLISHMENT: Stmt = LazyLock::new(|| Sql::new(&format!("EXPLAIN {}", handover_sql(false))));
static ANALYZE_BY_UNIT: Stmt =
    LazyLock::new(|| Sql::new(&format!("EXPLAIN (ANALYZE, BUFFERS) {}", handover_sql(true))));
static ANALYZE_BY_ESTABLISHMENT: Stmt =
    LazyLock::new(|| Sql::new(&format!("EXPLAIN (ANALYZE, BUFFERS) {}", handover_sql(false))));

/// A marker only moves to a note of its own feed (its establishment, and its unit when it has
/// one): another feed's note is not found, as an unknown one.
static SET_READ_MARKER: Stmt = LazyLock::new(|| {
    Sql::new(
        "INSERT INTO read_markers (tenant_id, user_id, feed_id, establishment_id, unit_id, read_up_to) \
         SELECT e.tenant_id, :user, coalesce(:unit, e.id), e.id, :unit, n.id FROM establishments e, notes n \
         WHERE e.tenant_id = :tenant AND e.id = :establishment AND n.tenant_id = e.tenant_id AND n.id = :up_to \
         AND n.establishment_id = e.id AND (:unit::uuid IS NULL OR n.unit_id = :unit) \
         AND (:unit::uuid IS NULL OR EXISTS (SELECT 1 FROM units u WHERE u.tenant_id = e.tenant_id AND u.id = :unit \
                                             AND u.establishment_id = e.id)) \
         ON CONFLICT (tenant_id, user_id, feed_id) DO UPDATE \
           SET read_up_to = greatest(read_markers.read_up_to, EXCLUDED.read_up_to), updated_at = now() \
         RETURNING read_up_to",
    )
});

/// Writes a note about a visible resident — filed in the establishment and unit of their
/// current stay (the latest one, if none is current), or, for an amendment of `amends` (by its
/// author), where the original is — records it as `action`, and commits.
pub async fn write(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewNote,
    amends: Option<NoteId>,
    action: AuditAction,
) -> StoreResult<Created<Note>> {
    let keys = tx.sealing_keys(1).await?;
    let id = Uuid::now_v7();
    let body = seal_json(&keys, NOTE_BODY, id, &new.content)?;
    let resident = resident.as_uuid();
    let dek = keys.active_version() as i32;
    let (kind, note_scope) = (new.kind.as_str(), new.scope.as_str());
    let incident_type = new.incident.map(|i| i.incident_type.as_str());
    let severity = new.incident.map(|i| i.severity.as_str());
    let original = amends.map(|a| a.as_uuid());
    let args = args! { id: &id, resident: &resident, kind: &kind, note_scope: &note_scope, facts_at: &new.facts_at,
    body: &body, dek_version: &dek, incident_type: &incident_type, amends: &original,
    severity: &severity, objective: &new.objective_id }
    .action(action);
    let map = |row: &Row| note(row, &keys);
    let insert: &Sql = if amends.is_some() { &INSERT_AMENDMENT } else { &INSERT };
    create_once(tx, key, Create { id, insert, args, reload: &BY_ID, map: &map }).await
}

/// A note of a visible resident that the caller may read, for deciding on a change to it.
/// Nothing of its content is read, and nothing is recorded: it is a check, not a reading.
pub async fn meta(tx: &mut Tx<'_>, resident: ResidentId, id: NoteId) -> StoreResult<NoteMeta> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let row = tx.query_one(&META, &args! { resident: &resident, id: &id }).await?;
    Ok(NoteMeta {
        author_id: UserId::from_uuid(row.try_get("author_id")?),
        kind: parse(&row, "kind", NoteKind::parse)?,
        scope: parse(&row, "scope", NoteScope::parse)?,
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        in_error: row.try_get("in_error")?,
        emergency: row.try_get("emergency")?,
    })
}

/// Flags a note as entered in error, with a reason; the note stays, flagged; commits. `NotFound`
/// when it is flagged already or out of reach.
pub async fn flag_error(mut tx: Tx<'_>, resident: ResidentId, id: NoteId, reason: &str) -> StoreResult<Note> {
    // A row's sealed columns share one key version: the body is resealed with the reason under
    // the active key (the update applies only if nobody resealed it meanwhile).
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let row = tx.query_one(&SEALED_BODY, &args! { id: &id, resident: &resident }).await?;
    let sealed_under: i32 = row.try_get("dek_version")?;
    let old = tx.keyring([sealed_under as u32]).await?;
    let body: serde_json::Value = open_json(&old, NOTE_BODY, id, row.try_get("body")?)?;
    let keys = tx.sealing_keys(2).await?;
    let body = seal_json(&keys, NOTE_BODY, id, &body)?;
    let reason = seal_json(&keys, NOTE_ERROR_REASON, id, reason)?;
    let dek = keys.active_version() as i32;
    let args = args! { resident: &resident, id: &id, reason: &reason, body: &body, dek_version: &dek,
    sealed_under: &sealed_under }
    .action(AuditAction::NoteFlagError);
    let rows = tx.finish(&FLAG_ERROR, &args).await?;
    note(rows.first().ok_or(StoreError::NotFound)?, &keys)
}

/// A resident's notes that the caller may read, newest first, as the transaction's last
/// statement. `NotFound` when the resident is out of reach.
pub async fn list(tx: Tx<'_>, resident: ResidentId, page: PageRequest, reading: Reading) -> StoreResult<Page<Note>> {
    let resident = resident.as_uuid();
    let limit = page.fetch_limit();
    let (sql, args, trace) =
        LIST.pick_final(reading, args! { resident: &resident, after: &page.after, limit: &limit }, |action| {
            crate::trail::ReadTrace::Record { action, resident }
        });
    let items = open_listed(tx, sql, &args, trace, note).await?;
    Ok(Page::from_rows(items, page, |n| n.id.as_uuid()))
}

/// [`list`] within an operation that goes on.
pub async fn list_within(
    tx: &mut Tx<'_>,
    resident: ResidentId,
    page: PageRequest,
    reading: Reading,
) -> StoreResult<Page<Note>> {
    let resident = resident.as_uuid();
    let limit = page.fetch_limit();
    let (sql, args) = LIST.pick(reading, args! { resident: &resident, after: &page.after, limit: &limit });
    let rows = query_listed(tx, sql, &args).await?;
    let keys = tx.keyring(versions(&rows)?).await?;
    let items = rows.iter().map(|row| note(row, &keys)).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, page, |n| n.id.as_uuid()))
}

/// The hand-over feed: the notes of a unit or an establishment written since `start`, newest
/// first, that the reader may read about people they may see, with the people's names. Each
/// person whose notes are shown is recorded as read. `NotFound` when the establishment (or the
/// unit in it) does not exist for the tenant.
pub async fn handover(mut tx: Tx<'_>, feed: Feed, start: FeedStart, page: PageRequest) -> StoreResult<HandoverPage> {
    let (establishment, unit) = (feed.establishment.as_uuid(), feed.unit.map(|u| u.as_uuid()));
    // Where the previous shift started, in the establishment's time zone, and the marker.
    let row = tx.query_one(&FEED_START_SQL, &args! { establishment: &establishment, unit: &unit }).await?;
    let shift_since: Option<DateTime<Utc>> = row.try_get("shift_since")?;
    let read_up_to: Option<Uuid> = row.try_get("read_up_to")?;
    let since = match start {
        FeedStart::Since(at) => at,
        FeedStart::Unread => match read_up_to {
            Some(marker) => marker_time(marker),
            None => shift_since.unwrap_or_else(Utc::now),
        },
        FeedStart::PreviousShift => shift_since.unwrap_or_else(Utc::now),
    };
    // The bound is an id: ids are UUIDv7, so the index on (tenant, unit or establishment, id)
    // serves both the start and the pagination. `Unread` starts just after the marker.
    let lower = match (start, read_up_to) {
        (FeedStart::Unread, Some(marker)) => Uuid::from_u128(marker.as_u128().saturating_add(1)),
        _ => first_id_at(since),
    };
    let sql: &Sql = if unit.is_some() { &HANDOVER_BY_UNIT } else { &HANDOVER_BY_ESTABLISHMENT };
    let place = unit.unwrap_or(establishment);
    let limit = page.fetch_limit();
    let args = args! { place: &place, lower: &lower, after: &page.after, limit: &limit, read_up_to: &read_up_to }
        .action(AuditAction::HandoverRead);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = tx.finish(sql, &args).await?;
    let mut versions = versions(&rows)?;
    for row in &rows {
        versions.push(row.try_get::<_, i32>("resident_dek_version")? as u32);
        if let Some(version) = row.try_get::<_, Option<i32>>("event_dek_version")? {
            versions.push(version as u32);
        }
    }
    let keys = if rows.is_empty() { None } else { Some(db.keyring(tenant, versions).await?) };
    let mut items = Vec::with_capacity(rows.len());
    let mut events = Vec::new();
    let mut names: std::collections::HashMap<Uuid, ResidentName> = std::collections::HashMap::new();
    for row in &rows {
        let keys = keys.as_ref().ok_or(StoreError::NotFound)?;
        let resident: Uuid = row.try_get("feed_resident_id")?;
        let name = match names.get(&resident) {
            Some(name) => name.clone(),
            None => {
                let identity: Identity =
                    open_json(keys, RESIDENT_IDENTITY, resident, row.try_get("resident_identity")?)?;
                let name = ResidentName::of(identity, ResidentId::from_uuid(resident));
                names.insert(resident, name.clone());
                name
            }
        };
        match crate::handover::feed_event(row, keys, name.clone(), read_up_to)? {
            Some(event) => events.push(event),
            None => {
                let note = note(row, keys)?;
                let unread = read_up_to.is_none_or(|marker| note.id.as_uuid() > marker);
                items.push(FeedNote { note, resident: name, unread });
            }
        }
    }
    Ok(HandoverPage {
        since,
        read_up_to: read_up_to.map(NoteId::from_uuid),
        page: Page::from_rows(items, page, |n| n.note.id.as_uuid()),
        events,
    })
}

/// The query plan of the hand-over feed's statement for `feed`, from its start: for the test
/// that keeps the feed on its indexes, and for diagnosing. With `analyze`, the statement runs
/// (and records its reads, as a real read would) and the plan shows where the time went.
pub async fn explain_handover(tx: Tx<'_>, feed: Feed, since: DateTime<Utc>, analyze: bool) -> StoreResult<String> {
    let sql: &Sql = match (analyze, feed.unit.is_some()) {
        (false, true) => &EXPLAIN_BY_UNIT,
        (false, false) => &EXPLAIN_BY_ESTABLISHMENT,
        (true, true) => &ANALYZE_BY_UNIT,
        (true, false) => &ANALYZE_BY_ESTABLISHMENT,
    };
    let place = feed.unit.map_or(feed.establishment.as_uuid(), |u| u.as_uuid());
    let (lower, limit) = (first_id_at(since), PageRequest::first(50).fetch_limit());
    let args = args! { place: &place, lower: &lower, after: &None::<Uuid>, limit: &limit, read_up_to: &None::<Uuid> }
        .action(AuditAction::HandoverRead);
    let rows = tx.finish(sql, &args).await?;
    rows.iter()
        .map(|row| Ok(row.try_get::<_, String>(0)?))
        .collect::<StoreResult<Vec<_>>>()
        .map(|lines| lines.join("\n"))
}

/// Moves the reader's marker on a feed to `up_to` (never backwards), and commits. `NotFound`
/// when the feed or the note does not exist for the tenant.
pub async fn set_read_marker(tx: Tx<'_>, feed: Feed, up_to: NoteId) -> StoreResult<NoteId> {
    let (establishment, unit, up_to) = (feed.establishment.as_uuid(), feed.unit.map(|u| u.as_uuid()), up_to.as_uuid());
    let args = args! { establishment: &establishment, unit: &unit, up_to: &up_to };
    let rows = tx.finish(&SET_READ_MARKER, &args).await?;
    let row = rows.first().ok_or(StoreError::NotFound)?;
    Ok(NoteId::from_uuid(row.try_get("read_up_to")?))
}

/// The hand-over feed's statement: `:place` the unit (or establishment), `:lower` the lowest
/// id, `:after` the cursor, `:limit` the fetch limit. One row per note, newest first, then one
/// per event of the period ([`crate::handover::feed_events_cte`], on the first page only), each
/// with its person's identity (`feed_resident_id`); each person shown is recorded as read once.
/// Who the reader is is worked out once for both. The notes are walked newest first on the
/// (tenant, unit or establishment, id) index and the walk stops at the page: whether the person
/// is visible is a scalar subquery per note, which PostgreSQL cannot turn into a join of the
/// whole period (a hash join over every note since the start, sorted afterwards, is what it
/// picked when its estimate of the period's notes was stale: 66 ms instead of 3 for a busy unit).
pub(crate) fn handover_sql(by_unit: bool) -> String {
    let place = if by_unit { "n.unit_id = :place" } else { "n.establishment_id = :place" };
    let each_resident = Trace {
        from: "who, (SELECT resident_id FROM feed UNION SELECT resident_id FROM events) d",
        resident: "d.resident_id",
        resource: "d.resident_id",
        outcome: "'success'",
        emergency: "false",
    };
    // A full join on nothing: each row holds a note or an event, never both.
    format!(
        "WITH {WHO_CTE}, \
         feed AS MATERIALIZED (SELECT n.* FROM notes n, who WHERE n.tenant_id = who.tenant_id AND {place} \
             AND n.id >= :lower AND (:after::uuid IS NULL OR n.id < :after) AND {} \
             AND NOT EXISTS (SELECT 1 FROM notes a WHERE a.tenant_id = n.tenant_id AND a.amends = n.id) \
             AND (n.error_at IS NULL OR n.id <= :read_up_to::uuid) \
             AND (SELECT {} FROM residents r WHERE r.tenant_id = n.tenant_id AND r.id = n.resident_id) \
             ORDER BY n.id DESC LIMIT :limit), \
         {}, \
         trace AS ({}) \
         SELECT {NOTE_COLUMNS}, {}, coalesce(n.resident_id, e.resident_id) AS feed_resident_id, \
                r.identity AS resident_identity, r.dek_version AS resident_dek_version \
         FROM feed n FULL JOIN events e ON false \
         JOIN residents r ON r.tenant_id = coalesce(n.tenant_id, e.tenant_id) AND r.id = coalesce(n.resident_id, e.resident_id) \
         ORDER BY n.id DESC NULLS LAST, e.id DESC",
        note_readable("n", "false"),
        visible("r"),
        crate::handover::feed_events_cte(by_unit),
        each_resident.sql(),
        crate::handover::FEED_EVENT_COLUMNS,
    )
}

/// When a UUIDv7 was made.
fn marker_time(id: Uuid) -> DateTime<Utc> {
    let bytes = id.as_bytes();
    let mut millis = [0u8; 8];
    millis[2..].copy_from_slice(&bytes[..6]);
    DateTime::from_timestamp_millis(i64::from_be_bytes(millis)).unwrap_or_default()
}

/// Writes a note about resident `:resident` filed from their stay (or, for an amendment, from
/// the original `:amends`), and records it; returns the note.
pub(crate) fn note_insert_sql(amendment: bool) -> String {
    // An amendment takes its place from the original (establishment, unit, kind, scope),
    // and only the original's author writes one.
    let place = if amendment {
        "(SELECT o.establishment_id FROM notes o WHERE o.tenant_id = r.tenant_id AND o.id = :amends AND o.resident_id = r.id \
           AND o.author_id = who.user_id AND o.error_at IS NULL AND o.kind = :kind AND o.scope = :note_scope) AS establishment_id, \
         (SELECT o.unit_id FROM notes o WHERE o.tenant_id = r.tenant_id AND o.id = :amends) AS unit_id"
    } else {
        "(SELECT s.establishment_id FROM stays s WHERE s.tenant_id = r.tenant_id AND s.resident_id = r.id \
           ORDER BY (s.discharged_on IS NULL) DESC, s.admitted_on DESC LIMIT 1) AS establishment_id, \
         (SELECT s.unit_id FROM stays s WHERE s.tenant_id = r.tenant_id AND s.resident_id = r.id \
           ORDER BY (s.discharged_on IS NULL) DESC, s.admitted_on DESC LIMIT 1) AS unit_id"
    };
    format!(
        "WITH {WHO_CTE}, \
         candidate AS MATERIALIZED (SELECT r.tenant_id, r.id, {visible} AS normal, {urgent} AS urgent, {place} \
                    FROM residents r, who WHERE r.tenant_id = who.tenant_id AND r.id = :resident \
                    AND r.record_status = 'active'), \
         target AS (SELECT * FROM candidate WHERE normal OR urgent), \
         n AS (INSERT INTO notes (tenant_id, id, resident_id, author_id, establishment_id, unit_id, kind, scope, \
                                  facts_at, body, dek_version, incident_type, severity, amends, objective_id) \
               SELECT t.tenant_id, :id, t.id, who.user_id, t.establishment_id, t.unit_id, :kind, :note_scope, \
                      coalesce(:facts_at, now()), :body, :dek_version, :incident_type, :severity, :amends, :objective \
               FROM target t, who WHERE t.establishment_id IS NOT NULL RETURNING *), \
         trace AS ({trace}) \
         SELECT {NOTE_COLUMNS} FROM n",
        trace = Trace::written("n"),
        visible = visible("r"),
        urgent = urgent("r"),
    )
}

/// Notes: bodies and error reasons sealed; a merge moves them; the resident's export lists
/// every note, whatever its confidentiality scope (it is the person's record), in the order they
/// were written. Read markers are each user's working state.
pub(crate) const FEATURE: Feature = Feature {
    name: "notes",
    tables: &[
        Table::of_person("notes", &[NOTE_BODY, NOTE_ERROR_REASON], "notes n", NOTE_COLUMNS, "n.id", |row, keys| {
            to_json(note(row, keys))
        }),
        // Carried: after a move, each professional's feeds are unread from where they were.
        Table::of_tenant("read_markers", "user_id, feed_id"),
    ],
};
