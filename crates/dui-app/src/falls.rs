//! The falls register: a fall recorded by those who give care, corrected by amendments, flagged
//! when entered in error; a person's register over a period with the counts of the last 6 and
//! 12 months (two falls or more in 12 months: chutes répétées); an establishment's falls over a
//! period for its quality referent and its director.
//!
//! Who reads: the care team where the fall was recorded, in full; the director of that
//! establishment, without what is said about each fall (see
//! [`dui_domain::policy::fall_register_oversight`]).

use chrono::{DateTime, Utc};
use dui_domain::audit::AuditAction;
use dui_domain::fall::{
    EstablishmentFall, EstablishmentFalls, FallInput, FallRecord, FallRegister, NewFall, REPEATED_FALLS, counts, falls,
    months_before,
};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::policy;
use dui_domain::record::free_text;
use dui_domain::scope::TenantScope;
use dui_domain::{EstablishmentId, FallId, ResidentId};
use dui_storage::falls::{self as store, FallMeta};
use dui_storage::{Mode, Tx};

use crate::access::{acting, changeable, refuse};
use crate::{App, AppError, AppResult};

/// The longest period of a person's register: ten years.
const MAX_REGISTER_DAYS: i64 = 3653;
/// The longest period of an establishment's list: a year.
const MAX_LIST_DAYS: i64 = 366;

/// A fall to record.
#[derive(Debug, Clone)]
pub struct RecordFall {
    pub resident: ResidentId,
    pub fall: FallInput,
    pub key: Option<IdempotencyKey>,
}

/// A correction of a fall: what the fall is, now known better, in full.
#[derive(Debug, Clone)]
pub struct AmendFall {
    pub resident: ResidentId,
    /// The fall, or any of its records.
    pub fall: FallId,
    pub corrected: FallInput,
    pub key: Option<IdempotencyKey>,
}

