//! Absences and appointments: a person's departures and returns, their appointments, and an
//! establishment's day — who is away, who has an appointment. While a person is away, their
//! tasks of the day are `suspended`.

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use dui_app::absences::{self, DayQuery, RecordAbsence, RecordAppointment};
use dui_domain::absence::{Absence, AbsenceInput, AbsenceKind, Appointment, AppointmentInput, AwayDay, Destination, Transport};
use dui_domain::{AbsenceId, AppointmentId, EstablishmentId, ResidentId, UnitId};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{CreateRequest, IdempotencyHeader, Json, Path, Query, created};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAbsence {
    pub kind: AbsenceKind,
    /// When the person leaves (default: now); within a year of now. In the past: they left.
    pub starts_at: Option<DateTime<Utc>>,
    /// When they are expected back, if known.
    pub expected_return_at: Option<DateTime<Utc>>,
    /// Where: a hospital and its service, an address.
    pub destination: Option<Destination>,
    /// Why.
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
    /// Default: none.
    pub transport: Option<Transport>,
}

/// Records an absence: in progress when its start has come (the person left), planned
/// otherwise. The person's tasks are suspended while it keeps them away. 409 when they are
/// away at its start already.
#[utoipa::path(post, path = "/residents/{resident_id}/absences", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateAbsence,
    responses((status = 201, body = Absence), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_absence(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateAbsence>,
) -> Result<Response, ApiError> {
    let absence = AbsenceInput {
        kind: Some(body.kind),
        starts_at: body.starts_at,
        expected_return_at: body.expected_return_at,
        destination: body.destination,
        reason: body.reason,
        transport: body.transport,
    };
    Ok(created(absences::record(state.app(), &scope, RecordAbsence { resident, absence, key }).await?))
}

/// The person's absences, newest first, each with where it stands (planned, in progress, ended,
/// cancelled). The care team's: others get an empty list.
#[utoipa::path(get, path = "/residents/{resident_id}/absences", tag = "care",
    params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Vec<Absence>), (status = 404, body = Problem)))]
pub async fn list_absences(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
) -> Result<Json<Vec<Absence>>, ApiError> {
    Ok(Json(absences::list(state.app(), &scope, resident).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordReturn {
    /// When the person came back (default: now); not before they left, not in the future.
    pub returned_at: Option<DateTime<Utc>>,
}

/// Records the return from an absence in progress: the person's tasks resume. 409 when it has
/// not started (cancel it instead), or is ended or cancelled.
#[utoipa::path(post, path = "/residents/{resident_id}/absences/{absence_id}/return", tag = "care",
    params(("resident_id" = ResidentId, Path), ("absence_id" = AbsenceId, Path)), request_body = RecordReturn,
    responses((status = 200, body = Absence), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn record_return(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, AbsenceId)>,
    Json(body): Json<RecordReturn>,
) -> Result<Json<Absence>, ApiError> {
    Ok(Json(absences::record_return(state.app(), &scope, resident, id, body.returned_at).await?))
}

/// Cancels an absence that did not take place (planned, or started by mistake). 409 when it is
/// ended or cancelled already.
#[utoipa::path(post, path = "/residents/{resident_id}/absences/{absence_id}/cancel", tag = "care",
    params(("resident_id" = ResidentId, Path), ("absence_id" = AbsenceId, Path)),
    responses((status = 200, body = Absence), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem)))]
