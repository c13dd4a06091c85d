//! Measurements (constantes): recorded, never deleted (flagged, with a reason, when entered in
//! error), read as series for charts. The values — in the kind's reference unit, and as entered —
//! and the reason for an error are sealed; kind, unit entered, time and flag stay in clear. They
//! are read by those who read the care team's notes.
//!
//! A weight is read with what the undernutrition criteria need
//! ([`dui_domain::measurement::nutrition`]): the person's weights and heights not entered in error
//! (those of the six months before it, and every height) and their birth date, in the same
//! statement, as one row of arrays (`history`), opened with the rows.

use chrono::{DateTime, NaiveDate, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::measurement::nutrition::{History, NutritionReading as Weighed};
use dui_domain::measurement::{Flag, Measurement, MeasurementKind, MeasurementUnit, MeasurementValue, NewMeasurement};
use dui_domain::{EstablishmentId, MeasurementId, ResidentId, UserId};
use serde::Deserialize;
use tokio_postgres::Row;
use uuid::Uuid;

use std::sync::LazyLock;

use dui_domain::audit::AuditAction;

use crate::access::{WHO_CTE, care_readable, target};
use crate::args;
use crate::feature::{Feature, Table, to_json};
use crate::idempotency::{Create, create_once};
use crate::listing::{listed, present};
use crate::residents::RESIDENT_IDENTITY;
use crate::rows::{parse, parse_opt};
use crate::sealing::{open_json, seal_json};
use crate::sql::{Sql, Stmt};
use crate::stays::PLACE;
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{Db, StoreError, StoreResult};

/// The value in the kind's reference unit.
pub(crate) const MEASUREMENT_VALUE: Column = Column::new("measurements", "value");
/// The value as entered, in `entered_unit` (absent on rows written before it was kept: the value).
pub(crate) const MEASUREMENT_ENTERED_VALUE: Column = Column::new("measurements", "entered_value");
/// Why it was flagged as entered in error.
pub(crate) const MEASUREMENT_ERROR_REASON: Column = Column::new("measurements", "error_reason");

pub(crate) const MEASUREMENT_COLUMNS: &str = "m.id, m.resident_id, m.establishment_id, m.kind, m.measured_at, m.value, \
     m.entered_value, m.entered_unit, m.dek_version, m.flag, m.recorded_by, m.recorded_at, m.error_at, m.error_by, \
     m.error_reason";

/// The most weights and heights read for the undernutrition criteria of one read: years of daily
/// weighings.
const HISTORY_LIMIT: i64 = 10_000;

/// The columns of [`history`].
const HISTORY_COLUMNS: &str = "history.history_ids, history.history_kinds, history.history_at, \
     history.history_values, history.history_deks, person.person_id, person.person_identity, person.person_dek";

/// Two lateral items giving one row of [`HISTORY_COLUMNS`], for the resident of row `r` (its
/// `tenant_id` and `id`), when `when` holds: their weights measured from six months (and a day)
/// before `from` to `to` (SQL expressions of `timestamptz`; null is no bound) and their heights,
/// not entered in error, that the reader reads (`emergency`: see [`care_readable`]), oldest
/// first; and their sealed identity (for the birth date).
fn history(r: &str, from: &str, to: &str, emergency: &str, when: &str) -> String {
    let order = "ORDER BY h.measured_at, h.id";
    format!(
        "LEFT JOIN LATERAL (SELECT array_agg(h.id {order}) AS history_ids, array_agg(h.kind {order}) AS history_kinds, \
                array_agg(h.measured_at {order}) AS history_at, array_agg(h.value {order}) AS history_values, \
                array_agg(h.dek_version {order}) AS history_deks \
           FROM (SELECT h.id, h.kind, h.measured_at, h.value, h.dek_version FROM measurements h, who \
                 WHERE {when} AND h.tenant_id = {r}.tenant_id AND h.resident_id = {r}.id AND h.error_at IS NULL \
                 AND {readable} \
                 AND (h.kind = 'height' OR (h.kind = 'weight' \
                      AND ({from} IS NULL OR h.measured_at >= {from} - make_interval(days => {days})) \
                      AND ({to} IS NULL OR h.measured_at <= {to}))) \
                 ORDER BY h.measured_at DESC LIMIT {HISTORY_LIMIT}) h) history ON true \
         LEFT JOIN LATERAL (SELECT p.id AS person_id, p.identity AS person_identity, p.dek_version AS person_dek \
           FROM residents p WHERE {when} AND p.tenant_id = {r}.tenant_id AND p.id = {r}.id) person ON true",
        readable = care_readable("h", emergency),
        days = dui_domain::measurement::nutrition::SIX_MONTHS_DAYS + 1,
    )
}

pub(crate) fn measurement(row: &Row, keys: &Keyring) -> StoreResult<Measurement> {
    let id: Uuid = row.try_get("id")?;
    let kind = parse(row, "kind", MeasurementKind::parse)?;
    let reference: MeasurementValue = open_json(keys, MEASUREMENT_VALUE, id, row.try_get("value")?)?;
    // Rows written before the entered value was kept were entered in the kind's reference unit.
    let value = match row.try_get::<_, Option<&[u8]>>("entered_value")? {
        Some(sealed) => open_json(keys, MEASUREMENT_ENTERED_VALUE, id, sealed)?,
        None => reference,
    };
    let reason = match row.try_get::<_, Option<&[u8]>>("error_reason")? {
        Some(sealed) => Some(open_json(keys, MEASUREMENT_ERROR_REASON, id, sealed)?),
        None => None,
    };
    Ok(Measurement {
        id: MeasurementId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        kind,
        measured_at: row.try_get("measured_at")?,
        value,
        unit: parse_opt(row, "entered_unit", MeasurementUnit::parse)?.unwrap_or(kind.unit()),
        reference: dui_domain::measurement::ReferenceValue { value: reference, unit: kind.unit() },
        flag: parse_opt(row, "flag", Flag::parse)?,
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        entered_in_error_at: row.try_get("error_at")?,
        entered_in_error_by: row.try_get::<_, Option<Uuid>>("error_by")?.map(UserId::from_uuid),
        entered_in_error_reason: reason,
        nutrition: None,
    })
}

/// The [`history`] columns of a row, still sealed.
struct SealedHistory {
    rows: Vec<SealedReading>,
    /// The resident's id, sealed identity and its key version.
    person: Option<(Uuid, Vec<u8>, i32)>,
}

/// A weight or a height, its value sealed.
struct SealedReading {
    id: Uuid,
    kind: String,
    measured_at: DateTime<Utc>,
    value: Vec<u8>,
    dek_version: i32,
}

/// The birth date, all the criteria need of the identity.
#[derive(Deserialize)]
struct Born {
    birth_date: NaiveDate,
}

impl SealedHistory {
    fn of(row: &Row) -> StoreResult<Self> {
        let ids: Option<Vec<Uuid>> = row.try_get("history_ids")?;
        let rows = match ids {
            None => Vec::new(),
            Some(ids) => {
                let kinds: Vec<String> = row.try_get("history_kinds")?;
                let at: Vec<DateTime<Utc>> = row.try_get("history_at")?;
                let values: Vec<Vec<u8>> = row.try_get("history_values")?;
                let deks: Vec<i32> = row.try_get("history_deks")?;
                ids.into_iter()
                    .zip(kinds)
                    .zip(at)
                    .zip(values)
                    .zip(deks)
                    .map(|((((id, kind), measured_at), value), dek_version)| SealedReading {
                        id,
                        kind,
                        measured_at,
                        value,
                        dek_version,
                    })
                    .collect()
            }
        };
        let person = match row.try_get::<_, Option<Uuid>>("person_id")? {
            Some(id) => Some((id, row.try_get("person_identity")?, row.try_get("person_dek")?)),
            None => None,
        };
        Ok(Self { rows, person })
    }

    /// Opens the values and the birth date with the tenant's keys.
    async fn open(self, db: &Db, tenant: dui_domain::TenantId) -> StoreResult<History> {
        let versions = self.rows.iter().map(|r| r.dek_version).chain(self.person.iter().map(|p| p.2)).map(|v| v as u32);
        let versions: Vec<u32> = versions.collect();
        if versions.is_empty() {
            return Ok(History::default());
        }
        let keys = db.keyring(tenant, versions).await?;
        let birth_date = match &self.person {
            Some((id, identity, _)) => Some(open_json::<Born>(&keys, RESIDENT_IDENTITY, *id, identity)?.birth_date),
            None => None,
        };
        let mut history = History { birth_date, ..History::default() };
        for SealedReading { id, kind, measured_at, value, .. } in self.rows {
            let value = match open_json(&keys, MEASUREMENT_VALUE, id, &value)? {
                MeasurementValue::Single(value) => value,
                MeasurementValue::Pressure { .. } => {
                    return Err(StoreError::Corrupt { column: "value", value: format!("a pressure as a {kind}") });
                }
            };
            let reading = Weighed { id: MeasurementId::from_uuid(id), measured_at, value };
            match MeasurementKind::parse(&kind) {
                Some(MeasurementKind::Weight) => history.weights.push(reading),
                Some(MeasurementKind::Height) => history.heights.push(reading),
                _ => return Err(StoreError::Corrupt { column: "kind", value: kind }),
            }
        }
        Ok(history)
    }
}

static INSERT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, {PLACE}, \
         m AS (INSERT INTO measurements (tenant_id, id, resident_id, establishment_id, kind, measured_at, value, \
                 entered_value, entered_unit, dek_version, flag, recorded_by) \
               SELECT t.tenant_id, :id, t.id, p.establishment_id, :kind, :measured_at, :value, :entered_value, \
                      :entered_unit, :dek_version, :flag, who.user_id \
               FROM target t, place p, who WHERE t.record_status = 'active' RETURNING *), \
         trace AS ({trace}), {event} SELECT {MEASUREMENT_COLUMNS}, {HISTORY_COLUMNS} FROM m, target t {history}",
        target = target(),
        trace = Trace::written("m"),
        event = crate::handover_write::emit("m"),
        history = history("t", "m.measured_at", "m.measured_at", "NOT t.normal", "m.kind = 'weight'"),
    ))
});

