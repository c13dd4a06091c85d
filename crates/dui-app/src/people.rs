//! Users, memberships and external identities of the tenant.

use dui_domain::UserId;
use dui_domain::scope::TenantScope;

use crate::{App, AppResult};

/// A professional's name as the staff directory has it, for a document that names who does
/// what (the directory is not resident data).
pub async fn professional_name(app: &App, scope: &TenantScope, user: UserId) -> AppResult<String> {
    let found = app.db().get_user(scope, user).await?;
    Ok(format!("{} {}", found.given_name, found.family_name))
}
