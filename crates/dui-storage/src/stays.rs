//! Stays (séjours, prises en charge): admissions, transfers between establishments of the
//! organisation, discharges and moves between units. A person's stays decide who sees their
//! record (see [`crate::access`]).

use std::sync::LazyLock;

use chrono::NaiveDate;
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::record::{AdmissionMode, DischargeMode, NewStay, Stay, StayMode};
use dui_domain::{EstablishmentId, ResidentId, StayId, UnitId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO_CTE, target};
use crate::args;
use crate::feature::{Feature, Table, to_json};
use crate::idempotency::{Create, create_once};
use crate::listing::{listed, present, query_listed};
use crate::sql::{Sql, Stmt};
use crate::trace::{Reading, Trace, Variants, read_trace};
use crate::tx::Tx;
use crate::unchanged::why_unchanged;
use crate::{StoreError, StoreResult};

pub(crate) const STAY_FIELDS: &str = "id, establishment_id, unit_id, mode, admitted_on, admission_mode, discharged_on, \
     discharge_mode, transferred_from, row_version, resident_id";

/// The current stay's columns, from alias `st` (see [`CURRENT_STAY`]).
pub(crate) const STAY_COLUMNS: &str = "st.id AS stay_id, st.establishment_id AS stay_establishment_id, \
     st.unit_id AS stay_unit_id, st.mode AS stay_mode, st.admitted_on AS stay_admitted_on, \
     st.admission_mode AS stay_admission_mode, st.discharged_on AS stay_discharged_on, \
     st.discharge_mode AS stay_discharge_mode, st.transferred_from AS stay_transferred_from, \
     st.row_version AS stay_row_version";

/// Joins resident `r` to its current stay as `st`.
pub(crate) const CURRENT_STAY: &str = "LEFT JOIN LATERAL (SELECT * FROM stays s WHERE s.tenant_id = r.tenant_id \
     AND s.resident_id = r.id AND s.admitted_on <= current_date \
     AND (s.discharged_on IS NULL OR s.discharged_on > current_date) \
     ORDER BY s.admitted_on DESC, s.id DESC LIMIT 1) st ON true";

/// `place`: the establishment of the `target` resident's stay in progress (or latest stay),
/// where what is written about them is filed.
pub(crate) const PLACE: &str = "place AS (SELECT s.establishment_id FROM stays s, target t WHERE s.tenant_id = t.tenant_id \
     AND s.resident_id = t.id ORDER BY (s.discharged_on IS NULL) DESC, s.admitted_on DESC LIMIT 1)";

/// `day`: the bounds (`starts`, `ends`) of `:day` in the calendar of `:establishment`, and its
/// `timezone` — the day of a plan of tasks or doses.
pub(crate) const DAY_BOUNDS: &str = "day AS (SELECT (:day::date)::timestamp AT TIME ZONE e.timezone AS starts, \
     (:day::date + 1)::timestamp AT TIME ZONE e.timezone AS ends, e.timezone \
     FROM establishments e WHERE e.tenant_id = :tenant AND e.id = :establishment)";

/// Whether the person of row `p` (its `resident_id`) stays in `:establishment` (in `:unit`, when
/// given) on `:day`: whose tasks and doses a day's plan lists.
pub(crate) fn staying_on_day(p: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM stays s WHERE s.tenant_id = {p}.tenant_id AND s.resident_id = {p}.resident_id \
         AND s.establishment_id = :establishment AND (:unit::uuid IS NULL OR s.unit_id = :unit) \
         AND s.admitted_on <= :day AND (s.discharged_on IS NULL OR s.discharged_on > :day))"
    )
}

/// A stay from columns named with `prefix` (`""` for a stays row, `"stay_"` for a joined one).
pub(crate) fn stay_with_prefix(row: &Row, prefix: &str, resident: Uuid) -> StoreResult<Option<Stay>> {
    let column = |name: &str| format!("{prefix}{name}");
    let Some(id) = row.try_get::<_, Option<Uuid>>(column("id").as_str())? else { return Ok(None) };
    let text = |name: &str| -> StoreResult<Option<String>> { Ok(row.try_get(column(name).as_str())?) };
    let corrupt = |name: &'static str, value: String| StoreError::Corrupt { column: name, value };
    let mode = text("mode")?.unwrap_or_default();
    let admission = text("admission_mode")?.unwrap_or_default();
    Ok(Some(Stay {
        id: StayId::from_uuid(id),
        resident_id: ResidentId::from_uuid(resident),
        establishment_id: EstablishmentId::from_uuid(row.try_get(column("establishment_id").as_str())?),
        unit_id: row.try_get::<_, Option<Uuid>>(column("unit_id").as_str())?.map(UnitId::from_uuid),
        mode: StayMode::parse(&mode).ok_or_else(|| corrupt("stays.mode", mode.clone()))?,
        admitted_on: row.try_get(column("admitted_on").as_str())?,
        admission_mode: AdmissionMode::parse(&admission)
            .ok_or_else(|| corrupt("stays.admission_mode", admission.clone()))?,
        discharged_on: row.try_get(column("discharged_on").as_str())?,
        discharge_mode: match text("discharge_mode")? {
            Some(v) => Some(DischargeMode::parse(&v).ok_or_else(|| corrupt("stays.discharge_mode", v.clone()))?),
            None => None,
        },
        transferred_from: row.try_get::<_, Option<Uuid>>(column("transferred_from").as_str())?.map(StayId::from_uuid),
        row_version: row.try_get(column("row_version").as_str())?,
    }))
}

