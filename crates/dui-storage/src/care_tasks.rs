//! The daily care plan: each day's tasks from the scheduled actions of the plans in force, in
//! the establishment's time zone, with what was recorded for them; and the records themselves
//! (done, not done, refused; amended, never deleted).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::care_plan::PlanContent;
use dui_domain::care_task::{NewTaskRecord, Task, TaskRecord, TaskStatus, task_state};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::resident::Identity;
use dui_domain::scope::TenantScope;
use dui_domain::transmission::ResidentName;
use dui_domain::{EstablishmentId, ResidentId, TaskRecordId, UnitId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO, audit_insert, read_trace, visible};
use crate::care_plans::PLAN_CONTENT;
use crate::idempotency::CreateStatement;
use crate::record::target;
use crate::residents::{RESIDENT_IDENTITY, open_json, seal_json};
use crate::rows::parse;
use crate::tx::Params;
use crate::{Db, StoreError, StoreResult};

type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);

pub(crate) const TASK_REASON: Column = Column::new("care_task_records", "reason");

pub(crate) const TASK_COLUMNS: &str = "k.id, k.resident_id, k.plan_version_id, k.action_id, k.scheduled_for, k.status, \
     k.performed_at, k.reason, k.dek_version, k.recorded_by, k.recorded_at, k.amends";

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

/// What a record is about: an occurrence of a scheduled action of a plan version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskRef {
    pub plan_version_id: Uuid,
    pub action_id: Uuid,
    pub scheduled_for: DateTime<Utc>,
}

