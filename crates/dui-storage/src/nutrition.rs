//! Nutrition and hydration: diets and textures (versions), food and fluid watches and the intake
//! recorded meal by meal. Diet and texture codes, dates, thresholds, days and meals are in clear
//! (kitchens list diets by unit); what is said in words and what was eaten and drunk are sealed.
//! They are read by those who read the care team's data ([`care_readable`]).

use std::sync::LazyLock;

use chrono::NaiveDate;
use dui_crypto::{Column, Keyring};
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::nutrition::{
    DecidedBy, Diet, DietDetails, DietPrescription, DrinkTexture, FoodTexture, Intake, IntakeFigures, Meal, NewDiet,
    NewIntake, NewWatch, NutritionWatch, WatchCovers,
};
use dui_domain::{DietPrescriptionId, EstablishmentId, IntakeId, NutritionWatchId, ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO_CTE, care_readable, target};
use crate::args;
use crate::feature::{Feature, Table, to_json};
use crate::idempotency::{Create, create_once};
use crate::listing::{listed, present};
use crate::rows::parse;
use crate::sealing::{open_json, seal_json, versions};
use crate::sql::{Sql, Stmt};
use crate::stays::PLACE;
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

/// The other diet in words, who decided by name, comments.
pub(crate) const DIET_DETAILS: Column = Column::new("diet_prescriptions", "details");
/// Why the person is watched.
pub(crate) const WATCH_REASON: Column = Column::new("nutrition_watches", "reason");
/// How much was eaten, mL drunk, a comment.
pub(crate) const INTAKE_FIGURES: Column = Column::new("nutrition_intakes", "figures");

const DIET_COLUMNS: &str = "d.id, d.resident_id, d.establishment_id, d.diets, d.food_texture, d.drink_texture, \
     d.starts_on, d.decided_by, d.details, d.dek_version, d.recorded_by, d.recorded_at";
const WATCH_COLUMNS: &str = "n.id, n.resident_id, n.establishment_id, n.covers, n.reason, n.dek_version, n.started_on, \
     n.planned_end_on, n.hydration_threshold_ml, n.food_alert_days, n.started_by, n.started_at, n.ended_on, n.ended_by, \
     n.ended_at";
const INTAKE_COLUMNS: &str = "i.id, i.resident_id, i.watch_id, i.day, i.meal, i.figures, i.dek_version, i.recorded_by, \
     i.recorded_at";

/// The most rows of a kind one read returns.
const LIST_LIMIT: i64 = 5000;

pub(crate) fn diet(row: &Row, keys: &Keyring) -> StoreResult<DietPrescription> {
    let id: Uuid = row.try_get("id")?;
    let details: DietDetails = open_json(keys, DIET_DETAILS, id, row.try_get("details")?)?;
    let codes: Vec<String> = row.try_get("diets")?;
    let diets = codes
        .into_iter()
        .map(|c| Diet::parse(&c).ok_or(StoreError::Corrupt { column: "diets", value: c }))
        .collect::<StoreResult<Vec<_>>>()?;
    let drink_texture = parse(row, "drink_texture", DrinkTexture::parse)?;
    Ok(DietPrescription {
        id: DietPrescriptionId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        diets,
        other_diet: details.other_diet,
        food_texture: parse(row, "food_texture", FoodTexture::parse)?,
        drink_texture,
        thickened_drinks: drink_texture.thickened(),
        starts_on: row.try_get("starts_on")?,
        decided_by: parse(row, "decided_by", DecidedBy::parse)?,
        decided_by_name: details.decided_by_name,
        comment: details.comment,
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
    })
}

pub(crate) fn watch(row: &Row, keys: &Keyring) -> StoreResult<NutritionWatch> {
    let id: Uuid = row.try_get("id")?;
    let small = |column: &'static str| -> StoreResult<i16> { Ok(row.try_get(column)?) };
    let corrupt = |column: &'static str, value: i16| StoreError::Corrupt { column, value: value.to_string() };
    let threshold = small("hydration_threshold_ml")?;
    let days = small("food_alert_days")?;
    Ok(NutritionWatch {
        id: NutritionWatchId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        covers: parse(row, "covers", WatchCovers::parse)?,
        reason: open_json(keys, WATCH_REASON, id, row.try_get("reason")?)?,
        started_on: row.try_get("started_on")?,
        planned_end_on: row.try_get("planned_end_on")?,
        hydration_threshold_ml: u16::try_from(threshold).map_err(|_| corrupt("hydration_threshold_ml", threshold))?,
        food_alert_days: u8::try_from(days).map_err(|_| corrupt("food_alert_days", days))?,
        started_by: UserId::from_uuid(row.try_get("started_by")?),
        started_at: row.try_get("started_at")?,
        ended_on: row.try_get("ended_on")?,
        ended_by: row.try_get::<_, Option<Uuid>>("ended_by")?.map(UserId::from_uuid),
        ended_at: row.try_get("ended_at")?,
    })
}

