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
use dui_domain::{AssessmentId, EstablishmentId, ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use std::sync::LazyLock;

use dui_domain::audit::AuditAction;

use crate::access::{WHO_CTE, note_readable, target};
use crate::args;
use crate::feature::{Feature, Table, to_json};
use crate::idempotency::{Create, create_once};
use crate::listing::{listed, open_listed, present, query_listed};
use crate::rows::parse;
use crate::sealing::{open_json, seal_json, versions};
use crate::sql::{Sql, Stmt};
use crate::stays::PLACE;
use crate::trace::{Reading, Trace, Variants, read_trace};
use crate::tx::Tx;
use crate::unchanged::why_unchanged;
use crate::{StoreError, StoreResult};

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

static INSERT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, {PLACE}, \
         a AS (INSERT INTO assessments (tenant_id, id, resident_id, establishment_id, instrument, instrument_version, \
                 scope, assessed_on, assessor_id, answers, dek_version, gir, gir_group, gir_rank, score_halves, band, supersedes) \
               SELECT t.tenant_id, :id, t.id, p.establishment_id, :instrument, :instrument_version, :note_scope, \
                      :assessed_on, who.user_id, :answers, :dek_version, :gir, :gir_group, :gir_rank, :score_halves, \
                      :band, :supersedes \
               FROM target t, place p, who WHERE t.record_status = 'active' \
               AND (:supersedes::uuid IS NULL OR EXISTS (SELECT 1 FROM assessments o WHERE o.tenant_id = t.tenant_id \
                    AND o.id = :supersedes AND o.resident_id = t.id AND o.instrument = :instrument \
                    AND o.status = 'validated')) \
               RETURNING *), \
         trace AS ({trace}) SELECT {ASSESSMENT_COLUMNS} FROM a",
        target = target(),
        trace = Trace::written("a"),
    ))
});

static BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {ASSESSMENT_COLUMNS} FROM assessments a WHERE a.tenant_id = :tenant AND a.id = :id"))
});

/// An assessment of a visible resident that the caller may read, without its answers.
static META: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} SELECT a.instrument, a.status, a.assessor_id, a.establishment_id, \
           EXISTS (SELECT 1 FROM assessments c WHERE c.tenant_id = a.tenant_id AND c.supersedes = a.id \
                   AND c.status = 'validated') AS superseded \
         FROM assessments a, target t, who WHERE a.tenant_id = t.tenant_id AND a.resident_id = t.id AND a.id = :id \
         AND {readable}",
        target = target(),
        readable = note_readable("a", "NOT t.normal")
    ))
});

/// One assessment of a visible resident that the caller may read, for a check.
static ONE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} SELECT {ASSESSMENT_COLUMNS} \
         FROM assessments a, target t, who WHERE a.tenant_id = t.tenant_id AND a.resident_id = t.id AND a.id = :id \
         AND {readable}",
        target = target(),
        readable = note_readable("a", "NOT t.normal")
    ))
});

static UPDATE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         a AS (UPDATE assessments a SET answers = :answers, dek_version = :dek_version, assessed_on = :assessed_on, \
                 gir = :gir, gir_group = :gir_group, gir_rank = :gir_rank, score_halves = :score_halves, band = :band, \
                 row_version = a.row_version + 1 \
               FROM target t, who WHERE a.tenant_id = t.tenant_id AND a.resident_id = t.id AND a.id = :id \
               AND a.status = 'draft' AND a.instrument = :instrument AND a.instrument_version = :instrument_version \
               AND {readable} AND (:expected_version::int IS NULL OR a.row_version = :expected_version) RETURNING a.*), \
         trace AS ({trace}) SELECT {ASSESSMENT_COLUMNS} FROM a",
        target = target(),
        readable = note_readable("a", "NOT t.normal"),
        trace = Trace::written("a"),
    ))
});

static VALIDATE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         a AS (UPDATE assessments a SET status = 'validated', validated_at = now(), validated_by = who.user_id, \
                 row_version = a.row_version + 1 \
               FROM target t, who WHERE a.tenant_id = t.tenant_id AND a.resident_id = t.id AND a.id = :id \
               AND a.status = 'draft' AND {readable} \
               AND (:expected_version::int IS NULL OR a.row_version = :expected_version) RETURNING a.*), \
         trace AS ({trace}) SELECT {ASSESSMENT_COLUMNS} FROM a",
        target = target(),
        readable = note_readable("a", "NOT t.normal"),
        trace = Trace::written("a"),
    ))
});

