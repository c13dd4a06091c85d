//! Restraints (contention): prescriptions, their reassessments, their end; read by the care team
//! of the person's establishment. The reason, the conditions, the device, why one was stopped and
//! what each reassessment observed are sealed.

use chrono::{DateTime, NaiveDate, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::care_task::Task;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::resident::Identity;
use dui_domain::restraint::{
    EndKind, ExternalPrescriber, NewReassessment, NewRestraint, Observations, OverdueRestraint, Reassessment,
    ReassessmentOutcome, Restraint, RestraintDetails, RestraintForTasks, RestraintKind, RestraintTimes,
};
use dui_domain::transmission::ResidentName;
use dui_domain::{EstablishmentId, ReassessmentId, ResidentId, RestraintId, UnitId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use std::sync::LazyLock;

use dui_domain::audit::AuditAction;

use crate::access::{WHO_CTE, care_readable, target, visible};
use crate::args;
use crate::feature::{Feature, Table, to_json};
use crate::idempotency::{Create, create_once, replay};
use crate::listing::{listed, present, record_shown};
use crate::residents::RESIDENT_IDENTITY;
use crate::rows::{parse, parse_opt};
use crate::sealing::{open_json, seal_json};
use crate::sql::{Sql, Stmt};
use crate::stays::PLACE;
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

pub(crate) const RESTRAINT_DETAILS: Column = Column::new("restraints", "details");
pub(crate) const RESTRAINT_END_REASON: Column = Column::new("restraints", "end_reason");
pub(crate) const REASSESSMENT_OBSERVATIONS: Column = Column::new("restraint_reassessments", "observations");

pub(crate) const RESTRAINT_COLUMNS: &str = "c.id, c.resident_id, c.establishment_id, c.kind, c.prescriber_id, \
     c.external_prescriber_name, c.external_prescriber_rpps, c.prescribed_on, c.starts_at, c.planned_end_at, c.details, \
     c.dek_version, c.recorded_by, c.recorded_at, c.replaces, c.ended_at, c.ended_by, c.end_kind, c.end_reason";

/// A restraint's columns and when it was last reassessed (for where it stands).
const RESTRAINT_READ: &str = "c.id, c.resident_id, c.establishment_id, c.kind, c.prescriber_id, \
     c.external_prescriber_name, c.external_prescriber_rpps, c.prescribed_on, c.starts_at, c.planned_end_at, c.details, \
     c.dek_version, c.recorded_by, c.recorded_at, c.replaces, c.ended_at, c.ended_by, c.end_kind, c.end_reason, \
     (SELECT max(q.assessed_at) FROM restraint_reassessments q WHERE q.tenant_id = c.tenant_id \
        AND q.restraint_id = c.id) AS last_reassessed_at";

pub(crate) const REASSESSMENT_COLUMNS: &str = "q.id, q.restraint_id, q.resident_id, q.establishment_id, q.assessed_at, \
     q.outcome, q.observations, q.dek_version, q.recorded_by, q.recorded_at";

fn times(row: &Row) -> StoreResult<RestraintTimes> {
    Ok(RestraintTimes {
        starts_at: row.try_get("starts_at")?,
        planned_end_at: row.try_get("planned_end_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

/// A restraint from a row of [`RESTRAINT_READ`], without its reassessments.
pub(crate) fn restraint(row: &Row, keys: &Keyring) -> StoreResult<Restraint> {
    let id: Uuid = row.try_get("id")?;
    let details: RestraintDetails = open_json(keys, RESTRAINT_DETAILS, id, row.try_get("details")?)?;
    let end_reason = row
        .try_get::<_, Option<&[u8]>>("end_reason")?
        .map(|sealed| open_json::<String>(keys, RESTRAINT_END_REASON, id, sealed))
        .transpose()?;
    let external_prescriber = match (
        row.try_get::<_, Option<String>>("external_prescriber_name")?,
        row.try_get::<_, Option<String>>("external_prescriber_rpps")?,
    ) {
        (Some(name), Some(rpps)) => Some(ExternalPrescriber { name, rpps }),
        _ => None,
    };
    let times = times(row)?;
    let last: Option<DateTime<Utc>> = match row.columns().iter().any(|c| c.name() == "last_reassessed_at") {
        true => row.try_get("last_reassessed_at")?,
        false => None,
    };
    Ok(Restraint {
        id: RestraintId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        kind: parse(row, "kind", RestraintKind::parse)?,
        device: details.device,
        prescriber_id: row.try_get::<_, Option<Uuid>>("prescriber_id")?.map(UserId::from_uuid),
        external_prescriber,
        prescribed_on: row.try_get("prescribed_on")?,
        starts_at: times.starts_at,
        planned_end_at: times.planned_end_at,
        reason: details.reason,
        conditions: details.conditions,
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        replaces: row.try_get::<_, Option<Uuid>>("replaces")?.map(RestraintId::from_uuid),
        ended_at: times.ended_at,
        ended_by: row.try_get::<_, Option<Uuid>>("ended_by")?.map(UserId::from_uuid),
        end_kind: parse_opt(row, "end_kind", EndKind::parse)?,
        end_reason,
        status: times.status(Utc::now()),
        next_reassessment_due: times.next_due(last),
        reassessments: Vec::new(),
    })
}

pub(crate) fn reassessment(row: &Row, keys: &Keyring) -> StoreResult<Reassessment> {
    let id: Uuid = row.try_get("id")?;
    Ok(Reassessment {
        id: ReassessmentId::from_uuid(id),
        restraint_id: RestraintId::from_uuid(row.try_get("restraint_id")?),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        assessed_at: row.try_get("assessed_at")?,
        outcome: parse(row, "outcome", ReassessmentOutcome::parse)?,
        observations: open_json::<Observations>(keys, REASSESSMENT_OBSERVATIONS, id, row.try_get("observations")?)?,
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
    })
}

/// The event of the restraint a statement ended besides what it wrote (`rows`).
fn ended_trace(rows: &str) -> String {
    let (resident, resource) = (format!("{rows}.resident_id"), format!("{rows}.id"));
    Trace {
        from: &format!("who, {rows}, target"),
        resident: &resident,
        resource: &resource,
        outcome: "'success'",
        emergency: "NOT target.normal",
    }
    .sql_as(AuditAction::RestraintStop)
}

/// A new prescription; with `:replaces`, the prescription it replaces ends when it starts (in
/// the same statement, so that a person never has both or neither by a race).
static INSERT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, {PLACE}, \
         old AS (UPDATE restraints o SET ended_at = :starts_at, ended_by = who.user_id, end_kind = 'replaced' \
                 FROM target t, who WHERE o.tenant_id = t.tenant_id AND o.resident_id = t.id AND o.id = :replaces \
                 AND o.ended_at IS NULL AND o.starts_at <= :starts_at AND t.record_status = 'active' RETURNING o.*), \
         c AS (INSERT INTO restraints (tenant_id, id, resident_id, establishment_id, kind, prescriber_id, \
                 external_prescriber_name, external_prescriber_rpps, prescribed_on, starts_at, planned_end_at, details, \
                 dek_version, recorded_by, replaces) \
               SELECT t.tenant_id, :id, t.id, p.establishment_id, :kind, :prescriber, :external_name, :external_rpps, \
                      :prescribed_on, :starts_at, :planned_end_at, :details, :dek_version, who.user_id, :replaces \
               FROM target t, place p, who WHERE t.record_status = 'active' \
               AND (:replaces::uuid IS NULL OR EXISTS (SELECT 1 FROM old)) RETURNING *), \
         trace AS ({trace}), trace_old AS ({trace_old}) SELECT {RESTRAINT_COLUMNS} FROM c",
        target = target(),
        trace = Trace::written("c"),
        trace_old = ended_trace("old"),
    ))
});

static BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {RESTRAINT_COLUMNS} FROM restraints c WHERE c.tenant_id = :tenant AND c.id = :id"))
});

