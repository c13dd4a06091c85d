//! Contacts and consents of a person: who to call, who represents them, what they agreed to or
//! opposed.

use chrono::Utc;
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::policy;
use dui_domain::record::{
    Consent, ConsentDecision, ConsentKind, Contact, ContactChange, ContactDetails, ContactKind, ExpressedBy,
    NewConsent, NewContact, ProtectionMeasure,
};
use dui_domain::scope::TenantScope;
use dui_domain::validation::ValidationErrors;
use dui_domain::{ConsentId, ContactId, ResidentId};
use dui_storage::{Mode, Tx, consents, contacts};

use crate::access::{active, refuse};
use crate::{App, AppResult};

/// A contact to add.
#[derive(Debug, Clone)]
pub struct AddContact {
    pub resident: ResidentId,
    pub kind: ContactKind,
    pub protection_measure: Option<ProtectionMeasure>,
    pub details: ContactDetails,
    pub emergency_contact: bool,
    pub key: Option<IdempotencyKey>,
}

/// A change of a contact.
#[derive(Debug, Clone)]
pub struct ChangeContact {
    pub resident: ResidentId,
    pub contact: ContactId,
    pub expected_version: i32,
    pub details: Option<ContactDetails>,
    pub emergency_contact: Option<bool>,
    /// Ends the contact (it stays in the record's history).
    pub ended: bool,
}

/// A consent or an opposition to record.
#[derive(Debug, Clone)]
pub struct RecordConsent {
    pub resident: ResidentId,
    pub kind: ConsentKind,
    pub decision: ConsentDecision,
    pub expressed_on: Option<chrono::NaiveDate>,
    pub expressed_by: ExpressedBy,
    pub comment: Option<String>,
    pub key: Option<IdempotencyKey>,
}

/// May manage the person's record (contacts, consents): `what` names the refused action.
async fn may_manage(tx: &mut Tx<'_>, resident: ResidentId, action: AuditAction, what: &str) -> AppResult<()> {
    let context = active(tx, resident, action).await?;
    if !policy::can_manage_record(tx.scope()?, &context.establishments) {
        return Err(refuse(tx, action, resident, what).await);
    }
    Ok(())
}

/// A person's contacts, current ones first.
pub async fn list(app: &App, scope: &TenantScope, resident: ResidentId) -> AppResult<Vec<Contact>> {
    Ok(contacts::list(app.db().begin(scope, Mode::Write), resident).await?)
}

/// Adds a contact.
pub async fn add(app: &App, scope: &TenantScope, command: AddContact) -> AppResult<Created<Contact>> {
    let mut tx = app.db().begin(scope, Mode::Write);
    may_manage(&mut tx, command.resident, AuditAction::ContactCreate, "add contacts").await?;
    let new =
        NewContact::validate(command.kind, command.protection_measure, command.details, command.emergency_contact)?;
    Ok(contacts::add(tx, command.key.as_ref(), command.resident, &new).await?)
}

/// Changes a contact's details, or ends it.
pub async fn change(app: &App, scope: &TenantScope, command: ChangeContact) -> AppResult<Contact> {
    let mut tx = app.db().begin(scope, Mode::Write);
    may_manage(&mut tx, command.resident, AuditAction::ContactUpdate, "change contacts").await?;
    let mut errors = ValidationErrors::new();
    let details = command.details.map(|d| d.validate(&mut errors, "details/"));
    let change = errors.into_result(|| ContactChange {
        details,
        emergency_contact: command.emergency_contact,
        end: command.ended,
    })?;
    Ok(contacts::update(tx, command.resident, command.contact, Some(command.expected_version), &change).await?)
}

/// A person's consents and oppositions, newest first.
pub async fn consents(app: &App, scope: &TenantScope, resident: ResidentId) -> AppResult<Vec<Consent>> {
    Ok(consents::list(app.db().begin(scope, Mode::Write), resident).await?)
}

/// Records a consent or an opposition (never edited: a new decision supersedes, or it is
/// revoked).
pub async fn record_consent(app: &App, scope: &TenantScope, command: RecordConsent) -> AppResult<Created<Consent>> {
    let mut tx = app.db().begin(scope, Mode::Write);
    may_manage(&mut tx, command.resident, AuditAction::ConsentCreate, "record consents").await?;
    let new = NewConsent::validate(
        command.kind,
        command.decision,
        command.expressed_on,
        command.expressed_by,
        command.comment.as_deref(),
        Utc::now().date_naive(),
    )?;
    Ok(consents::record(tx, command.key.as_ref(), command.resident, &new).await?)
}

/// Revokes a consent decision.
pub async fn revoke_consent(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    consent: ConsentId,
) -> AppResult<Consent> {
    let mut tx = app.db().begin(scope, Mode::Write);
    may_manage(&mut tx, resident, AuditAction::ConsentRevoke, "revoke consents").await?;
    Ok(consents::revoke(tx, resident, consent).await?)
}
