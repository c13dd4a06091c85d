//! Alerts and allergies: recorded, resolved or ended, flagged when entered in error, never
//! deleted; read together, the most severe first (the domain orders them). What is said about
//! the person is sealed; kinds, severities, scopes and times stay in clear. Each entry has a
//! confidentiality scope, read as notes' are (`note_readable`).

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::alert::{
    AlertDetails, AlertEntry, AlertKind, AlertStatus, Allergy, AllergyDetails, AllergyKind, AllergySeverity,
    AllergySource, AllergyStatus, MajorAlert, NewAlert, NewAllergy, Precaution,
};
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::record::NoteScope;
use dui_domain::transmission::EnteredInError;
use dui_domain::{AlertId, AllergyId, EstablishmentId, ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO_CTE, note_readable, target};
use crate::args;
use crate::feature::{Feature, Table, to_json};
use crate::idempotency::{Create, create_once};
use crate::listing::{listed, open_listed};
use crate::rows::parse;
use crate::sealing::{open_json, seal_json};
use crate::sql::{Sql, Stmt};
use crate::stays::PLACE;
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

pub(crate) const ALLERGY_DETAILS: Column = Column::new("allergies", "details");
pub(crate) const ALLERGY_ERROR_REASON: Column = Column::new("allergies", "error_reason");
pub(crate) const ALERT_DETAILS: Column = Column::new("major_alerts", "details");
pub(crate) const ALERT_ERROR_REASON: Column = Column::new("major_alerts", "error_reason");

/// An allergy's columns, from alias `a`, named as the union of both kinds' columns (so that
/// one list reads both: [`entry`]).
pub(crate) const ALLERGY_COLUMNS: &str = "'allergy'::text AS entry, a.id, a.resident_id, a.establishment_id, a.kind, \
     a.severity, a.source, NULL::text[] AS precautions, a.scope, a.details, a.dek_version, \
     NULL::timestamptz AS starts_at, NULL::timestamptz AS ends_at, NULL::uuid AS ended_by, a.resolved_at, \
     a.resolved_by, a.recorded_by, a.recorded_at, a.error_at, a.error_by, a.error_reason, false AS ended";

/// An alert's columns, from alias `m`, named as [`ALLERGY_COLUMNS`] are. An alert whose end
/// has come is `ended`.
pub(crate) const ALERT_COLUMNS: &str = "'alert'::text AS entry, m.id, m.resident_id, m.establishment_id, m.kind, \
     NULL::text AS severity, NULL::text AS source, m.precautions, m.scope, m.details, m.dek_version, m.starts_at, \
     m.ends_at, m.ended_by, NULL::timestamptz AS resolved_at, NULL::uuid AS resolved_by, m.recorded_by, \
     m.recorded_at, m.error_at, m.error_by, m.error_reason, (m.ends_at IS NOT NULL AND m.ends_at <= now()) AS ended";

fn entered_in_error(row: &Row, keys: &Keyring, column: Column, id: Uuid) -> StoreResult<Option<EnteredInError>> {
    Ok(match row.try_get::<_, Option<DateTime<Utc>>>("error_at")? {
        Some(at) => Some(EnteredInError {
            at,
            by: UserId::from_uuid(row.try_get("error_by")?),
            reason: open_json(keys, column, id, row.try_get("error_reason")?)?,
        }),
        None => None,
    })
}

pub(crate) fn allergy(row: &Row, keys: &Keyring) -> StoreResult<Allergy> {
    let id: Uuid = row.try_get("id")?;
    let details: AllergyDetails = open_json(keys, ALLERGY_DETAILS, id, row.try_get("details")?)?;
    let entered_in_error = entered_in_error(row, keys, ALLERGY_ERROR_REASON, id)?;
    let resolved_at: Option<DateTime<Utc>> = row.try_get("resolved_at")?;
    Ok(Allergy {
        id: AllergyId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        kind: parse(row, "kind", AllergyKind::parse)?,
        substance: details.substance,
        reaction: details.reaction,
        severity: parse(row, "severity", AllergySeverity::parse)?,
        source: parse(row, "source", AllergySource::parse)?,
        scope: parse(row, "scope", NoteScope::parse)?,
        status: AllergyStatus::of(resolved_at.is_some(), entered_in_error.is_some()),
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        resolved_at,
        resolved_by: row.try_get::<_, Option<Uuid>>("resolved_by")?.map(UserId::from_uuid),
        entered_in_error,
    })
}

