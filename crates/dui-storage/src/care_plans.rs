//! The projet personnalisé: versions (draft → active → superseded or closed), reviews that make
//! a new version, the validation by the person, and the establishments' due-for-review lists.
//! Content and validation are sealed; every access is recorded in its statement.

use chrono::NaiveDate;
use dui_crypto::{Column, Keyring};
use dui_domain::care_plan::{DuePlan, PlanContent, PlanStatus, PlanVersion, Validation};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::resident::Identity;
use dui_domain::transmission::ResidentName;
use dui_domain::{EstablishmentId, PlanVersionId, ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use std::sync::LazyLock;

use dui_domain::audit::AuditAction;

use crate::access::{WHO_CTE, target, visible};
use crate::args;
use crate::feature::{Feature, Merge, Table, to_json};
use crate::idempotency::{Create, create_once};
use crate::listing::{listed, open_listed, query_listed};
use crate::residents::RESIDENT_IDENTITY;
use crate::rows::parse;
use crate::sealing::{open_json, seal_json, versions as versions_of};
use crate::sql::{Sql, Stmt};
use crate::stays::PLACE;
use crate::trace::{Reading, Trace, Variants, read_trace};
use crate::tx::Tx;
use crate::unchanged::why_unchanged;
use crate::{StoreError, StoreResult};

pub(crate) const PLAN_CONTENT: Column = Column::new("care_plan_versions", "content");
pub(crate) const PLAN_VALIDATION: Column = Column::new("care_plan_versions", "validation");

pub(crate) const PLAN_COLUMNS: &str = "p.id, p.plan_id, p.resident_id, p.establishment_id, p.version, p.status, \
     p.content, p.validation, p.dek_version, p.review_due_on, p.created_by, p.created_at, p.activated_at, \
     p.activated_by, p.ended_at, p.row_version";

pub(crate) fn plan_version(row: &Row, keys: &Keyring) -> StoreResult<PlanVersion> {
    let id: Uuid = row.try_get("id")?;
    let validation = row
        .try_get::<_, Option<&[u8]>>("validation")?
        .map(|sealed| open_json::<Validation>(keys, PLAN_VALIDATION, id, sealed))
        .transpose()?;
    Ok(PlanVersion {
        id,
        plan_id: row.try_get("plan_id")?,
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        version: row.try_get("version")?,
        status: parse(row, "status", PlanStatus::parse)?,
        content: open_json(keys, PLAN_CONTENT, id, row.try_get("content")?)?,
        review_due_on: row.try_get("review_due_on")?,
        validation,
        created_by: UserId::from_uuid(row.try_get("created_by")?),
        created_at: row.try_get("created_at")?,
        activated_at: row.try_get("activated_at")?,
        activated_by: row.try_get::<_, Option<Uuid>>("activated_by")?.map(UserId::from_uuid),
        ended_at: row.try_get("ended_at")?,
        row_version: row.try_get("row_version")?,
    })
}

/// A version's status and place, for the API's decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanMeta {
    pub status: PlanStatus,
    pub establishment_id: EstablishmentId,
    /// Whether the person or their representative validated it.
    pub validated: bool,
}

/// A first plan (none exists for the person) or, with `:from`, the next version of the
/// active one (with no draft pending).
fn insert_sql(review: bool) -> String {
    let base = if review {
        "base AS (SELECT p.plan_id, p.version + 1 AS version FROM care_plan_versions p, target t \
                  WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.id = :from AND p.status = 'active' \
                  AND NOT EXISTS (SELECT 1 FROM care_plan_versions d WHERE d.tenant_id = p.tenant_id \
                                  AND d.plan_id = p.plan_id AND d.status = 'draft'))"
    } else {
        "base AS (SELECT :plan_id::uuid AS plan_id, 1 AS version FROM target t \
                  WHERE NOT EXISTS (SELECT 1 FROM care_plan_versions p WHERE p.tenant_id = t.tenant_id \
                                    AND p.resident_id = t.id))"
    };
    format!(
        "WITH {WHO_CTE}, {target}, {base}, {PLACE}, \
         p AS (INSERT INTO care_plan_versions (tenant_id, id, plan_id, resident_id, establishment_id, version, content, \
                 dek_version, review_due_on, created_by) \
               SELECT t.tenant_id, :id, b.plan_id, t.id, pl.establishment_id, b.version, :content, :dek_version, \
                      :review_due_on, who.user_id \
               FROM target t, base b, place pl, who WHERE t.record_status = 'active' RETURNING *), \
         trace AS ({trace}) SELECT {PLAN_COLUMNS} FROM p",
        target = target(),
        trace = Trace::written("p"),
    )
}

