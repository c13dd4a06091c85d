//! The record of a person: admission, identity (traits, INS, status), the record's reads, lists
//! and searches, duplicates and merges, and what the GDPR gives the person (the whole record,
//! who accessed it).

use chrono::{NaiveDate, Utc};
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::policy;
use dui_domain::record::{
    AdmissionMode, IdentityDocument, IdentityFacts, NewStay, PreviousIdentity, StatusChange, StayMode,
};
use dui_domain::resident::{
    Identity, IdentityStatus, Ins, Likeness, NewResident, Resident, ResidentLookup, ResidentSummary, checked_ins,
    duplicate_probes,
};
use dui_domain::scope::TenantScope;
use dui_domain::validation::ValidationErrors;
use dui_domain::{EstablishmentId, ResidentId, UnitId};
use dui_storage::identity::{self, IdentityEvent};
pub use dui_storage::residents::ResidentFilter;
use dui_storage::residents::{self, IdentityCorrection};
use dui_storage::{Mode, Reading, StoreError, merge, resident_export, summary};

use crate::access::{active, context, refuse};
use crate::{App, AppError, AppResult};

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// A person to admit: their record and its first stay.
#[derive(Debug, Clone)]
pub struct Admit {
    pub establishment: EstablishmentId,
    pub unit: Option<UnitId>,
    /// Default: permanent.
    pub mode: Option<StayMode>,
    /// Default: today.
    pub admitted_on: Option<NaiveDate>,
    pub identity: Identity,
    pub ins: Option<Ins>,
    /// Create even though a record with the same birth name and birth date exists.
    pub confirm_homonym: bool,
    pub key: Option<IdempotencyKey>,
}

/// A change of identity status, with its evidence.
#[derive(Debug, Clone)]
pub struct ChangeStatus {
    pub resident: ResidentId,
    pub expected_version: i32,
    pub to: IdentityStatus,
    pub document: Option<IdentityDocument>,
    pub reason: Option<String>,
}

/// Admits a person: creates their record with a first stay. A record with the same INS, or the
/// same birth name and birth date, is a possible duplicate, named in the error.
pub async fn admit(app: &App, scope: &TenantScope, command: Admit) -> AppResult<Created<Resident>> {
    let establishment = command.establishment;
    if !policy::can_admit_residents(scope, establishment) {
        crate::structure::get_establishment(app, scope, establishment).await?;
        return Err(AppError::Forbidden("Your roles do not allow you to admit people here.".to_owned()));
    }
    let stay = NewStay::validate(
        establishment,
        command.unit,
        command.mode.unwrap_or(StayMode::Permanent),
        command.admitted_on.unwrap_or_else(today),
        AdmissionMode::New,
        today(),
    )?;
    let new = NewResident::validate(stay, command.identity, command.ins, today())?;
    let tx = app.db().begin(scope, Mode::Write);
    let stay = &new.stay;
    let event = dui_domain::handover::admission(stay.mode, stay.admission_mode, stay.admitted_on, chrono::Utc::now());
    Ok(residents::create(tx, command.key.as_ref(), &new, command.confirm_homonym, Some(&event)).await?)
}

/// The residents the caller supports, narrowed by `filter`; each one listed is recorded as read.
pub async fn list(
    app: &App,
    scope: &TenantScope,
    filter: ResidentFilter,
    page: PageRequest,
) -> AppResult<Page<Resident>> {
    Ok(residents::list(app.db().begin(scope, Mode::Write), filter, page).await?)
}

/// A resident's record.
pub async fn get(app: &App, scope: &TenantScope, id: ResidentId) -> AppResult<Resident> {
    let tx = app.db().begin(scope, Mode::Write);
    Ok(residents::read(tx, id, Reading::Recorded(AuditAction::ResidentRead)).await?)
}

/// The first screen of a record: identity and current stay, the latest GIR the caller may see,
/// the plan in force and the latest notes the caller may read. Recorded as one reading.
pub async fn summary(app: &App, scope: &TenantScope, id: ResidentId, notes: u32) -> AppResult<ResidentSummary> {
    if i64::from(notes) > summary::MAX_SUMMARY_NOTES {
        return Err(AppError::invalid("notes", "must be between 0 and 20"));
    }
    Ok(summary::summary(app.db().begin(scope, Mode::Snapshot), id, i64::from(notes)).await?)
}