pub(crate) fn alert(row: &Row, keys: &Keyring) -> StoreResult<MajorAlert> {
    let id: Uuid = row.try_get("id")?;
    let details: AlertDetails = open_json(keys, ALERT_DETAILS, id, row.try_get("details")?)?;
    let entered_in_error = entered_in_error(row, keys, ALERT_ERROR_REASON, id)?;
    let precautions = row
        .try_get::<_, Vec<&str>>("precautions")?
        .into_iter()
        .map(|p| Precaution::parse(p).ok_or_else(|| StoreError::Corrupt { column: "precautions", value: p.to_owned() }))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(MajorAlert {
        id: AlertId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        kind: parse(row, "kind", AlertKind::parse)?,
        precautions,
        label: details.label,
        detail: details.detail,
        scope: parse(row, "scope", NoteScope::parse)?,
        starts_at: row.try_get("starts_at")?,
        ends_at: row.try_get("ends_at")?,
        status: AlertStatus::of(row.try_get("ended")?, entered_in_error.is_some()),
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        ended_by: row.try_get::<_, Option<Uuid>>("ended_by")?.map(UserId::from_uuid),
        entered_in_error,
    })
}

/// A row of the union of both kinds (see [`ALLERGY_COLUMNS`]).
pub(crate) fn entry(row: &Row, keys: &Keyring) -> StoreResult<AlertEntry> {
    match row.try_get::<_, &str>("entry")? {
        "allergy" => Ok(AlertEntry::of_allergy(allergy(row, keys)?)),
        "alert" => Ok(AlertEntry::of_alert(alert(row, keys)?)),
        other => Err(StoreError::Corrupt { column: "entry", value: other.to_owned() }),
    }
}

static INSERT_ALLERGY: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, {PLACE}, \
         a AS (INSERT INTO allergies (tenant_id, id, resident_id, establishment_id, kind, severity, source, scope, \
                 details, dek_version, recorded_by) \
               SELECT t.tenant_id, :id, t.id, p.establishment_id, :kind, :severity, :source, :note_scope, :details, \
                      :dek_version, who.user_id \
               FROM target t, place p, who WHERE t.record_status = 'active' RETURNING *), \
         trace AS ({trace}), {event} SELECT {ALLERGY_COLUMNS} FROM a",
        target = target(),
        trace = Trace::written("a"),
        event = crate::handover_write::emit("a"),
    ))
});

static ALLERGY_BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {ALLERGY_COLUMNS} FROM allergies a WHERE a.tenant_id = :tenant AND a.id = :id"))
});

static INSERT_ALERT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, {PLACE}, \
         m AS (INSERT INTO major_alerts (tenant_id, id, resident_id, establishment_id, kind, precautions, scope, \
                 details, dek_version, starts_at, ends_at, recorded_by) \
               SELECT t.tenant_id, :id, t.id, p.establishment_id, :kind, :precautions::text[], :note_scope, :details, \
                      :dek_version, :starts_at, :ends_at, who.user_id \
               FROM target t, place p, who WHERE t.record_status = 'active' RETURNING *), \
         trace AS ({trace}), {event} SELECT {ALERT_COLUMNS} FROM m",
        target = target(),
        trace = Trace::written("m"),
        event = crate::handover_write::emit("m"),
    ))
});

static ALERT_BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {ALERT_COLUMNS} FROM major_alerts m WHERE m.tenant_id = :tenant AND m.id = :id"))
});

/// What a use case needs to decide on a change to an entry the caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta {
    pub scope: NoteScope,
    /// Resolved (an allergy) or ended (an alert).
    pub closed: bool,
    pub in_error: bool,
    /// An alert's start (an allergy's recording).
    pub starts_at: DateTime<Utc>,
}

static ALLERGY_META: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} \
         SELECT a.scope, a.resolved_at IS NOT NULL AS closed, a.error_at IS NOT NULL AS in_error, a.recorded_at AS starts_at \
         FROM allergies a, target t, who WHERE a.tenant_id = t.tenant_id AND a.resident_id = t.id AND a.id = :id \
         AND {readable}",
        target = target(),
        readable = note_readable("a", "NOT t.normal"),
    ))
});