/// A measurement made, for a replay of its create: the caller passed the record's checks again.
static BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, m AS (SELECT * FROM measurements WHERE tenant_id = :tenant AND id = :id) \
         SELECT {MEASUREMENT_COLUMNS}, {HISTORY_COLUMNS} FROM m, LATERAL (SELECT m.tenant_id, m.resident_id AS id) r \
         {history}",
        history = history("r", "m.measured_at", "m.measured_at", "true", "m.kind = 'weight'"),
    ))
});

static SERIES: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT m.* FROM measurements m, target t, who WHERE m.tenant_id = t.tenant_id AND m.resident_id = t.id \
                  AND (:kind::text IS NULL OR m.kind = :kind) \
                  AND (:from::timestamptz IS NULL OR m.measured_at >= :from) \
                  AND (:to::timestamptz IS NULL OR m.measured_at < :to) AND {readable} \
                  ORDER BY m.measured_at, m.id LIMIT 5000), \
         trace AS ({trace}) \
         {listed}",
        target = target(),
        readable = care_readable("m", "NOT t.normal"),
        trace = Trace::read(),
        listed = listed(&format!("SELECT {MEASUREMENT_COLUMNS} FROM data m"), "x.measured_at, x.id"),
    ))
});

/// The weights of a series' period (and the six months before) and the heights, for the
/// undernutrition criteria of the weights in it; sent with [`SERIES`], whose event covers it.
static SERIES_HISTORY: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} SELECT {HISTORY_COLUMNS} FROM target t {history}",
        target = target(),
        history = history("t", ":from::timestamptz", ":to::timestamptz", "NOT t.normal", "true"),
    ))
});