pub async fn cancel_absence(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, AbsenceId)>,
) -> Result<Json<Absence>, ApiError> {
    Ok(Json(absences::cancel(state.app(), &scope, resident, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAppointment {
    /// When; within a year of now.
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    /// The professional or the service seen.
    #[schema(min_length = 1, max_length = 200)]
    pub with_whom: String,
    /// Where (a practice, a hospital's service, an address).
    #[schema(max_length = 500)]
    pub place: Option<String>,
    /// Outside the establishment: the matching absence (a consultation) is recorded with it,
    /// from `departs_at` to `returns_at`.
    #[serde(default)]
    pub outside: bool,
    /// Outside: when the person leaves (default: `starts_at`).
    pub departs_at: Option<DateTime<Utc>>,
    /// Outside: when the person is expected back (required).
    pub returns_at: Option<DateTime<Utc>>,
    /// The transport needed (default: none).
    pub transport: Option<Transport>,
    /// Who goes with the person.
    #[schema(max_length = 200)]
    pub accompanied_by: Option<String>,
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

/// Records an appointment; one `outside` records the matching absence (a consultation) with
/// it, named by `absence_id` (409 when the person is away at the departure already).
#[utoipa::path(post, path = "/residents/{resident_id}/appointments", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateAppointment,
    responses((status = 201, body = Appointment), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_appointment(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateAppointment>,
) -> Result<Response, ApiError> {
    let appointment = AppointmentInput {
        starts_at: Some(body.starts_at),
        ends_at: body.ends_at,
        with_whom: Some(body.with_whom),
        place: body.place,
        outside: body.outside,
        transport: body.transport,
        accompanied_by: body.accompanied_by,
        notes: body.notes,
        departs_at: body.departs_at,
        returns_at: body.returns_at,
    };
    let command = RecordAppointment { resident, appointment, key };
    Ok(created(absences::record_appointment(state.app(), &scope, command).await?))
}

/// The person's appointments, newest first. The care team's: others get an empty list.
#[utoipa::path(get, path = "/residents/{resident_id}/appointments", tag = "care",
    params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Vec<Appointment>), (status = 404, body = Problem)))]
pub async fn list_appointments(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
) -> Result<Json<Vec<Appointment>>, ApiError> {
    Ok(Json(absences::appointments(state.app(), &scope, resident).await?))
}

/// Marks a planned appointment as having taken place (409 before its time, or when it is done
/// or cancelled). The absence it made ends with the return, recorded on the absence.
#[utoipa::path(post, path = "/residents/{resident_id}/appointments/{appointment_id}/done", tag = "care",
    params(("resident_id" = ResidentId, Path), ("appointment_id" = AppointmentId, Path)),
    responses((status = 200, body = Appointment), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem)))]
pub async fn appointment_done(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, AppointmentId)>,
) -> Result<Json<Appointment>, ApiError> {
    Ok(Json(absences::appointment_done(state.app(), &scope, resident, id).await?))
}

/// Cancels a planned appointment, and the absence it made if that has not started.
#[utoipa::path(post, path = "/residents/{resident_id}/appointments/{appointment_id}/cancel", tag = "care",
    params(("resident_id" = ResidentId, Path), ("appointment_id" = AppointmentId, Path)),
    responses((status = 200, body = Appointment), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem)))]
pub async fn cancel_appointment(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, AppointmentId)>,
) -> Result<Json<Appointment>, ApiError> {
    Ok(Json(absences::cancel_appointment(state.app(), &scope, resident, id).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AwayParams {
    /// The day, in the establishment's calendar (default: today).
    pub date: Option<NaiveDate>,
    /// One unit of the establishment (the people whose stay is there that day).
    pub unit_id: Option<UnitId>,
}

/// Who is away on a day of an establishment (absences keeping someone away at some time of the
/// day, those ended that day included) and the day's appointments: for the day's list and the
/// hand-over. The people the caller sees, whose care team they are.
#[utoipa::path(get, path = "/establishments/{establishment_id}/away", tag = "care",
    params(("establishment_id" = EstablishmentId, Path), AwayParams),
    responses((status = 200, body = AwayDay), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn away(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(establishment): Path<EstablishmentId>,
    Query(params): Query<AwayParams>,
) -> Result<Json<AwayDay>, ApiError> {
    let query = DayQuery { establishment, date: params.date, unit: params.unit_id };
    Ok(Json(absences::day(state.app(), &scope, query).await?))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list_absences, create_absence))
        .routes(routes!(record_return))
        .routes(routes!(cancel_absence))
        .routes(routes!(list_appointments, create_appointment))
        .routes(routes!(appointment_done))
        .routes(routes!(cancel_appointment))
        .routes(routes!(away))
}
