//! When a care-plan action happens: the schedule that turns an action of the plan into the tasks
//! of each day's care plan (plan de soins), per unit or home-help round. The morning wash at 8:00
//! every day, turning every 3 hours, weighing once a month, a home-help visit on Tuesdays and
//! Fridays from 9:00 to 10:30.
//!
//! A schedule is written in JSON with a `kind` and the fields of that kind; times are `"HH:MM"`
//! (minutes, never seconds) and dates `"YYYY-MM-DD"`:
//!
//! ```json
//! {"kind": "daily", "times": ["08:00", "20:00"], "duration_minutes": 30}
//! {"kind": "every_hours", "every": 3, "from": "06:00"}
//! {"kind": "weekly", "days": ["tuesday", "friday"], "start": "09:00", "end": "10:30"}
//! {"kind": "monthly", "day": 1, "time": "10:00"}
//! {"kind": "every_days", "every": 2, "from_date": "2026-11-01", "time": "10:00"}
//! ```
//!
//! Reading a schedule ([`Schedule::from_json`], or serde) checks its shape: a known kind, the
//! fields of that kind and no other, values of the right type. [`Schedule::validate`] then checks
//! the rules (ranges, no empty or repeated lists, an end after the start) and sorts the lists.
//!
//! # Local times only
//!
//! Every time here is a wall-clock time of the establishment or service, and a day is a calendar
//! day. Daylight-saving changes are not this module's concern: on a 23-hour or a 25-hour day,
//! "every 3 hours from 06:00" still gives 06:00, 09:00 ... 21:00, and an occurrence at 02:30 on
//! the night the clocks go forward is still returned as 02:30. Turning a local time into an
//! instant, and deciding what a time that does not exist or happens twice means, is left to
//! whoever does it with the establishment's time zone.

use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDate, NaiveTime, TimeDelta, Timelike};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::validation::ValidationErrors;

/// The allowed `every` of an [`Schedule::EveryHours`] schedule, in hours.
pub const EVERY_HOURS: RangeInclusive<u8> = 1..=24;
/// The allowed `every` of an [`Schedule::EveryDays`] schedule, in days (every day is
/// [`Schedule::Daily`]).
pub const EVERY_DAYS: RangeInclusive<u16> = 2..=365;
/// The allowed `day` of a [`Schedule::Monthly`] schedule.
pub const MONTH_DAYS: RangeInclusive<u8> = 1..=31;
/// The allowed `duration_minutes` of a [`Schedule::Daily`] schedule (each occurrence must also
/// end before midnight).
pub const DURATION_MINUTES: RangeInclusive<u16> = 1..=1439;

crate::text_codes! {
    /// The kinds of [`Schedule`], as written in its `kind` field.
    pub enum ScheduleKind {
        Daily = "daily",
        EveryHours = "every_hours",
        Weekly = "weekly",
        Monthly = "monthly",
        EveryDays = "every_days",
    }
}

crate::text_codes! {
    /// A day of the week.
    pub enum DayOfWeek {
        Monday = "monday",
        Tuesday = "tuesday",
        Wednesday = "wednesday",
        Thursday = "thursday",
        Friday = "friday",
        Saturday = "saturday",
        Sunday = "sunday",
    }
}

impl From<chrono::Weekday> for DayOfWeek {
    fn from(day: chrono::Weekday) -> Self {
        match day {
            chrono::Weekday::Mon => Self::Monday,
            chrono::Weekday::Tue => Self::Tuesday,
            chrono::Weekday::Wed => Self::Wednesday,
            chrono::Weekday::Thu => Self::Thursday,
            chrono::Weekday::Fri => Self::Friday,
            chrono::Weekday::Sat => Self::Saturday,
            chrono::Weekday::Sun => Self::Sunday,
        }
    }
}

impl From<DayOfWeek> for chrono::Weekday {
    fn from(day: DayOfWeek) -> Self {
        match day {
            DayOfWeek::Monday => Self::Mon,
            DayOfWeek::Tuesday => Self::Tue,
            DayOfWeek::Wednesday => Self::Wed,
            DayOfWeek::Thursday => Self::Thu,
            DayOfWeek::Friday => Self::Fri,
            DayOfWeek::Saturday => Self::Sat,
            DayOfWeek::Sunday => Self::Sun,
        }
    }
}