static ONE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} SELECT {RESTRAINT_READ} FROM restraints c, target t, who \
         WHERE c.tenant_id = t.tenant_id AND c.resident_id = t.id AND c.id = :id AND {readable}",
        target = target(),
        readable = care_readable("c", "NOT t.normal"),
    ))
});

static LIST: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT c.* FROM restraints c, target t, who WHERE c.tenant_id = t.tenant_id AND c.resident_id = t.id \
                  AND {readable} ORDER BY c.starts_at DESC, c.id DESC LIMIT 500), \
         trace AS ({trace}) \
         {listed}",
        target = target(),
        readable = care_readable("c", "NOT t.normal"),
        trace = Trace::read(),
        listed = listed(&format!("SELECT {RESTRAINT_READ} FROM data c"), "x.starts_at DESC, x.id DESC"),
    ))
});

static REASSESSMENTS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} SELECT {REASSESSMENT_COLUMNS} FROM restraint_reassessments q, target t, who \
         WHERE q.tenant_id = t.tenant_id AND q.resident_id = t.id AND {readable} ORDER BY q.assessed_at, q.id",
        target = target(),
        readable = care_readable("q", "NOT t.normal"),
    ))
});

/// A reassessment; with the outcome `stop`, the restraint ends at it.
static REASSESS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         c AS (SELECT c.* FROM restraints c, target t WHERE c.tenant_id = t.tenant_id AND c.resident_id = t.id \
               AND c.id = :restraint AND c.ended_at IS NULL AND c.starts_at <= :assessed_at \
               AND t.record_status = 'active'), \
         q AS (INSERT INTO restraint_reassessments (tenant_id, id, restraint_id, resident_id, establishment_id, \
                 assessed_at, outcome, observations, dek_version, recorded_by) \
               SELECT c.tenant_id, :id, c.id, c.resident_id, c.establishment_id, :assessed_at, :outcome, :observations, \
                      :dek_version, who.user_id FROM c, who RETURNING *), \
         ended AS (UPDATE restraints e SET ended_at = :assessed_at, ended_by = who.user_id, end_kind = 'reassessment' \
                   FROM q, who WHERE :outcome::text = 'stop' AND e.tenant_id = q.tenant_id AND e.id = q.restraint_id \
                   RETURNING e.*), \
         trace AS ({trace}), trace_end AS ({trace_end}) SELECT {REASSESSMENT_COLUMNS} FROM q",
        target = target(),
        trace = Trace::written("q"),
        trace_end = ended_trace("ended"),
    ))
});

