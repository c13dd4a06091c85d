//! The medical file: medical history and active problems (CIM-10 coded when known),
//! vaccinations, and the physicians who follow the person. History, problems and vaccinations
//! are for the health professionals of the team (physicians and nurses); the physicians are
//! read by the whole care team, who call them.

use axum::extract::State;
use axum::response::Response;
use chrono::NaiveDate;
use dui_app::medical::{self, RecordPhysician, RecordProblem, RecordVaccination};
use dui_domain::medical::{
    MedicalFile, MedicalProblem, Physician, PhysicianInput, PhysicianRole, ProblemInput, ProblemKind, Vaccination,
    VaccinationInput,
};
use dui_domain::{MedicalProblemId, PhysicianId, ResidentId, VaccinationId};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{CreateRequest, IdempotencyHeader, Json, Path, created};
use crate::problem::{ApiError, Problem};
use crate::routes::alerts::FlagEntryError;
use crate::state::AppState;

/// The person's medical file as you may read it: the active problems, the medical history
/// (history entries, resolved problems, entries flagged as entered in error), the vaccinations —
/// for the physicians and nurses where the person is supported, empty for others — and the
/// physicians who follow the person, for the care team. Reading it is recorded.
#[utoipa::path(get, path = "/residents/{resident_id}/medical", tag = "care",
    params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = MedicalFile), (status = 404, body = Problem)))]
