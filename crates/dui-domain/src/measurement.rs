//! Measurements (constantes): weight, height, blood pressure, pulse, temperature, oxygen
//! saturation, capillary blood glucose, pain and respiratory rate, as a care team records them.
//!
//! [`NewMeasurement::validate`] reads what was entered ([`MeasurementInput`]): it refuses
//! implausible values (a typing error, not a clinical judgement), rounds to the precision the
//! instrument gives, converts blood glucose to g/L, and flags the value against the usual adult
//! reference ranges ([`REFERENCE_RANGES`]). The body-mass index is not entered: it is computed
//! from weight and height elsewhere.

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::validation::ValidationErrors;

/// Millimoles of glucose per litre in one gram per litre (molar mass of glucose ≈ 180 g/mol).
pub const GLUCOSE_MMOL_PER_G: f64 = 5.55;

crate::text_codes! {
    /// What is measured. The BMI is not one: it is computed from weight and height.
    pub enum MeasurementKind {
        /// kg.
        Weight = "weight",
        /// cm.
        Height = "height",
        /// Systolic and diastolic, mmHg.
        BloodPressure = "blood_pressure",
        /// Heart rate, beats per minute.
        Pulse = "pulse",
        /// °C.
        Temperature = "temperature",
        /// Oxygen saturation (SpO2), %.
        Spo2 = "spo2",
        /// Capillary blood glucose (glycémie capillaire), g/L; entered in g/L or mmol/L.
        BloodGlucose = "blood_glucose",
        /// Pain on a 0–10 scale (EVA, EN), whole numbers.
        Pain = "pain",
        /// Breaths per minute.
        RespiratoryRate = "respiratory_rate",
    }
}

crate::text_codes! {
    /// A value against its reference range ([`REFERENCE_RANGES`]).
    pub enum Flag {
        Normal = "normal",
        Low = "low",
        High = "high",
    }
}

impl MeasurementKind {
    /// The unit values of this kind are stored in.
    pub const fn unit(self) -> &'static str {
        match self {
            Self::Weight => "kg",
            Self::Height => "cm",
            Self::BloodPressure => "mmHg",
            Self::Pulse => "bpm",
            Self::Temperature => "°C",
            Self::Spo2 => "%",
            Self::BloodGlucose => "g/L",
            Self::Pain => "/10",
            Self::RespiratoryRate => "/min",
        }
    }
}

/// What is accepted for one measured figure: `field` is `value`, or `systolic` / `diastolic` for
/// blood pressure. The bounds (both included, in the stored unit) apply to the value once
/// rounded to `decimals`. Outside them the value is taken for a typing error and refused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plausible {
    pub kind: MeasurementKind,
    pub field: &'static str,
    pub min: f64,
    pub max: f64,
    /// Decimals kept: 1 for 0.1 kg.
    pub decimals: u8,
}

const fn plausible(kind: MeasurementKind, field: &'static str, min: f64, max: f64, decimals: u8) -> Plausible {
    Plausible { kind, field, min, max, decimals }
}

/// The plausible bounds and precision of every figure. Pain is the exception to rounding: a
/// 0–10 scale is answered in whole numbers, and anything else is refused.
pub const PLAUSIBLE: &[Plausible] = {
    use MeasurementKind::*;
    &[
        plausible(Weight, "value", 20.0, 300.0, 1),
        plausible(Height, "value", 80.0, 230.0, 0),
        plausible(BloodPressure, "systolic", 50.0, 300.0, 0),
        plausible(BloodPressure, "diastolic", 20.0, 200.0, 0),
        plausible(Pulse, "value", 20.0, 250.0, 0),
        plausible(Temperature, "value", 30.0, 45.0, 1),
        plausible(Spo2, "value", 50.0, 100.0, 0),
        plausible(BloodGlucose, "value", 0.2, 6.0, 2),
        plausible(Pain, "value", 0.0, 10.0, 0),
        plausible(RespiratoryRate, "value", 4.0, 60.0, 0),
    ]
};

