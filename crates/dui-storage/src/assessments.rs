//! Needs assessments: drafts, validation, corrections that supersede, and the GIR history. The
//! answers are sealed; the outcome used for lists and funding (GIR, score, band) is kept in
//! clear next to them, and recomputed from the answers whenever they are read.

use chrono::NaiveDate;
use dui_crypto::{Column, Keyring};
use dui_domain::assessment::aggir::Group;
use dui_domain::assessment::recorded::{Assessment, AssessmentStatus, GirPoint};
use dui_domain::assessment::{Evaluation, instrument};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::record::NoteScope;
use dui_domain::scope::TenantScope;
use dui_domain::{AssessmentId, EstablishmentId, ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO, audit_insert, note_readable, read_trace};
use crate::idempotency::CreateStatement;
use crate::record::{PLACE, target};
use crate::residents::{open_json, seal_json};
use crate::rows::parse;
use crate::tx::Params;
use crate::{Db, StoreError, StoreResult};

type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);

pub(crate) const ASSESSMENT_ANSWERS: Column = Column::new("assessments", "answers");

/// An assessment's columns, from alias `a`, with its validated correction.
pub(crate) const ASSESSMENT_COLUMNS: &str = "a.id, a.resident_id, a.establishment_id, a.instrument, \
     a.instrument_version, a.scope, a.assessed_on, a.assessor_id, a.status, a.answers, a.dek_version, a.supersedes, \
     a.created_at, a.validated_at, a.validated_by, a.row_version, \
     (SELECT c.id FROM assessments c WHERE c.tenant_id = a.tenant_id AND c.supersedes = a.id AND c.status = 'validated' \
      ORDER BY c.id DESC LIMIT 1) AS superseded_by";

/// An assessment to record, checked.
#[derive(Debug, Clone)]
pub struct NewAssessment {
    pub evaluation: Evaluation,
    pub scope: NoteScope,
    pub assessed_on: NaiveDate,
    /// The validated assessment this one corrects.
    pub supersedes: Option<AssessmentId>,
}

/// What the API needs to decide on an assessment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessmentMeta {
    pub instrument: String,
    pub status: AssessmentStatus,
    pub assessor_id: UserId,
    pub establishment_id: EstablishmentId,
    pub superseded: bool,
}

/// The outcome columns of an evaluation.
struct OutcomeColumns {
    gir: Option<i16>,
    group: Option<&'static str>,
    rank: Option<i16>,
    score_halves: Option<i32>,
    band: Option<&'static str>,
}

fn outcome_columns(evaluation: &Evaluation) -> OutcomeColumns {
    let outcome = &evaluation.outcome;
    OutcomeColumns {
        gir: outcome.gir.map(|g| i16::from(g.gir)),
        group: outcome.gir.map(|g| g.group.as_str()),
        rank: outcome.gir.map(|g| i16::from(g.rank)),
        score_halves: outcome.score.map(|s| s.halves()),
        band: outcome.band.as_ref().map(|b| b.code),
    }
}

pub(crate) fn assessment(row: &Row, keys: &Keyring) -> StoreResult<Assessment> {
    let id: Uuid = row.try_get("id")?;
    let code: String = row.try_get("instrument")?;
    let version: String = row.try_get("instrument_version")?;
    let answers: serde_json::Value = open_json(keys, ASSESSMENT_ANSWERS, id, row.try_get("answers")?)?;
    let corrupt = |what: String| StoreError::Corrupt { column: "assessments.answers", value: what };
    let instrument =
        instrument(&code, Some(&version)).ok_or_else(|| corrupt(format!("unknown instrument {code} {version}")))?;
    let evaluation =
        instrument.evaluate(&answers).map_err(|_| corrupt(format!("answers no longer valid for {code} {version}")))?;
    Ok(Assessment {
        id: AssessmentId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        instrument: code,
        instrument_version: version,
        scope: parse(row, "scope", NoteScope::parse)?,
        assessed_on: row.try_get("assessed_on")?,
        assessor_id: UserId::from_uuid(row.try_get("assessor_id")?),
        status: parse(row, "status", AssessmentStatus::parse)?,
        answers,
        outcome: evaluation.outcome,
        supersedes: row.try_get::<_, Option<Uuid>>("supersedes")?.map(AssessmentId::from_uuid),
        superseded_by: row.try_get::<_, Option<Uuid>>("superseded_by")?.map(AssessmentId::from_uuid),
        created_at: row.try_get("created_at")?,
        validated_at: row.try_get("validated_at")?,
        validated_by: row.try_get::<_, Option<Uuid>>("validated_by")?.map(UserId::from_uuid),
        row_version: row.try_get("row_version")?,
    })
}

