//! Nutrition and hydration: the person's diet and the textures of their foods and drinks (a new
//! version at each change, the earlier ones kept), and the food and fluid watch (surveillance
//! alimentaire et hydrique) of a person at risk — what they ate and drank at each meal, the
//! day's totals, and the alerts the team must act on.
//!
//! Weight, BMI and the HAS undernutrition criteria are measurements'
//! ([`crate::measurement::nutrition`]); the person's nutrition summary gathers them with the diet
//! and the watch, without computing them again.
//!
//! # The alerts of a watch, and where their thresholds come from
//!
//! - **Low hydration**: the drinks recorded on the last complete day (yesterday, in the
//!   establishment's calendar) add up to less than the watch's threshold, 1,000 mL by default
//!   and set per watch from 500 to 3,000 mL ([`HYDRATION_THRESHOLD_ML`]). The PNNS advice for
//!   older people is to drink 1 to 1.5 L a day; fluid-balance sheets in EHPAD protocols commonly
//!   raise the alarm under 1 L. A watch sets its own threshold for a person whose needs differ
//!   (a fluid restriction in heart failure, heat waves). *Design assumption, to confirm with the
//!   medical teams: the 1,000 mL default.*
//! - **Low food intake**: on each of the last N complete days (3 by default, 2 to 7 per watch,
//!   [`FOOD_ALERT_DAYS`]) the main meals recorded (breakfast, lunch, dinner) were on average
//!   less than half eaten. The HAS (2021, diagnosis of undernutrition in people of 70 and over)
//!   counts as an etiological criterion a food intake reduced by half or more for more than a
//!   week; the usual food record in EHPAD runs over three days. The alert comes earlier than the
//!   criterion, for the team to act (dietitian, physician, enriched diet) before it is met.
//!   *Design assumption: "less than half on average" for "mostly not eaten", and 3 days.*
//!
//! A day with nothing recorded is not a day without food or drink: it is unknown, and breaks a
//! run of days. A day in progress is never alerted on.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::validation::{ValidationErrors, optional_text, text};
use crate::{DietPrescriptionId, EstablishmentId, IntakeId, NutritionWatchId, ResidentId, UserId};

/// The default threshold of the hydration alert, mL a day.
pub const HYDRATION_THRESHOLD_ML: u16 = 1000;
/// The thresholds a watch may set, mL a day.
pub const HYDRATION_THRESHOLD_RANGE: std::ops::RangeInclusive<u16> = 500..=3000;
/// The default number of days of low food intake that raise the alert.
pub const FOOD_ALERT_DAYS: u8 = 3;
/// The numbers of days a watch may set.
pub const FOOD_ALERT_DAYS_RANGE: std::ops::RangeInclusive<u8> = 2..=7;
/// The most a person drinks at one meal, as recorded, mL.
pub const MAX_DRINKS_ML: u16 = 3000;
/// How far ahead a diet may be set to start, in days.
pub const DIET_AHEAD_DAYS: i64 = 31;

crate::text_codes! {
    /// A diet (régime) prescribed. Several may hold at once (diabetic and low-salt).
    pub enum Diet {
        Normal = "normal",
        Diabetic = "diabetic",
        /// Hyposodé.
        LowSalt = "low_salt",
        /// Enrichi, hyperprotéiné (undernutrition).
        Enriched = "enriched",
        /// Sans gluten.
        GlutenFree = "gluten_free",
        /// Said in `other_diet`.
        Other = "other",
    }
}

crate::text_codes! {
    /// The texture of foods: the IDDSI levels 3 to 7 (International Dysphagia Diet
    /// Standardisation Initiative), or the French names kitchens use.
    pub enum FoodTexture {
        Normal = "normal",
        /// Haché: pieces, meat chopped.
        Hache = "hache",
        /// Mouliné: ground, with some texture.
        Mouline = "mouline",
        /// Mixé: blended.
        Mixe = "mixe",
        /// Lisse: smooth, homogeneous.
        Lisse = "lisse",
        /// IDDSI 7, regular.
        Iddsi7 = "iddsi_7",
        /// IDDSI 7, easy to chew.
        Iddsi7EasyToChew = "iddsi_7_easy_to_chew",
        /// IDDSI 6, soft and bite-sized.
        Iddsi6 = "iddsi_6",
        /// IDDSI 5, minced and moist.
        Iddsi5 = "iddsi_5",
        /// IDDSI 4, pureed.
        Iddsi4 = "iddsi_4",
        /// IDDSI 3, liquidised.
        Iddsi3 = "iddsi_3",
    }
}

crate::text_codes! {
    /// The texture of drinks: the IDDSI levels 0 to 4, or gelled water.
    pub enum DrinkTexture {
        /// Thin: drinks as they are.
        Iddsi0 = "iddsi_0",
        /// Slightly thick.
        Iddsi1 = "iddsi_1",
        /// Mildly thick.
        Iddsi2 = "iddsi_2",
        /// Moderately thick.
        Iddsi3 = "iddsi_3",
        /// Extremely thick.
        Iddsi4 = "iddsi_4",
        /// Eau gélifiée.
        Gelled = "gelled",
    }
}