/// The usual range of one figure: below `low` is [`Flag::Low`], above `high` is [`Flag::High`],
/// both ends included in [`Flag::Normal`]; `None` is no limit on that side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReferenceRange {
    pub kind: MeasurementKind,
    pub field: &'static str,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

const fn reference(kind: MeasurementKind, field: &'static str, low: Option<f64>, high: Option<f64>) -> ReferenceRange {
    ReferenceRange { kind, field, low, high }
}

/// Usual adult reference ranges in elderly care, for flagging only: a flag draws attention, it
/// is not a diagnosis, and a person's own targets (set by their doctor) may differ.
///
/// | figure              | normal          | note                                                 |
/// |---------------------|-----------------|------------------------------------------------------|
/// | systolic            | 90–140 mmHg     |                                                      |
/// | diastolic           | 60–90 mmHg      |                                                      |
/// | pulse               | 50–100 bpm      |                                                      |
/// | temperature         | 36.0–37.8 °C    |                                                      |
/// | SpO2                | ≥ 94 %          | below is low; no high                                |
/// | blood glucose       | 0.70–1.40 g/L   | capillary, NOT fasting: the time of meals is unknown |
/// | respiratory rate    | 12–20 /min      |                                                      |
/// | pain                | 0–3             | 4 and above is high; no low                          |
/// | weight, height      | —               | no flag                                              |
///
/// A blood pressure is flagged high when either figure is high (a high systolic with a low
/// diastolic is isolated systolic hypertension, frequent in old age), else low when either is
/// low.
pub const REFERENCE_RANGES: &[ReferenceRange] = {
    use MeasurementKind::*;
    &[
        reference(BloodPressure, "systolic", Some(90.0), Some(140.0)),
        reference(BloodPressure, "diastolic", Some(60.0), Some(90.0)),
        reference(Pulse, "value", Some(50.0), Some(100.0)),
        reference(Temperature, "value", Some(36.0), Some(37.8)),
        reference(Spo2, "value", Some(94.0), None),
        reference(BloodGlucose, "value", Some(0.70), Some(1.40)),
        reference(RespiratoryRate, "value", Some(12.0), Some(20.0)),
        reference(Pain, "value", None, Some(3.0)),
    ]
};

impl ReferenceRange {
    /// The flag of a value of this figure.
    pub fn flag(&self, value: f64) -> Flag {
        if self.low.is_some_and(|low| value < low) {
            Flag::Low
        } else if self.high.is_some_and(|high| value > high) {
            Flag::High
        } else {
            Flag::Normal
        }
    }
}

fn plausible_for(kind: MeasurementKind, field: &str) -> Option<&'static Plausible> {
    PLAUSIBLE.iter().find(|rule| rule.kind == kind && rule.field == field)
}

fn flag_of(kind: MeasurementKind, field: &str, value: f64) -> Option<Flag> {
    REFERENCE_RANGES.iter().find(|range| range.kind == kind && range.field == field).map(|range| range.flag(value))
}

/// A measurement as entered: `{"kind": "blood_pressure", "systolic": 135, "diastolic": 82}`,
/// `{"kind": "weight", "value": 62.4, "unit": "kg"}`. The unit may be left out when the kind has
/// only one; blood glucose needs it (`g/L` or `mmol/L`), since a figure such as 5.5 is plausible
/// in both.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MeasurementInput {
    pub kind: MeasurementKind,
    /// Every kind but blood_pressure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// blood_pressure only, mmHg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systolic: Option<f64>,
    /// blood_pressure only, mmHg.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diastolic: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl std::fmt::Debug for MeasurementInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeasurementInput").field("kind", &self.kind).field("unit", &self.unit).finish_non_exhaustive()
    }
}

