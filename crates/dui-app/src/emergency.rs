//! Emergency openings ("bris de glace"): a professional outside the team opens a record with a
//! written reason, for a limited time; directors review the openings.

use dui_domain::audit::AuditAction;
use dui_domain::emergency::EmergencyReview;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::policy;
use dui_domain::record::{EmergencyAccess, ReviewOutcome, free_text};
use dui_domain::scope::TenantScope;
use dui_domain::{EmergencyAccessId, ResidentId};
use dui_storage::{Mode, StoreError, emergency};

use crate::{App, AppError, AppResult};

/// Opens a record outside the caller's reach, for the configured time, with a written reason.
pub async fn open(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    reason: &str,
    key: Option<IdempotencyKey>,
) -> AppResult<Created<EmergencyAccess>> {
    let reason = free_text("reason", reason, 10)?;
    if scope.grants().is_empty() {
        return Err(AppError::Forbidden("Only a professional of the organisation may open a record.".to_owned()));
    }
    let minutes = app.config().emergency_access_minutes;
    let tx = app.db().begin(scope, Mode::Write);
    match emergency::open(tx, key.as_ref(), resident, &reason, minutes).await {
        Err(StoreError::NotFound) => {
            let mut tx = app.db().begin(scope, Mode::Write);
            dui_storage::access::deny(&mut tx, AuditAction::EmergencyAccessOpen, resident).await?;
            Err(AppError::NotFound)
        }
        opened => Ok(opened?),
    }
}

fn may_review(scope: &TenantScope) -> AppResult<()> {
    let reach = policy::oversight_reach(scope);
    if !reach.all && reach.establishments.is_empty() {
        return Err(AppError::Forbidden("Reviewing emergency openings is for directors.".to_owned()));
    }
    Ok(())
}

/// Emergency openings of the records of the people of the caller's establishments (directors;
/// all for tenant administrators), most recent first.
pub async fn list(app: &App, scope: &TenantScope, pending: bool) -> AppResult<Vec<EmergencyReview>> {
    may_review(scope)?;
    Ok(emergency::list(app.db().begin(scope, Mode::Write), pending).await?)
}

/// Records the review of an emergency opening (not by the person who opened it).
pub async fn review(
    app: &App,
    scope: &TenantScope,
    id: EmergencyAccessId,
    outcome: ReviewOutcome,
    comment: &str,
) -> AppResult<EmergencyAccess> {
    may_review(scope)?;
    let comment = free_text("comment", comment, 1)?;
    match emergency::review(app.db().begin(scope, Mode::Write), id, outcome, &comment).await {
        Err(StoreError::NotFound) => {
            Err(match emergency::review_state(app.db().begin(scope, Mode::Read), id).await? {
                Some((true, _)) => AppError::Forbidden(
                    "An emergency opening is reviewed by someone else than who opened it.".to_owned(),
                ),
                Some((false, true)) => AppError::Conflict("This emergency opening was reviewed already.".to_owned()),
                _ => AppError::NotFound,
            })
        }
        reviewed => Ok(reviewed?),
    }
}