/// Which period of a register (default: the 12 months up to now).
#[derive(Debug, Clone, Copy, Default)]
pub struct Period {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Period {
    fn checked(self, max_days: i64) -> AppResult<(DateTime<Utc>, DateTime<Utc>)> {
        let to = self.to.unwrap_or_else(Utc::now);
        let from = self.from.unwrap_or_else(|| months_before(to, 12));
        if to <= from {
            return Err(AppError::invalid("to", "is not after from"));
        }
        if to - from > chrono::Duration::days(max_days) {
            return Err(AppError::invalid("from", &format!("is more than {max_days} days before to")));
        }
        Ok((from, to))
    }
}

/// May change the person's falls: those who record care data where the person is supported.
async fn may_record(tx: &mut Tx<'_>, resident: ResidentId, action: AuditAction) -> AppResult<()> {
    let establishments = acting(tx, resident, action).await?;
    if !policy::can_record_care_data(tx.scope()?, &establishments) {
        return Err(refuse(tx, action, resident, "record a fall").await);
    }
    Ok(())
}

/// The fall a record belongs to, for a change: absent (the refusal recorded) unless the caller
/// sees it — looked for first, so that a fall out of reach is absent whoever asks —; refused
/// to whoever does not record care data where the person is supported (a director sees the
/// register, and changes nothing in it); absent to a carer who does not read it in full (it was
/// recorded in another establishment); a conflict when it was entered in error.
async fn fall_in_force(tx: &mut Tx<'_>, resident: ResidentId, id: FallId, action: AuditAction) -> AppResult<FallMeta> {
    let establishments = acting(tx, resident, action).await?;
    let oversight = policy::fall_register_oversight(tx.scope()?);
    let entry = store::meta(tx, resident, id, &oversight).await;
    let may = policy::can_record_care_data(tx.scope()?, &establishments);
    let meta = changeable(tx, action, resident, entry, may, "change a fall").await?;
    if !meta.in_full {
        dui_storage::access::deny(tx, action, resident).await?;
        return Err(AppError::NotFound);
    }
    if meta.in_error {
        return Err(AppError::Conflict("This fall was entered in error: record a new fall instead.".to_owned()));
    }
    Ok(meta)
}

/// Records a fall of a person: when, where, how it was found, what came of it, the care given,
/// who was told. Filed in the establishment of the person's stay.
pub async fn record(app: &App, scope: &TenantScope, command: RecordFall) -> AppResult<Created<FallRecord>> {
    let new = NewFall::validate(command.fall, Utc::now())?;
    let mut tx = app.db().begin(scope, Mode::Write);
    may_record(&mut tx, command.resident, AuditAction::FallCreate).await?;
    let event = dui_domain::handover::fall(&new);
    Ok(store::record(tx, command.key.as_ref(), command.resident, &new, None, Some(&event)).await?)
}

/// Corrects a fall: a new record, pointing to the fall's first, that replaces what it says (a
/// fracture confirmed the next day, a time corrected); both stay. Any of the care team may
/// correct it: what comes of a fall is often known later, by someone else.
pub async fn amend(app: &App, scope: &TenantScope, command: AmendFall) -> AppResult<Created<FallRecord>> {
    let new = NewFall::validate(command.corrected, Utc::now())?;
    let (resident, action) = (command.resident, AuditAction::FallAmend);
    let mut tx = app.db().begin(scope, Mode::Write);
    let meta = fall_in_force(&mut tx, resident, command.fall, action).await?;
    // A correction is told when it makes the fall serious.
    let event = new.consequences.iter().any(|c| c.serious()).then(|| dui_domain::handover::fall(&new));
    Ok(store::record(tx, command.key.as_ref(), resident, &new, Some(meta.fall), event.as_ref()).await?)
}

/// Flags a fall (whichever of its records is named) as entered in error: it stays, flagged,
/// with who, when and why, and no longer counts.
pub async fn flag_error(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    fall: FallId,
    reason: &str,
) -> AppResult<FallRecord> {
    let reason = free_text("reason", reason, 3)?;
    let action = AuditAction::FallFlagError;
    let mut tx = app.db().begin(scope, Mode::Write);
    let meta = fall_in_force(&mut tx, resident, fall, action).await?;
    Ok(store::flag_error(tx, resident, meta.fall, &reason).await?)
}

/// A person's falls register over a period (default: the 12 months up to now; at most ten
/// years): each fall as its latest record says, newest first, those entered in error included
/// (flagged), with the counts of the 6 and 12 months up to the period's end and whether the
/// person falls repeatedly. The care team reads it in full, a director without details.
pub async fn register(app: &App, scope: &TenantScope, resident: ResidentId, period: Period) -> AppResult<FallRegister> {
    let (from, to) = period.checked(MAX_REGISTER_DAYS)?;
    let oversight = policy::fall_register_oversight(scope);
    let records = store::records(app.db().begin(scope, Mode::Write), resident, &oversight).await?;
    let all = falls(records);
    let counts = counts(&all, to);
    let falls = all.into_iter().filter(|f| f.occurred_at >= from && f.occurred_at < to).collect();
    Ok(FallRegister { from, to, counts, falls })
}

/// The falls of an establishment over a period (default: the 12 months up to now; at most a
/// year), newest first, with whom they happened to: for the care team in full, for the director
/// without details. Each person shown is recorded as read.
pub async fn of_establishment(
    app: &App,
    scope: &TenantScope,
    establishment: EstablishmentId,
    period: Period,
) -> AppResult<EstablishmentFalls> {
    let (from, to) = period.checked(MAX_LIST_DAYS)?;
    if !scope.resident_access().reaches(establishment) {
        return Err(AppError::NotFound);
    }
    crate::structure::get_establishment(app, scope, establishment).await?;
    let Some(view) = policy::fall_register_view(scope, establishment) else {
        return Err(AppError::Forbidden(
            "Your roles do not allow you to read the falls register of this establishment.".to_owned(),
        ));
    };
    let oversight = policy::fall_register_oversight(scope);
    let found =
        store::of_establishment(app.db().begin(scope, Mode::Write), establishment, from, to, &oversight).await?;
    let mut names = std::collections::HashMap::new();
    let mut records = Vec::with_capacity(found.len());
    for (record, name) in found {
        names.insert(record.resident_id, name);
        records.push(record);
    }
    let shown: Vec<EstablishmentFall> = falls(records)
        .into_iter()
        .filter(|f| f.establishment_id == establishment && f.occurred_at >= from && f.occurred_at < to)
        .filter_map(|fall| names.get(&fall.resident_id).cloned().map(|resident| EstablishmentFall { fall, resident }))
        .collect();
    let counted = || shown.iter().filter(|f| f.fall.counts());
    let mut per_person = std::collections::HashMap::new();
    for f in counted() {
        *per_person.entry(f.fall.resident_id).or_insert(0u32) += 1;
    }
    let total = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(EstablishmentFalls {
        establishment_id: establishment,
        from,
        to,
        view,
        count: total(counted().count()),
        serious: total(counted().filter(|f| f.fall.serious).count()),
        residents_with_repeated_falls: total(per_person.values().filter(|n| **n >= REPEATED_FALLS).count()),
        falls: shown,
    })
}