/// When an action happens. Times are local wall-clock times (see the module documentation).
///
/// Deserialising checks the shape only; [`Schedule::validate`] checks the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// At the same times every day (the morning wash at 08:00).
    Daily {
        /// `"HH:MM"`, at least one, sorted by validation.
        #[serde(serialize_with = "hhmm::list")]
        #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>, example = json!(["08:00", "20:00"])))]
        times: Vec<NaiveTime>,
        /// How long each occurrence lasts; it must end before midnight.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1439))]
        duration_minutes: Option<u16>,
    },
    /// Every `every` hours from `from`, each day, until midnight; the next day starts again at
    /// `from` (every 3 hours from 06:00: 06:00, 09:00 ... 21:00).
    EveryHours {
        /// 1 to 24.
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 24))]
        every: u8,
        #[serde(serialize_with = "hhmm::one")]
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = "06:00"))]
        from: NaiveTime,
    },
    /// On some days of the week, from `start` (to `end`).
    Weekly {
        /// At least one, sorted Monday first by validation.
        days: Vec<DayOfWeek>,
        #[serde(serialize_with = "hhmm::one")]
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = "09:00"))]
        start: NaiveTime,
        /// After `start`, the same day.
        #[serde(serialize_with = "hhmm::optional", skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "10:30"))]
        end: Option<NaiveTime>,
    },
    /// Once a month on day `day`; a day the month does not have means its last day (31: the
    /// 30th of April, the 28th or 29th of February).
    Monthly {
        /// 1 to 31.
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 31))]
        day: u8,
        #[serde(serialize_with = "hhmm::one")]
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = "10:00"))]
        time: NaiveTime,
    },
    /// Every `every` days from `from_date` (included); nothing before it.
    EveryDays {
        /// 2 to 365.
        #[cfg_attr(feature = "openapi", schema(minimum = 2, maximum = 365))]
        every: u16,
        from_date: NaiveDate,
        #[serde(serialize_with = "hhmm::one")]
        #[cfg_attr(feature = "openapi", schema(value_type = String, example = "10:00"))]
        time: NaiveTime,
    },
}

/// One occurrence of a scheduled action on a day, in local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Occurrence {
    #[serde(serialize_with = "hhmm::one")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "08:00"))]
    pub at: NaiveTime,
    /// When it ends, if the schedule says.
    #[serde(serialize_with = "hhmm::optional")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "08:30"))]
    pub until: Option<NaiveTime>,
}

impl Schedule {
    /// The kind of schedule.
    pub const fn kind(&self) -> ScheduleKind {
        match self {
            Self::Daily { .. } => ScheduleKind::Daily,
            Self::EveryHours { .. } => ScheduleKind::EveryHours,
            Self::Weekly { .. } => ScheduleKind::Weekly,
            Self::Monthly { .. } => ScheduleKind::Monthly,
            Self::EveryDays { .. } => ScheduleKind::EveryDays,
        }
    }

    /// Reads a schedule from JSON and validates it. Every error names its field under
    /// `field_prefix` (`schedule` gives `schedule.times[1]`; an empty prefix gives `times[1]`).
    pub fn from_json(value: &Value, field_prefix: &str) -> Result<Self, ValidationErrors> {
        Self::parse(value, field_prefix)?.validate(field_prefix)
    }

