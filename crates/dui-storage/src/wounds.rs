//! Wounds and pressure ulcers: the wound as found, its assessments and its care protocol's
//! versions; the open pressure ulcers of an establishment (the quality indicator). What is said
//! of a wound is sealed (the site in words and the description, each assessment's findings, the
//! protocol); kind, site, origin, dates and stages stay in clear for lists. They are read by
//! those who read the care team's data ([`care_readable`]).
//!
//! The protocol's dressings are tasks of the day: [`crate::care_tasks`] reads the protocols in
//! force with the plans' actions, and records them as it records the plans' tasks.

use std::sync::LazyLock;

use dui_crypto::{Column, Keyring};
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::resident::Identity;
use dui_domain::transmission::ResidentName;
use dui_domain::wound::{
    BodySite, DressingProtocol, Findings, ListedPressureUlcer, NewWound, NewWoundAssessment, PressureUlcerReport,
    PressureUlcerStage, Wound, WoundAssessment, WoundDetails, WoundFile, WoundKind, WoundOrigin, WoundOutcome,
    WoundProtocol, percent,
};
use dui_domain::{EstablishmentId, ResidentId, UserId, WoundAssessmentId, WoundId, WoundProtocolId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO_CTE, care_readable, seen, target};
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
use crate::{StoreError, StoreResult};

/// The site in words and the description.
pub(crate) const WOUND_DETAILS: Column = Column::new("wounds", "details");
/// Sizes, wound bed, exudate, pain, signs of infection, observations.
pub(crate) const ASSESSMENT_FINDINGS: Column = Column::new("wound_assessments", "findings");
/// Products, frequency, instructions, schedule, who.
pub(crate) const PROTOCOL_CONTENT: Column = Column::new("wound_protocols", "content");

const WOUND_COLUMNS: &str = "w.id, w.resident_id, w.establishment_id, w.kind, w.site, w.origin, w.opened_on, w.stage, \
     w.details, w.dek_version, w.recorded_by, w.recorded_at, w.closed_on, w.outcome, w.closed_by, w.closed_at";
const ASSESSMENT_COLUMNS: &str = "a.id, a.wound_id, a.resident_id, a.assessed_on, a.stage, a.findings, a.dek_version, \
     a.recorded_by, a.recorded_at";
const PROTOCOL_COLUMNS: &str = "p.id, p.wound_id, p.resident_id, p.establishment_id, p.content, p.dek_version, \
     p.recorded_by, p.recorded_at, p.ended_at";

/// The most rows of each kind a person's wounds are read with.
const LIST_LIMIT: i64 = 2000;

/// The latest stage of wound `w`: of its latest assessment that staged it, else at opening.
fn current_stage(w: &str) -> String {
    format!(
        "coalesce((SELECT a.stage FROM wound_assessments a WHERE a.tenant_id = {w}.tenant_id AND a.wound_id = {w}.id \
           AND a.stage IS NOT NULL ORDER BY a.assessed_on DESC, a.recorded_at DESC, a.id DESC LIMIT 1), {w}.stage)"
    )
}

pub(crate) fn wound(row: &Row, keys: &Keyring) -> StoreResult<Wound> {
    let id: Uuid = row.try_get("id")?;
    let details: WoundDetails = open_json(keys, WOUND_DETAILS, id, row.try_get("details")?)?;
    Ok(Wound {
        id: WoundId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        kind: parse(row, "kind", WoundKind::parse)?,
        site: parse(row, "site", BodySite::parse)?,
        site_detail: details.site_detail,
        origin: parse(row, "origin", WoundOrigin::parse)?,
        opened_on: row.try_get("opened_on")?,
        stage_at_opening: parse_opt(row, "stage", PressureUlcerStage::parse)?,
        description: details.description,
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        closed_on: row.try_get("closed_on")?,
        outcome: parse_opt(row, "outcome", WoundOutcome::parse)?,
        closed_by: row.try_get::<_, Option<Uuid>>("closed_by")?.map(UserId::from_uuid),
        closed_at: row.try_get("closed_at")?,
    })
}

