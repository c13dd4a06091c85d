//! Alerts and allergies: what every screen of a record shows first. Allergies and intolerances,
//! major alerts from a closed list; recorded, resolved or ended, flagged when entered in error;
//! read together, the most severe first.

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use dui_app::alerts::{self, RecordAlert, RecordAllergy};
use dui_domain::alert::{
    AlertEntry, AlertInput, AlertKind, Allergy, AllergyInput, AllergyKind, AllergySeverity, AllergySource, MajorAlert,
    Precaution, SubstanceCode,
};
use dui_domain::record::NoteScope;
use dui_domain::{AlertId, AllergyId, ResidentId};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{CreateRequest, IdempotencyHeader, Json, Path, Query, created};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Which entries a list holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertFilter {
    /// Those in force (the default).
    #[default]
    Active,
    /// Every entry: resolved, ended and entered in error included (each with its status).
    All,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlertsParams {
    #[param(inline)]
    pub status: Option<AlertFilter>,
}

/// A person's allergies and major alerts that you may read, in one list, the most severe first
/// (`level`: a life-threatening allergy is `critical`; a swallowing disorder, an anticoagulant
/// treatment, isolation precautions or a wandering risk `high`...): what a screen shows before
/// anything else on every page of the record. Those in force, or `status=all`.
#[utoipa::path(get, path = "/residents/{resident_id}/alerts", tag = "care",
    params(("resident_id" = ResidentId, Path), AlertsParams),
    responses((status = 200, body = Vec<AlertEntry>), (status = 404, body = Problem)))]
