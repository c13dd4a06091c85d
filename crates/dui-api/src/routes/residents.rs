//! Residents' records: identity, stays, contacts, consents, identity status, notes, emergency
//! access, duplicates, and what the GDPR gives the person (access report, export).
//!
//! Who sees a record follows the person's stays (see `dui_storage::access`); a record outside
//! the caller's reach is absent (404), and the refusal is recorded. Within reach, the roles decide
//! what the caller may change (`dui_domain::policy`); a refusal there is a 403, recorded too.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use dui_app::audit::AccessEntry;
use dui_app::residents::ResidentFilter;
use dui_app::{audit, contacts, emergency, residents, stays};
use dui_domain::period::TimeBound;
use dui_domain::idempotency::Created;
use dui_domain::emergency::EmergencyReview;
use dui_domain::record::{
    AdmissionMode, Consent, ConsentDecision, ConsentKind, Contact, ContactDetails, ContactKind, DischargeMode,
    EmergencyAccess, ExpressedBy, IdentityDocument, ProtectionMeasure, ReviewOutcome, Stay, StayMode,
};
use dui_domain::resident::{Identity, IdentityStatus, Ins, Likeness, Resident, ResidentLookup};
use dui_domain::validation::ValidationErrors;
use dui_domain::{ConsentId, ContactId, EmergencyAccessId, EstablishmentId, ResidentId, StayId, UnitId, UserId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{CreateRequest, IdempotencyHeader, IfMatch, IfMatchHeader, Json, Path, Query, created, with_etag};
use crate::pagination::{ListParams, PageBody};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub type ResidentPage = PageBody<Resident>;

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
    /// The INS, when known. It must agree with the sex, the year and month and (from 1976) the
    /// place of birth it encodes; typed in, it stays a candidate and the identity provisional
    /// until the INSi service retrieves or verifies it.
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
    #[param(pattern = "^A[Q-Za-f][A-Za-z0-9_-]{20}[AEIMQUYcgkosw048]$")]
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
    let command = residents::Admit {
        establishment: body.establishment_id,
        unit: body.unit_id,
        mode: body.mode,
        admitted_on: body.admitted_on,
        identity: body.identity,
        ins: body.ins,
        confirm_homonym: body.confirm_homonym,
        key,
    };
    Ok(created(residents::admit(state.app(), &scope, command).await?))
}

/// The residents you support (every establishment for tenant-wide roles; home help: the people
/// you are assigned to). Each one listed is recorded as read.
#[utoipa::path(get, path = "/residents", tag = "residents", params(ResidentListParams),
    responses((status = 200, body = PageBody<Resident>), (status = 400, body = Problem)))]
pub async fn list_residents(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Query(params): Query<ResidentListParams>,
) -> Result<Json<ResidentPage>, ApiError> {
    let page = ListParams { cursor: params.cursor, limit: params.limit }.page()?;
    let filter =
        ResidentFilter { establishment: params.establishment_id, unit: params.unit_id, current: params.current };
    Ok(Json(residents::list(state.app(), &scope, filter, page).await?.into()))
}

/// A resident's record. Its `ETag` is what an update sends back as `If-Match`.
#[utoipa::path(get, path = "/residents/{resident_id}", tag = "residents", params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Resident), (status = 404, body = Problem)))]
pub async fn get_resident(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
) -> Result<Response, ApiError> {
    let resident = residents::get(state.app(), &scope, id).await?;
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
    Ok(Json(residents::summary(state.app(), &scope, id, params.notes.unwrap_or(5)).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectIdentity {
    pub identity: Identity,
    /// The INS (absent: the record has none).
    pub ins: Option<Ins>,
}

/// Corrects an identity (traits and INS). The names used may change at any status. The strict
/// traits and the INS of a validated or qualified identity are not edited: set it back to
/// provisional first, with a reason; corrected on a retrieved identity, they send it back to
/// provisional (an identity event says so), since what INSi returned no longer stands.
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
    let resident = residents::correct_identity(state.app(), &scope, id, version, body.identity, body.ins).await?;
    let version = resident.row_version;
    Ok(with_etag(StatusCode::OK, resident, version))
}

/// Either an INS, or a birth name and a birth date.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchResidents {
    #[schema(max_length = 30)]
    pub ins: Option<String>,
    #[schema(max_length = 100)]
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
    Ok(Json(residents::search(state.app(), &scope, lookup).await?))
}

// ----------------------------------------------------------------------------------------------
// Identity status
// ----------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeIdentityStatus {
    pub to_status: IdentityStatus,
    /// The identity document checked now, if one was. (An INS from the INSi service comes only
    /// through a search and its confirmation: `/ins/retrieve`, `/ins/confirm`.)
    pub document: Option<IdentityDocument>,
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
    Ok(axum::Json(residents::identity_events(state.app(), &scope, id).await?).into_response())
}

