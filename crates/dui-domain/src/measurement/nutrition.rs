//! Undernutrition (dénutrition) from the weights and heights recorded: the weight-based
//! criteria of the Haute Autorité de santé, for people aged 70 and over (HAS and Fédération
//! française de nutrition, November 2021) and for adults under 70 (HAS, 2019).
//!
//! For each weight, [`History::assess`] computes the body-mass index from the person's height,
//! the weight lost over one month and over six months, and the criteria met ([`THRESHOLDS`]).
//! These are the *phenotypic* criteria that weights alone can show; the diagnosis also needs an
//! etiologic criterion (reduced intake, malabsorption, an acute or chronic disease) and may rest
//! on other phenotypic ones (sarcopenia, a loss against the usual weight before the illness),
//! which the care team and the physician judge. So the flag draws attention: it is the criterion
//! "weight" of the diagnosis, not the diagnosis.
//!
//! The earlier weight a loss is measured against — the reference, for each period:
//!
//! - *one month*: the earliest weight measured in the 31 days before the weight (by calendar
//!   day, UTC), earlier than it. 31 days: a weighing on the same day of the previous month, at
//!   any hour, is in the window, whatever that month's length; with weekly weighings, the one
//!   four weeks before. A loss reached in less than a month (against a weight of ten days
//!   before) is a loss "in one month" too. Without a weight in the window (a weighing missed),
//!   there is no one-month loss: a loss over a longer time is no loss in one month.
//! - *six months*: likewise, the earliest weight measured in the 184 days before (the longest six
//!   consecutive months).
//!
//! Weights and heights entered in error are not used. The height is the latest measured at or
//! before the weight (a person's height shrinks with age), or, when none was, the first measured
//! after it. The age is the person's on the day of the weight (UTC): the criteria of 70 and over
//! from 70 on, the adults' from 18 to 69; none under 18 (children are assessed on growth
//! charts), nor when the birth date is unknown.
//!
//! Comparisons are made on the figures shown — the BMI and the loss rounded to one decimal — so
//! that a BMI shown as 22.0 never meets "below 22", and a loss shown as 5.0 % always meets
//! "5 % or more".

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::Serialize;

use crate::MeasurementId;

/// The window of a loss "in one month", in days.
pub const ONE_MONTH_DAYS: u64 = 31;
/// The window of a loss "in six months", in days.
pub const SIX_MONTHS_DAYS: u64 = 184;

crate::text_codes! {
    /// The set of criteria applied, by age.
    pub enum NutritionCriteriaSet {
        /// HAS–FFN 2021, people aged 70 and over.
        Aged70AndOver = "has_2021_70_and_over",
        /// HAS 2019, adults from 18 to 69.
        Adult = "has_2019_adult",
    }
}

crate::text_codes! {
    /// A criterion of undernutrition that weights and heights show.
    pub enum NutritionCriterion {
        /// Weight loss over one month.
        WeightLoss1Month = "weight_loss_1_month",
        /// Weight loss over six months.
        WeightLoss6Months = "weight_loss_6_months",
        /// Body-mass index below the threshold.
        LowBmi = "low_bmi",
    }
}

crate::text_codes! {
    /// How severe the undernutrition a criterion shows is.
    pub enum Undernutrition {
        Moderate = "moderate",
        Severe = "severe",
    }
}

/// The thresholds of one set of criteria, in tenths (of kg/m², of a per cent), each as
/// `[moderate, severe]`: the BMI criterion is met *below* `bmi_below`, a loss criterion *at or
/// above* its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub set: NutritionCriteriaSet,
    /// The youngest age (years) the set applies to.
    pub from_age: u32,
    pub bmi_below: [i64; 2],
    pub loss_1_month: [i64; 2],
    pub loss_6_months: [i64; 2],
}

