//! Measurements (constantes): weight, height, blood pressure, pulse, temperature, oxygen
//! saturation, capillary blood glucose, pain and respiratory rate, as a care team records them.
//!
//! [`NewMeasurement::validate`] reads what was entered ([`MeasurementInput`]) in the unit it was
//! entered in ([`UNITS`]: blood glucose in g/L, mmol/L or mg/dL, height in cm or m, every other
//! kind in its one unit), rounded to the precision of that unit's instruments. It converts it to
//! the kind's reference unit ([`MeasurementKind::unit`]), rounded to the kind's precision; that
//! value must lie within physiological bounds ([`PLAUSIBLE`]: outside them it cannot be a living
//! person's, it is a typing or instrument error) and is flagged against the usual adult reference
//! ranges ([`REFERENCE_RANGES`]). Both are kept: the value as the professional read it on the
//! instrument, and the reference value that flags, charts and the undernutrition criteria
//! ([`nutrition`]) use. The body-mass index is not entered: it is computed from weight and height.

use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::validation::ValidationErrors;

pub mod nutrition;

/// Millimoles of glucose per litre in one gram per litre (molar mass of glucose ≈ 180 g/mol).
pub const GLUCOSE_MMOL_PER_G: f64 = 5.55;

/// The longest reason given for flagging a measurement as entered in error, in characters.
pub const MAX_ERROR_REASON: usize = 2000;

crate::text_codes! {
    /// What is measured. The BMI is not one: it is computed from weight and height.
    pub enum MeasurementKind {
        /// kg.
        Weight = "weight",
        /// cm (entered in cm or m).
        Height = "height",
        /// Systolic and diastolic, mmHg.
        BloodPressure = "blood_pressure",
        /// Heart rate, beats per minute.
        Pulse = "pulse",
        /// °C.
        Temperature = "temperature",
        /// Oxygen saturation (SpO2), %.
        Spo2 = "spo2",
        /// Capillary blood glucose (glycémie capillaire), g/L; entered in g/L, mmol/L or mg/dL.
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

crate::text_codes! {
    /// A unit a value is entered or given in.
    pub enum MeasurementUnit {
        Kg = "kg",
        Cm = "cm",
        /// Metres (a height entered as 1.62).
        M = "m",
        MmHg = "mmHg",
        Bpm = "bpm",
        Celsius = "°C",
        Percent = "%",
        GramsPerLitre = "g/L",
        MmolPerLitre = "mmol/L",
        MgPerDecilitre = "mg/dL",
        OutOfTen = "/10",
        PerMinute = "/min",
    }
}

impl MeasurementKind {
    /// The kind's reference unit: the unit of its reference values, bounds, ranges and charts.
    pub const fn unit(self) -> MeasurementUnit {
        match self {
            Self::Weight => MeasurementUnit::Kg,
            Self::Height => MeasurementUnit::Cm,
            Self::BloodPressure => MeasurementUnit::MmHg,
            Self::Pulse => MeasurementUnit::Bpm,
            Self::Temperature => MeasurementUnit::Celsius,
            Self::Spo2 => MeasurementUnit::Percent,
            Self::BloodGlucose => MeasurementUnit::GramsPerLitre,
            Self::Pain => MeasurementUnit::OutOfTen,
            Self::RespiratoryRate => MeasurementUnit::PerMinute,
        }
    }

    /// The units this kind may be entered in, the reference unit first.
    pub fn units(self) -> impl Iterator<Item = &'static EnteredUnit> {
        UNITS.iter().filter(move |u| u.kind == self)
    }
}

/// A unit a kind may be entered in. `per_reference` is how many of it make one of the kind's
/// reference unit (5.55 mmol/L of glucose in 1 g/L; 0.01 m in 1 cm); a value entered in it is
/// rounded to `decimals`, the precision of the instruments that give it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnteredUnit {
    pub kind: MeasurementKind,
    pub unit: MeasurementUnit,
    pub per_reference: f64,
    pub decimals: u8,
}

