//! Restraint (contention): prescriptions, reassessments at least every 24 hours (the day's
//! tasks list those due), stops, and an establishment's overdue list.

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use dui_app::restraints::{self, Prescribe, Reassess, Stop};
use dui_domain::restraint::{
    Agitation, Conditions, ConsentStatus, ExternalPrescriber, Observations, OverdueRestraint, PrescriptionInput,
    Reassessment, ReassessmentOutcome, Restraint, RestraintKind, SkinState,
};
use dui_domain::{EstablishmentId, ResidentId, RestraintId};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{CreateRequest, IdempotencyHeader, Json, Path, created};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRestraint {
    pub kind: RestraintKind,
    /// The device, when `kind` is `other` (required then).
    #[schema(max_length = 200)]
    pub device: Option<String>,
    /// An external physician's prescription, recorded by a nurse or the coordinating physician.
    /// Without it, the caller prescribes (a coordinating physician).
    pub external_prescriber: Option<ExternalPrescriber>,
    /// The prescription's date (default: today).
    pub prescribed_on: Option<NaiveDate>,
    /// Default: now; at most 24 hours ago (applied in an emergency, prescribed since).
    pub starts_at: Option<DateTime<Utc>>,
    /// Required: at most 7 days after the start. A renewal is a new prescription.
    pub planned_end_at: DateTime<Utc>,
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
    pub conditions: Conditions,
    /// The prescription this one renews or changes (not ended): it ends when this one starts.
    pub replaces: Option<RestraintId>,
}

/// Prescribes a restraint (the coordinating physician, who is then the prescriber) or records
/// an external physician's prescription (a nurse, or the coordinating physician). Time-limited:
/// at most 7 days. With `replaces`, renews or changes a prescription, which ends when this one
/// starts.
#[utoipa::path(post, path = "/residents/{resident_id}/restraints", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateRestraint,
    responses((status = 201, body = Restraint), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_restraint(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateRestraint>,
) -> Result<Response, ApiError> {
    let prescription = PrescriptionInput {
        kind: Some(body.kind),
        device: body.device,
        external_prescriber: body.external_prescriber,
        prescribed_on: body.prescribed_on,
        starts_at: body.starts_at,
        planned_end_at: Some(body.planned_end_at),
        reason: Some(body.reason),
        conditions: Some(body.conditions),
    };
    let command = Prescribe { resident, prescription, replaces: body.replaces, key };
    Ok(created(restraints::prescribe(state.app(), &scope, command).await?))
}

/// The person's restraints, newest first, each with its reassessments, where it stands
/// (planned, in force, expired, ended) and when the next reassessment is due. The care team's:
/// others get an empty list.
#[utoipa::path(get, path = "/residents/{resident_id}/restraints", tag = "care",
    params(("resident_id" = ResidentId, Path)),
    responses((status = 200, body = Vec<Restraint>), (status = 404, body = Problem)))]
pub async fn list_restraints(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
) -> Result<Json<Vec<Restraint>>, ApiError> {
    Ok(Json(restraints::list(state.app(), &scope, resident).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReassessment {
    /// Default: now.
    pub assessed_at: Option<DateTime<Utc>>,
    pub outcome: ReassessmentOutcome,
    pub skin: SkinState,
    pub agitation: Agitation,
    /// The person's consent or refusal.
    pub consent: ConsentStatus,
    /// Required to stop or change: why.
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

/// Records a reassessment (nurses, physicians): due at least every 24 hours. `stop` ends the
/// restraint; `change` leaves it in force until the prescriber replaces it. 409 on a restraint
/// not started or ended, and on an expired one unless it stops it.
#[utoipa::path(post, path = "/residents/{resident_id}/restraints/{restraint_id}/reassessments", tag = "care",
    params(("resident_id" = ResidentId, Path), ("restraint_id" = RestraintId, Path), IdempotencyHeader),
    request_body = CreateReassessment,
    responses((status = 201, body = Reassessment), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_reassessment(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, restraint)): Path<(ResidentId, RestraintId)>,
    CreateRequest { body, key }: CreateRequest<CreateReassessment>,
) -> Result<Response, ApiError> {
    let command = Reassess {
        resident,
        restraint,
        assessed_at: body.assessed_at,
        outcome: body.outcome,
        observations: Observations {
            skin: body.skin,
            agitation: body.agitation,
            consent: body.consent,
            comment: body.comment,
        },
        key,
    };
    Ok(created(restraints::reassess(state.app(), &scope, command).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopRestraint {
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
    /// Default: now; not before the start, not in the future.
    pub ended_at: Option<DateTime<Utc>>,
}

/// Stops a restraint, with a reason (nurses, physicians). 409 when it has ended already.
#[utoipa::path(post, path = "/residents/{resident_id}/restraints/{restraint_id}/stop", tag = "care",
    params(("resident_id" = ResidentId, Path), ("restraint_id" = RestraintId, Path)), request_body = StopRestraint,
    responses((status = 200, body = Restraint), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn stop_restraint(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, restraint)): Path<(ResidentId, RestraintId)>,
    Json(body): Json<StopRestraint>,
) -> Result<Json<Restraint>, ApiError> {
    let command = Stop { resident, restraint, reason: body.reason, ended_at: body.ended_at };
    Ok(Json(restraints::stop(state.app(), &scope, command).await?))
}

/// The establishment's restraints overdue for reassessment (none for more than 24 hours) or
/// expired (past their planned end, not stopped), of the people the caller sees and whose care
/// team they are; those of people away are left out.
#[utoipa::path(get, path = "/establishments/{establishment_id}/restraints/overdue", tag = "care",
    params(("establishment_id" = EstablishmentId, Path)),
    responses((status = 200, body = Vec<OverdueRestraint>), (status = 404, body = Problem)))]
pub async fn overdue_restraints(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(establishment): Path<EstablishmentId>,
) -> Result<Json<Vec<OverdueRestraint>>, ApiError> {
    Ok(Json(restraints::overdue(state.app(), &scope, establishment).await?))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list_restraints, create_restraint))
        .routes(routes!(create_reassessment))
        .routes(routes!(stop_restraint))
        .routes(routes!(overdue_restraints))
}