static INSERT_FIRST: Stmt = LazyLock::new(|| Sql::new(&insert_sql(false)));
static INSERT_REVIEW: Stmt = LazyLock::new(|| Sql::new(&insert_sql(true)));

static BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {PLAN_COLUMNS} FROM care_plan_versions p WHERE p.tenant_id = :tenant AND p.id = :id"))
});

static LIST: Variants = Variants {
    recorded: LazyLock::new(|| Sql::new(&plan_versions_sql(true))),
    unrecorded: LazyLock::new(|| Sql::new(&plan_versions_sql(false))),
};

/// One version of a visible resident's plan, for a check inside an operation.
static ONE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} SELECT {PLAN_COLUMNS} FROM care_plan_versions p, target t \
         WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.id = :id",
        target = target()
    ))
});

static META: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} SELECT p.status, p.establishment_id, p.validation IS NOT NULL AS validated \
         FROM care_plan_versions p, target t \
         WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.id = :id",
        target = target()
    ))
});

static UPDATE_DRAFT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         p AS (UPDATE care_plan_versions p SET content = :content, validation = :validation, dek_version = :dek_version, \
                 review_due_on = :review_due_on, row_version = p.row_version + 1 \
               FROM target t WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.id = :id \
               AND p.status = 'draft' AND (:expected_version::int IS NULL OR p.row_version = :expected_version) \
               RETURNING p.*), \
         trace AS ({trace}) SELECT {PLAN_COLUMNS} FROM p",
        target = target(),
        trace = Trace::written("p"),
    ))
});

static VALIDATE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         p AS (UPDATE care_plan_versions p SET content = :content, validation = :validation, dek_version = :dek_version, \
                 row_version = p.row_version + 1 \
               FROM target t WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.id = :id \
               AND p.status IN ('draft', 'active') AND p.row_version = :expected_version RETURNING p.*), \
         trace AS ({trace}) SELECT {PLAN_COLUMNS} FROM p",
        target = target(),
        trace = Trace::written("p"),
    ))
});

static SUPERSEDE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} UPDATE care_plan_versions p SET status = 'superseded', ended_at = now(), \
           row_version = p.row_version + 1 \
         FROM target t WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.status = 'active' \
         AND EXISTS (SELECT 1 FROM care_plan_versions d WHERE d.tenant_id = p.tenant_id AND d.id = :id \
                     AND d.resident_id = t.id AND d.status = 'draft' AND d.validation IS NOT NULL \
                     AND (:expected_version::int IS NULL OR d.row_version = :expected_version))",
        target = target()
    ))
});

static ACTIVATE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         p AS (UPDATE care_plan_versions p SET status = 'active', activated_at = now(), activated_by = who.user_id, \
                 review_due_on = coalesce(p.review_due_on, :default_due), row_version = p.row_version + 1 \
               FROM target t, who WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.id = :id \
               AND p.status = 'draft' AND p.validation IS NOT NULL \
               AND (:expected_version::int IS NULL OR p.row_version = :expected_version) \
               RETURNING p.*), \
         trace AS ({trace}) SELECT {PLAN_COLUMNS} FROM p",
        target = target(),
        trace = Trace::written("p"),
    ))
});

static CLOSE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         p AS (UPDATE care_plan_versions p SET status = 'closed', ended_at = now(), row_version = p.row_version + 1 \
               FROM target t WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.id = :id \
               AND p.status = 'active' RETURNING p.*), \
         trace AS ({trace}) SELECT {PLAN_COLUMNS} FROM p",
        target = target(),
        trace = Trace::written("p"),
    ))
});

