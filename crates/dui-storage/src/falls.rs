//! The falls register: falls recorded, corrected by amendments (new rows that point to the
//! first), flagged when entered in error (on the first row), never deleted; a person's register
//! and an establishment's list over a period. What is said about a fall is sealed; the time,
//! place, discovery and consequences stay in clear for counts and lists.
//!
//! Who reads what: the care team (those who read its notes where the fall was recorded) reads
//! everything; a director of that establishment reads the register without what is said about
//! each fall (`details` and the reason of an error flag are not even read), for the quality of
//! care and the declaration of serious adverse events — the secret partagé keeps the clinical
//! account to those who give care. The use case passes the director's reach
//! (`:quality_all`, `:quality_est`), from the policy.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use dui_crypto::{Column, Keyring};
use dui_domain::audit::AuditAction;
use dui_domain::fall::{Consequence, Discovery, FallDetails, FallError, FallPlace, FallRecord, NewFall};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::policy::ScopeReach;
use dui_domain::resident::Identity;
use dui_domain::transmission::ResidentName;
use dui_domain::{EstablishmentId, FallId, ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO_CTE, target, visible};
use crate::alerts::{Flagging, flag_entered_in_error};
use crate::args;
use crate::feature::{Feature, Table, to_json};
use crate::idempotency::{Create, create_once};
use crate::listing::{listed, open_listed};
use crate::residents::RESIDENT_IDENTITY;
use crate::rows::parse;
use crate::sealing::{open_json, seal_json, versions};
use crate::sql::{Sql, Stmt};
use crate::stays::PLACE;
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

pub(crate) const FALL_DETAILS: Column = Column::new("falls", "details");
pub(crate) const FALL_ERROR_REASON: Column = Column::new("falls", "error_reason");

/// A fall's columns, from alias `f`.
pub(crate) const FALL_COLUMNS: &str = "f.id, f.resident_id, f.establishment_id, f.amends, f.occurred_at, f.place, \
     f.discovery, f.consequences, f.physician_informed_at, f.family_informed_at, f.details, f.dek_version, \
     f.recorded_by, f.recorded_at, f.error_at, f.error_by, f.error_reason";

/// A fall's columns from a set of rows `f` with a column `in_full` saying whether the reader sees
/// what is said about it: without, its sealed values are not read.
const SHOWN_COLUMNS: &str = "f.id, f.resident_id, f.establishment_id, f.amends, f.occurred_at, f.place, \
     f.discovery, f.consequences, f.physician_informed_at, f.family_informed_at, \
     CASE WHEN f.in_full THEN f.details END AS details, f.dek_version, f.recorded_by, f.recorded_at, f.error_at, \
     f.error_by, CASE WHEN f.in_full THEN f.error_reason END AS error_reason";

/// Whether the caller reads what is said about fall `f` (with target `t` when `emergency`):
/// the care team where it was recorded, as for measurements.
fn care_readable(f: &str, emergency: bool) -> String {
    let urgent = if emergency { " OR (NOT t.normal AND cardinality(who.care_est) > 0)" } else { "" };
    format!("(who.care_all OR {f}.establishment_id = ANY(who.care_est){urgent})")
}

/// Whether the caller oversees the establishment of fall `f` for its quality (the director).
fn overseen(f: &str) -> String {
    format!("(:quality_all::bool OR {f}.establishment_id = ANY(:quality_est::uuid[]))")
}

