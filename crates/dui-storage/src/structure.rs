//! Establishments and units of a tenant.

use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::scope::{EstablishmentVisibility, TenantScope};
use dui_domain::structure::{
    Establishment, EstablishmentCategory, EstablishmentChanges, Finess, NewEstablishment, StructureStatus, Unit,
};
use dui_domain::{EstablishmentId, UnitId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::feature::{Feature, Table};
use std::sync::LazyLock;

use dui_domain::audit::AuditAction;

use crate::access::WHO_CTE;
use crate::args;
use crate::idempotency::{Create, create_once};
use crate::rows::{all, one, parse};
use crate::sql::{Sql, Stmt};
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

pub(crate) const ESTABLISHMENT_COLUMNS: &str =
    "id, finess, name, category, status, timezone, shift_starts, created_at, updated_at";
pub(crate) const UNIT_COLUMNS: &str = "id, establishment_id, name, status, created_at, updated_at";

pub(crate) fn establishment(row: &Row) -> StoreResult<Establishment> {
    let finess: String = row.try_get("finess")?;
    Ok(Establishment {
        id: EstablishmentId::from_uuid(row.try_get("id")?),
        finess: Finess::parse(&finess)
            .map_err(|_| StoreError::Corrupt { column: "establishments.finess", value: finess })?,
        name: row.try_get("name")?,
        category: parse(row, "category", EstablishmentCategory::parse)?,
        status: parse(row, "status", StructureStatus::parse)?,
        timezone: row.try_get("timezone")?,
        shift_starts: row
            .try_get::<_, Vec<chrono::NaiveTime>>("shift_starts")?
            .iter()
            .map(|t| t.format("%H:%M").to_string())
            .collect(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(crate) fn unit(row: &Row) -> StoreResult<Unit> {
    Ok(Unit {
        id: UnitId::from_uuid(row.try_get("id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        name: row.try_get("name")?,
        status: parse(row, "status", StructureStatus::parse)?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// `None` when the caller sees every establishment, else the ids it sees; bound as
/// `:visible_est` and tested with `(:visible_est::uuid[] IS NULL OR id = ANY(:visible_est))`.
fn visible(scope: &TenantScope) -> Option<Vec<Uuid>> {
    match scope.establishments() {
        EstablishmentVisibility::All => None,
        EstablishmentVisibility::Only(ids) => Some(ids.into_iter().map(|id| id.as_uuid()).collect()),
    }
}

static CREATE_ESTABLISHMENT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         x AS (INSERT INTO establishments (tenant_id, id, finess, name, category) \
               VALUES (:tenant, :id, :finess, :name, :category) RETURNING {ESTABLISHMENT_COLUMNS}), \
         trace AS ({trace}) SELECT * FROM x",
        trace = Trace::administered("x")
    ))
});

static ESTABLISHMENT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {ESTABLISHMENT_COLUMNS} FROM establishments \
         WHERE tenant_id = :tenant AND id = :id AND (:visible_est::uuid[] IS NULL OR id = ANY(:visible_est))"
    ))
});

static ESTABLISHMENT_BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {ESTABLISHMENT_COLUMNS} FROM establishments WHERE tenant_id = :tenant AND id = :id"))
});

static ESTABLISHMENTS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {ESTABLISHMENT_COLUMNS} FROM establishments \
         WHERE tenant_id = :tenant AND (:visible_est::uuid[] IS NULL OR id = ANY(:visible_est)) \
         AND (:after::uuid IS NULL OR id > :after) ORDER BY id LIMIT :limit"
    ))
});

static KNOWN_ZONE: Stmt =
    LazyLock::new(|| Sql::new("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = :zone)"));

static UPDATE_ESTABLISHMENT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         x AS (UPDATE establishments SET name = coalesce(:name, name), category = coalesce(:category, category), \
                 status = coalesce(:status, status), timezone = coalesce(:timezone, timezone), \
                 shift_starts = coalesce(:shift_starts, shift_starts), updated_at = now() \
               WHERE tenant_id = :tenant AND id = :id RETURNING {ESTABLISHMENT_COLUMNS}), \
         trace AS ({trace}) SELECT * FROM x",
        trace = Trace::administered("x")
    ))
});

static CREATE_UNIT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         x AS (INSERT INTO units (tenant_id, id, establishment_id, name) \
               SELECT e.tenant_id, :id, e.id, :name FROM establishments e \
               WHERE e.tenant_id = :tenant AND e.id = :establishment \
               AND (:visible_est::uuid[] IS NULL OR e.id = ANY(:visible_est)) \
               RETURNING {UNIT_COLUMNS}), \
         trace AS ({trace}) SELECT * FROM x",
        trace = Trace::administered("x")
    ))
});

static UNIT_BY_ID: Stmt =
    LazyLock::new(|| Sql::new(&format!("SELECT {UNIT_COLUMNS} FROM units WHERE tenant_id = :tenant AND id = :id")));

static UNIT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {UNIT_COLUMNS} FROM units \
         WHERE tenant_id = :tenant AND id = :id AND (:visible_est::uuid[] IS NULL OR establishment_id = ANY(:visible_est))"
    ))
});

static UNITS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {UNIT_COLUMNS} FROM units \
         WHERE tenant_id = :tenant AND establishment_id = :establishment \
         AND (:visible_est::uuid[] IS NULL OR establishment_id = ANY(:visible_est)) \
         AND (:after::uuid IS NULL OR id > :after) ORDER BY id LIMIT :limit"
    ))
});

