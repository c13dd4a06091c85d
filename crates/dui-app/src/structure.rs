//! The tenant's structure: establishments and units.

use dui_domain::EstablishmentId;
use dui_domain::scope::TenantScope;
use dui_domain::structure::Establishment;

use crate::{App, AppResult};

/// One establishment the caller sees.
pub async fn get_establishment(app: &App, scope: &TenantScope, id: EstablishmentId) -> AppResult<Establishment> {
    Ok(app.db().get_establishment(scope, id).await?)
}