static ALERT_META: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} \
         SELECT m.scope, (m.ends_at IS NOT NULL AND m.ends_at <= now()) AS closed, m.error_at IS NOT NULL AS in_error, \
                m.starts_at \
         FROM major_alerts m, target t, who WHERE m.tenant_id = t.tenant_id AND m.resident_id = t.id AND m.id = :id \
         AND {readable}",
        target = target(),
        readable = note_readable("m", "NOT t.normal"),
    ))
});

static RESOLVE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         a AS (UPDATE allergies a SET resolved_at = now(), resolved_by = who.user_id FROM target t, who \
               WHERE a.tenant_id = t.tenant_id AND a.resident_id = t.id AND a.id = :id AND a.resolved_at IS NULL \
               AND a.error_at IS NULL AND t.record_status = 'active' AND {readable} RETURNING a.*), \
         trace AS ({trace}) SELECT {ALLERGY_COLUMNS} FROM a",
        target = target(),
        readable = note_readable("a", "NOT t.normal"),
        trace = Trace::written("a"),
    ))
});

static END: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         m AS (UPDATE major_alerts m SET ends_at = coalesce(:ends_at, now()), ended_by = who.user_id \
               FROM target t, who \
               WHERE m.tenant_id = t.tenant_id AND m.resident_id = t.id AND m.id = :id AND m.error_at IS NULL \
               AND (m.ends_at IS NULL OR m.ends_at > now()) AND m.starts_at < coalesce(:ends_at::timestamptz, now()) \
               AND t.record_status = 'active' AND {readable} RETURNING m.*), \
         trace AS ({trace}) SELECT {ALERT_COLUMNS} FROM m",
        target = target(),
        readable = note_readable("m", "NOT t.normal"),
        trace = Trace::written("m"),
    ))
});

/// The statements that flag an entry of `table` (alias `x`) in error: its sealed details and
/// their key version, read to be sealed again with the reason; and the flag, with its trace.
/// `readable` is the kind's reading rule (`note_readable`, `medical_readable`...): only a reader
/// flags.
pub(crate) fn flag_statements(
    table: &str,
    columns: &str,
    alias: &str,
    readable: fn(&str, &str) -> String,
) -> (String, String) {
    let sealed = format!(
        "SELECT details, dek_version FROM {table} WHERE tenant_id = :tenant AND id = :id AND resident_id = :resident"
    );
    let flag = format!(
        "WITH {WHO_CTE}, {target}, \
         {alias} AS (UPDATE {table} {alias} SET error_at = now(), error_by = who.user_id, error_reason = :reason, \
                 details = :details, dek_version = :dek_version FROM target t, who \
               WHERE {alias}.tenant_id = t.tenant_id AND {alias}.resident_id = t.id AND {alias}.id = :id \
               AND {alias}.error_at IS NULL AND {alias}.dek_version = :sealed_under AND t.record_status = 'active' \
               AND {readable} RETURNING {alias}.*), \
         trace AS ({trace}) SELECT {columns} FROM {alias}",
        target = target(),
        readable = readable(alias, "NOT t.normal"),
        trace = Trace::written(alias),
    );
    (sealed, flag)
}

static ALLERGY_FLAG: LazyLock<Flagging> = LazyLock::new(|| {
    let (details, reason, action) = (ALLERGY_DETAILS, ALLERGY_ERROR_REASON, AuditAction::AllergyFlagError);
    Flagging::of("allergies", ALLERGY_COLUMNS, "a", note_readable, [details, reason], action)
});

static ALERT_FLAG: LazyLock<Flagging> = LazyLock::new(|| {
    let (details, reason, action) = (ALERT_DETAILS, ALERT_ERROR_REASON, AuditAction::AlertFlagError);
    Flagging::of("major_alerts", ALERT_COLUMNS, "m", note_readable, [details, reason], action)
});