impl Db {
    /// Records a draft assessment of a visible resident, in the establishment of their stay.
    /// A correction names the validated assessment of the same instrument it supersedes.
    pub async fn create_assessment(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        resident: ResidentId,
        new: &NewAssessment,
    ) -> StoreResult<Created<Assessment>> {
        let keys = self.keyring_for_sealing(scope.tenant_id(), 1).await?;
        let id = Uuid::now_v7();
        let answers = seal_json(&keys, ASSESSMENT_ANSWERS, id, &new.evaluation.answers)?;
        let outcome = outcome_columns(&new.evaluation);
        let insert = format!(
            "WITH {WHO}, {}, \
             {PLACE}, \
             a AS (INSERT INTO assessments (tenant_id, id, resident_id, establishment_id, instrument, instrument_version, \
                     scope, assessed_on, assessor_id, answers, dek_version, gir, gir_group, gir_rank, score_halves, band, supersedes) \
                   SELECT t.tenant_id, $20, t.id, p.establishment_id, $21, $22, $23, $24, who.user_id, $25, $26, $27, $28, $29, \
                          $30, $31, $32 FROM target t, place p, who WHERE t.record_status = 'active' \
                   AND ($32::uuid IS NULL OR EXISTS (SELECT 1 FROM assessments o WHERE o.tenant_id = t.tenant_id \
                        AND o.id = $32 AND o.resident_id = t.id AND o.instrument = $21 AND o.status = 'validated')) \
                   RETURNING *), \
             trace AS ({}) SELECT {ASSESSMENT_COLUMNS} FROM a",
            target("$19"),
            audit_insert(
                "assessment.create",
                "'success'",
                "a.resident_id",
                "assessment",
                "a.id",
                "NOT target.normal",
                "who, a, target"
            )
        );
        let reload = format!("SELECT {ASSESSMENT_COLUMNS} FROM assessments a WHERE a.tenant_id = $1 AND a.id = $2");
        let who = self.who(scope);
        let resident_param = resident.as_uuid();
        let (code, version, note_scope) = (new.evaluation.instrument, new.evaluation.version, new.scope.as_str());
        let dek = keys.active_version() as i32;
        let supersedes = new.supersedes.map(|s| s.as_uuid());
        let mut params = who.params();
        params.extend::<[Param<'_>; 14]>([
            &resident_param,
            &id,
            &code,
            &version,
            &note_scope,
            &new.assessed_on,
            &answers,
            &dek,
            &outcome.gir,
            &outcome.group,
            &outcome.rank,
            &outcome.score_halves,
            &outcome.band,
            &supersedes,
        ]);
        let map = |row: &Row| assessment(row, &keys);
        let params: Params<'_> = &params;
        self.create_once(
            scope,
            key,
            CreateStatement { id, insert: &insert, params, reload: &reload, map: &map, audit: None },
        )
        .await
    }

    /// An assessment of a visible resident that the scope may read, without its answers.
    pub async fn assessment_meta(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        id: AssessmentId,
    ) -> StoreResult<AssessmentMeta> {
        let who = self.who(scope);
        let sql = format!(
            "WITH {WHO}, {} SELECT a.instrument, a.status, a.assessor_id, a.establishment_id, \
               EXISTS (SELECT 1 FROM assessments c WHERE c.tenant_id = a.tenant_id AND c.supersedes = a.id \
                       AND c.status = 'validated') AS superseded \
             FROM assessments a, target t, who WHERE a.tenant_id = t.tenant_id AND a.resident_id = t.id AND a.id = $20 AND {}",
            target("$19"),
            note_readable("a", "NOT t.normal")
        );
        let (resident_param, id_param) = (resident.as_uuid(), id.as_uuid());
        let mut params = who.params();
        params.extend::<[Param<'_>; 2]>([&resident_param, &id_param]);
        let rows = self.read(scope.tenant_id(), &sql, &params).await?;
        let row = rows.first().ok_or(StoreError::NotFound)?;
        Ok(AssessmentMeta {
            instrument: row.try_get("instrument")?,
            status: parse(row, "status", AssessmentStatus::parse)?,
            assessor_id: UserId::from_uuid(row.try_get("assessor_id")?),
            establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
            superseded: row.try_get("superseded")?,
        })
    }

    /// Replaces a draft's answers and date, if it is still a draft at `expected_version`.
    pub async fn update_assessment(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        id: AssessmentId,
        expected_version: Option<i32>,
        evaluation: &Evaluation,
        assessed_on: NaiveDate,
    ) -> StoreResult<Assessment> {
        let keys = self.keyring_for_sealing(scope.tenant_id(), 1).await?;
        let answers = seal_json(&keys, ASSESSMENT_ANSWERS, id.as_uuid(), &evaluation.answers)?;
        let outcome = outcome_columns(evaluation);
        let sql = format!(
            "WITH {WHO}, {}, \
             a AS (UPDATE assessments a SET answers = $21, dek_version = $22, assessed_on = $23, gir = $24, gir_group = $25, \
                     gir_rank = $26, score_halves = $27, band = $28, row_version = a.row_version + 1 \
                   FROM target t, who WHERE a.tenant_id = t.tenant_id AND a.resident_id = t.id AND a.id = $20 \
                   AND a.status = 'draft' AND a.instrument = $29 AND a.instrument_version = $30 AND {} \
                   AND ($31::int IS NULL OR a.row_version = $31) RETURNING a.*), \
             trace AS ({}) SELECT {ASSESSMENT_COLUMNS} FROM a",
            target("$19"),
            note_readable("a", "NOT t.normal"),
            audit_insert(
                "assessment.update",
                "'success'",
                "a.resident_id",
                "assessment",
                "a.id",
                "NOT target.normal",
                "who, a, target"
            )
        );
        let dek = keys.active_version() as i32;
        let (code, version) = (evaluation.instrument, evaluation.version);
        let rows = self
            .on_resident(
                scope,
                resident,
                &sql,
                &[
                    &id.as_uuid(),
                    &answers,
                    &dek,
                    &assessed_on,
                    &outcome.gir,
                    &outcome.group,
                    &outcome.rank,
                    &outcome.score_halves,
                    &outcome.band,
                    &code,
                    &version,
                    &expected_version,
                ],
            )
            .await?;
        match rows.first() {
            Some(row) => assessment(row, &keys),
            None => Err(self
                .why_unchanged(scope, resident, "assessments", id.as_uuid(), expected_version, "assessment.update")
                .await),
        }
    }

    /// Validates a draft: from then on it cannot change.
    pub async fn validate_assessment(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        id: AssessmentId,
        expected_version: Option<i32>,
    ) -> StoreResult<Assessment> {
        let sql = format!(
            "WITH {WHO}, {}, \
             a AS (UPDATE assessments a SET status = 'validated', validated_at = now(), validated_by = who.user_id, \
                     row_version = a.row_version + 1 \
                   FROM target t, who WHERE a.tenant_id = t.tenant_id AND a.resident_id = t.id AND a.id = $20 \
                   AND a.status = 'draft' AND {} AND ($21::int IS NULL OR a.row_version = $21) RETURNING a.*), \
             trace AS ({}) SELECT {ASSESSMENT_COLUMNS} FROM a",
            target("$19"),
            note_readable("a", "NOT t.normal"),
            audit_insert(
                "assessment.validate",
                "'success'",
                "a.resident_id",
                "assessment",
                "a.id",
                "NOT target.normal",
                "who, a, target"
            )
        );
        let rows = self.on_resident(scope, resident, &sql, &[&id.as_uuid(), &expected_version]).await?;
        match rows.first() {
            Some(row) => self.open_one(scope.tenant_id(), row, assessment).await,
            None => Err(self
                .why_unchanged(scope, resident, "assessments", id.as_uuid(), expected_version, "assessment.validate")
                .await),
        }
    }

    /// A resident's assessments the scope may read (of one instrument, or all), newest first;
    /// the reading is recorded.
    pub async fn list_assessments(
        &self,
        scope: &TenantScope,
        resident: ResidentId,
        instrument: Option<&str>,
        only: Option<AssessmentId>,
    ) -> StoreResult<Vec<Assessment>> {
        let only = only.map(|a| a.as_uuid());
        let rows = self.on_resident(scope, resident, &assessments_sql(), &[&instrument, &only]).await?;
        if rows.is_empty() {
            self.resident_exists_for(scope, resident).await?;
        }
        self.open_rows(scope.tenant_id(), &rows, assessment).await
    }

    /// The person's GIR over time: validated AGGIR assessments no correction superseded, oldest
    /// first. Read from the outcome kept in clear: no answer is opened. Recorded.
    pub async fn gir_history(&self, scope: &TenantScope, resident: ResidentId) -> StoreResult<Vec<GirPoint>> {
        let sql = format!(
            "WITH {WHO}, {}, \
             data AS (SELECT a.* FROM assessments a, target t, who WHERE a.tenant_id = t.tenant_id AND a.resident_id = t.id \
                      AND a.instrument = 'aggir' AND a.status = 'validated' AND {} \
                      AND NOT EXISTS (SELECT 1 FROM assessments c WHERE c.tenant_id = a.tenant_id AND c.supersedes = a.id \
                                      AND c.status = 'validated')), \
             trace AS ({}) \
             SELECT id, assessed_on, gir, gir_group, gir_rank, assessor_id, establishment_id FROM data ORDER BY assessed_on, id",
            target("$19"),
            note_readable("a", "NOT t.normal"),
            read_trace("assessment.gir_history")
        );
        let rows = self.on_resident(scope, resident, &sql, &[]).await?;
        if rows.is_empty() {
            self.resident_exists_for(scope, resident).await?;
        }
        rows.iter().map(|row| gir_point(row, "")).collect()
    }
}

