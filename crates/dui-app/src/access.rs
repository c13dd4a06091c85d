//! The decisions every use case on a resident's record starts with: is the record in the
//! caller's reach (absent otherwise, and the refusal recorded), is it still active, and where
//! does the caller act for the person when weighing their roles.

use dui_domain::audit::AuditAction;
use dui_domain::resident::RecordStatus;
use dui_domain::scope::TenantScope;
use dui_domain::{EstablishmentId, ResidentId};
use dui_storage::access::{deny, record_context};
use dui_storage::{RecordContext, StoreError, Tx};

use crate::{AppError, AppResult};

/// The record's context for `action`: `NotFound` (the refusal recorded) when out of reach.
pub(crate) async fn context(tx: &mut Tx<'_>, resident: ResidentId, action: AuditAction) -> AppResult<RecordContext> {
    Ok(record_context(tx, resident, action).await?)
}

/// The context of an active record: a merged duplicate takes no more changes.
pub(crate) async fn active(tx: &mut Tx<'_>, resident: ResidentId, action: AuditAction) -> AppResult<RecordContext> {
    let context = context(tx, resident, action).await?;
    if context.record_status != RecordStatus::Active {
        return Err(AppError::Conflict("This record was merged into another: see merged_into.".to_owned()));
    }
    Ok(context)
}

/// Where the caller acts for this person, for the role checks: the establishments where the
/// person is supported, or, through an emergency opening, wherever the caller holds roles.
pub(crate) fn acting_establishments(scope: &TenantScope, context: &RecordContext) -> Vec<EstablishmentId> {
    if context.emergency {
        scope.grants().iter().filter_map(|g| g.establishment).collect()
    } else {
        context.establishments.clone()
    }
}

/// The context of an active record and where the caller acts for the person.
pub(crate) async fn acting(
    tx: &mut Tx<'_>,
    resident: ResidentId,
    action: AuditAction,
) -> AppResult<Vec<EstablishmentId>> {
    let context = active(tx, resident, action).await?;
    Ok(acting_establishments(tx.scope()?, &context))
}

/// Refuses an action the caller's roles do not allow on a record they see: the refusal is
/// recorded (and committed), and the answer says what was refused.
pub(crate) async fn refuse(tx: &mut Tx<'_>, action: AuditAction, resident: ResidentId, what: &str) -> AppError {
    match deny(tx, action, resident).await {
        Ok(()) => AppError::Forbidden(format!("Your roles do not allow you to {what} for this person.")),
        Err(error) => error.into(),
    }
}

/// The entry an operation is about, as the store found it: out of reach (`NotFound`), it is
/// absent and the refusal is recorded.
pub(crate) async fn found<T>(
    tx: &mut Tx<'_>,
    action: AuditAction,
    resident: ResidentId,
    found: Result<T, StoreError>,
) -> AppResult<T> {
    match found {
        Ok(entry) => Ok(entry),
        Err(StoreError::NotFound) => {
            deny(tx, action, resident).await?;
            Err(AppError::NotFound)
        }
        Err(other) => Err(other.into()),
    }
}

/// The entry a change is about ([`found`]: absent, the refusal recorded, unless the caller
/// reads it), if the caller `may` change it (refused otherwise, saying they may not `what`). The
/// entry is looked for first, so that an entry out of reach is absent whoever asks.
pub(crate) async fn changeable<T>(
    tx: &mut Tx<'_>,
    action: AuditAction,
    resident: ResidentId,
    entry: Result<T, StoreError>,
    may: bool,
    what: &str,
) -> AppResult<T> {
    let entry = found(tx, action, resident, entry).await?;
    if !may {
        return Err(refuse(tx, action, resident, what).await);
    }
    Ok(entry)
}

/// May record the care team's data about the person (measurements, wounds, diets, watches): those
/// who assess and read the care team's notes where the person is supported. A refusal is
/// recorded.
pub(crate) async fn may_record_care(tx: &mut Tx<'_>, resident: ResidentId, action: AuditAction) -> AppResult<()> {
    let establishments = acting(tx, resident, action).await?;
    if !care_recorder(tx.scope()?, &establishments) {
        return Err(refuse(tx, action, resident, "record care data").await);
    }
    Ok(())
}

/// Whether the caller records the care team's data where they act for the person.
pub(crate) fn care_recorder(scope: &TenantScope, establishments: &[EstablishmentId]) -> bool {
    dui_domain::policy::can_record_care_data(scope, establishments)
}