/// Changes the identity status (RNIV): RECUP comes only from a confirmed INSi search
/// (`/ins/confirm`), VALI needs an identity
/// document (a livret de famille or birth extract only for a minor), QUAL both — evidence counts
/// since the identity last went back to PROV; going back to PROV needs a reason, and so does
/// QUAL → VALI, which withdraws the INS. Never a silent overwrite: each change is an event with
/// who, when and the evidence.
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
    let command = residents::ChangeStatus {
        resident: id,
        expected_version: version,
        to: body.to_status,
        document: body.document,
        reason: body.reason,
    };
    let resident = residents::change_status(state.app(), &scope, command).await?;
    let version = resident.row_version;
    Ok(with_etag(StatusCode::OK, resident, version))
}

// ----------------------------------------------------------------------------------------------
// The INS, from the INSi teleservice
// ----------------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrieveIns {
    /// The given name of birth to search with, when not the first: one of the record's (the
    /// guides' retry when nobody, or several people, were found).
    pub first_name: Option<String>,
}

/// A call to the INSi teleservice, as recorded: a search (`retrieve`) or a verification
/// (`verify`).
#[derive(Debug, Serialize, ToSchema)]
pub struct InsiCallView {
    /// The call (its message id): what `/ins/confirm` names.
    pub call_id: uuid::Uuid,
    pub kind: dui_domain::insi::InsiKind,
    pub outcome: dui_domain::insi::InsiOutcome,
    /// A search: another record that holds the INS found — the same person, likely (see the
    /// identity-vigilance list; a merge, not a confirmation, settles it).
    pub held_by: Option<ResidentId>,
    /// A verification: whether the mismatch withdrew the INS and lowered the identity.
    pub identity_lowered: Option<bool>,
    /// The identity found (`found`): to compare with the person and their document before
    /// confirming.
    pub found: Option<dui_domain::insi::FoundIdentity>,
    /// What to do next when the service did not find one person.
    pub guidance: Option<String>,
    /// Why the service's answer could not be used (`failed`).
    pub problem: Option<String>,
    pub requested_at: chrono::DateTime<chrono::Utc>,
}

/// Searches the record's INS with the INSi teleservice by its strict traits (birth name, a
/// given name of birth, sex, birth date, place of birth when known), with the structure's
/// certificate, and records the call and its answer: one identity found, none (`01`), several
/// (`02`), or no usable answer. Nothing on the record changes until a professional confirms the
/// identity found. Identity-vigilance roles where the person is supported.
#[utoipa::path(post, path = "/residents/{resident_id}/ins/retrieve", tag = "residents",
    params(("resident_id" = ResidentId, Path)), request_body = RetrieveIns,
    responses((status = 200, body = InsiCallView), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn retrieve_ins(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
    Json(body): Json<RetrieveIns>,
) -> Result<Response, ApiError> {
    let command = dui_app::insi::Retrieve { resident: id, first_name: body.first_name };
    let retrieval = dui_app::insi::retrieve(state.app(), &scope, command).await?;
    Ok(axum::Json(call_view(retrieval.call, retrieval.problem, None)).into_response())
}

fn call_view(
    call: dui_storage::insi_calls::InsiCall,
    problem: Option<String>,
    identity_lowered: Option<bool>,
) -> InsiCallView {
    InsiCallView {
        call_id: call.id,
        kind: call.kind,
        outcome: call.outcome,
        held_by: call.held_by,
        identity_lowered,
        found: call.found,
        guidance: call.outcome.guidance().map(str::to_owned),
        problem,
        requested_at: call.requested_at,
    }
}

/// The calls made to the INSi teleservice about the record, oldest first: each search with
/// what it found (and whether it was confirmed), each verification with its outcome. For
/// whoever sees the record, like its identity history.
#[utoipa::path(get, path = "/residents/{resident_id}/ins/calls", tag = "residents",
    params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Vec<InsiCallRecord>), (status = 404, body = Problem)))]