pub(crate) fn assessment(row: &Row, keys: &Keyring) -> StoreResult<WoundAssessment> {
    let id: Uuid = row.try_get("id")?;
    let findings: Findings = open_json(keys, ASSESSMENT_FINDINGS, id, row.try_get("findings")?)?;
    Ok(WoundAssessment {
        id: WoundAssessmentId::from_uuid(id),
        wound_id: WoundId::from_uuid(row.try_get("wound_id")?),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        assessed_on: row.try_get("assessed_on")?,
        stage: parse_opt(row, "stage", PressureUlcerStage::parse)?,
        length_cm: findings.length_cm,
        width_cm: findings.width_cm,
        depth_cm: findings.depth_cm,
        bed: findings.bed,
        exudate: findings.exudate,
        pain: findings.pain,
        infection_signs: findings.infection_signs,
        observations: findings.observations,
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
    })
}

pub(crate) fn protocol(row: &Row, keys: &Keyring) -> StoreResult<WoundProtocol> {
    let id: Uuid = row.try_get("id")?;
    Ok(WoundProtocol {
        id: WoundProtocolId::from_uuid(id),
        wound_id: WoundId::from_uuid(row.try_get("wound_id")?),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        protocol: open_json(keys, PROTOCOL_CONTENT, id, row.try_get("content")?)?,
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

/// A protocol's content opened, for the day's tasks.
pub(crate) fn protocol_content(keys: &Keyring, id: Uuid, sealed: &[u8]) -> StoreResult<DressingProtocol> {
    open_json(keys, PROTOCOL_CONTENT, id, sealed)
}

static INSERT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, {PLACE}, \
         w AS (INSERT INTO wounds (tenant_id, id, resident_id, establishment_id, kind, site, origin, opened_on, stage, \
                 details, dek_version, recorded_by) \
               SELECT t.tenant_id, :id, t.id, p.establishment_id, :kind, :site, :origin, :opened_on, :stage, :details, \
                      :dek_version, who.user_id \
               FROM target t, place p, who WHERE t.record_status = 'active' RETURNING *), \
         trace AS ({trace}), {event} SELECT {WOUND_COLUMNS} FROM w",
        target = target(),
        trace = Trace::written("w"),
        event = crate::handover_write::emit("w"),
    ))
});

static BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {WOUND_COLUMNS} FROM wounds w WHERE w.tenant_id = :tenant AND w.id = :id"))
});

/// One wound of the person that the caller reads, with its latest stage: a check, not recorded.
static ONE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} \
         SELECT {WOUND_COLUMNS}, {stage} AS current_stage FROM wounds w, target t, who \
         WHERE w.tenant_id = t.tenant_id AND w.resident_id = t.id AND w.id = :wound AND {readable}",
        target = target(),
        stage = current_stage("w"),
        readable = care_readable("w", "NOT t.normal"),
    ))
});

static ASSESS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         wd AS (SELECT w.tenant_id, w.id, w.resident_id FROM wounds w, target t WHERE w.tenant_id = t.tenant_id \
                AND w.resident_id = t.id AND w.id = :wound AND w.closed_at IS NULL AND t.record_status = 'active'), \
         a AS (INSERT INTO wound_assessments (tenant_id, id, wound_id, resident_id, assessed_on, stage, findings, \
                 dek_version, recorded_by) \
               SELECT wd.tenant_id, :id, wd.id, wd.resident_id, :assessed_on, :stage, :findings, :dek_version, who.user_id \
               FROM wd, who RETURNING *), \
         trace AS ({trace}), {event} SELECT {ASSESSMENT_COLUMNS} FROM a",
        target = target(),
        trace = Trace::written("a"),
        event = crate::handover_write::emit("a"),
    ))
});

static ASSESSMENT_BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {ASSESSMENT_COLUMNS} FROM wound_assessments a WHERE a.tenant_id = :tenant AND a.id = :id"
    ))
});

/// A new version of the protocol: the one in force ends when it starts. (The insert reads
/// `ended` so that the update is done before it: the unique index allows one in force.)
static SET_PROTOCOL: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         wd AS (SELECT w.tenant_id, w.id, w.resident_id, w.establishment_id FROM wounds w, target t \
                WHERE w.tenant_id = t.tenant_id AND w.resident_id = t.id AND w.id = :wound AND w.closed_at IS NULL \
                AND t.record_status = 'active'), \
         ended AS (UPDATE wound_protocols o SET ended_at = now() FROM wd WHERE o.tenant_id = wd.tenant_id \
                   AND o.wound_id = wd.id AND o.ended_at IS NULL RETURNING o.id), \
         p AS (INSERT INTO wound_protocols (tenant_id, id, wound_id, resident_id, establishment_id, content, dek_version, \
                 recorded_by) \
               SELECT wd.tenant_id, :id, wd.id, wd.resident_id, wd.establishment_id, :content, :dek_version, who.user_id \
               FROM wd, who WHERE (SELECT count(*) FROM ended) >= 0 RETURNING *), \
         trace AS ({trace}) SELECT {PROTOCOL_COLUMNS} FROM p",
        target = target(),
        trace = Trace::written("p"),
    ))
});

