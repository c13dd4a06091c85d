//! Residents' records and professional notes.
//!
//! The rules of who sees which resident are provisional until stays and care teams exist: a
//! member of an establishment sees its residents; tenant-wide roles see all.

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use dui_domain::pagination::PageRequest;
use dui_domain::resident::{Identity, Ins, NewResident, Note, Resident, ResidentLookup, note_text};
use dui_domain::validation::ValidationErrors;
use dui_domain::{EstablishmentId, ResidentId, policy};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::TenantAuth;
use crate::extract::{CreateRequest, IdempotencyHeader, Json, Path, Query, created};
use crate::pagination::{ListParams, PageBody};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub type ResidentPage = PageBody<Resident>;
pub type NotePage = PageBody<Note>;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateResident {
    /// The establishment or service admitting the person.
    pub establishment_id: EstablishmentId,
    pub identity: Identity,
    /// The INS, when it was retrieved from the INSi service.
    pub ins: Option<Ins>,
    /// Create even though a record with the same birth name and birth date exists (a homonym).
    /// A record with the same INS is never duplicated.
    #[serde(default)]
    pub confirm_homonym: bool,
}

/// Either an INS, or a birth name and a birth date.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchResidents {
    pub ins: Option<String>,
    pub birth_name: Option<String>,
    pub birth_date: Option<NaiveDate>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateNote {
    pub text: String,
    /// When what the note reports happened (default: now).
    pub facts_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResidentListParams {
    /// Only the residents of this establishment.
    pub establishment_id: Option<EstablishmentId>,
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// Admits a person: creates their record. A record with the same INS, or the same birth name and
/// birth date, is a 409 naming the existing records (`duplicates`).
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
        return Err(ApiError::Forbidden("Your roles do not allow you to admit residents here.".to_owned()));
    }
    let new = NewResident::validate(establishment, body.identity, body.ins, Utc::now().date_naive())?;
    let created_resident = state.db().create_resident(&scope, key.as_ref(), &new, body.confirm_homonym).await?;
    Ok(created(created_resident))
}

#[utoipa::path(get, path = "/residents", tag = "residents", params(ResidentListParams),
    responses((status = 200, body = ResidentPage), (status = 400, body = Problem)))]
pub async fn list_residents(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Query(params): Query<ResidentListParams>,
) -> Result<Json<ResidentPage>, ApiError> {
    let page = ListParams { cursor: params.cursor, limit: params.limit }.page()?;
    Ok(Json(state.db().list_residents(&scope, params.establishment_id, page).await?.into()))
}

#[utoipa::path(get, path = "/residents/{resident_id}", tag = "residents", params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Resident), (status = 404, body = Problem)))]
pub async fn get_resident(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(id): Path<ResidentId>,
) -> Result<Json<Resident>, ApiError> {
    Ok(Json(state.db().get_resident(&scope, id).await?))
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
        _ => {
            return Err(ValidationErrors::single("ins", "give either ins, or birth_name and birth_date").into());
        }
    };
    Ok(Json(state.db().find_residents(&scope, &lookup).await?))
}

/// Writes a professional note about a resident.
#[utoipa::path(post, path = "/residents/{resident_id}/notes", tag = "residents",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateNote,
    responses((status = 201, body = Note), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_note(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident_id): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateNote>,
) -> Result<Response, ApiError> {
    let text = note_text(&body.text)?;
    if body.facts_at.is_some_and(|at| at > Utc::now() + chrono::Duration::minutes(5)) {
        return Err(ValidationErrors::single("facts_at", "is in the future").into());
    }
    let resident = state.db().get_resident(&scope, resident_id).await?;
    if !policy::can_write_notes(&scope, resident.establishment_id) {
        return Err(ApiError::Forbidden("Your roles do not allow you to write notes here.".to_owned()));
    }
    Ok(created(state.db().add_note(&scope, key.as_ref(), resident_id, &text, body.facts_at).await?))
}

/// A resident's notes, newest first.
#[utoipa::path(get, path = "/residents/{resident_id}/notes", tag = "residents",
    params(("resident_id" = ResidentId, Path), ListParams),
    responses((status = 200, body = NotePage), (status = 404, body = Problem)))]
pub async fn list_notes(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident_id): Path<ResidentId>,
    Query(params): Query<ListParams>,
) -> Result<Json<NotePage>, ApiError> {
    let page: PageRequest = params.page()?;
    // A resident the caller does not see is absent, not merely without notes.
    state.db().get_resident(&scope, resident_id).await?;
    Ok(Json(state.db().list_notes(&scope, resident_id, page).await?.into()))
}
