//! Measurements (constantes): recorded with physiological bounds and out-of-range flags, read as
//! series for charts, flagged (with a reason) when entered in error. Weights carry the
//! undernutrition criteria they meet (HAS), and a person's nutrition status is what their latest
//! weight shows.

use chrono::{DateTime, Utc};
use dui_domain::audit::AuditAction;
use dui_domain::handover::{HandoverEventKind, NewHandoverEvent};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::measurement::nutrition::{History, NutritionReading, NutritionStatus};
use dui_domain::measurement::{Measurement, MeasurementInput, MeasurementKind, MeasurementValue, NewMeasurement};
use dui_domain::period::TimeBound;
use dui_domain::record::NoteScope;
use dui_domain::scope::TenantScope;
use dui_domain::{MeasurementId, ResidentId};
use dui_storage::{Mode, measurements};

use crate::access::may_record_care;
use crate::{App, AppError, AppResult};

/// A measurement to record.
#[derive(Debug, Clone)]
pub struct RecordMeasurement {
    pub resident: ResidentId,
    pub measurement: MeasurementInput,
    /// When it was measured (default: now).
    pub measured_at: Option<DateTime<Utc>>,
    pub key: Option<IdempotencyKey>,
}

/// Which measurements to read.
#[derive(Debug, Clone, Copy)]
pub struct Series {
    pub resident: ResidentId,
    pub kind: Option<MeasurementKind>,
    /// A day (from its first hour in the establishment's calendar) or an instant.
    pub from: Option<TimeBound>,
    /// A day (included) or an instant (excluded).
    pub to: Option<TimeBound>,
}

/// The undernutrition criteria of a weight not entered in error, from the person's history.
fn assess(measurement: &mut Measurement, history: &History) {
    if let (MeasurementKind::Weight, None, MeasurementValue::Single(value)) =
        (measurement.kind, measurement.entered_in_error_at, measurement.reference.value)
    {
        let weight = NutritionReading { id: measurement.id, measured_at: measurement.measured_at, value };
        measurement.nutrition = Some(history.assess(&weight));
    }
}

/// Records a measurement. A value outside physiological bounds is invalid; a value outside the
/// usual range is recorded and flagged `low` or `high`; a weight comes with the undernutrition
/// criteria it meets against the weights measured before it.
pub async fn record(app: &App, scope: &TenantScope, command: RecordMeasurement) -> AppResult<Created<Measurement>> {
    let new = NewMeasurement::validate(command.measurement)?;
    let now = Utc::now();
    let measured_at = command.measured_at.unwrap_or(now);
    if measured_at > now + chrono::Duration::minutes(5) {
        return Err(AppError::invalid("measured_at", "is in the future"));
    }
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record_care(&mut tx, command.resident, AuditAction::MeasurementCreate).await?;
    // A value outside its usual range is told at the hand-over, to the care team.
    let event = new.handover_summary().map(|summary| NewHandoverEvent {
        kind: HandoverEventKind::AbnormalMeasurement,
        source_type: "measurement",
        scope: NoteScope::CareTeam,
        summary,
        occurred_at: measured_at,
    });
    // A weight showing undernutrition the one before did not (or a more severe one) is told to
    // the care team too; a weight has no usual range, so it is the only event it can make.
    let event = match (new.kind, new.reference.value) {
        (MeasurementKind::Weight, MeasurementValue::Single(value)) => {
            let history = measurements::history_at(&mut tx, command.resident, measured_at).await?;
            let weight = NutritionReading { id: MeasurementId::from_uuid(uuid::Uuid::now_v7()), measured_at, value };
            history.worsened_by(&weight).map(|summary| NewHandoverEvent {
                kind: HandoverEventKind::Undernutrition,
                source_type: "measurement",
                scope: NoteScope::CareTeam,
                summary,
                occurred_at: measured_at,
            })
        }
        _ => event,
    };
    let (mut created, history) =
        measurements::record(tx, command.key.as_ref(), command.resident, &new, measured_at, event.as_ref()).await?;
    assess(&mut created.value, &history);
    Ok(created)
}

/// A person's measurements (of one kind, in a period), oldest first: the series for charts,
/// weights with their undernutrition criteria.
pub async fn series(app: &App, scope: &TenantScope, query: Series) -> AppResult<Vec<Measurement>> {
    let mut tx = app.db().begin(scope, Mode::Write);
    let [from, to] = crate::period::resolve(&mut tx, query.resident, [query.from, query.to]).await?;
    if let (Some(from), Some(to)) = (from, to)
        && to <= from
    {
        return Err(AppError::invalid("to", "is not after from"));
    }
    let (mut series, history) =
        measurements::series(tx, query.resident, query.kind, from, to, AuditAction::MeasurementRead).await?;
    for measurement in &mut series {
        assess(measurement, &history);
    }
    Ok(series)
}

/// A person's nutrition status: their latest weight (not entered in error), with its BMI, its
/// losses over one and six months and the undernutrition criteria met, from the measurements
/// the caller reads. Recorded as a reading of their measurements.
pub async fn nutrition_status(app: &App, scope: &TenantScope, resident: ResidentId) -> AppResult<NutritionStatus> {
    let tx = app.db().begin(scope, Mode::Write);
    let history = measurements::nutrition(tx, resident, AuditAction::MeasurementRead).await?;
    Ok(history.status(resident))
}

/// Flags a measurement as entered in error (wrong person, wrong figure...): it stays, flagged,
/// with who, when and why. The reason is required.
pub async fn flag_error(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: MeasurementId,
    reason: &str,
) -> AppResult<Measurement> {
    let reason = dui_domain::measurement::error_reason(reason)?;
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record_care(&mut tx, resident, AuditAction::MeasurementFlagError).await?;
    Ok(measurements::flag_error(tx, resident, id, &reason).await?)
}
