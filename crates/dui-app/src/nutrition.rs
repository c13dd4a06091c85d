//! Nutrition and hydration: the person's diet and textures (versions), the food and fluid watch
//! and the intake recorded at each meal, the days' totals and alerts, and the person's nutrition
//! summary — which takes their weight, BMI and undernutrition criteria from the measurements
//! ([`dui_storage::measurements::nutrition`]), computed there once.
//!
//! The hand-over is told, to the care team, of a change of diet or texture, and of a watch's
//! alerts (little drunk, meals mostly left) when the day after is first recorded.

use chrono::{NaiveDate, Utc};
use dui_domain::audit::AuditAction;
use dui_domain::handover::{HandoverEventKind, NewHandoverEvent};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::nutrition::{
    DietInput, DietPrescription, Intake, IntakeInput, IntakeReport, NewDiet, NewIntake, NewWatch, NutritionSummary,
    NutritionWatch, WatchInput,
};
use dui_domain::record::NoteScope;
use dui_domain::scope::TenantScope;
use dui_domain::{NutritionWatchId, ResidentId};
use dui_storage::{Mode, StoreError, measurements, nutrition, stays};

use crate::access::may_record_care;
use crate::{App, AppError, AppResult};

/// The longest period of intake read at once, in days.
pub const MAX_PERIOD_DAYS: i64 = 92;
/// The days of intake a watch's alerts look back on (the longest food run, and yesterday).
const ALERT_DAYS: u64 = 8;

/// A new version of the person's diet and textures.
#[derive(Debug, Clone)]
pub struct SetDiet {
    pub resident: ResidentId,
    pub diet: DietInput,
    pub key: Option<IdempotencyKey>,
}

/// A watch to start.
#[derive(Debug, Clone)]
pub struct StartWatch {
    pub resident: ResidentId,
    pub watch: WatchInput,
    pub key: Option<IdempotencyKey>,
}

/// What the person ate and drank at a meal.
#[derive(Debug, Clone)]
pub struct RecordIntake {
    pub resident: ResidentId,
    pub intake: IntakeInput,
    pub key: Option<IdempotencyKey>,
}

/// Which days of intake to read.
#[derive(Debug, Clone, Copy)]
pub struct IntakePeriod {
    pub resident: ResidentId,
    /// Default: 13 days before `to`.
    pub from: Option<NaiveDate>,
    /// Default: today.
    pub to: Option<NaiveDate>,
}

fn told(kind: HandoverEventKind, source_type: &'static str, summary: String) -> NewHandoverEvent {
    NewHandoverEvent { kind, source_type, scope: NoteScope::CareTeam, summary, occurred_at: Utc::now() }
}

fn days_before(day: NaiveDate, days: u64) -> NaiveDate {
    day.checked_sub_days(chrono::Days::new(days)).unwrap_or(day)
}

/// Records a new version of the person's diet and textures; a change of diet or texture is told
/// at the hand-over.
pub async fn set_diet(app: &App, scope: &TenantScope, command: SetDiet) -> AppResult<Created<DietPrescription>> {
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record_care(&mut tx, command.resident, AuditAction::DietCreate).await?;
    let today = stays::today(&mut tx, command.resident).await?;
    let new = NewDiet::validate(command.diet, today)?;
    let before = nutrition::latest_diet(&mut tx, command.resident).await?;
    let event =
        new.change(before.as_ref()).map(|summary| told(HandoverEventKind::DietChange, "diet_prescription", summary));
    Ok(nutrition::set_diet(tx, command.key.as_ref(), command.resident, &new, event.as_ref()).await?)
}

/// The person's diets and textures, the one in force first, then the earlier versions.
pub async fn diets(app: &App, scope: &TenantScope, resident: ResidentId) -> AppResult<Vec<DietPrescription>> {
    let tx = app.db().begin(scope, Mode::Write);
    Ok(nutrition::diets(tx, resident).await?)
}

/// Starts a food and fluid watch: one at a time (409 while another goes on).
pub async fn start_watch(app: &App, scope: &TenantScope, command: StartWatch) -> AppResult<Created<NutritionWatch>> {
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record_care(&mut tx, command.resident, AuditAction::NutritionWatchStart).await?;
    // A retry answers what the first request started, before the rule that it now breaks.
    if let Some(key) = &command.key
        && let Some(replayed) = nutrition::replayed_watch(&mut tx, key).await?
    {
        tx.commit().await?;
        return Ok(replayed);
    }
    let today = stays::today(&mut tx, command.resident).await?;
    let new = NewWatch::validate(command.watch, today)?;
    let watches = nutrition::watches_within(&mut tx, command.resident).await?;
    if watches.iter().any(|w| w.in_progress(today)) {
        return Err(AppError::Conflict("A watch is in progress for this person: end it first.".to_owned()));
    }
    Ok(nutrition::start_watch(tx, command.key.as_ref(), command.resident, &new).await?)
}