crate::text_codes! {
    /// Who decided the diet or the textures.
    pub enum DecidedBy {
        /// Médecin traitant.
        AttendingPhysician = "attending_physician",
        CoordinatingPhysician = "coordinating_physician",
        Dietitian = "dietitian",
        /// Orthophoniste (swallowing).
        SpeechTherapist = "speech_therapist",
        Nurse = "nurse",
        /// The team, with the person.
        Team = "team",
    }
}

crate::text_codes! {
    /// What a watch follows.
    pub enum WatchCovers {
        Food = "food",
        Fluids = "fluids",
        Both = "both",
    }
}

crate::text_codes! {
    /// A meal of the day.
    pub enum Meal {
        Breakfast = "breakfast",
        Lunch = "lunch",
        /// Collation, goûter.
        Snack = "snack",
        Dinner = "dinner",
        Night = "night",
    }
}

crate::text_codes! {
    /// How much of a meal was eaten.
    pub enum Eaten {
        None = "none",
        Quarter = "quarter",
        Half = "half",
        ThreeQuarters = "three_quarters",
        All = "all",
    }
}

crate::text_codes! {
    /// What an alert of a watch is about.
    pub enum IntakeAlertKind {
        LowHydration = "low_hydration",
        LowFoodIntake = "low_food_intake",
    }
}

impl Eaten {
    /// In quarters of the meal.
    pub fn quarters(self) -> u32 {
        match self {
            Self::None => 0,
            Self::Quarter => 1,
            Self::Half => 2,
            Self::ThreeQuarters => 3,
            Self::All => 4,
        }
    }
}

impl Meal {
    /// Breakfast, lunch and dinner: the meals the food alert weighs.
    pub fn is_main(self) -> bool {
        matches!(self, Self::Breakfast | Self::Lunch | Self::Dinner)
    }
}

impl WatchCovers {
    pub fn food(self) -> bool {
        self != Self::Fluids
    }

    pub fn fluids(self) -> bool {
        self != Self::Food
    }
}

impl FoodTexture {
    fn label(self) -> &'static str {
        match self {
            Self::Normal => "normale",
            Self::Hache => "hachée",
            Self::Mouline => "moulinée",
            Self::Mixe => "mixée",
            Self::Lisse => "lisse",
            Self::Iddsi7 => "IDDSI 7",
            Self::Iddsi7EasyToChew => "IDDSI 7 facile à mâcher",
            Self::Iddsi6 => "IDDSI 6",
            Self::Iddsi5 => "IDDSI 5",
            Self::Iddsi4 => "IDDSI 4",
            Self::Iddsi3 => "IDDSI 3",
        }
    }
}

impl DrinkTexture {
    /// Whether drinks are thickened (or gelled).
    pub fn thickened(self) -> bool {
        self != Self::Iddsi0
    }

    fn label(self) -> &'static str {
        match self {
            Self::Iddsi0 => "liquides",
            Self::Iddsi1 => "IDDSI 1",
            Self::Iddsi2 => "IDDSI 2",
            Self::Iddsi3 => "IDDSI 3",
            Self::Iddsi4 => "IDDSI 4",
            Self::Gelled => "eau gélifiée",
        }
    }
}

impl Diet {
    fn label(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Diabetic => "diabétique",
            Self::LowSalt => "hyposodé",
            Self::Enriched => "enrichi",
            Self::GlutenFree => "sans gluten",
            Self::Other => "autre",
        }
    }
}

/// A diet and textures, before validation.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DietInput {
    /// At least one; `normal` alone.
    pub diets: Vec<Diet>,
    /// Required with `other`: at most 200 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub other_diet: Option<String>,
    pub food_texture: FoodTexture,
    pub drink_texture: DrinkTexture,
    /// Default: today; at most 31 days ahead.
    #[serde(default)]
    pub starts_on: Option<NaiveDate>,
    pub decided_by: DecidedBy,
    /// Who, by name ("Dr Martin"): at most 200 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub decided_by_name: Option<String>,
    /// Dislikes, allergies, aids to eating: at most 2,000 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub comment: Option<String>,
}

/// What a diet says in words: sealed.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DietDetails {
    #[serde(default)]
    pub other_diet: Option<String>,
    #[serde(default)]
    pub decided_by_name: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// A diet to record, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct NewDiet {
    pub diets: Vec<Diet>,
    pub food_texture: FoodTexture,
    pub drink_texture: DrinkTexture,
    pub starts_on: NaiveDate,
    pub decided_by: DecidedBy,
    pub details: DietDetails,
}