    /// Checks the rules of the schedule and sorts its lists. Every error names its field under
    /// `field_prefix` (`actions[0].schedule` gives `actions[0].schedule.every`).
    pub fn validate(mut self, field_prefix: &str) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let field = |name: &str| join(field_prefix, name);
        match &mut self {
            Self::Daily { times, duration_minutes } => {
                if times.is_empty() {
                    errors.add(field("times"), "must list at least one time");
                }
                for (i, time) in times.iter().enumerate() {
                    let name = field(&format!("times[{i}]"));
                    if !whole_minute(*time) {
                        errors.add(name, "must be a time in whole minutes");
                    } else if times[..i].contains(time) {
                        errors.add(name, "appears twice");
                    }
                }
                times.sort_unstable();
                if let Some(minutes) = *duration_minutes {
                    if !DURATION_MINUTES.contains(&minutes) {
                        errors.add(field("duration_minutes"), range_message(&DURATION_MINUTES));
                    } else if let Some(last) = times.last()
                        && ends_after_midnight(*last, minutes)
                    {
                        errors.add(
                            field("duration_minutes"),
                            format!("makes the {} occurrence end after midnight", last.format("%H:%M")),
                        );
                    }
                }
            }
            Self::EveryHours { every, from } => {
                if !EVERY_HOURS.contains(every) {
                    errors.add(field("every"), range_message(&EVERY_HOURS));
                }
                check_minute(&mut errors, field("from"), *from);
            }
            Self::Weekly { days, start, end } => {
                if days.is_empty() {
                    errors.add(field("days"), "must list at least one day");
                }
                for (i, day) in days.iter().enumerate() {
                    if days[..i].contains(day) {
                        errors.add(field(&format!("days[{i}]")), "appears twice");
                    }
                }
                days.sort_unstable_by_key(|day| chrono::Weekday::from(*day).num_days_from_monday());
                check_minute(&mut errors, field("start"), *start);
                if let Some(end) = *end
                    && check_minute(&mut errors, field("end"), end)
                    && end <= *start
                {
                    errors.add(field("end"), "must be after start");
                }
            }
            Self::Monthly { day, time } => {
                if !MONTH_DAYS.contains(day) {
                    errors.add(field("day"), range_message(&MONTH_DAYS));
                }
                check_minute(&mut errors, field("time"), *time);
            }
            Self::EveryDays { every, time, .. } => {
                if !EVERY_DAYS.contains(every) {
                    errors.add(field("every"), range_message(&EVERY_DAYS));
                }
                check_minute(&mut errors, field("time"), *time);
            }
        }
        errors.into_result(|| self)
    }

    /// The occurrences on `day`, in local time, sorted. Meant for a validated schedule; on
    /// another one, the result is defined but not meaningful (a duration past midnight wraps
    /// round, an `every` of 0 counts as 1).
    pub fn occurrences(&self, day: NaiveDate) -> Vec<Occurrence> {
        let mut occurrences = match self {
            Self::Daily { times, duration_minutes } => times
                .iter()
                .map(|&at| Occurrence {
                    at,
                    until: duration_minutes
                        .map(|minutes| at.overflowing_add_signed(TimeDelta::minutes(i64::from(minutes))).0),
                })
                .collect(),
            Self::EveryHours { every, from } => {
                let step = TimeDelta::hours(i64::from((*every).max(1)));
                let mut occurrences = Vec::new();
                let mut at = *from;
                loop {
                    occurrences.push(Occurrence { at, until: None });
                    match at.overflowing_add_signed(step) {
                        (next, 0) => at = next,
                        _ => break,
                    }
                }
                occurrences
            }
            Self::Weekly { days, start, end } => {
                if days.contains(&DayOfWeek::from(day.weekday())) {
                    vec![Occurrence { at: *start, until: *end }]
                } else {
                    Vec::new()
                }
            }
            Self::Monthly { day: wanted, time } => {
                let last = u32::from(day.num_days_in_month());
                if day.day() == u32::from(*wanted).clamp(1, last) {
                    vec![Occurrence { at: *time, until: None }]
                } else {
                    Vec::new()
                }
            }
            Self::EveryDays { every, from_date, time } => {
                let since = (day - *from_date).num_days();
                if since >= 0 && since % i64::from((*every).max(1)) == 0 {
                    vec![Occurrence { at: *time, until: None }]
                } else {
                    Vec::new()
                }
            }
        };
        occurrences.sort_unstable();
        occurrences.dedup();
        occurrences
    }

    /// The occurrences on `day` of an action that runs from `from` to `to` (both included, each
    /// optional): none outside those dates.
    pub fn occurrences_within(
        &self,
        day: NaiveDate,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Vec<Occurrence> {
        if from.is_some_and(|from| day < from) || to.is_some_and(|to| day > to) {
            return Vec::new();
        }
        self.occurrences(day)
    }

    /// The occurrences from `from` to `to` (both included), by day then time; none when `to` is
    /// before `from`. The work is one step per day: callers bound the period they ask for.
    pub fn occurrences_between(&self, from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, Occurrence)> {
        from.iter_days()
            .take_while(|day| *day <= to)
            .flat_map(|day| self.occurrences(day).into_iter().map(move |occurrence| (day, occurrence)))
            .collect()
    }

    /// Reads the shape of a schedule: a known kind, its fields and no other, values of the right
    /// type. The rules are for [`Schedule::validate`].
    fn parse(value: &Value, prefix: &str) -> Result<Self, ValidationErrors> {
        let Some(object) = value.as_object() else {
            return Err(ValidationErrors::single(prefix, "must be an object with a kind"));
        };
        let kind_field = join(prefix, "kind");
        let kind = match object.get("kind") {
            None | Some(Value::Null) => return Err(ValidationErrors::single(kind_field, "is required")),
            Some(Value::String(code)) => ScheduleKind::parse(code),
            Some(_) => None,
        };
        let Some(kind) = kind else {
            let codes: Vec<&str> = ScheduleKind::ALL.iter().map(|kind| kind.as_str()).collect();
            return Err(ValidationErrors::single(kind_field, format!("must be one of {}", codes.join(", "))));
        };
        let mut fields = Fields { object, prefix, errors: ValidationErrors::new() };
        let schedule = match kind {
            ScheduleKind::Daily => {
                fields.only(kind, &["times", "duration_minutes"]);
                let times = fields.list("times", read_time);
                let duration_minutes = fields.optional("duration_minutes", read_integer(&DURATION_MINUTES));
                build(|| Some(Self::Daily { times: times?, duration_minutes: duration_minutes? }))
            }
            ScheduleKind::EveryHours => {
                fields.only(kind, &["every", "from"]);
                let every = fields.required("every", read_integer(&EVERY_HOURS));
                let from = fields.required("from", read_time);
                build(|| Some(Self::EveryHours { every: every?, from: from? }))
            }
            ScheduleKind::Weekly => {
                fields.only(kind, &["days", "start", "end"]);
                let days = fields.list("days", read_day);
                let start = fields.required("start", read_time);
                let end = fields.optional("end", read_time);
                build(|| Some(Self::Weekly { days: days?, start: start?, end: end? }))
            }
            ScheduleKind::Monthly => {
                fields.only(kind, &["day", "time"]);
                let day = fields.required("day", read_integer(&MONTH_DAYS));
                let time = fields.required("time", read_time);
                build(|| Some(Self::Monthly { day: day?, time: time? }))
            }
            ScheduleKind::EveryDays => {
                fields.only(kind, &["every", "from_date", "time"]);
                let every = fields.required("every", read_integer(&EVERY_DAYS));
                let from_date = fields.required("from_date", read_date);
                let time = fields.required("time", read_time);
                build(|| Some(Self::EveryDays { every: every?, from_date: from_date?, time: time? }))
            }
        };
        match schedule {
            Some(schedule) if fields.errors.is_empty() => Ok(schedule),
            _ => Err(fields.errors),
        }
    }
}