/// A resident's allergies and alerts that the caller may read: those in force, or all of them
/// (`:all`). The two tables in one list, in the columns both share.
fn entries_sql(listed_with_visibility: bool) -> String {
    let data = format!(
        "data AS ((SELECT {ALLERGY_COLUMNS} FROM allergies a, target t, who \
                   WHERE a.tenant_id = t.tenant_id AND a.resident_id = t.id AND {allergy_readable} \
                   AND (:all::bool OR (a.error_at IS NULL AND a.resolved_at IS NULL)) LIMIT 1000) \
                  UNION ALL \
                  (SELECT {ALERT_COLUMNS} FROM major_alerts m, target t, who \
                   WHERE m.tenant_id = t.tenant_id AND m.resident_id = t.id AND {alert_readable} \
                   AND (:all::bool OR (m.error_at IS NULL AND (m.ends_at IS NULL OR m.ends_at > now()))) LIMIT 1000))",
        allergy_readable = note_readable("a", "NOT t.normal"),
        alert_readable = note_readable("m", "NOT t.normal"),
    );
    let select = if listed_with_visibility {
        listed("SELECT * FROM data", "x.recorded_at, x.id")
    } else {
        "SELECT * FROM data ORDER BY recorded_at, id".to_owned()
    };
    format!("WITH {WHO_CTE}, {target}, {data} {select}", target = target())
}

static ENTRIES: Stmt = LazyLock::new(|| Sql::new(&entries_sql(true)));

/// The alerts in force of the summary: `:resident`, `:all` false. Its visibility is the
/// summary's own statement's.
pub(crate) static SUMMARY_ALERTS: Stmt = LazyLock::new(|| Sql::new(&entries_sql(false)));

/// The summary's statement, for the benchmark's baseline.
#[cfg(feature = "bench")]
pub(crate) fn summary_alerts_sql() -> String {
    entries_sql(false)
}

/// Records an allergy of a visible resident, in the establishment of their stay, and commits.
pub async fn record_allergy(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewAllergy,
    event: Option<&dui_domain::handover::NewHandoverEvent>,
) -> StoreResult<Created<Allergy>> {
    let keys = tx.sealing_keys(1 + 1).await?;
    let id = Uuid::now_v7();
    let details = seal_json(&keys, ALLERGY_DETAILS, id, &new.details)?;
    let (resident, dek) = (resident.as_uuid(), keys.active_version() as i32);
    let (kind, severity, source, note_scope) =
        (new.kind.as_str(), new.severity.as_str(), new.source.as_str(), new.scope.as_str());
    let args = args! { resident: &resident, id: &id, kind: &kind, severity: &severity, source: &source,
    note_scope: &note_scope, details: &details, dek_version: &dek }
    .action(AuditAction::AllergyCreate);
    let event = crate::handover_write::EventRow::seal(&keys, event)?;
    let args = event.bind(args);
    let map = |row: &Row| allergy(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT_ALLERGY, args, reload: &ALLERGY_BY_ID, map: &map }).await
}

/// Records a major alert of a visible resident, in the establishment of their stay, and commits.
pub async fn record_alert(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewAlert,
    event: Option<&dui_domain::handover::NewHandoverEvent>,
) -> StoreResult<Created<MajorAlert>> {
    let keys = tx.sealing_keys(1 + 1).await?;
    let id = Uuid::now_v7();
    let details = seal_json(&keys, ALERT_DETAILS, id, &new.details)?;
    let (resident, dek) = (resident.as_uuid(), keys.active_version() as i32);
    let (kind, note_scope) = (new.kind.as_str(), new.scope.as_str());
    let precautions: Vec<&str> = new.precautions.iter().map(|p| p.as_str()).collect();
    let args = args! { resident: &resident, id: &id, kind: &kind, precautions: &precautions,
    note_scope: &note_scope, details: &details, dek_version: &dek, starts_at: &new.starts_at, ends_at: &new.ends_at }
    .action(AuditAction::AlertCreate);
    let event = crate::handover_write::EventRow::seal(&keys, event)?;
    let args = event.bind(args);
    let map = |row: &Row| alert(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT_ALERT, args, reload: &ALERT_BY_ID, map: &map }).await
}

async fn meta(tx: &mut Tx<'_>, sql: &Sql, resident: ResidentId, id: Uuid) -> StoreResult<EntryMeta> {
    let resident = resident.as_uuid();
    let row = tx.query_one(sql, &args! { resident: &resident, id: &id }).await?;
    Ok(EntryMeta {
        scope: parse(&row, "scope", NoteScope::parse)?,
        closed: row.try_get("closed")?,
        in_error: row.try_get("in_error")?,
        starts_at: row.try_get("starts_at")?,
    })
}

/// An allergy of a visible resident that the caller may read, for deciding on a change: a
/// check, not recorded. `NotFound` otherwise.
pub async fn allergy_meta(tx: &mut Tx<'_>, resident: ResidentId, id: AllergyId) -> StoreResult<EntryMeta> {
    meta(tx, &ALLERGY_META, resident, id.as_uuid()).await
}

