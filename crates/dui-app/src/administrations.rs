//! Medication rounds: the administration plan of a day (or of one round) for an establishment or
//! a unit, made from the prescriptions' versions in force, and the record of each dose — given,
//! partly given, refused, not given (why) — as a nurse's administration or a care assistant's
//! help with taking. A dose not given as prescribed is told to the hand-over. Nothing is
//! deleted: a record entered in error is flagged, and its dose is owed again.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use dui_domain::administration::{
    Administration, AdministrationInput, AsNeeded, DoseContext, DosePlan, DoseState, DueDose, NewAdministration,
    Outcome, PlannedDose, dose_state, helpable, in_force_at, is_day_of, planned_doses, suspend_while_away, warnings,
};
use dui_domain::audit::AuditAction;
use dui_domain::handover;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::period::TimeBound;
use dui_domain::policy;
use dui_domain::prescription::{Dose, Moment, Schedule};
use dui_domain::record::free_text;
use dui_domain::scope::TenantScope;
use dui_domain::{AdministrationId, EstablishmentId, ResidentId, UnitId};
use dui_storage::administrations::{self as store, DayVersion, Recording};
use dui_storage::{Mode, StoreError, absences, alerts};

use crate::access::{acting, changeable, refuse};
use crate::{App, AppError, AppResult};

/// Which doses of which day.
#[derive(Debug, Clone, Copy)]
pub struct PlanQuery {
    pub establishment: EstablishmentId,
    /// The day, in the establishment's calendar (default: today there).
    pub date: Option<NaiveDate>,
    pub unit: Option<UnitId>,
    /// One person's doses.
    pub resident: Option<ResidentId>,
    /// One round of the day.
    pub round: Option<Moment>,
    /// Only the doses in this state.
    pub state: Option<DoseState>,
}

/// A dose to record.
#[derive(Debug, Clone)]
pub struct RecordDose {
    pub resident: ResidentId,
    pub dose: AdministrationInput,
    pub key: Option<IdempotencyKey>,
}

/// A planned dose before its local time is an instant.
struct Pending<'a> {
    version: &'a DayVersion,
    line: usize,
    dose: PlannedDose,
}