/// Checks the shape only (see [`Schedule::validate`] for the rules), so that a stored schedule
/// always reads back. Errors name the field within the schedule (`times[1]: ...`).
impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::parse(&value, "").map_err(serde::de::Error::custom)
    }
}

/// `prefix.name`, or `name` alone under an empty prefix.
fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") }
}

fn build<T>(make: impl FnOnce() -> Option<T>) -> Option<T> {
    make()
}

fn whole_minute(time: NaiveTime) -> bool {
    time.second() == 0 && time.nanosecond() == 0
}

/// Records an error unless `time` is in whole minutes; whether it is.
fn check_minute(errors: &mut ValidationErrors, field: String, time: NaiveTime) -> bool {
    let whole = whole_minute(time);
    if !whole {
        errors.add(field, "must be a time in whole minutes");
    }
    whole
}

fn ends_after_midnight(at: NaiveTime, minutes: u16) -> bool {
    at.overflowing_add_signed(TimeDelta::minutes(i64::from(minutes))).1 != 0
}

fn range_message<T: std::fmt::Display>(range: &RangeInclusive<T>) -> String {
    format!("must be a whole number from {} to {}", range.start(), range.end())
}

/// The fields of the schedule being read, and the errors found in them.
struct Fields<'a> {
    object: &'a Map<String, Value>,
    prefix: &'a str,
    errors: ValidationErrors,
}

impl Fields<'_> {
    /// Refuses the fields that are not `kind` or one of `names`.
    fn only(&mut self, kind: ScheduleKind, names: &[&str]) {
        for key in self.object.keys() {
            if key != "kind" && !names.contains(&key.as_str()) {
                self.errors.add(join(self.prefix, key), format!("is not a field of a {kind} schedule"));
            }
        }
    }

    fn read<T>(&mut self, name: &str, value: &Value, read: impl Fn(&Value) -> Result<T, String>) -> Option<T> {
        read(value).map_err(|message| self.errors.add(join(self.prefix, name), message)).ok()
    }

    fn required<T>(&mut self, name: &str, read: impl Fn(&Value) -> Result<T, String>) -> Option<T> {
        match self.object.get(name) {
            None | Some(Value::Null) => {
                self.errors.add(join(self.prefix, name), "is required");
                None
            }
            Some(value) => self.read(name, value, read),
        }
    }

    /// `Some(None)` when absent or null.
    fn optional<T>(&mut self, name: &str, read: impl Fn(&Value) -> Result<T, String>) -> Option<Option<T>> {
        match self.object.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(value) => self.read(name, value, read).map(Some),
        }
    }

    /// A required list; each element's errors name it (`times[1]`).
    fn list<T>(&mut self, name: &str, read: impl Fn(&Value) -> Result<T, String>) -> Option<Vec<T>> {
        match self.object.get(name) {
            None | Some(Value::Null) => {
                self.errors.add(join(self.prefix, name), "is required");
                None
            }
            Some(Value::Array(values)) => {
                let read: Vec<Option<T>> = values
                    .iter()
                    .enumerate()
                    .map(|(i, value)| self.read(&format!("{name}[{i}]"), value, &read))
                    .collect();
                read.into_iter().collect()
            }
            Some(_) => {
                self.errors.add(join(self.prefix, name), "must be a list");
                None
            }
        }
    }
}

/// `"HH:MM"`, two digits each, without seconds.
fn read_time(value: &Value) -> Result<NaiveTime, String> {
    let text = value.as_str().ok_or_else(|| "must be a time as \"HH:MM\"".to_owned())?;
    parse_hhmm(text).ok_or_else(|| format!("must be a time as \"HH:MM\" (00:00 to 23:59, no seconds), not {text:?}"))
}

/// `"HH:MM"` with 00 ≤ HH ≤ 23 and 00 ≤ MM ≤ 59, nothing else.
fn parse_hhmm(text: &str) -> Option<NaiveTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' {
        return None;
    }
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        bytes[range].iter().try_fold(0, |n, b| b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0')))
    };
    NaiveTime::from_hms_opt(digits(0..2)?, digits(3..5)?, 0)
}

fn read_date(value: &Value) -> Result<NaiveDate, String> {
    value.as_str().and_then(|text| text.parse().ok()).ok_or_else(|| "must be a date as \"YYYY-MM-DD\"".to_owned())
}

fn read_day(value: &Value) -> Result<DayOfWeek, String> {
    value.as_str().and_then(DayOfWeek::parse).ok_or_else(|| {
        let codes: Vec<&str> = DayOfWeek::ALL.iter().map(|day| day.as_str()).collect();
        format!("must be one of {}", codes.join(", "))
    })
}

/// A whole number of the field's type; the message gives the allowed range, which
/// [`Schedule::validate`] checks.
fn read_integer<T>(range: &RangeInclusive<T>) -> impl Fn(&Value) -> Result<T, String>
where
    T: TryFrom<u64> + std::fmt::Display,
{
    let message = range_message(range);
    move |value| value.as_u64().and_then(|n| T::try_from(n).ok()).ok_or_else(|| message.clone())
}