/// A stay from a row of `stays`.
pub(crate) fn stay(row: &Row) -> StoreResult<Stay> {
    let resident: Uuid = row.try_get("resident_id")?;
    stay_with_prefix(row, "", resident)?.ok_or(StoreError::NotFound)
}

/// A change to a stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StayChange {
    Discharge {
        on: NaiveDate,
        mode: DischargeMode,
    },
    /// Moves to another unit of the same establishment.
    MoveUnit {
        unit: Option<UnitId>,
    },
}

fn list_sql(recorded: bool) -> String {
    format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT s.* FROM stays s, target t WHERE s.tenant_id = t.tenant_id AND s.resident_id = t.id){trace} \
         {listed}",
        target = target(),
        trace = read_trace(recorded),
        listed = listed(&format!("SELECT {STAY_FIELDS} FROM data"), "x.admitted_on DESC, x.id DESC"),
    )
}

static LIST: Variants = Variants {
    recorded: LazyLock::new(|| Sql::new(&list_sql(true))),
    unrecorded: LazyLock::new(|| Sql::new(&list_sql(false))),
};

static ADMIT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         place AS (SELECT e.id FROM establishments e, who WHERE e.tenant_id = who.tenant_id AND e.id = :establishment \
                   AND (:unit::uuid IS NULL OR EXISTS (SELECT 1 FROM units u WHERE u.tenant_id = e.tenant_id \
                        AND u.id = :unit AND u.establishment_id = e.id))), \
         closed AS (UPDATE stays s SET discharged_on = :admitted_on, discharge_mode = 'transfer', \
                      row_version = row_version + 1, updated_at = now() FROM target t \
                    WHERE :transferred_from::uuid IS NOT NULL AND s.tenant_id = t.tenant_id AND s.resident_id = t.id \
                    AND s.id = :transferred_from AND s.discharged_on IS NULL AND s.admitted_on <= :admitted_on \
                    RETURNING s.id), \
         st AS (INSERT INTO stays (tenant_id, id, resident_id, establishment_id, unit_id, mode, admitted_on, \
                                   admission_mode, transferred_from) \
                SELECT t.tenant_id, :id, t.id, place.id, :unit, :mode, :admitted_on, :admission_mode, \
                       (SELECT id FROM closed) FROM target t, place \
                WHERE t.record_status = 'active' AND (:transferred_from::uuid IS NULL OR EXISTS (SELECT 1 FROM closed)) \
                RETURNING *), \
         trace AS ({trace}), {event} SELECT {STAY_FIELDS} FROM st",
        target = target(),
        trace = Trace::written("st"),
        event = crate::handover_write::emit_as("ev", "st", Some("st")),
    ))
});

static BY_ID: Stmt =
    LazyLock::new(|| Sql::new(&format!("SELECT {STAY_FIELDS} FROM stays WHERE tenant_id = :tenant AND id = :id")));

static CHANGE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         changed AS (UPDATE stays s SET \
                       discharged_on = CASE WHEN :move_unit THEN s.discharged_on ELSE :discharged_on END, \
                       discharge_mode = CASE WHEN :move_unit THEN s.discharge_mode ELSE :discharge_mode END, \
                       unit_id = CASE WHEN :move_unit THEN :unit ELSE s.unit_id END, \
                       row_version = s.row_version + 1, updated_at = now() \
                     FROM target t WHERE s.tenant_id = t.tenant_id AND s.resident_id = t.id AND s.id = :id \
                     AND (:expected_version::int IS NULL OR s.row_version = :expected_version) \
                     AND (:move_unit OR (s.discharged_on IS NULL AND :discharged_on >= s.admitted_on)) \
                     AND (NOT :move_unit OR :unit::uuid IS NULL OR EXISTS (SELECT 1 FROM units u \
                          WHERE u.tenant_id = s.tenant_id AND u.id = :unit AND u.establishment_id = s.establishment_id)) \
                     RETURNING s.*), \
         trace AS ({trace}), {event} SELECT {STAY_FIELDS} FROM changed",
        target = target(),
        trace = Trace::written("changed"),
        event = crate::handover_write::emit_as("ev", "changed", Some("changed")),
    ))
});

static DAY_STARTS: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT x.d::timestamp AT TIME ZONE coalesce( \
           (SELECT e.timezone FROM stays s JOIN establishments e ON e.tenant_id = s.tenant_id AND e.id = s.establishment_id \
            WHERE s.tenant_id = :tenant AND s.resident_id = :resident \
            ORDER BY s.discharged_on DESC NULLS FIRST, s.admitted_on DESC LIMIT 1), 'Europe/Paris') \
         FROM unnest(:days::date[]) WITH ORDINALITY x(d, n) ORDER BY x.n",
    )
});

