//! The tenant's structure: establishments and services, and their units. Tenant administrators
//! make establishments; directors staff their own and make their units.

use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::policy;
use dui_domain::scope::TenantScope;
use dui_domain::structure::{self, Establishment, EstablishmentChanges, NewEstablishment, StructureStatus, Unit};
use dui_domain::{EstablishmentId, UnitId};
use dui_storage::{Mode, structure as store};

use crate::{App, AppError, AppResult};

fn forbidden(what: &str) -> AppError {
    AppError::Forbidden(format!("Your roles do not allow you to {what}."))
}

/// The establishments the caller works in (all of them for tenant-wide roles).
pub async fn list_establishments(app: &App, scope: &TenantScope, page: PageRequest) -> AppResult<Page<Establishment>> {
    Ok(store::list_establishments(app.db().begin(scope, Mode::Read), page).await?)
}

/// One establishment the caller sees.
pub async fn get_establishment(app: &App, scope: &TenantScope, id: EstablishmentId) -> AppResult<Establishment> {
    let mut tx = app.db().begin(scope, Mode::Read);
    let found = store::get_establishment(&mut tx, id).await?;
    tx.commit().await?;
    Ok(found)
}

/// Creates an establishment or service (tenant administrators).
pub async fn create_establishment(
    app: &App,
    scope: &TenantScope,
    finess: &str,
    name: &str,
    category: structure::EstablishmentCategory,
    key: Option<IdempotencyKey>,
) -> AppResult<Created<Establishment>> {
    if !policy::can_manage_establishments(scope) {
        return Err(forbidden("create establishments"));
    }
    let new = NewEstablishment::validate(finess, name, category)?;
    Ok(store::create_establishment(app.db().begin(scope, Mode::Write), key.as_ref(), &new).await?)
}

/// The change of an establishment, as received.
#[derive(Debug, Clone, Default)]
pub struct ChangeEstablishment {
    pub name: Option<String>,
    pub category: Option<structure::EstablishmentCategory>,
    pub status: Option<StructureStatus>,
    pub timezone: Option<String>,
    pub shift_starts: Option<Vec<String>>,
}

/// Renames, recategorises, closes or reopens an establishment, or sets its time zone and shifts
/// (tenant administrators).
pub async fn update_establishment(
    app: &App,
    scope: &TenantScope,
    id: EstablishmentId,
    change: ChangeEstablishment,
) -> AppResult<Establishment> {
    let mut tx = app.db().begin(scope, Mode::Write);
    if !policy::can_manage_establishments(scope) {
        // Whether the establishment exists is not for this caller to learn by elimination.
        store::get_establishment(&mut tx, id).await?;
        return Err(forbidden("change establishments"));
    }
    let changes = EstablishmentChanges::validate(change.name.as_deref(), change.category, change.status)?
        .with_shifts(change.timezone.as_deref(), change.shift_starts.as_deref())?;
    Ok(store::update_establishment(tx, id, &changes).await?)
}

/// The units of an establishment the caller sees (an establishment out of sight is absent, not
/// merely empty).
pub async fn list_units(
    app: &App,
    scope: &TenantScope,
    establishment: EstablishmentId,
    page: PageRequest,
) -> AppResult<Page<Unit>> {
    let mut tx = app.db().begin(scope, Mode::Read);
    store::get_establishment(&mut tx, establishment).await?;
    Ok(store::list_units(tx, establishment, page).await?)
}

/// Creates a unit (tenant administrators, and directors of the establishment).
pub async fn create_unit(
    app: &App,
    scope: &TenantScope,
    establishment: EstablishmentId,
    name: &str,
    key: Option<IdempotencyKey>,
) -> AppResult<Created<Unit>> {
    let name = structure::unit_name(name)?;
    let mut tx = app.db().begin(scope, Mode::Write);
    if !policy::can_manage_units(scope, establishment) {
        store::get_establishment(&mut tx, establishment).await?;
        return Err(forbidden("create units here"));
    }
    Ok(store::create_unit(tx, key.as_ref(), establishment, &name).await?)
}

/// One unit, if the caller sees its establishment.
pub async fn get_unit(app: &App, scope: &TenantScope, id: UnitId) -> AppResult<Unit> {
    let mut tx = app.db().begin(scope, Mode::Read);
    let found = store::get_unit(&mut tx, id).await?;
    tx.commit().await?;
    Ok(found)
}

/// Renames, closes or reopens a unit (tenant administrators, and directors of its
/// establishment).
pub async fn update_unit(
    app: &App,
    scope: &TenantScope,
    id: UnitId,
    name: Option<&str>,
    status: Option<StructureStatus>,
) -> AppResult<Unit> {
    let name = name.map(structure::unit_name).transpose()?;
    let mut tx = app.db().begin(scope, Mode::Write);
    let unit = store::get_unit(&mut tx, id).await?;
    if !policy::can_manage_units(scope, unit.establishment_id) {
        return Err(forbidden("change this unit"));
    }
    Ok(store::update_unit(tx, id, name.as_deref(), status).await?)
}