/// The criteria, oldest age first (the first whose age the person has reached applies).
///
/// | set                  | ages   | undernutrition                              | severe                                    |
/// |----------------------|--------|---------------------------------------------|-------------------------------------------|
/// | HAS–FFN 2021         | ≥ 70   | BMI < 22; loss ≥ 5 % in 1 month or ≥ 10 % in 6 months | BMI < 20; loss ≥ 10 % in 1 month or ≥ 15 % in 6 months |
/// | HAS 2019, adults     | 18–69  | BMI < 18.5; same losses                     | BMI ≤ 17; same losses                     |
pub const THRESHOLDS: &[Thresholds] = &[
    Thresholds {
        set: NutritionCriteriaSet::Aged70AndOver,
        from_age: 70,
        bmi_below: [220, 200],
        loss_1_month: [50, 100],
        loss_6_months: [100, 150],
    },
    Thresholds {
        set: NutritionCriteriaSet::Adult,
        from_age: 18,
        // BMI ≤ 17 is below 17.1 on figures of one decimal.
        bmi_below: [185, 171],
        loss_1_month: [50, 100],
        loss_6_months: [100, 150],
    },
];

impl Thresholds {
    /// The set that applies at `age`.
    pub fn at_age(age: u32) -> Option<&'static Thresholds> {
        THRESHOLDS.iter().find(|t| age >= t.from_age)
    }
}

/// A weight (kg) or a height (cm) as recorded, in the kind's reference unit.
#[derive(Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NutritionReading {
    pub id: MeasurementId,
    pub measured_at: DateTime<Utc>,
    pub value: f64,
}

impl std::fmt::Debug for NutritionReading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NutritionReading").field("id", &self.id).finish_non_exhaustive()
    }
}

/// A weight compared with an earlier one: positive figures are a loss, negative a gain.
#[derive(Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WeightLoss {
    /// The earlier weight (kg) the loss is measured against.
    pub reference: NutritionReading,
    /// kg, one decimal.
    pub loss_kg: f64,
    /// Per cent of the reference weight, one decimal.
    pub loss_percent: f64,
}

impl std::fmt::Debug for WeightLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeightLoss").field("reference", &self.reference).finish_non_exhaustive()
    }
}

/// A criterion met, and how severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CriterionMet {
    pub criterion: NutritionCriterion,
    pub severity: Undernutrition,
}

/// What one weight shows.
#[derive(Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NutritionAssessment {
    /// The person's age on the day of the weight, in years.
    pub age: Option<u32>,
    /// The criteria applied (none under 18, or when the age is unknown).
    pub criteria_set: Option<NutritionCriteriaSet>,
    /// The height (cm) the BMI is computed with.
    pub height: Option<NutritionReading>,
    /// kg/m², one decimal.
    pub bmi: Option<f64>,
    pub loss_1_month: Option<WeightLoss>,
    pub loss_6_months: Option<WeightLoss>,
    /// The criteria met, in the order: one-month loss, six-month loss, BMI.
    pub criteria: Vec<CriterionMet>,
    /// The most severe of the criteria met; none when none is.
    pub undernutrition: Option<Undernutrition>,
}

impl std::fmt::Debug for NutritionAssessment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NutritionAssessment").field("criteria", &self.criteria).finish_non_exhaustive()
    }
}

/// A person's nutrition status: what their latest weight shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NutritionStatus {
    pub resident_id: crate::ResidentId,
    /// The latest weight (kg) not entered in error; none when the person was never weighed.
    pub latest_weight: Option<NutritionReading>,
    /// What it shows.
    pub nutrition: Option<NutritionAssessment>,
}

/// A person's weights and heights (not entered in error) and birth date: what the criteria are
/// computed from.
#[derive(Clone, Default, PartialEq)]
pub struct History {
    pub birth_date: Option<NaiveDate>,
    /// kg.
    pub weights: Vec<NutritionReading>,
    /// cm.
    pub heights: Vec<NutritionReading>,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("weights", &self.weights.len())
            .field("heights", &self.heights.len())
            .finish_non_exhaustive()
    }
}

/// Tenths, rounded: the figure shown with one decimal, as a whole number.
fn tenths(value: f64) -> i64 {
    (value * 10.0).round() as i64
}

