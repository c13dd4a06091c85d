//! Residents' records: identity, stays, contacts, consents, identity status, notes, emergency
//! access, duplicates, and what the GDPR gives the person (access report, export).
//!
//! Who sees a record follows the person's stays (see `dui_storage::access`); a record outside
//! the caller's reach is absent (404), and the refusal is recorded. Within reach, the roles decide
//! what the caller may change (`dui_domain::policy`); a refusal there is a 403, recorded too.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use dui_domain::idempotency::Created;
use dui_domain::record::{
    AdmissionMode, Consent, ConsentDecision, ConsentKind, Contact, ContactChange, ContactDetails, ContactKind,
    DischargeMode, EmergencyAccess, ExpressedBy, IdentityDocument, NewConsent, NewContact, NewStay, ProtectionMeasure,
    ReviewOutcome, StatusChange, Stay, StayMode, free_text, validate_discharge,
};
use dui_domain::resident::{Identity, IdentityStatus, Ins, NewResident, Resident, ResidentLookup, matricule};
use dui_domain::scope::TenantScope;
use dui_domain::validation::ValidationErrors;
use dui_domain::{
    ConsentId, ContactId, EmergencyAccessId, EstablishmentId, ResidentId, StayId, UnitId, UserId, policy,
};
use dui_storage::audit::AccessEntry;
use dui_storage::record::{IdentityCorrection, StayChange};
use dui_storage::{ResidentContext, ResidentFilter, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::TenantAuth;
use crate::extract::{CreateRequest, IdempotencyHeader, IfMatch, IfMatchHeader, Json, Path, Query, created, with_etag};
use crate::pagination::{ListParams, PageBody};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub type ResidentPage = PageBody<Resident>;

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// Refuses (403) an action the caller's roles do not allow on a record they see, and records the
/// refusal.
pub(crate) async fn refuse(
    state: &AppState,
    scope: &TenantScope,
    action: &str,
    resident: ResidentId,
    what: &str,
) -> ApiError {
    if let Err(error) = state.db().record_denial(scope, action, resident).await {
        return error.into();
    }
    ApiError::Forbidden(format!("Your roles do not allow you to {what} for this person."))
}

/// The record's context, checking that it is visible (404 otherwise) and still active.
pub(crate) async fn context(
    state: &AppState,
    scope: &TenantScope,
    resident: ResidentId,
    action: &str,
) -> Result<ResidentContext, ApiError> {
    let context = state.db().resident_context(scope, resident, action).await?;
    if context.record_status != dui_domain::resident::RecordStatus::Active {
        return Err(ApiError::Conflict("This record was merged into another: see merged_into.".to_owned()));
    }
    Ok(context)
}

/// Where the caller acts for this person, for the role checks: the establishments where the
/// person is supported, or, through an emergency opening, wherever the caller holds roles.
pub(crate) async fn acting_establishments(
    state: &AppState,
    scope: &TenantScope,
    resident: ResidentId,
    action: &str,
) -> Result<Vec<EstablishmentId>, ApiError> {
    let context = context(state, scope, resident, action).await?;
    Ok(if context.emergency {
        scope.grants().iter().filter_map(|g| g.establishment).collect()
    } else {
        context.establishments
    })
}

// ----------------------------------------------------------------------------------------------
// The record
// ----------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateResident {
    /// The establishment or service admitting the person.
    pub establishment_id: EstablishmentId,
    pub unit_id: Option<UnitId>,
    /// Default: permanent.
    pub mode: Option<StayMode>,
    /// Default: today.
    pub admitted_on: Option<NaiveDate>,
    pub identity: Identity,
    /// The INS, when it was retrieved from the INSi service.
    pub ins: Option<Ins>,
    /// Create even though a record with the same birth name and birth date exists (a homonym).
    /// A record with the same INS is never duplicated.
    #[serde(default)]
    pub confirm_homonym: bool,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResidentListParams {
    /// Only residents with a stay in this establishment...
    pub establishment_id: Option<EstablishmentId>,
    /// ... or in this unit.
    pub unit_id: Option<UnitId>,
    /// Only residents with (`true`) or without (`false`) a stay in progress.
    pub current: Option<bool>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Admits a person: creates their record with a first stay. A record with the same INS, or the
/// same birth name and birth date, is a 409 naming the existing records (`duplicates`).
#[utoipa::path(post, path = "/residents", tag = "residents", params(IdempotencyHeader), request_body = CreateResident,
    responses((status = 201, body = Resident), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_resident(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    CreateRequest { body, key }: CreateRequest<CreateResident>,
) -> Result<Response, ApiError> {
    let establishment = body.establishment_id;
    if !policy::can_admit_residents(&scope, establishment) {
        state.db().get_establishment(&scope, establishment).await?;
        return Err(ApiError::Forbidden("Your roles do not allow you to admit people here.".to_owned()));
    }
    let stay = NewStay::validate(
        establishment,
        body.unit_id,
        body.mode.unwrap_or(StayMode::Permanent),
        body.admitted_on.unwrap_or_else(today),
        AdmissionMode::New,
        today(),
    )?;
    let new = NewResident::validate(stay, body.identity, body.ins, today())?;
    Ok(created(state.db().create_resident(&scope, key.as_ref(), &new, body.confirm_homonym).await?))
}

/// The residents you support (every establishment for tenant-wide roles; home help: the people
/// you are assigned to). Each one listed is recorded as read.
#[utoipa::path(get, path = "/residents", tag = "residents", params(ResidentListParams),
    responses((status = 200, body = ResidentPage), (status = 400, body = Problem)))]
pub async fn list_residents(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Query(params): Query<ResidentListParams>,
) -> Result<Json<ResidentPage>, ApiError> {
    let page = ListParams { cursor: params.cursor, limit: params.limit }.page()?;
    let filter =
        ResidentFilter { establishment: params.establishment_id, unit: params.unit_id, current: params.current };
    Ok(Json(state.db().list_residents(&scope, filter, page).await?.into()))
}

/// A resident's record. Its `ETag` is what an update sends back as `If-Match`.
#[utoipa::path(get, path = "/residents/{resident_id}", tag = "residents", params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Resident), (status = 404, body = Problem)))]
pub async fn get_resident(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
) -> Result<Response, ApiError> {
    let resident = state.db().get_resident(&scope, id).await?;
    let version = resident.row_version;
    Ok(with_etag(StatusCode::OK, resident, version))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryParams {
    /// How many of the latest notes to include (default 5).
    #[param(minimum = 0, maximum = 20)]
    pub notes: Option<u32>,
}

/// The first screen of a record in one call: identity and current stay, the latest GIR you
/// may see, the projet personnalisé in force, and the latest notes you may read (not those
/// entered in error). Recorded as one read of the record.
#[utoipa::path(get, path = "/residents/{resident_id}/summary", tag = "residents",
    params(("resident_id" = ResidentId, Path), SummaryParams),
    responses((status = 200, body = dui_domain::resident::ResidentSummary), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
pub async fn resident_summary(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
    Query(params): Query<SummaryParams>,
) -> Result<Json<dui_domain::resident::ResidentSummary>, ApiError> {
    let notes = params.notes.unwrap_or(5);
    if i64::from(notes) > dui_storage::summary::MAX_SUMMARY_NOTES {
        return Err(ValidationErrors::single("notes", "must be between 0 and 20").into());
    }
    Ok(Json(state.db().resident_summary(&scope, id, i64::from(notes)).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectIdentity {
    pub identity: Identity,
    /// The INS (absent: the record has none).
    pub ins: Option<Ins>,
}

/// Corrects a provisional or retrieved identity (traits and INS). A validated or qualified
/// identity is not edited: set it back to provisional first, with a reason.
#[utoipa::path(patch, path = "/residents/{resident_id}", tag = "residents",
    params(("resident_id" = ResidentId, Path), IfMatchHeader), request_body = CorrectIdentity,
    responses((status = 200, body = Resident), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn correct_identity(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
    IfMatch(version): IfMatch,
    Json(body): Json<CorrectIdentity>,
) -> Result<Response, ApiError> {
    let context = context(&state, &scope, id, "resident.update").await?;
    if !policy::can_manage_identity(&scope, &context.establishments) {
        return Err(refuse(&state, &scope, "resident.update", id, "correct the identity").await);
    }
    let mut errors = ValidationErrors::new();
    let identity = body.identity.validate(today(), &mut errors, "identity/");
    let ins = match body.ins {
        Some(ins) => {
            errors.check("ins/matricule", matricule(&ins.matricule)).map(|matricule| Ins { matricule, oid: ins.oid })
        }
        None => None,
    };
    let correction = errors.into_result(|| IdentityCorrection { identity, ins })?;
    let (status, _, _, _) = state.db().identity_evidence(&scope, id).await?;
    if matches!(status, IdentityStatus::Validated | IdentityStatus::Qualified) {
        return Err(ValidationErrors::single(
            "identity",
            "a validated or qualified identity is not edited: set it back to provisional first, with a reason",
        )
        .into());
    }
    let resident = state.db().correct_identity(&scope, id, version, &correction).await?;
    let version = resident.row_version;
    Ok(with_etag(StatusCode::OK, resident, version))
}

/// Either an INS, or a birth name and a birth date.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchResidents {
    pub ins: Option<String>,
    pub birth_name: Option<String>,
    pub birth_date: Option<NaiveDate>,
}

/// Finds residents by INS, or by birth name and birth date (spelling variants of the name —
/// accents, case, hyphens — match), without ever reading the records in clear: the search goes
/// through blind indexes. A POST, so that identities never appear in URLs.
#[utoipa::path(post, path = "/residents/search", tag = "residents", request_body = SearchResidents,
    responses((status = 200, body = Vec<Resident>), (status = 422, body = Problem)))]
pub async fn search_residents(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Json(body): Json<SearchResidents>,
) -> Result<Json<Vec<Resident>>, ApiError> {
    let lookup = match (body.ins, body.birth_name, body.birth_date) {
        (Some(ins), None, None) => ResidentLookup::Ins(ins),
        (None, Some(birth_name), Some(birth_date)) if !birth_name.trim().is_empty() => {
            ResidentLookup::BirthIdentity { birth_name, birth_date }
        }
        _ => return Err(ValidationErrors::single("ins", "give either ins, or birth_name and birth_date").into()),
    };
    Ok(Json(state.db().find_residents(&scope, &lookup).await?))
}

// ----------------------------------------------------------------------------------------------
// Identity status
// ----------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeIdentityStatus {
    pub to_status: IdentityStatus,
    /// The identity document checked now, if one was.
    pub document: Option<IdentityDocument>,
    /// Whether the INS was fetched or verified with the INSi service now.
    #[serde(default)]
    pub insi_lookup: bool,
    /// Why (required to go back to provisional).
    pub reason: Option<String>,
}

/// The history of the identity status, with its evidence.
#[utoipa::path(get, path = "/residents/{resident_id}/identity-events", tag = "residents",
    params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Vec<Object>), (status = 404, body = Problem)))]