pub async fn read_medical_file(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
) -> Result<Json<MedicalFile>, ApiError> {
    Ok(Json(medical::read(state.app(), &scope, resident).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProblem {
    /// A past condition (`history`: antécédent) or one the person has now (`active_problem`).
    pub kind: ProblemKind,
    /// What it is ("Diabète de type 2", "Prothèse totale de hanche droite").
    #[schema(max_length = 2000)]
    pub text: String,
    /// Its CIM-10 code: a letter, two digits, optionally a dot and one or two characters.
    #[schema(pattern = r"^ *[A-Za-z][0-9]{2}(\.?[A-Za-z0-9]{1,2})? *$", example = "E11.9")]
    pub cim10: Option<String>,
    /// Since when: a year, a year and month, or a day (not in the future).
    #[schema(pattern = r"^ *[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)? *$", example = "1998-04")]
    pub onset: Option<String>,
}

/// Records an entry of the medical history or an active problem. By the physicians and nurses
/// where the person is supported.
#[utoipa::path(post, path = "/residents/{resident_id}/medical/problems", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateProblem,
    responses((status = 201, body = MedicalProblem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_problem(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateProblem>,
) -> Result<Response, ApiError> {
    let problem = ProblemInput { kind: body.kind, text: body.text, cim10: body.cim10, onset: body.onset };
    Ok(created(medical::record_problem(state.app(), &scope, RecordProblem { resident, problem, key }).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveProblem {
    /// The day it was resolved (default: today; not in the future).
    pub resolved_on: Option<NaiveDate>,
}

/// Resolves a problem (cured, or no longer relevant): it stays in the history, resolved, with who
/// and when.
#[utoipa::path(post, path = "/residents/{resident_id}/medical/problems/{problem_id}/resolve", tag = "care",
    params(("resident_id" = ResidentId, Path), ("problem_id" = MedicalProblemId, Path)),
    request_body = ResolveProblem,
    responses((status = 200, body = MedicalProblem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn resolve_problem(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, MedicalProblemId)>,
    Json(body): Json<ResolveProblem>,
) -> Result<Json<MedicalProblem>, ApiError> {
    Ok(Json(medical::resolve_problem(state.app(), &scope, resident, id, body.resolved_on).await?))
}

/// Flags a history entry or problem as entered in error: it is never deleted, it stays flagged
/// with who, when and why. A correction is recorded anew.
#[utoipa::path(post, path = "/residents/{resident_id}/medical/problems/{problem_id}/entered-in-error", tag = "care",
    params(("resident_id" = ResidentId, Path), ("problem_id" = MedicalProblemId, Path)),
    request_body = FlagEntryError,
    responses((status = 200, body = MedicalProblem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn flag_problem(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, MedicalProblemId)>,
    Json(body): Json<FlagEntryError>,
) -> Result<Json<MedicalProblem>, ApiError> {
    Ok(Json(medical::flag_problem(state.app(), &scope, resident, id, &body.reason).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVaccination {
    /// The vaccine, as written ("Vaxigrip Tetra", "Comirnaty", "Boostrixtetra").
    #[schema(max_length = 200)]
    pub vaccine: String,
    /// Its code, when known (CIP 13, UCD...).
    #[schema(max_length = 200)]
    pub code: Option<String>,
    /// The day it was given (not in the future).
    pub given_on: NaiveDate,
    /// The dose number (1 for the first injection).
    #[schema(minimum = 1, maximum = 20)]
    pub dose: Option<u32>,
    /// A booster (rappel).
    #[serde(default)]
    pub booster: bool,
    /// The batch number (numéro de lot).
    #[schema(max_length = 200)]
    pub batch: Option<String>,
    /// Who gave it.
    #[schema(max_length = 200)]
    pub given_by: Option<String>,
}

/// Records a vaccination. By the physicians and nurses where the person is supported.
#[utoipa::path(post, path = "/residents/{resident_id}/medical/vaccinations", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateVaccination,
    responses((status = 201, body = Vaccination), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_vaccination(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateVaccination>,
) -> Result<Response, ApiError> {
    let vaccination = VaccinationInput {
        vaccine: body.vaccine,
        code: body.code,
        given_on: body.given_on,
        dose: body.dose,
        booster: body.booster,
        batch: body.batch,
        given_by: body.given_by,
    };
    let command = RecordVaccination { resident, vaccination, key };
    Ok(created(medical::record_vaccination(state.app(), &scope, command).await?))
}

/// Flags a vaccination as entered in error: it stays flagged with who, when and why.
#[utoipa::path(post, path = "/residents/{resident_id}/medical/vaccinations/{vaccination_id}/entered-in-error",
    tag = "care",
    params(("resident_id" = ResidentId, Path), ("vaccination_id" = VaccinationId, Path)),
    request_body = FlagEntryError,
    responses((status = 200, body = Vaccination), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn flag_vaccination(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, VaccinationId)>,
    Json(body): Json<FlagEntryError>,
) -> Result<Json<Vaccination>, ApiError> {
    Ok(Json(medical::flag_vaccination(state.app(), &scope, resident, id, &body.reason).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePhysician {
    /// The attending physician (médecin traitant: one at a time) or a specialist.
    pub role: PhysicianRole,
    /// Their name ("Dr Claire Martin").
    #[schema(max_length = 200)]
    pub name: String,
    /// Required for a specialist (and only for one): which (cardiologie...).
    #[schema(max_length = 200)]
    pub speciality: Option<String>,
    /// Their RPPS number: 11 digits.
    #[schema(pattern = r"^ *[0-9]{11} *$", example = "10003456789")]
    pub rpps: Option<String>,
    #[schema(max_length = 40)]
    pub phone: Option<String>,
    #[schema(max_length = 254)]
    pub email: Option<String>,
    /// Since when they follow the person (default: today; not in the future).
    pub since: Option<NaiveDate>,
}

/// Records a physician who follows the person. By those who give care where the person is
/// supported. A second attending physician in force is refused (409): end the first.
#[utoipa::path(post, path = "/residents/{resident_id}/medical/physicians", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreatePhysician,
    responses((status = 201, body = Physician), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_physician(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreatePhysician>,
) -> Result<Response, ApiError> {
    let physician = PhysicianInput {
        role: body.role,
        name: body.name,
        speciality: body.speciality,
        rpps: body.rpps,
        phone: body.phone,
        email: body.email,
        since: body.since,
    };
    Ok(created(medical::record_physician(state.app(), &scope, RecordPhysician { resident, physician, key }).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndPhysician {
    /// Their last day (default: today; not in the future, not before `since`).
    pub until: Option<NaiveDate>,
}

/// Ends a physician's following of the person: it stays, with its end and who ended it.
#[utoipa::path(post, path = "/residents/{resident_id}/medical/physicians/{physician_id}/end", tag = "care",
    params(("resident_id" = ResidentId, Path), ("physician_id" = PhysicianId, Path)), request_body = EndPhysician,
    responses((status = 200, body = Physician), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn end_physician(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, PhysicianId)>,
    Json(body): Json<EndPhysician>,
) -> Result<Json<Physician>, ApiError> {
    Ok(Json(medical::end_physician(state.app(), &scope, resident, id, body.until).await?))
}

/// Flags a physician recorded by mistake (the wrong doctor, the wrong person) as entered in
/// error: it stays in the list, flagged with who, when and why, and is no longer in force (an
/// attending physician may then be recorded). By those who give care where the person is
/// supported.
#[utoipa::path(post, path = "/residents/{resident_id}/medical/physicians/{physician_id}/entered-in-error",
    tag = "care",
    params(("resident_id" = ResidentId, Path), ("physician_id" = PhysicianId, Path)),
    request_body = FlagEntryError,
    responses((status = 200, body = Physician), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn flag_physician(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, PhysicianId)>,
    Json(body): Json<FlagEntryError>,
) -> Result<Json<Physician>, ApiError> {
    Ok(Json(medical::flag_physician(state.app(), &scope, resident, id, &body.reason).await?))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(read_medical_file))
        .routes(routes!(create_problem))
        .routes(routes!(resolve_problem))
        .routes(routes!(flag_problem))
        .routes(routes!(create_vaccination))
        .routes(routes!(flag_vaccination))
        .routes(routes!(create_physician))
        .routes(routes!(end_physician))
        .routes(routes!(flag_physician))
}