pub async fn list_insi_calls(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
) -> Result<Response, ApiError> {
    let calls = dui_app::insi::history(state.app(), &scope, id).await?;
    let calls: Vec<InsiCallRecord> = calls
        .into_iter()
        .map(|call| InsiCallRecord {
            requested_by: call.requested_by,
            confirmed_by: call.confirmed_by,
            confirmed_at: call.confirmed_at,
            call: call_view(call, None, None),
        })
        .collect();
    Ok(axum::Json(calls).into_response())
}

/// A call to the INSi teleservice in a record's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct InsiCallRecord {
    #[serde(flatten)]
    pub call: InsiCallView,
    /// Who asked (null: the server's periodic verification).
    pub requested_by: Option<dui_domain::UserId>,
    /// A search: who confirmed the identity found, and when.
    pub confirmed_by: Option<dui_domain::UserId>,
    pub confirmed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Verifies the record's INS with its strict traits through the INSi teleservice and records
/// the call. Only an INS from the service is verified (RECUP or QUAL). When the service does not
/// verify them (`mismatch`), the INS is withdrawn and the identity lowered — RECUP to PROV, QUAL
/// to VALI — with an identity event naming the call, and the record enters the
/// identity-vigilance list; no usable answer (`failed`) changes nothing. The server also
/// verifies again, by itself, the INS not confirmed for the configured period.
/// Identity-vigilance roles where the person is supported.
#[utoipa::path(post, path = "/residents/{resident_id}/ins/verify", tag = "residents",
    params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = InsiCallView), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn verify_ins(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
) -> Result<Response, ApiError> {
    let verified = dui_app::insi::verify(state.app(), &scope, id).await?;
    Ok(axum::Json(call_view(verified.call, verified.problem, Some(verified.lowered))).into_response())
}

/// One record in the identity-vigilance list, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct VigilanceItemView {
    /// `insi_mismatch`: the service did not verify the record's INS with its traits (the INS
    /// was withdrawn, the identity lowered); `ins_held_by_another`: a search found an INS that
    /// `other_resident_id` holds (the same person, likely); `waiting_for_document`: a retrieved
    /// identity whose identity document is still to be checked for it to be qualified;
    /// `verification_due`: an INS the service has not confirmed for the installation's period.
    pub reason: String,
    pub resident_id: ResidentId,
    /// The INSi call that raised it.
    pub call_id: Option<uuid::Uuid>,
    pub other_resident_id: Option<ResidentId>,
    pub since: chrono::DateTime<chrono::Utc>,
}

/// The identity-vigilance list.
#[derive(Debug, Serialize, ToSchema)]
pub struct VigilanceList {
    /// Oldest first.
    pub items: Vec<VigilanceItemView>,
    /// Whether there were more than the list gives (1,000).
    pub truncated: bool,
}

/// The identity-vigilance worklist of the records the caller sees: INS the service did not
/// verify, searches that found an INS another record holds, retrieved identities waiting for
/// their document, INS due for verification. An item leaves the list when what raised it is
/// settled (a verification or a confirmed search, a merge, a document checked). For the
/// identity-vigilance referent, the tenant's administrators and directors; each record listed is
/// recorded as read.
#[utoipa::path(get, path = "/identity-vigilance", tag = "residents",
    responses((status = 200, body = VigilanceList), (status = 403, body = Problem)))]