static DUE: Stmt = LazyLock::new(|| {
    let each_resident = Trace {
        from: "who, due",
        resident: "due.resident_id",
        resource: "due.resident_id",
        outcome: "'success'",
        emergency: "false",
    };
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         due AS MATERIALIZED (SELECT p.*, r.identity AS resident_identity, r.dek_version AS resident_dek_version \
                  FROM care_plan_versions p JOIN residents r ON r.tenant_id = p.tenant_id AND r.id = p.resident_id, who \
                  WHERE p.tenant_id = who.tenant_id AND p.establishment_id = :establishment AND p.status = 'active' \
                  AND (p.review_due_on <= :today OR p.activated_at <= (:today::date - interval '12 months')) \
                  AND {visible}), \
         trace AS ({trace}) \
         SELECT id, version, activated_at, review_due_on, resident_id, resident_identity, resident_dek_version, \
                coalesce(least(review_due_on, (activated_at + interval '12 months')::date), review_due_on) AS due_on \
         FROM due ORDER BY due_on, id",
        visible = visible("r"),
        trace = each_resident.sql(),
    ))
});

/// Starts a person's projet personnalisé (version 1, a draft) or, with `from`, makes the next
/// version from a review of the active one; commits. A person has one plan: a second is a
/// conflict, and so is a review while a draft is pending.
pub async fn create_version(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    content: &PlanContent,
    review_due_on: Option<NaiveDate>,
    from: Option<PlanVersionId>,
) -> StoreResult<Created<PlanVersion>> {
    let keys = tx.sealing_keys(1).await?;
    let id = Uuid::now_v7();
    let sealed = seal_json(&keys, PLAN_CONTENT, id, content)?;
    let (resident, plan_id) = (resident.as_uuid(), Uuid::now_v7());
    let dek = keys.active_version() as i32;
    let from_id = from.map(|f| f.as_uuid());
    let action = if from.is_some() { AuditAction::CarePlanReview } else { AuditAction::CarePlanCreate };
    let args = args! { resident: &resident, plan_id: &plan_id, id: &id, content: &sealed, dek_version: &dek,
    review_due_on: &review_due_on, from: &from_id }
    .action(action);
    let map = |row: &Row| plan_version(row, &keys);
    let insert: &Sql = if from.is_some() { &INSERT_REVIEW } else { &INSERT_FIRST };
    match create_once(tx, key, Create { id, insert, args, reload: &BY_ID, map: &map }).await {
        // The record was visible (the caller checked): the plan's state refused it.
        Err(StoreError::NotFound) => Err(StoreError::Conflict {
            constraint: if from.is_some() { "care_plan_review_refused" } else { "care_plan_versions_one_plan" }
                .to_owned(),
        }),
        other => other,
    }
}

/// Every version of the person's plan (or one), newest first, as the transaction's last
/// statement.
pub async fn versions(
    tx: Tx<'_>,
    resident: ResidentId,
    only: Option<PlanVersionId>,
    reading: Reading,
) -> StoreResult<Vec<PlanVersion>> {
    let (resident, only) = (resident.as_uuid(), only.map(|v| v.as_uuid()));
    let (sql, args, trace) = LIST.pick_final(reading, args! { resident: &resident, only: &only }, |action| {
        crate::trail::ReadTrace::Record { action, resident }
    });
    open_listed(tx, sql, &args, trace, plan_version).await
}

/// [`versions`] within an operation that goes on.
pub async fn versions_within(tx: &mut Tx<'_>, resident: ResidentId, reading: Reading) -> StoreResult<Vec<PlanVersion>> {
    let (resident, only) = (resident.as_uuid(), None::<Uuid>);
    let (sql, args) = LIST.pick(reading, args! { resident: &resident, only: &only });
    let rows = query_listed(tx, sql, &args).await?;
    let keys = tx.keyring(versions_of(&rows)?).await?;
    rows.iter().map(|row| plan_version(row, &keys)).collect()
}

/// One version, for a check inside an operation (not recorded).
pub async fn version(tx: &mut Tx<'_>, resident: ResidentId, id: PlanVersionId) -> StoreResult<PlanVersion> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let row = tx.query_one(&ONE, &args! { resident: &resident, id: &id }).await?;
    let keys = tx.keyring(versions_of(std::slice::from_ref(&row))?).await?;
    plan_version(&row, &keys)
}

/// A version's status and establishment (nothing sealed is read, nothing recorded).
pub async fn meta(tx: &mut Tx<'_>, resident: ResidentId, id: PlanVersionId) -> StoreResult<PlanMeta> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let row = tx.query_one(&META, &args! { resident: &resident, id: &id }).await?;
    Ok(PlanMeta {
        status: parse(&row, "status", PlanStatus::parse)?,
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        validated: row.try_get("validated")?,
    })
}

