//! Absences and appointments: when a person is away from their establishment (a hospitalisation,
//! a stay with family, a consultation outside) and the appointments that may take them out.
//!
//! Where the person is and why is sealed (a hospital's service says much about their health);
//! the kind, the times and the transport stay in clear, for the day's lists.
//!
//! **Away at an instant** — one rule ([`AwayPeriod`]), for every feature that must know whether
//! the person is there (the day's tasks, and the medication rounds to come): an absence not
//! cancelled keeps the person away from its start until the return recorded; before a return is
//! recorded, until the expected return, or until now if that time has passed (nobody said they
//! are back), or without end when no return is expected.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::validation::{self, ValidationErrors};
use crate::{AbsenceId, AppointmentId, EstablishmentId, ResidentId, UserId};

/// How far from now an absence or an appointment may be dated: further is a typing error.
pub const HORIZON_DAYS: i64 = 366;

crate::text_codes! {
    /// Why the person is away.
    pub enum AbsenceKind {
        /// In hospital (emergency or planned admission).
        Hospitalisation = "hospitalisation",
        /// Holidays, a stay with family or friends.
        FamilyStay = "family_stay",
        /// A consultation or an examination outside the establishment.
        Consultation = "consultation",
        Other = "other",
    }
}

crate::text_codes! {
    /// How the person travels.
    pub enum Transport {
        Ambulance = "ambulance",
        /// Véhicule sanitaire léger.
        Vsl = "vsl",
        Taxi = "taxi",
        /// Taken by family or friends.
        Family = "family",
        None = "none",
    }
}

crate::text_codes! {
    /// Where an absence stands at an instant.
    pub enum AbsenceState {
        /// Its start has not come.
        Planned = "planned",
        /// The person is away: started, return not recorded.
        InProgress = "in_progress",
        /// The return is recorded.
        Ended = "ended",
        /// It did not take place.
        Cancelled = "cancelled",
    }
}

/// Where the person goes (sealed).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// A hospital, a relative's home, a practice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub name: Option<String>,
    /// The hospital's service (cardiology, emergency department...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 200))]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub address: Option<String>,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Destination([redacted])")
    }
}

/// What an absence's sealed column holds.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbsenceDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl std::fmt::Debug for AbsenceDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AbsenceDetails([redacted])")
    }
}

/// An absence, as kept, with where it stands when read.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Absence {
    pub id: AbsenceId,
    pub resident_id: ResidentId,
    pub establishment_id: EstablishmentId,
    pub kind: AbsenceKind,
    pub starts_at: DateTime<Utc>,
    /// When the person is expected back (unknown: null).
    pub expected_return_at: Option<DateTime<Utc>>,
    /// When the person came back, once recorded.
    pub returned_at: Option<DateTime<Utc>>,
    pub destination: Option<Destination>,
    pub reason: Option<String>,
    pub transport: Transport,
    pub state: AbsenceState,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    pub return_recorded_by: Option<UserId>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<UserId>,
}

impl std::fmt::Debug for Absence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Absence").field("id", &self.id).field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// The facts of an absence the rules read (what is in clear).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbsenceTimes {
    pub starts_at: DateTime<Utc>,
    pub expected_return_at: Option<DateTime<Utc>>,
    pub returned_at: Option<DateTime<Utc>>,
    pub cancelled: bool,
}

impl AbsenceTimes {
    /// Where the absence stands at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> AbsenceState {
        if self.cancelled {
            AbsenceState::Cancelled
        } else if self.returned_at.is_some() {
            AbsenceState::Ended
        } else if now < self.starts_at {
            AbsenceState::Planned
        } else {
            AbsenceState::InProgress
        }
    }

    /// When the person is away because of this absence, as known at `now`: from its start to
    /// `Some(end)` (excluded), or without end (`None`); nothing when it is cancelled. The one
    /// statement of the rule (see the module's documentation).
    pub fn away(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, Option<DateTime<Utc>>)> {
        if self.cancelled {
            return None;
        }
        let until = match (self.returned_at, self.expected_return_at) {
            (Some(returned), _) => Some(returned),
            (None, Some(expected)) => Some(expected.max(now)),
            (None, None) => None,
        };
        Some((self.starts_at, until))
    }
}