pub async fn identity_vigilance(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
) -> Result<Response, ApiError> {
    let items = dui_app::insi::vigilance(state.app(), &scope).await?;
    let truncated = items.len() >= dui_storage::insi_calls::VIGILANCE_LIMIT;
    let items = items
        .into_iter()
        .map(|item| VigilanceItemView {
            reason: item.reason,
            resident_id: item.resident_id,
            call_id: item.call_id,
            other_resident_id: item.other_resident_id,
            since: item.since,
        })
        .collect();
    Ok(axum::Json(VigilanceList { items, truncated }).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmIns {
    /// The search whose identity is the person's.
    pub call_id: uuid::Uuid,
}

/// Confirms that the identity a search found is the person's (checked against them and, for a
/// validated identity, their document): the record takes the INS and the service's strict
/// traits (the names used stay), PROV becomes RECUP and VALI becomes QUAL, and an identity event
/// names the call and keeps the traits replaced. A search confirms once.
#[utoipa::path(post, path = "/residents/{resident_id}/ins/confirm", tag = "residents",
    params(("resident_id" = ResidentId, Path), IfMatchHeader), request_body = ConfirmIns,
    responses((status = 200, body = Resident), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem),
              (status = 428, body = Problem)))]
pub async fn confirm_ins(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
    IfMatch(version): IfMatch,
    Json(body): Json<ConfirmIns>,
) -> Result<Response, ApiError> {
    let command = dui_app::insi::Confirm { resident: id, call: body.call_id, expected_version: version };
    let resident = dui_app::insi::confirm(state.app(), &scope, command).await?;
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
    Ok(Json(stays::list(state.app(), &scope, id).await?))
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
    let command = stays::NewStayCommand {
        resident: id,
        establishment: body.establishment_id,
        unit: body.unit_id,
        mode: body.mode,
        admitted_on: body.admitted_on,
        admission_mode: body.admission_mode,
        transferred_from: body.transferred_from,
        key,
    };
    Ok(created(stays::admit(state.app(), &scope, command).await?))
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
    let command = stays::ChangeStay {
        resident: id,
        stay: stay_id,
        expected_version: version,
        discharged_on: body.discharged_on,
        discharge_mode: body.discharge_mode,
        unit: body.unit_id,
    };
    let stay = stays::change(state.app(), &scope, command).await?;
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
    let command =
        stays::Assign { resident: id, user: body.user_id, starts_on: body.starts_on, ends_on: body.ends_on, key };
    let assignment = stays::assign(state.app(), &scope, command).await?;
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
    Ok(Json(contacts::list(state.app(), &scope, id).await?))
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
    let command = contacts::AddContact {
        resident: id,
        kind: body.kind,
        protection_measure: body.protection_measure,
        details: body.details,
        emergency_contact: body.emergency_contact,
        key,
    };
    Ok(created(contacts::add(state.app(), &scope, command).await?))
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
    let command = contacts::ChangeContact {
        resident: id,
        contact: contact_id,
        expected_version: version,
        details: body.details,
        emergency_contact: body.emergency_contact,
        ended: body.ended,
    };
    let contact = contacts::change(state.app(), &scope, command).await?;
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
    Ok(Json(contacts::consents(state.app(), &scope, id).await?))
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
    let command = contacts::RecordConsent {
        resident: id,
        kind: body.kind,
        decision: body.decision,
        expressed_on: body.expressed_on,
        expressed_by: body.expressed_by,
        comment: body.comment,
        key,
    };
    Ok(created(contacts::record_consent(state.app(), &scope, command).await?))
}

#[utoipa::path(post, path = "/residents/{resident_id}/consents/{consent_id}/revoke", tag = "residents",
    params(("resident_id" = ResidentId, Path), ("consent_id" = ConsentId, Path)),
    responses((status = 200, body = Consent), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn revoke_consent(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((id, consent_id)): Path<(ResidentId, ConsentId)>,
) -> Result<Json<Consent>, ApiError> {
    Ok(Json(contacts::revoke_consent(state.app(), &scope, id, consent_id).await?))
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
    Ok(created(emergency::open(state.app(), &scope, id, &body.reason, key).await?))
}

/// Emergency openings of records of the people of your establishments (directors; all for
/// tenant admins), most recent first.
#[utoipa::path(get, path = "/emergency-accesses", tag = "residents", params(EmergencyListParams),
    responses((status = 200, body = Vec<EmergencyReview>), (status = 403, body = Problem)))]
pub async fn list_emergency_accesses(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Query(params): Query<EmergencyListParams>,
) -> Result<Json<Vec<EmergencyReview>>, ApiError> {
    Ok(Json(emergency::list(state.app(), &scope, params.pending).await?))
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
    Ok(Json(emergency::review(state.app(), &scope, id, body.outcome, &body.comment).await?))
}

