//! The audit trail as people read it: who accessed a record, and the tenant's trail for its
//! data-protection officer.

use chrono::{DateTime, Utc};
use dui_domain::ResidentId;
use dui_domain::audit::AuditAction;
use dui_domain::period::TimeBound;
use dui_domain::policy;
use dui_domain::scope::TenantScope;
use dui_storage::Mode;
pub use dui_storage::audit::AccessEntry;

use crate::access::{context, refuse};
use crate::{App, AppError, AppResult};

/// The longest period one request may export; the command line has no limit.
pub const MAX_EXPORT_DAYS: i64 = 31;

/// Who accessed a record, and how, over a period (GDPR: the person may ask who saw their
/// record). Directors of the person's establishments and tenant administrators; recorded.
pub async fn access_report(
    app: &App,
    scope: &TenantScope,
    id: ResidentId,
    from: Option<TimeBound>,
    to: Option<TimeBound>,
) -> AppResult<Vec<AccessEntry>> {
    let action = AuditAction::AuditAccessReport;
    let mut tx = app.db().begin(scope, Mode::Write);
    let context = context(&mut tx, id, action).await?;
    if !policy::can_oversee_records(scope, &context.establishments) {
        return Err(refuse(&mut tx, action, id, "see who accessed the record").await);
    }
    let [from, to] = crate::period::resolve(&mut tx, id, [from, to]).await?;
    Ok(dui_storage::audit::access_report(tx, id, from, to).await?)
}

/// The tenant's trail over a period, one JSON event per line, for tenant administrators (and
/// the console); recorded. A request asks for at most [`MAX_EXPORT_DAYS`]; the console for any
/// period (`limit: None`).
pub async fn export(
    app: &App,
    scope: &TenantScope,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    limit_days: Option<i64>,
    out: &mut (dyn std::io::Write + Send),
) -> AppResult<u64> {
    if !policy::can_export_audit(scope) {
        return Err(AppError::Forbidden("Exporting the audit trail is for tenant administrators.".to_owned()));
    }
    if let Some(days) = limit_days {
        let (Some(from), Some(to)) = (from, to) else {
            return Err(AppError::invalid("from", "give from and to (at most 31 days apart)"));
        };
        if to <= from || to - from > chrono::Duration::days(days) {
            return Err(AppError::invalid("to", "must be after from, at most 31 days later"));
        }
    }
    Ok(dui_storage::audit::export(app.db().begin(scope, Mode::Snapshot), from, to, out).await?)
}