pub(crate) fn fall_record(row: &Row, keys: &Keyring) -> StoreResult<FallRecord> {
    let id: Uuid = row.try_get("id")?;
    let details = row
        .try_get::<_, Option<&[u8]>>("details")?
        .map(|sealed| open_json::<FallDetails>(keys, FALL_DETAILS, id, sealed))
        .transpose()?;
    let entered_in_error = match row.try_get::<_, Option<DateTime<Utc>>>("error_at")? {
        Some(at) => Some(FallError {
            at,
            by: UserId::from_uuid(row.try_get("error_by")?),
            reason: row
                .try_get::<_, Option<&[u8]>>("error_reason")?
                .map(|sealed| open_json::<String>(keys, FALL_ERROR_REASON, id, sealed))
                .transpose()?,
        }),
        None => None,
    };
    let consequences = row
        .try_get::<_, Vec<&str>>("consequences")?
        .into_iter()
        .map(|c| {
            Consequence::parse(c).ok_or_else(|| StoreError::Corrupt { column: "consequences", value: c.to_owned() })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(FallRecord {
        id: FallId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        amends: row.try_get::<_, Option<Uuid>>("amends")?.map(FallId::from_uuid),
        occurred_at: row.try_get("occurred_at")?,
        place: parse(row, "place", FallPlace::parse)?,
        discovery: parse(row, "discovery", Discovery::parse)?,
        consequences,
        physician_informed_at: row.try_get("physician_informed_at")?,
        family_informed_at: row.try_get("family_informed_at")?,
        details,
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        entered_in_error,
    })
}

/// Writes a fall of resident `:resident`: a first record, filed in the establishment of their
/// stay; or a correction of the first record `:amends` (of the same person, not flagged in
/// error, whose details the caller reads), filed where it is.
fn insert_sql(amendment: bool) -> String {
    let (place, from, condition) = if amendment {
        (
            String::new(),
            "target t, who, falls o",
            format!(
                "o.tenant_id = t.tenant_id AND o.id = :amends AND o.resident_id = t.id AND o.amends IS NULL \
                 AND o.error_at IS NULL AND {}",
                care_readable("o", true)
            ),
        )
    } else {
        (format!(", {PLACE}"), "target t, place o, who", "(:amends::uuid IS NULL)".to_owned())
    };
    format!(
        "WITH {WHO_CTE}, {target}{place}, \
         f AS (INSERT INTO falls (tenant_id, id, resident_id, establishment_id, amends, occurred_at, place, discovery, \
                 consequences, physician_informed_at, family_informed_at, details, dek_version, recorded_by) \
               SELECT t.tenant_id, :id, t.id, o.establishment_id, :amends, :occurred_at, :place, :discovery, \
                      :consequences::text[], :physician_informed_at, :family_informed_at, :details, :dek_version, \
                      who.user_id \
               FROM {from} WHERE t.record_status = 'active' AND {condition} RETURNING *), \
         trace AS ({trace}), {event} SELECT {FALL_COLUMNS} FROM f",
        target = target(),
        trace = Trace::written("f"),
        event = crate::handover_write::emit("f"),
    )
}

static INSERT: Stmt = LazyLock::new(|| Sql::new(&insert_sql(false)));
static INSERT_AMENDMENT: Stmt = LazyLock::new(|| Sql::new(&insert_sql(true)));

static BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {FALL_COLUMNS} FROM falls f WHERE f.tenant_id = :tenant AND f.id = :id"))
});

/// What a use case needs to decide on a correction or an error flag of a fall the caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FallMeta {
    /// The fall (its first record), whichever of its records was named.
    pub fall: FallId,
    pub in_error: bool,
    /// Whether the caller reads it in full (else: in the register without details).
    pub in_full: bool,
}

static META: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} \
         SELECT o.id AS fall_id, o.error_at IS NOT NULL AS in_error, {full} AS in_full \
         FROM falls f JOIN falls o ON o.tenant_id = f.tenant_id AND o.id = coalesce(f.amends, f.id), target t, who \
         WHERE f.tenant_id = t.tenant_id AND f.resident_id = t.id AND f.id = :id AND o.resident_id = t.id \
         AND ({full} OR {overseen})",
        target = target(),
        full = care_readable("o", true),
        overseen = overseen("o"),
    ))
});

static FLAG: LazyLock<Flagging> = LazyLock::new(|| {
    let sealed =
        "SELECT details, dek_version FROM falls WHERE tenant_id = :tenant AND id = :id AND resident_id = :resident";
    let flag = format!(
        "WITH {WHO_CTE}, {target}, \
         f AS (UPDATE falls f SET error_at = now(), error_by = who.user_id, error_reason = :reason, details = :details, \
                 dek_version = :dek_version FROM target t, who \
               WHERE f.tenant_id = t.tenant_id AND f.resident_id = t.id AND f.id = :id AND f.amends IS NULL \
               AND f.error_at IS NULL AND f.dek_version = :sealed_under AND t.record_status = 'active' AND {readable} \
               RETURNING f.*), \
         trace AS ({trace}) SELECT {FALL_COLUMNS} FROM f",
        target = target(),
        readable = care_readable("f", true),
        trace = Trace::written("f"),
    );
    Flagging {
        sealed: Sql::new(sealed),
        flag: Sql::new(&flag),
        details: FALL_DETAILS,
        reason: FALL_ERROR_REASON,
        action: AuditAction::FallFlagError,
    }
});

