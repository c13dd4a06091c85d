//! The projet personnalisé: versions (draft → active → superseded or closed), reviews that make
//! a new version, the validation by the person, and the establishments' due-for-review lists.
//! Content and validation are sealed; every access is recorded in its statement.

use chrono::NaiveDate;
use dui_crypto::{Column, Keyring};
use dui_domain::care_plan::{DuePlan, PlanContent, PlanStatus, PlanVersion, Validation};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::resident::Identity;
use dui_domain::scope::TenantScope;
use dui_domain::transmission::ResidentName;
use dui_domain::{EstablishmentId, PlanVersionId, ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO, audit_insert, read_trace, visible};
use crate::idempotency::CreateStatement;
use crate::record::{PLACE, target};
use crate::residents::{RESIDENT_IDENTITY, open_json, seal_json};
use crate::rows::parse;
use crate::tx::{Params, TenantTx};
use crate::{Db, StoreError, StoreResult};

type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);

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
}

impl Db {
    /// Starts a person's projet personnalisé: version 1, a draft. A person has one plan: a
    /// second one is a conflict (review the existing one instead).
    pub async fn create_care_plan(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        resident: ResidentId,
        content: &PlanContent,
        review_due_on: Option<NaiveDate>,
    ) -> StoreResult<Created<PlanVersion>> {
        self.insert_version(scope, key, resident, content, review_due_on, None).await
    }

    /// Makes the next version, a draft, from a review of the active one.
    pub async fn review_care_plan(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        resident: ResidentId,
        content: &PlanContent,
        review_due_on: Option<NaiveDate>,
        from: PlanVersionId,
    ) -> StoreResult<Created<PlanVersion>> {
        self.insert_version(scope, key, resident, content, review_due_on, Some(from)).await
    }

