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

use crate::feature::{Feature, Table, TenantExport};
use crate::idempotency::CreateStatement;
use crate::rows::{all, one, parse};
use crate::tx::Params;
use crate::{Db, StoreError, StoreResult};

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

/// `None` when the scope sees every establishment, else the ids it sees; bound as `$n::uuid[]`
/// and tested with `($n IS NULL OR id = ANY($n))`.
fn visible(scope: &TenantScope) -> Option<Vec<Uuid>> {
    match scope.establishments() {
        EstablishmentVisibility::All => None,
        EstablishmentVisibility::Only(ids) => Some(ids.into_iter().map(|id| id.as_uuid()).collect()),
    }
}

impl Db {
    pub async fn create_establishment(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        new: &NewEstablishment,
    ) -> StoreResult<Created<Establishment>> {
        let id = Uuid::now_v7();
        let insert = format!(
            "INSERT INTO establishments (tenant_id, id, finess, name, category) VALUES ($1, $2, $3, $4, $5) \
             RETURNING {ESTABLISHMENT_COLUMNS}"
        );
        let reload = format!("SELECT {ESTABLISHMENT_COLUMNS} FROM establishments WHERE tenant_id = $1 AND id = $2");
        let params: Params<'_> =
            &[&scope.tenant_id().as_uuid(), &id, &new.finess.as_str(), &new.name, &new.category.as_str()];
        self.create_once(
            scope,
            key,
            CreateStatement {
                id,
                insert: &insert,
                params,
                reload: &reload,
                map: &establishment,
                audit: Some(("establishment.create", "establishment")),
            },
        )
        .await
    }

    /// The establishments the scope sees.
    pub async fn list_establishments(
        &self,
        scope: &TenantScope,
        page: PageRequest,
    ) -> StoreResult<Page<Establishment>> {
        let sql = format!(
            "SELECT {ESTABLISHMENT_COLUMNS} FROM establishments \
             WHERE tenant_id = $1 AND ($2::uuid[] IS NULL OR id = ANY($2)) AND ($3::uuid IS NULL OR id > $3) \
             ORDER BY id LIMIT $4"
        );
        let rows = self
            .read(
                scope.tenant_id(),
                &sql,
                &[&scope.tenant_id().as_uuid(), &visible(scope), &page.after, &page.fetch_limit()],
            )
            .await?;
        let items = all(&rows, establishment)?;
        Ok(Page::from_rows(items, page, |e| e.id.as_uuid()))
    }

    /// One establishment, if the scope sees it.
    pub async fn get_establishment(&self, scope: &TenantScope, id: EstablishmentId) -> StoreResult<Establishment> {
        let sql = format!(
            "SELECT {ESTABLISHMENT_COLUMNS} FROM establishments \
             WHERE tenant_id = $1 AND id = $2 AND ($3::uuid[] IS NULL OR id = ANY($3))"
        );
        let rows =
            self.read(scope.tenant_id(), &sql, &[&scope.tenant_id().as_uuid(), &id.as_uuid(), &visible(scope)]).await?;
        one(rows, establishment)
    }

    pub async fn update_establishment(
        &self,
        scope: &TenantScope,
        id: EstablishmentId,
        changes: &EstablishmentChanges,
    ) -> StoreResult<Establishment> {
        if let Some(zone) = &changes.timezone {
            let known = self
                .read(scope.tenant_id(), "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)", &[zone])
                .await?;
            if !known.first().is_some_and(|row| row.get::<_, bool>(0)) {
                return Err(StoreError::Invalid { constraint: "establishments_timezone_known".to_owned() });
            }
        }
        let sql = format!(
            "UPDATE establishments SET name = coalesce($3, name), category = coalesce($4, category), \
             status = coalesce($5, status), timezone = coalesce($6, timezone), \
             shift_starts = coalesce($7, shift_starts), updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 RETURNING {ESTABLISHMENT_COLUMNS}"
        );
        let rows = self
            .write_audited(
                scope,
                "establishment.update",
                "establishment",
                &sql,
                &[
                    &scope.tenant_id().as_uuid(),
                    &id.as_uuid(),
                    &changes.name,
                    &changes.category.map(EstablishmentCategory::as_str),
                    &changes.status.map(StructureStatus::as_str),
                    &changes.timezone,
                    &changes.shift_starts,
                ],
            )
            .await?;
        one(rows, establishment)
    }