pub(crate) fn intake(row: &Row, keys: &Keyring) -> StoreResult<Intake> {
    let id: Uuid = row.try_get("id")?;
    let figures: IntakeFigures = open_json(keys, INTAKE_FIGURES, id, row.try_get("figures")?)?;
    Ok(Intake {
        id: IntakeId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        watch_id: NutritionWatchId::from_uuid(row.try_get("watch_id")?),
        day: row.try_get("day")?,
        meal: parse(row, "meal", Meal::parse)?,
        eaten: figures.eaten,
        drinks_ml: figures.drinks_ml,
        comment: figures.comment,
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
    })
}

static INSERT_DIET: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, {PLACE}, \
         d AS (INSERT INTO diet_prescriptions (tenant_id, id, resident_id, establishment_id, diets, food_texture, \
                 drink_texture, starts_on, decided_by, details, dek_version, recorded_by) \
               SELECT t.tenant_id, :id, t.id, p.establishment_id, :diets, :food_texture, :drink_texture, :starts_on, \
                      :decided_by, :details, :dek_version, who.user_id \
               FROM target t, place p, who WHERE t.record_status = 'active' RETURNING *), \
         trace AS ({trace}), {event} SELECT {DIET_COLUMNS} FROM d",
        target = target(),
        trace = Trace::written("d"),
        event = crate::handover_write::emit("d"),
    ))
});

static DIET_BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {DIET_COLUMNS} FROM diet_prescriptions d WHERE d.tenant_id = :tenant AND d.id = :id"))
});

/// The person's diets the caller reads, the latest first (`:latest`: that one only).
static DIETS: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT d.* FROM diet_prescriptions d, target t, who WHERE d.tenant_id = t.tenant_id \
                  AND d.resident_id = t.id AND {readable} ORDER BY d.id DESC \
                  LIMIT CASE WHEN :latest::bool THEN 1 ELSE {LIST_LIMIT} END) \
         {listed}",
        target = target(),
        readable = care_readable("d", "NOT t.normal"),
        listed = listed(&format!("SELECT {DIET_COLUMNS} FROM data d"), "x.id DESC"),
    ))
});

static INSERT_WATCH: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, {PLACE}, \
         n AS (INSERT INTO nutrition_watches (tenant_id, id, resident_id, establishment_id, covers, reason, dek_version, \
                 started_on, planned_end_on, hydration_threshold_ml, food_alert_days, started_by) \
               SELECT t.tenant_id, :id, t.id, p.establishment_id, :covers, :reason, :dek_version, :started_on, \
                      :planned_end_on, :threshold, :food_days, who.user_id \
               FROM target t, place p, who WHERE t.record_status = 'active' RETURNING *), \
         trace AS ({trace}) SELECT {WATCH_COLUMNS} FROM n",
        target = target(),
        trace = Trace::written("n"),
    ))
});

static WATCH_BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {WATCH_COLUMNS} FROM nutrition_watches n WHERE n.tenant_id = :tenant AND n.id = :id"))
});

/// The person's watches the caller reads, the latest started first.
static WATCHES: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT n.* FROM nutrition_watches n, target t, who WHERE n.tenant_id = t.tenant_id \
                  AND n.resident_id = t.id AND {readable} ORDER BY n.started_on DESC, n.id DESC LIMIT {LIST_LIMIT}) \
         {listed}",
        target = target(),
        readable = care_readable("n", "NOT t.normal"),
        listed = listed(&format!("SELECT {WATCH_COLUMNS} FROM data n"), "x.started_on DESC, x.id DESC"),
    ))
});