/// A version of the person's diet and textures.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DietPrescription {
    pub id: DietPrescriptionId,
    pub resident_id: ResidentId,
    pub establishment_id: EstablishmentId,
    pub diets: Vec<Diet>,
    pub other_diet: Option<String>,
    pub food_texture: FoodTexture,
    pub drink_texture: DrinkTexture,
    /// Drinks thickened or gelled (from `drink_texture`).
    pub thickened_drinks: bool,
    pub starts_on: NaiveDate,
    pub decided_by: DecidedBy,
    pub decided_by_name: Option<String>,
    pub comment: Option<String>,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
}

crate::redacted_debug!(DietInput, DietDetails, NewDiet, DietPrescription);

impl NewDiet {
    /// Checks a diet: at least one, `normal` alone, each once, `other` said in words, a start
    /// not more than a month ahead.
    pub fn validate(input: DietInput, today: NaiveDate) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut diets = input.diets;
        let count = diets.len();
        diets.sort_by_key(|d| Diet::ALL.iter().position(|a| a == d));
        diets.dedup();
        if diets.is_empty() {
            errors.add("diets", "must list at least one diet");
        } else if diets.len() != count {
            errors.add("diets", "lists a diet twice");
        } else if diets.len() > 1 && diets.contains(&Diet::Normal) {
            errors.add("diets", "normal goes alone");
        }
        let other_diet = optional_text(&mut errors, "other_diet", input.other_diet, 200);
        if diets.contains(&Diet::Other) && other_diet.is_none() {
            errors.add("other_diet", "is required with the diet other");
        }
        let starts_on = input.starts_on.unwrap_or(today);
        if starts_on > today + chrono::Duration::days(DIET_AHEAD_DAYS) {
            errors.add("starts_on", format!("is more than {DIET_AHEAD_DAYS} days ahead"));
        }
        let decided_by_name = optional_text(&mut errors, "decided_by_name", input.decided_by_name, 200);
        let comment = optional_text(&mut errors, "comment", input.comment, 2000);
        errors.into_result(|| Self {
            diets,
            food_texture: input.food_texture,
            drink_texture: input.drink_texture,
            starts_on,
            decided_by: input.decided_by,
            details: DietDetails { other_diet, decided_by_name, comment },
        })
    }

    /// What the hand-over says when the diet or a texture changes from `before` (or, for a
    /// first diet, from a normal diet and textures): "Régime : diabétique ; textures : mixée,
    /// boissons IDDSI 2 (à partir du 08/12/2026)". Nothing when nothing of it changes.
    pub fn change(&self, before: Option<&DietPrescription>) -> Option<String> {
        let (diets, food, drink) = match before {
            Some(b) => (b.diets.as_slice(), b.food_texture, b.drink_texture),
            None => (&[Diet::Normal][..], FoodTexture::Normal, DrinkTexture::Iddsi0),
        };
        let mut said = Vec::new();
        if self.diets != diets {
            let names: Vec<&str> = self.diets.iter().map(|d| d.label()).collect();
            said.push(format!("régime {}", names.join(", ")));
        }
        if self.food_texture != food {
            said.push(format!("texture {}", self.food_texture.label()));
        }
        if self.drink_texture != drink {
            said.push(format!("boissons {}", self.drink_texture.label()));
        }
        (!said.is_empty()).then(|| {
            let mut text = said.join(" ; ");
            if let Some(first) = text.get(..1) {
                text = first.to_uppercase() + &text[1..];
            }
            format!("{text} (à partir du {})", self.starts_on.format("%d/%m/%Y"))
        })
    }
}

/// A watch to start, before validation.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WatchInput {
    pub covers: WatchCovers,
    /// Why (weight loss, refusals, heat wave...): 3 to 2,000 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 3, max_length = 2000))]
    pub reason: String,
    /// Default: today; not in the future, at most 31 days back.
    #[serde(default)]
    pub started_on: Option<NaiveDate>,
    /// The last day planned (a three-day record), if one is; not before the start.
    #[serde(default)]
    pub planned_end_on: Option<NaiveDate>,
    /// Drinks a day under which the hydration alert is raised (500 to 3,000 mL; default 1,000).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 500, maximum = 3000))]
    pub hydration_threshold_ml: Option<u16>,
    /// Days of meals mostly left that raise the food alert (2 to 7; default 3).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 2, maximum = 7))]
    pub food_alert_days: Option<u8>,
}

/// A watch to start, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct NewWatch {
    pub covers: WatchCovers,
    pub reason: String,
    pub started_on: NaiveDate,
    pub planned_end_on: Option<NaiveDate>,
    pub hydration_threshold_ml: u16,
    pub food_alert_days: u8,
}

crate::redacted_debug!(WatchInput, NewWatch);