    /// Creates a unit in an establishment the scope sees; `NotFound` otherwise.
    pub async fn create_unit(
        &self,
        scope: &TenantScope,
        key: Option<&IdempotencyKey>,
        establishment_id: EstablishmentId,
        name: &str,
    ) -> StoreResult<Created<Unit>> {
        let id = Uuid::now_v7();
        let insert = format!(
            "INSERT INTO units (tenant_id, id, establishment_id, name) \
             SELECT e.tenant_id, $2, e.id, $4 FROM establishments e \
             WHERE e.tenant_id = $1 AND e.id = $3 AND ($5::uuid[] IS NULL OR e.id = ANY($5)) \
             RETURNING {UNIT_COLUMNS}"
        );
        let reload = format!("SELECT {UNIT_COLUMNS} FROM units WHERE tenant_id = $1 AND id = $2");
        let visible = visible(scope);
        let params: Params<'_> = &[&scope.tenant_id().as_uuid(), &id, &establishment_id.as_uuid(), &name, &visible];
        self.create_once(
            scope,
            key,
            CreateStatement {
                id,
                insert: &insert,
                params,
                reload: &reload,
                map: &unit,
                audit: Some(("unit.create", "unit")),
            },
        )
        .await
    }

    /// The units of an establishment the scope sees.
    pub async fn list_units(
        &self,
        scope: &TenantScope,
        establishment_id: EstablishmentId,
        page: PageRequest,
    ) -> StoreResult<Page<Unit>> {
        let sql = format!(
            "SELECT {UNIT_COLUMNS} FROM units \
             WHERE tenant_id = $1 AND establishment_id = $2 AND ($3::uuid[] IS NULL OR establishment_id = ANY($3)) \
             AND ($4::uuid IS NULL OR id > $4) ORDER BY id LIMIT $5"
        );
        let rows = self
            .read(
                scope.tenant_id(),
                &sql,
                &[
                    &scope.tenant_id().as_uuid(),
                    &establishment_id.as_uuid(),
                    &visible(scope),
                    &page.after,
                    &page.fetch_limit(),
                ],
            )
            .await?;
        let items = all(&rows, unit)?;
        Ok(Page::from_rows(items, page, |u| u.id.as_uuid()))
    }

    /// One unit, if the scope sees its establishment.
    pub async fn get_unit(&self, scope: &TenantScope, id: UnitId) -> StoreResult<Unit> {
        let sql = format!(
            "SELECT {UNIT_COLUMNS} FROM units \
             WHERE tenant_id = $1 AND id = $2 AND ($3::uuid[] IS NULL OR establishment_id = ANY($3))"
        );
        let rows =
            self.read(scope.tenant_id(), &sql, &[&scope.tenant_id().as_uuid(), &id.as_uuid(), &visible(scope)]).await?;
        one(rows, unit)
    }

    pub async fn update_unit(
        &self,
        scope: &TenantScope,
        id: UnitId,
        name: Option<&str>,
        status: Option<StructureStatus>,
    ) -> StoreResult<Unit> {
        let sql = format!(
            "UPDATE units SET name = coalesce($3, name), status = coalesce($4, status), updated_at = now() \
             WHERE tenant_id = $1 AND id = $2 AND ($5::uuid[] IS NULL OR establishment_id = ANY($5)) RETURNING {UNIT_COLUMNS}"
        );
        let rows = self
            .write_audited(
                scope,
                "unit.update",
                "unit",
                &sql,
                &[
                    &scope.tenant_id().as_uuid(),
                    &id.as_uuid(),
                    &name,
                    &status.map(StructureStatus::as_str),
                    &visible(scope),
                ],
            )
            .await?;
        one(rows, unit)
    }
}

/// The tenant's structure: establishments and units, in the tenant's export.
pub(crate) const FEATURE: Feature = Feature {
    name: "structure",
    tables: &[
        Table {
            name: "establishments",
            sealed: &[],
            reseal: false,
            tenant_export: TenantExport::Rows { order: "id", derived: &[], defaulted: &[] },
            resident: None,
        },
        Table {
            name: "units",
            sealed: &[],
            reseal: false,
            tenant_export: TenantExport::Rows { order: "id", derived: &[], defaulted: &[] },
            resident: None,
        },
    ],
};
