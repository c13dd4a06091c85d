//! Alerts and allergies: recorded by those who give care, in a confidentiality scope they read;
//! resolved (an allergy), ended (an alert), flagged when entered in error; read together, the
//! most severe first, by whoever reads their scope where the person is supported.

use chrono::{DateTime, Utc};
use dui_domain::alert::{
    AlertEntry, AlertInput, Allergy, AllergyInput, MajorAlert, NewAlert, NewAllergy, check_end, order_alerts,
};
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::policy;
use dui_domain::record::free_text;
use dui_domain::scope::TenantScope;
use dui_domain::{AlertId, AllergyId, ResidentId};
use dui_storage::Mode;
use dui_storage::alerts;

use crate::access::{acting, changeable, refuse};
use crate::{App, AppError, AppResult};

/// An allergy to record.
#[derive(Debug, Clone)]
pub struct RecordAllergy {
    pub resident: ResidentId,
    pub allergy: AllergyInput,
    pub key: Option<IdempotencyKey>,
}

/// An alert to record.
#[derive(Debug, Clone)]
pub struct RecordAlert {
    pub resident: ResidentId,
    pub alert: AlertInput,
    pub key: Option<IdempotencyKey>,
}

/// Who changes an alert or an allergy: those who record care data where the person is supported.
const CHANGE: &str = "change care data";

/// Records an allergy or intolerance, in a scope the writer reads (the care team by default).
/// Who may: those who record care data where the person is supported.
pub async fn record_allergy(app: &App, scope: &TenantScope, command: RecordAllergy) -> AppResult<Created<Allergy>> {
    let new = NewAllergy::validate(command.allergy)?;
    let (resident, action) = (command.resident, AuditAction::AllergyCreate);
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    if !policy::can_record_alert(scope, &establishments, new.scope) {
        return Err(refuse(&mut tx, action, resident, "record this allergy").await);
    }
    let event = dui_domain::handover::allergy(&new, Utc::now());
    Ok(alerts::record_allergy(tx, command.key.as_ref(), resident, &new, Some(&event)).await?)
}

/// Records a major alert, in a scope the writer reads (the care team by default).
pub async fn record_alert(app: &App, scope: &TenantScope, command: RecordAlert) -> AppResult<Created<MajorAlert>> {
    let new = NewAlert::validate(command.alert, Utc::now())?;
    let (resident, action) = (command.resident, AuditAction::AlertCreate);
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    if !policy::can_record_alert(scope, &establishments, new.scope) {
        return Err(refuse(&mut tx, action, resident, "record this alert").await);
    }
    let event = dui_domain::handover::alert(&new);
    Ok(alerts::record_alert(tx, command.key.as_ref(), resident, &new, Some(&event)).await?)
}

/// Resolves an allergy in force: it stays, resolved, with who and when.
pub async fn resolve_allergy(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: AllergyId,
) -> AppResult<Allergy> {
    let action = AuditAction::AllergyResolve;
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let found = alerts::allergy_meta(&mut tx, resident, id).await;
    let meta =
        changeable(&mut tx, action, resident, found, policy::can_record_care_data(scope, &establishments), CHANGE)
            .await?;
    if meta.in_error {
        return Err(AppError::Conflict("This allergy was entered in error: it is not in force.".to_owned()));
    }
    if meta.closed {
        return Err(AppError::Conflict("This allergy is resolved already.".to_owned()));
    }
    Ok(alerts::resolve_allergy(tx, resident, id).await?)
}

/// Ends an alert in force, now or at a time given (not in the future, after its start).
pub async fn end_alert(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: AlertId,
    ends_at: Option<DateTime<Utc>>,
) -> AppResult<MajorAlert> {
    let action = AuditAction::AlertEnd;
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let found = alerts::alert_meta(&mut tx, resident, id).await;
    let meta =
        changeable(&mut tx, action, resident, found, policy::can_record_care_data(scope, &establishments), CHANGE)
            .await?;
    if meta.in_error {
        return Err(AppError::Conflict("This alert was entered in error: it is not in force.".to_owned()));
    }
    if meta.closed {
        return Err(AppError::Conflict("This alert has ended already.".to_owned()));
    }
    let ends_at = check_end(ends_at, meta.starts_at, Utc::now())?;
    Ok(alerts::end_alert(tx, resident, id, ends_at).await?)
}

/// Flags an allergy as entered in error (wrong person, recorded twice): it stays, flagged, with
/// who, when and why, and is no longer in force.
pub async fn flag_allergy(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: AllergyId,
    reason: &str,
) -> AppResult<Allergy> {
    let reason = free_text("reason", reason, 3)?;
    let action = AuditAction::AllergyFlagError;
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let found = alerts::allergy_meta(&mut tx, resident, id).await;
    if changeable(&mut tx, action, resident, found, policy::can_record_care_data(scope, &establishments), CHANGE)
        .await?
        .in_error
    {
        return Err(AppError::Conflict("This allergy is flagged as entered in error already.".to_owned()));
    }
    Ok(alerts::flag_allergy(tx, resident, id, &reason).await?)
}

/// Flags an alert as entered in error: it stays, flagged, with who, when and why.
pub async fn flag_alert(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: AlertId,
    reason: &str,
) -> AppResult<MajorAlert> {
    let reason = free_text("reason", reason, 3)?;
    let action = AuditAction::AlertFlagError;
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let found = alerts::alert_meta(&mut tx, resident, id).await;
    if changeable(&mut tx, action, resident, found, policy::can_record_care_data(scope, &establishments), CHANGE)
        .await?
        .in_error
    {
        return Err(AppError::Conflict("This alert is flagged as entered in error already.".to_owned()));
    }
    Ok(alerts::flag_alert(tx, resident, id, &reason).await?)
}

/// A person's allergies and alerts that the caller may read, the most severe first: those in
/// force, or `all` (resolved, ended and entered in error included, flagged).
pub async fn list(app: &App, scope: &TenantScope, resident: ResidentId, all: bool) -> AppResult<Vec<AlertEntry>> {
    let mut entries = alerts::list(app.db().begin(scope, Mode::Snapshot), resident, all).await?;
    order_alerts(&mut entries);
    Ok(entries)
}