/// What a person's nutrition status is read from: their latest weight, the weights of the six
/// months before it and the heights; the reading (or its refusal) recorded.
static NUTRITION: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, trace AS ({trace}) \
         SELECT EXISTS (SELECT 1 FROM target) AS visible, {HISTORY_COLUMNS} FROM who LEFT JOIN target t ON true {history}",
        target = target(),
        trace = Trace::read(),
        history = history(
            "t",
            &format!(
                "(SELECT max(w.measured_at) FROM measurements w WHERE w.tenant_id = t.tenant_id \
                   AND w.resident_id = t.id AND w.kind = 'weight' AND w.error_at IS NULL AND {readable})",
                readable = care_readable("w", "NOT t.normal")
            ),
            "NULL::timestamptz",
            "NOT t.normal",
            "t.id IS NOT NULL"
        ),
    ))
});

static SEALED_VALUES: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT value, entered_value, dek_version, error_at IS NOT NULL AS flagged FROM measurements \
         WHERE tenant_id = :tenant AND id = :id AND resident_id = :resident",
    )
});

static FLAG_ERROR: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, t AS (SELECT * FROM target), \
         m AS (UPDATE measurements m SET error_at = now(), error_by = who.user_id, error_reason = :reason, \
                 value = :value, entered_value = :entered_value, dek_version = :dek_version FROM t, who \
               WHERE m.tenant_id = t.tenant_id AND m.resident_id = t.id AND m.id = :id AND m.error_at IS NULL \
               AND m.dek_version = :sealed_under AND {readable} RETURNING m.*), \
         trace AS ({trace}) SELECT {MEASUREMENT_COLUMNS} FROM m",
        target = target(),
        readable = care_readable("m", "NOT t.normal"),
        trace = Trace::written("m"),
    ))
});