pub async fn list_identity_events(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
) -> Result<Response, ApiError> {
    Ok(axum::Json(state.db().list_identity_events(&scope, id).await?).into_response())
}

/// Changes the identity status (RNIV): RECUP needs an INSi look-up and an INS, VALI an identity
/// document, QUAL both; going back to PROV needs a reason. Never a silent overwrite: each change
/// is an event with who, when and the evidence.
#[utoipa::path(post, path = "/residents/{resident_id}/identity-status", tag = "residents",
    params(("resident_id" = ResidentId, Path), IfMatchHeader), request_body = ChangeIdentityStatus,
    responses((status = 200, body = Resident), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn change_identity_status(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
    IfMatch(version): IfMatch,
    Json(body): Json<ChangeIdentityStatus>,
) -> Result<Response, ApiError> {
    let context = context(&state, &scope, id, "identity.change_status").await?;
    if !policy::can_manage_identity(&scope, &context.establishments) {
        return Err(refuse(&state, &scope, "identity.change_status", id, "change the identity status").await);
    }
    let (from, earlier, ins, current) = state.db().identity_evidence(&scope, id).await?;
    if current != version {
        return Err(dui_storage::StoreError::StaleVersion { current }.into());
    }
    let change = StatusChange::validate(
        from,
        body.to_status,
        earlier,
        body.document,
        body.insi_lookup,
        ins.as_ref(),
        body.reason.as_deref(),
    )?;
    let resident = state.db().change_identity_status(&scope, id, version, &change).await?;
    let version = resident.row_version;
    Ok(with_etag(StatusCode::OK, resident, version))
}

// ----------------------------------------------------------------------------------------------
// Stays and assignments
// ----------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStay {
    pub establishment_id: EstablishmentId,
    pub unit_id: Option<UnitId>,
    pub mode: StayMode,
    pub admitted_on: NaiveDate,
    /// Default: `return`, or `transfer` with `transferred_from`.
    pub admission_mode: Option<AdmissionMode>,
    /// A transfer: the current stay it continues (closed the day of the admission).
    pub transferred_from: Option<StayId>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeStay {
    pub discharged_on: Option<NaiveDate>,
    pub discharge_mode: Option<DischargeMode>,
    /// Move to another unit of the same establishment (null: none).
    #[serde(default, deserialize_with = "crate::extract::nullable")]
    #[schema(value_type = Option<UnitId>)]
    pub unit_id: Option<Option<UnitId>>,
}

#[utoipa::path(get, path = "/residents/{resident_id}/stays", tag = "residents", params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Vec<Stay>), (status = 404, body = Problem)))]
pub async fn list_stays(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
) -> Result<Json<Vec<Stay>>, ApiError> {
    Ok(Json(state.db().list_stays(&scope, id).await?))
}

/// Admits a known person into a new stay; with `transferred_from`, a transfer between
/// establishments of the organisation (the previous stay closes the same day).
#[utoipa::path(post, path = "/residents/{resident_id}/stays", tag = "residents",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateStay,
    responses((status = 201, body = Stay), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_stay(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateStay>,
) -> Result<Response, ApiError> {
    let context = context(&state, &scope, id, "stay.create").await?;
    let allowed = policy::can_admit_residents(&scope, body.establishment_id)
        && (body.transferred_from.is_none() || policy::can_manage_record(&scope, &context.establishments));
    if !allowed {
        return Err(refuse(&state, &scope, "stay.create", id, "admit this person there").await);
    }
    let mode = body.admission_mode.unwrap_or(if body.transferred_from.is_some() {
        AdmissionMode::Transfer
    } else {
        AdmissionMode::Return
    });
    let new = NewStay::validate(body.establishment_id, body.unit_id, body.mode, body.admitted_on, mode, today())?;
    Ok(created(state.db().admit(&scope, key.as_ref(), id, &new, body.transferred_from).await?))
}

/// Discharges (date and mode) or moves a stay to another unit.
#[utoipa::path(patch, path = "/residents/{resident_id}/stays/{stay_id}", tag = "residents",
    params(("resident_id" = ResidentId, Path), ("stay_id" = StayId, Path), IfMatchHeader), request_body = ChangeStay,
    responses((status = 200, body = Stay), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn change_stay(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((id, stay_id)): Path<(ResidentId, StayId)>,
    IfMatch(version): IfMatch,
    Json(body): Json<ChangeStay>,
) -> Result<Response, ApiError> {
    let context = context(&state, &scope, id, "stay.update").await?;
    if !policy::can_manage_record(&scope, &context.establishments) {
        return Err(refuse(&state, &scope, "stay.update", id, "change stays").await);
    }
    let change = match (body.discharged_on, body.discharge_mode, body.unit_id) {
        (Some(on), Some(mode), None) => {
            let stays = state.db().list_stays(&scope, id).await?;
            let stay = stays.iter().find(|s| s.id == stay_id).ok_or(ApiError::NotFound)?;
            validate_discharge(stay, on)?;
            StayChange::Discharge { on, mode }
        }
        (None, None, Some(unit)) => StayChange::MoveUnit { unit },
        _ => {
            return Err(ValidationErrors::single(
                "discharged_on",
                "give discharged_on with discharge_mode, or unit_id alone",
            )
            .into());
        }
    };
    let stay = state.db().change_stay(&scope, id, stay_id, Some(version), change).await?;
    let version = stay.row_version;
    Ok(with_etag(StatusCode::OK, stay, version))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAssignment {
    /// A home helper (or any professional) of the service.
    pub user_id: UserId,
    /// Default: today.
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Assignment {
    pub id: uuid::Uuid,
}

/// Assigns a professional to the person: home helpers reach only the people they are assigned to.
#[utoipa::path(post, path = "/residents/{resident_id}/assignments", tag = "residents",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateAssignment,
    responses((status = 201, body = Assignment), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_assignment(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateAssignment>,
) -> Result<Response, ApiError> {
    let context = context(&state, &scope, id, "assignment.create").await?;
    if !context.establishments.iter().any(|e| policy::can_assign(&scope, *e)) {
        return Err(refuse(&state, &scope, "assignment.create", id, "assign professionals").await);
    }
    let starts_on = body.starts_on.unwrap_or_else(today);
    if body.ends_on.is_some_and(|end| end < starts_on) {
        return Err(ValidationErrors::single("ends_on", "is before starts_on").into());
    }
    let assignment = state.db().assign(&scope, key.as_ref(), id, body.user_id, starts_on, body.ends_on).await?;
    Ok(created(Created { value: Assignment { id: assignment.value }, replayed: assignment.replayed }))
}

// ----------------------------------------------------------------------------------------------
// Contacts and consents
// ----------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContact {
    pub kind: ContactKind,
    /// For a legal representative, the measure they act under.
    pub protection_measure: Option<ProtectionMeasure>,
    pub details: ContactDetails,
    #[serde(default)]
    pub emergency_contact: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeContact {
    pub details: Option<ContactDetails>,
    pub emergency_contact: Option<bool>,
    /// `true` ends the contact (it stays in the record's history).
    #[serde(default)]
    pub ended: bool,
}

#[utoipa::path(get, path = "/residents/{resident_id}/contacts", tag = "residents", params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Vec<Contact>), (status = 404, body = Problem)))]
pub async fn list_contacts(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
) -> Result<Json<Vec<Contact>>, ApiError> {
    Ok(Json(state.db().list_contacts(&scope, id).await?))
}

#[utoipa::path(post, path = "/residents/{resident_id}/contacts", tag = "residents",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateContact,
    responses((status = 201, body = Contact), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_contact(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateContact>,
) -> Result<Response, ApiError> {
    let context = context(&state, &scope, id, "contact.create").await?;
    if !policy::can_manage_record(&scope, &context.establishments) {
        return Err(refuse(&state, &scope, "contact.create", id, "add contacts").await);
    }
    let new = NewContact::validate(body.kind, body.protection_measure, body.details, body.emergency_contact)?;
    Ok(created(state.db().add_contact(&scope, key.as_ref(), id, &new).await?))
}

#[utoipa::path(patch, path = "/residents/{resident_id}/contacts/{contact_id}", tag = "residents",
    params(("resident_id" = ResidentId, Path), ("contact_id" = ContactId, Path), IfMatchHeader), request_body = ChangeContact,
    responses((status = 200, body = Contact), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
pub async fn change_contact(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((id, contact_id)): Path<(ResidentId, ContactId)>,
    IfMatch(version): IfMatch,
    Json(body): Json<ChangeContact>,
) -> Result<Response, ApiError> {
    let context = context(&state, &scope, id, "contact.update").await?;
    if !policy::can_manage_record(&scope, &context.establishments) {
        return Err(refuse(&state, &scope, "contact.update", id, "change contacts").await);
    }
    let mut errors = ValidationErrors::new();
    let details = body.details.map(|d| d.validate(&mut errors, "details/"));
    let change =
        errors.into_result(|| ContactChange { details, emergency_contact: body.emergency_contact, end: body.ended })?;
    let contact = state.db().update_contact(&scope, id, contact_id, Some(version), &change).await?;
    let version = contact.row_version;
    Ok(with_etag(StatusCode::OK, contact, version))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConsent {
    pub kind: ConsentKind,
    /// For `dmp_feeding`, `refused` is the opposition to it.
    pub decision: ConsentDecision,
    /// Default: today.
    pub expressed_on: Option<NaiveDate>,
    pub expressed_by: ExpressedBy,
    /// What an `other` consent is about, and any comment.
    pub comment: Option<String>,
}

#[utoipa::path(get, path = "/residents/{resident_id}/consents", tag = "residents", params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Vec<Consent>), (status = 404, body = Problem)))]
pub async fn list_consents(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
) -> Result<Json<Vec<Consent>>, ApiError> {
    Ok(Json(state.db().list_consents(&scope, id).await?))
}

/// Records a consent or an opposition (never edited: a new decision supersedes, or it is revoked).
#[utoipa::path(post, path = "/residents/{resident_id}/consents", tag = "residents",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateConsent,
    responses((status = 201, body = Consent), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_consent(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateConsent>,
) -> Result<Response, ApiError> {
    let context = context(&state, &scope, id, "consent.create").await?;
    if !policy::can_manage_record(&scope, &context.establishments) {
        return Err(refuse(&state, &scope, "consent.create", id, "record consents").await);
    }
    let new = NewConsent::validate(
        body.kind,
        body.decision,
        body.expressed_on,
        body.expressed_by,
        body.comment.as_deref(),
        today(),
    )?;
    Ok(created(state.db().record_consent(&scope, key.as_ref(), id, &new).await?))
}

#[utoipa::path(post, path = "/residents/{resident_id}/consents/{consent_id}/revoke", tag = "residents",
    params(("resident_id" = ResidentId, Path), ("consent_id" = ConsentId, Path)),
    responses((status = 200, body = Consent), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_consent(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((id, consent_id)): Path<(ResidentId, ConsentId)>,
) -> Result<Json<Consent>, ApiError> {
    let context = context(&state, &scope, id, "consent.revoke").await?;
    if !policy::can_manage_record(&scope, &context.establishments) {
        return Err(refuse(&state, &scope, "consent.revoke", id, "revoke consents").await);
    }
    Ok(Json(state.db().revoke_consent(&scope, id, consent_id).await?))
}

// ----------------------------------------------------------------------------------------------
// Emergency access
// ----------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenEmergencyAccess {
    /// Why the record must be opened now (at least 10 characters): it is shown to the directors
    /// who review the opening.
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewEmergencyAccess {
    pub outcome: ReviewOutcome,
    pub comment: String,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EmergencyListParams {
    /// Only the openings not reviewed yet.
    #[serde(default)]
    pub pending: bool,
}

/// Break-the-glass: opens a record outside your reach, for a limited time, with a written
/// reason. Flagged in the audit trail and listed for the directors' review.
#[utoipa::path(post, path = "/residents/{resident_id}/emergency-access", tag = "residents",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = OpenEmergencyAccess,
    responses((status = 201, body = EmergencyAccess), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn open_emergency_access(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<OpenEmergencyAccess>,
) -> Result<Response, ApiError> {
    let reason = free_text("reason", &body.reason, 10)?;
    if scope.grants().is_empty() {
        return Err(ApiError::Forbidden("Only a professional of the organisation may open a record.".to_owned()));
    }
    let minutes = state.config().emergency_access_minutes;
    Ok(created(state.db().open_emergency_access(&scope, key.as_ref(), id, &reason, minutes).await?))
}

/// Emergency openings of records of the people of your establishments (directors; all for
/// tenant admins), most recent first.
#[utoipa::path(get, path = "/emergency-accesses", tag = "residents", params(EmergencyListParams),
    responses((status = 200, body = Vec<EmergencyAccess>), (status = 403, body = Problem)))]
pub async fn list_emergency_accesses(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Query(params): Query<EmergencyListParams>,
) -> Result<Json<Vec<EmergencyAccess>>, ApiError> {
    let reach = policy::oversight_reach(&scope);
    if !reach.all && reach.establishments.is_empty() {
        return Err(ApiError::Forbidden("Reviewing emergency openings is for directors.".to_owned()));
    }
    Ok(Json(state.db().list_emergency_accesses(&scope, params.pending).await?))
}

/// Records the review of an emergency opening (not by the person who opened it).
#[utoipa::path(post, path = "/emergency-accesses/{emergency_access_id}/review", tag = "residents",
    params(("emergency_access_id" = EmergencyAccessId, Path)), request_body = ReviewEmergencyAccess,
    responses((status = 200, body = EmergencyAccess), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn review_emergency_access(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<EmergencyAccessId>,
    Json(body): Json<ReviewEmergencyAccess>,
) -> Result<Json<EmergencyAccess>, ApiError> {
    let reach = policy::oversight_reach(&scope);
    if !reach.all && reach.establishments.is_empty() {
        return Err(ApiError::Forbidden("Reviewing emergency openings is for directors.".to_owned()));
    }
    let comment = free_text("comment", &body.comment, 1)?;
    match state.db().review_emergency_access(&scope, id, body.outcome, &comment).await {
        Err(StoreError::NotFound) => Err(match state.db().emergency_access_review_state(&scope, id).await? {
            Some((true, _)) => {
                ApiError::Forbidden("An emergency opening is reviewed by someone else than who opened it.".to_owned())
            }
            Some((false, true)) => ApiError::Conflict("This emergency opening was reviewed already.".to_owned()),
            _ => ApiError::NotFound,
        }),
        reviewed => Ok(Json(reviewed?)),
    }
}

// ----------------------------------------------------------------------------------------------
// Duplicates, GDPR
// ----------------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateCandidate {
    pub id: ResidentId,
    /// The same INS (certainly the same person) rather than the same birth name and date.
    pub same_ins: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeResidents {
    /// The duplicate record, merged into this one.
    pub duplicate_id: ResidentId,
}

#[utoipa::path(get, path = "/residents/{resident_id}/duplicates", tag = "residents", params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Vec<DuplicateCandidate>), (status = 404, body = Problem)))]
pub async fn find_duplicates(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
) -> Result<Json<Vec<DuplicateCandidate>>, ApiError> {
    let found = state.db().find_duplicates(&scope, id).await?;
    Ok(Json(found.into_iter().map(|(id, same_ins)| DuplicateCandidate { id, same_ins }).collect()))
}

/// Merges a duplicate record into this one: its stays, contacts, consents, notes, identity events
/// and assignments move here; the duplicate stays, marked merged, pointing here.
#[utoipa::path(post, path = "/residents/{resident_id}/merge", tag = "residents",
    params(("resident_id" = ResidentId, Path)), request_body = MergeResidents,
    responses((status = 200, body = Resident), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn merge_residents(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
    Json(body): Json<MergeResidents>,
) -> Result<Json<Resident>, ApiError> {
    let survivor = context(&state, &scope, id, "resident.merge").await?;
    let duplicate = context(&state, &scope, body.duplicate_id, "resident.merge").await?;
    if !policy::can_manage_identity(&scope, &survivor.establishments)
        || !policy::can_manage_identity(&scope, &duplicate.establishments)
    {
        return Err(refuse(&state, &scope, "resident.merge", id, "merge records").await);
    }
    Ok(Json(state.db().merge_residents(&scope, id, body.duplicate_id).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodParams {
    /// From (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// To (exclusive).
    pub to: Option<DateTime<Utc>>,
}

/// Who accessed this record, and how (GDPR: the person may ask who saw their record).
#[utoipa::path(get, path = "/residents/{resident_id}/access-report", tag = "residents",
    params(("resident_id" = ResidentId, Path), PeriodParams),
    responses((status = 200, body = Vec<Object>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn access_report(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
    Query(period): Query<PeriodParams>,
) -> Result<Json<Vec<AccessEntry>>, ApiError> {
    let context = state.db().resident_context(&scope, id, "audit.access_report").await?;
    if !policy::can_oversee_records(&scope, &context.establishments) {
        return Err(refuse(&state, &scope, "audit.access_report", id, "see who accessed the record").await);
    }
    Ok(Json(state.db().access_report(&scope, id, period.from, period.to).await?))
}

/// The whole record of the person, as one JSON document (GDPR right of access). See
/// `docs/resident-export.md` for its schema.
#[utoipa::path(get, path = "/residents/{resident_id}/export", tag = "residents", params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Object), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn export_resident(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
) -> Result<Response, ApiError> {
    let context = state.db().resident_context(&scope, id, "resident.export").await?;
    if !policy::can_oversee_records(&scope, &context.establishments) {
        return Err(refuse(&state, &scope, "resident.export", id, "export the record").await);
    }
    let record = state.db().resident_record(&scope, id).await?;
    let document = serde_json::json!({
        "format": "dui-resident-export",
        "version": 1,
        "exported_at": Utc::now(),
        "record": record,
    });
    Ok(axum::Json(document).into_response())
}
