//! Transmissions: writing notes, amending them, flagging errors, a resident's notes, and the
//! hand-over feed of a unit or an establishment with per-user read markers. Every read and
//! write is checked against the access rule and recorded in the same statement.

use chrono::{DateTime, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::record::NoteScope;
use dui_domain::resident::Identity;
use dui_domain::scope::TenantScope;
use dui_domain::transmission::{
    EnteredInError, FeedNote, Incident, IncidentType, NewNote, Note, NoteContent, NoteKind, ResidentName, Severity,
    first_id_at,
};
use dui_domain::{EstablishmentId, NoteId, ResidentId, UnitId, UserId};
use serde::Deserialize;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO, audit_insert, note_readable, urgent, visible};
use crate::idempotency::CreateStatement;
use crate::residents::{RESIDENT_IDENTITY, open_json, seal_json, versions};
use crate::rows::{parse, parse_opt};
use crate::tx::Params;

type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);
use crate::{Db, StoreError, StoreResult};

/// Where the previous shift started in establishment `$3`'s time zone, and user `$2`'s marker
/// on the feed (unit `$4`, or the establishment).
pub(crate) const FEED_START: &str = "SELECT (SELECT x.st AT TIME ZONE e.timezone FROM \
                           (SELECT d::date + s AS st FROM generate_series((now() AT TIME ZONE e.timezone)::date - 2, \
                              (now() AT TIME ZONE e.timezone)::date, interval '1 day') d, unnest(e.shift_starts) s) x \
                         WHERE x.st <= now() AT TIME ZONE e.timezone ORDER BY x.st DESC OFFSET 1 LIMIT 1) AS shift_since, \
                        (SELECT m.read_up_to FROM read_markers m WHERE m.tenant_id = e.tenant_id AND m.user_id = $2 \
                           AND m.feed_id = coalesce($4, e.id)) AS read_up_to \
                 FROM establishments e WHERE e.tenant_id = $1 AND e.id = $3 \
                 AND ($4::uuid IS NULL OR EXISTS (SELECT 1 FROM units u WHERE u.tenant_id = e.tenant_id AND u.id = $4 \
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
}

/// Which notes of a feed: from a time, or those not read yet, or (default) since the start of
/// the previous shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedStart {
    PreviousShift,
    Since(DateTime<Utc>),
    Unread,
}

impl Db {
    /// Adds a note about a visible resident, in the establishment and unit of their current
    /// stay (the latest one, if none is current); the write is recorded.
    pub async fn add_note(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        resident_id: ResidentId,
        new: &NewNote,
    ) -> StoreResult<Created<Note>> {
        self.insert_note(scope, key, resident_id, new, None).await
    }

    /// Writes an amendment of `original` (by its author): a new note of the same kind and scope
    /// that points to it; the original is left as it was.
    pub async fn amend_note(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        resident_id: ResidentId,
        original: NoteId,
        new: &NewNote,
    ) -> StoreResult<Created<Note>> {
        self.insert_note(scope, key, resident_id, new, Some(original)).await
    }