static REASSESSMENT_BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {REASSESSMENT_COLUMNS} FROM restraint_reassessments q WHERE q.tenant_id = :tenant AND q.id = :id"
    ))
});

static STOP: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         c AS (UPDATE restraints c SET ended_at = :ended_at, ended_by = who.user_id, end_kind = 'stopped', \
                 end_reason = :end_reason \
               FROM target t, who WHERE c.tenant_id = t.tenant_id AND c.resident_id = t.id AND c.id = :id \
               AND c.ended_at IS NULL AND t.record_status = 'active' AND {readable} RETURNING c.*), \
         trace AS ({trace}) SELECT {RESTRAINT_READ} FROM c",
        target = target(),
        readable = care_readable("c", "NOT t.normal"),
        trace = Trace::written("c"),
    ))
});

/// The restraints of an establishment not ended and started, with their last reassessment, of
/// the people the caller sees and whose care team they are: the overdue list's candidates.
static NOT_ENDED: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE} \
         SELECT c.id, c.resident_id, c.kind, c.starts_at, c.planned_end_at, c.ended_at, last.assessed_at AS last_reassessed_at, \
                last.outcome AS last_outcome, r.identity AS resident_identity, r.dek_version AS resident_dek_version \
         FROM restraints c JOIN residents r ON r.tenant_id = c.tenant_id AND r.id = c.resident_id \
         LEFT JOIN LATERAL (SELECT q.assessed_at, q.outcome FROM restraint_reassessments q \
                            WHERE q.tenant_id = c.tenant_id AND q.restraint_id = c.id \
                            ORDER BY q.assessed_at DESC, q.id DESC LIMIT 1) last ON true, who \
         WHERE c.tenant_id = :tenant AND c.establishment_id = :establishment AND c.ended_at IS NULL \
         AND c.starts_at <= :now AND {readable} AND {visible} ORDER BY c.starts_at, c.id",
        readable = care_readable("c", "false"),
        visible = visible("r"),
    ))
});