/// What a change of a draft sets: its content, its review date, and the validation it keeps
/// (`None`: none).
#[derive(Debug, Clone, Copy)]
pub struct DraftChange<'a> {
    pub content: &'a PlanContent,
    pub review_due_on: Option<NaiveDate>,
    pub validation: Option<&'a Validation>,
}

/// Replaces a draft's content, if it is still the draft at `expected_version`; commits. The
/// validation kept is resealed with the content: a row has one key version.
pub async fn update_draft(
    tx: Tx<'_>,
    current: &PlanVersion,
    expected_version: Option<i32>,
    change: DraftChange<'_>,
) -> StoreResult<PlanVersion> {
    let DraftChange { content, review_due_on, validation } = change;
    let keys = tx.sealing_keys(2).await?;
    let id = current.id;
    let sealed = seal_json(&keys, PLAN_CONTENT, id, content)?;
    let validation = validation.map(|v| seal_json(&keys, PLAN_VALIDATION, id, v)).transpose()?;
    let dek = keys.active_version() as i32;
    let resident = current.resident_id.as_uuid();
    let args = args! { resident: &resident, id: &id, content: &sealed, validation: &validation, dek_version: &dek,
    review_due_on: &review_due_on, expected_version: &expected_version }
    .action(AuditAction::CarePlanUpdate);
    let again = tx.again();
    match tx.finish(&UPDATE_DRAFT, &args).await?.first() {
        Some(row) => plan_version(row, &keys),
        None => Err(why_unchanged(again, "care_plan_versions", current.resident_id, id, expected_version).await),
    }
}

/// Records who validated a draft or active version with the team, when and how; commits.
pub async fn validate(tx: Tx<'_>, current: &PlanVersion, validation: &Validation) -> StoreResult<PlanVersion> {
    let keys = tx.sealing_keys(2).await?;
    let id = current.id;
    let content = seal_json(&keys, PLAN_CONTENT, id, &current.content)?;
    let sealed = seal_json(&keys, PLAN_VALIDATION, id, validation)?;
    let dek = keys.active_version() as i32;
    let resident = current.resident_id.as_uuid();
    let args = args! { resident: &resident, id: &id, content: &content, validation: &sealed, dek_version: &dek,
    expected_version: &current.row_version }
    .action(AuditAction::CarePlanValidate);
    match tx.finish(&VALIDATE, &args).await?.first() {
        Some(row) => plan_version(row, &keys),
        None => Err(StoreError::Conflict { constraint: "care_plan_versions_changed".to_owned() }),
    }
}

/// Activates a draft: the active version, if any, is superseded in the same transaction. The
/// review is due on the date set, or on `default_due`. Commits.
pub async fn activate(
    mut tx: Tx<'_>,
    resident: ResidentId,
    id: PlanVersionId,
    expected_version: Option<i32>,
    default_due: NaiveDate,
) -> StoreResult<PlanVersion> {
    let (resident_id, row) = (resident.as_uuid(), id.as_uuid());
    let args =
        args! { resident: &resident_id, id: &row, expected_version: &expected_version, default_due: &default_due }
            .action(AuditAction::CarePlanActivate);
    tx.query(&SUPERSEDE, &args).await?;
    let rows = tx.query(&ACTIVATE, &args).await?;
    let Some(found) = rows.first() else {
        let again = tx.again();
        drop(tx);
        return Err(why_unchanged(again, "care_plan_versions", resident, row, expected_version).await);
    };
    let keys = tx.keyring(versions_of(std::slice::from_ref(found))?).await?;
    let activated = plan_version(found, &keys)?;
    tx.commit().await?;
    Ok(activated)
}

/// Closes the active version (the support ended, or the plan is abandoned); commits.
pub async fn close(tx: Tx<'_>, resident: ResidentId, id: PlanVersionId) -> StoreResult<PlanVersion> {
    let (resident_id, row) = (resident.as_uuid(), id.as_uuid());
    let args = args! { resident: &resident_id, id: &row }.action(AuditAction::CarePlanClose);
    let (db, tenant, again) = (tx.db(), tx.tenant(), tx.again());
    match tx.finish(&CLOSE, &args).await?.first() {
        Some(found) => db.open_one(tenant, found, plan_version).await,
        None => Err(why_unchanged(again, "care_plan_versions", resident, row, None).await),
    }
}

