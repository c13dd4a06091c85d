//! The tenant's settings of care: one row per tenant once they are changed; the defaults before.

use std::sync::LazyLock;

use dui_domain::UserId;
use dui_domain::audit::AuditAction;
use dui_domain::people::Role;
use dui_domain::settings::CareSettings;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::WHO_CTE;
use crate::args;
use crate::feature::{Feature, Table};
use crate::sql::{Sql, Stmt};
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

const COLUMNS: &str = "aggir_validators, task_missed_after_minutes, version, updated_at, updated_by";

fn settings(row: &Row) -> StoreResult<CareSettings> {
    let roles: Vec<String> = row.try_get("aggir_validators")?;
    let aggir_validators = roles
        .into_iter()
        .map(|r| match Role::parse(&r) {
            Some(role) => Ok(role),
            None => Err(StoreError::Corrupt { column: "tenant_settings.aggir_validators", value: r }),
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(CareSettings {
        aggir_validators,
        task_missed_after_minutes: row.try_get::<_, i32>("task_missed_after_minutes")?.max(0) as u32,
        version: row.try_get("version")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get::<_, Option<Uuid>>("updated_by")?.map(UserId::from_uuid),
    })
}

static GET: Stmt =
    LazyLock::new(|| Sql::new(&format!("SELECT {COLUMNS} FROM tenant_settings WHERE tenant_id = :tenant")));

/// The first change inserts the row (version 1); the next ones update it if it is still at
/// `:expected` (0 for the defaults).
static PUT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         x AS (INSERT INTO tenant_settings AS s (tenant_id, aggir_validators, task_missed_after_minutes, version, updated_by) \
               SELECT who.tenant_id, :aggir_validators, :task_missed_after_minutes, 1, who.user_id FROM who \
               WHERE :expected::int = 0 \
               ON CONFLICT (tenant_id) DO UPDATE SET aggir_validators = EXCLUDED.aggir_validators, \
                 task_missed_after_minutes = EXCLUDED.task_missed_after_minutes, version = s.version + 1, \
                 updated_at = now(), updated_by = EXCLUDED.updated_by \
               WHERE s.version = :expected \
               RETURNING s.tenant_id AS id, {COLUMNS}), \
         upd AS (UPDATE tenant_settings s SET aggir_validators = :aggir_validators, \
                 task_missed_after_minutes = :task_missed_after_minutes, version = s.version + 1, updated_at = now(), \
                 updated_by = (SELECT user_id FROM who) \
               WHERE s.tenant_id = :tenant AND s.version = :expected AND :expected::int > 0 \
               RETURNING s.tenant_id AS id, {COLUMNS}), \
         changed AS (SELECT * FROM x UNION ALL SELECT * FROM upd), \
         trace AS ({trace}) SELECT * FROM changed",
        trace = Trace::administered("changed")
    ))
});

/// The tenant's settings: the defaults until they are changed. Not recorded: nothing personal.
pub async fn get(tx: &mut Tx<'_>) -> StoreResult<CareSettings> {
    Ok(tx.query_opt(&GET, &args! {}).await?.as_ref().map(settings).transpose()?.unwrap_or_default())
}

/// Writes the settings if they are still at version `expected`, and commits. `Conflict` when
/// they changed meanwhile.
pub async fn put(tx: Tx<'_>, next: &CareSettings, expected: i32) -> StoreResult<CareSettings> {
    let validators: Vec<&str> = next.aggir_validators.iter().map(|r| r.as_str()).collect();
    let minutes = next.task_missed_after_minutes as i32;
    let args = args! { aggir_validators: &validators, task_missed_after_minutes: &minutes, expected: &expected }
        .action(AuditAction::SettingsUpdate);
    let rows = tx.finish(&PUT, &args).await?;
    match rows.first() {
        Some(row) => settings(row),
        None => Err(StoreError::Conflict { constraint: "tenant_settings_changed".to_owned() }),
    }
}

/// The settings travel with the tenant's export.
pub(crate) const FEATURE: Feature =
    Feature { name: "settings", tables: &[Table::of_tenant("tenant_settings", "tenant_id")] };