/// A time the person is away, for the features that suspend what they would do for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AwayPeriod {
    pub absence_id: AbsenceId,
    pub resident_id: ResidentId,
    pub kind: AbsenceKind,
    pub from: DateTime<Utc>,
    /// Excluded; none: until a return is recorded.
    pub until: Option<DateTime<Utc>>,
}

impl AwayPeriod {
    /// The period of an absence as known at `now` (none when it is cancelled).
    pub fn of(
        absence_id: AbsenceId,
        resident_id: ResidentId,
        kind: AbsenceKind,
        times: AbsenceTimes,
        now: DateTime<Utc>,
    ) -> Option<Self> {
        let (from, until) = times.away(now)?;
        Some(Self { absence_id, resident_id, kind, from, until })
    }

    /// Whether the person is away at `at`.
    pub fn covers(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && self.until.is_none_or(|until| at < until)
    }

    /// Whether the period meets `[from, to)`.
    pub fn meets(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        self.from < to && self.until.is_none_or(|until| until > from)
    }
}

/// The period keeping `resident` away at `at`, if any.
pub fn away_at(periods: &[AwayPeriod], resident: ResidentId, at: DateTime<Utc>) -> Option<&AwayPeriod> {
    periods.iter().find(|p| p.resident_id == resident && p.covers(at))
}

/// An absence to record, as entered.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AbsenceInput {
    pub kind: Option<AbsenceKind>,
    pub starts_at: Option<DateTime<Utc>>,
    pub expected_return_at: Option<DateTime<Utc>>,
    pub destination: Option<Destination>,
    pub reason: Option<String>,
    pub transport: Option<Transport>,
}

impl std::fmt::Debug for AbsenceInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AbsenceInput").field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// An absence to record, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAbsence {
    pub kind: AbsenceKind,
    pub starts_at: DateTime<Utc>,
    pub expected_return_at: Option<DateTime<Utc>>,
    pub transport: Transport,
    pub details: AbsenceDetails,
}

impl std::fmt::Debug for NewAbsence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAbsence")
            .field("kind", &self.kind)
            .field("starts_at", &self.starts_at)
            .finish_non_exhaustive()
    }
}

/// A professional's free text that may run over several lines (other control characters are
/// refused), trimmed; `None` when empty.
pub(crate) fn optional_text(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<String>,
    max: usize,
) -> Option<String> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())?;
    if value.chars().count() > max {
        errors.add(field, format!("must be at most {max} characters"));
    } else if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        errors.add(field, "must not contain control characters");
    }
    Some(value)
}

/// A short text on one line (a name, a place), trimmed; `None` when empty.
pub(crate) fn optional_line(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<String>,
    max: usize,
) -> Option<String> {
    let value = value.filter(|v| !v.trim().is_empty())?;
    errors.check(field, validation::text(&value, 1, max))
}

/// A time within [`HORIZON_DAYS`] of now, either way.
fn within_horizon(errors: &mut ValidationErrors, field: &str, at: DateTime<Utc>, now: DateTime<Utc>) {
    if (at - now).abs() > Duration::days(HORIZON_DAYS) {
        errors.add(field, format!("must be within {HORIZON_DAYS} days of now"));
    }
}

fn destination(errors: &mut ValidationErrors, field: &str, destination: Option<Destination>) -> Option<Destination> {
    let destination = destination?;
    let checked = Destination {
        name: optional_line(errors, &format!("{field}/name"), destination.name, 200),
        service: optional_line(errors, &format!("{field}/service"), destination.service, 200),
        address: optional_text(errors, &format!("{field}/address"), destination.address, 500),
    };
    (checked != Destination::default()).then_some(checked)
}