static END_WATCH: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         e AS (UPDATE nutrition_watches n SET ended_on = :ended_on, ended_by = who.user_id, ended_at = now() \
               FROM target t, who WHERE n.tenant_id = t.tenant_id AND n.resident_id = t.id AND n.id = :watch \
               AND n.ended_at IS NULL AND t.record_status = 'active' AND {readable} RETURNING n.*), \
         trace AS ({trace}) SELECT {WATCH_COLUMNS} FROM e n",
        target = target(),
        readable = care_readable("n", "NOT t.normal"),
        trace = Trace::written("e"),
    ))
});

static INSERT_INTAKE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         wt AS (SELECT n.tenant_id, n.id, n.resident_id FROM nutrition_watches n, target t WHERE n.tenant_id = t.tenant_id \
                AND n.resident_id = t.id AND n.id = :watch AND t.record_status = 'active'), \
         i AS (INSERT INTO nutrition_intakes (tenant_id, id, resident_id, watch_id, day, meal, figures, dek_version, \
                 recorded_by) \
               SELECT wt.tenant_id, :id, wt.resident_id, wt.id, :day, :meal, :figures, :dek_version, who.user_id \
               FROM wt, who RETURNING *), \
         trace AS ({trace}), {event} SELECT {INTAKE_COLUMNS} FROM i",
        target = target(),
        trace = Trace::written("i"),
        event = crate::handover_write::emit("i"),
    ))
});

static INTAKE_BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {INTAKE_COLUMNS} FROM nutrition_intakes i WHERE i.tenant_id = :tenant AND i.id = :id"))
});

/// The person's intakes from `:from` to `:to` (days, both included) of the watches the caller
/// reads.
static INTAKES: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT i.* FROM nutrition_intakes i JOIN nutrition_watches n ON n.tenant_id = i.tenant_id \
                    AND n.id = i.watch_id, target t, who \
                  WHERE i.tenant_id = t.tenant_id AND i.resident_id = t.id AND i.day BETWEEN :from AND :to \
                  AND {readable} ORDER BY i.day, i.recorded_at, i.id LIMIT {LIST_LIMIT}) \
         {listed}",
        target = target(),
        readable = care_readable("n", "NOT t.normal"),
        listed = listed(&format!("SELECT {INTAKE_COLUMNS} FROM data i"), "x.day, x.recorded_at, x.id"),
    ))
});

/// Records a new version of the person's diet and textures, and commits; the hand-over is told
/// (`event`) when the use case says so.
pub async fn set_diet(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewDiet,
    event: Option<&dui_domain::handover::NewHandoverEvent>,
) -> StoreResult<Created<DietPrescription>> {
    let keys = tx.sealing_keys(2).await?;
    let id = Uuid::now_v7();
    let details = seal_json(&keys, DIET_DETAILS, id, &new.details)?;
    let diets: Vec<&str> = new.diets.iter().map(|d| d.as_str()).collect();
    let (resident, food, drink, decided, dek) = (
        resident.as_uuid(),
        new.food_texture.as_str(),
        new.drink_texture.as_str(),
        new.decided_by.as_str(),
        keys.active_version() as i32,
    );
    let event = crate::handover_write::EventRow::seal(&keys, event)?;
    let args = args! { resident: &resident, id: &id, diets: &diets, food_texture: &food, drink_texture: &drink,
    starts_on: &new.starts_on, decided_by: &decided, details: &details, dek_version: &dek }
    .action(AuditAction::DietCreate);
    let args = event.bind(args);
    let map = |row: &Row| diet(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT_DIET, args, reload: &DIET_BY_ID, map: &map }).await
}

/// The person's diets the caller reads, the latest first, as the transaction's last statement;
/// recorded (`DietRead`).
pub async fn diets(tx: Tx<'_>, resident: ResidentId) -> StoreResult<Vec<DietPrescription>> {
    let resident = resident.as_uuid();
    let trace = crate::trail::ReadTrace::Record { action: AuditAction::DietRead, resident };
    crate::listing::open_listed(tx, &DIETS, &args! { resident: &resident, latest: &false }, Some(trace), diet).await
}

/// The person's latest diet the caller reads, within an operation: a check, not recorded.
pub async fn latest_diet(tx: &mut Tx<'_>, resident: ResidentId) -> StoreResult<Option<DietPrescription>> {
    let resident = resident.as_uuid();
    let rows = crate::listing::query_listed(tx, &DIETS, &args! { resident: &resident, latest: &true }).await?;
    let keys = tx.keyring(versions(&rows)?).await?;
    rows.first().map(|row| diet(row, &keys)).transpose()
}