impl Db {
    /// The local time, in `establishment`'s time zone, of each instant (and the zone's name).
    pub async fn local_times(
        &self,
        scope: &TenantScope,
        establishment: EstablishmentId,
        instants: &[DateTime<Utc>],
    ) -> StoreResult<Vec<NaiveDateTime>> {
        let tenant = scope.tenant_id();
        let rows = self
            .read(
                tenant,
                "SELECT x.at AT TIME ZONE e.timezone FROM establishments e, unnest($3::timestamptz[]) WITH ORDINALITY x(at, n) \
                 WHERE e.tenant_id = $1 AND e.id = $2 ORDER BY x.n",
                &[&tenant.as_uuid(), &establishment.as_uuid(), &instants],
            )
            .await?;
        if rows.len() != instants.len() {
            return Err(StoreError::NotFound);
        }
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// The shift in progress at `now` in the establishment: from its start to the next shift's
    /// start, as instants (the establishment's shifts and time zone).
    pub async fn current_shift(
        &self,
        scope: &TenantScope,
        establishment: EstablishmentId,
        now: DateTime<Utc>,
    ) -> StoreResult<(DateTime<Utc>, DateTime<Utc>)> {
        let tenant = scope.tenant_id();
        let rows = self
            .read(
                tenant,
                "WITH e AS (SELECT timezone, shift_starts FROM establishments WHERE tenant_id = $1 AND id = $2),                  starts AS (SELECT (d::date + s) AT TIME ZONE e.timezone AS at FROM e,                    generate_series(($3::timestamptz AT TIME ZONE e.timezone)::date - 1,                                    ($3::timestamptz AT TIME ZONE e.timezone)::date + 1, interval '1 day') d,                    unnest(e.shift_starts) s)                  SELECT (SELECT max(at) FROM starts WHERE at <= $3) AS since, (SELECT min(at) FROM starts WHERE at > $3) AS until",
                &[&tenant.as_uuid(), &establishment.as_uuid(), &now],
            )
            .await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        match (row.try_get::<_, Option<DateTime<Utc>>>("since")?, row.try_get::<_, Option<DateTime<Utc>>>("until")?) {
            (Some(since), Some(until)) => Ok((since, until)),
            _ => Err(StoreError::NotFound),
        }
    }

    /// The tasks of `day` for the people with a stay in progress in the establishment (or the
    /// unit) whom the scope sees, from the scheduled actions of their plans in force, in the
    /// establishment's time zone, with their latest records. Each person listed is recorded
    /// as read.
    pub async fn day_tasks(
        &self,
        scope: &TenantScope,
        establishment: EstablishmentId,
        unit: Option<UnitId>,
        day: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Task>> {
        let tenant = scope.tenant_id();
        let who = self.who(scope);
        let sql = format!(
            "WITH {WHO}, \
             plans AS MATERIALIZED (SELECT p.id, p.resident_id, p.content, p.dek_version, r.identity AS resident_identity, \
                        r.dek_version AS resident_dek_version \
                      FROM care_plan_versions p JOIN residents r ON r.tenant_id = p.tenant_id AND r.id = p.resident_id, who \
                      WHERE p.tenant_id = who.tenant_id AND p.status = 'active' \
                      AND EXISTS (SELECT 1 FROM stays s WHERE s.tenant_id = p.tenant_id AND s.resident_id = p.resident_id \
                                  AND s.establishment_id = $19 AND ($20::uuid IS NULL OR s.unit_id = $20) \
                                  AND s.admitted_on <= $21 AND (s.discharged_on IS NULL OR s.discharged_on > $21)) \
                      AND {}), \
             trace AS ({}) SELECT * FROM plans",
            visible("r"),
            audit_insert(
                "care_task.list",
                "'success'",
                "plans.resident_id",
                "resident",
                "plans.resident_id",
                "false",
                "who, plans"
            )
        );
        let (establishment_param, unit_param) = (establishment.as_uuid(), unit.map(|u| u.as_uuid()));
        let mut params = who.params();
        params.extend::<[Param<'_>; 3]>([&establishment_param, &unit_param, &day]);
        let rows = self.write(tenant, &sql, &params).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut needed = Vec::new();
        for row in &rows {
            needed.push(row.try_get::<_, i32>("dek_version")? as u32);
            needed.push(row.try_get::<_, i32>("resident_dek_version")? as u32);
        }
        let keys = self.keyring(tenant, needed).await?;
        // Every occurrence, in local time; then their instants, in one round trip.
        let mut pending = Vec::new();
        for row in &rows {
            let plan: Uuid = row.try_get("id")?;
            let resident = ResidentId::from_uuid(row.try_get("resident_id")?);
            let content: PlanContent = open_json(&keys, PLAN_CONTENT, plan, row.try_get("content")?)?;
            let identity: Identity =
                open_json(&keys, RESIDENT_IDENTITY, resident.as_uuid(), row.try_get("resident_identity")?)?;
            let name = ResidentName::of(identity, resident);
            for action in content.actions {
                let (Some(schedule), Some(action_id)) = (&action.schedule, action.id) else { continue };
                for occurrence in schedule.occurrences_within(day, action.from, action.to) {
                    let until = occurrence.until.map(|u| day.and_time(u));
                    pending.push((
                        name.clone(),
                        plan,
                        action_id,
                        action.what.clone(),
                        action.who,
                        day.and_time(occurrence.at),
                        until,
                    ));
                }
            }
        }
        let locals: Vec<NaiveDateTime> = pending.iter().flat_map(|p| [Some(p.5), p.6]).flatten().collect();
        let instants = self
            .read(
                tenant,
                "SELECT x.at AT TIME ZONE e.timezone FROM establishments e, unnest($3::timestamp[]) WITH ORDINALITY x(at, n) \
                 WHERE e.tenant_id = $1 AND e.id = $2 ORDER BY x.n",
                &[&tenant.as_uuid(), &establishment_param, &locals],
            )
            .await?;
        let mut instants = instants.iter().map(|r| r.try_get::<_, DateTime<Utc>>(0));
        let mut tasks = Vec::with_capacity(pending.len());
        for (resident, plan_version_id, action_id, what, who, _, until) in pending {
            let scheduled_for = instants.next().ok_or(StoreError::NotFound)??;
            let until = match until {
                Some(_) => Some(instants.next().ok_or(StoreError::NotFound)??),
                None => None,
            };
            tasks.push(Task {
                resident,
                plan_version_id,
                action_id,
                what,
                who,
                scheduled_for,
                until,
                state: task_state(scheduled_for, None, now),
                record: None,
            });
        }
        // The day's records, the latest of each occurrence (amendments after what they amend).
        if let (Some(first), Some(last)) =
            (tasks.iter().map(|t| t.scheduled_for).min(), tasks.iter().map(|t| t.scheduled_for).max())
        {
            let records = self
                .read(
                    tenant,
                    &format!(
                        "SELECT {TASK_COLUMNS} FROM care_task_records k WHERE k.tenant_id = $1 AND k.establishment_id = $2 \
                         AND k.scheduled_for BETWEEN $3 AND $4 ORDER BY k.recorded_at, k.id"
                    ),
                    &[&tenant.as_uuid(), &establishment_param, &first, &last],
                )
                .await?;
            let mut latest: HashMap<(Uuid, DateTime<Utc>), TaskRecord> = HashMap::new();
            if !records.is_empty() {
                let versions = crate::residents::versions(&records)?;
                let keys = self.keyring(tenant, versions).await?;
                for row in &records {
                    let record = task_record(row, &keys)?;
                    latest.insert((record.action_id, record.scheduled_for), record);
                }
            }
            for task in &mut tasks {
                if let Some(record) = latest.remove(&(task.action_id, task.scheduled_for)) {
                    task.state = task_state(task.scheduled_for, Some(record.status), now);
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
    /// earlier record of the same occurrence).
    pub async fn record_task(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        resident: ResidentId,
        task: TaskRef,
        new: &NewTaskRecord,
        amends: Option<TaskRecordId>,
    ) -> StoreResult<Created<TaskRecord>> {
        let keys = self.keyring_for_sealing(scope.tenant_id(), 1).await?;
        let id = Uuid::now_v7();
        let reason = new.reason.as_ref().map(|r| seal_json(&keys, TASK_REASON, id, r)).transpose()?;
        let dek = reason.as_ref().map(|_| keys.active_version() as i32);
        let insert = format!(
            "WITH {WHO}, {}, \
             plan AS (SELECT p.id, p.establishment_id FROM care_plan_versions p, target t WHERE p.tenant_id = t.tenant_id \
                      AND p.resident_id = t.id AND p.id = $21), \
             k AS (INSERT INTO care_task_records (tenant_id, id, resident_id, establishment_id, plan_version_id, action_id, \
                     scheduled_for, status, performed_at, reason, dek_version, recorded_by, amends) \
                   SELECT t.tenant_id, $20, t.id, plan.establishment_id, plan.id, $22, $23, $24, $25, $26, $27, who.user_id, $28 \
                   FROM target t, plan, who \
                   WHERE $28::uuid IS NULL OR EXISTS (SELECT 1 FROM care_task_records o WHERE o.tenant_id = t.tenant_id \
                         AND o.id = $28 AND o.resident_id = t.id AND o.action_id = $22 AND o.scheduled_for = $23) \
                   RETURNING *), \
             trace AS ({}) SELECT {TASK_COLUMNS} FROM k",
            target("$19"),
            audit_insert(
                if amends.is_some() { "care_task.amend" } else { "care_task.record" },
                "'success'",
                "k.resident_id",
                "care_task_record",
                "k.id",
                "NOT target.normal",
                "who, k, target"
            )
        );
        let reload = format!("SELECT {TASK_COLUMNS} FROM care_task_records k WHERE k.tenant_id = $1 AND k.id = $2");
        let who = self.who(scope);
        let resident_param = resident.as_uuid();
        let status = new.status.as_str();
        let amends = amends.map(|a| a.as_uuid());
        let mut params = who.params();
        params.extend::<[Param<'_>; 10]>([
            &resident_param,
            &id,
            &task.plan_version_id,
            &task.action_id,
            &task.scheduled_for,
            &status,
            &new.performed_at,
            &reason,
            &dek,
            &amends,
        ]);
        let map = |row: &Row| task_record(row, &keys);
        let params: Params<'_> = &params;
        self.create_once(
            scope,
            key,
            CreateStatement { id, insert: &insert, params, reload: &reload, map: &map, audit: None },
        )
        .await
    }

    /// One record of the person (to amend it).
    pub async fn task_record_ref(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        id: TaskRecordId,
    ) -> StoreResult<TaskRef> {
        let who = self.who(scope);
        let sql = format!(
            "WITH {WHO}, {} SELECT k.plan_version_id, k.action_id, k.scheduled_for FROM care_task_records k, target t \
             WHERE k.tenant_id = t.tenant_id AND k.resident_id = t.id AND k.id = $20",
            target("$19")
        );
        let (resident_param, id_param) = (resident.as_uuid(), id.as_uuid());
        let mut params = who.params();
        params.extend::<[Param<'_>; 2]>([&resident_param, &id_param]);
        let rows = self.read(scope.tenant_id(), &sql, &params).await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        Ok(TaskRef {
            plan_version_id: row.try_get("plan_version_id")?,
            action_id: row.try_get("action_id")?,
            scheduled_for: row.try_get("scheduled_for")?,
        })
    }

    /// The person's task records in a period (traceability of care), oldest first, amendments
    /// included. Recorded.
    pub async fn task_records(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<TaskRecord>> {
        let sql = format!(
            "WITH {WHO}, {}, \
             data AS (SELECT k.* FROM care_task_records k, target t WHERE k.tenant_id = t.tenant_id AND k.resident_id = t.id \
                      AND k.scheduled_for >= $20 AND k.scheduled_for < $21 ORDER BY k.scheduled_for, k.recorded_at LIMIT 5000), \
             trace AS ({}) SELECT {TASK_COLUMNS} FROM data k ORDER BY k.scheduled_for, k.recorded_at, k.id",
            target("$19"),
            read_trace("care_task.read")
        );
        let rows = self.on_resident(scope, resident, &sql, &[&from, &to]).await?;
        if rows.is_empty() {
            self.resident_exists_for(scope, resident).await?;
        }
        self.open_rows(scope.tenant_id(), &rows, task_record).await
    }
}