impl NewWatch {
    pub fn validate(input: WatchInput, today: NaiveDate) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let reason = errors.check("reason", text(&input.reason, 3, 2000)).unwrap_or_default();
        let started_on = input.started_on.unwrap_or(today);
        if started_on > today {
            errors.add("started_on", "is in the future");
        } else if started_on < today - chrono::Duration::days(31) {
            errors.add("started_on", "is more than 31 days back");
        }
        if input.planned_end_on.is_some_and(|end| end < started_on) {
            errors.add("planned_end_on", "is before the start");
        }
        let threshold = input.hydration_threshold_ml.unwrap_or(HYDRATION_THRESHOLD_ML);
        if !HYDRATION_THRESHOLD_RANGE.contains(&threshold) {
            errors.add("hydration_threshold_ml", "must be from 500 to 3000 mL");
        }
        let days = input.food_alert_days.unwrap_or(FOOD_ALERT_DAYS);
        if !FOOD_ALERT_DAYS_RANGE.contains(&days) {
            errors.add("food_alert_days", "must be from 2 to 7");
        }
        errors.into_result(|| Self {
            covers: input.covers,
            reason,
            started_on,
            planned_end_on: input.planned_end_on,
            hydration_threshold_ml: threshold,
            food_alert_days: days,
        })
    }
}

/// A food and fluid watch.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NutritionWatch {
    pub id: NutritionWatchId,
    pub resident_id: ResidentId,
    pub establishment_id: EstablishmentId,
    pub covers: WatchCovers,
    pub reason: String,
    pub started_on: NaiveDate,
    pub planned_end_on: Option<NaiveDate>,
    pub hydration_threshold_ml: u16,
    pub food_alert_days: u8,
    pub started_by: UserId,
    pub started_at: DateTime<Utc>,
    /// The last day watched, when it was ended.
    pub ended_on: Option<NaiveDate>,
    pub ended_by: Option<UserId>,
    pub ended_at: Option<DateTime<Utc>>,
}

crate::redacted_debug!(NutritionWatch);

impl NutritionWatch {
    /// The last day watched: the day it was ended on, else the day planned (none: it goes on).
    pub fn last_day(&self) -> Option<NaiveDate> {
        self.ended_on.or(self.planned_end_on)
    }

    /// Whether `day` is watched.
    pub fn covers_day(&self, day: NaiveDate) -> bool {
        self.started_on <= day && self.last_day().is_none_or(|last| day <= last)
    }

    /// Whether the watch goes on on `today` (or starts later).
    pub fn in_progress(&self, today: NaiveDate) -> bool {
        self.last_day().is_none_or(|last| today <= last)
    }

    /// The day it ends on, checked: from its start, not in the future.
    pub fn end_on(&self, on: Option<NaiveDate>, today: NaiveDate) -> Result<NaiveDate, ValidationErrors> {
        let on = on.unwrap_or(today);
        if on > today {
            return Err(ValidationErrors::single("ended_on", "is in the future"));
        }
        if on < self.started_on {
            return Err(ValidationErrors::single("ended_on", "is before the watch started"));
        }
        Ok(on)
    }
}

/// What a person ate and drank at a meal, before validation.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IntakeInput {
    /// Default: today, in the establishment's calendar; a day the watch covers.
    #[serde(default)]
    pub day: Option<NaiveDate>,
    pub meal: Meal,
    /// How much of the meal (the food watch).
    #[serde(default)]
    pub eaten: Option<Eaten>,
    /// What was drunk at or around the meal, mL (0 to 3,000; the fluid watch).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 3000))]
    pub drinks_ml: Option<u16>,
    /// At most 2,000 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub comment: Option<String>,
}

/// The figures of an intake: sealed.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeFigures {
    #[serde(default)]
    pub eaten: Option<Eaten>,
    #[serde(default)]
    pub drinks_ml: Option<u16>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// An intake to record, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct NewIntake {
    pub day: NaiveDate,
    pub meal: Meal,
    pub figures: IntakeFigures,
}

crate::redacted_debug!(IntakeInput, IntakeFigures, NewIntake);

impl NewIntake {
    /// Checks an intake for `watch`: a day it covers, not in the future, something eaten or
    /// drunk (what the watch follows).
    pub fn validate(input: IntakeInput, watch: &NutritionWatch, today: NaiveDate) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let day = input.day.unwrap_or(today);
        if day > today {
            errors.add("day", "is in the future");
        } else if !watch.covers_day(day) {
            errors.add("day", "is not a day of the watch");
        }
        if input.drinks_ml.is_some_and(|ml| ml > MAX_DRINKS_ML) {
            errors.add("drinks_ml", format!("must be from 0 to {MAX_DRINKS_ML} mL"));
        }
        let comment = optional_text(&mut errors, "comment", input.comment, 2000);
        if input.eaten.is_none() && input.drinks_ml.is_none() {
            errors.add("eaten", "say what was eaten or drunk (eaten, drinks_ml)");
        } else if !watch.covers.food() && input.eaten.is_some() && input.drinks_ml.is_none() {
            errors.add("drinks_ml", "is what this watch follows (fluids)");
        } else if !watch.covers.fluids() && input.drinks_ml.is_some() && input.eaten.is_none() {
            errors.add("eaten", "is what this watch follows (food)");
        }
        errors.into_result(|| Self {
            day,
            meal: input.meal,
            figures: IntakeFigures { eaten: input.eaten, drinks_ml: input.drinks_ml, comment },
        })
    }
}