static PROTOCOL_BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {PROTOCOL_COLUMNS} FROM wound_protocols p WHERE p.tenant_id = :tenant AND p.id = :id"))
});

/// A protocol version of the person's, with its wound's kind and site: a check, not recorded.
static PROTOCOL_OF: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} \
         SELECT {PROTOCOL_COLUMNS}, w.kind AS wound_kind, w.site AS wound_site FROM wound_protocols p \
           JOIN wounds w ON w.tenant_id = p.tenant_id AND w.id = p.wound_id, target t, who \
         WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.id = :id AND {readable}",
        target = target(),
        readable = care_readable("w", "NOT t.normal"),
    ))
});

static CLOSE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         c AS (UPDATE wounds w SET closed_on = :closed_on, outcome = :outcome, closed_by = who.user_id, closed_at = now() \
               FROM target t, who WHERE w.tenant_id = t.tenant_id AND w.resident_id = t.id AND w.id = :wound \
               AND w.closed_at IS NULL AND t.record_status = 'active' RETURNING w.*), \
         ended AS (UPDATE wound_protocols o SET ended_at = now() FROM c WHERE o.tenant_id = c.tenant_id \
                   AND o.wound_id = c.id AND o.ended_at IS NULL RETURNING o.id), \
         trace AS ({trace}) SELECT {WOUND_COLUMNS} FROM c w",
        target = target(),
        trace = Trace::written("c"),
    ))
});

/// Which wounds a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    Open,
    Closed,
    All,
}

impl Listed {
    fn code(self) -> &'static str {
        match self {
            Listed::Open => "open",
            Listed::Closed => "closed",
            Listed::All => "all",
        }
    }
}

/// The person's wounds (`w`) the caller reads, of the list asked (`:status`).
fn wounds_of(extra: &str) -> String {
    format!(
        "FROM wounds w, target t, who WHERE w.tenant_id = t.tenant_id AND w.resident_id = t.id AND {readable} \
         AND (:status::text = 'all' OR (:status::text = 'open') = (w.closed_at IS NULL)) {extra}",
        readable = care_readable("w", "NOT t.normal"),
    )
}

static LIST_WOUNDS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, data AS (SELECT w.* {wounds} ORDER BY w.opened_on, w.id LIMIT {LIST_LIMIT}) {listed}",
        target = target(),
        wounds = wounds_of(""),
        listed = listed(&format!("SELECT {WOUND_COLUMNS} FROM data w"), "x.opened_on, x.id"),
    ))
});

static LIST_ASSESSMENTS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT a.* FROM wound_assessments a WHERE a.tenant_id = :tenant \
                  AND a.wound_id IN (SELECT w.id {wounds}) ORDER BY a.assessed_on, a.recorded_at, a.id LIMIT {LIST_LIMIT}) \
         {listed}",
        target = target(),
        wounds = wounds_of(""),
        listed = listed(&format!("SELECT {ASSESSMENT_COLUMNS} FROM data a"), "x.assessed_on, x.recorded_at, x.id"),
    ))
});

static LIST_PROTOCOLS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT p.* FROM wound_protocols p WHERE p.tenant_id = :tenant \
                  AND p.wound_id IN (SELECT w.id {wounds}) ORDER BY p.recorded_at, p.id LIMIT {LIST_LIMIT}) \
         {listed}",
        target = target(),
        wounds = wounds_of(""),
        listed = listed(&format!("SELECT {PROTOCOL_COLUMNS} FROM data p"), "x.recorded_at, x.id"),
    ))
});