/// Records a measurement of a visible resident, in the establishment of their stay, and commits.
/// A weight comes with the person's history for its undernutrition criteria (empty otherwise).
pub async fn record(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewMeasurement,
    measured_at: DateTime<Utc>,
    event: Option<&dui_domain::handover::NewHandoverEvent>,
) -> StoreResult<(Created<Measurement>, History)> {
    let (db, tenant) = (tx.db(), tx.tenant());
    let keys = tx.sealing_keys(3).await?;
    let id = Uuid::now_v7();
    let value = seal_json(&keys, MEASUREMENT_VALUE, id, &new.reference.value)?;
    let entered_value = seal_json(&keys, MEASUREMENT_ENTERED_VALUE, id, &new.value)?;
    let (resident, kind, unit, flag, dek) = (
        resident.as_uuid(),
        new.kind.as_str(),
        new.unit.as_str(),
        new.flag.map(Flag::as_str),
        keys.active_version() as i32,
    );
    let event = crate::handover_write::EventRow::seal(&keys, event)?;
    let args = args! { resident: &resident, id: &id, kind: &kind, measured_at: &measured_at, value: &value,
    entered_value: &entered_value, entered_unit: &unit, dek_version: &dek, flag: &flag }
    .action(AuditAction::MeasurementCreate);
    let args = event.bind(args);
    let map = |row: &Row| Ok((measurement(row, &keys)?, SealedHistory::of(row)?));
    let created = create_once(tx, key, Create { id, insert: &INSERT, args, reload: &BY_ID, map: &map }).await?;
    let (measurement, sealed) = created.value;
    let history = sealed.open(db, tenant).await?;
    Ok((Created { value: measurement, replayed: created.replayed }, history))
}

/// A resident's measurements of one kind (or all) in a period, oldest first, for charts;
/// those entered in error are included, flagged. The reading is recorded as `action`. When the
/// series may hold weights, the person's history for their undernutrition criteria comes with
/// it (empty otherwise).
pub async fn series(
    tx: Tx<'_>,
    resident: ResidentId,
    kind: Option<MeasurementKind>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    action: AuditAction,
) -> StoreResult<(Vec<Measurement>, History)> {
    let (db, tenant) = (tx.db(), tx.tenant());
    let (resident, kind_code) = (resident.as_uuid(), kind.map(MeasurementKind::as_str));
    let args = args! { resident: &resident, kind: &kind_code, from: &from, to: &to }.action(action);
    let weighed = kind.is_none_or(|kind| kind == MeasurementKind::Weight);
    let (rows, sealed) = if weighed {
        let history_args = args! { resident: &resident, from: &from, to: &to };
        let (rows, history) = tx.finish_pair((&SERIES, &args), (&SERIES_HISTORY, &history_args)).await?;
        let sealed = history.first().map(SealedHistory::of).transpose()?;
        (rows, sealed)
    } else {
        (tx.finish(&SERIES, &args).await?, None)
    };
    let rows = present(rows)?;
    let measurements = db.open_rows(tenant, &rows, measurement).await?;
    let history = match sealed {
        Some(sealed) => sealed.open(db, tenant).await?,
        None => History::default(),
    };
    Ok((measurements, history))
}