/// An intake as recorded.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Intake {
    pub id: IntakeId,
    pub resident_id: ResidentId,
    pub watch_id: NutritionWatchId,
    pub day: NaiveDate,
    pub meal: Meal,
    pub eaten: Option<Eaten>,
    pub drinks_ml: Option<u16>,
    pub comment: Option<String>,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
}

crate::redacted_debug!(Intake);

/// One meal of a day: the latest record of it (a later record of the same meal corrects the
/// earlier ones, which stay, listed in `replaces`).
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MealIntake {
    pub meal: Meal,
    pub eaten: Option<Eaten>,
    pub drinks_ml: Option<u16>,
    pub comment: Option<String>,
    pub intake_id: IntakeId,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    /// The earlier records of the meal this one corrects.
    pub replaces: Vec<IntakeId>,
}

crate::redacted_debug!(MealIntake);

/// A watched day: its meals and totals, a point of the chart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IntakeDay {
    pub day: NaiveDate,
    pub watch_id: NutritionWatchId,
    /// In the order of the day.
    pub meals: Vec<MealIntake>,
    /// The drinks recorded, mL (none when no drink was recorded).
    pub drinks_ml: Option<u32>,
    /// The share of the main meals recorded that was eaten, in percent (none when no main meal
    /// was recorded).
    pub main_meals_eaten_percent: Option<u32>,
    /// The day is over (the alerts weigh complete days only).
    pub complete: bool,
    /// A complete day whose drinks are under the watch's threshold.
    pub below_hydration_threshold: bool,
    /// A complete day whose main meals were on average less than half eaten.
    pub low_food_intake: bool,
}

/// An alert of a watch, standing on the day it is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IntakeAlert {
    pub kind: IntakeAlertKind,
    pub watch_id: NutritionWatchId,
    /// The days it is about.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// What the hand-over says of it.
    pub summary: String,
}

/// A person's watched days in a period, and the alerts standing today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IntakeReport {
    /// The day the alerts stand on: today, in the establishment's calendar.
    pub on: NaiveDate,
    /// Oldest first: the chart's series.
    pub days: Vec<IntakeDay>,
    pub alerts: Vec<IntakeAlert>,
}

/// The watch that covers `day`: the latest started of those that do.
fn watch_of(watches: &[NutritionWatch], day: NaiveDate) -> Option<&NutritionWatch> {
    watches.iter().filter(|w| w.covers_day(day)).max_by_key(|w| (w.started_on, w.started_at, w.id))
}

/// The day `day` of `watch` from the intakes recorded for it.
fn day_of(watch: &NutritionWatch, day: NaiveDate, intakes: &[&Intake], today: NaiveDate) -> IntakeDay {
    let mut meals: Vec<MealIntake> = Vec::new();
    let mut records: Vec<&&Intake> = intakes.iter().filter(|i| i.day == day).collect();
    records.sort_by_key(|i| (i.recorded_at, i.id));
    for intake in records {
        let replaces = match meals.iter().position(|m| m.meal == intake.meal) {
            Some(at) => {
                let earlier = meals.remove(at);
                let mut ids = earlier.replaces;
                ids.push(earlier.intake_id);
                ids
            }
            None => Vec::new(),
        };
        meals.push(MealIntake {
            meal: intake.meal,
            eaten: intake.eaten,
            drinks_ml: intake.drinks_ml,
            comment: intake.comment.clone(),
            intake_id: intake.id,
            recorded_by: intake.recorded_by,
            recorded_at: intake.recorded_at,
            replaces,
        });
    }
    meals.sort_by_key(|m| Meal::ALL.iter().position(|a| *a == m.meal));
    let drinks: Vec<u32> = meals.iter().filter_map(|m| m.drinks_ml).map(u32::from).collect();
    let drinks_ml = (!drinks.is_empty()).then(|| drinks.iter().sum());
    let main: Vec<u32> =
        meals.iter().filter(|m| m.meal.is_main()).filter_map(|m| m.eaten).map(Eaten::quarters).collect();
    // Quarters eaten out of four per meal, in percent.
    let main_meals_eaten_percent = (!main.is_empty()).then(|| main.iter().sum::<u32>() * 100 / (4 * main.len() as u32));
    let complete = day < today;
    IntakeDay {
        day,
        watch_id: watch.id,
        meals,
        drinks_ml,
        main_meals_eaten_percent,
        complete,
        below_hydration_threshold: complete
            && watch.covers.fluids()
            && drinks_ml.is_some_and(|ml| ml < u32::from(watch.hydration_threshold_ml)),
        low_food_intake: complete && watch.covers.food() && main_meals_eaten_percent.is_some_and(|p| p < 50),
    }
}