    async fn insert_note(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        resident_id: ResidentId,
        new: &NewNote,
        amends: Option<NoteId>,
    ) -> StoreResult<Created<Note>> {
        let tenant = scope.tenant_id();
        let keys = self.keyring_for_sealing(tenant, 1).await?;
        let id = Uuid::now_v7();
        let body = seal_json(&keys, NOTE_BODY, id, &new.content)?;
        let who = self.who(scope);
        let insert = note_insert_sql(amends.is_some());
        let reload = format!("SELECT {NOTE_COLUMNS} FROM notes n WHERE n.tenant_id = $1 AND n.id = $2");
        let resident_param = resident_id.as_uuid();
        let dek = keys.active_version() as i32;
        let (kind, note_scope) = (new.kind.as_str(), new.scope.as_str());
        let incident_type = new.incident.map(|i| i.incident_type.as_str());
        let severity = new.incident.map(|i| i.severity.as_str());
        let amends = amends.map(|a| a.as_uuid());
        let mut params = who.params();
        params.extend::<[Param<'_>; 11]>([
            &id,
            &resident_param,
            &kind,
            &note_scope,
            &new.facts_at,
            &body,
            &dek,
            &incident_type,
            &amends,
            &severity,
            &new.objective_id,
        ]);
        let map = |row: &Row| note(row, &keys);
        let params: Params<'_> = &params;
        self.create_once(
            scope,
            key,
            CreateStatement { id, insert: &insert, params, reload: &reload, map: &map, audit: None },
        )
        .await
    }

    /// A note of a visible resident that the scope may read, for deciding on a change to it.
    /// Nothing of its content is read.
    pub async fn note_meta(&self, scope: &TenantScope, resident_id: ResidentId, id: NoteId) -> StoreResult<NoteMeta> {
        let who = self.who(scope);
        let sql = format!(
            "WITH {WHO}, \
             t AS (SELECT r.tenant_id, r.id, {} AS normal FROM residents r, who \
                   WHERE r.tenant_id = who.tenant_id AND r.id = $19 AND ({} OR {})) \
             SELECT n.author_id, n.kind, n.scope, n.establishment_id, n.error_at IS NOT NULL AS in_error, NOT t.normal AS emergency \
             FROM notes n, t, who WHERE n.tenant_id = t.tenant_id AND n.resident_id = t.id AND n.id = $20 AND {}",
            visible("r"),
            visible("r"),
            urgent("r"),
            note_readable("n", "NOT t.normal")
        );
        let (resident_param, id_param) = (resident_id.as_uuid(), id.as_uuid());
        let mut params = who.params();
        params.extend::<[Param<'_>; 2]>([&resident_param, &id_param]);
        let rows = self.read(scope.tenant_id(), &sql, &params).await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        Ok(NoteMeta {
            author_id: UserId::from_uuid(row.try_get("author_id")?),
            kind: parse(row, "kind", NoteKind::parse)?,
            scope: parse(row, "scope", NoteScope::parse)?,
            establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
            in_error: row.try_get("in_error")?,
            emergency: row.try_get("emergency")?,
        })
    }

    /// Flags a note as entered in error, with a reason; the note stays, flagged. Refused (not
    /// found) when it is flagged already.
    pub async fn flag_note_error(
        &self,
        scope: &TenantScope,
        resident_id: ResidentId,
        id: NoteId,
        reason: &str,
    ) -> StoreResult<Note> {
        let tenant = scope.tenant_id();
        // A row's sealed columns share one key version: the body is resealed with the reason
        // under the active key (the update applies only if nobody resealed it meanwhile).
        let rows = self
            .read(
                tenant,
                "SELECT body, dek_version FROM notes WHERE tenant_id = $1 AND id = $2 AND resident_id = $3",
                &[&tenant.as_uuid(), &id.as_uuid(), &resident_id.as_uuid()],
            )
            .await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        let old_version: i32 = row.try_get("dek_version")?;
        let old = self.keyring(tenant, [old_version as u32]).await?;
        let body: serde_json::Value = open_json(&old, NOTE_BODY, id.as_uuid(), row.try_get("body")?)?;
        let keys = self.keyring_for_sealing(tenant, 2).await?;
        let body = seal_json(&keys, NOTE_BODY, id.as_uuid(), &body)?;
        let sealed = seal_json(&keys, NOTE_ERROR_REASON, id.as_uuid(), reason)?;
        let who = self.who(scope);
        let sql = format!(
            "WITH {WHO}, \
             t AS (SELECT r.tenant_id, r.id, {} AS normal FROM residents r, who \
                   WHERE r.tenant_id = who.tenant_id AND r.id = $19 AND ({} OR {})), \
             n AS (UPDATE notes n SET error_at = now(), error_by = who.user_id, error_reason = $21, body = $22, dek_version = $23 \
                   FROM t, who WHERE n.tenant_id = t.tenant_id AND n.resident_id = t.id AND n.id = $20 \
                   AND n.error_at IS NULL AND n.dek_version = $24 RETURNING n.*), \
             trace AS ({}) \
             SELECT {NOTE_COLUMNS} FROM n",
            visible("r"),
            visible("r"),
            urgent("r"),
            audit_insert("note.flag_error", "'success'", "n.resident_id", "note", "n.id", "NOT t.normal", "who, n, t")
        );
        let (resident_param, id_param) = (resident_id.as_uuid(), id.as_uuid());
        let dek = keys.active_version() as i32;
        let mut params = who.params();
        params.extend::<[Param<'_>; 6]>([&resident_param, &id_param, &sealed, &body, &dek, &old_version]);
        let rows = self.write(tenant, &sql, &params).await?;
        note(rows.first().ok_or(StoreError::NotFound)?, &keys)
    }

    /// A resident's notes that the scope may read, newest first; the reading is recorded.
    pub async fn list_notes(
        &self,
        scope: &TenantScope,
        resident_id: ResidentId,
        page: PageRequest,
    ) -> StoreResult<Page<Note>> {
        self.notes_read(scope, resident_id, page, true).await
    }

    /// The same read, not recorded: for the audit-cost benchmark only (see
    /// [`Db::get_resident_untraced`]).
    #[cfg(feature = "bench-untraced")]
    pub async fn list_notes_untraced(
        &self,
        scope: &TenantScope,
        resident_id: ResidentId,
        page: PageRequest,
    ) -> StoreResult<Page<Note>> {
        self.notes_read(scope, resident_id, page, false).await
    }

    async fn notes_read(
        &self,
        scope: &TenantScope,
        resident_id: ResidentId,
        page: PageRequest,
        traced: bool,
    ) -> StoreResult<Page<Note>> {
        let who = self.who(scope);
        let trace = traced.then(|| {
            audit_insert(
                "note.read",
                "CASE WHEN allowed.id IS NULL THEN 'denied' ELSE 'success' END",
                "$19",
                "resident",
                "$19",
                "coalesce(NOT allowed.normal, false)",
                "who LEFT JOIN allowed ON true",
            )
        });
        let sql = format!(
            "WITH {WHO}, \
             target AS (SELECT r.tenant_id, r.id, {} AS normal, {} AS urgent FROM residents r, who \
                        WHERE r.tenant_id = who.tenant_id AND r.id = $19), \
             allowed AS MATERIALIZED (SELECT * FROM target WHERE normal OR urgent), \
             data AS (SELECT n.* FROM notes n, allowed t, who WHERE n.tenant_id = t.tenant_id AND n.resident_id = t.id \
                      AND n.resident_id = $19 AND {} AND ($20::uuid IS NULL OR n.id < $20) \
                      ORDER BY n.id DESC LIMIT $21){} \
             SELECT {NOTE_COLUMNS} FROM data n ORDER BY n.id DESC",
            visible("r"),
            urgent("r"),
            note_readable("n", "NOT t.normal"),
            trace.map(|t| format!(", trace AS ({t})")).unwrap_or_default()
        );
        let resident_param = resident_id.as_uuid();
        let limit = page.fetch_limit();
        let mut params = who.params();
        params.extend::<[Param<'_>; 3]>([&resident_param, &page.after, &limit]);
        let rows = self.write(scope.tenant_id(), &sql, &params).await?;
        if rows.is_empty() {
            // Nothing to show: the resident is not visible, or has no note the user may read.
            self.resident_exists_for(scope, resident_id).await?;
        }
        let items = self.open_rows(scope.tenant_id(), &rows, note).await?;
        Ok(Page::from_rows(items, page, |n| n.id.as_uuid()))
    }

    /// The hand-over feed: the notes of a unit or an establishment written since `start`, newest
    /// first, that the reader may read about people they may see, with the people's names. Each
    /// person whose notes are shown is recorded as read. `NotFound` when the establishment (or
    /// the unit in it) does not exist for the tenant.
    pub async fn handover(
        &self,
        scope: &TenantScope,
        feed: Feed,
        start: FeedStart,
        page: PageRequest,
    ) -> StoreResult<HandoverPage> {
        let tenant = scope.tenant_id();
        let (tenant_param, user_param) = (tenant.as_uuid(), scope.user_id().as_uuid());
        let (establishment, unit) = (feed.establishment.as_uuid(), feed.unit.map(|u| u.as_uuid()));
        // Where the previous shift started, in the establishment's time zone, and the marker.
        let rows = self.read(tenant, FEED_START, &[&tenant_param, &user_param, &establishment, &unit]).await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
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
        let who = self.who(scope);
        let sql: &str = if unit.is_some() { &HANDOVER_BY_UNIT } else { &HANDOVER_BY_ESTABLISHMENT };
        let place_param = unit.unwrap_or(establishment);
        let limit = page.fetch_limit();
        let mut params = who.params();
        params.extend::<[Param<'_>; 4]>([&place_param, &lower, &page.after, &limit]);
        let rows = self.write(tenant, sql, &params).await?;
        let mut versions = versions(&rows)?;
        for row in &rows {
            versions.push(row.try_get::<_, i32>("resident_dek_version")? as u32);
        }
        let keys = if rows.is_empty() { None } else { Some(self.keyring(tenant, versions).await?) };
        let mut items = Vec::with_capacity(rows.len());
        let mut names: std::collections::HashMap<Uuid, ResidentName> = std::collections::HashMap::new();
        for row in &rows {
            let keys = keys.as_ref().ok_or(StoreError::NotFound)?;
            let note = note(row, keys)?;
            let resident = note.resident_id;
            let name = match names.get(&resident.as_uuid()) {
                Some(name) => name.clone(),
                None => {
                    let identity: Identity =
                        open_json(keys, RESIDENT_IDENTITY, resident.as_uuid(), row.try_get("resident_identity")?)?;
                    let name = ResidentName::of(identity, resident);
                    names.insert(resident.as_uuid(), name.clone());
                    name
                }
            };
            let unread = read_up_to.is_none_or(|marker| note.id.as_uuid() > marker);
            items.push(FeedNote { note, resident: name, unread });
        }
        Ok(HandoverPage {
            since,
            read_up_to: read_up_to.map(NoteId::from_uuid),
            page: Page::from_rows(items, page, |n| n.note.id.as_uuid()),
        })
    }

    /// The query plan of the hand-over feed's statement for `feed`, from its start: for the test
    /// that keeps the feed on its indexes, and for diagnosing. With `analyze`, the statement runs
    /// (and records its reads, as a real read would) and the plan shows where the time went.
    pub async fn explain_handover(
        &self,
        scope: &TenantScope,
        feed: Feed,
        since: DateTime<Utc>,
        analyze: bool,
    ) -> StoreResult<String> {
        let who = self.who(scope);
        let options = if analyze { "(ANALYZE, BUFFERS)" } else { "" };
        let sql = format!("EXPLAIN {options} {}", handover_sql(feed.unit.is_some()));
        let place = feed.unit.map_or(feed.establishment.as_uuid(), |u| u.as_uuid());
        let (lower, limit) = (first_id_at(since), PageRequest::first(50).fetch_limit());
        let mut params = who.params();
        params.extend::<[Param<'_>; 4]>([&place, &lower, &None::<Uuid>, &limit]);
        let rows = self.write(scope.tenant_id(), &sql, &params).await?;
        rows.iter()
            .map(|row| Ok(row.try_get::<_, String>(0)?))
            .collect::<StoreResult<Vec<_>>>()
            .map(|lines| lines.join("\n"))
    }

    /// Moves the reader's marker on a feed to `up_to` (never backwards). `NotFound` when the
    /// feed or the note does not exist for the tenant.
    pub async fn set_read_marker(&self, scope: &TenantScope, feed: Feed, up_to: NoteId) -> StoreResult<NoteId> {
        let tenant = scope.tenant_id();
        let (establishment, unit) = (feed.establishment.as_uuid(), feed.unit.map(|u| u.as_uuid()));
        let rows = self
            .write(
                tenant,
                "INSERT INTO read_markers (tenant_id, user_id, feed_id, establishment_id, unit_id, read_up_to) \
                 SELECT e.tenant_id, $2, coalesce($4, e.id), e.id, $4, n.id FROM establishments e, notes n \
                 WHERE e.tenant_id = $1 AND e.id = $3 AND n.tenant_id = e.tenant_id AND n.id = $5 \
                 AND ($4::uuid IS NULL OR EXISTS (SELECT 1 FROM units u WHERE u.tenant_id = e.tenant_id AND u.id = $4 \
                                                  AND u.establishment_id = e.id)) \
                 ON CONFLICT (tenant_id, user_id, feed_id) DO UPDATE \
                   SET read_up_to = greatest(read_markers.read_up_to, EXCLUDED.read_up_to), updated_at = now() \
                 RETURNING read_up_to",
                &[&tenant.as_uuid(), &scope.user_id().as_uuid(), &establishment, &unit, &up_to.as_uuid()],
            )
            .await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        Ok(NoteId::from_uuid(row.try_get("read_up_to")?))
    }
}

/// The feed's statements, written once.
static HANDOVER_BY_UNIT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| handover_sql(true));
static HANDOVER_BY_ESTABLISHMENT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| handover_sql(false));

/// The hand-over feed's statement: `$19` the unit (or establishment), `$20` the lowest id,
/// `$21` the cursor, `$22` the fetch limit. The notes are walked newest first on the (tenant,
/// unit or establishment, id) index and the walk stops at the page: whether the person is
/// visible is a scalar subquery per note, which PostgreSQL cannot turn into a join of the whole
/// period (a hash join over every note since the start, sorted afterwards, is what it picked
/// when its estimate of the period's notes was stale: 66 ms instead of 3 for a busy unit).
pub(crate) fn handover_sql(by_unit: bool) -> String {
    let place = if by_unit { "n.unit_id = $19" } else { "n.establishment_id = $19" };
    format!(
        "WITH {WHO}, \
         feed AS MATERIALIZED (SELECT n.* FROM notes n, who WHERE n.tenant_id = who.tenant_id AND {place} \
             AND n.id >= $20 AND ($21::uuid IS NULL OR n.id < $21) AND {} \
             AND (SELECT {} FROM residents r WHERE r.tenant_id = n.tenant_id AND r.id = n.resident_id) \
             ORDER BY n.id DESC LIMIT $22), \
         trace AS ({}) \
         SELECT {NOTE_COLUMNS}, r.identity AS resident_identity, r.dek_version AS resident_dek_version \
         FROM feed n JOIN residents r ON r.tenant_id = n.tenant_id AND r.id = n.resident_id ORDER BY n.id DESC",
        note_readable("n", "false"),
        visible("r"),
        audit_insert(
            "handover.read",
            "'success'",
            "d.resident_id",
            "resident",
            "d.resident_id",
            "false",
            "who, (SELECT DISTINCT resident_id FROM feed) d"
        )
    )
}

/// When a UUIDv7 was made.
fn marker_time(id: Uuid) -> DateTime<Utc> {
    let bytes = id.as_bytes();
    let mut millis = [0u8; 8];
    millis[2..].copy_from_slice(&bytes[..6]);
    DateTime::from_timestamp_millis(i64::from_be_bytes(millis)).unwrap_or_default()
}

/// Writes a note about resident `$20` filed from their stay (or, for an amendment, from the
/// original `$27`), and records it; returns the note.
pub(crate) fn note_insert_sql(amendment: bool) -> String {
    // An amendment takes its place from the original (establishment, unit, kind, scope),
    // and only the original's author writes one.
    let place = if amendment {
        "(SELECT o.establishment_id FROM notes o WHERE o.tenant_id = r.tenant_id AND o.id = $27 AND o.resident_id = r.id \
           AND o.author_id = who.user_id AND o.error_at IS NULL AND o.kind = $21 AND o.scope = $22) AS establishment_id, \
         (SELECT o.unit_id FROM notes o WHERE o.tenant_id = r.tenant_id AND o.id = $27) AS unit_id"
    } else {
        "(SELECT s.establishment_id FROM stays s WHERE s.tenant_id = r.tenant_id AND s.resident_id = r.id \
           ORDER BY (s.discharged_on IS NULL) DESC, s.admitted_on DESC LIMIT 1) AS establishment_id, \
         (SELECT s.unit_id FROM stays s WHERE s.tenant_id = r.tenant_id AND s.resident_id = r.id \
           ORDER BY (s.discharged_on IS NULL) DESC, s.admitted_on DESC LIMIT 1) AS unit_id"
    };
    format!(
        "WITH {WHO}, \
         target AS (SELECT r.tenant_id, r.id, {visible} AS normal, {place} \
                    FROM residents r, who WHERE r.tenant_id = who.tenant_id AND r.id = $20 \
                    AND r.record_status = 'active' AND ({visible} OR {urgent})), \
         n AS (INSERT INTO notes (tenant_id, id, resident_id, author_id, establishment_id, unit_id, kind, scope, \
                                  facts_at, body, dek_version, incident_type, severity, amends, objective_id) \
               SELECT t.tenant_id, $19, t.id, who.user_id, t.establishment_id, t.unit_id, $21, $22, coalesce($23, now()), \
                      $24, $25, $26, $28, $27, $29 \
               FROM target t, who WHERE t.establishment_id IS NOT NULL RETURNING *), \
         trace AS ({}) \
         SELECT {NOTE_COLUMNS} FROM n",
        audit_insert(
            if amendment { "note.amend" } else { "note.create" },
            "'success'",
            "n.resident_id",
            "note",
            "n.id",
            "NOT target.normal",
            "who, n, target"
        ),
        visible = visible("r"),
        urgent = urgent("r"),
    )
}
