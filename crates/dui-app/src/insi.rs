//! Identity vigilance with the INSi teleservice: searching a record's INS by its strict traits,
//! and confirming the identity found, which alone puts an INS from the service on a record
//! (RNIV). The service is reached through an [`InsiPort`] that the binary provides (the SOAP
//! client over mutual TLS); the use cases decide what its answers do.

use std::future::Future;
use std::pin::Pin;

use dui_domain::ResidentId;
use dui_domain::audit::AuditAction;
use dui_domain::identity::Ins;
use dui_domain::insi::{InsiOutcome, InsiReply, InsiSearch, confirmed_status, status_after_mismatch};
use dui_domain::policy;
use dui_domain::record::PreviousIdentity;
use dui_domain::resident::Resident;
use dui_domain::scope::TenantScope;
use dui_domain::{TenantId, policy::can_read_identity_vigilance};
use dui_storage::insi_calls::{self, Confirmation, InsiCall, Verification, VigilanceItem};
use dui_storage::{Mode, StoreError, identity};
use uuid::Uuid;

use crate::access::{active, refuse};
use crate::{App, AppError, AppResult};

/// What a call to the service gives back, or why it gave nothing usable (a message that names
/// no trait and no INS).
pub type InsiFuture<'a> = Pin<Box<dyn Future<Output = Result<InsiReply, String>> + Send + 'a>>;

/// What a verification gives back: whether the INS and the traits belong together, or why the
/// service gave nothing usable.
pub type VerifyFuture<'a> = Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>>;

/// The INSi teleservice, as the use cases see it.
pub trait InsiPort: Send + Sync + std::fmt::Debug {
    /// Searches the INS of the person `search` describes, as the structure `tenant` calls as;
    /// `message_id` identifies the call.
    fn retrieve<'a>(&'a self, tenant: TenantId, message_id: Uuid, search: &'a InsiSearch) -> InsiFuture<'a>;

    /// Verifies that `ins` and the traits of `search` belong together.
    fn verify<'a>(
        &'a self,
        tenant: TenantId,
        message_id: Uuid,
        ins: &'a Ins,
        search: &'a InsiSearch,
    ) -> VerifyFuture<'a>;

    /// After how many days an INS the service confirmed is verified again (0: never).
    fn verification_period_days(&self) -> u32;

    /// Whether test and demonstration identities are accepted (a test installation).
    fn accepts_test_identities(&self) -> bool;
}

/// A search of a record's INS.
#[derive(Debug, Clone)]
pub struct Retrieve {
    pub resident: ResidentId,
    /// The given name of birth to search with, when not the first (one of the record's).
    pub first_name: Option<String>,
}

/// A search made: the call as recorded, and, when the service gave nothing usable, why.
#[derive(Debug, Clone)]
pub struct Retrieval {
    pub call: InsiCall,
    pub problem: Option<String>,
}

fn port(app: &App) -> AppResult<&dyn InsiPort> {
    app.insi()
        .ok_or_else(|| AppError::Conflict("The INSi teleservice is not configured on this installation.".to_owned()))
}

/// Before a call to the service about `resident`: the record in the caller's reach, the caller
/// allowed to manage identities there (a refusal is recorded as `action`, to `what`), the
/// service configured; the record's identity as it is now. The transaction ends here, so that
/// the database is not held while the service answers.
async fn before_call<'a>(
    app: &'a App,
    scope: &TenantScope,
    resident: ResidentId,
    action: AuditAction,
    what: &str,
) -> AppResult<(&'a dyn InsiPort, identity::IdentityState)> {
    let mut tx = app.db().begin(scope, Mode::Write);
    let context = active(&mut tx, resident, action).await?;
    if !policy::can_manage_identity(scope, &context.establishments) {
        return Err(refuse(&mut tx, action, resident, what).await);
    }
    let port = port(app)?;
    let state = identity::state(&mut tx, resident).await?;
    tx.commit().await?;
    Ok((port, state))
}