/// The first instant of each day in the calendar of the person's establishment (that of the
/// stay in progress, else the latest one; Europe/Paris without one). A check, not recorded: it
/// tells nothing of the record.
pub async fn day_starts(
    tx: &mut Tx<'_>,
    resident: ResidentId,
    days: &[NaiveDate],
) -> StoreResult<Vec<chrono::DateTime<chrono::Utc>>> {
    let resident = resident.as_uuid();
    let rows = tx.query(&DAY_STARTS, &args! { resident: &resident, days: &days }).await?;
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

static TODAY: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT (now() AT TIME ZONE coalesce( \
           (SELECT e.timezone FROM stays s JOIN establishments e ON e.tenant_id = s.tenant_id AND e.id = s.establishment_id \
            WHERE s.tenant_id = :tenant AND s.resident_id = :resident \
            ORDER BY s.discharged_on DESC NULLS FIRST, s.admitted_on DESC LIMIT 1), 'Europe/Paris'))::date",
    )
});

/// Today in the calendar of the person's establishment (as [`day_starts`] reads it). A check,
/// not recorded.
pub async fn today(tx: &mut Tx<'_>, resident: ResidentId) -> StoreResult<NaiveDate> {
    let resident = resident.as_uuid();
    Ok(tx.query_one(&TODAY, &args! { resident: &resident }).await?.try_get(0)?)
}

/// A resident's stays, most recent first, as the transaction's last statement.
pub async fn list(tx: Tx<'_>, resident: ResidentId, reading: Reading) -> StoreResult<Vec<Stay>> {
    let resident = resident.as_uuid();
    let (sql, args, trace) = LIST.pick_final(reading, args! { resident: &resident }, |action| {
        crate::trail::ReadTrace::Record { action, resident }
    });
    present(tx.finish_read(sql, &args, trace).await?)?.iter().map(stay).collect()
}

/// [`list`] within an operation that goes on.
pub async fn list_within(tx: &mut Tx<'_>, resident: ResidentId, reading: Reading) -> StoreResult<Vec<Stay>> {
    let resident = resident.as_uuid();
    let (sql, args) = LIST.pick(reading, args! { resident: &resident });
    query_listed(tx, sql, &args).await?.iter().map(stay).collect()
}

/// Admits a resident already known into a new stay (a return, a temporary stay, another
/// service), and commits. A transfer closes `transferred_from` (discharged the day of the
/// admission, mode transfer) in the same statement.
pub async fn admit(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewStay,
    transferred_from: Option<StayId>,
    event: Option<&dui_domain::handover::NewHandoverEvent>,
) -> StoreResult<Created<Stay>> {
    let event = crate::handover_write::EventRow::seal_in(&tx, event).await?;
    let id = Uuid::now_v7();
    let resident = resident.as_uuid();
    let establishment = new.establishment_id.as_uuid();
    let unit = new.unit_id.map(|u| u.as_uuid());
    let from = transferred_from.map(|s| s.as_uuid());
    let (mode, admission_mode) = (new.mode.as_str(), new.admission_mode.as_str());
    let args = args! { resident: &resident, id: &id, establishment: &establishment, unit: &unit, mode: &mode,
    admitted_on: &new.admitted_on, admission_mode: &admission_mode, transferred_from: &from }
    .action(AuditAction::StayCreate);
    let args = event.bind(args);
    create_once(tx, key, Create { id, insert: &ADMIT, args, reload: &BY_ID, map: &stay }).await
}

/// Changes a stay (discharge, unit), if it is still at `expected_version`; commits.
pub async fn change(
    tx: Tx<'_>,
    resident: ResidentId,
    stay_id: StayId,
    expected_version: Option<i32>,
    change: StayChange,
    event: Option<&dui_domain::handover::NewHandoverEvent>,
) -> StoreResult<Stay> {
    let event = crate::handover_write::EventRow::seal_in(&tx, event).await?;
    let (on, mode, unit, move_unit) = match change {
        StayChange::Discharge { on, mode } => (Some(on), Some(mode.as_str()), None, false),
        StayChange::MoveUnit { unit } => (None, None, unit.map(|u| u.as_uuid()), true),
    };
    let (resident_id, id) = (resident.as_uuid(), stay_id.as_uuid());
    let args = args! { resident: &resident_id, id: &id, discharged_on: &on, discharge_mode: &mode,
    move_unit: &move_unit, unit: &unit, expected_version: &expected_version }
    .action(AuditAction::StayUpdate);
    let args = event.bind(args);
    let again = tx.again();
    match tx.finish(&CHANGE, &args).await?.first() {
        Some(row) => stay(row),
        None => Err(why_unchanged(again, "stays", resident, id, expected_version).await),
    }
}

/// Stays: the tenant's export carries them all; a merge moves them; the resident's export lists
/// them by admission date.
pub(crate) const FEATURE: Feature = Feature {
    name: "stays",
    tables: &[Table::of_person("stays", &[], "stays", STAY_FIELDS, "admitted_on, id", |row, _| to_json(stay(row)))],
};