/// The restraints that may have reassessments due on a day of an establishment (or of one unit,
/// by the person's stay that day): not ended, or ended after the day started; with their
/// reassessments' instants.
static OF_DAY: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         day AS (SELECT (:day::date)::timestamp AT TIME ZONE e.timezone AS day_start, \
                        (:day::date + 1)::timestamp AT TIME ZONE e.timezone AS day_end FROM establishments e \
                 WHERE e.tenant_id = :tenant AND e.id = :establishment), \
         candidates AS (SELECT c.* FROM restraints c, day WHERE c.tenant_id = :tenant AND c.establishment_id = :establishment \
                          AND c.ended_at IS NULL AND c.starts_at < day.day_end \
                        UNION ALL \
                        SELECT c.* FROM restraints c, day WHERE c.tenant_id = :tenant AND c.establishment_id = :establishment \
                          AND c.ended_at > day.day_start AND c.starts_at < day.day_end) \
         SELECT c.id, c.resident_id, c.kind, c.starts_at, c.planned_end_at, c.ended_at, day.day_start, day.day_end, \
                coalesce((SELECT array_agg(q.id ORDER BY q.assessed_at, q.id) FROM restraint_reassessments q \
                          WHERE q.tenant_id = c.tenant_id AND q.restraint_id = c.id), '{{}}') AS reassessment_ids, \
                coalesce((SELECT array_agg(q.assessed_at ORDER BY q.assessed_at, q.id) FROM restraint_reassessments q \
                          WHERE q.tenant_id = c.tenant_id AND q.restraint_id = c.id), '{{}}') AS reassessed_at, \
                r.identity AS resident_identity, r.dek_version AS resident_dek_version \
         FROM candidates c JOIN residents r ON r.tenant_id = c.tenant_id AND r.id = c.resident_id, who, day \
         WHERE {readable} AND {visible} \
         AND (:unit::uuid IS NULL OR EXISTS (SELECT 1 FROM stays s WHERE s.tenant_id = c.tenant_id \
              AND s.resident_id = c.resident_id AND s.unit_id = :unit AND s.admitted_on <= :day \
              AND (s.discharged_on IS NULL OR s.discharged_on > :day))) \
         ORDER BY c.starts_at, c.id",
        readable = care_readable("c", "false"),
        visible = visible("r"),
    ))
});

fn resident_name(row: &Row, keys: &Keyring) -> StoreResult<ResidentName> {
    let resident = ResidentId::from_uuid(row.try_get("resident_id")?);
    let identity: Identity = open_json(keys, RESIDENT_IDENTITY, resident.as_uuid(), row.try_get("resident_identity")?)?;
    Ok(ResidentName::of(identity, resident))
}

/// Who prescribes: the caller (a coordinating physician), or an external physician whose
/// prescription the caller records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prescriber {
    Caller(UserId),
    External,
}

/// Records a prescription of a visible resident, in the establishment of their stay (ending the
/// one it `replaces`), and commits.
pub async fn prescribe(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewRestraint,
    prescriber: Prescriber,
    replaces: Option<RestraintId>,
) -> StoreResult<Created<Restraint>> {
    let keys = tx.sealing_keys(1).await?;
    let id = Uuid::now_v7();
    let details = seal_json(&keys, RESTRAINT_DETAILS, id, &new.details)?;
    let prescriber = match prescriber {
        Prescriber::Caller(user) => Some(user.as_uuid()),
        Prescriber::External => None,
    };
    let external_name = new.external_prescriber.as_ref().map(|p| p.name.as_str());
    let external_rpps = new.external_prescriber.as_ref().map(|p| p.rpps.as_str());
    let (resident, kind, dek, replaces) =
        (resident.as_uuid(), new.kind.as_str(), keys.active_version() as i32, replaces.map(|r| r.as_uuid()));
    let args = args! { resident: &resident, id: &id, kind: &kind, prescriber: &prescriber,
    external_name: &external_name, external_rpps: &external_rpps, prescribed_on: &new.prescribed_on,
    starts_at: &new.starts_at, planned_end_at: &new.planned_end_at, details: &details, dek_version: &dek,
    replaces: &replaces }
    .action(AuditAction::RestraintPrescribe);
    let map = |row: &Row| restraint(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT, args, reload: &BY_ID, map: &map }).await
}

/// The prescription an earlier request with `key` recorded, if any: a retry is answered before
/// the checks the first attempt passed (the prescription it replaced has ended since).
pub async fn replayed(tx: &mut Tx<'_>, key: &IdempotencyKey) -> StoreResult<Option<Created<Restraint>>> {
    let keys = tx.keyring([]).await?;
    let map = |row: &Row| restraint(row, &keys);
    replay(tx, key, &BY_ID, &map).await
}

/// The reassessment an earlier request with `key` recorded, if any (see [`replayed`]).
pub async fn replayed_reassessment(
    tx: &mut Tx<'_>,
    key: &IdempotencyKey,
) -> StoreResult<Option<Created<Reassessment>>> {
    let keys = tx.keyring([]).await?;
    let map = |row: &Row| reassessment(row, &keys);
    replay(tx, key, &REASSESSMENT_BY_ID, &map).await
}