static UPDATE_UNIT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         x AS (UPDATE units SET name = coalesce(:name, name), status = coalesce(:status, status), updated_at = now() \
               WHERE tenant_id = :tenant AND id = :id \
               AND (:visible_est::uuid[] IS NULL OR establishment_id = ANY(:visible_est)) RETURNING {UNIT_COLUMNS}), \
         trace AS ({trace}) SELECT * FROM x",
        trace = Trace::administered("x")
    ))
});

/// Creates an establishment, and commits.
pub async fn create_establishment(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    new: &NewEstablishment,
) -> StoreResult<Created<Establishment>> {
    let id = Uuid::now_v7();
    let (finess, category) = (new.finess.as_str(), new.category.as_str());
    let args = args! { id: &id, finess: &finess, name: &new.name, category: &category }
        .action(AuditAction::EstablishmentCreate);
    let map = |row: &Row| establishment(row);
    create_once(tx, key, Create { id, insert: &CREATE_ESTABLISHMENT, args, reload: &ESTABLISHMENT_BY_ID, map: &map })
        .await
}

/// The establishments the caller sees.
pub async fn list_establishments(tx: Tx<'_>, page: PageRequest) -> StoreResult<Page<Establishment>> {
    let (visible, limit) = (visible(tx.scope()?), page.fetch_limit());
    let rows = tx.finish(&ESTABLISHMENTS, &args! { visible_est: &visible, after: &page.after, limit: &limit }).await?;
    Ok(Page::from_rows(all(&rows, establishment)?, page, |e| e.id.as_uuid()))
}

/// One establishment, if the caller sees it.
pub async fn get_establishment(tx: &mut Tx<'_>, id: EstablishmentId) -> StoreResult<Establishment> {
    let (visible, id) = (visible(tx.scope()?), id.as_uuid());
    let row = tx.query_opt(&ESTABLISHMENT, &args! { id: &id, visible_est: &visible }).await?;
    row.as_ref().map(establishment).transpose()?.ok_or(StoreError::NotFound)
}

/// Changes an establishment, and commits. An unknown time zone is refused.
pub async fn update_establishment(
    mut tx: Tx<'_>,
    id: EstablishmentId,
    changes: &EstablishmentChanges,
) -> StoreResult<Establishment> {
    if let Some(zone) = &changes.timezone {
        let known = tx.query_one(&KNOWN_ZONE, &args! { zone: zone }).await?;
        if !known.try_get::<_, bool>(0)? {
            return Err(StoreError::Invalid { constraint: "establishments_timezone_known".to_owned() });
        }
    }
    let id = id.as_uuid();
    let (category, status) =
        (changes.category.map(EstablishmentCategory::as_str), changes.status.map(StructureStatus::as_str));
    let args = args! { id: &id, name: &changes.name, category: &category, status: &status, timezone: &changes.timezone,
    shift_starts: &changes.shift_starts }
    .action(AuditAction::EstablishmentUpdate);
    one(tx.finish(&UPDATE_ESTABLISHMENT, &args).await?, establishment)
}

/// Creates a unit in an establishment the caller sees (`NotFound` otherwise), and commits.
pub async fn create_unit(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    establishment_id: EstablishmentId,
    name: &str,
) -> StoreResult<Created<Unit>> {
    let id = Uuid::now_v7();
    let (visible, establishment) = (visible(tx.scope()?), establishment_id.as_uuid());
    let args = args! { id: &id, establishment: &establishment, name: &name, visible_est: &visible }
        .action(AuditAction::UnitCreate);
    let map = |row: &Row| unit(row);
    create_once(tx, key, Create { id, insert: &CREATE_UNIT, args, reload: &UNIT_BY_ID, map: &map }).await
}

/// The units of an establishment the caller sees.
pub async fn list_units(tx: Tx<'_>, establishment_id: EstablishmentId, page: PageRequest) -> StoreResult<Page<Unit>> {
    let (visible, establishment, limit) = (visible(tx.scope()?), establishment_id.as_uuid(), page.fetch_limit());
    let args = args! { establishment: &establishment, visible_est: &visible, after: &page.after, limit: &limit };
    let rows = tx.finish(&UNITS, &args).await?;
    Ok(Page::from_rows(all(&rows, unit)?, page, |u| u.id.as_uuid()))
}

/// One unit, if the caller sees its establishment.
pub async fn get_unit(tx: &mut Tx<'_>, id: UnitId) -> StoreResult<Unit> {
    let (visible, id) = (visible(tx.scope()?), id.as_uuid());
    let row = tx.query_opt(&UNIT, &args! { id: &id, visible_est: &visible }).await?;
    row.as_ref().map(unit).transpose()?.ok_or(StoreError::NotFound)
}

/// Renames, closes or reopens a unit, and commits.
pub async fn update_unit(
    tx: Tx<'_>,
    id: UnitId,
    name: Option<&str>,
    status: Option<StructureStatus>,
) -> StoreResult<Unit> {
    let (visible, id, status) = (visible(tx.scope()?), id.as_uuid(), status.map(StructureStatus::as_str));
    let args = args! { id: &id, name: &name, status: &status, visible_est: &visible }.action(AuditAction::UnitUpdate);
    one(tx.finish(&UPDATE_UNIT, &args).await?, unit)
}

/// The tenant's structure: establishments and units, in the tenant's export.
pub(crate) const FEATURE: Feature =
    Feature { name: "structure", tables: &[Table::of_tenant("establishments", "id"), Table::of_tenant("units", "id")] };