/// Finds residents by INS, or by birth name and birth date, through the blind indexes.
pub async fn search(app: &App, scope: &TenantScope, lookup: ResidentLookup) -> AppResult<Vec<Resident>> {
    // What no record can hold is refused, not searched for (a name has at most 100 characters,
    // as at admission; a matricule 15, written with spaces at most twice that).
    match &lookup {
        ResidentLookup::BirthIdentity { birth_name, .. } if birth_name.chars().count() > 100 => {
            return Err(AppError::invalid("birth_name", "has at most 100 characters"));
        }
        ResidentLookup::Ins(ins) if ins.chars().count() > 30 => {
            return Err(AppError::invalid("ins", "is a matricule of 15 characters"));
        }
        _ => {}
    }
    Ok(residents::search(app.db().begin(scope, Mode::Write), &lookup).await?)
}

/// Corrects an identity's traits and INS. The names used may change at any status; a strict
/// trait or the INS of a validated or qualified identity is not edited by hand (it goes back to
/// provisional first, with a reason); correcting them on a retrieved identity sends it back to
/// provisional, since what INSi returned no longer stands.
pub async fn correct_identity(
    app: &App,
    scope: &TenantScope,
    id: ResidentId,
    expected_version: i32,
    identity: Identity,
    ins: Option<Ins>,
) -> AppResult<Resident> {
    let action = AuditAction::ResidentUpdate;
    let mut tx = app.db().begin(scope, Mode::Write);
    let context = active(&mut tx, id, action).await?;
    if !policy::can_manage_identity(scope, &context.establishments) {
        return Err(refuse(&mut tx, action, id, "correct the identity").await);
    }
    let mut errors = ValidationErrors::new();
    let identity = identity.validate(today(), &mut errors, "identity/");
    let ins = ins.and_then(|ins| checked_ins(ins, &identity, &mut errors, "ins/"));
    errors.into_result(|| ())?;
    let state = identity::state(&mut tx, id).await?;
    if state.row_version != expected_version {
        return Err(StoreError::StaleVersion { current: state.row_version }.into());
    }
    let strict_changed = state.identity.strict_traits_differ(&identity) || state.ins != ins;
    let back_to_provisional = match state.status {
        IdentityStatus::Validated | IdentityStatus::Qualified if strict_changed => {
            return Err(AppError::invalid(
                "identity",
                "the traits of a validated or qualified identity are not edited: set it back to provisional \
                 first, with a reason (the names used may change)",
            ));
        }
        IdentityStatus::Retrieved if strict_changed => {
            Some("traits or INS corrected by hand: to be retrieved again with INSi".to_owned())
        }
        _ => None,
    };
    let changed = state.identity != identity || state.ins != ins;
    let previous = changed.then_some(PreviousIdentity { identity: state.identity, ins: state.ins });
    let correction = IdentityCorrection { identity, ins, from_status: state.status, back_to_provisional, previous };
    Ok(residents::correct_identity(tx, id, expected_version, &correction).await?)
}

/// The history of the identity status, with its evidence.
pub async fn identity_events(app: &App, scope: &TenantScope, id: ResidentId) -> AppResult<Vec<IdentityEvent>> {
    Ok(identity::events(app.db().begin(scope, Mode::Write), id).await?)
}