const fn entered(kind: MeasurementKind, unit: MeasurementUnit, per_reference: f64, decimals: u8) -> EnteredUnit {
    EnteredUnit { kind, unit, per_reference, decimals }
}

/// The units each kind is entered in. What French care teams use: blood glucose meters show g/L
/// or mg/dL, laboratories and some meters mmol/L (a figure such as 5.5 is plausible in two of
/// them, so the unit is required); a height is written in cm or in m ("1,62 m"). No °F (French
/// thermometers show °C, and a Fahrenheit figure falls outside the bounds in °C, so it is
/// refused rather than misread), no pounds, no grams, no cmHg (a pressure said "13/8" is charted
/// 130/80 mmHg).
pub const UNITS: &[EnteredUnit] = {
    use MeasurementKind::*;
    &[
        entered(Weight, MeasurementUnit::Kg, 1.0, 1),
        entered(Height, MeasurementUnit::Cm, 1.0, 0),
        entered(Height, MeasurementUnit::M, 0.01, 2),
        entered(BloodPressure, MeasurementUnit::MmHg, 1.0, 0),
        entered(Pulse, MeasurementUnit::Bpm, 1.0, 0),
        entered(Temperature, MeasurementUnit::Celsius, 1.0, 1),
        entered(Spo2, MeasurementUnit::Percent, 1.0, 0),
        entered(BloodGlucose, MeasurementUnit::GramsPerLitre, 1.0, 2),
        entered(BloodGlucose, MeasurementUnit::MmolPerLitre, GLUCOSE_MMOL_PER_G, 1),
        entered(BloodGlucose, MeasurementUnit::MgPerDecilitre, 100.0, 0),
        entered(Pain, MeasurementUnit::OutOfTen, 1.0, 0),
        entered(RespiratoryRate, MeasurementUnit::PerMinute, 1.0, 0),
    ]
};

/// The entered unit of `kind` named `unit`.
pub fn entered_unit(kind: MeasurementKind, unit: MeasurementUnit) -> Option<&'static EnteredUnit> {
    kind.units().find(|u| u.unit == unit)
}

/// What is accepted for one measured figure: `field` is `value`, or `systolic` / `diastolic` for
/// blood pressure. The bounds (both included, in the kind's reference unit) apply to the
/// reference value once rounded to `decimals`. Outside them the value is taken for a typing or
/// instrument error and refused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plausible {
    pub kind: MeasurementKind,
    pub field: &'static str,
    pub min: f64,
    pub max: f64,
    /// Decimals kept in the reference unit: 1 for 0.1 kg.
    pub decimals: u8,
}

const fn plausible(kind: MeasurementKind, field: &'static str, min: f64, max: f64, decimals: u8) -> Plausible {
    Plausible { kind, field, min, max, decimals }
}