/// A measured value, in the kind's unit. Serialised flat, as entered: `{"value": 62.4}` or
/// `{"systolic": 135, "diastolic": 82}` (whole numbers without a decimal point).
#[derive(Clone, Copy, PartialEq)]
pub enum MeasurementValue {
    Single(f64),
    /// mmHg.
    Pressure {
        systolic: u16,
        diastolic: u16,
    },
}

impl std::fmt::Debug for MeasurementValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MeasurementValue([redacted])")
    }
}

impl Serialize for MeasurementValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            Self::Single(value) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("value", &Number(value))?;
                map.end()
            }
            Self::Pressure { systolic, diastolic } => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("systolic", &systolic)?;
                map.serialize_entry("diastolic", &diastolic)?;
                map.end()
            }
        }
    }
}

/// Reads the flat form back (`{"value": 62.4}`, `{"systolic": 135, "diastolic": 82}`), as
/// stored; what it says is checked by [`NewMeasurement::validate`] on entry, not here.
impl<'de> Deserialize<'de> for MeasurementValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Flat {
            Single { value: f64 },
            Pressure { systolic: u16, diastolic: u16 },
        }
        Ok(match Flat::deserialize(deserializer)? {
            Flat::Single { value } => Self::Single(value),
            Flat::Pressure { systolic, diastolic } => Self::Pressure { systolic, diastolic },
        })
    }
}

/// A number written without a decimal point when it is whole (`62` rather than `62.0`).
struct Number(f64);

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Every validated value is far inside the range where i64 and f64 agree.
        if self.0.fract() == 0.0 && self.0.abs() < 1e15 {
            serializer.serialize_i64(self.0 as i64)
        } else {
            serializer.serialize_f64(self.0)
        }
    }
}

/// The OpenAPI shape of [`MeasurementValue`], which is serialised by hand.
#[cfg(feature = "openapi")]
mod schema {
    #[derive(serde::Serialize, utoipa::ToSchema)]
    #[serde(untagged)]
    #[allow(dead_code)]
    pub(super) enum MeasurementValue {
        /// Every kind but blood_pressure, in the kind's unit.
        Single { value: f64 },
        /// blood_pressure, mmHg.
        Pressure { systolic: u16, diastolic: u16 },
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for MeasurementValue {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <schema::MeasurementValue as utoipa::PartialSchema>::schema()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for MeasurementValue {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        <schema::MeasurementValue as utoipa::ToSchema>::schemas(schemas);
    }
}

/// A checked measurement: rounded, in the kind's unit, flagged.
#[derive(Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewMeasurement {
    pub kind: MeasurementKind,
    #[serde(flatten)]
    pub value: MeasurementValue,
    /// The kind's unit ([`MeasurementKind::unit`]).
    pub unit: &'static str,
    /// Against [`REFERENCE_RANGES`]; absent for weight and height.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<Flag>,
}

impl std::fmt::Debug for NewMeasurement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMeasurement").field("kind", &self.kind).field("unit", &self.unit).finish_non_exhaustive()
    }
}

impl NewMeasurement {
    /// Checks an entered measurement, rounds it, converts it to the kind's unit and flags it.
    /// Errors name the field: `value`, `systolic`, `diastolic` or `unit`.
    pub fn validate(input: MeasurementInput) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let kind = input.kind;
        let unit = input.unit.as_deref().map(str::trim).filter(|unit| !unit.is_empty());
        // How to read the figures entered: the unit they are in, and the factor to the stored unit.
        let entered: Option<(&str, f64)> = match unit {
            None if kind == MeasurementKind::BloodGlucose => {
                errors.add("unit", "is required for blood_glucose: g/L or mmol/L");
                None
            }
            None => Some((kind.unit(), 1.0)),
            Some(unit) if unit.eq_ignore_ascii_case(kind.unit()) => Some((kind.unit(), 1.0)),
            Some(unit) if kind == MeasurementKind::BloodGlucose && unit.eq_ignore_ascii_case("mmol/L") => {
                Some(("mmol/L", 1.0 / GLUCOSE_MMOL_PER_G))
            }
            Some(_) if kind == MeasurementKind::BloodGlucose => {
                errors.add("unit", "must be g/L or mmol/L");
                None
            }
            Some(_) => {
                errors.add("unit", format!("must be {} for {kind}", kind.unit()));
                None
            }
        };