    async fn insert_version(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        resident: ResidentId,
        content: &PlanContent,
        review_due_on: Option<NaiveDate>,
        from: Option<PlanVersionId>,
    ) -> StoreResult<Created<PlanVersion>> {
        let keys = self.keyring_for_sealing(scope.tenant_id(), 1).await?;
        let id = Uuid::now_v7();
        let sealed = seal_json(&keys, PLAN_CONTENT, id, content)?;
        // A first plan: none exists for the person. A review: from the active version, with no
        // draft pending.
        let base = if from.is_some() {
            "base AS (SELECT p.plan_id, p.version + 1 AS version, $20::uuid AS unused FROM care_plan_versions p, target t \
                      WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.id = $25 AND p.status = 'active' \
                      AND NOT EXISTS (SELECT 1 FROM care_plan_versions d WHERE d.tenant_id = p.tenant_id \
                                      AND d.plan_id = p.plan_id AND d.status = 'draft'))"
        } else {
            "base AS (SELECT $20::uuid AS plan_id, 1 AS version, $25::uuid AS unused FROM target t \
                      WHERE NOT EXISTS (SELECT 1 FROM care_plan_versions p WHERE p.tenant_id = t.tenant_id \
                                        AND p.resident_id = t.id))"
        };
        let insert = format!(
            "WITH {WHO}, {}, {base}, \
             {PLACE}, \
             p AS (INSERT INTO care_plan_versions (tenant_id, id, plan_id, resident_id, establishment_id, version, content, \
                     dek_version, review_due_on, created_by) \
                   SELECT t.tenant_id, $21, b.plan_id, t.id, pl.establishment_id, b.version, $22, $23, $24, who.user_id \
                   FROM target t, base b, place pl, who WHERE t.record_status = 'active' RETURNING *), \
             trace AS ({}) SELECT {PLAN_COLUMNS} FROM p",
            target("$19"),
            audit_insert(
                if from.is_some() { "care_plan.review" } else { "care_plan.create" },
                "'success'",
                "p.resident_id",
                "care_plan_version",
                "p.id",
                "NOT target.normal",
                "who, p, target"
            )
        );
        let reload = format!("SELECT {PLAN_COLUMNS} FROM care_plan_versions p WHERE p.tenant_id = $1 AND p.id = $2");
        let who = self.who(scope);
        let (resident_param, plan_id) = (resident.as_uuid(), Uuid::now_v7());
        let dek = keys.active_version() as i32;
        let from = from.map(|f| f.as_uuid());
        let mut params = who.params();
        params.extend::<[Param<'_>; 7]>([&resident_param, &plan_id, &id, &sealed, &dek, &review_due_on, &from]);
        let map = |row: &Row| plan_version(row, &keys);
        let params: Params<'_> = &params;
        let created = self
            .create_once(
                scope,
                key,
                CreateStatement { id, insert: &insert, params, reload: &reload, map: &map, audit: None },
            )
            .await;
        match created {
            Err(StoreError::NotFound) => {
                // Visible (or a 404 and its trace): then the plan's state refused it.
                self.resident_exists_for(scope, resident).await?;
                Err(StoreError::Conflict {
                    constraint: if from.is_some() { "care_plan_review_refused" } else { "care_plan_versions_one_plan" }
                        .to_owned(),
                })
            }
            other => other,
        }
    }

    /// Every version of the person's plan, newest first; the reading is recorded.
    pub async fn list_plan_versions(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        only: Option<PlanVersionId>,
    ) -> StoreResult<Vec<PlanVersion>> {
        let only = only.map(|v| v.as_uuid());
        let rows = self.on_resident(scope, resident, &plan_versions_sql(), &[&only]).await?;
        if rows.is_empty() {
            self.resident_exists_for(scope, resident).await?;
        }
        self.open_rows(scope.tenant_id(), &rows, plan_version).await
    }

    /// A version's status and establishment (nothing sealed is read).
    pub async fn plan_meta(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        id: PlanVersionId,
    ) -> StoreResult<PlanMeta> {
        let who = self.who(scope);
        let sql = format!(
            "WITH {WHO}, {} SELECT p.status, p.establishment_id FROM care_plan_versions p, target t \
             WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.id = $20",
            target("$19")
        );
        let (resident_param, id_param) = (resident.as_uuid(), id.as_uuid());
        let mut params = who.params();
        params.extend::<[Param<'_>; 2]>([&resident_param, &id_param]);
        let rows = self.read(scope.tenant_id(), &sql, &params).await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        Ok(PlanMeta {
            status: parse(row, "status", PlanStatus::parse)?,
            establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        })
    }

    /// Replaces a draft's content, if it is still the draft at `expected_version`.
    pub async fn update_plan_draft(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        id: PlanVersionId,
        expected_version: Option<i32>,
        content: &PlanContent,
        review_due_on: Option<NaiveDate>,
    ) -> StoreResult<PlanVersion> {
        let keys = self.keyring_for_sealing(scope.tenant_id(), 1).await?;
        let sealed = seal_json(&keys, PLAN_CONTENT, id.as_uuid(), content)?;
        // The validation (if any) is resealed with the content: a row has one key version.
        let current = self.list_plan_versions(scope, resident, Some(id)).await?;
        let current = current.first().ok_or(StoreError::NotFound)?;
        let validation =
            current.validation.as_ref().map(|v| seal_json(&keys, PLAN_VALIDATION, id.as_uuid(), v)).transpose()?;
        let sql = format!(
            "WITH {WHO}, {}, \
             p AS (UPDATE care_plan_versions p SET content = $21, validation = $22, dek_version = $23, review_due_on = $24, \
                     row_version = p.row_version + 1 \
                   FROM target t WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.id = $20 \
                   AND p.status = 'draft' AND ($25::int IS NULL OR p.row_version = $25) RETURNING p.*), \
             trace AS ({}) SELECT {PLAN_COLUMNS} FROM p",
            target("$19"),
            audit_insert(
                "care_plan.update",
                "'success'",
                "p.resident_id",
                "care_plan_version",
                "p.id",
                "NOT target.normal",
                "who, p, target"
            )
        );
        let dek = keys.active_version() as i32;
        let rows = self
            .on_resident(
                scope,
                resident,
                &sql,
                &[&id.as_uuid(), &sealed, &validation, &dek, &review_due_on, &expected_version],
            )
            .await?;
        match rows.first() {
            Some(row) => plan_version(row, &keys),
            None => Err(self
                .why_unchanged(
                    scope,
                    resident,
                    "care_plan_versions",
                    id.as_uuid(),
                    expected_version,
                    "care_plan.update",
                )
                .await),
        }
    }

    /// Records who validated a draft or active version with the team, when and how.
    pub async fn validate_plan(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        id: PlanVersionId,
        validation: &Validation,
    ) -> StoreResult<PlanVersion> {
        let current = self.list_plan_versions(scope, resident, Some(id)).await?;
        let current = current.first().ok_or(StoreError::NotFound)?;
        let keys = self.keyring_for_sealing(scope.tenant_id(), 2).await?;
        let content = seal_json(&keys, PLAN_CONTENT, id.as_uuid(), &current.content)?;
        let sealed = seal_json(&keys, PLAN_VALIDATION, id.as_uuid(), validation)?;
        let sql = format!(
            "WITH {WHO}, {}, \
             p AS (UPDATE care_plan_versions p SET content = $21, validation = $22, dek_version = $23, \
                     row_version = p.row_version + 1 \
                   FROM target t WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.id = $20 \
                   AND p.status IN ('draft', 'active') AND p.row_version = $24 RETURNING p.*), \
             trace AS ({}) SELECT {PLAN_COLUMNS} FROM p",
            target("$19"),
            audit_insert(
                "care_plan.validate",
                "'success'",
                "p.resident_id",
                "care_plan_version",
                "p.id",
                "NOT target.normal",
                "who, p, target"
            )
        );
        let dek = keys.active_version() as i32;
        let rows = self
            .on_resident(scope, resident, &sql, &[&id.as_uuid(), &content, &sealed, &dek, &current.row_version])
            .await?;
        match rows.first() {
            Some(row) => plan_version(row, &keys),
            None => Err(StoreError::Conflict { constraint: "care_plan_versions_changed".to_owned() }),
        }
    }

    /// Activates a draft: the active version, if any, is superseded in the same transaction.
    /// The review is due on the date set, or twelve months from today.
    pub async fn activate_plan(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        id: PlanVersionId,
        expected_version: Option<i32>,
        default_due: NaiveDate,
    ) -> StoreResult<PlanVersion> {
        let tenant = scope.tenant_id();
        let who = self.who(scope);
        let (resident_param, id_param) = (resident.as_uuid(), id.as_uuid());
        let mut conn = self.conn().await?;
        let tx = TenantTx::begin(&mut conn, tenant).await?;
        let supersede = format!(
            "WITH {WHO}, {} UPDATE care_plan_versions p SET status = 'superseded', ended_at = now(), \
               row_version = p.row_version + 1 \
             FROM target t WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.status = 'active' \
             AND EXISTS (SELECT 1 FROM care_plan_versions d WHERE d.tenant_id = p.tenant_id AND d.id = $20 \
                         AND d.resident_id = t.id AND d.status = 'draft' AND ($21::int IS NULL OR d.row_version = $21))",
            target("$19")
        );
        let mut params = who.params();
        params.extend::<[Param<'_>; 3]>([&resident_param, &id_param, &expected_version]);
        tx.query(&supersede, &params).await?;
        let activate = format!(
            "WITH {WHO}, {}, \
             p AS (UPDATE care_plan_versions p SET status = 'active', activated_at = now(), activated_by = who.user_id, \
                     review_due_on = coalesce(p.review_due_on, $22), row_version = p.row_version + 1 \
                   FROM target t, who WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.id = $20 \
                   AND p.status = 'draft' AND ($21::int IS NULL OR p.row_version = $21) RETURNING p.*), \
             trace AS ({}) SELECT {PLAN_COLUMNS} FROM p",
            target("$19"),
            audit_insert(
                "care_plan.activate",
                "'success'",
                "p.resident_id",
                "care_plan_version",
                "p.id",
                "NOT target.normal",
                "who, p, target"
            )
        );
        let mut params = who.params();
        params.extend::<[Param<'_>; 4]>([&resident_param, &id_param, &expected_version, &default_due]);
        let rows = tx.query(&activate, &params).await?;
        let Some(row) = rows.first() else {
            drop(tx);
            return Err(self
                .why_unchanged(scope, resident, "care_plan_versions", id_param, expected_version, "care_plan.activate")
                .await);
        };
        tx.commit().await?;
        drop(conn);
        let row = row.clone();
        self.open_one(tenant, &row, plan_version).await
    }

    /// Closes the active version (the support ended, or the plan is abandoned).
    pub async fn close_plan(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        id: PlanVersionId,
    ) -> StoreResult<PlanVersion> {
        let sql = format!(
            "WITH {WHO}, {}, \
             p AS (UPDATE care_plan_versions p SET status = 'closed', ended_at = now(), row_version = p.row_version + 1 \
                   FROM target t WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.id = $20 \
                   AND p.status = 'active' RETURNING p.*), \
             trace AS ({}) SELECT {PLAN_COLUMNS} FROM p",
            target("$19"),
            audit_insert(
                "care_plan.close",
                "'success'",
                "p.resident_id",
                "care_plan_version",
                "p.id",
                "NOT target.normal",
                "who, p, target"
            )
        );
        let rows = self.on_resident(scope, resident, &sql, &[&id.as_uuid()]).await?;
        match rows.first() {
            Some(row) => self.open_one(scope.tenant_id(), row, plan_version).await,
            None => Err(self
                .why_unchanged(scope, resident, "care_plan_versions", id.as_uuid(), None, "care_plan.close")
                .await),
        }
    }

    /// The active plans of an establishment due for review on `today` (past their review date,
    /// or active for twelve months), soonest first, with the people's names, for the people the
    /// scope sees. Each person listed is recorded as read.
    pub async fn plans_due_for_review(
        &self,
        scope: &TenantScope,
        establishment: EstablishmentId,
        today: NaiveDate,
    ) -> StoreResult<Vec<DuePlan>> {
        let sql = format!(
            "WITH {WHO}, \
             due AS MATERIALIZED (SELECT p.*, r.identity AS resident_identity, r.dek_version AS resident_dek_version \
                      FROM care_plan_versions p JOIN residents r ON r.tenant_id = p.tenant_id AND r.id = p.resident_id, who \
                      WHERE p.tenant_id = who.tenant_id AND p.establishment_id = $19 AND p.status = 'active' \
                      AND (p.review_due_on <= $20 OR p.activated_at <= ($20::date - interval '12 months')) AND {}), \
             trace AS ({}) \
             SELECT id, version, activated_at, review_due_on, resident_id, resident_identity, resident_dek_version, \
                    coalesce(least(review_due_on, (activated_at + interval '12 months')::date), review_due_on) AS due_on \
             FROM due ORDER BY due_on, id",
            visible("r"),
            audit_insert(
                "care_plan.due_list",
                "'success'",
                "due.resident_id",
                "resident",
                "due.resident_id",
                "false",
                "who, due"
            )
        );
        let who = self.who(scope);
        let establishment_param = establishment.as_uuid();
        let mut params = who.params();
        params.extend::<[Param<'_>; 2]>([&establishment_param, &today]);
        let rows = self.write(scope.tenant_id(), &sql, &params).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut needed = Vec::with_capacity(rows.len());
        for row in &rows {
            needed.push(row.try_get::<_, i32>("resident_dek_version")? as u32);
        }
        let keys = self.keyring(scope.tenant_id(), needed).await?;
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
}

/// A resident's plan versions (`$19`), or one (`$20`), newest first; the read is recorded.
pub(crate) fn plan_versions_sql() -> String {
    format!(
        "WITH {WHO}, {}, \
         data AS (SELECT p.* FROM care_plan_versions p, target t WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id \
                  AND ($20::uuid IS NULL OR p.id = $20)), \
         trace AS ({}) SELECT {PLAN_COLUMNS} FROM data p ORDER BY p.version DESC",
        target("$19"),
        read_trace("care_plan.read")
    )
}