static LIST: Variants = Variants {
    recorded: LazyLock::new(|| Sql::new(&assessments_sql(true))),
    unrecorded: LazyLock::new(|| Sql::new(&assessments_sql(false))),
};

static GIR_HISTORY: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT a.* FROM assessments a, target t, who WHERE a.tenant_id = t.tenant_id AND a.resident_id = t.id \
                  AND a.instrument = 'aggir' AND a.status = 'validated' AND {readable} \
                  AND NOT EXISTS (SELECT 1 FROM assessments c WHERE c.tenant_id = a.tenant_id AND c.supersedes = a.id \
                                  AND c.status = 'validated')), \
         trace AS ({trace}) \
         {listed}",
        target = target(),
        readable = note_readable("a", "NOT t.normal"),
        trace = Trace::read(),
        listed = listed(
            "SELECT id, assessed_on, gir, gir_group, gir_rank, assessor_id, establishment_id FROM data",
            "x.assessed_on, x.id"
        ),
    ))
});

/// Records a draft assessment of a visible resident, in the establishment of their stay, and
/// commits. A correction names the validated assessment of the same instrument it supersedes.
pub async fn create(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewAssessment,
) -> StoreResult<Created<Assessment>> {
    let keys = tx.sealing_keys(1).await?;
    let id = Uuid::now_v7();
    let answers = seal_json(&keys, ASSESSMENT_ANSWERS, id, &new.evaluation.answers)?;
    let outcome = outcome_columns(&new.evaluation);
    let resident = resident.as_uuid();
    let (code, version, note_scope) = (new.evaluation.instrument, new.evaluation.version, new.scope.as_str());
    let dek = keys.active_version() as i32;
    let supersedes = new.supersedes.map(|s| s.as_uuid());
    let args = args! { resident: &resident, id: &id, instrument: &code, instrument_version: &version,
    note_scope: &note_scope, assessed_on: &new.assessed_on, answers: &answers, dek_version: &dek,
    gir: &outcome.gir, gir_group: &outcome.group, gir_rank: &outcome.rank,
    score_halves: &outcome.score_halves, band: &outcome.band, supersedes: &supersedes }
    .action(AuditAction::AssessmentCreate);
    let map = |row: &Row| assessment(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT, args, reload: &BY_ID, map: &map }).await
}