pub async fn list_alerts(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    Query(params): Query<AlertsParams>,
) -> Result<Json<Vec<AlertEntry>>, ApiError> {
    let all = params.status.unwrap_or_default() == AlertFilter::All;
    Ok(Json(alerts::list(state.app(), &scope, resident, all).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAllergy {
    /// An allergy (immune) or an intolerance.
    pub kind: AllergyKind,
    /// What the person reacts to, as said ("Pénicilline", "Arachide", "Latex").
    #[schema(max_length = 200)]
    pub substance: String,
    /// Its code, when known (ATC, CIP 13, UCD, SNOMED CT).
    pub substance_code: Option<SubstanceCode>,
    /// What the reaction is, or was.
    #[schema(max_length = 2000)]
    pub reaction: Option<String>,
    pub severity: AllergySeverity,
    /// Where it is known from.
    pub source: AllergySource,
    /// Who may read it: the care team by default; `whole_team` when those outside it must know
    /// (a food allergy for the home helper who cooks); `medical`.
    pub scope: Option<NoteScope>,
}

/// Records an allergy or intolerance. Its substance is kept as typed and normalised (lower case,
/// without accents) for a medication check. By those who give care, in a scope they read.
#[utoipa::path(post, path = "/residents/{resident_id}/allergies", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateAllergy,
    responses((status = 201, body = Allergy), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_allergy(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateAllergy>,
) -> Result<Response, ApiError> {
    let allergy = AllergyInput {
        kind: body.kind,
        substance: body.substance,
        substance_code: body.substance_code,
        reaction: body.reaction,
        severity: body.severity,
        source: body.source,
        scope: body.scope,
    };
    Ok(created(alerts::record_allergy(state.app(), &scope, RecordAllergy { resident, allergy, key }).await?))
}

/// Resolves an allergy in force (no longer present): it stays, resolved, with who and when.
#[utoipa::path(post, path = "/residents/{resident_id}/allergies/{allergy_id}/resolve", tag = "care",
    params(("resident_id" = ResidentId, Path), ("allergy_id" = AllergyId, Path)),
    responses((status = 200, body = Allergy), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem)))]
pub async fn resolve_allergy(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, AllergyId)>,
) -> Result<Json<Allergy>, ApiError> {
    Ok(Json(alerts::resolve_allergy(state.app(), &scope, resident, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagEntryError {
    /// Why (wrong person, recorded twice...).
    #[schema(max_length = 2000)]
    pub reason: String,
}

/// Flags an allergy as entered in error: it is never deleted, it stays flagged with who, when and
/// why, and is no longer in force.
#[utoipa::path(post, path = "/residents/{resident_id}/allergies/{allergy_id}/entered-in-error", tag = "care",
    params(("resident_id" = ResidentId, Path), ("allergy_id" = AllergyId, Path)), request_body = FlagEntryError,
    responses((status = 200, body = Allergy), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn flag_allergy(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, AllergyId)>,
    Json(body): Json<FlagEntryError>,
) -> Result<Json<Allergy>, ApiError> {
    Ok(Json(alerts::flag_allergy(state.app(), &scope, resident, id, &body.reason).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAlert {
    pub kind: AlertKind,
    /// Required for isolation precautions (and only for them).
    pub precautions: Option<Vec<Precaution>>,
    /// Required for another alert (and only for it): what it is.
    #[schema(max_length = 200)]
    pub label: Option<String>,
    /// Where the advance directives are, which device, what to do...
    #[schema(max_length = 2000)]
    pub detail: Option<String>,
    /// Who may read it: the care team by default; `whole_team` when those outside it must know
    /// (a wandering risk, a swallowing disorder for whoever serves a meal); `medical`.
    pub scope: Option<NoteScope>,
    /// Since when (default: now; not in the future).
    pub starts_at: Option<DateTime<Utc>>,
    /// Until when, if known (an isolation for ten days).
    pub ends_at: Option<DateTime<Utc>>,
}

/// Records a major alert: a swallowing disorder, a fall risk, a wandering risk, an anticoagulant
/// treatment, an implanted device, isolation precautions, advance directives, or another.
#[utoipa::path(post, path = "/residents/{resident_id}/alerts", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateAlert,
    responses((status = 201, body = MajorAlert), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_alert(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateAlert>,
) -> Result<Response, ApiError> {
    let alert = AlertInput {
        kind: body.kind,
        precautions: body.precautions.unwrap_or_default(),
        label: body.label,
        detail: body.detail,
        scope: body.scope,
        starts_at: body.starts_at,
        ends_at: body.ends_at,
    };
    Ok(created(alerts::record_alert(state.app(), &scope, RecordAlert { resident, alert, key }).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndAlert {
    /// When it ended (default: now; not in the future, after its start).
    pub ends_at: Option<DateTime<Utc>>,
}

/// Ends an alert in force: it stays, ended, with who ended it.
#[utoipa::path(post, path = "/residents/{resident_id}/alerts/{alert_id}/end", tag = "care",
    params(("resident_id" = ResidentId, Path), ("alert_id" = AlertId, Path)), request_body = EndAlert,
    responses((status = 200, body = MajorAlert), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn end_alert(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, AlertId)>,
    Json(body): Json<EndAlert>,
) -> Result<Json<MajorAlert>, ApiError> {
    Ok(Json(alerts::end_alert(state.app(), &scope, resident, id, body.ends_at).await?))
}

/// Flags an alert as entered in error: it stays flagged with who, when and why, and is no longer
/// in force.
#[utoipa::path(post, path = "/residents/{resident_id}/alerts/{alert_id}/entered-in-error", tag = "care",
    params(("resident_id" = ResidentId, Path), ("alert_id" = AlertId, Path)), request_body = FlagEntryError,
    responses((status = 200, body = MajorAlert), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn flag_alert(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, AlertId)>,
    Json(body): Json<FlagEntryError>,
) -> Result<Json<MajorAlert>, ApiError> {
    Ok(Json(alerts::flag_alert(state.app(), &scope, resident, id, &body.reason).await?))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list_alerts, create_alert))
        .routes(routes!(end_alert))
        .routes(routes!(flag_alert))
        .routes(routes!(create_allergy))
        .routes(routes!(resolve_allergy))
        .routes(routes!(flag_allergy))
}
