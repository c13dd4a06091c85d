//! Measurements (constantes): recording, with plausibility checks and out-of-range flags, the
//! series of a person for charts, and flagging an entry made in error.

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use dui_domain::measurement::{Measurement, MeasurementInput, MeasurementKind, NewMeasurement};
use dui_domain::policy;
use dui_domain::{MeasurementId, ResidentId, ValidationErrors};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::TenantAuth;
use crate::extract::{CreateRequest, IdempotencyHeader, Json, Path, Query, created};
use crate::problem::{ApiError, Problem};
use crate::routes::residents::{acting_establishments, refuse};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMeasurement {
    #[serde(flatten)]
    pub measurement: MeasurementInput,
    /// When it was measured (default: now).
    pub measured_at: Option<DateTime<Utc>>,
}

/// May record care data about the person: the care and support professionals where the person
/// is supported.
async fn may_record(
    state: &AppState,
    scope: &dui_domain::scope::TenantScope,
    resident: ResidentId,
    action: &str,
) -> Result<(), ApiError> {
    let establishments = acting_establishments(state, scope, resident, action).await?;
    // Clinical data: those who assess and read the care team's notes there.
    if !policy::can_assess(scope, &establishments)
        || !policy::can_write_note(scope, &establishments, dui_domain::record::NoteScope::CareTeam)
    {
        return Err(refuse(state, scope, action, resident, "record care data").await);
    }
    Ok(())
}

/// Records a measurement. An implausible value is a 422 naming the field; a value outside the
/// usual range is recorded and flagged `low` or `high`.
#[utoipa::path(post, path = "/residents/{resident_id}/measurements", tag = "care",
    params(("resident_id" = ResidentId, Path), IdempotencyHeader), request_body = CreateMeasurement,
    responses((status = 201, body = Measurement), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create_measurement(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    CreateRequest { body, key }: CreateRequest<CreateMeasurement>,
) -> Result<Response, ApiError> {
    let new = NewMeasurement::validate(body.measurement)?;
    let measured_at = body.measured_at.unwrap_or_else(Utc::now);
    if measured_at > Utc::now() + chrono::Duration::minutes(5) {
        return Err(ValidationErrors::single("measured_at", "is in the future").into());
    }
    may_record(&state, &scope, resident, "measurement.create").await?;
    Ok(created(state.db().add_measurement(&scope, key.as_ref(), resident, &new, measured_at).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SeriesParams {
    pub kind: Option<MeasurementKind>,
    /// From (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// To (exclusive).
    pub to: Option<DateTime<Utc>>,
}

/// A person's measurements (of one kind, in a period), oldest first: the series for charts.
/// At most 5,000 points; entries made in error are included, flagged.
#[utoipa::path(get, path = "/residents/{resident_id}/measurements", tag = "care",
    params(("resident_id" = ResidentId, Path), SeriesParams),
    responses((status = 200, body = Vec<Measurement>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn list_measurements(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    Query(params): Query<SeriesParams>,
) -> Result<Json<Vec<Measurement>>, ApiError> {
    if let (Some(from), Some(to)) = (params.from, params.to)
        && to <= from
    {
        return Err(ValidationErrors::single("to", "is not after from").into());
    }
    Ok(Json(state.db().measurement_series(&scope, resident, params.kind, params.from, params.to).await?))
}

/// Flags a measurement as entered in error: it stays, flagged, with who and when.
#[utoipa::path(post, path = "/residents/{resident_id}/measurements/{measurement_id}/entered-in-error", tag = "care",
    params(("resident_id" = ResidentId, Path), ("measurement_id" = MeasurementId, Path)),
    responses((status = 200, body = Measurement), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn flag_measurement(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, MeasurementId)>,
) -> Result<Json<Measurement>, ApiError> {
    may_record(&state, &scope, resident, "measurement.flag_error").await?;
    Ok(Json(state.db().flag_measurement_error(&scope, resident, id).await?))
}