impl History {
    /// What `weight` (kg) shows, against the weights measured before it.
    pub fn assess(&self, weight: &NutritionReading) -> NutritionAssessment {
        let day = weight.measured_at.date_naive();
        let age = self.birth_date.and_then(|birth| day.years_since(birth));
        let thresholds = age.and_then(Thresholds::at_age);
        let height = self.height_at(weight.measured_at);
        let bmi = height.filter(|h| h.value > 0.0).map(|h| tenths(weight.value * 10_000.0 / (h.value * h.value)));
        let loss_1_month = self.loss_since(weight, ONE_MONTH_DAYS);
        let loss_6_months = self.loss_since(weight, SIX_MONTHS_DAYS);

        let mut criteria = Vec::new();
        if let Some(t) = thresholds {
            let by_loss = |loss: &Option<(WeightLoss, i64)>, limits: [i64; 2]| match loss {
                Some((_, percent)) if *percent >= limits[1] => Some(Undernutrition::Severe),
                Some((_, percent)) if *percent >= limits[0] => Some(Undernutrition::Moderate),
                _ => None,
            };
            let by_bmi = match bmi {
                Some(bmi) if bmi < t.bmi_below[1] => Some(Undernutrition::Severe),
                Some(bmi) if bmi < t.bmi_below[0] => Some(Undernutrition::Moderate),
                _ => None,
            };
            for (criterion, severity) in [
                (NutritionCriterion::WeightLoss1Month, by_loss(&loss_1_month, t.loss_1_month)),
                (NutritionCriterion::WeightLoss6Months, by_loss(&loss_6_months, t.loss_6_months)),
                (NutritionCriterion::LowBmi, by_bmi),
            ] {
                if let Some(severity) = severity {
                    criteria.push(CriterionMet { criterion, severity });
                }
            }
        }
        let undernutrition = if criteria.iter().any(|m| m.severity == Undernutrition::Severe) {
            Some(Undernutrition::Severe)
        } else if criteria.is_empty() {
            None
        } else {
            Some(Undernutrition::Moderate)
        };
        NutritionAssessment {
            age,
            criteria_set: thresholds.map(|t| t.set),
            height,
            bmi: bmi.map(|b| b as f64 / 10.0),
            loss_1_month: loss_1_month.map(|(loss, _)| loss),
            loss_6_months: loss_6_months.map(|(loss, _)| loss),
            criteria,
            undernutrition,
        }
    }

    /// What the hand-over says of `weight`, a weighing not yet among the weights, when it shows
    /// undernutrition that the weight before it did not show, or a more severe one: "Dénutrition
    /// sévère : 52,3 kg ; perte de 10,2 % en 1 mois ; IMC 19,1". `None` otherwise: a weighing that
    /// confirms what the team knows already is not news.
    pub fn worsened_by(&self, weight: &NutritionReading) -> Option<String> {
        let now = self.assess(weight);
        let severity = now.undernutrition?;
        let before = self
            .weights
            .iter()
            .filter(|w| {
                w.id != weight.id && (w.measured_at, w.id.as_uuid()) < (weight.measured_at, weight.id.as_uuid())
            })
            .max_by_key(|w| (w.measured_at, w.id.as_uuid()));
        let rank = |u: Option<Undernutrition>| match u {
            None => 0,
            Some(Undernutrition::Moderate) => 1,
            Some(Undernutrition::Severe) => 2,
        };
        if before.is_some_and(|before| rank(self.assess(before).undernutrition) >= rank(Some(severity))) {
            return None;
        }
        let decimal = |value: f64| format!("{value:.1}").replace('.', ",");
        let mut parts = vec![format!("{} kg", decimal(weight.value))];
        for met in &now.criteria {
            parts.push(match met.criterion {
                NutritionCriterion::WeightLoss1Month => {
                    format!("perte de {} % en 1 mois", decimal(now.loss_1_month.map_or(0.0, |l| l.loss_percent)))
                }
                NutritionCriterion::WeightLoss6Months => {
                    format!("perte de {} % en 6 mois", decimal(now.loss_6_months.map_or(0.0, |l| l.loss_percent)))
                }
                NutritionCriterion::LowBmi => format!("IMC {}", decimal(now.bmi.unwrap_or_default())),
            });
        }
        let how = match severity {
            Undernutrition::Moderate => "modérée",
            Undernutrition::Severe => "sévère",
        };
        Some(format!("Dénutrition {how} : {}", parts.join(" ; ")))
    }

