//! The daily care plan: each day's tasks from the scheduled actions of the plans in force and
//! from the dressings of the wounds' care protocols in force, in the establishment's time zone,
//! with what was recorded for them; and the records themselves (done, not done, refused;
//! amended, never deleted).
//!
//! A dressing is recorded as a plan's task is, in the same table: the record names the protocol
//! version (`wound_protocol_id`) instead of a plan version, and its `action_id` is the wound.
//! (A wound's protocol is a nursing prescription that changes with the wound; making it an
//! action of the projet personnalisé would make each change a new version of the plan, to be
//! validated with the person.)

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::care_plan::PlanContent;
use dui_domain::care_task::{NewTaskRecord, Task, TaskKind, TaskRecord, TaskStatus, task_state};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::resident::Identity;
use dui_domain::transmission::ResidentName;
use dui_domain::{EstablishmentId, ResidentId, TaskRecordId, UnitId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use std::sync::LazyLock;

use dui_domain::audit::AuditAction;

use crate::access::{WHO_CTE, target, visible};
use crate::args;
use crate::care_plans::PLAN_CONTENT;
use crate::feature::{Feature, Table, to_json};
use crate::idempotency::{Create, create_once};
use crate::listing::{listed, open_listed};
use crate::residents::RESIDENT_IDENTITY;
use crate::rows::parse;
use crate::sealing::{open_json, seal_json};
use crate::sql::{Sql, Stmt};
use crate::stays::{DAY_BOUNDS, staying_on_day};
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

pub(crate) const TASK_REASON: Column = Column::new("care_task_records", "reason");

pub(crate) const TASK_COLUMNS: &str = "k.id, k.resident_id, k.plan_version_id, k.wound_protocol_id, k.action_id, \
     k.scheduled_for, k.status, k.performed_at, k.reason, k.dek_version, k.recorded_by, k.recorded_at, k.amends";

pub(crate) fn task_record(row: &Row, keys: &Keyring) -> StoreResult<TaskRecord> {
    let id: Uuid = row.try_get("id")?;
    let reason = row
        .try_get::<_, Option<&[u8]>>("reason")?
        .map(|r| open_json::<String>(keys, TASK_REASON, id, r))
        .transpose()?;
    Ok(TaskRecord {
        id: TaskRecordId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        plan_version_id: row.try_get("plan_version_id")?,
        wound_protocol_id: row.try_get("wound_protocol_id")?,
        action_id: row.try_get("action_id")?,
        scheduled_for: row.try_get("scheduled_for")?,
        status: parse(row, "status", TaskStatus::parse)?,
        performed_at: row.try_get("performed_at")?,
        reason,
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        amends: row.try_get::<_, Option<Uuid>>("amends")?.map(TaskRecordId::from_uuid),
    })
}

/// Where a task comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskSource {
    /// An action of this plan version.
    Plan(Uuid),
    /// A dressing of this version of a wound's care protocol.
    Dressing(Uuid),
}

/// What a record is about: an occurrence of a scheduled action of a plan version (`action_id`),
/// or of a wound's dressing (`action_id` is the wound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskRef {
    pub source: TaskSource,
    pub action_id: Uuid,
    pub scheduled_for: DateTime<Utc>,
}

impl TaskRef {
    fn ids(&self) -> (Option<Uuid>, Option<Uuid>) {
        match self.source {
            TaskSource::Plan(id) => (Some(id), None),
            TaskSource::Dressing(id) => (None, Some(id)),
        }
    }
}

static LOCAL_TIMES: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT x.at AT TIME ZONE e.timezone FROM establishments e, unnest(:instants::timestamptz[]) WITH ORDINALITY x(at, n) \
         WHERE e.tenant_id = :tenant AND e.id = :establishment ORDER BY x.n",
    )
});

static INSTANTS: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT x.at AT TIME ZONE e.timezone FROM establishments e, unnest(:locals::timestamp[]) WITH ORDINALITY x(at, n) \
         WHERE e.tenant_id = :tenant AND e.id = :establishment ORDER BY x.n",
    )
});

static CURRENT_SHIFT: Stmt = LazyLock::new(|| {
    Sql::new(
        "WITH e AS (SELECT timezone, shift_starts FROM establishments WHERE tenant_id = :tenant AND id = :establishment), \
         starts AS (SELECT (d::date + s) AT TIME ZONE e.timezone AS at FROM e, \
           generate_series((:now::timestamptz AT TIME ZONE e.timezone)::date - 1, \
                           (:now::timestamptz AT TIME ZONE e.timezone)::date + 1, interval '1 day') d, \
           unnest(e.shift_starts) s) \
         SELECT (SELECT max(at) FROM starts WHERE at <= :now) AS since, (SELECT min(at) FROM starts WHERE at > :now) AS until",
    )
});