/// The person's watches, the latest started first.
pub async fn watches(app: &App, scope: &TenantScope, resident: ResidentId) -> AppResult<Vec<NutritionWatch>> {
    let tx = app.db().begin(scope, Mode::Write);
    Ok(nutrition::watches(tx, resident).await?)
}

/// Ends a watch on a day (default: today).
pub async fn end_watch(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: NutritionWatchId,
    ended_on: Option<NaiveDate>,
) -> AppResult<NutritionWatch> {
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record_care(&mut tx, resident, AuditAction::NutritionWatchEnd).await?;
    let watches = nutrition::watches_within(&mut tx, resident).await?;
    let watch = watches.iter().find(|w| w.id == id).ok_or(AppError::NotFound)?;
    if watch.ended_on.is_some() {
        return Err(AppError::Conflict("This watch is ended already.".to_owned()));
    }
    let today = stays::today(&mut tx, resident).await?;
    let on = watch.end_on(ended_on, today)?;
    match nutrition::end_watch(tx, resident, id, on).await {
        Err(StoreError::NotFound) => Err(AppError::Conflict("This watch was ended meanwhile.".to_owned())),
        other => Ok(other?),
    }
}

/// Records what the person ate and drank at a meal of a watched day (recording a meal again
/// corrects it). The day's first record tells the hand-over the watch's alerts standing on the
/// day before (little drunk, meals mostly left): the day before is then over.
pub async fn record_intake(app: &App, scope: &TenantScope, command: RecordIntake) -> AppResult<Created<Intake>> {
    let resident = command.resident;
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record_care(&mut tx, resident, AuditAction::IntakeCreate).await?;
    let today = stays::today(&mut tx, resident).await?;
    let day = command.intake.day.unwrap_or(today);
    let watches = nutrition::watches_within(&mut tx, resident).await?;
    let watch = watches
        .iter()
        .filter(|w| w.covers_day(day))
        .max_by_key(|w| (w.started_on, w.started_at))
        .ok_or_else(|| AppError::invalid("day", "is not a day of a food and fluid watch of this person"))?;
    let new = NewIntake::validate(command.intake, watch, today)?;
    let mut event = None;
    if new.day == today {
        let intakes = nutrition::intakes_within(&mut tx, resident, days_before(today, ALERT_DAYS), today).await?;
        let first_today = !intakes.iter().any(|i| i.watch_id == watch.id && i.day == today);
        let alerts = dui_domain::nutrition::alerts(&watches, &intakes, today);
        if first_today && !alerts.is_empty() {
            let summary = alerts.iter().map(|a| a.summary.as_str()).collect::<Vec<_>>().join(" ; ");
            event = Some(told(HandoverEventKind::IntakeAlert, "nutrition_intake", summary));
        }
    }
    Ok(nutrition::record_intake(tx, command.key.as_ref(), resident, watch.id, &new, event.as_ref()).await?)
}

/// The person's watched days in a period (at most 92 days; default the last two weeks): each
/// meal, the day's totals — the chart's series — and the alerts standing today.
pub async fn intakes(app: &App, scope: &TenantScope, query: IntakePeriod) -> AppResult<IntakeReport> {
    let mut tx = app.db().begin(scope, Mode::Write);
    let today = stays::today(&mut tx, query.resident).await?;
    let to = query.to.unwrap_or(today);
    let from = query.from.unwrap_or_else(|| days_before(to, 13));
    if to < from || (to - from).num_days() >= MAX_PERIOD_DAYS {
        return Err(AppError::invalid("to", "must be from `from` on, at most 92 days"));
    }
    let (watches, intakes) =
        nutrition::intakes(tx, query.resident, from.min(days_before(today, ALERT_DAYS)), to.max(today)).await?;
    Ok(dui_domain::nutrition::report(&watches, &intakes, from, to, today))
}

/// The person's nutrition at a glance: the diet and textures in force, the watch (in progress,
/// else the latest), the last seven days watched and the alerts standing, and what their latest
/// weight shows (BMI, losses, the HAS undernutrition criteria — the measurements' status).
/// Recorded as one reading.
pub async fn summary(app: &App, scope: &TenantScope, resident: ResidentId) -> AppResult<NutritionSummary> {
    let mut tx = app.db().begin(scope, Mode::Write);
    let today = stays::today(&mut tx, resident).await?;
    let (diet, watches, intakes) =
        nutrition::summary_within(&mut tx, resident, days_before(today, ALERT_DAYS), today).await?;
    // Read last: its statement records the reading, or its refusal.
    let history = measurements::nutrition(tx, resident, AuditAction::NutritionRead).await?;
    let report = dui_domain::nutrition::report(&watches, &intakes, days_before(today, 6), today, today);
    let watch = watches.iter().find(|w| w.in_progress(today)).or(watches.first()).cloned();
    Ok(NutritionSummary {
        resident_id: resident,
        diet,
        watch,
        recent_days: report.days,
        alerts: report.alerts,
        weight: history.status(resident),
    })
}