    /// The status: what the latest weight shows.
    pub fn status(&self, resident: crate::ResidentId) -> NutritionStatus {
        let latest = self.weights.iter().max_by_key(|w| (w.measured_at, w.id.as_uuid())).copied();
        NutritionStatus { resident_id: resident, latest_weight: latest, nutrition: latest.map(|w| self.assess(&w)) }
    }

    /// The height to compute a BMI at `at` with: the latest measured at or before it, else the
    /// first measured after.
    fn height_at(&self, at: DateTime<Utc>) -> Option<NutritionReading> {
        let key = |h: &&NutritionReading| (h.measured_at, h.id.as_uuid());
        let before = self.heights.iter().filter(|h| h.measured_at <= at).max_by_key(key);
        before.or_else(|| self.heights.iter().min_by_key(key)).copied()
    }

    /// The loss of `weight` against the earliest weight measured in the `days` days before it
    /// (by calendar day), with the loss in tenths of a per cent.
    fn loss_since(&self, weight: &NutritionReading, days: u64) -> Option<(WeightLoss, i64)> {
        let first_day = weight.measured_at.date_naive().checked_sub_days(Days::new(days))?;
        let reference = self
            .weights
            .iter()
            .filter(|w| {
                w.id != weight.id && w.measured_at < weight.measured_at && w.measured_at.date_naive() >= first_day
            })
            .min_by_key(|w| (w.measured_at, w.id.as_uuid()))?;
        if reference.value <= 0.0 {
            return None;
        }
        let lost = reference.value - weight.value;
        let percent = tenths(lost * 100.0 / reference.value);
        let loss = WeightLoss {
            reference: *reference,
            loss_kg: tenths(lost) as f64 / 10.0,
            loss_percent: percent as f64 / 10.0,
        };
        Some((loss, percent))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(day: &str) -> DateTime<Utc> {
        let date = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
        Utc.from_utc_datetime(&date.and_hms_opt(8, 0, 0).unwrap())
    }

    fn reading(day: &str, value: f64) -> NutritionReading {
        // An id of its own for each reading: its day and value.
        let n = at(day).timestamp() as u128 * 100_000 + (value * 10.0) as u128;
        NutritionReading { id: MeasurementId::from_uuid(uuid::Uuid::from_u128(n)), measured_at: at(day), value }
    }

    fn resident() -> crate::ResidentId {
        crate::ResidentId::from_uuid(uuid::Uuid::from_u128(1))
    }

    /// Born 1939-09-09: 87 in 2026.
    fn history(weights: &[(&str, f64)], height: Option<f64>) -> History {
        History {
            birth_date: NaiveDate::from_ymd_opt(1939, 9, 9),
            weights: weights.iter().map(|(day, kg)| reading(day, *kg)).collect(),
            heights: height.map(|cm| vec![reading("2026-01-05", cm)]).unwrap_or_default(),
        }
    }

    fn latest(history: &History) -> NutritionAssessment {
        history.status(resident()).nutrition.unwrap()
    }

    fn met(assessment: &NutritionAssessment) -> Vec<(NutritionCriterion, Undernutrition)> {
        assessment.criteria.iter().map(|m| (m.criterion, m.severity)).collect()
    }

    #[test]
    fn a_loss_of_five_point_six_per_cent_in_a_month_is_undernutrition() {
        let h = history(&[("2026-10-01", 62.5), ("2026-11-01", 59.0)], Some(155.0));
        let a = latest(&h);
        let loss = a.loss_1_month.unwrap();
        assert_eq!((loss.loss_kg, loss.loss_percent, loss.reference.value), (3.5, 5.6, 62.5));
        assert_eq!(met(&a), [(NutritionCriterion::WeightLoss1Month, Undernutrition::Moderate)]);
        assert_eq!(a.undernutrition, Some(Undernutrition::Moderate));
        assert_eq!((a.age, a.criteria_set), (Some(87), Some(NutritionCriteriaSet::Aged70AndOver)));
        // 59 kg at 1.55 m: BMI 24.6, no criterion.
        assert_eq!(a.bmi, Some(24.6));
    }

    #[test]
    fn the_hand_over_hears_of_undernutrition_when_it_appears_or_worsens() {
        let h = history(&[("2026-09-01", 63.0), ("2026-10-01", 62.5)], Some(155.0));
        // 59.0 kg a month later: 5.6 % lost, new.
        assert_eq!(
            h.worsened_by(&reading("2026-11-01", 59.0)).as_deref(),
            Some("Dénutrition modérée : 59,0 kg ; perte de 5,6 % en 1 mois")
        );
        // Within the criteria before and still moderate: not news.
        let h = history(&[("2026-09-01", 63.0), ("2026-10-01", 62.5), ("2026-11-01", 59.0)], Some(155.0));
        assert_eq!(h.worsened_by(&reading("2026-11-08", 58.9)), None);
        // Severe now (10 % in a month, BMI under 22): told, with each criterion.
        assert_eq!(
            h.worsened_by(&reading("2026-11-29", 52.0)).as_deref(),
            Some("Dénutrition sévère : 52,0 kg ; perte de 11,9 % en 1 mois ; perte de 17,5 % en 6 mois ; IMC 21,6")
        );
        // A stable weight says nothing; a first weighing with a low BMI is news.
        assert_eq!(h.worsened_by(&reading("2026-11-08", 62.4)), None);
        assert_eq!(
            history(&[], Some(170.0)).worsened_by(&reading("2026-11-08", 57.5)).as_deref(),
            Some("Dénutrition sévère : 57,5 kg ; IMC 19,9")
        );
    }

    #[test]
    fn loss_thresholds_apply_to_the_figures_shown() {
        let month = |before: f64, now: f64| {
            let a = latest(&history(&[("2026-10-01", before), ("2026-11-01", now)], None));
            (a.loss_1_month.unwrap().loss_percent, met(&a))
        };
        let moderate = vec![(NutritionCriterion::WeightLoss1Month, Undernutrition::Moderate)];
        // 10 % in a month is also 10 % in six months.
        let severe = vec![
            (NutritionCriterion::WeightLoss1Month, Undernutrition::Severe),
            (NutritionCriterion::WeightLoss6Months, Undernutrition::Moderate),
        ];
        assert_eq!(month(60.0, 57.1), (4.8, vec![]));
        assert_eq!(month(60.0, 57.0), (5.0, moderate.clone()));
        // 4.95 % is shown as 5.0 %, and meets the criterion shown.
        assert_eq!(month(200.0, 190.1), (5.0, moderate.clone()));
        assert_eq!(month(60.0, 54.1), (9.8, moderate));
        assert_eq!(month(60.0, 54.0), (10.0, severe));
        // A gain is a negative loss.
        assert_eq!(month(60.0, 61.2), (-2.0, vec![]));
    }

    #[test]
    fn six_month_losses_are_against_the_earliest_weight_of_the_six_months() {
        let weights = [
            ("2026-05-01", 70.0),
            ("2026-07-01", 66.0),
            ("2026-09-01", 64.0),
            ("2026-10-01", 63.5),
            ("2026-11-01", 63.0),
        ];
        let a = latest(&history(&weights, None));
        assert_eq!(a.loss_6_months.unwrap().reference.value, 70.0);
        assert_eq!(a.loss_6_months.unwrap().loss_percent, 10.0);
        assert_eq!(a.loss_1_month.unwrap().loss_percent, 0.8);
        assert_eq!(met(&a), [(NutritionCriterion::WeightLoss6Months, Undernutrition::Moderate)]);
        let severe = [("2026-05-04", 70.0), ("2026-11-01", 59.5)];
        assert_eq!(
            met(&latest(&history(&severe, None))),
            [(NutritionCriterion::WeightLoss6Months, Undernutrition::Severe)]
        );
        // 184 days back is the window's first day; 185 is out of it.
        let edge = |first: &str| latest(&history(&[(first, 70.0), ("2026-11-01", 60.0)], None)).loss_6_months;
        assert!(edge("2026-05-01").is_some());
        assert!(edge("2026-04-30").is_none());
    }

    #[test]
    fn the_one_month_reference_is_within_31_days() {
        // Weekly weighings: the one of four weeks before, not five.
        let weekly = [
            ("2026-09-27", 64.0),
            ("2026-10-04", 63.0),
            ("2026-10-11", 62.0),
            ("2026-10-25", 61.0),
            ("2026-11-01", 59.8),
        ];
        let a = latest(&history(&weekly, None));
        assert_eq!(a.loss_1_month.unwrap().reference.measured_at, at("2026-10-04"));
        assert_eq!(a.loss_1_month.unwrap().loss_percent, 5.1);
        // The same day of the previous month, whatever the hour and the month's length.
        let a = latest(&history(&[("2026-09-30", 62.0), ("2026-10-31", 58.0)], None));
        assert!(a.loss_1_month.is_some());
        // A weighing missed: a weight 40 days before gives no one-month loss (but a six-month one).
        let a = latest(&history(&[("2026-09-22", 62.0), ("2026-11-01", 58.5)], None));
        assert!(a.loss_1_month.is_none());
        assert_eq!(met(&a), []);
        assert_eq!(a.loss_6_months.unwrap().loss_percent, 5.6);
        // A loss in ten days is a loss in one month.
        let a = latest(&history(&[("2026-08-01", 60.0), ("2026-10-22", 62.0), ("2026-11-01", 58.0)], None));
        assert_eq!(a.loss_1_month.unwrap().reference.measured_at, at("2026-10-22"));
        assert_eq!(met(&a)[0], (NutritionCriterion::WeightLoss1Month, Undernutrition::Moderate));
        // The first weight has nothing to be compared with.
        let a = latest(&history(&[("2026-11-01", 58.0)], None));
        assert!(a.loss_1_month.is_none() && a.loss_6_months.is_none() && a.criteria.is_empty());
    }

    #[test]
    fn bmi_thresholds_for_people_of_70_and_over() {
        // 160 cm: 2.56 m².
        let bmi = |kg: f64| latest(&history(&[("2026-11-01", kg)], Some(160.0)));
        assert_eq!((bmi(56.4).bmi, met(&bmi(56.4))), (Some(22.0), vec![]));
        assert_eq!(
            (bmi(56.1).bmi, met(&bmi(56.1))),
            (Some(21.9), vec![(NutritionCriterion::LowBmi, Undernutrition::Moderate)])
        );
        assert_eq!(
            (bmi(51.2).bmi, met(&bmi(51.2))),
            (Some(20.0), vec![(NutritionCriterion::LowBmi, Undernutrition::Moderate)])
        );
        assert_eq!(
            (bmi(51.0).bmi, met(&bmi(51.0))),
            (Some(19.9), vec![(NutritionCriterion::LowBmi, Undernutrition::Severe)])
        );
        assert_eq!(bmi(51.0).undernutrition, Some(Undernutrition::Severe));
        // No height, no BMI.
        assert_eq!(latest(&history(&[("2026-11-01", 40.0)], None)).bmi, None);
    }

    #[test]
    fn the_worst_criterion_decides_the_severity() {
        let h = history(&[("2026-10-01", 56.0), ("2026-11-01", 50.0)], Some(160.0));
        let a = latest(&h);
        assert_eq!(
            met(&a),
            [
                (NutritionCriterion::WeightLoss1Month, Undernutrition::Severe),
                (NutritionCriterion::WeightLoss6Months, Undernutrition::Moderate),
                (NutritionCriterion::LowBmi, Undernutrition::Severe)
            ]
        );
        assert_eq!(a.undernutrition, Some(Undernutrition::Severe));
    }

    #[test]
    fn criteria_follow_the_age_on_the_day_of_the_weight() {
        let on = |birth: (i32, u32, u32), kg: f64| {
            let mut h = history(&[("2026-11-01", kg)], Some(160.0));
            h.birth_date = NaiveDate::from_ymd_opt(birth.0, birth.1, birth.2);
            latest(&h)
        };
        // BMI 21.1: undernutrition at 70, not at 69 (adults: below 18.5).
        assert_eq!((on((1956, 11, 1), 54.0).age, on((1956, 11, 1), 54.0).criteria.len()), (Some(70), 1));
        let young = on((1956, 11, 2), 54.0);
        assert_eq!(
            (young.age, young.criteria_set, young.criteria.len()),
            (Some(69), Some(NutritionCriteriaSet::Adult), 0)
        );
        // Adults: BMI 18.4 is undernutrition, 17.0 severe, 17.1 not severe.
        assert_eq!(met(&on((1980, 1, 1), 47.1)), [(NutritionCriterion::LowBmi, Undernutrition::Moderate)]);
        assert_eq!(on((1980, 1, 1), 47.4).bmi, Some(18.5));
        assert_eq!(met(&on((1980, 1, 1), 47.4)), []);
        assert_eq!(met(&on((1980, 1, 1), 43.8)), [(NutritionCriterion::LowBmi, Undernutrition::Moderate)]);
        assert_eq!(on((1980, 1, 1), 43.5).bmi, Some(17.0));
        assert_eq!(met(&on((1980, 1, 1), 43.5)), [(NutritionCriterion::LowBmi, Undernutrition::Severe)]);
        // Children: figures, no criteria.
        let child = on((2012, 1, 1), 30.0);
        assert_eq!((child.criteria_set, child.criteria.len(), child.bmi.is_some()), (None, 0, true));
        // Unknown birth date: no criteria.
        let mut h = history(&[("2026-11-01", 40.0)], Some(160.0));
        h.birth_date = None;
        assert_eq!((latest(&h).age, latest(&h).criteria_set), (None, None));
    }

    #[test]
    fn the_height_is_the_latest_before_the_weight_else_the_first_after() {
        let mut h = history(&[("2026-11-01", 60.0)], None);
        h.heights = vec![reading("2026-12-01", 150.0), reading("2026-03-01", 160.0), reading("2026-06-01", 158.0)];
        assert_eq!(latest(&h).height.unwrap().value, 158.0);
        h.heights = vec![reading("2027-01-01", 150.0), reading("2026-12-01", 152.0)];
        assert_eq!(latest(&h).height.unwrap().value, 152.0);
    }

    #[test]
    fn the_status_is_the_latest_weight() {
        let h = history(&[("2026-11-01", 59.0), ("2026-10-01", 62.5)], None);
        let status = h.status(resident());
        assert_eq!(status.latest_weight.unwrap().value, 59.0);
        assert_eq!(status.nutrition.unwrap().undernutrition, Some(Undernutrition::Moderate));
        let never = History::default().status(resident());
        assert!(never.latest_weight.is_none() && never.nutrition.is_none());
    }

    #[test]
    fn thresholds_are_ordered_by_age() {
        assert!(THRESHOLDS.windows(2).all(|w| w[0].from_age > w[1].from_age));
        assert_eq!(Thresholds::at_age(17), None);
        assert_eq!(Thresholds::at_age(18).unwrap().set, NutritionCriteriaSet::Adult);
        assert_eq!(Thresholds::at_age(104).unwrap().set, NutritionCriteriaSet::Aged70AndOver);
    }

    #[test]
    fn debug_output_hides_the_figures() {
        let h = history(&[("2026-10-01", 62.5), ("2026-11-01", 59.0)], Some(155.0));
        let shown = format!("{h:?} {:?}", latest(&h));
        assert!(!shown.contains("62") && !shown.contains("59") && !shown.contains("155"), "{shown}");
    }
}