/// Searches the INS of a record with the INSi teleservice, by its strict traits, and records
/// the call with what it found (the identity-vigilance roles where the person is supported).
/// Nothing on the record changes: a professional confirms the identity found ([`confirm`]). The
/// database is not held while the service answers.
pub async fn retrieve(app: &App, scope: &TenantScope, command: Retrieve) -> AppResult<Retrieval> {
    let id = command.resident;
    let (port, state) = before_call(app, scope, id, AuditAction::IdentityInsiRetrieve, "search the INS").await?;
    let search = InsiSearch::of(&state.identity, command.first_name.as_deref())?;
    let message_id = Uuid::now_v7();
    let (outcome, found, problem) = match port.retrieve(scope.tenant_id(), message_id, &search).await {
        Ok(InsiReply::Found(found)) => match found.checked(port.accepts_test_identities()) {
            Ok(found) => (InsiOutcome::Found, Some(found), None),
            Err(why) => (InsiOutcome::Failed, None, Some(why)),
        },
        Ok(InsiReply::NoneFound) => (InsiOutcome::NoneFound, None, None),
        Ok(InsiReply::Several) => (InsiOutcome::Several, None, None),
        Err(why) => (InsiOutcome::Failed, None, Some(why)),
    };
    if let Some(why) = &problem {
        tracing::warn!(%message_id, why, "an INSi search gave no usable answer");
    }
    let call = insi_calls::record(app.db().begin(scope, Mode::Write), id, message_id, outcome, found.as_ref()).await?;
    Ok(Retrieval { call, problem })
}

/// The calls made to the INSi teleservice about a record — searches with what they found, and
/// verifications — oldest first: for whoever sees the record (like its identity history).
pub async fn history(app: &App, scope: &TenantScope, resident: ResidentId) -> AppResult<Vec<InsiCall>> {
    Ok(insi_calls::history(app.db().begin(scope, Mode::Write), resident).await?)
}

/// Confirming the identity a search found.
#[derive(Debug, Clone)]
pub struct Confirm {
    pub resident: ResidentId,
    pub call: Uuid,
    pub expected_version: i32,
}

/// Confirms that the identity a search found is the person's: the record takes the INS and the
/// strict traits of the service (the names used stay), a provisional identity becomes retrieved
/// (RECUP), a validated one qualified (QUAL), and an identity event names the call and keeps the
/// traits replaced. A call confirms once.
pub async fn confirm(app: &App, scope: &TenantScope, command: Confirm) -> AppResult<Resident> {
    let (id, action) = (command.resident, AuditAction::IdentityInsiConfirm);
    let mut tx = app.db().begin(scope, Mode::Write);
    let context = active(&mut tx, id, action).await?;
    if !policy::can_manage_identity(scope, &context.establishments) {
        return Err(refuse(&mut tx, action, id, "confirm an identity").await);
    }
    let call = insi_calls::call_for_update(&mut tx, id, command.call).await?;
    let Some(found) = call.found.as_ref() else {
        return Err(AppError::Conflict(
            "This search found no identity to confirm: search again (see its guidance).".to_owned(),
        ));
    };
    if call.confirmed_at.is_some() {
        return Err(AppError::Conflict("This search was confirmed already.".to_owned()));
    }
    let state = identity::state(&mut tx, id).await?;
    if state.row_version != command.expected_version {
        return Err(StoreError::StaleVersion { current: state.row_version }.into());
    }
    let to_status = confirmed_status(state.status, state.evidence)?;
    let identity = found.applied_to(&state.identity);
    let previous = PreviousIdentity { identity: state.identity.clone(), ins: state.ins.clone() };
    let confirmation = Confirmation {
        call: call.id,
        found,
        identity: &identity,
        from_status: state.status,
        to_status,
        previous: &previous,
    };
    insi_calls::confirm(tx, id, command.expected_version, &confirmation).await.map_err(|error| match error {
        StoreError::Conflict { constraint } if constraint == "residents_ins_unique" => AppError::Conflict(
            "Another record holds this INS: the two may be the same person (see the record's duplicates).".to_owned(),
        ),
        other => other.into(),
    })
}

/// A verification made: the call as recorded, whether it lowered the identity, and, when the
/// service gave nothing usable, why.
#[derive(Debug, Clone)]
pub struct Verified {
    pub call: InsiCall,
    pub lowered: bool,
    pub problem: Option<String>,
}