/// One restraint of the person, for a check (not recorded), without its reassessments but with
/// where it stands.
pub async fn one(tx: &mut Tx<'_>, resident: ResidentId, id: RestraintId) -> StoreResult<Restraint> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let row = tx.query_opt(&ONE, &args! { resident: &resident, id: &id }).await?.ok_or(StoreError::NotFound)?;
    let keys = tx.keyring(crate::sealing::versions(std::slice::from_ref(&row))?).await?;
    restraint(&row, &keys)
}

/// The person's restraints, newest first (at most 500), each with its reassessments (oldest
/// first). Recorded; commits.
pub async fn list(tx: Tx<'_>, resident: ResidentId) -> StoreResult<Vec<Restraint>> {
    let resident = resident.as_uuid();
    let args = args! { resident: &resident };
    let listed_args = args! { resident: &resident }.action(AuditAction::RestraintRead);
    let (db, tenant) = (tx.db(), tx.tenant());
    let (restraints, reassessments) = tx.finish_pair((&LIST, &listed_args), (&REASSESSMENTS, &args)).await?;
    let restraints = present(restraints)?;
    let mut all = restraints.clone();
    all.extend(reassessments.iter().cloned());
    let keys = db.keyring(tenant, crate::sealing::versions(&all)?).await?;
    let mut listed = restraints.iter().map(|row| restraint(row, &keys)).collect::<StoreResult<Vec<_>>>()?;
    for row in &reassessments {
        let reassessment = reassessment(row, &keys)?;
        if let Some(restraint) = listed.iter_mut().find(|r| r.id == reassessment.restraint_id) {
            restraint.reassessments.push(reassessment);
        }
    }
    Ok(listed)
}

/// Records a reassessment of a restraint not ended (ending it when the outcome is `stop`), and
/// commits.
pub async fn reassess(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    restraint: RestraintId,
    new: &NewReassessment,
) -> StoreResult<Created<Reassessment>> {
    let keys = tx.sealing_keys(1).await?;
    let id = Uuid::now_v7();
    let observations = seal_json(&keys, REASSESSMENT_OBSERVATIONS, id, &new.observations)?;
    let (resident, restraint, outcome, dek) =
        (resident.as_uuid(), restraint.as_uuid(), new.outcome.as_str(), keys.active_version() as i32);
    let args = args! { resident: &resident, restraint: &restraint, id: &id, assessed_at: &new.assessed_at,
    outcome: &outcome, observations: &observations, dek_version: &dek }
    .action(AuditAction::RestraintReassess);
    let map = |row: &Row| reassessment(row, &keys);
    create_once(tx, key, Create { id, insert: &REASSESS, args, reload: &REASSESSMENT_BY_ID, map: &map }).await
}

/// Stops a restraint not ended, with a reason, and commits.
pub async fn stop(
    tx: Tx<'_>,
    resident: ResidentId,
    id: RestraintId,
    ended_at: DateTime<Utc>,
    reason: &str,
) -> StoreResult<Restraint> {
    let keys = tx.sealing_keys(1).await?;
    let end_reason = seal_json(&keys, RESTRAINT_END_REASON, id.as_uuid(), reason)?;
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let args = args! { resident: &resident, id: &id, ended_at: &ended_at, end_reason: &end_reason }
        .action(AuditAction::RestraintStop);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = tx.finish(&STOP, &args).await?;
    db.open_one(tenant, rows.first().ok_or(StoreError::NotFound)?, restraint).await
}