        let (value, flag) = if kind == MeasurementKind::BloodPressure {
            if input.value.is_some() {
                errors.add("value", "is not used for blood_pressure: give systolic and diastolic");
            }
            let systolic = figure(&mut errors, kind, "systolic", input.systolic, entered);
            let diastolic = figure(&mut errors, kind, "diastolic", input.diastolic, entered);
            match (systolic, diastolic) {
                (Some(systolic), Some(diastolic)) if diastolic >= systolic => {
                    errors.add("diastolic", "must be lower than the systolic pressure");
                    (None, None)
                }
                (Some(systolic), Some(diastolic)) => {
                    let flags = [flag_of(kind, "systolic", systolic), flag_of(kind, "diastolic", diastolic)];
                    let flag = if flags.contains(&Some(Flag::High)) {
                        Flag::High
                    } else if flags.contains(&Some(Flag::Low)) {
                        Flag::Low
                    } else {
                        Flag::Normal
                    };
                    // Whole numbers within the plausible bounds: the conversion is exact.
                    let value = MeasurementValue::Pressure { systolic: systolic as u16, diastolic: diastolic as u16 };
                    (Some(value), Some(flag))
                }
                _ => (None, None),
            }
        } else {
            for (field, given) in [("systolic", input.systolic), ("diastolic", input.diastolic)] {
                if given.is_some() {
                    errors.add(field, "is only for blood_pressure");
                }
            }
            let value = figure(&mut errors, kind, "value", input.value, entered);
            (value.map(MeasurementValue::Single), value.and_then(|value| flag_of(kind, "value", value)))
        };

        match value {
            Some(value) if errors.is_empty() => Ok(Self { kind, value, unit: kind.unit(), flag }),
            _ => Err(errors),
        }
    }
}

/// Checks one figure and gives it rounded, in the stored unit. `entered` is the unit it was
/// entered in and the factor to the stored unit, if the unit is understood; when it is not, only
/// the presence of the figure is checked.
fn figure(
    errors: &mut ValidationErrors,
    kind: MeasurementKind,
    field: &str,
    given: Option<f64>,
    entered: Option<(&str, f64)>,
) -> Option<f64> {
    let Some(given) = given else {
        errors.add(field, "is required");
        return None;
    };
    if !given.is_finite() {
        errors.add(field, "must be a finite number");
        return None;
    }
    let rule = plausible_for(kind, field)?;
    let (unit, factor) = entered?;
    if kind == MeasurementKind::Pain && given.fract() != 0.0 {
        errors.add(field, "must be a whole number from 0 to 10");
        return None;
    }
    let value = round(given * factor, rule.decimals);
    if value < rule.min || value > rule.max {
        let (min, max) = (show(rule.min / factor), show(rule.max / factor));
        let message = if kind == MeasurementKind::Pain {
            format!("must be a whole number from {min} to {max}")
        } else {
            format!("must be between {min} and {max} {unit}")
        };
        errors.add(field, message);
        return None;
    }
    Some(value)
}

fn round(value: f64, decimals: u8) -> f64 {
    let scale = 10f64.powi(i32::from(decimals));
    (value * scale).round() / scale
}