/// Verifies a record's INS with its strict traits through the INSi teleservice (the
/// identity-vigilance roles where the person is supported; the server's own periodic pass with
/// the console's scope). Only an INS from the service is verified (a retrieved or qualified
/// identity). When the service does not verify them, the INS is withdrawn and the identity
/// lowered — retrieved to provisional, qualified to validated — with an identity event naming
/// the call, and the record enters the identity-vigilance list. The database is not held while
/// the service answers; a record changed meanwhile is not lowered for an INS it no longer holds.
pub async fn verify(app: &App, scope: &TenantScope, resident: ResidentId) -> AppResult<Verified> {
    let (port, state) = before_call(app, scope, resident, AuditAction::IdentityInsiVerify, "verify the INS").await?;
    let (Some(ins), Some(lowered_to)) = (state.ins.clone(), status_after_mismatch(state.status)) else {
        return Err(AppError::Conflict(
            "Only an INS from the service is verified: this identity is neither retrieved nor qualified.".to_owned(),
        ));
    };
    let search = InsiSearch::of(&state.identity, None)?;
    let message_id = Uuid::now_v7();
    let (outcome, problem) = match port.verify(scope.tenant_id(), message_id, &ins, &search).await {
        Ok(true) => (InsiOutcome::Verified, None),
        Ok(false) => (InsiOutcome::Mismatch, None),
        Err(why) => (InsiOutcome::Failed, Some(why)),
    };
    if let Some(why) = &problem {
        tracing::warn!(%message_id, why, "an INSi verification gave no usable answer");
    }
    let previous = PreviousIdentity { identity: state.identity.clone(), ins: state.ins.clone() };
    let verification = Verification {
        id: message_id,
        outcome,
        ins: &ins,
        from_status: state.status,
        to_status: lowered_to,
        previous: &previous,
    };
    let (call, lowered) =
        insi_calls::record_verification(app.db().begin(scope, Mode::Write), resident, &verification).await?;
    if lowered {
        tracing::warn!(%message_id, resident = %resident, "INSi did not verify a record's INS: identity lowered");
    }
    Ok(Verified { call, lowered, problem })
}

/// The identity-vigilance list: the records the caller sees that need the identity-vigilance
/// team — an INS the service did not verify, a search that found an INS another record holds,
/// a retrieved identity waiting for its document, an INS due for verification. For the
/// identity-vigilance referent, the tenant's administrators and directors; each record listed
/// is recorded as read.
pub async fn vigilance(app: &App, scope: &TenantScope) -> AppResult<Vec<VigilanceItem>> {
    if !can_read_identity_vigilance(scope) {
        return Err(AppError::Forbidden(
            "Only identity vigilance, administrators and directors read this list.".to_owned(),
        ));
    }
    let days = app.insi().map_or(0, |port| port.verification_period_days());
    Ok(insi_calls::vigilance(app.db().begin(scope, Mode::Write), i32::try_from(days).unwrap_or(i32::MAX)).await?)
}

/// The server's periodic pass: verifies again, for `tenant`, at most `limit` INS the service has
/// not confirmed for the installation's period, longest unchecked first; a record tried fails
/// alone. Returns how many calls were made and how many lowered an identity. Nothing to do
/// without INSi or without a period.
pub async fn verify_due(app: &App, tenant: TenantId, limit: i64) -> AppResult<(u64, u64)> {
    let Some(days) = app.insi().map(|port| port.verification_period_days()).filter(|days| *days > 0) else {
        return Ok((0, 0));
    };
    let due = app.db().insi_verifications_due(tenant, i32::try_from(days).unwrap_or(i32::MAX), limit).await?;
    let scope = TenantScope::console(tenant);
    let (mut made, mut lowered) = (0, 0);
    for resident in due {
        match verify(app, &scope, resident).await {
            Ok(done) => {
                made += 1;
                lowered += u64::from(done.lowered);
            }
            Err(error) => tracing::warn!(%error, %resident, "a periodic INSi verification could not be made"),
        }
    }
    Ok((made, lowered))
}