impl NewAbsence {
    /// Checks an absence: a kind; a start (default now) within a year of now; an expected return
    /// after it; texts of a sensible length.
    pub fn validate(input: AbsenceInput, now: DateTime<Utc>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let kind = input.kind;
        if kind.is_none() {
            errors.add("kind", "is required");
        }
        let starts_at = input.starts_at.unwrap_or(now);
        within_horizon(&mut errors, "starts_at", starts_at, now);
        if let Some(expected) = input.expected_return_at {
            if expected <= starts_at {
                errors.add("expected_return_at", "must be after starts_at");
            }
            within_horizon(&mut errors, "expected_return_at", expected, now);
        }
        let details = AbsenceDetails {
            destination: destination(&mut errors, "destination", input.destination),
            reason: optional_text(&mut errors, "reason", input.reason, 2000),
        };
        errors.into_result(|| Self {
            kind: kind.unwrap_or(AbsenceKind::Other),
            starts_at,
            expected_return_at: input.expected_return_at,
            transport: input.transport.unwrap_or(Transport::None),
            details,
        })
    }
}

/// Checks the time of a return: not before the absence's start, not in the future.
pub fn check_return(
    times: &AbsenceTimes,
    returned_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    if returned_at < times.starts_at {
        errors.add("returned_at", "is before the absence started");
    }
    if returned_at > now + Duration::minutes(5) {
        errors.add("returned_at", "is in the future");
    }
    errors.into_result(|| ())
}

// ---------------------------------------------------------------------------------------------
// Appointments.
// ---------------------------------------------------------------------------------------------

crate::text_codes! {
    pub enum AppointmentStatus {
        Planned = "planned",
        /// It took place.
        Done = "done",
        Cancelled = "cancelled",
    }
}

/// What an appointment's sealed column holds: with whom, where, who goes with the person, and
/// what to know.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentDetails {
    pub with_whom: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accompanied_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl std::fmt::Debug for AppointmentDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppointmentDetails([redacted])")
    }
}

/// An appointment, as kept.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Appointment {
    pub id: AppointmentId,
    pub resident_id: ResidentId,
    pub establishment_id: EstablishmentId,
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    /// The professional or the service seen.
    pub with_whom: String,
    /// Where (a practice, a hospital's service, an address).
    pub place: Option<String>,
    /// Outside the establishment: the person is away for it.
    pub outside: bool,
    pub transport: Transport,
    pub accompanied_by: Option<String>,
    pub notes: Option<String>,
    pub status: AppointmentStatus,
    /// The absence made for it (an appointment outside).
    pub absence_id: Option<AbsenceId>,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    /// When it was marked done or cancelled, and by whom.
    pub status_changed_at: Option<DateTime<Utc>>,
    pub status_changed_by: Option<UserId>,
}

impl std::fmt::Debug for Appointment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Appointment").field("id", &self.id).field("status", &self.status).finish_non_exhaustive()
    }
}

/// An appointment to record, as entered.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AppointmentInput {
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub with_whom: Option<String>,
    pub place: Option<String>,
    pub outside: bool,
    pub transport: Option<Transport>,
    pub accompanied_by: Option<String>,
    pub notes: Option<String>,
    /// Outside: when the person leaves (default: the appointment's start).
    pub departs_at: Option<DateTime<Utc>>,
    /// Outside: when the person is expected back (required).
    pub returns_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for AppointmentInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppointmentInput").field("starts_at", &self.starts_at).finish_non_exhaustive()
    }
}

/// An appointment to record, checked; with the absence it makes when it is outside.
#[derive(Clone, PartialEq, Eq)]
pub struct NewAppointment {
    pub starts_at: DateTime<Utc>,
    pub ends_at: Option<DateTime<Utc>>,
    pub outside: bool,
    pub transport: Transport,
    pub details: AppointmentDetails,
    pub absence: Option<NewAbsence>,
}

impl std::fmt::Debug for NewAppointment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAppointment").field("starts_at", &self.starts_at).finish_non_exhaustive()
    }
}