static PRESSURE_ULCERS: Stmt = LazyLock::new(|| {
    let each_resident = Trace {
        from: "who, (SELECT DISTINCT resident_id FROM shown) d",
        resident: "d.resident_id",
        resource: "d.resident_id",
        outcome: "'success'",
        emergency: "false",
    };
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         day AS (SELECT (now() AT TIME ZONE e.timezone)::date AS on_day FROM establishments e \
                 WHERE e.tenant_id = :tenant AND e.id = :establishment), \
         staying AS (SELECT DISTINCT s.resident_id FROM stays s, day WHERE s.tenant_id = :tenant \
                     AND s.establishment_id = :establishment AND s.admitted_on <= day.on_day \
                     AND (s.discharged_on IS NULL OR s.discharged_on > day.on_day)), \
         open_ulcers AS MATERIALIZED (SELECT w.id, w.resident_id, w.establishment_id, w.site, w.origin, w.opened_on, \
                     {stage} AS current_stage \
                   FROM wounds w JOIN staying pr ON pr.resident_id = w.resident_id \
                   WHERE w.tenant_id = :tenant AND w.establishment_id = :establishment AND w.kind = 'pressure_ulcer' \
                   AND w.closed_at IS NULL), \
         counts AS (SELECT (SELECT on_day FROM day) AS on_day, (SELECT count(*) FROM staying) AS residents, \
                      count(*) AS open_count, count(*) FILTER (WHERE origin = 'acquired') AS acquired, \
                      count(*) FILTER (WHERE origin = 'present_on_admission') AS present_on_admission, \
                      count(DISTINCT resident_id) FILTER (WHERE origin = 'acquired') AS residents_with_acquired \
                    FROM open_ulcers), \
         shown AS MATERIALIZED (SELECT o.*, r.identity AS resident_identity, r.dek_version AS resident_dek_version \
                   FROM open_ulcers o JOIN residents r ON r.tenant_id = :tenant AND r.id = o.resident_id, who, {seen} \
                   WHERE seen.normal AND (who.care_all OR o.establishment_id = ANY(who.care_est))), \
         trace AS ({trace}) \
         SELECT c.*, s.id, s.resident_id, s.site, s.origin, s.opened_on, s.current_stage, s.resident_identity, \
                s.resident_dek_version \
         FROM counts c LEFT JOIN shown s ON true ORDER BY s.opened_on, s.id",
        stage = current_stage("w"),
        seen = seen("r"),
        trace = each_resident.sql(),
    ))
});

/// Records a wound of a visible resident, in the establishment of their stay, and commits; the
/// hand-over is told (`event`) when the use case says so.
pub async fn create(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewWound,
    event: Option<&dui_domain::handover::NewHandoverEvent>,
) -> StoreResult<Created<Wound>> {
    let keys = tx.sealing_keys(2).await?;
    let id = Uuid::now_v7();
    let details = seal_json(&keys, WOUND_DETAILS, id, &new.details)?;
    let (resident, kind, site, origin, stage, dek) = (
        resident.as_uuid(),
        new.kind.as_str(),
        new.site.as_str(),
        new.origin.as_str(),
        new.stage.map(PressureUlcerStage::as_str),
        keys.active_version() as i32,
    );
    let event = crate::handover_write::EventRow::seal(&keys, event)?;
    let args = args! { resident: &resident, id: &id, kind: &kind, site: &site, origin: &origin,
    opened_on: &new.opened_on, stage: &stage, details: &details, dek_version: &dek }
    .action(AuditAction::WoundCreate);
    let args = event.bind(args);
    let map = |row: &Row| wound(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT, args, reload: &BY_ID, map: &map }).await
}

/// One wound of the person that the caller reads, and its latest stage: a check before a change,
/// not recorded. `NotFound` when there is none.
pub async fn one(
    tx: &mut Tx<'_>,
    resident: ResidentId,
    id: WoundId,
) -> StoreResult<(Wound, Option<PressureUlcerStage>)> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let row = tx.query_opt(&ONE, &args! { resident: &resident, wound: &id }).await?.ok_or(StoreError::NotFound)?;
    let keys = tx.keyring([row.try_get::<_, i32>("dek_version")? as u32]).await?;
    Ok((wound(&row, &keys)?, parse_opt(&row, "current_stage", PressureUlcerStage::parse)?))
}

