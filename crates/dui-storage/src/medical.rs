//! The medical file: history and problems, vaccinations (read by the health professionals:
//! `medical_readable`), and the physicians who follow the person (read by the care team:
//! `care_readable`). What is said about the person is sealed; kinds and dates stay in clear.
//! Recorded, resolved or ended, flagged when entered in error, never deleted.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::medical::{
    MedicalProblem, NewPhysician, NewProblem, NewVaccination, Physician, PhysicianDetails, PhysicianRole,
    ProblemDetails, ProblemKind, ProblemStatus, Vaccination, VaccinationDetails, VaccinationStatus,
};
use dui_domain::transmission::EnteredInError;
use dui_domain::{EstablishmentId, MedicalProblemId, PhysicianId, ResidentId, UserId, VaccinationId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO_CTE, care_readable, medical_readable, target};
use crate::alerts::{Flagging, flag_entered_in_error};
use crate::args;
use crate::feature::{Feature, Merge, Table, to_json};
use crate::idempotency::{Create, create_once};
use crate::listing::{listed, open_listed};
use crate::rows::parse;
use crate::sealing::{open_json, seal_json};
use crate::sql::{Sql, Stmt};
use crate::stays::PLACE;
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

pub(crate) const PROBLEM_DETAILS: Column = Column::new("medical_problems", "details");
pub(crate) const PROBLEM_ERROR_REASON: Column = Column::new("medical_problems", "error_reason");
pub(crate) const VACCINATION_DETAILS: Column = Column::new("vaccinations", "details");
pub(crate) const VACCINATION_ERROR_REASON: Column = Column::new("vaccinations", "error_reason");
pub(crate) const PHYSICIAN_DETAILS: Column = Column::new("physicians", "details");
pub(crate) const PHYSICIAN_ERROR_REASON: Column = Column::new("physicians", "error_reason");

/// A problem's columns, from alias `p`, named as the union of the three tables' columns (so that
/// one statement reads the whole file: [`entry`]).
const PROBLEM_COLUMNS: &str = "'problem'::text AS entry, p.id, p.resident_id, p.establishment_id, p.kind, p.details, \
     p.dek_version, p.resolved_on AS day, NULL::date AS until, p.resolved_by AS closed_by, p.recorded_by, \
     p.recorded_at, p.error_at, p.error_by, p.error_reason";

/// A vaccination's columns, from alias `v`, named as [`PROBLEM_COLUMNS`] are.
const VACCINATION_COLUMNS: &str = "'vaccination'::text AS entry, v.id, v.resident_id, v.establishment_id, \
     NULL::text AS kind, v.details, v.dek_version, v.given_on AS day, NULL::date AS until, NULL::uuid AS closed_by, \
     v.recorded_by, v.recorded_at, v.error_at, v.error_by, v.error_reason";

/// A physician's columns, from alias `d`, named as [`PROBLEM_COLUMNS`] are. In force while no
/// end has come and it is not entered in error.
const PHYSICIAN_COLUMNS: &str = "'physician'::text AS entry, d.id, d.resident_id, d.establishment_id, d.role AS kind, \
     d.details, d.dek_version, d.since AS day, d.until, d.ended_by AS closed_by, d.recorded_by, d.recorded_at, \
     d.error_at, d.error_by, d.error_reason";

fn entered_in_error(row: &Row, keys: &Keyring, column: Column, id: Uuid) -> StoreResult<Option<EnteredInError>> {
    Ok(match row.try_get::<_, Option<DateTime<Utc>>>("error_at")? {
        Some(at) => Some(EnteredInError {
            at,
            by: UserId::from_uuid(row.try_get("error_by")?),
            reason: open_json(keys, column, id, row.try_get("error_reason")?)?,
        }),
        None => None,
    })
}