/// The administration plan of a day, or of one of its rounds: each planned dose of the people
/// staying in the establishment (or the unit) whom the caller sees, from the version of their
/// prescriptions in force at its time, with its warnings (the version's flags, and the allergies
/// in force now), what was recorded and where it
/// stands (pending, due, late, missed, given..., suspended while the person is away); and the
/// lines given if needed with what was given of them that day. Each person listed is recorded as
/// read.
pub async fn plan(app: &App, scope: &TenantScope, query: PlanQuery) -> AppResult<DosePlan> {
    let establishment = query.establishment;
    if !scope.resident_access().reaches(establishment) {
        return Err(AppError::NotFound);
    }
    crate::structure::get_establishment(app, scope, establishment).await?;
    let now = Utc::now();
    let mut tx = app.db().begin(scope, Mode::Write);
    let missed_after = dui_storage::settings::get(&mut tx).await?.missed_after();
    let day = match query.date {
        Some(day) => day,
        None => dui_storage::care_tasks::local_times(&mut tx, establishment, &[now]).await?[0].date(),
    };
    let versions = store::day_versions(&mut tx, establishment, query.unit, query.resident, day).await?;
    // The warnings: each version's flags, and the allergies in force now (recorded since, too).
    let mut listed: Vec<ResidentId> = versions.iter().map(|v| v.resident.id).collect();
    listed.sort();
    listed.dedup();
    let allergies = alerts::allergies_in_force_of(&mut tx, &listed).await?;
    let allergies_of = |resident: ResidentId| -> Vec<dui_domain::alert::Allergy> {
        allergies.iter().filter(|a| a.resident_id == resident).cloned().collect()
    };
    let mut pending = Vec::new();
    for version in &versions {
        for (line, content) in version.version.lines.iter().enumerate() {
            for dose in planned_doses(content, day) {
                if query.round.is_none_or(|round| round == dose.round) {
                    pending.push(Pending { version, line, dose });
                }
            }
        }
    }
    let midnight = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN);
    let next_day = day.succ_opt().ok_or_else(|| AppError::invalid("date", "is the last day of the calendar"))?;
    let mut locals: Vec<NaiveDateTime> = vec![midnight(day), midnight(next_day)];
    locals.extend(pending.iter().map(|p| day.and_time(p.dose.at)));
    let instants = store::instants(&mut tx, establishment, &locals).await?;
    let (starts, ends) = (instants[0], instants[1]);
    let records = store::day_records(&mut tx, establishment, day, (starts, ends)).await?;
    let mut planned_records: HashMap<(uuid::Uuid, u32, String), Administration> = HashMap::new();
    let mut as_needed_records: Vec<Administration> = Vec::new();
    for record in records {
        match &record.slot {
            Some(slot) => {
                let key = (record.prescription_version_id.as_uuid(), record.line, slot.clone());
                planned_records.insert(key, record);
            }
            None => as_needed_records.push(record),
        }
    }
    let mut doses = Vec::with_capacity(pending.len());
    for (Pending { version: day_version, line, dose }, due_at) in pending.into_iter().zip(instants[2..].iter().copied())
    {
        let version = &day_version.version;
        if !in_force_at(version.recorded_at, day_version.in_force_until, due_at) {
            // Before this version was in force, or after: not its dose.
            continue;
        }
        let content = &version.lines[line];
        let administration = planned_records.remove(&(version.id.as_uuid(), content.number, dose.slot.clone()));
        doses.push(DueDose {
            resident: day_version.resident.clone(),
            prescription_id: version.prescription_id,
            prescription_version_id: version.id,
            line: content.number,
            drug: content.drug.denomination.clone(),
            dose: Dose { quantity: dose.quantity, unit: content.dose.unit.clone() },
            route: content.route,
            crushable: content.crushable,
            notes: content.notes.clone(),
            due_on: day,
            slot: dose.slot,
            round: dose.round,
            due_at,
            state: dose_state(due_at, administration.as_ref().map(|a| a.outcome), now, missed_after),
            nurse_only: !helpable(content.route),
            warnings: warnings(content, &version.flags, &allergies_of(day_version.resident.id)),
            administration,
        });
    }
    // The lines given if needed of the versions in force at the end of the day (or now).
    let moment = now.min(ends - TimeDelta::seconds(1));
    let mut if_needed = Vec::new();
    for day_version in &versions {
        let version = &day_version.version;
        if !in_force_at(version.recorded_at, day_version.in_force_until, moment) {
            continue;
        }
        for content in &version.lines {
            let Schedule::IfNeeded { max_per_day, min_interval_hours, condition } = &content.schedule else {
                continue;
            };
            if !is_day_of(content, day) {
                continue;
            }
            let given: Vec<&Administration> = as_needed_records
                .iter()
                .filter(|a| a.prescription_id == version.prescription_id && a.drug == content.drug.denomination)
                .filter(|a| matches!(a.outcome, Outcome::Given | Outcome::PartlyGiven))
                .collect();
            if_needed.push(AsNeeded {
                resident: day_version.resident.clone(),
                prescription_id: version.prescription_id,
                prescription_version_id: version.id,
                line: content.number,
                drug: content.drug.denomination.clone(),
                dose: content.dose.clone(),
                route: content.route,
                condition: condition.clone(),
                max_per_day: *max_per_day,
                min_interval_hours: *min_interval_hours,
                given: given.len() as u32,
                last_given_at: given.iter().map(|a| a.given_at).max(),
                nurse_only: !helpable(content.route),
                warnings: warnings(content, &version.flags, &allergies_of(day_version.resident.id)),
            });
        }
    }
    let mut residents: Vec<ResidentId> = doses.iter().map(|d| d.resident.id).collect();
    residents.sort();
    residents.dedup();
    let periods = absences::away_periods(&mut tx, &residents, starts, ends, now).await?;
    suspend_while_away(&mut doses, &periods);
    tx.commit().await?;
    if let Some(wanted) = query.state {
        doses.retain(|d| d.state == wanted);
    }
    doses.sort_by(|a, b| {
        (a.due_at, &a.resident.family_name, &a.resident.given_name, a.resident.id, a.line).cmp(&(
            b.due_at,
            &b.resident.family_name,
            &b.resident.given_name,
            b.resident.id,
            b.line,
        ))
    });
    if_needed.sort_by(|a, b| {
        (&a.resident.family_name, &a.resident.given_name, a.resident.id, a.line).cmp(&(
            &b.resident.family_name,
            &b.resident.given_name,
            b.resident.id,
            b.line,
        ))
    });
    Ok(DosePlan { date: day, round: query.round, doses, if_needed })
}