/// A GIR point from a row of `assessments`, or of a statement naming its columns alike after
/// `prefix`.
pub(crate) fn gir_point(row: &Row, prefix: &str) -> StoreResult<GirPoint> {
    let corrupt = |column: &'static str| StoreError::Corrupt { column, value: "out of range".to_owned() };
    let name = |column: &str| format!("{prefix}{column}");
    Ok(GirPoint {
        assessment_id: AssessmentId::from_uuid(row.try_get(name("id").as_str())?),
        assessed_on: row.try_get(name("assessed_on").as_str())?,
        gir: u8::try_from(row.try_get::<_, i16>(name("gir").as_str())?).map_err(|_| corrupt("assessments.gir"))?,
        group: {
            let group: &str = row.try_get(name("gir_group").as_str())?;
            Group::parse(group)
                .ok_or_else(|| StoreError::Corrupt { column: "assessments.gir_group", value: group.to_owned() })?
        },
        rank: u8::try_from(row.try_get::<_, i16>(name("gir_rank").as_str())?)
            .map_err(|_| corrupt("assessments.gir_rank"))?,
        assessor_id: UserId::from_uuid(row.try_get(name("assessor_id").as_str())?),
        establishment_id: EstablishmentId::from_uuid(row.try_get(name("establishment_id").as_str())?),
    })
}

/// A resident's (`$19`) assessments the reader may see, of an instrument (`$20`) or one
/// (`$21`), newest first; the read is recorded.
pub(crate) fn assessments_sql() -> String {
    format!(
        "WITH {WHO}, {}, \
         data AS (SELECT a.* FROM assessments a, target t, who WHERE a.tenant_id = t.tenant_id AND a.resident_id = t.id \
                  AND ($20::text IS NULL OR a.instrument = $20) AND ($21::uuid IS NULL OR a.id = $21) AND {}), \
         trace AS ({}) SELECT {ASSESSMENT_COLUMNS} FROM data a ORDER BY a.assessed_on DESC, a.id DESC",
        target("$19"),
        note_readable("a", "NOT t.normal"),
        read_trace("assessment.read")
    )
}