/// The establishment's restraints that are overdue at `now`, as the domain says
/// ([`OverdueRestraint::reasons`]), except those of people `away` (their restraint is not
/// applied while they are away). Each person listed is recorded; commits.
pub async fn overdue(
    mut tx: Tx<'_>,
    establishment: EstablishmentId,
    now: DateTime<Utc>,
) -> StoreResult<Vec<OverdueRestraint>> {
    let establishment = establishment.as_uuid();
    let rows = tx.query(&NOT_ENDED, &args! { establishment: &establishment, now: &now }).await?;
    let mut candidates = Vec::new();
    for row in &rows {
        let last: Option<DateTime<Utc>> = row.try_get("last_reassessed_at")?;
        let reasons = OverdueRestraint::reasons(&times(row)?, last, now);
        if !reasons.is_empty() {
            candidates.push((row, last, reasons));
        }
    }
    let residents: Vec<ResidentId> = candidates
        .iter()
        .map(|(row, ..)| Ok(ResidentId::from_uuid(row.try_get("resident_id")?)))
        .collect::<StoreResult<_>>()?;
    let away = crate::absences::away_periods(&mut tx, &residents, now, now + chrono::Duration::seconds(1), now).await?;
    candidates.retain(|(row, ..)| {
        row.try_get::<_, Uuid>("resident_id")
            .is_ok_and(|r| dui_domain::absence::away_at(&away, ResidentId::from_uuid(r), now).is_none())
    });
    let mut needed = Vec::with_capacity(candidates.len());
    for (row, ..) in &candidates {
        needed.push(row.try_get::<_, i32>("resident_dek_version")? as u32);
    }
    let keys = tx.keyring(needed).await?;
    let mut listed = Vec::with_capacity(candidates.len());
    for (row, last, reasons) in candidates {
        let times = times(row)?;
        listed.push(OverdueRestraint {
            resident: resident_name(row, &keys)?,
            restraint_id: RestraintId::from_uuid(row.try_get("id")?),
            kind: parse(row, "kind", RestraintKind::parse)?,
            starts_at: times.starts_at,
            planned_end_at: times.planned_end_at,
            last_reassessed_at: last,
            last_outcome: parse_opt(row, "last_outcome", ReassessmentOutcome::parse)?,
            next_reassessment_due: times.next_due(last).unwrap_or(times.starts_at),
            reasons,
        });
    }
    let shown: Vec<Uuid> = listed.iter().map(|o| o.resident.id.as_uuid()).collect();
    record_shown(&mut tx, &shown, AuditAction::RestraintOverdueList).await?;
    tx.commit().await?;
    Ok(listed)
}

/// The reassessments due on `day` of the establishment (or of one unit), as tasks of the day's
/// list (see [`RestraintForTasks::tasks`]), for the people the caller sees and whose care team
/// they are. The people listed who are not among `already_listed` are recorded as read in the
/// day's task list.
pub async fn day_reassessments(
    tx: &mut Tx<'_>,
    establishment: EstablishmentId,
    unit: Option<UnitId>,
    day: NaiveDate,
    now: DateTime<Utc>,
    already_listed: &[ResidentId],
) -> StoreResult<Vec<Task>> {
    let (establishment, unit) = (establishment.as_uuid(), unit.map(|u| u.as_uuid()));
    let rows = tx.query(&OF_DAY, &args! { establishment: &establishment, unit: &unit, day: &day }).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut needed = Vec::with_capacity(rows.len());
    for row in &rows {
        needed.push(row.try_get::<_, i32>("resident_dek_version")? as u32);
    }
    let keys = tx.keyring(needed).await?;
    let mut tasks = Vec::new();
    for row in &rows {
        let ids: Vec<Uuid> = row.try_get("reassessment_ids")?;
        let instants: Vec<DateTime<Utc>> = row.try_get("reassessed_at")?;
        let restraint = RestraintForTasks {
            resident: resident_name(row, &keys)?,
            restraint_id: RestraintId::from_uuid(row.try_get("id")?),
            kind: parse(row, "kind", RestraintKind::parse)?,
            times: times(row)?,
            reassessed: ids.into_iter().map(ReassessmentId::from_uuid).zip(instants).collect(),
        };
        tasks.extend(restraint.tasks(row.try_get("day_start")?, row.try_get("day_end")?, now));
    }
    let shown: Vec<Uuid> =
        tasks.iter().map(|t| t.resident.id).filter(|r| !already_listed.contains(r)).map(|r| r.as_uuid()).collect();
    record_shown(tx, &shown, AuditAction::CareTaskList).await?;
    Ok(tasks)
}

/// Restraints and their reassessments: reasons, conditions, observations sealed; a merge moves
/// them; the resident's export lists them by their start, the reassessments in a section of
/// their own.
pub(crate) const FEATURE: Feature = Feature {
    name: "restraints",
    tables: &[
        Table::of_person(
            "restraints",
            &[RESTRAINT_DETAILS, RESTRAINT_END_REASON],
            "restraints c",
            RESTRAINT_READ,
            "c.starts_at, c.id",
            |row, keys| {
                let mut value = to_json(restraint(row, keys))?;
                // Its reassessments are the section `restraint_reassessments`.
                if let Some(fields) = value.as_object_mut() {
                    fields.remove("reassessments");
                }
                Ok(value)
            },
        ),
        Table::of_person(
            "restraint_reassessments",
            &[REASSESSMENT_OBSERVATIONS],
            "restraint_reassessments q",
            REASSESSMENT_COLUMNS,
            "q.assessed_at, q.id",
            |row, keys| to_json(reassessment(row, keys)),
        ),
    ],
};