/// Starts a watch, and commits.
pub async fn start_watch(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewWatch,
) -> StoreResult<Created<NutritionWatch>> {
    let keys = tx.sealing_keys(1).await?;
    let id = Uuid::now_v7();
    let reason = seal_json(&keys, WATCH_REASON, id, &new.reason)?;
    let (resident, covers, threshold, food_days, dek) = (
        resident.as_uuid(),
        new.covers.as_str(),
        new.hydration_threshold_ml as i16,
        i16::from(new.food_alert_days),
        keys.active_version() as i32,
    );
    let args = args! { resident: &resident, id: &id, covers: &covers, reason: &reason, dek_version: &dek,
    started_on: &new.started_on, planned_end_on: &new.planned_end_on, threshold: &threshold, food_days: &food_days }
    .action(AuditAction::NutritionWatchStart);
    let map = |row: &Row| watch(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT_WATCH, args, reload: &WATCH_BY_ID, map: &map }).await
}

/// The watch an earlier request with this key started, if the key is live: a retry is answered
/// before the one-watch-at-a-time rule the first request now breaks.
pub async fn replayed_watch(tx: &mut Tx<'_>, key: &IdempotencyKey) -> StoreResult<Option<Created<NutritionWatch>>> {
    let keys = tx.keyring([]).await?;
    let map = |row: &Row| watch(row, &keys);
    crate::idempotency::replay(tx, key, &WATCH_BY_ID, &map).await
}

/// The person's watches the caller reads, the latest started first, within an operation: a
/// check, not recorded.
pub async fn watches_within(tx: &mut Tx<'_>, resident: ResidentId) -> StoreResult<Vec<NutritionWatch>> {
    let resident = resident.as_uuid();
    let rows = crate::listing::query_listed(tx, &WATCHES, &args! { resident: &resident }).await?;
    let keys = tx.keyring(versions(&rows)?).await?;
    rows.iter().map(|row| watch(row, &keys)).collect()
}

/// The person's watches the caller reads, the latest started first, as the transaction's last
/// statement; recorded (`NutritionWatchRead`).
pub async fn watches(tx: Tx<'_>, resident: ResidentId) -> StoreResult<Vec<NutritionWatch>> {
    let resident = resident.as_uuid();
    let trace = crate::trail::ReadTrace::Record { action: AuditAction::NutritionWatchRead, resident };
    crate::listing::open_listed(tx, &WATCHES, &args! { resident: &resident }, Some(trace), watch).await
}

/// Ends a watch in progress, and commits. `NotFound` when it was ended already or is not the
/// person's.
pub async fn end_watch(
    tx: Tx<'_>,
    resident: ResidentId,
    id: NutritionWatchId,
    ended_on: NaiveDate,
) -> StoreResult<NutritionWatch> {
    let (db, tenant) = (tx.db(), tx.tenant());
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let args = args! { resident: &resident, watch: &id, ended_on: &ended_on }.action(AuditAction::NutritionWatchEnd);
    let rows = tx.finish(&END_WATCH, &args).await?;
    db.open_one(tenant, rows.first().ok_or(StoreError::NotFound)?, watch).await
}

/// Records what the person ate and drank at a meal of a day of `watch`, and commits; the
/// hand-over is told (`event`) when the use case says so.
pub async fn record_intake(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    watch: NutritionWatchId,
    new: &NewIntake,
    event: Option<&dui_domain::handover::NewHandoverEvent>,
) -> StoreResult<Created<Intake>> {
    let keys = tx.sealing_keys(2).await?;
    let id = Uuid::now_v7();
    let figures = seal_json(&keys, INTAKE_FIGURES, id, &new.figures)?;
    let (resident, watch, meal, dek) =
        (resident.as_uuid(), watch.as_uuid(), new.meal.as_str(), keys.active_version() as i32);
    let event = crate::handover_write::EventRow::seal(&keys, event)?;
    let args = args! { resident: &resident, watch: &watch, id: &id, day: &new.day, meal: &meal, figures: &figures,
    dek_version: &dek }
    .action(AuditAction::IntakeCreate);
    let args = event.bind(args);
    let map = |row: &Row| intake(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT_INTAKE, args, reload: &INTAKE_BY_ID, map: &map }).await
}