/// Every record of a resident's falls the caller reads, in full or without details (the
/// register is made of them by the domain), oldest first.
static REGISTER: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT f.*, {full} AS in_full FROM falls f, target t, who WHERE f.tenant_id = t.tenant_id \
                  AND f.resident_id = t.id AND ({full} OR {overseen}) ORDER BY f.id LIMIT 5000) \
         {listed}",
        target = target(),
        full = care_readable("f", true),
        overseen = overseen("f"),
        listed = listed(&format!("SELECT {SHOWN_COLUMNS} FROM data f"), "x.id"),
    ))
});

/// The records of the falls of establishment `:establishment` that have a record in the period
/// `[:from, :to)` — every record of each (a correction may have moved the fall in or out of
/// the period: the domain decides with the latest) — about people the caller sees, in full or
/// without details; with the people's names. Each person shown is recorded as read.
static OF_ESTABLISHMENT: Stmt = LazyLock::new(|| {
    let each_person = Trace {
        from: "who, (SELECT DISTINCT resident_id FROM shown) d",
        resident: "d.resident_id",
        resource: "d.resident_id",
        outcome: "'success'",
        emergency: "false",
    };
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         chains AS (SELECT DISTINCT coalesce(f.amends, f.id) AS fall_id FROM falls f, who \
                    WHERE f.tenant_id = who.tenant_id AND f.establishment_id = :establishment \
                    AND f.occurred_at >= :from AND f.occurred_at < :to), \
         chain_rows AS MATERIALIZED ( \
             SELECT f.* FROM falls f, who WHERE f.tenant_id = who.tenant_id AND f.id IN (SELECT fall_id FROM chains) \
             UNION ALL \
             SELECT f.* FROM falls f, who WHERE f.tenant_id = who.tenant_id AND f.amends IN (SELECT fall_id FROM chains)), \
         people AS MATERIALIZED (SELECT r.id, r.identity, r.dek_version FROM residents r, who \
                    WHERE r.tenant_id = who.tenant_id AND r.id IN (SELECT resident_id FROM chain_rows) AND {visible}), \
         shown AS MATERIALIZED (SELECT f.*, {full} AS in_full FROM chain_rows f JOIN people p ON p.id = f.resident_id, who \
                    WHERE ({full} OR {overseen}) ORDER BY f.id LIMIT 5000), \
         trace AS ({trace}) \
         SELECT {SHOWN_COLUMNS}, p.identity AS resident_identity, p.dek_version AS resident_dek_version \
         FROM shown f JOIN people p ON p.id = f.resident_id ORDER BY f.id",
        visible = visible("r"),
        full = care_readable("f", false),
        overseen = overseen("f"),
        trace = each_person.sql(),
    ))
});

fn quality_args(reach: &ScopeReach) -> (bool, Vec<Uuid>) {
    (reach.all, reach.establishments.iter().map(|e| e.as_uuid()).collect())
}

/// Records a fall of a visible resident (or, with `amends`, a correction of one), and commits.
pub async fn record(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewFall,
    amends: Option<FallId>,
    event: Option<&dui_domain::handover::NewHandoverEvent>,
) -> StoreResult<Created<FallRecord>> {
    let keys = tx.sealing_keys(2).await?;
    let id = Uuid::now_v7();
    let details = seal_json(&keys, FALL_DETAILS, id, &new.details)?;
    let (resident, dek, original) = (resident.as_uuid(), keys.active_version() as i32, amends.map(|a| a.as_uuid()));
    let (place, discovery) = (new.place.as_str(), new.discovery.as_str());
    let consequences: Vec<&str> = new.consequences.iter().map(|c| c.as_str()).collect();
    let action = if amends.is_some() { AuditAction::FallAmend } else { AuditAction::FallCreate };
    let args = args! { resident: &resident, id: &id, amends: &original, occurred_at: &new.occurred_at, place: &place,
    discovery: &discovery, consequences: &consequences, physician_informed_at: &new.physician_informed_at,
    family_informed_at: &new.family_informed_at, details: &details, dek_version: &dek }
    .action(action);
    let event = crate::handover_write::EventRow::seal(&keys, event)?;
    let args = event.bind(args);
    let map = |row: &Row| fall_record(row, &keys);
    let insert: &Sql = if amends.is_some() { &INSERT_AMENDMENT } else { &INSERT };
    create_once(tx, key, Create { id, insert, args, reload: &BY_ID, map: &map }).await
}