/// A bound for a message: at most two decimals, no trailing zeros (`0.2`, `33.3`, `300`).
fn show(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A measurement as recorded.
#[derive(Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Measurement {
    pub id: crate::MeasurementId,
    pub resident_id: crate::ResidentId,
    pub establishment_id: crate::EstablishmentId,
    pub kind: MeasurementKind,
    pub measured_at: chrono::DateTime<chrono::Utc>,
    #[serde(flatten)]
    pub value: MeasurementValue,
    pub unit: &'static str,
    pub flag: Option<Flag>,
    pub recorded_by: crate::UserId,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    /// When it was flagged as entered in error (it stays, flagged), and by whom.
    pub entered_in_error_at: Option<chrono::DateTime<chrono::Utc>>,
    pub entered_in_error_by: Option<crate::UserId>,
}

impl std::fmt::Debug for Measurement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Measurement").field("id", &self.id).field("kind", &self.kind).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use MeasurementKind::*;

    fn input(kind: MeasurementKind, value: f64) -> MeasurementInput {
        let unit = (kind == BloodGlucose).then(|| "g/L".to_owned());
        MeasurementInput { kind, value: Some(value), systolic: None, diastolic: None, unit }
    }

    fn pressure(systolic: f64, diastolic: f64) -> MeasurementInput {
        MeasurementInput {
            kind: BloodPressure,
            value: None,
            systolic: Some(systolic),
            diastolic: Some(diastolic),
            unit: None,
        }
    }

    fn single(result: Result<NewMeasurement, ValidationErrors>) -> f64 {
        match result.unwrap().value {
            MeasurementValue::Single(value) => value,
            MeasurementValue::Pressure { .. } => panic!("not a single value"),
        }
    }

    fn fields(result: Result<NewMeasurement, ValidationErrors>) -> Vec<String> {
        result.unwrap_err().errors().iter().map(|e| e.field.clone()).collect()
    }

    #[test]
    fn single_values_are_refused_just_outside_their_plausible_bounds() {
        // (kind, lowest accepted, just below, highest accepted, just above)
        let cases = [
            (Weight, 20.0, 19.9, 300.0, 300.1),
            (Height, 80.0, 79.0, 230.0, 231.0),
            (Pulse, 20.0, 19.0, 250.0, 251.0),
            (Temperature, 30.0, 29.9, 45.0, 45.1),
            (Spo2, 50.0, 49.0, 100.0, 101.0),
            (BloodGlucose, 0.2, 0.19, 6.0, 6.01),
            (Pain, 0.0, -1.0, 10.0, 11.0),
            (RespiratoryRate, 4.0, 3.0, 60.0, 61.0),
        ];
        for (kind, min, below, max, above) in cases {
            assert_eq!(single(NewMeasurement::validate(input(kind, min))), min, "{kind} {min}");
            assert_eq!(single(NewMeasurement::validate(input(kind, max))), max, "{kind} {max}");
            assert_eq!(fields(NewMeasurement::validate(input(kind, below))), ["value"], "{kind} {below}");
            assert_eq!(fields(NewMeasurement::validate(input(kind, above))), ["value"], "{kind} {above}");
        }
        // Every kind but blood pressure is covered above.
        assert_eq!(cases.len() + 1, MeasurementKind::ALL.len());
    }

    #[test]
    fn blood_pressure_figures_are_checked_each_and_together() {
        let ok = |s, d| NewMeasurement::validate(pressure(s, d)).unwrap().value;
        assert_eq!(ok(50.0, 20.0), MeasurementValue::Pressure { systolic: 50, diastolic: 20 });
        assert_eq!(ok(300.0, 200.0), MeasurementValue::Pressure { systolic: 300, diastolic: 200 });
        let cases: &[(f64, f64, &[&str])] = &[
            (49.0, 20.0, &["systolic"]),
            (301.0, 80.0, &["systolic"]),
            (120.0, 19.0, &["diastolic"]),
            (250.0, 201.0, &["diastolic"]),
            (120.0, 120.0, &["diastolic"]),
            (80.0, 120.0, &["diastolic"]),
            (20.0, 400.0, &["systolic", "diastolic"]),
        ];
        for &(systolic, diastolic, expected) in cases {
            assert_eq!(
                fields(NewMeasurement::validate(pressure(systolic, diastolic))),
                expected,
                "{systolic}/{diastolic}"
            );
        }
        let message = NewMeasurement::validate(pressure(301.0, 80.0)).unwrap_err();
        assert_eq!(message.to_string(), "systolic: must be between 50 and 300 mmHg");
    }

    #[test]
    fn fields_must_fit_the_kind() {
        let mut both = pressure(130.0, 80.0);
        both.value = Some(130.0);
        assert_eq!(fields(NewMeasurement::validate(both)), ["value"]);
        let mut missing = pressure(130.0, 80.0);
        missing.diastolic = None;
        assert_eq!(fields(NewMeasurement::validate(missing)), ["diastolic"]);
        let mut weight = input(Weight, 60.0);
        weight.systolic = Some(120.0);
        assert_eq!(fields(NewMeasurement::validate(weight)), ["systolic"]);
        let mut nothing = input(Pulse, 60.0);
        nothing.value = None;
        assert_eq!(fields(NewMeasurement::validate(nothing)), ["value"]);
    }

    #[test]
    fn non_finite_numbers_are_refused() {
        for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(fields(NewMeasurement::validate(input(Weight, value))), ["value"]);
            assert_eq!(fields(NewMeasurement::validate(pressure(value, 80.0))), ["systolic"]);
        }
        let error = NewMeasurement::validate(input(Temperature, f64::NAN)).unwrap_err();
        assert_eq!(error.to_string(), "value: must be a finite number");
    }

    #[test]
    fn pain_is_a_whole_number() {
        assert_eq!(fields(NewMeasurement::validate(input(Pain, 3.5))), ["value"]);
        let error = NewMeasurement::validate(input(Pain, 11.0)).unwrap_err();
        assert_eq!(error.to_string(), "value: must be a whole number from 0 to 10");
    }

    #[test]
    fn units_are_optional_when_there_is_one_and_checked_when_given() {
        let mut weight = input(Weight, 62.4);
        weight.unit = Some("kg".to_owned());
        assert!(NewMeasurement::validate(weight.clone()).is_ok());
        weight.unit = Some("KG".to_owned());
        assert!(NewMeasurement::validate(weight.clone()).is_ok());
        weight.unit = Some("lb".to_owned());
        let error = NewMeasurement::validate(weight.clone()).unwrap_err();
        assert_eq!(error.to_string(), "unit: must be kg for weight");
        weight.unit = Some("  ".to_owned());
        assert!(NewMeasurement::validate(weight).is_ok());

        let mut temperature = input(Temperature, 37.0);
        temperature.unit = Some("°C".to_owned());
        assert_eq!(NewMeasurement::validate(temperature).unwrap().unit, "°C");

        let mut glucose = input(BloodGlucose, 1.0);
        glucose.unit = None;
        assert_eq!(fields(NewMeasurement::validate(glucose.clone())), ["unit"]);
        glucose.unit = Some("mg/dL".to_owned());
        assert_eq!(NewMeasurement::validate(glucose).unwrap_err().to_string(), "unit: must be g/L or mmol/L");
        // A bad unit and a missing value: both are said.
        let mut neither = input(BloodGlucose, 1.0);
        neither.value = None;
        neither.unit = Some("mg/dL".to_owned());
        assert_eq!(fields(NewMeasurement::validate(neither)), ["unit", "value"]);
    }

    #[test]
    fn glucose_in_mmol_per_litre_is_stored_in_grams_per_litre() {
        let mmol = |value: f64| {
            let mut glucose = input(BloodGlucose, value);
            glucose.unit = Some("mmol/L".to_owned());
            NewMeasurement::validate(glucose)
        };
        let cases = [(5.55, 1.0), (7.0, 1.26), (3.9, 0.7), (11.1, 2.0), (1.11, 0.2), (33.3, 6.0)];
        for (given, stored) in cases {
            let checked = mmol(given).unwrap();
            assert_eq!(checked.unit, "g/L");
            assert_eq!(checked.value, MeasurementValue::Single(stored), "{given} mmol/L");
        }
        assert_eq!(mmol(5.55).unwrap().flag, Some(Flag::Normal));
        assert_eq!(mmol(11.1).unwrap().flag, Some(Flag::High));
        assert_eq!(mmol(3.0).unwrap().flag, Some(Flag::Low));
        let error = mmol(40.0).unwrap_err();
        assert_eq!(error.to_string(), "value: must be between 1.11 and 33.3 mmol/L");
        assert!(mmol(1.0).is_err());
        let mut lower_case = input(BloodGlucose, 5.55);
        lower_case.unit = Some("mmol/l".to_owned());
        assert_eq!(single(NewMeasurement::validate(lower_case)), 1.0);
    }

    #[test]
    fn values_are_rounded_to_the_instruments_precision() {
        let cases = [
            (Weight, 62.44, 62.4),
            (Weight, 62.46, 62.5),
            (Weight, 80.0, 80.0),
            (Height, 162.4, 162.0),
            (Height, 162.6, 163.0),
            (Temperature, 37.25, 37.3),
            (Temperature, 37.84, 37.8),
            (BloodGlucose, 1.234, 1.23),
            (BloodGlucose, 1.236, 1.24),
            (Pulse, 72.4, 72.0),
            (Spo2, 96.6, 97.0),
            (RespiratoryRate, 15.5, 16.0),
        ];
        for (kind, given, stored) in cases {
            assert_eq!(single(NewMeasurement::validate(input(kind, given))), stored, "{kind} {given}");
        }
        // Bounds apply to the rounded value.
        assert_eq!(single(NewMeasurement::validate(input(Weight, 19.96))), 20.0);
        assert_eq!(
            NewMeasurement::validate(pressure(135.4, 82.6)).unwrap().value,
            MeasurementValue::Pressure { systolic: 135, diastolic: 83 }
        );
    }

    #[test]
    fn flags_change_exactly_at_the_ends_of_the_reference_ranges() {
        let flag = |kind, value| NewMeasurement::validate(input(kind, value)).unwrap().flag;
        let cases = [
            (Pulse, 49.0, Flag::Low),
            (Pulse, 50.0, Flag::Normal),
            (Pulse, 100.0, Flag::Normal),
            (Pulse, 101.0, Flag::High),
            (Temperature, 35.9, Flag::Low),
            (Temperature, 36.0, Flag::Normal),
            (Temperature, 37.8, Flag::Normal),
            (Temperature, 37.9, Flag::High),
            (Temperature, 37.84, Flag::Normal),
            (Spo2, 93.0, Flag::Low),
            (Spo2, 94.0, Flag::Normal),
            (Spo2, 100.0, Flag::Normal),
            (BloodGlucose, 0.69, Flag::Low),
            (BloodGlucose, 0.70, Flag::Normal),
            (BloodGlucose, 1.40, Flag::Normal),
            (BloodGlucose, 1.41, Flag::High),
            (RespiratoryRate, 11.0, Flag::Low),
            (RespiratoryRate, 12.0, Flag::Normal),
            (RespiratoryRate, 20.0, Flag::Normal),
            (RespiratoryRate, 21.0, Flag::High),
            (Pain, 0.0, Flag::Normal),
            (Pain, 3.0, Flag::Normal),
            (Pain, 4.0, Flag::High),
            (Pain, 10.0, Flag::High),
        ];
        for (kind, value, expected) in cases {
            assert_eq!(flag(kind, value), Some(expected), "{kind} {value}");
        }
        assert_eq!(flag(Weight, 62.0), None);
        assert_eq!(flag(Height, 160.0), None);

        let bp = |s, d| NewMeasurement::validate(pressure(s, d)).unwrap().flag;
        let cases = [
            (89.0, 70.0, Flag::Low),
            (90.0, 70.0, Flag::Normal),
            (140.0, 70.0, Flag::Normal),
            (141.0, 70.0, Flag::High),
            (120.0, 59.0, Flag::Low),
            (120.0, 60.0, Flag::Normal),
            (120.0, 90.0, Flag::Normal),
            (120.0, 91.0, Flag::High),
            (160.0, 55.0, Flag::High),
            (85.0, 55.0, Flag::Low),
        ];
        for (systolic, diastolic, expected) in cases {
            assert_eq!(bp(systolic, diastolic), Some(expected), "{systolic}/{diastolic}");
        }
    }

    #[test]
    fn the_tables_cover_every_kind() {
        for kind in MeasurementKind::ALL {
            let figures: &[&str] = if *kind == BloodPressure { &["systolic", "diastolic"] } else { &["value"] };
            for field in figures {
                let rule = plausible_for(*kind, field).unwrap();
                assert!(rule.min < rule.max);
                let flagged = REFERENCE_RANGES.iter().any(|r| r.kind == *kind && r.field == *field);
                assert_eq!(flagged, !matches!(kind, Weight | Height), "{kind} {field}");
            }
        }
        assert_eq!(PLAUSIBLE.len(), MeasurementKind::ALL.len() + 1);
    }

    #[test]
    fn json_in_and_out_is_flat() {
        let entered: MeasurementInput =
            serde_json::from_value(json!({"kind": "blood_pressure", "systolic": 135, "diastolic": 82})).unwrap();
        let checked = NewMeasurement::validate(entered).unwrap();
        assert_eq!(
            serde_json::to_value(&checked).unwrap(),
            json!({"kind": "blood_pressure", "systolic": 135, "diastolic": 82, "unit": "mmHg", "flag": "normal"})
        );
        let entered: MeasurementInput =
            serde_json::from_value(json!({"kind": "weight", "value": 62.4, "unit": "kg"})).unwrap();
        assert_eq!(serde_json::to_value(&entered).unwrap(), json!({"kind": "weight", "value": 62.4, "unit": "kg"}));
        let checked = NewMeasurement::validate(entered).unwrap();
        assert_eq!(serde_json::to_value(&checked).unwrap(), json!({"kind": "weight", "value": 62.4, "unit": "kg"}));
        for value in [
            MeasurementValue::Single(62.4),
            MeasurementValue::Single(4.0),
            MeasurementValue::Pressure { systolic: 135, diastolic: 82 },
        ] {
            let stored = serde_json::to_value(value).unwrap();
            assert_eq!(serde_json::from_value::<MeasurementValue>(stored).unwrap(), value);
        }
        let pain = NewMeasurement::validate(input(Pain, 4.0)).unwrap();
        assert_eq!(serde_json::to_string(&pain).unwrap(), r#"{"kind":"pain","value":4,"unit":"/10","flag":"high"}"#);

        let unknown = serde_json::from_value::<MeasurementInput>(json!({"kind": "bmi", "value": 22}));
        assert!(unknown.is_err(), "the BMI is not entered");
        let extra = serde_json::from_value::<MeasurementInput>(json!({"kind": "pulse", "value": 60, "at": "now"}));
        assert!(extra.is_err());
    }

    #[test]
    fn debug_output_hides_the_values() {
        let checked = NewMeasurement::validate(input(Weight, 62.4)).unwrap();
        let shown = format!("{checked:?} {:?} {:?}", checked.value, input(Weight, 62.4));
        assert!(!shown.contains("62"), "{shown}");
    }

    #[cfg(feature = "openapi")]
    #[test]
    fn the_openapi_schema_shows_the_flat_value() {
        let schema = serde_json::to_string(&<MeasurementValue as utoipa::PartialSchema>::schema()).unwrap();
        assert!(schema.contains("systolic") && schema.contains("\"value\""), "{schema}");
    }
}