/// The active plans of an establishment due for review on `today` (past their review date, or
/// active for twelve months), soonest first, with the people's names, for the people the caller
/// sees. Each person listed is recorded as read.
pub async fn due_for_review(tx: Tx<'_>, establishment: EstablishmentId, today: NaiveDate) -> StoreResult<Vec<DuePlan>> {
    let establishment = establishment.as_uuid();
    let args = args! { establishment: &establishment, today: &today }.action(AuditAction::CarePlanDueList);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = tx.finish(&DUE, &args).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut needed = Vec::with_capacity(rows.len());
    for row in &rows {
        needed.push(row.try_get::<_, i32>("resident_dek_version")? as u32);
    }
    let keys = db.keyring(tenant, needed).await?;
    rows.iter()
        .map(|row| {
            let resident = ResidentId::from_uuid(row.try_get("resident_id")?);
            let identity: Identity =
                open_json(&keys, RESIDENT_IDENTITY, resident.as_uuid(), row.try_get("resident_identity")?)?;
            Ok(DuePlan {
                resident: ResidentName::of(identity, resident),
                version_id: row.try_get("id")?,
                version: row.try_get("version")?,
                activated_at: row.try_get("activated_at")?,
                review_due_on: row.try_get("due_on")?,
            })
        })
        .collect()
}

/// A resident's plan versions (`:resident`), or one (`:only`), newest first; the read is
/// recorded.
pub(crate) fn plan_versions_sql(recorded: bool) -> String {
    format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT p.* FROM care_plan_versions p, target t WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id \
                  AND (:only::uuid IS NULL OR p.id = :only)){trace} \
         {listed}",
        target = target(),
        trace = read_trace(recorded),
        listed = listed(&format!("SELECT {PLAN_COLUMNS} FROM data p"), "x.version DESC"),
    )
}

static ACTIVE_CONTENT: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT id, content, dek_version FROM care_plan_versions \
         WHERE tenant_id = :tenant AND resident_id = :resident AND status = 'active'",
    )
});

/// The objectives of the person's plan in force: for checking what a note reports on. Nothing
/// is recorded: it is a check inside an operation, not a reading by a person.
pub async fn objectives_in_force(tx: &mut Tx<'_>, resident: ResidentId) -> StoreResult<Vec<Uuid>> {
    let resident = resident.as_uuid();
    let rows = tx.query(&ACTIVE_CONTENT, &args! { resident: &resident }).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let keys = tx.keyring(versions_of(&rows)?).await?;
    let mut objectives = Vec::new();
    for row in &rows {
        let content: PlanContent = open_json(&keys, PLAN_CONTENT, row.try_get("id")?, row.try_get("content")?)?;
        objectives.extend(content.objectives.iter().filter_map(|o| o.id));
    }
    Ok(objectives)
}

/// Versions of the projet personnalisé: content and validation sealed; a merge moves them, and
/// closes the duplicate's plan in force when the record kept has one (a person has one plan in
/// force); the resident's export lists every version.
pub(crate) const FEATURE: Feature = Feature {
    name: "care_plans",
    tables: &[Table::of_person(
        "care_plan_versions",
        &[PLAN_CONTENT, PLAN_VALIDATION],
        "care_plan_versions p",
        PLAN_COLUMNS,
        "p.version",
        |row, keys| to_json(plan_version(row, keys)),
    )
    .merged(Merge::Rule {
        merge: || {
            "UPDATE care_plan_versions p SET resident_id = :survivor, \
               status = CASE WHEN p.status = 'active' AND EXISTS (SELECT 1 FROM care_plan_versions k \
                   WHERE k.tenant_id = p.tenant_id AND k.resident_id = :survivor AND k.status = 'active') \
                 THEN 'closed' ELSE p.status END, \
               ended_at = CASE WHEN p.status = 'active' AND EXISTS (SELECT 1 FROM care_plan_versions k \
                   WHERE k.tenant_id = p.tenant_id AND k.resident_id = :survivor AND k.status = 'active') \
                 THEN now() ELSE p.ended_at END \
             FROM ok, who WHERE ok.found_both AND p.tenant_id = who.tenant_id AND p.resident_id = :duplicate \
             RETURNING p.id, (p.status = 'closed' AND p.ended_at = now()) AS ended"
                .to_owned()
        },
        undo: "status = CASE WHEN t.id::text = ANY(m.ended) THEN 'active' ELSE t.status END, \
               ended_at = CASE WHEN t.id::text = ANY(m.ended) THEN NULL ELSE t.ended_at END",
    })],
};
