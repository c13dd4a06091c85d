//! A bound of a period as a person writes it in a query: a day (`2026-12-01`), or an instant
//! with its offset (`2026-12-01T08:00:00+01:00`). A day is read in the establishment's calendar
//! by whoever knows its time zone: as a start, the day's first instant; as an end, the next
//! day's first instant, so that `from=2026-12-01&to=2026-12-07` covers the 7th.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer};

/// A bound of a period: a whole day, or an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    Day(NaiveDate),
    At(DateTime<Utc>),
}

/// What a bound that cannot be read is told.
pub const EXPECTED: &str =
    "expected a date (2026-12-01) or a date and time with its offset (2026-12-01T08:00:00+01:00)";

impl TimeBound {
    /// Reads a bound; the error says what is expected.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Ok(Self::At(at.with_timezone(&Utc)));
        }
        if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(Self::Day(day));
        }
        Err(format!("{text:?}: {EXPECTED}"))
    }

    /// The local day a bound names when it is a start (`end`: false) or an end (`end`: true):
    /// an end day is excluded from what follows it, so its bound is the next day's start.
    pub fn local_start(self, end: bool) -> Option<NaiveDate> {
        match self {
            Self::Day(day) if end => day.succ_opt(),
            Self::Day(day) => Some(day),
            Self::At(_) => None,
        }
    }
}

impl<'de> Deserialize<'de> for TimeBound {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for TimeBound {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
        let string =
            |format| ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(format)));
        AnyOfBuilder::new()
            .item(string(KnownFormat::Date))
            .item(string(KnownFormat::DateTime))
            .description(Some(
                "A day in the establishment's calendar (2026-12-01), or an instant (2026-12-01T08:00:00+01:00).",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for TimeBound {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_is_a_day_or_an_instant_and_says_what_it_expects() {
        assert_eq!(TimeBound::parse("2026-12-01"), Ok(TimeBound::Day(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap())));
        let at = TimeBound::parse("2026-12-01T08:00:00+01:00").unwrap();
        assert_eq!(at, TimeBound::At("2026-12-01T07:00:00Z".parse().unwrap()));
        let error = TimeBound::parse("2026-12").unwrap_err();
        assert!(error.contains("expected a date (2026-12-01)"), "{error}");
        assert!(TimeBound::parse("2026-02-30").is_err());
        let day = TimeBound::parse("2026-12-31").unwrap();
        assert_eq!(day.local_start(false), NaiveDate::from_ymd_opt(2026, 12, 31));
        assert_eq!(day.local_start(true), NaiveDate::from_ymd_opt(2027, 1, 1));
    }
}