/// The person's intakes from `from` to `to` (both included), within an operation: a check, not
/// recorded.
pub async fn intakes_within(
    tx: &mut Tx<'_>,
    resident: ResidentId,
    from: NaiveDate,
    to: NaiveDate,
) -> StoreResult<Vec<Intake>> {
    let resident = resident.as_uuid();
    let rows = crate::listing::query_listed(tx, &INTAKES, &args! { resident: &resident, from: &from, to: &to }).await?;
    let keys = tx.keyring(versions(&rows)?).await?;
    rows.iter().map(|row| intake(row, &keys)).collect()
}

/// The person's watches and their intakes from `from` to `to` (both included), as the
/// transaction's last statements; recorded (`IntakeRead`).
pub async fn intakes(
    mut tx: Tx<'_>,
    resident: ResidentId,
    from: NaiveDate,
    to: NaiveDate,
) -> StoreResult<(Vec<NutritionWatch>, Vec<Intake>)> {
    let (db, tenant) = (tx.db(), tx.tenant());
    let resident = resident.as_uuid();
    let trace = crate::trail::ReadTrace::Record { action: AuditAction::IntakeRead, resident };
    let watches = tx.query(&WATCHES, &args! { resident: &resident }).await?;
    let args = args! { resident: &resident, from: &from, to: &to };
    let intakes = tx.finish_read(&INTAKES, &args, Some(trace)).await?;
    let (intakes, watches) = (present(intakes)?, present(watches)?);
    Ok((db.open_rows(tenant, &watches, watch).await?, db.open_rows(tenant, &intakes, intake).await?))
}

/// What the person's nutrition summary reads besides their weights: the latest diet, the
/// watches, and the intakes from `from` to `to`, within an operation, not recorded (the summary
/// is recorded once, with the weights read last). Empty when the resident is out of reach: the
/// last read says so.
pub async fn summary_within(
    tx: &mut Tx<'_>,
    resident: ResidentId,
    from: NaiveDate,
    to: NaiveDate,
) -> StoreResult<(Option<DietPrescription>, Vec<NutritionWatch>, Vec<Intake>)> {
    let resident_id = resident.as_uuid();
    let diets = tx.query(&DIETS, &args! { resident: &resident_id, latest: &true }).await?;
    let watches = tx.query(&WATCHES, &args! { resident: &resident_id }).await?;
    let intakes = tx.query(&INTAKES, &args! { resident: &resident_id, from: &from, to: &to }).await?;
    let (diets, watches, intakes) = match (present(diets), present(watches), present(intakes)) {
        (Ok(d), Ok(w), Ok(i)) => (d, w, i),
        _ => return Ok((None, Vec::new(), Vec::new())),
    };
    let needed = [versions(&diets)?, versions(&watches)?, versions(&intakes)?].concat();
    let keys = tx.keyring(needed).await?;
    let diet = diets.first().map(|row| diet(row, &keys)).transpose()?;
    let watches = watches.iter().map(|row| watch(row, &keys)).collect::<StoreResult<_>>()?;
    let intakes = intakes.iter().map(|row| intake(row, &keys)).collect::<StoreResult<_>>()?;
    Ok((diet, watches, intakes))
}

/// Diets, watches and intakes: what is said in words and what was eaten and drunk sealed; a
/// merge moves them; the person's export lists them in time order.
pub(crate) const FEATURE: Feature = Feature {
    name: "nutrition",
    tables: &[
        Table::of_person(
            "diet_prescriptions",
            &[DIET_DETAILS],
            "diet_prescriptions d",
            DIET_COLUMNS,
            "d.id",
            |row, keys| to_json(diet(row, keys)),
        ),
        Table::of_person(
            "nutrition_watches",
            &[WATCH_REASON],
            "nutrition_watches n",
            WATCH_COLUMNS,
            "n.started_on, n.id",
            |row, keys| to_json(watch(row, keys)),
        ),
        Table::of_person(
            "nutrition_intakes",
            &[INTAKE_FIGURES],
            "nutrition_intakes i",
            INTAKE_COLUMNS,
            "i.day, i.recorded_at, i.id",
            |row, keys| to_json(intake(row, keys)),
        ),
    ],
};
