//! The tenant's settings of care: read by everyone of the tenant (they decide what the screens
//! show), changed by its administrators.

use dui_domain::policy;
use dui_domain::scope::TenantScope;
use dui_domain::settings::{CareSettings, SettingsChange};
use dui_storage::{Mode, settings as store};

use crate::{App, AppError, AppResult};

/// The settings in force (the defaults until they are changed).
pub async fn get(app: &App, scope: &TenantScope) -> AppResult<CareSettings> {
    let mut tx = app.db().begin(scope, Mode::Read);
    let settings = store::get(&mut tx).await?;
    tx.commit().await?;
    Ok(settings)
}

/// Changes the settings (tenant administrators), if they are still at `expected_version`
/// (0 while the defaults apply).
pub async fn change(
    app: &App,
    scope: &TenantScope,
    change: SettingsChange,
    expected_version: i32,
) -> AppResult<CareSettings> {
    if !policy::can_manage_settings(scope) {
        return Err(AppError::Forbidden("Only the tenant's administrators change its settings.".to_owned()));
    }
    let mut tx = app.db().begin(scope, Mode::Write);
    let current = store::get(&mut tx).await?;
    if current.version != expected_version {
        return Err(AppError::Conflict(format!(
            "The settings are at version {}, not {expected_version}: read them again, then redo your change.",
            current.version
        )));
    }
    let next = current.changed(&change)?;
    Ok(store::put(tx, &next, expected_version).await?)
}