/// The physiological bounds and precision of every figure: what a living person can show, so
/// that a typing error (a digit too many, a decimal point lost) or an instrument's error is
/// refused, while any real value, however alarming, is recorded (and flagged).
///
/// | figure           | bounds          | why                                                           |
/// |------------------|-----------------|---------------------------------------------------------------|
/// | weight           | 20–300 kg       | from a small child's weight to the heaviest adults weighed in care |
/// | height           | 80–230 cm       | same                                                          |
/// | systolic         | 50–300 mmHg     | below, no pulse is taken; 300 is the top of the cuff's scale  |
/// | diastolic        | 20–200 mmHg     | and below the systolic                                         |
/// | pulse            | 20–250 bpm      | complete heart block to the fastest tachycardias              |
/// | temperature      | 30.0–43.0 °C    | deep hypothermia (below, a clinical thermometer does not read) to the highest fevers survived; 45 °C is not a living person's |
/// | SpO2             | 50–100 %        | an oximeter reads lower at the end of life: such values are real and must be recorded |
/// | blood glucose    | 0.20–6.00 g/L   | a capillary meter's range (20–600 mg/dL, 1.1–33.3 mmol/L): it shows LO or HI outside |
/// | pain             | 0–10            | the scale                                                     |
/// | respiratory rate | 4–60 /min       | agonal breathing to the fastest distress                      |
///
/// Pain is the exception to rounding: a 0–10 scale is answered in whole numbers, and anything
/// else is refused.
pub const PLAUSIBLE: &[Plausible] = {
    use MeasurementKind::*;
    &[
        plausible(Weight, "value", 20.0, 300.0, 1),
        plausible(Height, "value", 80.0, 230.0, 0),
        plausible(BloodPressure, "systolic", 50.0, 300.0, 0),
        plausible(BloodPressure, "diastolic", 20.0, 200.0, 0),
        plausible(Pulse, "value", 20.0, 250.0, 0),
        plausible(Temperature, "value", 30.0, 43.0, 1),
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
/// `{"kind": "weight", "value": 62.4, "unit": "kg"}`. The unit (one of the kind's [`UNITS`], in
/// any case: `mmol/l` is `mmol/L`) may be left out for the kind's reference unit; blood glucose
/// needs it, since a figure such as 5.5 is plausible in g/L and in mmol/L.
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

/// A measured value, in the unit it is given with. Serialised flat, as entered: `{"value": 62.4}` or
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

/// A value in its kind's reference unit ([`MeasurementKind::unit`]): what flags, charts and the
/// undernutrition criteria read. `{"value": 0.99, "unit": "g/L"}`.
#[derive(Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReferenceValue {
    #[serde(flatten)]
    pub value: MeasurementValue,
    pub unit: MeasurementUnit,
}

impl std::fmt::Debug for ReferenceValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferenceValue").field("unit", &self.unit).finish_non_exhaustive()
    }
}

/// A checked measurement: the value as entered (rounded to its unit's precision) and in the
/// kind's reference unit, flagged.
#[derive(Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewMeasurement {
    pub kind: MeasurementKind,
    /// As entered, in `unit`.
    #[serde(flatten)]
    pub value: MeasurementValue,
    /// The unit it was entered in.
    pub unit: MeasurementUnit,
    /// In the kind's reference unit.
    pub reference: ReferenceValue,
    /// Against [`REFERENCE_RANGES`]; absent for weight and height.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<Flag>,
}

impl std::fmt::Debug for NewMeasurement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMeasurement").field("kind", &self.kind).field("unit", &self.unit).finish_non_exhaustive()
    }
}

/// The unit a figure was entered in, as understood: `None` when it is not (the error is said).
fn entered_in(
    errors: &mut ValidationErrors,
    kind: MeasurementKind,
    given: Option<&str>,
) -> Option<&'static EnteredUnit> {
    let names = || kind.units().map(|u| u.unit.as_str()).collect::<Vec<_>>();
    let list = |names: Vec<&str>| match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    match given {
        // 5.5 is plausible in g/L and in mmol/L: a glucose without its unit cannot be read.
        None if kind == MeasurementKind::BloodGlucose => {
            errors.add("unit", format!("is required for {kind}: {}", list(names())));
            None
        }
        None => entered_unit(kind, kind.unit()),
        Some(given) => match kind.units().find(|u| u.unit.as_str().eq_ignore_ascii_case(given)) {
            Some(unit) => Some(unit),
            None => {
                errors.add("unit", format!("must be {} for {kind}", list(names())));
                None
            }
        },
    }
}

impl NewMeasurement {
    /// Checks an entered measurement, rounds it, converts it to the kind's reference unit and
    /// flags it. Errors name the field (`value`, `systolic`, `diastolic` or `unit`) and say the
    /// bounds in the unit the value was entered in.
    pub fn validate(input: MeasurementInput) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let kind = input.kind;
        let given = input.unit.as_deref().map(str::trim).filter(|unit| !unit.is_empty());
        let unit = entered_in(&mut errors, kind, given);