/// An alert of a visible resident that the caller may read, for deciding on a change: a check,
/// not recorded. `NotFound` otherwise.
pub async fn alert_meta(tx: &mut Tx<'_>, resident: ResidentId, id: AlertId) -> StoreResult<EntryMeta> {
    meta(tx, &ALERT_META, resident, id.as_uuid()).await
}

/// Resolves an allergy in force, and commits. `NotFound` when it is not (any more) in force or
/// out of reach.
pub async fn resolve_allergy(tx: Tx<'_>, resident: ResidentId, id: AllergyId) -> StoreResult<Allergy> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let args = args! { resident: &resident, id: &id }.action(AuditAction::AllergyResolve);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = tx.finish(&RESOLVE, &args).await?;
    db.open_one(tenant, rows.first().ok_or(StoreError::NotFound)?, allergy).await
}

/// Ends an alert in force at `ends_at` (`None`: now, the transaction's time), and commits.
/// `NotFound` when it is not (any more) in force or out of reach.
pub async fn end_alert(
    tx: Tx<'_>,
    resident: ResidentId,
    id: AlertId,
    ends_at: Option<DateTime<Utc>>,
) -> StoreResult<MajorAlert> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let args = args! { resident: &resident, id: &id, ends_at: &ends_at }.action(AuditAction::AlertEnd);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = tx.finish(&END, &args).await?;
    db.open_one(tenant, rows.first().ok_or(StoreError::NotFound)?, alert).await
}

/// How an entry of a table is flagged in error (see [`flag_entered_in_error`]).
pub(crate) struct Flagging {
    /// Reads `details` and `dek_version` of `:id` of `:resident`.
    pub sealed: Sql,
    /// Flags `:id`, sealing `:reason` and `:details` again under `:dek_version`, if the row is
    /// still sealed under `:sealed_under`; returns the row.
    pub flag: Sql,
    pub details: Column,
    pub reason: Column,
    pub action: AuditAction,
}

impl Flagging {
    /// The flagging of an entry of `table` with [`flag_statements`]; `columns` its sealed
    /// details and error reason.
    pub(crate) fn of(
        table: &str,
        columns: &str,
        alias: &str,
        readable: fn(&str, &str) -> String,
        [details, reason]: [Column; 2],
        action: AuditAction,
    ) -> Self {
        let (sealed, flag) = flag_statements(table, columns, alias, readable);
        Flagging { sealed: Sql::new(&sealed), flag: Sql::new(&flag), details, reason, action }
    }
}

/// Flags an entry as entered in error with a reason; it stays, flagged; commits. A row's
/// sealed columns share one key version: the details are sealed again with the reason under the
/// active key (the update applies only if nobody sealed them again meanwhile). `NotFound` when
/// it is flagged already or out of reach.
pub(crate) async fn flag_entered_in_error<T>(
    mut tx: Tx<'_>,
    flagging: &Flagging,
    resident: ResidentId,
    id: Uuid,
    reason: &str,
    map: fn(&Row, &Keyring) -> StoreResult<T>,
) -> StoreResult<T> {
    let resident = resident.as_uuid();
    let row = tx.query_one(&flagging.sealed, &args! { id: &id, resident: &resident }).await?;
    let sealed_under: i32 = row.try_get("dek_version")?;
    let old = tx.keyring([sealed_under as u32]).await?;
    let details: serde_json::Value = open_json(&old, flagging.details, id, row.try_get("details")?)?;
    let keys = tx.sealing_keys(2).await?;
    let details = seal_json(&keys, flagging.details, id, &details)?;
    let reason = seal_json(&keys, flagging.reason, id, reason)?;
    let dek = keys.active_version() as i32;
    let args = args! { resident: &resident, id: &id, reason: &reason, details: &details, dek_version: &dek,
    sealed_under: &sealed_under }
    .action(flagging.action);
    let rows = tx.finish(&flagging.flag, &args).await?;
    map(rows.first().ok_or(StoreError::NotFound)?, &keys)
}

/// Flags an allergy as entered in error (see [`flag_entered_in_error`]).
pub async fn flag_allergy(tx: Tx<'_>, resident: ResidentId, id: AllergyId, reason: &str) -> StoreResult<Allergy> {
    flag_entered_in_error(tx, &ALLERGY_FLAG, resident, id.as_uuid(), reason, allergy).await
}