pub(crate) fn problem(row: &Row, keys: &Keyring) -> StoreResult<MedicalProblem> {
    let id: Uuid = row.try_get("id")?;
    let details: ProblemDetails = open_json(keys, PROBLEM_DETAILS, id, row.try_get("details")?)?;
    let entered_in_error = entered_in_error(row, keys, PROBLEM_ERROR_REASON, id)?;
    let resolved_on: Option<NaiveDate> = row.try_get("day")?;
    Ok(MedicalProblem {
        id: MedicalProblemId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        kind: parse(row, "kind", ProblemKind::parse)?,
        text: details.text,
        cim10: details.cim10,
        onset: details.onset,
        status: ProblemStatus::of(resolved_on.is_some(), entered_in_error.is_some()),
        resolved_on,
        resolved_by: row.try_get::<_, Option<Uuid>>("closed_by")?.map(UserId::from_uuid),
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        entered_in_error,
    })
}

pub(crate) fn vaccination(row: &Row, keys: &Keyring) -> StoreResult<Vaccination> {
    let id: Uuid = row.try_get("id")?;
    let details: VaccinationDetails = open_json(keys, VACCINATION_DETAILS, id, row.try_get("details")?)?;
    let entered_in_error = entered_in_error(row, keys, VACCINATION_ERROR_REASON, id)?;
    Ok(Vaccination {
        id: VaccinationId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        vaccine: details.vaccine,
        code: details.code,
        given_on: row.try_get("day")?,
        dose: details.dose,
        booster: details.booster,
        batch: details.batch,
        given_by: details.given_by,
        status: if entered_in_error.is_some() { VaccinationStatus::EnteredInError } else { VaccinationStatus::Given },
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        entered_in_error,
    })
}

pub(crate) fn physician(row: &Row, keys: &Keyring) -> StoreResult<Physician> {
    let id: Uuid = row.try_get("id")?;
    let details: PhysicianDetails = open_json(keys, PHYSICIAN_DETAILS, id, row.try_get("details")?)?;
    let until: Option<NaiveDate> = row.try_get("until")?;
    let entered_in_error = entered_in_error(row, keys, PHYSICIAN_ERROR_REASON, id)?;
    Ok(Physician {
        id: PhysicianId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        role: parse(row, "kind", PhysicianRole::parse)?,
        name: details.name,
        speciality: details.speciality,
        rpps: details.rpps,
        phone: details.phone,
        email: details.email,
        since: row.try_get("day")?,
        until,
        in_force: until.is_none() && entered_in_error.is_none(),
        ended_by: row.try_get::<_, Option<Uuid>>("closed_by")?.map(UserId::from_uuid),
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        entered_in_error,
    })
}

/// One entry of the file, of whichever table.
#[derive(Debug)]
pub enum Entry {
    Problem(MedicalProblem),
    Vaccination(Vaccination),
    Physician(Physician),
}

fn entry(row: &Row, keys: &Keyring) -> StoreResult<Entry> {
    match row.try_get::<_, &str>("entry")? {
        "problem" => Ok(Entry::Problem(problem(row, keys)?)),
        "vaccination" => Ok(Entry::Vaccination(vaccination(row, keys)?)),
        "physician" => Ok(Entry::Physician(physician(row, keys)?)),
        other => Err(StoreError::Corrupt { column: "entry", value: other.to_owned() }),
    }
}

/// The insert of a row of `table` (the CTE `alias`), with a hand-over event (`:ev_*`) when
/// `event`.
fn insert(table: &str, alias: &str, columns: &str, values: &str, select: &str, event: bool) -> Sql {
    let event = if event { format!(", {}", crate::handover_write::emit(alias)) } else { String::new() };
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, {PLACE}, \
         {alias} AS (INSERT INTO {table} (tenant_id, id, resident_id, establishment_id, {columns}, details, dek_version, \
                 recorded_by) \
               SELECT t.tenant_id, :id, t.id, p.establishment_id, {values}, :details, :dek_version, who.user_id \
               FROM target t, place p, who WHERE t.record_status = 'active' RETURNING *), \
         trace AS ({trace}){event} SELECT {select} FROM {alias}",
        target = target(),
        trace = Trace::written(alias),
    ))
}