impl NewAppointment {
    /// Checks an appointment: a time within a year of now, an end after it, with whom. One
    /// outside the establishment makes the matching absence (a consultation) from the departure
    /// (default: the appointment's time) to the expected return, which it needs: without a
    /// return, the person's care would stay suspended.
    pub fn validate(input: AppointmentInput, now: DateTime<Utc>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let starts_at = match input.starts_at {
            Some(at) => at,
            None => {
                errors.add("starts_at", "is required");
                now
            }
        };
        within_horizon(&mut errors, "starts_at", starts_at, now);
        if input.ends_at.is_some_and(|end| end <= starts_at) {
            errors.add("ends_at", "must be after starts_at");
        }
        let with_whom = optional_line(&mut errors, "with_whom", input.with_whom, 200);
        if with_whom.is_none() && !errors.errors().iter().any(|e| e.field == "with_whom") {
            errors.add("with_whom", "is required");
        }
        let details = AppointmentDetails {
            with_whom: with_whom.unwrap_or_default(),
            place: optional_text(&mut errors, "place", input.place, 500),
            accompanied_by: optional_line(&mut errors, "accompanied_by", input.accompanied_by, 200),
            notes: optional_text(&mut errors, "notes", input.notes, 2000),
        };
        let transport = input.transport.unwrap_or(Transport::None);
        let absence = if input.outside {
            let departs_at = input.departs_at.unwrap_or(starts_at);
            if departs_at > starts_at {
                errors.add("departs_at", "must not be after starts_at");
            }
            within_horizon(&mut errors, "departs_at", departs_at, now);
            match input.returns_at {
                None => errors.add("returns_at", "is required for an appointment outside"),
                Some(back) if back <= starts_at || input.ends_at.is_some_and(|end| back < end) => {
                    errors.add("returns_at", "must be after the appointment")
                }
                Some(_) => {}
            }
            let destination = Destination {
                name: Some(details.with_whom.clone()).filter(|w| !w.is_empty()),
                service: None,
                address: details.place.clone(),
            };
            Some(NewAbsence {
                kind: AbsenceKind::Consultation,
                starts_at: departs_at,
                expected_return_at: input.returns_at,
                transport,
                details: AbsenceDetails { destination: Some(destination), reason: None },
            })
        } else {
            for (field, given) in [("departs_at", input.departs_at), ("returns_at", input.returns_at)] {
                if given.is_some() {
                    errors.add(field, "is for an appointment outside only");
                }
            }
            None
        };
        errors.into_result(|| Self {
            starts_at,
            ends_at: input.ends_at,
            outside: input.outside,
            transport,
            details,
            absence,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The day of an establishment.
// ---------------------------------------------------------------------------------------------

/// An absence of the day's list, with whom it keeps away.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AbsenceOfDay {
    pub resident: crate::transmission::ResidentName,
    #[serde(flatten)]
    pub absence: Absence,
}

/// An appointment of the day's list, with whose it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppointmentOfDay {
    pub resident: crate::transmission::ResidentName,
    #[serde(flatten)]
    pub appointment: Appointment,
}

/// Who is away on a day of an establishment, and the day's appointments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AwayDay {
    pub date: chrono::NaiveDate,
    /// The absences keeping someone away at some time of the day (those ended that day
    /// included), by their start.
    pub absences: Vec<AbsenceOfDay>,
    /// The appointments of the day, by their time, cancelled ones included.
    pub appointments: Vec<AppointmentOfDay>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn times(start: &str, expected: Option<&str>, returned: Option<&str>, cancelled: bool) -> AbsenceTimes {
        AbsenceTimes {
            starts_at: at(start),
            expected_return_at: expected.map(at),
            returned_at: returned.map(at),
            cancelled,
        }
    }

    #[test]
    fn away_from_the_start_to_the_return_or_the_expected_return_or_now() {
        let now = at("2026-12-10T12:00:00Z");
        // (absence, instant, away)
        let cases = [
            // Returned: away until the return, whatever was expected.
            (
                times("2026-12-08T08:00:00Z", Some("2026-12-20T00:00:00Z"), Some("2026-12-09T15:00:00Z"), false),
                "2026-12-09T14:59:00Z",
                true,
            ),
            (
                times("2026-12-08T08:00:00Z", Some("2026-12-20T00:00:00Z"), Some("2026-12-09T15:00:00Z"), false),
                "2026-12-09T15:00:00Z",
                false,
            ),
            (times("2026-12-08T08:00:00Z", None, None, false), "2026-12-08T07:59:00Z", false),
            // Planned: over its expected time.
            (times("2026-12-12T08:00:00Z", Some("2026-12-14T18:00:00Z"), None, false), "2026-12-13T08:00:00Z", true),
            (times("2026-12-12T08:00:00Z", Some("2026-12-14T18:00:00Z"), None, false), "2026-12-14T18:00:00Z", false),
            // In progress, the expected return passed and none recorded: away until now, then
            // expected back.
            (times("2026-12-08T08:00:00Z", Some("2026-12-09T18:00:00Z"), None, false), "2026-12-10T11:00:00Z", true),
            (times("2026-12-08T08:00:00Z", Some("2026-12-09T18:00:00Z"), None, false), "2026-12-10T13:00:00Z", false),
            // No return expected: away until one is recorded.
            (times("2026-12-08T08:00:00Z", None, None, false), "2027-03-01T00:00:00Z", true),
            // Cancelled: never away.
            (times("2026-12-08T08:00:00Z", None, None, true), "2026-12-09T00:00:00Z", false),
        ];
        for (n, (absence, instant, away)) in cases.into_iter().enumerate() {
            let period = AwayPeriod::of(
                AbsenceId::from_uuid(uuid::Uuid::from_u128(1)),
                ResidentId::from_uuid(uuid::Uuid::from_u128(2)),
                AbsenceKind::Hospitalisation,
                absence,
                now,
            );
            assert_eq!(period.is_some_and(|p| p.covers(at(instant))), away, "case {n}");
        }
    }

    #[test]
    fn an_absence_is_planned_in_progress_ended_or_cancelled() {
        let now = at("2026-12-10T12:00:00Z");
        assert_eq!(times("2026-12-11T08:00:00Z", None, None, false).state(now), AbsenceState::Planned);
        assert_eq!(times("2026-12-09T08:00:00Z", None, None, false).state(now), AbsenceState::InProgress);
        assert_eq!(
            times("2026-12-09T08:00:00Z", None, Some("2026-12-10T08:00:00Z"), false).state(now),
            AbsenceState::Ended
        );
        assert_eq!(times("2026-12-11T08:00:00Z", None, None, true).state(now), AbsenceState::Cancelled);
    }

    #[test]
    fn absences_and_appointments_are_checked() {
        let now = at("2026-12-10T12:00:00Z");
        let bad = NewAbsence::validate(
            AbsenceInput {
                expected_return_at: Some(at("2026-12-10T11:00:00Z")),
                reason: Some("x".repeat(2001)),
                destination: Some(Destination { name: Some("a\u{7}".to_owned()), ..Default::default() }),
                ..Default::default()
            },
            now,
        )
        .unwrap_err();
        let fields: Vec<&str> = bad.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["kind", "expected_return_at", "destination/name", "reason"]);
        let good = NewAbsence::validate(
            AbsenceInput {
                kind: Some(AbsenceKind::FamilyStay),
                reason: Some("Noël chez sa fille\nretour le 27".to_owned()),
                destination: Some(Destination::default()),
                ..Default::default()
            },
            now,
        )
        .unwrap();
        assert_eq!((good.starts_at, good.transport, good.details.destination), (now, Transport::None, None));

        let outside = AppointmentInput {
            starts_at: Some(at("2026-12-15T10:00:00Z")),
            with_whom: Some("Dr Cardio, cardiologie".to_owned()),
            outside: true,
            transport: Some(Transport::Vsl),
            ..Default::default()
        };
        let refused = NewAppointment::validate(outside.clone(), now).unwrap_err();
        assert_eq!(refused.errors()[0].field, "returns_at");
        let made = NewAppointment::validate(
            AppointmentInput {
                departs_at: Some(at("2026-12-15T09:15:00Z")),
                returns_at: Some(at("2026-12-15T12:00:00Z")),
                ..outside
            },
            now,
        )
        .unwrap();
        let absence = made.absence.unwrap();
        assert_eq!(
            (absence.kind, absence.starts_at, absence.expected_return_at, absence.transport),
            (AbsenceKind::Consultation, at("2026-12-15T09:15:00Z"), Some(at("2026-12-15T12:00:00Z")), Transport::Vsl)
        );
        let inside = NewAppointment::validate(
            AppointmentInput {
                starts_at: Some(at("2026-12-15T10:00:00Z")),
                with_whom: Some("Dentiste".to_owned()),
                returns_at: Some(at("2026-12-15T12:00:00Z")),
                ..Default::default()
            },
            now,
        )
        .unwrap_err();
        assert_eq!(inside.errors()[0].field, "returns_at");
    }
}