/// The watched days from `from` to `to` (both included, at most today) and the alerts standing
/// on `today`, from the person's watches and the intakes recorded.
pub fn report(
    watches: &[NutritionWatch],
    intakes: &[Intake],
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
) -> IntakeReport {
    let day = |d: NaiveDate| {
        watch_of(watches, d).map(|w| {
            let of_watch: Vec<&Intake> = intakes.iter().filter(|i| i.watch_id == w.id).collect();
            day_of(w, d, &of_watch, today)
        })
    };
    let days = from.iter_days().take_while(|d| *d <= to.min(today)).filter_map(day).collect();
    IntakeReport { on: today, days, alerts: alerts(watches, intakes, today) }
}

/// The alerts standing on `today`: those of the last complete day (yesterday) of the watch that
/// covers it (see the module's documentation).
pub fn alerts(watches: &[NutritionWatch], intakes: &[Intake], today: NaiveDate) -> Vec<IntakeAlert> {
    let Some(yesterday) = today.pred_opt() else { return Vec::new() };
    let Some(watch) = watch_of(watches, yesterday) else { return Vec::new() };
    let of_watch: Vec<&Intake> = intakes.iter().filter(|i| i.watch_id == watch.id).collect();
    let mut alerts = Vec::new();
    let last = day_of(watch, yesterday, &of_watch, today);
    if last.below_hydration_threshold {
        alerts.push(IntakeAlert {
            kind: IntakeAlertKind::LowHydration,
            watch_id: watch.id,
            from: yesterday,
            to: yesterday,
            summary: format!(
                "Hydratation : {} mL le {} (seuil {} mL)",
                last.drinks_ml.unwrap_or_default(),
                yesterday.format("%d/%m"),
                watch.hydration_threshold_ml
            ),
        });
    }
    let days = u32::from(watch.food_alert_days);
    let run: Vec<NaiveDate> =
        (0..days).filter_map(|back| yesterday.checked_sub_days(chrono::Days::new(back.into()))).collect();
    let low = run.len() == days as usize
        && run.iter().all(|d| watch.covers_day(*d) && day_of(watch, *d, &of_watch, today).low_food_intake);
    if low && let Some(first) = run.last() {
        alerts.push(IntakeAlert {
            kind: IntakeAlertKind::LowFoodIntake,
            watch_id: watch.id,
            from: *first,
            to: yesterday,
            summary: format!("Repas principaux mangés à moins de la moitié depuis {days} jours"),
        });
    }
    alerts
}