/// Records a dose: a planned dose of the day (named by its version, line, day and slot, as the
/// plan lists it) or a dose of a line given if needed. The act is the recorder's (a nurse
/// administers, a care assistant helps with taking, by the routes that allow it); a line with
/// warnings (the version's flags, an allergy recorded since) asks for `confirm` to be recorded
/// given; a line given if needed keeps to its maximum per day and its interval. A planned dose is
/// recorded once (409 when it is already). A dose not given as prescribed is told to the
/// hand-over. A retry with the same idempotency key answers the record made.
pub async fn record(app: &App, scope: &TenantScope, command: RecordDose) -> AppResult<Created<Administration>> {
    let (resident, action, input) = (command.resident, AuditAction::AdministrationCreate, command.dose);
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let Some(act) = policy::administration_act(scope, &establishments) else {
        return Err(refuse(&mut tx, action, resident, "record a dose").await);
    };
    if let Some(replayed) = store::replayed(&mut tx, command.key.as_ref()).await? {
        tx.commit().await?;
        return Ok(replayed);
    }
    let (version, until) = match store::version_for_dose(&mut tx, resident, input.prescription_version_id).await {
        Err(StoreError::NotFound) => {
            return Err(AppError::invalid(
                "prescription_version_id",
                "is not a prescription of this person that you read",
            ));
        }
        other => other?,
    };
    let Some(line) = version.lines.iter().find(|l| l.number == input.line) else {
        return Err(AppError::invalid(
            "line",
            &format!("is not a line of this version (its lines: 1 to {})", version.lines.len()),
        ));
    };
    let establishment = version.establishment_id;
    let now = Utc::now();
    let utc = |at: DateTime<Utc>| at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let planned = match (&line.schedule, input.due_on, input.slot.as_deref()) {
        (Schedule::IfNeeded { .. }, _, _) => None,
        (_, Some(day), Some(slot)) => {
            let doses = planned_doses(line, day);
            let Some(dose) = doses.iter().find(|d| d.slot == slot).cloned() else {
                let slots: Vec<&str> = doses.iter().map(|d| d.slot.as_str()).collect();
                let known = if slots.is_empty() { "none".to_owned() } else { slots.join(", ") };
                return Err(AppError::invalid(
                    "slot",
                    &format!("is not a dose of this line on {day} (its doses that day: {known})"),
                ));
            };
            let at = store::instants(&mut tx, establishment, &[day.and_time(dose.at)]).await?[0];
            if !in_force_at(version.recorded_at, until, at) {
                return Err(AppError::invalid(
                    "due_on",
                    &format!(
                        "names a dose ({}) when this version was not in force (from {}{})",
                        utc(at),
                        utc(version.recorded_at),
                        until.map(|u| format!(" to {}", utc(u))).unwrap_or_default()
                    ),
                ));
            }
            Some((dose, at))
        }
        (_, _, _) => {
            return Err(AppError::invalid("slot", "is required with due_on: the planned dose, as the plan lists it"));
        }
    };
    let allergies = alerts::allergies_in_force(&mut tx, resident).await?;
    let warnings = warnings(line, &version.flags, &allergies);
    let mut given_today = Vec::new();
    if matches!(line.schedule, Schedule::IfNeeded { .. }) {
        let at = input.given_at.unwrap_or(now);
        if !in_force_at(version.recorded_at, until, at) {
            return Err(AppError::invalid("given_at", "is not while this version was in force"));
        }
        let bounds = store::day_of(&mut tx, establishment, at).await?;
        given_today = store::as_needed_given(&mut tx, version.prescription_id, bounds)
            .await?
            .into_iter()
            .filter(|a| a.drug == line.drug.denomination)
            .map(|a| a.given_at)
            .collect();
    }
    let given_at = input.given_at.unwrap_or(now);
    let away = absences::away_periods(&mut tx, &[resident], given_at, given_at + TimeDelta::seconds(1), now).await?;
    let (version_id, number) = (version.id, line.number);
    let context = DoseContext {
        line,
        planned: planned.as_ref().map(|(dose, at)| (dose, *at)),
        warnings: &warnings,
        act,
        given_today: &given_today,
        away: away.first().map(|period| period.kind),
        now,
    };
    let new = NewAdministration::decide(input, context)?;
    let event = new.summary().map(|summary| handover::dose(new.outcome == Outcome::Refused, summary, new.given_at));
    let recording = Recording { version: version_id, line: number, new: &new, event: event.as_ref() };
    Ok(store::record(tx, command.key.as_ref(), resident, recording).await?)
}

/// Flags a dose's record as entered in error (the wrong person, the wrong dose): it stays,
/// flagged, with who, when and why, and the dose is owed again. By those who record doses where
/// the person is supported.
pub async fn flag_error(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: AdministrationId,
    reason: &str,
) -> AppResult<Administration> {
    let reason = free_text("reason", reason, 3)?;
    let action = AuditAction::AdministrationFlagError;
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let found = store::one(&mut tx, resident, id).await;
    let may = policy::administration_act(scope, &establishments).is_some();
    let entry = changeable(&mut tx, action, resident, found, may, "flag a dose's record").await?;
    if entry.error_at.is_some() {
        return Err(AppError::Conflict("This record is flagged as entered in error already.".to_owned()));
    }
    Ok(store::flag(tx, resident, id, &reason).await?)
}

/// The person's doses recorded (given, partly given, refused, not given; those in error
/// included, flagged) from `from` to `to` (at most 92 days), newest first. Reading them is
/// recorded.
pub async fn list(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    from: TimeBound,
    to: TimeBound,
) -> AppResult<Vec<Administration>> {
    let mut tx = app.db().begin(scope, Mode::Write);
    let [from, to] = crate::period::resolve(&mut tx, resident, [Some(from), Some(to)]).await?;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(AppError::invalid("to", "is not a day of the calendar"));
    };
    if to <= from || to - from > TimeDelta::days(92) {
        return Err(AppError::invalid("to", "must be after from, at most 92 days"));
    }
    Ok(store::list(tx, resident, (from, to)).await?)
}