/// An assessment of a visible resident that the caller may read, without its answers: a check,
/// not recorded.
pub async fn meta(tx: &mut Tx<'_>, resident: ResidentId, id: AssessmentId) -> StoreResult<AssessmentMeta> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let row = tx.query_one(&META, &args! { resident: &resident, id: &id }).await?;
    Ok(AssessmentMeta {
        instrument: row.try_get("instrument")?,
        status: parse(&row, "status", AssessmentStatus::parse)?,
        assessor_id: UserId::from_uuid(row.try_get("assessor_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        superseded: row.try_get("superseded")?,
    })
}

/// One assessment the caller may read, for a check inside an operation (not recorded).
pub async fn one(tx: &mut Tx<'_>, resident: ResidentId, id: AssessmentId) -> StoreResult<Assessment> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let row = tx.query_one(&ONE, &args! { resident: &resident, id: &id }).await?;
    let keys = tx.keyring(versions(std::slice::from_ref(&row))?).await?;
    assessment(&row, &keys)
}

/// Replaces a draft's answers and date, if it is still a draft at `expected_version`, and
/// commits.
pub async fn update(
    tx: Tx<'_>,
    resident: ResidentId,
    id: AssessmentId,
    expected_version: Option<i32>,
    evaluation: &Evaluation,
    assessed_on: NaiveDate,
) -> StoreResult<Assessment> {
    let keys = tx.sealing_keys(1).await?;
    let answers = seal_json(&keys, ASSESSMENT_ANSWERS, id.as_uuid(), &evaluation.answers)?;
    let outcome = outcome_columns(evaluation);
    let dek = keys.active_version() as i32;
    let (code, version) = (evaluation.instrument, evaluation.version);
    let (resident_id, row) = (resident.as_uuid(), id.as_uuid());
    let args = args! { resident: &resident_id, id: &row, answers: &answers, dek_version: &dek,
    assessed_on: &assessed_on, gir: &outcome.gir, gir_group: &outcome.group,
    gir_rank: &outcome.rank, score_halves: &outcome.score_halves, band: &outcome.band,
    instrument: &code, instrument_version: &version, expected_version: &expected_version }
    .action(AuditAction::AssessmentUpdate);
    let again = tx.again();
    match tx.finish(&UPDATE, &args).await?.first() {
        Some(row) => assessment(row, &keys),
        None => Err(why_unchanged(again, "assessments", resident, row, expected_version).await),
    }
}

/// Validates a draft, and commits: from then on it cannot change.
pub async fn validate(
    tx: Tx<'_>,
    resident: ResidentId,
    id: AssessmentId,
    expected_version: Option<i32>,
) -> StoreResult<Assessment> {
    let (resident_id, row) = (resident.as_uuid(), id.as_uuid());
    let args = args! { resident: &resident_id, id: &row, expected_version: &expected_version }
        .action(AuditAction::AssessmentValidate);
    let (db, tenant, again) = (tx.db(), tx.tenant(), tx.again());
    match tx.finish(&VALIDATE, &args).await?.first() {
        Some(row) => db.open_one(tenant, row, assessment).await,
        None => Err(why_unchanged(again, "assessments", resident, row, expected_version).await),
    }
}

/// A resident's assessments the caller may read (of one instrument, or one of them), newest
/// first, as the transaction's last statement.
pub async fn list(
    tx: Tx<'_>,
    resident: ResidentId,
    instrument: Option<&str>,
    only: Option<AssessmentId>,
    reading: Reading,
) -> StoreResult<Vec<Assessment>> {
    let (resident, only) = (resident.as_uuid(), only.map(|a| a.as_uuid()));
    let (sql, args, trace) =
        LIST.pick_final(reading, args! { resident: &resident, instrument: &instrument, only: &only }, |action| {
            crate::trail::ReadTrace::Record { action, resident }
        });
    open_listed(tx, sql, &args, trace, assessment).await
}

/// [`list`] within an operation that goes on.
pub async fn list_within(
    tx: &mut Tx<'_>,
    resident: ResidentId,
    instrument: Option<&str>,
    reading: Reading,
) -> StoreResult<Vec<Assessment>> {
    let (resident, only) = (resident.as_uuid(), None::<uuid::Uuid>);
    let (sql, args) = LIST.pick(reading, args! { resident: &resident, instrument: &instrument, only: &only });
    let rows = query_listed(tx, sql, &args).await?;
    let keys = tx.keyring(versions(&rows)?).await?;
    rows.iter().map(|row| assessment(row, &keys)).collect()
}

/// The person's GIR over time: validated AGGIR assessments no correction superseded, oldest
/// first. Read from the outcome kept in clear: no answer is opened. Recorded.
pub async fn gir_history(tx: Tx<'_>, resident: ResidentId) -> StoreResult<Vec<GirPoint>> {
    let resident = resident.as_uuid();
    let args = args! { resident: &resident }.action(AuditAction::AssessmentGirHistory);
    let rows = present(tx.finish(&GIR_HISTORY, &args).await?)?;
    rows.iter().map(|row| gir_point(row, "")).collect()
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

/// A resident's (`:resident`) assessments the reader may see, of an instrument
/// (`:instrument`) or one (`:only`), newest first; the read is recorded.
pub(crate) fn assessments_sql(recorded: bool) -> String {
    format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT a.* FROM assessments a, target t, who WHERE a.tenant_id = t.tenant_id AND a.resident_id = t.id \
                  AND (:instrument::text IS NULL OR a.instrument = :instrument) AND (:only::uuid IS NULL OR a.id = :only) \
                  AND {readable}){trace} \
         {listed}",
        target = target(),
        readable = note_readable("a", "NOT t.normal"),
        trace = read_trace(recorded),
        listed = listed(&format!("SELECT {ASSESSMENT_COLUMNS} FROM data a"), "x.assessed_on DESC, x.id DESC"),
    )
}

/// Assessments: answers sealed; a merge moves them; the resident's export lists every
/// assessment (drafts, validated, superseded), by date.
pub(crate) const FEATURE: Feature = Feature {
    name: "assessments",
    tables: &[Table::of_person(
        "assessments",
        &[ASSESSMENT_ANSWERS],
        "assessments a",
        ASSESSMENT_COLUMNS,
        "a.assessed_on, a.id",
        |row, keys| to_json(assessment(row, keys)),
    )],
};