        let checked = if kind == MeasurementKind::BloodPressure {
            if input.value.is_some() {
                errors.add("value", "is not used for blood_pressure: give systolic and diastolic");
            }
            let systolic = figure(&mut errors, kind, "systolic", input.systolic, unit);
            let diastolic = figure(&mut errors, kind, "diastolic", input.diastolic, unit);
            match (systolic, diastolic) {
                (Some(systolic), Some(diastolic)) if diastolic.reference >= systolic.reference => {
                    errors.add("diastolic", "must be lower than the systolic pressure");
                    None
                }
                (Some(systolic), Some(diastolic)) => {
                    let (s, d) = (systolic.reference, diastolic.reference);
                    let flags = [flag_of(kind, "systolic", s), flag_of(kind, "diastolic", d)];
                    let flag = if flags.contains(&Some(Flag::High)) {
                        Flag::High
                    } else if flags.contains(&Some(Flag::Low)) {
                        Flag::Low
                    } else {
                        Flag::Normal
                    };
                    // Whole numbers within the plausible bounds: the conversions are exact.
                    let pressure =
                        |s: f64, d: f64| MeasurementValue::Pressure { systolic: s as u16, diastolic: d as u16 };
                    Some((pressure(systolic.entered, diastolic.entered), pressure(s, d), Some(flag)))
                }
                _ => None,
            }
        } else {
            for (field, given) in [("systolic", input.systolic), ("diastolic", input.diastolic)] {
                if given.is_some() {
                    errors.add(field, "is only for blood_pressure");
                }
            }
            figure(&mut errors, kind, "value", input.value, unit).map(|f| {
                (
                    MeasurementValue::Single(f.entered),
                    MeasurementValue::Single(f.reference),
                    flag_of(kind, "value", f.reference),
                )
            })
        };

        match (checked, unit) {
            (Some((value, reference, flag)), Some(unit)) if errors.is_empty() => Ok(Self {
                kind,
                value,
                unit: unit.unit,
                reference: ReferenceValue { value: reference, unit: kind.unit() },
                flag,
            }),
            _ => Err(errors),
        }
    }
}

/// One figure, as entered and in the reference unit.
#[derive(Clone, Copy)]
struct Figure {
    entered: f64,
    reference: f64,
}