/// A person's nutrition at a glance: diet and textures, the watch, the last days' intake, and
/// what their latest weight shows (measurements' undernutrition criteria).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NutritionSummary {
    pub resident_id: ResidentId,
    /// The diet in force (the latest version).
    pub diet: Option<DietPrescription>,
    /// The watch in progress, else the latest one.
    pub watch: Option<NutritionWatch>,
    /// The last seven days watched (today included), oldest first.
    pub recent_days: Vec<IntakeDay>,
    pub alerts: Vec<IntakeAlert>,
    /// The latest weight, its BMI and the undernutrition criteria it meets.
    pub weight: crate::measurement::nutrition::NutritionStatus,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn fields(result: Result<impl Sized, ValidationErrors>) -> Vec<String> {
        match result {
            Ok(_) => Vec::new(),
            Err(errors) => errors.errors().iter().map(|e| e.field.clone()).collect(),
        }
    }

    fn diet(diets: Vec<Diet>) -> DietInput {
        DietInput {
            diets,
            other_diet: None,
            food_texture: FoodTexture::Mixe,
            drink_texture: DrinkTexture::Iddsi2,
            starts_on: None,
            decided_by: DecidedBy::SpeechTherapist,
            decided_by_name: None,
            comment: None,
        }
    }

    #[test]
    fn a_diet_is_checked_and_its_changes_told() {
        let today = day("2026-12-01");
        let cases: Vec<(DietInput, Vec<&str>)> = vec![
            (diet(vec![Diet::Diabetic, Diet::LowSalt]), vec![]),
            (diet(vec![]), vec!["diets"]),
            (diet(vec![Diet::Normal, Diet::LowSalt]), vec!["diets"]),
            (diet(vec![Diet::LowSalt, Diet::LowSalt]), vec!["diets"]),
            (diet(vec![Diet::Other]), vec!["other_diet"]),
            (DietInput { other_diet: Some("Sans porc".to_owned()), ..diet(vec![Diet::Other]) }, vec![]),
            (DietInput { starts_on: Some(day("2027-01-15")), ..diet(vec![Diet::Normal]) }, vec!["starts_on"]),
        ];
        for (input, expected) in cases {
            assert_eq!(fields(NewDiet::validate(input, today)), expected);
        }
        let first = NewDiet::validate(diet(vec![Diet::LowSalt, Diet::Diabetic]), today).unwrap();
        assert_eq!(first.diets, [Diet::Diabetic, Diet::LowSalt], "in the list's order");
        assert_eq!(
            first.change(None).unwrap(),
            "Régime diabétique, hyposodé ; texture mixée ; boissons IDDSI 2 (à partir du 01/12/2026)"
        );
        let kept = DietPrescription {
            id: DietPrescriptionId::from_uuid(uuid::Uuid::from_u128(1)),
            resident_id: ResidentId::from_uuid(uuid::Uuid::from_u128(2)),
            establishment_id: EstablishmentId::from_uuid(uuid::Uuid::from_u128(3)),
            diets: first.diets.clone(),
            other_diet: None,
            food_texture: first.food_texture,
            drink_texture: first.drink_texture,
            thickened_drinks: true,
            starts_on: today,
            decided_by: DecidedBy::SpeechTherapist,
            decided_by_name: None,
            comment: None,
            recorded_by: UserId::from_uuid(uuid::Uuid::from_u128(4)),
            recorded_at: "2026-12-01T10:00:00Z".parse().unwrap(),
        };
        assert_eq!(first.change(Some(&kept)), None, "the same diet again tells nothing");
        let smoother = NewDiet::validate(
            DietInput { food_texture: FoodTexture::Lisse, ..diet(vec![Diet::LowSalt, Diet::Diabetic]) },
            today,
        )
        .unwrap();
        assert_eq!(smoother.change(Some(&kept)).unwrap(), "Texture lisse (à partir du 01/12/2026)");
        let normal = NewDiet::validate(
            DietInput {
                food_texture: FoodTexture::Normal,
                drink_texture: DrinkTexture::Iddsi0,
                ..diet(vec![Diet::Normal])
            },
            today,
        )
        .unwrap();
        assert_eq!(normal.change(None), None, "a normal diet first tells nothing");
    }

    fn watch(covers: WatchCovers, started_on: &str) -> NutritionWatch {
        NutritionWatch {
            id: NutritionWatchId::from_uuid(uuid::Uuid::from_u128(10)),
            resident_id: ResidentId::from_uuid(uuid::Uuid::from_u128(2)),
            establishment_id: EstablishmentId::from_uuid(uuid::Uuid::from_u128(3)),
            covers,
            reason: "Perte de poids".to_owned(),
            started_on: day(started_on),
            planned_end_on: None,
            hydration_threshold_ml: HYDRATION_THRESHOLD_ML,
            food_alert_days: FOOD_ALERT_DAYS,
            started_by: UserId::from_uuid(uuid::Uuid::from_u128(4)),
            started_at: "2026-11-01T08:00:00Z".parse().unwrap(),
            ended_on: None,
            ended_by: None,
            ended_at: None,
        }
    }

    fn intake(n: u128, on: &str, meal: Meal, eaten: Option<Eaten>, drinks_ml: Option<u16>) -> Intake {
        Intake {
            id: IntakeId::from_uuid(uuid::Uuid::from_u128(100 + n)),
            resident_id: ResidentId::from_uuid(uuid::Uuid::from_u128(2)),
            watch_id: NutritionWatchId::from_uuid(uuid::Uuid::from_u128(10)),
            day: day(on),
            meal,
            eaten,
            drinks_ml,
            comment: None,
            recorded_by: UserId::from_uuid(uuid::Uuid::from_u128(4)),
            recorded_at: DateTime::<Utc>::from_timestamp(1_700_000_000 + n as i64, 0).unwrap(),
        }
    }

    #[test]
    fn an_intake_belongs_to_a_day_of_its_watch() {
        let today = day("2026-12-05");
        let both = watch(WatchCovers::Both, "2026-12-01");
        let fluids = watch(WatchCovers::Fluids, "2026-12-01");
        let input = |on: &str, eaten, drinks_ml| IntakeInput {
            day: Some(day(on)),
            meal: Meal::Lunch,
            eaten,
            drinks_ml,
            comment: None,
        };
        let cases: Vec<(&NutritionWatch, IntakeInput, Vec<&str>)> = vec![
            (&both, input("2026-12-05", Some(Eaten::Half), Some(200)), vec![]),
            (&both, input("2026-12-06", Some(Eaten::Half), None), vec!["day"]),
            (&both, input("2026-11-30", Some(Eaten::Half), None), vec!["day"]),
            (&both, input("2026-12-02", None, None), vec!["eaten"]),
            (&both, input("2026-12-02", None, Some(3500)), vec!["drinks_ml"]),
            (&fluids, input("2026-12-02", Some(Eaten::All), None), vec!["drinks_ml"]),
            (&fluids, input("2026-12-02", None, Some(150)), vec![]),
        ];
        for (i, (watch, input, expected)) in cases.into_iter().enumerate() {
            assert_eq!(fields(NewIntake::validate(input, watch, today)), expected, "case {i}");
        }
        let ended = NutritionWatch { ended_on: Some(day("2026-12-03")), ..both.clone() };
        assert!(NewIntake::validate(input("2026-12-04", Some(Eaten::All), None), &ended, today).is_err());
        assert!(!ended.in_progress(today) && both.in_progress(today));
        assert_eq!(fields(both.end_on(Some(day("2026-11-30")), today)), ["ended_on"]);
        let watch_input = |threshold, days| WatchInput {
            covers: WatchCovers::Both,
            reason: "Perte de 3 kg".to_owned(),
            started_on: None,
            planned_end_on: Some(day("2026-12-04")),
            hydration_threshold_ml: threshold,
            food_alert_days: days,
        };
        assert_eq!(
            fields(NewWatch::validate(watch_input(Some(400), Some(8)), today)),
            ["planned_end_on", "hydration_threshold_ml", "food_alert_days"]
        );
    }

    #[test]
    fn days_add_up_the_latest_record_of_each_meal_and_alerts_weigh_complete_days() {
        use Eaten::*;
        use Meal::*;
        let today = day("2026-12-05");
        let watched = watch(WatchCovers::Both, "2026-12-01");
        let intakes = vec![
            // 1 December: a good day.
            intake(1, "2026-12-01", Breakfast, Some(All), Some(250)),
            intake(2, "2026-12-01", Lunch, Some(ThreeQuarters), Some(400)),
            intake(3, "2026-12-01", Dinner, Some(Half), Some(500)),
            // 2 to 4 December: meals mostly left; the 4th, little drunk.
            intake(4, "2026-12-02", Lunch, Some(Quarter), Some(600)),
            intake(5, "2026-12-02", Dinner, Some(Half), Some(500)),
            intake(6, "2026-12-03", Breakfast, Some(None), Some(300)),
            intake(7, "2026-12-03", Lunch, Some(Half), Some(900)),
            intake(8, "2026-12-04", Lunch, Some(All), Some(300)),
            intake(9, "2026-12-04", Snack, Option::None, Some(200)),
            // The lunch of the 4th corrected: a quarter, not all.
            intake(10, "2026-12-04", Lunch, Some(Quarter), Some(300)),
            // Today, in progress: never alerted on.
            intake(11, "2026-12-05", Breakfast, Some(None), Some(100)),
        ];
        let report = report(std::slice::from_ref(&watched), &intakes, day("2026-11-28"), day("2026-12-09"), today);
        type Day = (String, Option<u32>, Option<u32>, bool, bool);
        let summary: Vec<Day> = report
            .days
            .iter()
            .map(|d| {
                (
                    d.day.to_string(),
                    d.drinks_ml,
                    d.main_meals_eaten_percent,
                    d.below_hydration_threshold,
                    d.low_food_intake,
                )
            })
            .collect();
        let expected = [
            ("2026-12-01", Some(1150), Some(75), false, false),
            ("2026-12-02", Some(1100), Some(37), false, true),
            ("2026-12-03", Some(1200), Some(25), false, true),
            ("2026-12-04", Some(500), Some(25), true, true),
            ("2026-12-05", Some(100), Some(0), false, false),
        ];
        let expected: Vec<_> = expected.iter().map(|(d, a, b, c, e)| (d.to_string(), *a, *b, *c, *e)).collect();
        assert_eq!(summary, expected);
        let lunch = report.days[3].meals.iter().find(|m| m.meal == Lunch).unwrap();
        assert_eq!((lunch.eaten, lunch.replaces.len()), (Some(Quarter), 1));
        let kinds: Vec<(IntakeAlertKind, String)> =
            report.alerts.iter().map(|a| (a.kind, format!("{}..{}", a.from, a.to))).collect();
        assert_eq!(
            kinds,
            [
                (IntakeAlertKind::LowHydration, "2026-12-04..2026-12-04".to_owned()),
                (IntakeAlertKind::LowFoodIntake, "2026-12-02..2026-12-04".to_owned())
            ]
        );
        assert_eq!(report.alerts[0].summary, "Hydratation : 500 mL le 04/12 (seuil 1000 mL)");

        // A day not recorded breaks the run; a watch of fluids only says nothing of meals; a
        // threshold of the watch's own.
        let gap: Vec<Intake> = intakes.iter().filter(|i| i.day != day("2026-12-03")).cloned().collect();
        assert_eq!(alerts(std::slice::from_ref(&watched), &gap, today).len(), 1);
        let fluids = NutritionWatch { covers: WatchCovers::Fluids, ..watched.clone() };
        assert_eq!(alerts(std::slice::from_ref(&fluids), &intakes, today)[0].kind, IntakeAlertKind::LowHydration);
        let lower = NutritionWatch { hydration_threshold_ml: 500, food_alert_days: 4, ..watched.clone() };
        assert!(alerts(std::slice::from_ref(&lower), &intakes, today).is_empty());
        // Two days of alert are enough for a watch that says so.
        let two = NutritionWatch { food_alert_days: 2, hydration_threshold_ml: 500, ..watched };
        assert_eq!(alerts(std::slice::from_ref(&two), &intakes, today)[0].from, day("2026-12-03"));
    }
}