// `p` is the place's alias in the insert: the inserted row is named `np`.
static INSERT_PROBLEM: Stmt =
    LazyLock::new(|| insert("medical_problems", "np", "kind", ":kind", &PROBLEM_COLUMNS.replace("p.", "np."), true));
static PROBLEM_BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {PROBLEM_COLUMNS} FROM medical_problems p WHERE p.tenant_id = :tenant AND p.id = :id"))
});
static INSERT_VACCINATION: Stmt =
    LazyLock::new(|| insert("vaccinations", "v", "given_on", ":given_on", VACCINATION_COLUMNS, false));
static VACCINATION_BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {VACCINATION_COLUMNS} FROM vaccinations v WHERE v.tenant_id = :tenant AND v.id = :id"))
});
static INSERT_PHYSICIAN: Stmt =
    LazyLock::new(|| insert("physicians", "d", "role, since", ":role, :since", PHYSICIAN_COLUMNS, false));
static PHYSICIAN_BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {PHYSICIAN_COLUMNS} FROM physicians d WHERE d.tenant_id = :tenant AND d.id = :id"))
});

/// Records a history entry or a problem of a visible resident, in the establishment of their
/// stay, with its hand-over `event` if any, and commits.
pub async fn record_problem(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewProblem,
    event: Option<&dui_domain::handover::NewHandoverEvent>,
) -> StoreResult<Created<MedicalProblem>> {
    let keys = tx.sealing_keys(1 + 1).await?;
    let id = Uuid::now_v7();
    let details = seal_json(&keys, PROBLEM_DETAILS, id, &new.details)?;
    let (resident, dek, kind) = (resident.as_uuid(), keys.active_version() as i32, new.kind.as_str());
    let args = args! { resident: &resident, id: &id, kind: &kind, details: &details, dek_version: &dek }
        .action(AuditAction::MedicalProblemCreate);
    let event = crate::handover_write::EventRow::seal(&keys, event)?;
    let args = event.bind(args);
    let map = |row: &Row| problem(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT_PROBLEM, args, reload: &PROBLEM_BY_ID, map: &map }).await
}

/// Records a vaccination of a visible resident, and commits.
pub async fn record_vaccination(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewVaccination,
) -> StoreResult<Created<Vaccination>> {
    let keys = tx.sealing_keys(1).await?;
    let id = Uuid::now_v7();
    let details = seal_json(&keys, VACCINATION_DETAILS, id, &new.details)?;
    let (resident, dek) = (resident.as_uuid(), keys.active_version() as i32);
    let args = args! { resident: &resident, id: &id, given_on: &new.given_on, details: &details, dek_version: &dek }
        .action(AuditAction::VaccinationCreate);
    let map = |row: &Row| vaccination(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT_VACCINATION, args, reload: &VACCINATION_BY_ID, map: &map }).await
}

/// Records a physician of a visible resident, and commits.
pub async fn record_physician(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewPhysician,
) -> StoreResult<Created<Physician>> {
    let keys = tx.sealing_keys(1).await?;
    let id = Uuid::now_v7();
    let details = seal_json(&keys, PHYSICIAN_DETAILS, id, &new.details)?;
    let (resident, dek, role) = (resident.as_uuid(), keys.active_version() as i32, new.role.as_str());
    let args = args! { resident: &resident, id: &id, role: &role, since: &new.since, details: &details,
    dek_version: &dek }
    .action(AuditAction::PhysicianCreate);
    let map = |row: &Row| physician(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT_PHYSICIAN, args, reload: &PHYSICIAN_BY_ID, map: &map }).await
}

/// What a use case needs to decide on a change to an entry the caller may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta {
    /// Resolved (a problem) or ended (a physician).
    pub closed: bool,
    pub in_error: bool,
    /// A physician's first day (a problem's or vaccination's recording day).
    pub since: NaiveDate,
}

static PROBLEM_META: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} \
         SELECT p.resolved_on IS NOT NULL AS closed, p.error_at IS NOT NULL AS in_error, p.recorded_at::date AS since \
         FROM medical_problems p, target t, who WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id \
         AND p.id = :id AND {readable}",
        target = target(),
        readable = medical_readable("p", "NOT t.normal"),
    ))
});

