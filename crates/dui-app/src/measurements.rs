//! Measurements (constantes): recorded with plausibility checks and out-of-range flags, read as
//! series for charts, flagged when entered in error.

use chrono::{DateTime, Utc};
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::measurement::{Measurement, MeasurementInput, MeasurementKind, NewMeasurement};
use dui_domain::policy;
use dui_domain::record::NoteScope;
use dui_domain::scope::TenantScope;
use dui_domain::{MeasurementId, ResidentId};
use dui_storage::{Mode, Tx, measurements};

use crate::access::{acting, refuse};
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
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// May record care data about the person: those who assess and read the care team's notes
/// where the person is supported.
async fn may_record(tx: &mut Tx<'_>, resident: ResidentId, action: AuditAction) -> AppResult<()> {
    let establishments = acting(tx, resident, action).await?;
    let scope = tx.scope()?;
    if !policy::can_assess(scope, &establishments)
        || !policy::can_write_note(scope, &establishments, NoteScope::CareTeam)
    {
        return Err(refuse(tx, action, resident, "record care data").await);
    }
    Ok(())
}

/// Records a measurement. An implausible value is invalid; a value outside the usual range is
/// recorded and flagged `low` or `high`.
pub async fn record(app: &App, scope: &TenantScope, command: RecordMeasurement) -> AppResult<Created<Measurement>> {
    let new = NewMeasurement::validate(command.measurement)?;
    let now = Utc::now();
    let measured_at = command.measured_at.unwrap_or(now);
    if measured_at > now + chrono::Duration::minutes(5) {
        return Err(AppError::invalid("measured_at", "is in the future"));
    }
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record(&mut tx, command.resident, AuditAction::MeasurementCreate).await?;
    Ok(measurements::record(tx, command.key.as_ref(), command.resident, &new, measured_at).await?)
}

/// A person's measurements (of one kind, in a period), oldest first: the series for charts.
pub async fn series(app: &App, scope: &TenantScope, query: Series) -> AppResult<Vec<Measurement>> {
    if let (Some(from), Some(to)) = (query.from, query.to)
        && to <= from
    {
        return Err(AppError::invalid("to", "is not after from"));
    }
    let tx = app.db().begin(scope, Mode::Write);
    Ok(measurements::series(tx, query.resident, query.kind, query.from, query.to, AuditAction::MeasurementRead).await?)
}

/// Flags a measurement as entered in error: it stays, flagged, with who and when.
pub async fn flag_error(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: MeasurementId,
) -> AppResult<Measurement> {
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record(&mut tx, resident, AuditAction::MeasurementFlagError).await?;
    Ok(measurements::flag_error(tx, resident, id).await?)
}