static DAY_PLANS: Stmt = LazyLock::new(|| {
    let each_resident =
        Trace::each_listed("who, (SELECT resident_id FROM plans UNION SELECT resident_id FROM dressings) d");
    Sql::new(&format!(
        "WITH {WHO_CTE}, {DAY_BOUNDS}, \
         plans AS MATERIALIZED (SELECT p.id, p.resident_id, p.content, p.dek_version, p.activated_at, p.ended_at, \
                    r.identity AS resident_identity, r.dek_version AS resident_dek_version \
                  FROM care_plan_versions p JOIN residents r ON r.tenant_id = p.tenant_id AND r.id = p.resident_id, who, day \
                  WHERE p.tenant_id = who.tenant_id AND p.status <> 'draft' \
                  AND p.activated_at < day.ends AND (p.ended_at IS NULL OR p.ended_at > day.starts) \
                  AND {staying} AND {visible}), \
         dressings AS MATERIALIZED (SELECT p.id, p.resident_id, p.content, p.dek_version, p.recorded_at AS activated_at, \
                    p.ended_at, r.identity AS resident_identity, r.dek_version AS resident_dek_version, \
                    w.id AS wound_id, w.kind AS wound_kind, w.site AS wound_site \
                  FROM wound_protocols p JOIN wounds w ON w.tenant_id = p.tenant_id AND w.id = p.wound_id \
                    JOIN residents r ON r.tenant_id = p.tenant_id AND r.id = p.resident_id, who, day \
                  WHERE p.tenant_id = who.tenant_id AND p.recorded_at < day.ends \
                  AND (p.ended_at IS NULL OR p.ended_at > day.starts) \
                  AND (who.care_all OR p.establishment_id = ANY(who.care_est)) AND {staying} AND {visible}), \
         trace AS ({trace}) \
         SELECT 'plan' AS source, id, resident_id, content, dek_version, activated_at, ended_at, resident_identity, \
                resident_dek_version, NULL::uuid AS wound_id, NULL::text AS wound_kind, NULL::text AS wound_site \
         FROM plans \
         UNION ALL SELECT 'dressing', id, resident_id, content, dek_version, activated_at, ended_at, resident_identity, \
                resident_dek_version, wound_id, wound_kind, wound_site FROM dressings",
        visible = visible("r"),
        trace = each_resident.sql(),
        staying = staying_on_day("p"),
    ))
});

static DAY_RECORDS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {TASK_COLUMNS} FROM care_task_records k WHERE k.tenant_id = :tenant AND k.establishment_id = :establishment \
         AND k.scheduled_for BETWEEN :first AND :last ORDER BY k.recorded_at, k.id"
    ))
});

static INSERT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         plan AS (SELECT p.id AS plan_version_id, NULL::uuid AS wound_protocol_id, p.establishment_id \
                  FROM care_plan_versions p, target t WHERE p.tenant_id = t.tenant_id \
                  AND p.resident_id = t.id AND p.id = :plan_version \
                  UNION ALL SELECT NULL, w.id, w.establishment_id FROM wound_protocols w, target t \
                  WHERE w.tenant_id = t.tenant_id AND w.resident_id = t.id AND w.id = :wound_protocol), \
         k AS (INSERT INTO care_task_records (tenant_id, id, resident_id, establishment_id, plan_version_id, \
                 wound_protocol_id, action_id, scheduled_for, status, performed_at, reason, dek_version, recorded_by, \
                 amends) \
               SELECT t.tenant_id, :id, t.id, plan.establishment_id, plan.plan_version_id, plan.wound_protocol_id, \
                      :action_id, :scheduled_for, :status, :performed_at, :reason, :dek_version, who.user_id, :amends \
               FROM target t, plan, who \
               WHERE :amends::uuid IS NULL OR EXISTS (SELECT 1 FROM care_task_records o WHERE o.tenant_id = t.tenant_id \
                     AND o.id = :amends AND o.resident_id = t.id AND o.action_id = :action_id \
                     AND o.scheduled_for = :scheduled_for) \
               RETURNING *), \
         trace AS ({trace}), {event} SELECT {TASK_COLUMNS} FROM k",
        target = target(),
        trace = Trace::written("k"),
        event = crate::handover_write::emit("k"),
    ))
});

static BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {TASK_COLUMNS} FROM care_task_records k WHERE k.tenant_id = :tenant AND k.id = :id"))
});

static REF: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} SELECT k.plan_version_id, k.wound_protocol_id, k.action_id, k.scheduled_for \
         FROM care_task_records k, target t WHERE k.tenant_id = t.tenant_id AND k.resident_id = t.id AND k.id = :id",
        target = target()
    ))
});

static RECORDS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT k.* FROM care_task_records k, target t, who WHERE k.tenant_id = t.tenant_id \
                  AND k.resident_id = t.id AND k.scheduled_for >= :from AND k.scheduled_for < :to \
                  AND (k.wound_protocol_id IS NULL OR {dressings_readable}) \
                  ORDER BY k.scheduled_for, k.recorded_at LIMIT 5000), \
         trace AS ({trace}) \
         {listed}",
        target = target(),
        trace = Trace::read(),
        listed = listed(&format!("SELECT {TASK_COLUMNS} FROM data k"), "x.scheduled_for, x.recorded_at, x.id"),
        // A dressing tells of a wound: the care team's data.
        dressings_readable = crate::access::care_readable("k", "NOT t.normal"),
    ))
});

/// The local time, in `establishment`'s time zone, of each instant. `NotFound` when the
/// establishment is not the tenant's.
pub async fn local_times(
    tx: &mut Tx<'_>,
    establishment: EstablishmentId,
    instants: &[DateTime<Utc>],
) -> StoreResult<Vec<NaiveDateTime>> {
    let establishment = establishment.as_uuid();
    let rows = tx.query(&LOCAL_TIMES, &args! { establishment: &establishment, instants: &instants }).await?;
    if rows.len() != instants.len() {
        return Err(StoreError::NotFound);
    }
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// The instant of each local time of `establishment` (its time zone), in order. `NotFound` when
/// the establishment is not the tenant's.
pub async fn instants(
    tx: &mut Tx<'_>,
    establishment: EstablishmentId,
    locals: &[NaiveDateTime],
) -> StoreResult<Vec<DateTime<Utc>>> {
    if locals.is_empty() {
        return Ok(Vec::new());
    }
    let establishment = establishment.as_uuid();
    let rows = tx.query(&INSTANTS, &args! { establishment: &establishment, locals: &locals }).await?;
    if rows.len() != locals.len() {
        return Err(StoreError::NotFound);
    }
    rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// The shift in progress at `now` in the establishment: from its start to the next shift's
/// start, as instants (the establishment's shifts and time zone).
pub async fn current_shift(
    tx: &mut Tx<'_>,
    establishment: EstablishmentId,
    now: DateTime<Utc>,
) -> StoreResult<(DateTime<Utc>, DateTime<Utc>)> {
    let establishment = establishment.as_uuid();
    let row = tx.query_one(&CURRENT_SHIFT, &args! { establishment: &establishment, now: &now }).await?;
    match (row.try_get::<_, Option<DateTime<Utc>>>("since")?, row.try_get::<_, Option<DateTime<Utc>>>("until")?) {
        (Some(since), Some(until)) => Ok((since, until)),
        _ => Err(StoreError::NotFound),
    }
}

/// An occurrence of the day, before its local times are instants.
struct Pending {
    /// When its source is in force.
    in_force: (DateTime<Utc>, Option<DateTime<Utc>>),
    resident: ResidentName,
    source: TaskSource,
    action_id: Uuid,
    what: String,
    who: dui_domain::care_plan::Performer,
    at: NaiveDateTime,
    until: Option<NaiveDateTime>,
}

/// The tasks of `day` for the people with a stay in progress in the establishment (or the
/// unit) whom the caller sees, from the scheduled actions of the plan versions in force that
/// day — each occurrence from the version in force at its time, none before the plan's
/// activation — and from the wounds' care protocols in force (the dressings, for those who read
/// the care team's data there), in the establishment's time zone, with their latest records; `missed_after`
/// is the window after which a task not recorded is missed. Each person listed is recorded as
/// read.
pub async fn day_tasks(
    tx: &mut Tx<'_>,
    establishment: EstablishmentId,
    unit: Option<UnitId>,
    day: NaiveDate,
    now: DateTime<Utc>,
    missed_after: chrono::Duration,
) -> StoreResult<Vec<Task>> {
    let (establishment_id, unit) = (establishment.as_uuid(), unit.map(|u| u.as_uuid()));
    let args = args! { establishment: &establishment_id, unit: &unit, day: &day }.action(AuditAction::CareTaskList);
    let rows = tx.query(&DAY_PLANS, &args).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut needed = Vec::new();
    for row in &rows {
        needed.push(row.try_get::<_, i32>("dek_version")? as u32);
        needed.push(row.try_get::<_, i32>("resident_dek_version")? as u32);
    }
    let keys = tx.keyring(needed).await?;
    // Every occurrence, in local time; then their instants, in one round trip.
    let mut pending = Vec::new();
    for row in &rows {
        let id: Uuid = row.try_get("id")?;
        let in_force: (DateTime<Utc>, Option<DateTime<Utc>>) = (row.try_get("activated_at")?, row.try_get("ended_at")?);
        let resident = ResidentId::from_uuid(row.try_get("resident_id")?);
        let identity: Identity =
            open_json(&keys, RESIDENT_IDENTITY, resident.as_uuid(), row.try_get("resident_identity")?)?;
        let name = ResidentName::of(identity, resident);
        // What is scheduled: a plan's actions, or a wound's dressing.
        let scheduled = match row.try_get::<_, &str>("source")? {
            "dressing" => {
                let protocol = crate::wounds::protocol_content(&keys, id, row.try_get("content")?)?;
                let kind = parse(row, "wound_kind", dui_domain::wound::WoundKind::parse)?;
                let site = parse(row, "wound_site", dui_domain::wound::BodySite::parse)?;
                let what = protocol.task_label(kind, site);
                let (schedule, who, from, to) = (protocol.schedule, protocol.who, protocol.from, protocol.to);
                vec![(TaskSource::Dressing(id), row.try_get::<_, Uuid>("wound_id")?, what, who, schedule, from, to)]
            }
            _ => {
                let content: PlanContent = open_json(&keys, PLAN_CONTENT, id, row.try_get("content")?)?;
                content
                    .actions
                    .into_iter()
                    .filter_map(|a| {
                        let (schedule, action_id) = (a.schedule?, a.id?);
                        Some((TaskSource::Plan(id), action_id, a.what, a.who, schedule, a.from, a.to))
                    })
                    .collect()
            }
        };
        for (source, action_id, what, who, schedule, from, to) in scheduled {
            for occurrence in schedule.occurrences_within(day, from, to) {
                let until = occurrence.until.map(|u| day.and_time(u));
                pending.push(Pending {
                    in_force,
                    resident: name.clone(),
                    source,
                    action_id,
                    what: what.clone(),
                    who,
                    at: day.and_time(occurrence.at),
                    until,
                });
            }
        }
    }
    let locals: Vec<NaiveDateTime> = pending.iter().flat_map(|p| [Some(p.at), p.until]).flatten().collect();
    let instants = tx.query(&INSTANTS, &args! { establishment: &establishment_id, locals: &locals }).await?;
    let mut instants = instants.iter().map(|r| r.try_get::<_, DateTime<Utc>>(0));
    let mut tasks = Vec::with_capacity(pending.len());
    for Pending { in_force: (activated, ended), resident, source, action_id, what, who, until, .. } in pending {
        let scheduled_for = instants.next().ok_or(StoreError::NotFound)??;
        let until = match until {
            Some(_) => Some(instants.next().ok_or(StoreError::NotFound)??),
            None => None,
        };
        if scheduled_for < activated || ended.is_some_and(|ended| scheduled_for >= ended) {
            // Before this version was in force, or after: not its task.
            continue;
        }
        let (plan_version_id, wound_protocol_id) = TaskRef { source, action_id, scheduled_for }.ids();
        tasks.push(Task {
            resident,
            kind: match source {
                TaskSource::Plan(_) => TaskKind::CarePlan,
                TaskSource::Dressing(_) => TaskKind::Dressing,
            },
            plan_version_id,
            wound_protocol_id,
            action_id: Some(action_id),
            restraint_id: None,
            reassessment_id: None,
            what,
            who,
            scheduled_for,
            until,
            state: task_state(scheduled_for, None, now, missed_after),
            record: None,
        });
    }
    // The day's records, the latest of each occurrence (amendments after what they amend).
    if let (Some(first), Some(last)) =
        (tasks.iter().map(|t| t.scheduled_for).min(), tasks.iter().map(|t| t.scheduled_for).max())
    {
        let args = args! { establishment: &establishment_id, first: &first, last: &last };
        let records = tx.query(&DAY_RECORDS, &args).await?;
        let mut latest: HashMap<(Uuid, DateTime<Utc>), TaskRecord> = HashMap::new();
        if !records.is_empty() {
            let keys = tx.keyring(crate::sealing::versions(&records)?).await?;
            for row in &records {
                let record = task_record(row, &keys)?;
                latest.insert((record.action_id, record.scheduled_for), record);
            }
        }
        for task in &mut tasks {
            let Some(action_id) = task.action_id else { continue };
            if let Some(record) = latest.remove(&(action_id, task.scheduled_for)) {
                task.state = task_state(task.scheduled_for, Some(record.status), now, missed_after);
                task.record = Some(record);
            }
        }
    }
    tasks.sort_by(|a, b| {
        (a.scheduled_for, &a.resident.family_name, a.action_id).cmp(&(
            b.scheduled_for,
            &b.resident.family_name,
            b.action_id,
        ))
    });
    Ok(tasks)
}

/// Records what happened for an occurrence of a scheduled action (`amends`: correcting an
/// earlier record of the same occurrence), and commits.
pub async fn record(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    task: TaskRef,
    new: &NewTaskRecord,
    amends: Option<TaskRecordId>,
    event: Option<&dui_domain::handover::NewHandoverEvent>,
) -> StoreResult<Created<TaskRecord>> {
    let keys = tx.sealing_keys(2).await?;
    let id = Uuid::now_v7();
    let reason = new.reason.as_ref().map(|r| seal_json(&keys, TASK_REASON, id, r)).transpose()?;
    let dek = reason.as_ref().map(|_| keys.active_version() as i32);
    let resident = resident.as_uuid();
    let status = new.status.as_str();
    let amends_id = amends.map(|a| a.as_uuid());
    let action = if amends.is_some() { AuditAction::CareTaskAmend } else { AuditAction::CareTaskRecord };
    let (plan_version, wound_protocol) = task.ids();
    let args = args! { resident: &resident, id: &id, plan_version: &plan_version, wound_protocol: &wound_protocol,
    action_id: &task.action_id, scheduled_for: &task.scheduled_for, status: &status, performed_at: &new.performed_at,
    reason: &reason, dek_version: &dek, amends: &amends_id }
    .action(action);
    let event = crate::handover_write::EventRow::seal(&keys, event)?;
    let args = event.bind(args);
    let map = |row: &Row| task_record(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT, args, reload: &BY_ID, map: &map }).await
}

/// What one record of the person is about (to amend it): a check, not recorded.
pub async fn record_ref(tx: &mut Tx<'_>, resident: ResidentId, id: TaskRecordId) -> StoreResult<TaskRef> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let row = tx.query_one(&REF, &args! { resident: &resident, id: &id }).await?;
    let source = match (row.try_get::<_, Option<Uuid>>("plan_version_id")?, row.try_get("wound_protocol_id")?) {
        (Some(plan), _) => TaskSource::Plan(plan),
        (None, Some(protocol)) => TaskSource::Dressing(protocol),
        (None, None) => return Err(StoreError::Corrupt { column: "plan_version_id", value: "null".to_owned() }),
    };
    Ok(TaskRef { source, action_id: row.try_get("action_id")?, scheduled_for: row.try_get("scheduled_for")? })
}

/// The person's task records in a period (traceability of care), oldest first, amendments
/// included. Recorded.
pub async fn records(
    tx: Tx<'_>,
    resident: ResidentId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> StoreResult<Vec<TaskRecord>> {
    let resident = resident.as_uuid();
    let args = args! { resident: &resident, from: &from, to: &to }.action(AuditAction::CareTaskRead);
    open_listed(tx, &RECORDS, &args, None, task_record).await
}

/// Task records: reasons sealed; a merge moves them; the resident's export lists them by the
/// time the task was scheduled, amendments included.
pub(crate) const FEATURE: Feature = Feature {
    name: "care_tasks",
    tables: &[Table::of_person(
        "care_task_records",
        &[TASK_REASON],
        "care_task_records k",
        TASK_COLUMNS,
        "k.scheduled_for, k.recorded_at, k.id",
        |row, keys| to_json(task_record(row, keys)),
    )],
};