/// Checks one figure: rounded to the precision of the unit it was entered in, converted and
/// rounded to the reference unit's, within the plausible bounds. When the unit is not
/// understood, only the presence of the figure is checked.
fn figure(
    errors: &mut ValidationErrors,
    kind: MeasurementKind,
    field: &str,
    given: Option<f64>,
    unit: Option<&EnteredUnit>,
) -> Option<Figure> {
    let Some(given) = given else {
        errors.add(field, "is required");
        return None;
    };
    if !given.is_finite() {
        errors.add(field, "must be a finite number");
        return None;
    }
    let rule = plausible_for(kind, field)?;
    let unit = unit?;
    if kind == MeasurementKind::Pain && given.fract() != 0.0 {
        errors.add(field, "must be a whole number from 0 to 10");
        return None;
    }
    let entered = round(given, unit.decimals);
    let reference = round(entered / unit.per_reference, rule.decimals);
    if reference < rule.min || reference > rule.max {
        let (min, max) = (show(rule.min * unit.per_reference), show(rule.max * unit.per_reference));
        let message = if kind == MeasurementKind::Pain {
            format!("must be a whole number from {min} to {max}")
        } else {
            format!("must be between {min} and {max} {}", unit.unit)
        };
        errors.add(field, message);
        return None;
    }
    Some(Figure { entered, reference })
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

/// Checks the reason given for flagging a measurement as entered in error (wrong person, wrong
/// figure...): trimmed, 3 to [`MAX_ERROR_REASON`] characters.
pub fn error_reason(reason: &str) -> Result<String, ValidationErrors> {
    crate::validation::text(reason, 3, MAX_ERROR_REASON).map_err(|m| ValidationErrors::single("reason", m))
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
    /// As entered, in `unit`.
    #[serde(flatten)]
    pub value: MeasurementValue,
    /// The unit it was entered in.
    pub unit: MeasurementUnit,
    /// In the kind's reference unit: for charts and comparisons.
    pub reference: ReferenceValue,
    pub flag: Option<Flag>,
    pub recorded_by: crate::UserId,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    /// When it was flagged as entered in error (it stays, flagged), by whom and why (no reason
    /// was asked before reasons were required).
    pub entered_in_error_at: Option<chrono::DateTime<chrono::Utc>>,
    pub entered_in_error_by: Option<crate::UserId>,
    pub entered_in_error_reason: Option<String>,
    /// A weight's undernutrition criteria (HAS), computed when it is read; absent for other
    /// kinds and for weights entered in error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nutrition: Option<nutrition::NutritionAssessment>,
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

    /// The reference value of a single figure.
    fn single(result: Result<NewMeasurement, ValidationErrors>) -> f64 {
        match result.unwrap().reference.value {
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
            (Temperature, 30.0, 29.9, 43.0, 43.1),
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
        temperature.unit = Some("°c".to_owned());
        assert_eq!(NewMeasurement::validate(temperature.clone()).unwrap().unit, MeasurementUnit::Celsius);
        temperature.unit = Some("°F".to_owned());
        assert_eq!(NewMeasurement::validate(temperature).unwrap_err().to_string(), "unit: must be °C for temperature");

        let mut glucose = input(BloodGlucose, 1.0);
        glucose.unit = None;
        assert_eq!(
            NewMeasurement::validate(glucose.clone()).unwrap_err().to_string(),
            "unit: is required for blood_glucose: g/L, mmol/L or mg/dL"
        );
        glucose.unit = Some("mmol".to_owned());
        assert_eq!(
            NewMeasurement::validate(glucose).unwrap_err().to_string(),
            "unit: must be g/L, mmol/L or mg/dL for blood_glucose"
        );
        // A bad unit and a missing value: both are said.
        let mut neither = input(BloodGlucose, 1.0);
        neither.value = None;
        neither.unit = Some("mg/l".to_owned());
        assert_eq!(fields(NewMeasurement::validate(neither)), ["unit", "value"]);
    }

    fn in_unit(kind: MeasurementKind, value: f64, unit: &str) -> Result<NewMeasurement, ValidationErrors> {
        let mut entered = input(kind, value);
        entered.unit = Some(unit.to_owned());
        NewMeasurement::validate(entered)
    }

    #[test]
    fn glucose_keeps_the_unit_it_was_entered_in_beside_grams_per_litre() {
        let mmol = |value: f64| in_unit(BloodGlucose, value, "mmol/L");
        let cases = [(5.5, 0.99), (7.0, 1.26), (3.9, 0.7), (11.1, 2.0), (1.1, 0.2), (33.3, 6.0)];
        for (given, reference) in cases {
            let checked = mmol(given).unwrap();
            assert_eq!((checked.value, checked.unit), (MeasurementValue::Single(given), MeasurementUnit::MmolPerLitre));
            assert_eq!(checked.reference.value, MeasurementValue::Single(reference), "{given} mmol/L");
            assert_eq!(checked.reference.unit, MeasurementUnit::GramsPerLitre);
        }
        // Rounded to the tenth a meter shows in mmol/L.
        assert_eq!(mmol(5.54).unwrap().value, MeasurementValue::Single(5.5));
        assert_eq!(mmol(5.5).unwrap().flag, Some(Flag::Normal));
        assert_eq!(mmol(11.1).unwrap().flag, Some(Flag::High));
        assert_eq!(mmol(3.0).unwrap().flag, Some(Flag::Low));
        let error = mmol(40.0).unwrap_err();
        assert_eq!(error.to_string(), "value: must be between 1.11 and 33.3 mmol/L");
        assert!(mmol(1.0).is_err());
        let lower_case = in_unit(BloodGlucose, 5.5, "mmol/l").unwrap();
        assert_eq!((lower_case.unit, single(Ok(lower_case))), (MeasurementUnit::MmolPerLitre, 0.99));

        let mg = in_unit(BloodGlucose, 110.0, "mg/dL").unwrap();
        assert_eq!((mg.value, mg.unit), (MeasurementValue::Single(110.0), MeasurementUnit::MgPerDecilitre));
        assert_eq!((mg.reference.value, mg.flag), (MeasurementValue::Single(1.1), Some(Flag::Normal)));
        let error = in_unit(BloodGlucose, 19.0, "MG/DL").unwrap_err();
        assert_eq!(error.to_string(), "value: must be between 20 and 600 mg/dL");
        let grams = in_unit(BloodGlucose, 1.234, "g/l").unwrap();
        assert_eq!(
            (grams.value, grams.unit, single(Ok(grams.clone()))),
            (MeasurementValue::Single(1.23), MeasurementUnit::GramsPerLitre, 1.23)
        );
    }

    #[test]
    fn a_height_may_be_entered_in_metres() {
        let metres = in_unit(Height, 1.62, "m").unwrap();
        assert_eq!((metres.value, metres.unit), (MeasurementValue::Single(1.62), MeasurementUnit::M));
        assert_eq!(
            metres.reference,
            ReferenceValue { value: MeasurementValue::Single(162.0), unit: MeasurementUnit::Cm }
        );
        assert_eq!(in_unit(Height, 0.5, "m").unwrap_err().to_string(), "value: must be between 0.8 and 2.3 m");
        // Without a unit, centimetres: 1.62 is no height.
        assert_eq!(
            NewMeasurement::validate(input(Height, 1.62)).unwrap_err().to_string(),
            "value: must be between 80 and 230 cm"
        );
    }

    #[test]
    fn a_temperature_of_45_degrees_is_refused_with_its_bounds() {
        let error = NewMeasurement::validate(input(Temperature, 45.0)).unwrap_err();
        assert_eq!(error.to_string(), "value: must be between 30 and 43 °C");
        assert_eq!(single(NewMeasurement::validate(input(Temperature, 42.96))), 43.0);
        assert_eq!(NewMeasurement::validate(input(Temperature, 43.0)).unwrap().flag, Some(Flag::High));
        assert_eq!(NewMeasurement::validate(input(Temperature, 30.0)).unwrap().flag, Some(Flag::Low));
    }

    #[test]
    fn an_error_reason_is_a_checked_text() {
        assert_eq!(error_reason("  wrong resident ").unwrap(), "wrong resident");
        assert_eq!(error_reason("no").unwrap_err().to_string(), "reason: must be at least 3 characters");
        assert!(error_reason(&"x".repeat(MAX_ERROR_REASON)).is_ok());
        assert!(error_reason(&"x".repeat(MAX_ERROR_REASON + 1)).is_err());
        assert!(error_reason("a\u{7}bc").is_err());
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
        // Every kind is entered in its reference unit, which needs no conversion; every unit
        // belongs to one kind at most once.
        for kind in MeasurementKind::ALL {
            let reference = entered_unit(*kind, kind.unit()).unwrap();
            assert_eq!(reference.per_reference, 1.0, "{kind}");
            assert_eq!(kind.units().next(), Some(reference), "{kind}: the reference unit first");
        }
        for unit in UNITS {
            assert_eq!(UNITS.iter().filter(|u| u.kind == unit.kind && u.unit == unit.unit).count(), 1);
        }
    }

    #[test]
    fn json_in_and_out_is_flat() {
        let entered: MeasurementInput =
            serde_json::from_value(json!({"kind": "blood_pressure", "systolic": 135, "diastolic": 82})).unwrap();
        let checked = NewMeasurement::validate(entered).unwrap();
        assert_eq!(
            serde_json::to_value(&checked).unwrap(),
            json!({"kind": "blood_pressure", "systolic": 135, "diastolic": 82, "unit": "mmHg",
                   "reference": {"systolic": 135, "diastolic": 82, "unit": "mmHg"}, "flag": "normal"})
        );
        let entered: MeasurementInput =
            serde_json::from_value(json!({"kind": "weight", "value": 62.4, "unit": "kg"})).unwrap();
        assert_eq!(serde_json::to_value(&entered).unwrap(), json!({"kind": "weight", "value": 62.4, "unit": "kg"}));
        let checked = NewMeasurement::validate(entered).unwrap();
        assert_eq!(
            serde_json::to_value(&checked).unwrap(),
            json!({"kind": "weight", "value": 62.4, "unit": "kg", "reference": {"value": 62.4, "unit": "kg"}})
        );
        for value in [
            MeasurementValue::Single(62.4),
            MeasurementValue::Single(4.0),
            MeasurementValue::Pressure { systolic: 135, diastolic: 82 },
        ] {
            let stored = serde_json::to_value(value).unwrap();
            assert_eq!(serde_json::from_value::<MeasurementValue>(stored).unwrap(), value);
        }
        let pain = NewMeasurement::validate(input(Pain, 4.0)).unwrap();
        assert_eq!(
            serde_json::to_string(&pain).unwrap(),
            r#"{"kind":"pain","value":4,"unit":"/10","reference":{"value":4,"unit":"/10"},"flag":"high"}"#
        );

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

impl MeasurementKind {
    /// The name a French team gives it.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Weight => "Poids",
            Self::Height => "Taille",
            Self::BloodPressure => "Tension artérielle",
            Self::Pulse => "Pouls",
            Self::Temperature => "Température",
            Self::Spo2 => "SpO2",
            Self::BloodGlucose => "Glycémie capillaire",
            Self::Pain => "Douleur",
            Self::RespiratoryRate => "Fréquence respiratoire",
        }
    }
}

impl NewMeasurement {
    /// What the hand-over says of a value outside its usual range (`None` when within it, or
    /// without one): "Température 38,6 °C (haute)", "Tension artérielle 210/115 mmHg (haute)".
    pub fn handover_summary(&self) -> Option<String> {
        let side = match self.flag? {
            Flag::Normal => return None,
            Flag::Low => "basse",
            Flag::High => "haute",
        };
        let figure = match self.value {
            MeasurementValue::Single(value) => {
                let text = format!("{value}");
                text.replace('.', ",")
            }
            MeasurementValue::Pressure { systolic, diastolic } => format!("{systolic}/{diastolic}"),
        };
        Some(format!("{} {figure} {} ({side})", self.kind.label(), self.unit.as_str()))
    }
}

#[cfg(test)]
mod handover_tests {
    use super::*;

    fn entered(input: serde_json::Value) -> NewMeasurement {
        NewMeasurement::validate(serde_json::from_value(input).unwrap()).unwrap()
    }

    #[test]
    fn abnormal_values_are_told_in_the_hand_over_and_normal_ones_are_not() {
        let fever = entered(serde_json::json!({"kind": "temperature", "value": 38.6}));
        assert_eq!(fever.handover_summary().as_deref(), Some("Température 38,6 °C (haute)"));
        let pressure = entered(serde_json::json!({"kind": "blood_pressure", "systolic": 210, "diastolic": 115}));
        assert_eq!(pressure.handover_summary().as_deref(), Some("Tension artérielle 210/115 mmHg (haute)"));
        let desaturation = entered(serde_json::json!({"kind": "spo2", "value": 89}));
        assert_eq!(desaturation.handover_summary().as_deref(), Some("SpO2 89 % (basse)"));
        assert_eq!(entered(serde_json::json!({"kind": "temperature", "value": 37.0})).handover_summary(), None);
        assert_eq!(entered(serde_json::json!({"kind": "weight", "value": 61.0})).handover_summary(), None);
    }
}
