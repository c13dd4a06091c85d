//! Measurements (constantes): recorded, never deleted (flagged when entered in error), read as
//! series for charts. The value is sealed; kind, time and flag stay in clear. They are read by
//! those who read the care team's notes.

use chrono::{DateTime, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::measurement::{Flag, Measurement, MeasurementKind, MeasurementValue, NewMeasurement};
use dui_domain::scope::TenantScope;
use dui_domain::{EstablishmentId, MeasurementId, ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO, audit_insert, read_trace};
use crate::idempotency::CreateStatement;
use crate::record::{PLACE, target};
use crate::residents::{open_json, seal_json};
use crate::rows::{parse, parse_opt};
use crate::tx::Params;
use crate::{Db, StoreError, StoreResult};

type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);

pub(crate) const MEASUREMENT_VALUE: Column = Column::new("measurements", "value");

pub(crate) const MEASUREMENT_COLUMNS: &str = "m.id, m.resident_id, m.establishment_id, m.kind, m.measured_at, m.value, \
     m.dek_version, m.flag, m.recorded_by, m.recorded_at, m.error_at, m.error_by";

/// Reads the care team's data: where the user reads care-team notes (with an emergency opening,
/// anywhere they do).
fn care_readable(m: &str) -> String {
    format!(
        "(who.care_all OR {m}.establishment_id = ANY(who.care_est) OR (NOT t.normal AND cardinality(who.care_est) > 0))"
    )
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

impl Db {
    /// Records a measurement of a visible resident, in the establishment of their stay.
    pub async fn add_measurement(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        resident: ResidentId,
        new: &NewMeasurement,
        measured_at: DateTime<Utc>,
    ) -> StoreResult<Created<Measurement>> {
        let keys = self.keyring_for_sealing(scope.tenant_id(), 1).await?;
        let id = Uuid::now_v7();
        let value = seal_json(&keys, MEASUREMENT_VALUE, id, &new.value)?;
        let insert = format!(
            "WITH {WHO}, {}, \
             {PLACE}, \
             m AS (INSERT INTO measurements (tenant_id, id, resident_id, establishment_id, kind, measured_at, value, \
                     dek_version, flag, recorded_by) \
                   SELECT t.tenant_id, $20, t.id, p.establishment_id, $21, $22, $23, $24, $25, who.user_id \
                   FROM target t, place p, who WHERE t.record_status = 'active' RETURNING *), \
             trace AS ({}) SELECT {MEASUREMENT_COLUMNS} FROM m",
            target("$19"),
            audit_insert(
                "measurement.create",
                "'success'",
                "m.resident_id",
                "measurement",
                "m.id",
                "NOT target.normal",
                "who, m, target"
            )
        );
        let reload = format!("SELECT {MEASUREMENT_COLUMNS} FROM measurements m WHERE m.tenant_id = $1 AND m.id = $2");
        let who = self.who(scope);
        let resident_param = resident.as_uuid();
        let (kind, flag, dek) = (new.kind.as_str(), new.flag.map(Flag::as_str), keys.active_version() as i32);
        let mut params = who.params();
        params.extend::<[Param<'_>; 7]>([&resident_param, &id, &kind, &measured_at, &value, &dek, &flag]);
        let map = |row: &Row| measurement(row, &keys);
        let params: Params<'_> = &params;
        self.create_once(
            scope,
            key,
            CreateStatement { id, insert: &insert, params, reload: &reload, map: &map, audit: None },
        )
        .await
    }

    /// A resident's measurements of one kind (or all) in a period, oldest first, for charts;
    /// those entered in error are included, flagged. The reading is recorded.
    pub async fn measurement_series(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        kind: Option<MeasurementKind>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> StoreResult<Vec<Measurement>> {
        let sql = format!(
            "WITH {WHO}, {}, \
             data AS (SELECT m.* FROM measurements m, target t, who WHERE m.tenant_id = t.tenant_id AND m.resident_id = t.id \
                      AND ($20::text IS NULL OR m.kind = $20) AND ($21::timestamptz IS NULL OR m.measured_at >= $21) \
                      AND ($22::timestamptz IS NULL OR m.measured_at < $22) AND {} ORDER BY m.measured_at, m.id LIMIT 5000), \
             trace AS ({}) SELECT {MEASUREMENT_COLUMNS} FROM data m ORDER BY m.measured_at, m.id",
            target("$19"),
            care_readable("m"),
            read_trace("measurement.read")
        );
        let kind = kind.map(MeasurementKind::as_str);
        let rows = self.on_resident(scope, resident, &sql, &[&kind, &from, &to]).await?;
        if rows.is_empty() {
            self.resident_exists_for(scope, resident).await?;
        }
        self.open_rows(scope.tenant_id(), &rows, measurement).await
    }

    /// Flags a measurement as entered in error (it stays). Not found when it is flagged already
    /// or out of reach.
    pub async fn flag_measurement_error(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        id: MeasurementId,
    ) -> StoreResult<Measurement> {
        let sql = format!(
            "WITH {WHO}, {} , t AS (SELECT * FROM target), \
             m AS (UPDATE measurements m SET error_at = now(), error_by = who.user_id FROM t, who \
                   WHERE m.tenant_id = t.tenant_id AND m.resident_id = t.id AND m.id = $20 AND m.error_at IS NULL \
                   AND {} RETURNING m.*), \
             trace AS ({}) SELECT {MEASUREMENT_COLUMNS} FROM m",
            target("$19"),
            care_readable("m"),
            audit_insert(
                "measurement.flag_error",
                "'success'",
                "m.resident_id",
                "measurement",
                "m.id",
                "NOT t.normal",
                "who, m, t"
            )
        );
        let rows = self.on_resident(scope, resident, &sql, &[&id.as_uuid()]).await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        self.open_one(scope.tenant_id(), row, measurement).await
    }
}