static VACCINATION_META: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} \
         SELECT false AS closed, v.error_at IS NOT NULL AS in_error, v.given_on AS since \
         FROM vaccinations v, target t, who WHERE v.tenant_id = t.tenant_id AND v.resident_id = t.id \
         AND v.id = :id AND {readable}",
        target = target(),
        readable = medical_readable("v", "NOT t.normal"),
    ))
});

static PHYSICIAN_META: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} \
         SELECT d.until IS NOT NULL AS closed, d.error_at IS NOT NULL AS in_error, d.since \
         FROM physicians d, target t, who WHERE d.tenant_id = t.tenant_id AND d.resident_id = t.id \
         AND d.id = :id AND {readable}",
        target = target(),
        readable = care_readable("d", "NOT t.normal"),
    ))
});

/// Whether the person has an attending physician in force (whoever may read it).
static ATTENDING_IN_FORCE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} \
         SELECT EXISTS (SELECT 1 FROM physicians d, target t WHERE d.tenant_id = t.tenant_id AND d.resident_id = t.id \
                        AND d.role = 'attending' AND d.until IS NULL AND d.error_at IS NULL) AS in_force",
        target = target(),
    ))
});

static RESOLVE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         p AS (UPDATE medical_problems p SET resolved_on = :resolved_on, resolved_by = who.user_id FROM target t, who \
               WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND p.id = :id AND p.resolved_on IS NULL \
               AND p.error_at IS NULL AND t.record_status = 'active' AND {readable} RETURNING p.*), \
         trace AS ({trace}) SELECT {PROBLEM_COLUMNS} FROM p",
        target = target(),
        readable = medical_readable("p", "NOT t.normal"),
        trace = Trace::written("p"),
    ))
});

static END: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         d AS (UPDATE physicians d SET until = :until, ended_by = who.user_id FROM target t, who \
               WHERE d.tenant_id = t.tenant_id AND d.resident_id = t.id AND d.id = :id AND d.until IS NULL \
               AND d.error_at IS NULL AND d.since <= :until AND t.record_status = 'active' AND {readable} RETURNING d.*), \
         trace AS ({trace}) SELECT {PHYSICIAN_COLUMNS} FROM d",
        target = target(),
        readable = care_readable("d", "NOT t.normal"),
        trace = Trace::written("d"),
    ))
});

static PROBLEM_FLAG: LazyLock<Flagging> = LazyLock::new(|| {
    let (details, reason, action) = (PROBLEM_DETAILS, PROBLEM_ERROR_REASON, AuditAction::MedicalProblemFlagError);
    Flagging::of("medical_problems", PROBLEM_COLUMNS, "p", medical_readable, [details, reason], action)
});
static VACCINATION_FLAG: LazyLock<Flagging> = LazyLock::new(|| {
    let (details, reason, action) = (VACCINATION_DETAILS, VACCINATION_ERROR_REASON, AuditAction::VaccinationFlagError);
    Flagging::of("vaccinations", VACCINATION_COLUMNS, "v", medical_readable, [details, reason], action)
});
static PHYSICIAN_FLAG: LazyLock<Flagging> = LazyLock::new(|| {
    let (details, reason, action) = (PHYSICIAN_DETAILS, PHYSICIAN_ERROR_REASON, AuditAction::PhysicianFlagError);
    Flagging::of("physicians", PHYSICIAN_COLUMNS, "d", care_readable, [details, reason], action)
});