/// Records an assessment of an open wound, and commits. `NotFound` when the wound is closed or
/// not the person's.
pub async fn assess(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    wound: WoundId,
    new: &NewWoundAssessment,
    event: Option<&dui_domain::handover::NewHandoverEvent>,
) -> StoreResult<Created<WoundAssessment>> {
    let keys = tx.sealing_keys(2).await?;
    let id = Uuid::now_v7();
    let findings = seal_json(&keys, ASSESSMENT_FINDINGS, id, &new.findings)?;
    let (resident, wound, stage, dek) =
        (resident.as_uuid(), wound.as_uuid(), new.stage.map(PressureUlcerStage::as_str), keys.active_version() as i32);
    let event = crate::handover_write::EventRow::seal(&keys, event)?;
    let args = args! { resident: &resident, wound: &wound, id: &id, assessed_on: &new.assessed_on, stage: &stage,
    findings: &findings, dek_version: &dek }
    .action(AuditAction::WoundAssess);
    let args = event.bind(args);
    let map = |row: &Row| assessment(row, &keys);
    create_once(tx, key, Create { id, insert: &ASSESS, args, reload: &ASSESSMENT_BY_ID, map: &map }).await
}

/// Sets a new version of an open wound's care protocol (the one in force ends), and commits.
pub async fn set_protocol(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    wound: WoundId,
    content: &DressingProtocol,
) -> StoreResult<Created<WoundProtocol>> {
    let keys = tx.sealing_keys(1).await?;
    let id = Uuid::now_v7();
    let content = seal_json(&keys, PROTOCOL_CONTENT, id, content)?;
    let (resident, wound, dek) = (resident.as_uuid(), wound.as_uuid(), keys.active_version() as i32);
    let args = args! { resident: &resident, wound: &wound, id: &id, content: &content, dek_version: &dek }
        .action(AuditAction::WoundProtocol);
    let map = |row: &Row| protocol(row, &keys);
    create_once(tx, key, Create { id, insert: &SET_PROTOCOL, args, reload: &PROTOCOL_BY_ID, map: &map }).await
}

/// A version of one of the person's wound protocols that the caller reads, with its wound's
/// kind and site: a check, not recorded.
pub async fn protocol_of(
    tx: &mut Tx<'_>,
    resident: ResidentId,
    id: WoundProtocolId,
) -> StoreResult<(WoundProtocol, WoundKind, BodySite)> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let row = tx.query_opt(&PROTOCOL_OF, &args! { resident: &resident, id: &id }).await?.ok_or(StoreError::NotFound)?;
    let keys = tx.keyring([row.try_get::<_, i32>("dek_version")? as u32]).await?;
    Ok((
        protocol(&row, &keys)?,
        parse(&row, "wound_kind", WoundKind::parse)?,
        parse(&row, "wound_site", BodySite::parse)?,
    ))
}

/// Closes an open wound (its protocol ends with it), and commits. `NotFound` when it is closed
/// already or not the person's.
pub async fn close(
    tx: Tx<'_>,
    resident: ResidentId,
    id: WoundId,
    closed_on: chrono::NaiveDate,
    outcome: WoundOutcome,
) -> StoreResult<Wound> {
    let (db, tenant) = (tx.db(), tx.tenant());
    let (resident, wound_id, outcome) = (resident.as_uuid(), id.as_uuid(), outcome.as_str());
    let args = args! { resident: &resident, wound: &wound_id, closed_on: &closed_on, outcome: &outcome }
        .action(AuditAction::WoundClose);
    let rows = tx.finish(&CLOSE, &args).await?;
    db.open_one(tenant, rows.first().ok_or(StoreError::NotFound)?, wound).await
}

/// The person's wounds the caller reads (open, closed or all), each with its assessments and
/// protocols, oldest first. Recorded as one reading (`WoundRead`). `NotFound` (recorded as
/// refused) when the resident is out of reach.
pub async fn list(tx: Tx<'_>, resident: ResidentId, which: Listed) -> StoreResult<Vec<WoundFile>> {
    let (db, tenant) = (tx.db(), tx.tenant());
    let (resident, status) = (resident.as_uuid(), which.code());
    let args = args! { resident: &resident, status: &status };
    let trace = crate::trail::ReadTrace::Record { action: AuditAction::WoundRead, resident };
    let (wounds, assessments, protocols) = tx
        .finish_three_read((&LIST_WOUNDS, &args), (&LIST_ASSESSMENTS, &args), (&LIST_PROTOCOLS, &args), trace)
        .await?;
    let (wounds, assessments, protocols) = (present(wounds)?, present(assessments)?, present(protocols)?);
    let wounds = db.open_rows(tenant, &wounds, wound).await?;
    let mut assessments = db.open_rows(tenant, &assessments, assessment).await?;
    let mut protocols = db.open_rows(tenant, &protocols, protocol).await?;
    Ok(wounds
        .into_iter()
        .map(|w| {
            let (mine, rest): (Vec<_>, Vec<_>) = assessments.drain(..).partition(|a| a.wound_id == w.id);
            assessments = rest;
            let (theirs, rest): (Vec<_>, Vec<_>) = protocols.drain(..).partition(|p| p.wound_id == w.id);
            protocols = rest;
            WoundFile::of(w, mine, theirs)
        })
        .collect())
}