/// The weights (of the six months before `at`, up to it) and heights of a resident the caller
/// records for, as the undernutrition criteria of a weight measured at `at` need them; read in
/// the write's transaction, whose trace covers it.
pub async fn history_at(tx: &mut Tx<'_>, resident: ResidentId, at: DateTime<Utc>) -> StoreResult<History> {
    let (db, tenant) = (tx.db(), tx.tenant());
    let (resident, at) = (resident.as_uuid(), Some(at));
    let rows = tx.query(&SERIES_HISTORY, &args! { resident: &resident, from: &at, to: &at }).await?;
    match rows.first() {
        Some(row) => SealedHistory::of(row)?.open(db, tenant).await,
        None => Ok(History::default()),
    }
}

/// A resident's weights and heights for their nutrition status (see [`history`]); the reading is
/// recorded as `action`. `NotFound` (recorded as refused) when the resident is out of reach.
pub async fn nutrition(tx: Tx<'_>, resident: ResidentId, action: AuditAction) -> StoreResult<History> {
    let (db, tenant) = (tx.db(), tx.tenant());
    let resident = resident.as_uuid();
    let rows = tx.finish(&NUTRITION, &args! { resident: &resident }.action(action)).await?;
    let row = rows.first().ok_or(StoreError::NotFound)?;
    if !row.try_get::<_, bool>("visible")? {
        return Err(StoreError::NotFound);
    }
    SealedHistory::of(row)?.open(db, tenant).await
}

/// Flags a measurement as entered in error (it stays), with the reason. `NotFound` when it is
/// flagged already or out of reach.
pub async fn flag_error(
    mut tx: Tx<'_>,
    resident: ResidentId,
    id: MeasurementId,
    reason: &str,
) -> StoreResult<Measurement> {
    // A row's sealed columns share one key version: its values are resealed with the reason
    // under the active key (the update applies only if nobody resealed them meanwhile).
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let row = tx.query_opt(&SEALED_VALUES, &args! { id: &id, resident: &resident }).await?;
    let row = row.ok_or(StoreError::NotFound)?;
    if row.try_get::<_, bool>("flagged")? {
        return Err(StoreError::NotFound);
    }
    let sealed_under: i32 = row.try_get("dek_version")?;
    let old = tx.keyring([sealed_under as u32]).await?;
    let value: serde_json::Value = open_json(&old, MEASUREMENT_VALUE, id, row.try_get("value")?)?;
    let entered: Option<serde_json::Value> = match row.try_get::<_, Option<&[u8]>>("entered_value")? {
        Some(sealed) => Some(open_json(&old, MEASUREMENT_ENTERED_VALUE, id, sealed)?),
        None => None,
    };
    let keys = tx.sealing_keys(2 + u64::from(entered.is_some())).await?;
    let value = seal_json(&keys, MEASUREMENT_VALUE, id, &value)?;
    let entered_value = entered.map(|e| seal_json(&keys, MEASUREMENT_ENTERED_VALUE, id, &e)).transpose()?;
    let reason = seal_json(&keys, MEASUREMENT_ERROR_REASON, id, reason)?;
    let dek = keys.active_version() as i32;
    let args = args! { resident: &resident, id: &id, reason: &reason, value: &value, entered_value: &entered_value,
    dek_version: &dek, sealed_under: &sealed_under }
    .action(AuditAction::MeasurementFlagError);
    let rows = tx.finish(&FLAG_ERROR, &args).await?;
    measurement(rows.first().ok_or(StoreError::NotFound)?, &keys)
}

/// Measurements: values and reasons sealed; a merge moves them; the resident's export lists them
/// by the time they were measured, those entered in error included (flagged, with the reason).
pub(crate) const FEATURE: Feature = Feature {
    name: "measurements",
    tables: &[Table::of_person(
        "measurements",
        &[MEASUREMENT_VALUE, MEASUREMENT_ENTERED_VALUE, MEASUREMENT_ERROR_REASON],
        "measurements m",
        MEASUREMENT_COLUMNS,
        "m.measured_at, m.id",
        |row, keys| to_json(measurement(row, keys)),
    )],
};