/// Flags an alert as entered in error (see [`flag_entered_in_error`]).
pub async fn flag_alert(tx: Tx<'_>, resident: ResidentId, id: AlertId, reason: &str) -> StoreResult<MajorAlert> {
    flag_entered_in_error(tx, &ALERT_FLAG, resident, id.as_uuid(), reason, alert).await
}

/// The allergies and intolerances in force of a visible resident that the caller may read,
/// within an operation (for its safety checks; not recorded).
static ALLERGIES_IN_FORCE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} SELECT {ALLERGY_COLUMNS} FROM allergies a, target t, who \
         WHERE a.tenant_id = t.tenant_id AND a.resident_id = t.id AND a.resolved_at IS NULL AND a.error_at IS NULL \
         AND {readable} ORDER BY a.id LIMIT 500",
        target = target(),
        readable = note_readable("a", "NOT t.normal"),
    ))
});

/// The allergies and intolerances in force of a visible resident that the caller may read, for
/// a check inside an operation (not recorded).
pub async fn allergies_in_force(tx: &mut Tx<'_>, resident: ResidentId) -> StoreResult<Vec<Allergy>> {
    let resident = resident.as_uuid();
    let rows = tx.query(&ALLERGIES_IN_FORCE, &args! { resident: &resident }).await?;
    let keys = tx.keyring(crate::sealing::versions(&rows)?).await?;
    rows.iter().map(|row| allergy(row, &keys)).collect()
}

/// The allergies and intolerances in force of `:residents` that the caller may read, for the
/// warnings of a plan that lists those people (their reading is recorded by the plan).
static ALLERGIES_IN_FORCE_OF: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE} SELECT {ALLERGY_COLUMNS} FROM allergies a, who \
         WHERE a.tenant_id = :tenant AND a.resident_id = ANY(:residents) AND a.resolved_at IS NULL \
         AND a.error_at IS NULL AND {readable} ORDER BY a.id LIMIT 10000",
        readable = note_readable("a", "false"),
    ))
});

/// The allergies and intolerances in force of several people that the caller may read (a plan's
/// warnings; not recorded here).
pub async fn allergies_in_force_of(tx: &mut Tx<'_>, residents: &[ResidentId]) -> StoreResult<Vec<Allergy>> {
    if residents.is_empty() {
        return Ok(Vec::new());
    }
    let residents: Vec<uuid::Uuid> = residents.iter().map(|r| r.as_uuid()).collect();
    let rows = tx.query(&ALLERGIES_IN_FORCE_OF, &args! { residents: &residents }).await?;
    let keys = tx.keyring(crate::sealing::versions(&rows)?).await?;
    rows.iter().map(|row| allergy(row, &keys)).collect()
}

/// A resident's allergies and alerts that the caller may read — in force, or `all` of them —
/// in no particular order (the domain orders them), as the transaction's last statement; the
/// reading is recorded. `NotFound` when the resident is out of reach.
pub async fn list(tx: Tx<'_>, resident: ResidentId, all: bool) -> StoreResult<Vec<AlertEntry>> {
    let resident = resident.as_uuid();
    let args = args! { resident: &resident, all: &all };
    let trace = crate::trail::ReadTrace::Record { action: AuditAction::AlertRead, resident };
    open_listed(tx, &ENTRIES, &args, Some(trace), entry).await
}

/// Allergies and alerts: what is said about the person sealed; a merge moves them to the record
/// kept (the person's allergies are the person's, whichever record they were written on; an
/// entry recorded on both is flagged as entered in error afterwards); the resident's export
/// lists them in the order they were recorded, resolved, ended and flagged ones included.
pub(crate) const FEATURE: Feature = Feature {
    name: "alerts",
    tables: &[
        Table::of_person(
            "allergies",
            &[ALLERGY_DETAILS, ALLERGY_ERROR_REASON],
            "allergies a",
            ALLERGY_COLUMNS,
            "a.recorded_at, a.id",
            |row, keys| to_json(allergy(row, keys)),
        ),
        Table::of_person(
            "major_alerts",
            &[ALERT_DETAILS, ALERT_ERROR_REASON],
            "major_alerts m",
            ALERT_COLUMNS,
            "m.recorded_at, m.id",
            |row, keys| to_json(alert(row, keys)),
        ),
    ],
};