// ----------------------------------------------------------------------------------------------
// Duplicates, GDPR
// ----------------------------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateCandidate {
    pub id: ResidentId,
    /// The same INS (certainly the same person).
    pub same_ins: bool,
    /// Why it may be the same person.
    pub likeness: Likeness,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeResidents {
    /// The duplicate record, merged into this one.
    pub duplicate_id: ResidentId,
    /// Why the two records are the same person (kept, sealed, in the identity history).
    pub reason: String,
}

#[utoipa::path(get, path = "/residents/{resident_id}/duplicates", tag = "residents", params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Vec<DuplicateCandidate>), (status = 404, body = Problem)))]
pub async fn find_duplicates(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
) -> Result<Json<Vec<DuplicateCandidate>>, ApiError> {
    let found = residents::duplicates(state.app(), &scope, id).await?;
    let candidates = found.into_iter().map(|(id, likeness)| DuplicateCandidate {
        id,
        same_ins: likeness == Likeness::SameIns,
        likeness,
    });
    Ok(Json(candidates.collect()))
}

/// Merges a duplicate record into this one, with the reason: its stays, contacts, consents,
/// notes, identity events and assignments move here; the duplicate stays, marked merged,
/// pointing here; the identity history of this record keeps who merged which record, and why.
#[utoipa::path(post, path = "/residents/{resident_id}/merge", tag = "residents",
    params(("resident_id" = ResidentId, Path)), request_body = MergeResidents,
    responses((status = 200, body = Resident), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn merge_residents(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
    Json(body): Json<MergeResidents>,
) -> Result<Json<Resident>, ApiError> {
    Ok(Json(residents::merge(state.app(), &scope, id, body.duplicate_id, &body.reason).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnmergeResidents {
    /// The record wrongly merged into this one.
    pub duplicate_id: ResidentId,
    /// Why the merge was a mistake (kept, sealed, in the identity history).
    pub reason: String,
}

/// Undoes a mistaken merge of a record into this one (the identity-vigilance referent): the rows
/// the merge moved that are still here go back, what it ended is reopened (a personne de
/// confiance, a plan in force), and the other record is active again. What was written here
/// since the merge stays here. The identity history of this record keeps the undoing and why.
#[utoipa::path(post, path = "/residents/{resident_id}/unmerge", tag = "residents",
    params(("resident_id" = ResidentId, Path)), request_body = UnmergeResidents,
    responses((status = 200, body = Resident), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn unmerge_residents(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
    Json(body): Json<UnmergeResidents>,
) -> Result<Json<Resident>, ApiError> {
    Ok(Json(residents::unmerge(state.app(), &scope, id, body.duplicate_id, &body.reason).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodParams {
    /// From (inclusive): a day, from its first hour in the establishment's calendar, or an instant.
    #[param(inline)]
    pub from: Option<TimeBound>,
    /// To: a day (included), or an instant (excluded).
    #[param(inline)]
    pub to: Option<TimeBound>,
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
    Ok(Json(audit::access_report(state.app(), &scope, id, period.from, period.to).await?))
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
    Ok(axum::Json(residents::export(state.app(), &scope, id).await?).into_response())
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list_residents, create_resident))
        .routes(routes!(get_resident, correct_identity))
        .routes(routes!(resident_summary))
        .routes(routes!(search_residents))
        .routes(routes!(list_identity_events))
        .routes(routes!(change_identity_status))
        .routes(routes!(retrieve_ins))
        .routes(routes!(confirm_ins))
        .routes(routes!(verify_ins))
        .routes(routes!(list_insi_calls))
        .routes(routes!(identity_vigilance))
        .routes(routes!(list_stays, create_stay))
        .routes(routes!(change_stay))
        .routes(routes!(create_assignment))
        .routes(routes!(list_contacts, create_contact))
        .routes(routes!(change_contact))
        .routes(routes!(list_consents, create_consent))
        .routes(routes!(revoke_consent))
        .routes(routes!(open_emergency_access))
        .routes(routes!(list_emergency_accesses))
        .routes(routes!(review_emergency_access))
        .routes(routes!(find_duplicates))
        .routes(routes!(merge_residents))
        .routes(routes!(unmerge_residents))
        .routes(routes!(access_report))
        .routes(routes!(export_resident))
}
