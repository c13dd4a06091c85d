//! Measurements (constantes): recorded, never deleted (flagged when entered in error), read as
//! series for charts. The value is sealed; kind, time and flag stay in clear. They are read by
//! those who read the care team's notes.

use chrono::{DateTime, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::measurement::{Flag, Measurement, MeasurementKind, MeasurementValue, NewMeasurement};
use dui_domain::{EstablishmentId, MeasurementId, ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use std::sync::LazyLock;

use dui_domain::audit::AuditAction;

use crate::access::{WHO_CTE, target};
use crate::args;
use crate::feature::{Feature, Table, to_json};
use crate::idempotency::{Create, create_once};
use crate::listing::{listed, open_listed};
use crate::rows::{parse, parse_opt};
use crate::sealing::{open_json, seal_json};
use crate::sql::{Sql, Stmt};
use crate::stays::PLACE;
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

pub(crate) const MEASUREMENT_VALUE: Column = Column::new("measurements", "value");

pub(crate) const MEASUREMENT_COLUMNS: &str = "m.id, m.resident_id, m.establishment_id, m.kind, m.measured_at, m.value, \
     m.dek_version, m.flag, m.recorded_by, m.recorded_at, m.error_at, m.error_by";

/// Reads the care team's data: where the user reads care-team notes (with an emergency opening,
/// anywhere they do).
fn care_readable(m: &str) -> String {
    crate::access::care_readable(m, "NOT t.normal")
}

pub(crate) fn measurement(row: &Row, keys: &Keyring) -> StoreResult<Measurement> {
    let id: Uuid = row.try_get("id")?;
    let kind = parse(row, "kind", MeasurementKind::parse)?;
    let value: MeasurementValue = open_json(keys, MEASUREMENT_VALUE, id, row.try_get("value")?)?;
    Ok(Measurement {
        id: MeasurementId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        kind,
        measured_at: row.try_get("measured_at")?,
        value,
        unit: kind.unit(),
        flag: parse_opt(row, "flag", Flag::parse)?,
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        entered_in_error_at: row.try_get("error_at")?,
        entered_in_error_by: row.try_get::<_, Option<Uuid>>("error_by")?.map(UserId::from_uuid),
    })
}

static INSERT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, {PLACE}, \
         m AS (INSERT INTO measurements (tenant_id, id, resident_id, establishment_id, kind, measured_at, value, \
                 dek_version, flag, recorded_by) \
               SELECT t.tenant_id, :id, t.id, p.establishment_id, :kind, :measured_at, :value, :dek_version, :flag, \
                      who.user_id \
               FROM target t, place p, who WHERE t.record_status = 'active' RETURNING *), \
         trace AS ({trace}) SELECT {MEASUREMENT_COLUMNS} FROM m",
        target = target(),
        trace = Trace::written("m"),
    ))
});

static BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {MEASUREMENT_COLUMNS} FROM measurements m WHERE m.tenant_id = :tenant AND m.id = :id"))
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
        readable = care_readable("m"),
        trace = Trace::read(),
        listed = listed(&format!("SELECT {MEASUREMENT_COLUMNS} FROM data m"), "x.measured_at, x.id"),
    ))
});

static FLAG_ERROR: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, t AS (SELECT * FROM target), \
         m AS (UPDATE measurements m SET error_at = now(), error_by = who.user_id FROM t, who \
               WHERE m.tenant_id = t.tenant_id AND m.resident_id = t.id AND m.id = :id AND m.error_at IS NULL \
               AND {readable} RETURNING m.*), \
         trace AS ({trace}) SELECT {MEASUREMENT_COLUMNS} FROM m",
        target = target(),
        readable = care_readable("m"),
        trace = Trace::written("m"),
    ))
});

/// Records a measurement of a visible resident, in the establishment of their stay, and commits.
pub async fn record(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewMeasurement,
    measured_at: DateTime<Utc>,
) -> StoreResult<Created<Measurement>> {
    let keys = tx.sealing_keys(1).await?;
    let id = Uuid::now_v7();
    let value = seal_json(&keys, MEASUREMENT_VALUE, id, &new.value)?;
    let (resident, kind, flag, dek) =
        (resident.as_uuid(), new.kind.as_str(), new.flag.map(Flag::as_str), keys.active_version() as i32);
    let args = args! { resident: &resident, id: &id, kind: &kind, measured_at: &measured_at, value: &value,
    dek_version: &dek, flag: &flag }
    .action(AuditAction::MeasurementCreate);
    let map = |row: &Row| measurement(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT, args, reload: &BY_ID, map: &map }).await
}

/// A resident's measurements of one kind (or all) in a period, oldest first, for charts;
/// those entered in error are included, flagged. The reading is recorded as `action`.
pub async fn series(
    tx: Tx<'_>,
    resident: ResidentId,
    kind: Option<MeasurementKind>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    action: AuditAction,
) -> StoreResult<Vec<Measurement>> {
    let (resident, kind) = (resident.as_uuid(), kind.map(MeasurementKind::as_str));
    let args = args! { resident: &resident, kind: &kind, from: &from, to: &to }.action(action);
    open_listed(tx, &SERIES, &args, None, measurement).await
}

/// Flags a measurement as entered in error (it stays). `NotFound` when it is flagged already
/// or out of reach.
pub async fn flag_error(tx: Tx<'_>, resident: ResidentId, id: MeasurementId) -> StoreResult<Measurement> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let args = args! { resident: &resident, id: &id }.action(AuditAction::MeasurementFlagError);
    let db = tx.db();
    let tenant = tx.tenant();
    let rows = tx.finish(&FLAG_ERROR, &args).await?;
    let row = rows.first().ok_or(StoreError::NotFound)?;
    db.open_one(tenant, row, measurement).await
}

/// Measurements: values sealed; a merge moves them; the resident's export lists them by the
/// time they were measured, those entered in error included (flagged).
pub(crate) const FEATURE: Feature = Feature {
    name: "measurements",
    tables: &[Table::of_person(
        "measurements",
        &[MEASUREMENT_VALUE],
        "measurements m",
        MEASUREMENT_COLUMNS,
        "m.measured_at, m.id",
        |row, keys| to_json(measurement(row, keys)),
    )],
};