/// The fall a record of a visible resident belongs to, when the caller sees it (in full, or
/// without details where `quality` lets them): a check, not recorded. `NotFound` otherwise.
pub async fn meta(tx: &mut Tx<'_>, resident: ResidentId, id: FallId, quality: &ScopeReach) -> StoreResult<FallMeta> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let (quality_all, quality_est) = quality_args(quality);
    let args = args! { resident: &resident, id: &id, quality_all: &quality_all, quality_est: &quality_est };
    let row = tx.query_one(&META, &args).await?;
    Ok(FallMeta {
        fall: FallId::from_uuid(row.try_get("fall_id")?),
        in_error: row.try_get("in_error")?,
        in_full: row.try_get("in_full")?,
    })
}

/// Flags a fall (its first record) as entered in error, with a reason; commits. `NotFound`
/// when it is flagged already or out of reach.
pub async fn flag_error(tx: Tx<'_>, resident: ResidentId, fall: FallId, reason: &str) -> StoreResult<FallRecord> {
    flag_entered_in_error(tx, &FLAG, resident, fall.as_uuid(), reason, fall_record).await
}

/// Every record of a resident's falls the caller reads (in full, or without details where
/// `quality` — the director's reach — lets them see the register only), as the transaction's
/// last statement; the reading is recorded. `NotFound` when the resident is out of reach.
pub async fn records(tx: Tx<'_>, resident: ResidentId, quality: &ScopeReach) -> StoreResult<Vec<FallRecord>> {
    let resident = resident.as_uuid();
    let (quality_all, quality_est) = quality_args(quality);
    let args = args! { resident: &resident, quality_all: &quality_all, quality_est: &quality_est };
    let trace = crate::trail::ReadTrace::Record { action: AuditAction::FallRead, resident };
    open_listed(tx, &REGISTER, &args, Some(trace), fall_record).await
}

/// The records of an establishment's falls with a record in `[from, to)`, about people the
/// caller sees, with their names (see [`OF_ESTABLISHMENT`]); each person shown is recorded as
/// read; commits.
pub async fn of_establishment(
    tx: Tx<'_>,
    establishment: EstablishmentId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    quality: &ScopeReach,
) -> StoreResult<Vec<(FallRecord, ResidentName)>> {
    let establishment = establishment.as_uuid();
    let (quality_all, quality_est) = quality_args(quality);
    let args = args! { establishment: &establishment, from: &from, to: &to, quality_all: &quality_all,
    quality_est: &quality_est }
    .action(AuditAction::FallList);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = tx.finish(&OF_ESTABLISHMENT, &args).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut needed = versions(&rows)?;
    for row in &rows {
        needed.push(row.try_get::<_, i32>("resident_dek_version")? as u32);
    }
    let keys = db.keyring(tenant, needed).await?;
    let mut names: std::collections::HashMap<Uuid, ResidentName> = std::collections::HashMap::new();
    let mut found = Vec::with_capacity(rows.len());
    for row in &rows {
        let record = fall_record(row, &keys)?;
        let resident = record.resident_id;
        let name = match names.get(&resident.as_uuid()) {
            Some(name) => name.clone(),
            None => {
                let identity: Identity =
                    open_json(&keys, RESIDENT_IDENTITY, resident.as_uuid(), row.try_get("resident_identity")?)?;
                let name = ResidentName::of(identity, resident);
                names.insert(resident.as_uuid(), name.clone());
                name
            }
        };
        found.push((record, name));
    }
    Ok(found)
}

/// Falls: what is said about each sealed; a merge moves them to the record kept (the register
/// is the person's); the resident's export lists every record — first records and corrections,
/// those flagged in error included — by the time of the fall.
pub(crate) const FEATURE: Feature = Feature {
    name: "falls",
    tables: &[Table::of_person(
        "falls",
        &[FALL_DETAILS, FALL_ERROR_REASON],
        "falls f",
        FALL_COLUMNS,
        "f.occurred_at, f.id",
        |row, keys| to_json(fall_record(row, keys)),
    )],
};