/// The open pressure ulcers of the people staying in an establishment today: the counts (the
/// quality indicator), and the ulcers themselves for a caller who reads the care team's data
/// there, of the people they see — each person listed recorded as read (`WoundList`).
pub async fn pressure_ulcers(tx: Tx<'_>, establishment: EstablishmentId) -> StoreResult<PressureUlcerReport> {
    let (db, tenant) = (tx.db(), tx.tenant());
    let establishment_id = establishment.as_uuid();
    let args = args! { establishment: &establishment_id }.action(AuditAction::WoundList);
    let rows = tx.finish(&PRESSURE_ULCERS, &args).await?;
    let first = rows.first().ok_or(StoreError::NotFound)?;
    let on = first.try_get::<_, Option<chrono::NaiveDate>>("on_day")?.ok_or(StoreError::NotFound)?;
    let (residents, with_acquired): (i64, i64) =
        (first.try_get("residents")?, first.try_get("residents_with_acquired")?);
    let mut report = PressureUlcerReport {
        establishment_id: establishment,
        on,
        residents,
        open: first.try_get("open_count")?,
        acquired: first.try_get("acquired")?,
        present_on_admission: first.try_get("present_on_admission")?,
        residents_with_acquired: with_acquired,
        acquired_prevalence_percent: percent(with_acquired, residents),
        ulcers: Vec::new(),
    };
    let shown: Vec<&Row> =
        rows.iter().filter(|r| r.try_get::<_, Option<Uuid>>("id").ok().flatten().is_some()).collect();
    if shown.is_empty() {
        return Ok(report);
    }
    let versions = shown.iter().map(|r| Ok(r.try_get::<_, i32>("resident_dek_version")? as u32));
    let keys = db.keyring(tenant, versions.collect::<StoreResult<Vec<u32>>>()?).await?;
    for row in shown {
        let resident: Uuid = row.try_get("resident_id")?;
        let identity: Identity = open_json(&keys, RESIDENT_IDENTITY, resident, row.try_get("resident_identity")?)?;
        report.ulcers.push(ListedPressureUlcer {
            wound_id: WoundId::from_uuid(row.try_get("id")?),
            resident: ResidentName::of(identity, ResidentId::from_uuid(resident)),
            site: parse(row, "site", BodySite::parse)?,
            stage: parse_opt(row, "current_stage", PressureUlcerStage::parse)?,
            origin: parse(row, "origin", WoundOrigin::parse)?,
            opened_on: row.try_get("opened_on")?,
        });
    }
    Ok(report)
}

/// Wounds, their assessments and protocols: what is said of them sealed; a merge moves them;
/// the person's export lists them in time order.
pub(crate) const FEATURE: Feature = Feature {
    name: "wounds",
    tables: &[
        Table::of_person("wounds", &[WOUND_DETAILS], "wounds w", WOUND_COLUMNS, "w.opened_on, w.id", |row, keys| {
            to_json(wound(row, keys))
        }),
        Table::of_person(
            "wound_assessments",
            &[ASSESSMENT_FINDINGS],
            "wound_assessments a",
            ASSESSMENT_COLUMNS,
            "a.assessed_on, a.recorded_at, a.id",
            |row, keys| to_json(assessment(row, keys)),
        ),
        Table::of_person(
            "wound_protocols",
            &[PROTOCOL_CONTENT],
            "wound_protocols p",
            PROTOCOL_COLUMNS,
            "p.recorded_at, p.id",
            |row, keys| to_json(protocol(row, keys)),
        ),
    ],
};