/// The whole file that the caller may read: problems and vaccinations for the health
/// professionals, physicians for the care team.
static FILE: Stmt = LazyLock::new(|| {
    let data = format!(
        "(SELECT {PROBLEM_COLUMNS} FROM medical_problems p, target t, who \
           WHERE p.tenant_id = t.tenant_id AND p.resident_id = t.id AND {problem_readable} LIMIT 2000) \
         UNION ALL \
         (SELECT {VACCINATION_COLUMNS} FROM vaccinations v, target t, who \
           WHERE v.tenant_id = t.tenant_id AND v.resident_id = t.id AND {vaccination_readable} LIMIT 2000) \
         UNION ALL \
         (SELECT {PHYSICIAN_COLUMNS} FROM physicians d, target t, who \
           WHERE d.tenant_id = t.tenant_id AND d.resident_id = t.id AND {physician_readable} LIMIT 2000)",
        problem_readable = medical_readable("p", "NOT t.normal"),
        vaccination_readable = medical_readable("v", "NOT t.normal"),
        physician_readable = care_readable("d", "NOT t.normal"),
    );
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, data AS ({data}) {select}",
        target = target(),
        select = listed("SELECT * FROM data", "x.recorded_at, x.id"),
    ))
});

async fn meta(tx: &mut Tx<'_>, sql: &Sql, resident: ResidentId, id: Uuid) -> StoreResult<EntryMeta> {
    let resident = resident.as_uuid();
    let row = tx.query_one(sql, &args! { resident: &resident, id: &id }).await?;
    Ok(EntryMeta { closed: row.try_get("closed")?, in_error: row.try_get("in_error")?, since: row.try_get("since")? })
}

/// A problem the caller may read, for deciding on a change. `NotFound` otherwise.
pub async fn problem_meta(tx: &mut Tx<'_>, resident: ResidentId, id: MedicalProblemId) -> StoreResult<EntryMeta> {
    meta(tx, &PROBLEM_META, resident, id.as_uuid()).await
}

/// A vaccination the caller may read, for deciding on a change. `NotFound` otherwise.
pub async fn vaccination_meta(tx: &mut Tx<'_>, resident: ResidentId, id: VaccinationId) -> StoreResult<EntryMeta> {
    meta(tx, &VACCINATION_META, resident, id.as_uuid()).await
}

/// A physician the caller may read, for deciding on a change. `NotFound` otherwise.
pub async fn physician_meta(tx: &mut Tx<'_>, resident: ResidentId, id: PhysicianId) -> StoreResult<EntryMeta> {
    meta(tx, &PHYSICIAN_META, resident, id.as_uuid()).await
}

/// Whether a visible resident has an attending physician in force.
pub async fn attending_in_force(tx: &mut Tx<'_>, resident: ResidentId) -> StoreResult<bool> {
    let resident = resident.as_uuid();
    let row = tx.query_one(&ATTENDING_IN_FORCE, &args! { resident: &resident }).await?;
    Ok(row.try_get("in_force")?)
}

/// Resolves a problem on `resolved_on`, and commits. `NotFound` when it is resolved or flagged
/// already, or out of reach.
pub async fn resolve_problem(
    tx: Tx<'_>,
    resident: ResidentId,
    id: MedicalProblemId,
    resolved_on: NaiveDate,
) -> StoreResult<MedicalProblem> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let args =
        args! { resident: &resident, id: &id, resolved_on: &resolved_on }.action(AuditAction::MedicalProblemResolve);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = tx.finish(&RESOLVE, &args).await?;
    db.open_one(tenant, rows.first().ok_or(StoreError::NotFound)?, problem).await
}

/// Ends a physician's following of the person on `until`, and commits. `NotFound` when it has
/// ended already, or is out of reach.
pub async fn end_physician(
    tx: Tx<'_>,
    resident: ResidentId,
    id: PhysicianId,
    until: NaiveDate,
) -> StoreResult<Physician> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let args = args! { resident: &resident, id: &id, until: &until }.action(AuditAction::PhysicianEnd);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = tx.finish(&END, &args).await?;
    db.open_one(tenant, rows.first().ok_or(StoreError::NotFound)?, physician).await
}

/// Flags a problem as entered in error (see [`flag_entered_in_error`]).
pub async fn flag_problem(
    tx: Tx<'_>,
    resident: ResidentId,
    id: MedicalProblemId,
    reason: &str,
) -> StoreResult<MedicalProblem> {
    flag_entered_in_error(tx, &PROBLEM_FLAG, resident, id.as_uuid(), reason, problem).await
}