/// Changes the identity status (RNIV), with its evidence.
pub async fn change_status(app: &App, scope: &TenantScope, command: ChangeStatus) -> AppResult<Resident> {
    let (id, action) = (command.resident, AuditAction::IdentityChangeStatus);
    let mut tx = app.db().begin(scope, Mode::Write);
    let context = active(&mut tx, id, action).await?;
    if !policy::can_manage_identity(scope, &context.establishments) {
        return Err(refuse(&mut tx, action, id, "change the identity status").await);
    }
    let state = identity::state(&mut tx, id).await?;
    if state.row_version != command.expected_version {
        return Err(StoreError::StaleVersion { current: state.row_version }.into());
    }
    let facts = IdentityFacts {
        status: state.status,
        evidence: state.evidence,
        ins: state.ins.as_ref(),
        identity: &state.identity,
    };
    let change = StatusChange::validate(
        facts,
        command.to,
        command.document,
        // An INS from the service comes only through a confirmed search (`insi::confirm`).
        false,
        command.reason.as_deref(),
        today(),
    )?;
    // What the change replaces is kept only when it withdraws the INS.
    let previous =
        change.withdraws_ins().then(|| PreviousIdentity { identity: state.identity.clone(), ins: state.ins.clone() });
    Ok(identity::change_status(tx, id, command.expected_version, &change, previous.as_ref()).await?)
}

/// Other active records that may be the same person, closest first: the same INS, the same
/// birth name and date, or a usual slip (a near birth date, names swapped, the used name typed
/// as the birth name), found through the blind index without opening any record.
pub async fn duplicates(app: &App, scope: &TenantScope, id: ResidentId) -> AppResult<Vec<(ResidentId, Likeness)>> {
    let mut tx = app.db().begin(scope, Mode::Write);
    let record = residents::read_within(&mut tx, id, Reading::Recorded(AuditAction::ResidentDuplicates)).await?;
    let probes = duplicate_probes(&record.identity, today());
    let found = residents::duplicate_candidates(&mut tx, &probes, record.ins.as_ref(), Some(id)).await?;
    tx.commit().await?;
    Ok(found)
}

/// Merges a duplicate record into this one, saying why; the duplicate stays, marked merged,
/// pointing here, and the record kept has an identity event of the merge.
pub async fn merge(
    app: &App,
    scope: &TenantScope,
    survivor: ResidentId,
    duplicate: ResidentId,
    reason: &str,
) -> AppResult<Resident> {
    let action = AuditAction::ResidentMerge;
    let reason = dui_domain::record::free_text("reason", reason, 1)?;
    let mut tx = app.db().begin(scope, Mode::Write);
    let kept = active(&mut tx, survivor, action).await?;
    let merged = active(&mut tx, duplicate, action).await?;
    if !policy::can_merge_records(scope, &kept.establishments)
        || !policy::can_merge_records(scope, &merged.establishments)
    {
        return Err(refuse(&mut tx, action, survivor, "merge records").await);
    }
    Ok(merge::merge(tx, survivor, duplicate, &reason).await?)
}

/// Undoes a mistaken merge of `duplicate` into this record, saying why: the identity-vigilance
/// referent where the record kept is supported.
pub async fn unmerge(
    app: &App,
    scope: &TenantScope,
    survivor: ResidentId,
    duplicate: ResidentId,
    reason: &str,
) -> AppResult<Resident> {
    let action = AuditAction::ResidentUnmerge;
    let reason = dui_domain::record::free_text("reason", reason, 1)?;
    let mut tx = app.db().begin(scope, Mode::Write);
    let kept = active(&mut tx, survivor, action).await?;
    if !policy::can_merge_records(scope, &kept.establishments) {
        return Err(refuse(&mut tx, action, survivor, "undo merges").await);
    }
    Ok(merge::unmerge(tx, survivor, duplicate, &reason).await?)
}

/// The whole record of the person, opened (GDPR right of access), recorded before anything is
/// read. Directors of the person's establishments and tenant administrators.
pub async fn export(app: &App, scope: &TenantScope, id: ResidentId) -> AppResult<serde_json::Value> {
    let action = AuditAction::ResidentExport;
    let mut tx = app.db().begin(scope, Mode::Snapshot);
    let context = context(&mut tx, id, action).await?;
    if !policy::can_oversee_records(scope, &context.establishments) {
        return Err(refuse(&mut tx, action, id, "export the record").await);
    }
    let record = resident_export::export(tx, id).await?;
    Ok(serde_json::json!({
        "format": "dui-resident-export",
        "version": 1,
        "exported_at": Utc::now(),
        "record": record,
    }))
}