/// Serialises times as `"HH:MM"`.
mod hhmm {
    use chrono::NaiveTime;
    use serde::Serializer;

    const FORMAT: &str = "%H:%M";

    pub(super) fn one<S: Serializer>(time: &NaiveTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&time.format(FORMAT))
    }

    pub(super) fn optional<S: Serializer>(time: &Option<NaiveTime>, serializer: S) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => one(time, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn list<S: Serializer>(times: &[NaiveTime], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(times.iter().map(|time| time.format(FORMAT).to_string()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn schedule(value: Value) -> Schedule {
        Schedule::from_json(&value, "schedule").unwrap()
    }

    fn times(schedule: &Schedule, day: NaiveDate) -> Vec<String> {
        schedule.occurrences(day).iter().map(|o| o.at.format("%H:%M").to_string()).collect()
    }

    fn error_fields(value: Value) -> Vec<(String, String)> {
        Schedule::from_json(&value, "schedule")
            .unwrap_err()
            .errors()
            .iter()
            .map(|e| (e.field.clone(), e.message.clone()))
            .collect()
    }

    fn fields_only(value: Value) -> Vec<String> {
        error_fields(value).into_iter().map(|(field, _)| field).collect()
    }

    #[test]
    fn daily_happens_every_day_at_its_sorted_times() {
        let daily = schedule(json!({"kind": "daily", "times": ["20:00", "08:00"], "duration_minutes": 30}));
        assert_eq!(daily, Schedule::Daily { times: vec![hm(8, 0), hm(20, 0)], duration_minutes: Some(30) });
        for day in [date(2026, 1, 1), date(2026, 7, 14), date(2028, 2, 29)] {
            assert_eq!(
                daily.occurrences(day),
                [
                    Occurrence { at: hm(8, 0), until: Some(hm(8, 30)) },
                    Occurrence { at: hm(20, 0), until: Some(hm(20, 30)) }
                ]
            );
        }
        let no_duration = schedule(json!({"kind": "daily", "times": ["08:00"]}));
        assert_eq!(no_duration.occurrences(date(2026, 3, 1)), [Occurrence { at: hm(8, 0), until: None }]);
    }

    #[test]
    fn every_hours_runs_from_its_start_to_midnight_and_starts_again_each_day() {
        let turning = schedule(json!({"kind": "every_hours", "every": 3, "from": "06:00"}));
        let expected = ["06:00", "09:00", "12:00", "15:00", "18:00", "21:00"];
        assert_eq!(times(&turning, date(2026, 5, 4)), expected);
        assert_eq!(times(&turning, date(2026, 5, 5)), expected);

        let hourly = schedule(json!({"kind": "every_hours", "every": 1, "from": "00:00"}));
        let all = times(&hourly, date(2026, 5, 4));
        assert_eq!(all.len(), 24);
        assert_eq!((all[0].as_str(), all[23].as_str()), ("00:00", "23:00"));

        let odd = schedule(json!({"kind": "every_hours", "every": 5, "from": "07:30"}));
        assert_eq!(times(&odd, date(2026, 5, 4)), ["07:30", "12:30", "17:30", "22:30"]);

        let once = schedule(json!({"kind": "every_hours", "every": 24, "from": "23:59"}));
        assert_eq!(times(&once, date(2026, 5, 4)), ["23:59"]);
    }

    #[test]
    fn weekly_happens_on_its_days_only() {
        let visit =
            schedule(json!({"kind": "weekly", "days": ["friday", "tuesday"], "start": "09:00", "end": "10:30"}));
        assert!(matches!(&visit, Schedule::Weekly { days, .. } if days == &[DayOfWeek::Tuesday, DayOfWeek::Friday]));
        // 2026-11-02 is a Monday.
        let week: Vec<usize> = (0..7).map(|i| visit.occurrences(date(2026, 11, 2 + i)).len()).collect();
        assert_eq!(week, [0, 1, 0, 0, 1, 0, 0]);
        assert_eq!(visit.occurrences(date(2026, 11, 3)), [Occurrence { at: hm(9, 0), until: Some(hm(10, 30)) }]);

        let sunday = schedule(json!({"kind": "weekly", "days": ["sunday"], "start": "11:00"}));
        assert_eq!(sunday.occurrences(date(2026, 11, 8)), [Occurrence { at: hm(11, 0), until: None }]);
        assert!(sunday.occurrences(date(2026, 11, 9)).is_empty());
    }

    #[test]
    fn monthly_falls_back_to_the_last_day_of_short_months() {
        let on = |day: u8| schedule(json!({"kind": "monthly", "day": day, "time": "10:00"}));
        let days_in = |schedule: &Schedule, year: i32, month: u32| -> Vec<u32> {
            let first = date(year, month, 1);
            let last = first.checked_add_months(chrono::Months::new(1)).unwrap().pred_opt().unwrap();
            schedule.occurrences_between(first, last).iter().map(|(day, _)| day.day()).collect()
        };
        let thirty_first = on(31);
        assert_eq!(days_in(&thirty_first, 2026, 1), [31]);
        assert_eq!(days_in(&thirty_first, 2026, 4), [30]);
        assert_eq!(days_in(&thirty_first, 2026, 2), [28]);
        assert_eq!(days_in(&thirty_first, 2028, 2), [29]);
        assert_eq!(days_in(&on(30), 2028, 2), [29]);
        assert_eq!(days_in(&on(29), 2027, 2), [28]);
        assert_eq!(days_in(&on(29), 2028, 2), [29]);
        assert_eq!(days_in(&on(1), 2026, 4), [1]);
        assert_eq!(days_in(&on(15), 2026, 6), [15]);
        assert_eq!(thirty_first.occurrences(date(2026, 4, 30)), [Occurrence { at: hm(10, 0), until: None }]);
        // A whole year: exactly one occurrence a month.
        assert_eq!(thirty_first.occurrences_between(date(2026, 1, 1), date(2026, 12, 31)).len(), 12);
    }

    #[test]
    fn every_days_counts_from_its_first_date() {
        let every = schedule(json!({"kind": "every_days", "every": 3, "from_date": "2026-11-01", "time": "10:00"}));
        assert!(every.occurrences(date(2026, 10, 29)).is_empty(), "three days before from_date");
        assert!(every.occurrences(date(2026, 10, 31)).is_empty());
        let days: Vec<u32> = every
            .occurrences_between(date(2026, 10, 25), date(2026, 11, 10))
            .iter()
            .map(|(day, occurrence)| {
                assert_eq!(occurrence.at, hm(10, 0));
                day.day()
            })
            .collect();
        assert_eq!(days, [1, 4, 7, 10]);
        // Across a month and a year.
        assert_eq!(every.occurrences(date(2026, 12, 31)).len(), 1); // 60 days after
        assert_eq!(every.occurrences(date(2027, 1, 3)).len(), 1);
        assert!(every.occurrences(date(2027, 1, 2)).is_empty());
    }

    #[test]
    fn action_dates_bound_the_occurrences() {
        let daily = schedule(json!({"kind": "daily", "times": ["08:00"]}));
        let (from, to) = (Some(date(2026, 3, 10)), Some(date(2026, 3, 12)));
        assert!(daily.occurrences_within(date(2026, 3, 9), from, to).is_empty());
        assert_eq!(daily.occurrences_within(date(2026, 3, 10), from, to).len(), 1);
        assert_eq!(daily.occurrences_within(date(2026, 3, 12), from, to).len(), 1);
        assert!(daily.occurrences_within(date(2026, 3, 13), from, to).is_empty());
        assert_eq!(daily.occurrences_within(date(1990, 1, 1), None, to).len(), 1);
        assert_eq!(daily.occurrences_within(date(2090, 1, 1), from, None).len(), 1);
        assert_eq!(daily.occurrences_within(date(2090, 1, 1), None, None).len(), 1);
    }

    #[test]
    fn a_period_lists_days_then_times() {
        let daily = schedule(json!({"kind": "daily", "times": ["08:00", "20:00"]}));
        let got = daily.occurrences_between(date(2026, 2, 27), date(2026, 3, 1));
        let listed: Vec<String> = got.iter().map(|(day, o)| format!("{day} {}", o.at.format("%H:%M"))).collect();
        assert_eq!(
            listed,
            [
                "2026-02-27 08:00",
                "2026-02-27 20:00",
                "2026-02-28 08:00",
                "2026-02-28 20:00",
                "2026-03-01 08:00",
                "2026-03-01 20:00"
            ]
        );
        assert_eq!(daily.occurrences_between(date(2026, 3, 1), date(2026, 3, 1)).len(), 2);
        assert!(daily.occurrences_between(date(2026, 3, 2), date(2026, 3, 1)).is_empty());
    }

    #[test]
    fn rules_are_checked_and_name_their_field() {
        let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
            (json!({"kind": "daily", "times": []}), vec![("schedule.times", "must list at least one time")]),
            (
                json!({"kind": "daily", "times": ["08:00", "08:00", "12:00"]}),
                vec![("schedule.times[1]", "appears twice")],
            ),
            (
                json!({"kind": "daily", "times": ["08:00", "22:30"], "duration_minutes": 90}),
                vec![("schedule.duration_minutes", "makes the 22:30 occurrence end after midnight")],
            ),
            (
                json!({"kind": "daily", "times": ["08:00"], "duration_minutes": 0}),
                vec![("schedule.duration_minutes", "must be a whole number from 1 to 1439")],
            ),
            (
                json!({"kind": "every_hours", "every": 0, "from": "06:00"}),
                vec![("schedule.every", "must be a whole number from 1 to 24")],
            ),
            (
                json!({"kind": "every_hours", "every": 25, "from": "06:00"}),
                vec![("schedule.every", "must be a whole number from 1 to 24")],
            ),
            (
                json!({"kind": "weekly", "days": [], "start": "09:00"}),
                vec![("schedule.days", "must list at least one day")],
            ),
            (
                json!({"kind": "weekly", "days": ["monday", "friday", "monday"], "start": "09:00"}),
                vec![("schedule.days[2]", "appears twice")],
            ),
            (
                json!({"kind": "weekly", "days": ["monday"], "start": "09:00", "end": "09:00"}),
                vec![("schedule.end", "must be after start")],
            ),
            (
                json!({"kind": "weekly", "days": ["monday"], "start": "09:00", "end": "08:00"}),
                vec![("schedule.end", "must be after start")],
            ),
            (
                json!({"kind": "monthly", "day": 0, "time": "10:00"}),
                vec![("schedule.day", "must be a whole number from 1 to 31")],
            ),
            (
                json!({"kind": "monthly", "day": 32, "time": "10:00"}),
                vec![("schedule.day", "must be a whole number from 1 to 31")],
            ),
            (
                json!({"kind": "every_days", "every": 1, "from_date": "2026-11-01", "time": "10:00"}),
                vec![("schedule.every", "must be a whole number from 2 to 365")],
            ),
            (
                json!({"kind": "every_days", "every": 366, "from_date": "2026-11-01", "time": "10:00"}),
                vec![("schedule.every", "must be a whole number from 2 to 365")],
            ),
        ];
        for (input, expected) in cases {
            let got = error_fields(input.clone());
            let expected: Vec<(String, String)> =
                expected.into_iter().map(|(f, m)| (f.to_owned(), m.to_owned())).collect();
            assert_eq!(got, expected, "input {input}");
        }
    }

    #[test]
    fn range_ends_are_accepted() {
        for input in [
            json!({"kind": "every_hours", "every": 1, "from": "00:00"}),
            json!({"kind": "every_hours", "every": 24, "from": "23:59"}),
            json!({"kind": "monthly", "day": 1, "time": "00:00"}),
            json!({"kind": "monthly", "day": 31, "time": "23:59"}),
            json!({"kind": "every_days", "every": 2, "from_date": "2026-11-01", "time": "10:00"}),
            json!({"kind": "every_days", "every": 365, "from_date": "2026-11-01", "time": "10:00"}),
            json!({"kind": "daily", "times": ["22:29"], "duration_minutes": 90}),
            json!({"kind": "daily", "times": ["00:00"], "duration_minutes": 1439}),
            json!({"kind": "weekly", "days": ["monday"], "start": "09:00", "end": "09:01"}),
        ] {
            assert!(Schedule::from_json(&input, "schedule").is_ok(), "input {input}");
        }
    }

    #[test]
    fn shape_errors_name_their_field() {
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (json!("daily"), vec!["schedule"]),
            (json!({"times": ["08:00"]}), vec!["schedule.kind"]),
            (json!({"kind": "hourly"}), vec!["schedule.kind"]),
            (json!({"kind": 3}), vec!["schedule.kind"]),
            (json!({"kind": "daily"}), vec!["schedule.times"]),
            (json!({"kind": "daily", "times": "08:00"}), vec!["schedule.times"]),
            (json!({"kind": "daily", "times": ["08:00", "8h"]}), vec!["schedule.times[1]"]),
            (json!({"kind": "daily", "times": ["08:00:00"]}), vec!["schedule.times[0]"]),
            (
                json!({"kind": "daily", "times": ["24:00", "7:00", "12:60", 800]}),
                vec!["schedule.times[0]", "schedule.times[1]", "schedule.times[2]", "schedule.times[3]"],
            ),
            (json!({"kind": "daily", "times": ["08:00"], "duration_minutes": -5}), vec!["schedule.duration_minutes"]),
            (json!({"kind": "daily", "times": ["08:00"], "duration_minutes": 2.5}), vec!["schedule.duration_minutes"]),
            (json!({"kind": "daily", "times": ["08:00"], "every": 3}), vec!["schedule.every"]),
            (json!({"kind": "every_hours", "every": 300}), vec!["schedule.every", "schedule.from"]),
            (json!({"kind": "weekly", "days": ["mardi"], "start": "09:00"}), vec!["schedule.days[0]"]),
            (
                json!({"kind": "monthly", "day": 1, "time": "10:00", "from_date": "2026-01-01"}),
                vec!["schedule.from_date"],
            ),
            (
                json!({"kind": "every_days", "every": 2, "from_date": "01/11/2026", "time": "10:00"}),
                vec!["schedule.from_date"],
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(fields_only(input.clone()), expected, "input {input}");
        }
        let message = error_fields(json!({"kind": "daily", "times": ["08:00:00"]}));
        assert_eq!(message[0].1, "must be a time as \"HH:MM\" (00:00 to 23:59, no seconds), not \"08:00:00\"");
        let message = error_fields(json!({"kind": "hourly"}));
        assert_eq!(message[0].1, "must be one of daily, every_hours, weekly, monthly, every_days");
    }

    #[test]
    fn the_prefix_may_be_empty_or_nested() {
        let input = json!({"kind": "daily", "times": []});
        assert_eq!(Schedule::from_json(&input, "").unwrap_err().errors()[0].field, "times");
        let unvalidated = Schedule::Daily { times: vec![], duration_minutes: None };
        assert_eq!(
            unvalidated.validate("actions[2].schedule").unwrap_err().errors()[0].field,
            "actions[2].schedule.times"
        );
    }

    #[test]
    fn seconds_built_in_code_are_refused_by_validation() {
        let time = NaiveTime::from_hms_opt(8, 0, 30).unwrap();
        let daily = Schedule::Daily { times: vec![time], duration_minutes: None };
        assert_eq!(daily.validate("s").unwrap_err().errors()[0].field, "s.times[0]");
        let monthly = Schedule::Monthly { day: 1, time };
        assert_eq!(monthly.validate("s").unwrap_err().errors()[0].field, "s.time");
    }

    #[test]
    fn json_round_trips() {
        let inputs = [
            json!({"kind": "daily", "times": ["08:00", "20:00"], "duration_minutes": 30}),
            json!({"kind": "daily", "times": ["07:15"]}),
            json!({"kind": "every_hours", "every": 3, "from": "06:00"}),
            json!({"kind": "weekly", "days": ["tuesday", "friday"], "start": "09:00", "end": "10:30"}),
            json!({"kind": "weekly", "days": ["monday"], "start": "09:00"}),
            json!({"kind": "monthly", "day": 31, "time": "10:00"}),
            json!({"kind": "every_days", "every": 14, "from_date": "2026-11-01", "time": "10:00"}),
        ];
        let mut kinds = std::collections::HashSet::new();
        for input in inputs {
            let parsed = Schedule::from_json(&input, "schedule").unwrap();
            kinds.insert(parsed.kind());
            assert_eq!(parsed.kind().as_str(), input["kind"], "kind codes agree with serde");
            assert_eq!(serde_json::to_value(&parsed).unwrap(), input);
            let via_serde: Schedule = serde_json::from_value(input.clone()).unwrap();
            assert_eq!(via_serde, parsed);
        }
        assert_eq!(kinds.len(), ScheduleKind::ALL.len());
        let occurrence = Occurrence { at: hm(9, 0), until: Some(hm(10, 30)) };
        assert_eq!(serde_json::to_value(occurrence).unwrap(), json!({"at": "09:00", "until": "10:30"}));
    }

    #[test]
    fn serde_checks_the_shape_only_and_names_the_field() {
        // Out-of-range values read back (a stored schedule always loads); validation refuses them.
        let lenient: Schedule = serde_json::from_value(json!({"kind": "monthly", "day": 0, "time": "10:00"})).unwrap();
        assert!(lenient.validate("").is_err());
        let error = serde_json::from_value::<Schedule>(json!({"kind": "daily", "times": ["8h"]})).unwrap_err();
        assert!(error.to_string().starts_with("times[0]: must be a time"), "{error}");
    }

    #[test]
    fn a_care_plan_validates_the_schedules_of_its_actions() {
        let plan = |schedule: Value| -> crate::care_plan::PlanContent {
            serde_json::from_value(json!({
                "expectations": "Garder mes habitudes",
                "actions": [
                    {"what": "Toilette", "who": {"role": "care_assistant"}},
                    {"what": "Pesée", "who": {"role": "care_assistant"}, "schedule": schedule}
                ]
            }))
            .unwrap()
        };
        let checked =
            plan(json!({"kind": "daily", "times": ["20:00", "08:00"]})).validate(uuid::Uuid::nil).unwrap_err();
        // Both actions got the nil id: the schedule is fine, the ids are not.
        let fields: Vec<&str> = checked.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["actions[1].id"]);

        let mut n = 0u128;
        let mut new_id = || {
            n += 1;
            uuid::Uuid::from_u128(n)
        };
        let checked = plan(json!({"kind": "daily", "times": ["20:00", "08:00"]})).validate(&mut new_id).unwrap();
        assert_eq!(
            checked.actions[1].schedule,
            Some(Schedule::Daily { times: vec![hm(8, 0), hm(20, 0)], duration_minutes: None })
        );

        let errors =
            plan(json!({"kind": "every_hours", "every": 0, "from": "06:00"})).validate(&mut new_id).unwrap_err();
        let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["actions[1].schedule.every"]);

        let shape = serde_json::from_value::<crate::care_plan::PlanContent>(json!({
            "expectations": "x",
            "actions": [{"what": "Pesée", "who": {"role": "care_assistant"}, "schedule": {"kind": "daily", "times": ["8h"]}}]
        }));
        assert!(shape.unwrap_err().to_string().contains("times[0]: must be a time"));
    }

    #[cfg(feature = "openapi")]
    #[test]
    fn the_openapi_schema_shows_times_as_text() {
        let schema = serde_json::to_value(<Schedule as utoipa::PartialSchema>::schema()).unwrap();
        let text = schema.to_string();
        assert!(text.contains("every_hours") && text.contains("\"kind\""), "{text}");
    }

    #[test]
    fn unvalidated_schedules_still_give_a_defined_answer() {
        let zero = Schedule::EveryHours { every: 0, from: hm(22, 0) };
        assert_eq!(zero.occurrences(date(2026, 1, 1)).len(), 2);
        let zero = Schedule::EveryDays { every: 0, from_date: date(2026, 1, 1), time: hm(10, 0) };
        assert_eq!(zero.occurrences(date(2026, 1, 5)).len(), 1);
        let zero = Schedule::Monthly { day: 0, time: hm(10, 0) };
        assert_eq!(zero.occurrences(date(2026, 1, 1)).len(), 1);
    }
}