/// Flags a vaccination as entered in error (see [`flag_entered_in_error`]).
pub async fn flag_vaccination(
    tx: Tx<'_>,
    resident: ResidentId,
    id: VaccinationId,
    reason: &str,
) -> StoreResult<Vaccination> {
    flag_entered_in_error(tx, &VACCINATION_FLAG, resident, id.as_uuid(), reason, vaccination).await
}

/// Flags a physician as entered in error (see [`flag_entered_in_error`]).
pub async fn flag_physician(tx: Tx<'_>, resident: ResidentId, id: PhysicianId, reason: &str) -> StoreResult<Physician> {
    flag_entered_in_error(tx, &PHYSICIAN_FLAG, resident, id.as_uuid(), reason, physician).await
}

/// The medical file of a resident that the caller may read, in no particular order (the domain
/// orders it), as the transaction's last statement; the reading is recorded. `NotFound` when
/// the resident is out of reach.
pub async fn read(tx: Tx<'_>, resident: ResidentId) -> StoreResult<Vec<Entry>> {
    let resident = resident.as_uuid();
    let args = args! { resident: &resident };
    let trace = crate::trail::ReadTrace::Record { action: AuditAction::MedicalRead, resident };
    open_listed(tx, &FILE, &args, Some(trace), entry).await
}

/// The medical file: what is said about the person sealed; a merge moves it to the record kept;
/// the resident's export lists every entry in the order it was recorded, resolved, ended and
/// flagged ones included.
pub(crate) const FEATURE: Feature = Feature {
    name: "medical",
    tables: &[
        Table::of_person(
            "medical_problems",
            &[PROBLEM_DETAILS, PROBLEM_ERROR_REASON],
            "medical_problems p",
            PROBLEM_COLUMNS,
            "p.recorded_at, p.id",
            |row, keys| to_json(problem(row, keys)),
        ),
        Table::of_person(
            "vaccinations",
            &[VACCINATION_DETAILS, VACCINATION_ERROR_REASON],
            "vaccinations v",
            VACCINATION_COLUMNS,
            "v.given_on, v.id",
            |row, keys| to_json(vaccination(row, keys)),
        ),
        Table::of_person(
            "physicians",
            &[PHYSICIAN_DETAILS, PHYSICIAN_ERROR_REASON],
            "physicians d",
            PHYSICIAN_COLUMNS,
            "d.since, d.id",
            |row, keys| to_json(physician(row, keys)),
        )
        // One attending physician in force per person: when both records have one, the
        // duplicate's ends with the merge (it stays in the history).
        .merged(Merge::Rule {
            merge: || {
                "UPDATE physicians d SET resident_id = :survivor, \
                   until = CASE WHEN o.ends THEN greatest(d.since, current_date) ELSE d.until END, \
                   ended_by = CASE WHEN o.ends THEN who.user_id ELSE d.ended_by END \
                 FROM ok, who, LATERAL ( \
                   SELECT p.id, (p.role = 'attending' AND p.until IS NULL AND p.error_at IS NULL AND EXISTS ( \
                       SELECT 1 FROM physicians k WHERE k.tenant_id = p.tenant_id AND k.resident_id = :survivor \
                       AND k.role = 'attending' AND k.until IS NULL AND k.error_at IS NULL)) AS ends \
                   FROM physicians p WHERE p.tenant_id = who.tenant_id AND p.resident_id = :duplicate) o \
                 WHERE ok.found_both AND d.tenant_id = who.tenant_id AND d.resident_id = :duplicate AND d.id = o.id \
                 RETURNING d.id, o.ends AS ended"
                    .to_owned()
            },
            undo: "until = CASE WHEN t.id::text = ANY(m.ended) THEN NULL ELSE t.until END, \
                   ended_by = CASE WHEN t.id::text = ANY(m.ended) THEN NULL ELSE t.ended_by END",
        }),
    ],
};
