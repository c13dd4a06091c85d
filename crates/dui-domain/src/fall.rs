//! The falls register: each fall of a person — when, where, how it was found, what came of it,
//! the care given, who was told — and, from the register, how many falls in the last 6 and 12
//! months, and whether the person falls repeatedly.
//!
//! A fall is recorded once; a correction (a fracture confirmed the next day, a wrong time) is a
//! new record that amends the first and replaces what it says; a fall recorded by mistake is
//! flagged as entered in error, with a reason, and no longer counts. Nothing is deleted.
//!
//! Chutes répétées: two falls or more within twelve months (HAS, « Évaluation et prise en charge
//! des personnes âgées faisant des chutes répétées », recommandation de bonne pratique, 2009).
//! A person who falls repeatedly needs the assessment that recommendation describes.
//!
//! What is said about the fall (circumstances, activity, care given, the names of who was told,
//! and what `other` means) is sealed in storage; the time, the place, how the person was found
//! and the consequences are codes in clear, for the counts and the quality lists.

use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};

use crate::transmission::ResidentName;
use crate::validation::{ValidationErrors, optional_text};
use crate::{EstablishmentId, FallId, ResidentId, UserId};

/// The longest circumstances, care given or consequences' detail, in characters.
pub const MAX_TEXT: usize = 2000;
/// The longest place detail, activity or name of who was told, in characters.
pub const MAX_SHORT: usize = 200;
/// How many falls within twelve months make falls repeated (HAS 2009).
pub const REPEATED_FALLS: u32 = 2;

crate::text_codes! {
    pub enum FallPlace {
        Room = "room",
        Bathroom = "bathroom",
        Corridor = "corridor",
        DiningRoom = "dining_room",
        Outside = "outside",
        /// `place_detail` says where.
        Other = "other",
    }
}

crate::text_codes! {
    /// How the fall came to be known.
    pub enum Discovery {
        /// Someone saw the person fall.
        Witnessed = "witnessed",
        /// The person was found on the floor: how long they stayed there is unknown.
        FoundOnFloor = "found_on_floor",
    }
}

crate::text_codes! {
    pub enum Consequence {
        /// No injury (alone).
        NoInjury = "none",
        Bruise = "bruise",
        Wound = "wound",
        FractureSuspected = "fracture_suspected",
        HeadInjury = "head_injury",
        HospitalTransfer = "hospital_transfer",
        Death = "death",
        /// `consequence_detail` says what.
        Other = "other",
    }
}

crate::text_codes! {
    /// How much of the register a reader sees.
    pub enum RegisterView {
        /// Everything: the care team.
        Full = "full",
        /// The codes and times, without what is said about the fall (its `details`): the
        /// director, for the quality of care and the declaration of serious adverse events.
        WithoutDetails = "without_details",
    }
}

impl Consequence {
    /// A consequence that makes the fall serious: it is reported beyond the team (quality
    /// referent, possibly a declaration of a serious adverse event).
    pub const fn serious(self) -> bool {
        matches!(self, Self::FractureSuspected | Self::HeadInjury | Self::HospitalTransfer | Self::Death)
    }
}

/// What is said about a fall: sealed in storage.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FallDetails {
    /// Where exactly (required when the place is `other`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_detail: Option<String>,
    /// What happened, as far as is known.
    pub circumstances: String,
    /// What the person was doing (getting up at night, going to the toilet, a transfer...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
    /// What the consequences were (required with `other`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consequence_detail: Option<String>,
    /// The care given (checks, first aid, monitoring).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub care_given: Option<String>,
    /// Which physician was told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physician_informed: Option<String>,
    /// Which relative or trusted person was told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_informed: Option<String>,
}

impl std::fmt::Debug for FallDetails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FallDetails([redacted])")
    }
}

/// A fall as entered (a first record, or a correction that replaces it).
#[derive(Clone, PartialEq, Eq)]
pub struct FallInput {
    pub occurred_at: DateTime<Utc>,
    pub place: FallPlace,
    pub place_detail: Option<String>,
    pub discovery: Discovery,
    pub circumstances: String,
    pub activity: Option<String>,
    pub consequences: Vec<Consequence>,
    pub consequence_detail: Option<String>,
    pub care_given: Option<String>,
    pub physician_informed_at: Option<DateTime<Utc>>,
    pub physician_informed: Option<String>,
    pub family_informed_at: Option<DateTime<Utc>>,
    pub family_informed: Option<String>,
}

impl std::fmt::Debug for FallInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FallInput").field("occurred_at", &self.occurred_at).finish_non_exhaustive()
    }
}

/// A checked fall, ready to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFall {
    pub occurred_at: DateTime<Utc>,
    pub place: FallPlace,
    pub discovery: Discovery,
    pub consequences: Vec<Consequence>,
    pub physician_informed_at: Option<DateTime<Utc>>,
    pub family_informed_at: Option<DateTime<Utc>>,
    pub details: FallDetails,
}

/// The clock skew a time "now" may have.
const SKEW_MINUTES: i64 = 5;

impl NewFall {
    /// Checks an entered fall at `now`. Errors name the field: the fall is not in the future;
    /// `other` (place, consequence) says what; `none` is the only consequence when it is one;
    /// whoever was told was told after the fall, and when is given.
    pub fn validate(input: FallInput, now: DateTime<Utc>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let latest = now + chrono::Duration::minutes(SKEW_MINUTES);
        if input.occurred_at > latest {
            errors.add("occurred_at", "is in the future");
        }
        let place_detail = optional_text(&mut errors, "place_detail", input.place_detail, MAX_SHORT);
        if input.place == FallPlace::Other
            && place_detail.is_none()
            && !errors.errors().iter().any(|e| e.field == "place_detail")
        {
            errors.add("place_detail", "is required when the place is other: say where");
        }
        let circumstances = errors.check("circumstances", crate::validation::text(&input.circumstances, 1, MAX_TEXT));
        let activity = optional_text(&mut errors, "activity", input.activity, MAX_SHORT);

        let mut consequences = input.consequences;
        consequences.sort_by_key(|c| Consequence::ALL.iter().position(|d| d == c));
        consequences.dedup();
        if consequences.is_empty() {
            errors.add("consequences", "must not be empty: none, or what came of the fall");
        } else if consequences.contains(&Consequence::NoInjury) && consequences.len() > 1 {
            errors.add("consequences", "none cannot be given with a consequence");
        }
        let consequence_detail = optional_text(&mut errors, "consequence_detail", input.consequence_detail, MAX_TEXT);
        if consequences.contains(&Consequence::Other)
            && consequence_detail.is_none()
            && !errors.errors().iter().any(|e| e.field == "consequence_detail")
        {
            errors.add("consequence_detail", "is required with the consequence other: say what");
        }
        let care_given = optional_text(&mut errors, "care_given", input.care_given, MAX_TEXT);

        let mut told = |at_field: &str, at: Option<DateTime<Utc>>, who_field: &str, who: Option<String>| {
            let who = optional_text(&mut errors, who_field, who, MAX_SHORT);
            match at {
                Some(at) if at < input.occurred_at => errors.add(at_field, "is before the fall"),
                Some(at) if at > latest => errors.add(at_field, "is in the future"),
                None if who.is_some() => errors.add(at_field, format!("is required when {who_field} is given")),
                _ => {}
            }
            who
        };
        let physician_informed =
            told("physician_informed_at", input.physician_informed_at, "physician_informed", input.physician_informed);
        let family_informed =
            told("family_informed_at", input.family_informed_at, "family_informed", input.family_informed);

        errors.into_result(|| NewFall {
            occurred_at: input.occurred_at,
            place: input.place,
            discovery: input.discovery,
            consequences,
            physician_informed_at: input.physician_informed_at,
            family_informed_at: input.family_informed_at,
            details: FallDetails {
                place_detail,
                circumstances: circumstances.unwrap_or_default(),
                activity,
                consequence_detail,
                care_given,
                physician_informed,
                family_informed,
            },
        })
    }
}

/// The flag on a fall entered in error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FallError {
    pub at: DateTime<Utc>,
    pub by: UserId,
    /// Why; absent for a reader who sees the register without details.
    pub reason: Option<String>,
}

/// One record of a fall, as kept: the first record, or a correction (`amends`) that replaces
/// it. This is the shape of the exports.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FallRecord {
    pub id: FallId,
    pub resident_id: ResidentId,
    /// Where the person was supported when they fell.
    pub establishment_id: EstablishmentId,
    /// The first record of the fall, which this one corrects.
    pub amends: Option<FallId>,
    pub occurred_at: DateTime<Utc>,
    pub place: FallPlace,
    pub discovery: Discovery,
    pub consequences: Vec<Consequence>,
    pub physician_informed_at: Option<DateTime<Utc>>,
    pub family_informed_at: Option<DateTime<Utc>>,
    /// What is said about the fall; absent for a reader who sees the register without details.
    pub details: Option<FallDetails>,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    /// On a first record only: the whole fall was recorded by mistake.
    pub entered_in_error: Option<FallError>,
}

impl std::fmt::Debug for FallRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FallRecord").field("id", &self.id).field("amends", &self.amends).finish_non_exhaustive()
    }
}

/// A fall of the register: what its latest record says, with who recorded it first and who
/// corrected it last.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Fall {
    /// The fall (its first record): what a correction or an error flag names.
    pub id: FallId,
    pub resident_id: ResidentId,
    pub establishment_id: EstablishmentId,
    pub occurred_at: DateTime<Utc>,
    pub place: FallPlace,
    pub discovery: Discovery,
    pub consequences: Vec<Consequence>,
    /// A fracture suspected, a head injury, a transfer to hospital or a death.
    pub serious: bool,
    pub physician_informed_at: Option<DateTime<Utc>>,
    pub family_informed_at: Option<DateTime<Utc>>,
    /// What is said about the fall; absent for a reader who sees the register without details.
    pub details: Option<FallDetails>,
    pub recorded_by: UserId,
    pub recorded_at: DateTime<Utc>,
    /// 1 as first recorded; each correction adds one.
    pub version: u32,
    /// The record shown: the latest correction, or the first record.
    pub version_id: FallId,
    pub amended_by: Option<UserId>,
    pub amended_at: Option<DateTime<Utc>>,
    /// The fall was recorded by mistake: it does not count.
    pub entered_in_error: Option<FallError>,
}

impl std::fmt::Debug for Fall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fall").field("id", &self.id).field("version", &self.version).finish_non_exhaustive()
    }
}

impl Fall {
    /// Whether it counts: not entered in error.
    pub fn counts(&self) -> bool {
        self.entered_in_error.is_none()
    }
}

/// The falls that `records` (first records and corrections, in any order) describe: each fall
/// as its latest record says, newest fall first. A correction whose first record is missing
/// (not readable) is left out.
pub fn falls(records: Vec<FallRecord>) -> Vec<Fall> {
    let mut chains: std::collections::BTreeMap<FallId, Vec<FallRecord>> = std::collections::BTreeMap::new();
    for record in records {
        chains.entry(record.amends.unwrap_or(record.id)).or_default().push(record);
    }
    let mut falls: Vec<Fall> = chains
        .into_iter()
        .filter_map(|(id, mut chain)| {
            // Ids are time-ordered: the greatest is the latest correction.
            chain.sort_by_key(|r| r.id);
            let first = chain.iter().find(|r| r.id == id)?;
            let latest = chain.last()?;
            let corrected = latest.id != first.id;
            Some(Fall {
                id,
                resident_id: first.resident_id,
                establishment_id: first.establishment_id,
                occurred_at: latest.occurred_at,
                place: latest.place,
                discovery: latest.discovery,
                serious: latest.consequences.iter().any(|c| c.serious()),
                consequences: latest.consequences.clone(),
                physician_informed_at: latest.physician_informed_at,
                family_informed_at: latest.family_informed_at,
                details: latest.details.clone(),
                recorded_by: first.recorded_by,
                recorded_at: first.recorded_at,
                version: u32::try_from(chain.len()).unwrap_or(u32::MAX),
                version_id: latest.id,
                amended_by: corrected.then_some(latest.recorded_by),
                amended_at: corrected.then_some(latest.recorded_at),
                entered_in_error: first.entered_in_error.clone(),
            })
        })
        .collect();
    falls.sort_by_key(|f| std::cmp::Reverse((f.occurred_at, f.id)));
    falls
}

/// How often the person fell before a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FallCounts {
    /// Falls in the 6 months before `at` (entered in error excluded).
    pub last_6_months: u32,
    /// Falls in the 12 months before `at`.
    pub last_12_months: u32,
    /// Two falls or more in 12 months: chutes répétées (HAS 2009).
    pub recurrent: bool,
}

/// The start of the window of `months` calendar months ending at `at`.
pub fn months_before(at: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    at.checked_sub_months(Months::new(months)).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Counts the falls that count in the 6 and 12 calendar months up to `at`: a fall counts from
/// the window's start (included) to `at` (included).
pub fn counts(falls: &[Fall], at: DateTime<Utc>) -> FallCounts {
    let within = |months: u32| {
        let since = months_before(at, months);
        falls.iter().filter(|f| f.counts() && f.occurred_at >= since && f.occurred_at <= at).count()
    };
    let last_12 = u32::try_from(within(12)).unwrap_or(u32::MAX);
    FallCounts {
        last_6_months: u32::try_from(within(6)).unwrap_or(u32::MAX),
        last_12_months: last_12,
        recurrent: last_12 >= REPEATED_FALLS,
    }
}

/// A person's falls register over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FallRegister {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// As of `to`.
    #[serde(flatten)]
    pub counts: FallCounts,
    /// The falls of the period, newest first, those entered in error included (flagged).
    pub falls: Vec<Fall>,
}

/// A fall in an establishment's register, with whom it happened to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EstablishmentFall {
    #[serde(flatten)]
    pub fall: Fall,
    pub resident: ResidentName,
}

/// The falls of an establishment over a period: for the quality referent and the director.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EstablishmentFalls {
    pub establishment_id: EstablishmentId,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// What the reader sees of each fall.
    pub view: RegisterView,
    /// Falls of the period that count (entered in error excluded).
    pub count: u32,
    /// Of which serious.
    pub serious: u32,
    /// Residents who fell twice or more in the period (over the default 12 months: the chutes
    /// répétées of HAS).
    pub residents_with_repeated_falls: u32,
    /// Newest first, those entered in error included (flagged).
    pub falls: Vec<EstablishmentFall>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn now() -> DateTime<Utc> {
        at("2026-11-30T10:00:00Z")
    }

    fn input() -> FallInput {
        FallInput {
            occurred_at: at("2026-11-30T03:10:00Z"),
            place: FallPlace::Room,
            place_detail: None,
            discovery: Discovery::FoundOnFloor,
            circumstances: "Retrouvée au sol au pied du lit".to_owned(),
            activity: Some("Lever nocturne".to_owned()),
            consequences: vec![Consequence::Bruise],
            consequence_detail: None,
            care_given: None,
            physician_informed_at: None,
            physician_informed: None,
            family_informed_at: None,
            family_informed: None,
        }
    }

    fn fields(result: Result<NewFall, ValidationErrors>) -> Vec<String> {
        result.unwrap_err().errors().iter().map(|e| e.field.clone()).collect()
    }

    /// A change of an entered fall, and the fields it makes wrong.
    type Case = (fn(&mut FallInput), &'static [&'static str]);

    #[test]
    fn a_fall_names_its_bad_fields() {
        assert!(NewFall::validate(input(), now()).is_ok());
        let cases: [Case; 10] = [
            (|f| f.occurred_at = at("2026-11-30T10:06:00Z"), &["occurred_at"]),
            (|f| f.place = FallPlace::Other, &["place_detail"]),
            (|f| f.circumstances = "  ".to_owned(), &["circumstances"]),
            (|f| f.consequences = vec![], &["consequences"]),
            (|f| f.consequences = vec![Consequence::NoInjury, Consequence::Wound], &["consequences"]),
            (|f| f.consequences = vec![Consequence::Other], &["consequence_detail"]),
            (|f| f.activity = Some("x".repeat(MAX_SHORT + 1)), &["activity"]),
            (|f| f.physician_informed = Some("Dr Martin".to_owned()), &["physician_informed_at"]),
            (|f| f.family_informed_at = Some(at("2026-11-30T03:00:00Z")), &["family_informed_at"]),
            (|f| f.physician_informed_at = Some(at("2026-11-30T11:00:00Z")), &["physician_informed_at"]),
        ];
        for (edit, expected) in cases {
            let mut fall = input();
            edit(&mut fall);
            assert_eq!(fields(NewFall::validate(fall, now())), expected.to_vec());
        }
        let mut fall = input();
        fall.place = FallPlace::Other;
        fall.place_detail = Some(" Ascenseur ".to_owned());
        fall.consequences =
            vec![Consequence::HospitalTransfer, Consequence::FractureSuspected, Consequence::HospitalTransfer];
        fall.physician_informed_at = Some(at("2026-11-30T03:30:00Z"));
        fall.physician_informed = Some("Dr Martin, médecin traitant".to_owned());
        let checked = NewFall::validate(fall, now()).unwrap();
        assert_eq!(checked.consequences, [Consequence::FractureSuspected, Consequence::HospitalTransfer]);
        assert_eq!(checked.details.place_detail.as_deref(), Some("Ascenseur"));
        assert_eq!(checked.details.physician_informed.as_deref(), Some("Dr Martin, médecin traitant"));
    }

    fn record(id: u128, amends: Option<u128>, occurred_at: &str) -> FallRecord {
        FallRecord {
            id: FallId::from_uuid(uuid::Uuid::from_u128(id)),
            resident_id: ResidentId::from_uuid(uuid::Uuid::nil()),
            establishment_id: EstablishmentId::from_uuid(uuid::Uuid::nil()),
            amends: amends.map(|a| FallId::from_uuid(uuid::Uuid::from_u128(a))),
            occurred_at: at(occurred_at),
            place: FallPlace::Room,
            discovery: Discovery::Witnessed,
            consequences: vec![Consequence::NoInjury],
            physician_informed_at: None,
            family_informed_at: None,
            details: None,
            recorded_by: UserId::from_uuid(uuid::Uuid::from_u128(id + 100)),
            recorded_at: at(occurred_at),
            entered_in_error: None,
        }
    }

    #[test]
    fn a_fall_is_what_its_latest_record_says() {
        let mut fracture = record(3, Some(1), "2026-06-01T08:00:00Z");
        fracture.consequences = vec![Consequence::FractureSuspected];
        let mut flagged = record(4, None, "2026-07-01T08:00:00Z");
        flagged.entered_in_error = Some(FallError { at: now(), by: flagged.recorded_by, reason: None });
        let found = falls(vec![
            fracture,
            record(1, None, "2026-05-31T08:00:00Z"),
            record(2, Some(1), "2026-05-31T09:00:00Z"),
            flagged,
            // A correction of a fall not read: left out.
            record(6, Some(5), "2026-08-01T08:00:00Z"),
        ]);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].id.as_uuid().as_u128(), 4);
        assert!(!found[0].counts());
        let corrected = &found[1];
        assert_eq!(
            (corrected.id.as_uuid().as_u128(), corrected.version, corrected.version_id.as_uuid().as_u128()),
            (1, 3, 3)
        );
        assert_eq!((corrected.occurred_at, corrected.serious), (at("2026-06-01T08:00:00Z"), true));
        assert_eq!(corrected.recorded_by.as_uuid().as_u128(), 101);
        assert_eq!(corrected.amended_by.map(|u| u.as_uuid().as_u128()), Some(103));
    }

    #[test]
    fn repeated_falls_are_two_within_twelve_months() {
        let as_of = now();
        // (falls, in 6 months, in 12 months, recurrent)
        let cases: [(&[&str], u32, u32, bool); 6] = [
            (&[], 0, 0, false),
            (&["2026-11-01T00:00:00Z"], 1, 1, false),
            // The windows start at the same time of the day, 6 and 12 calendar months before.
            (&["2026-05-30T10:00:00Z", "2025-11-30T10:00:00Z"], 1, 2, true),
            (&["2026-05-30T09:59:59Z", "2025-11-30T09:59:59Z"], 0, 1, false),
            // A fall after the date the counts are made for does not count.
            (&["2026-11-30T10:00:00Z", "2026-11-30T10:00:01Z"], 1, 1, false),
            (&["2026-10-01T00:00:00Z", "2026-11-29T00:00:00Z", "2026-01-01T00:00:00Z"], 2, 3, true),
        ];
        for (times, six, twelve, recurrent) in cases {
            let records: Vec<FallRecord> =
                times.iter().enumerate().map(|(i, t)| record(i as u128 + 1, None, t)).collect();
            let found = falls(records);
            assert_eq!(
                counts(&found, as_of),
                FallCounts { last_6_months: six, last_12_months: twelve, recurrent },
                "{times:?}"
            );
        }
        // A fall entered in error does not count.
        let mut flagged = record(1, None, "2026-11-01T00:00:00Z");
        flagged.entered_in_error = Some(FallError { at: now(), by: flagged.recorded_by, reason: None });
        let found = falls(vec![flagged, record(2, None, "2026-10-01T00:00:00Z")]);
        assert_eq!(counts(&found, as_of), FallCounts { last_6_months: 1, last_12_months: 1, recurrent: false });
        assert_eq!(months_before(at("2026-03-31T12:00:00Z"), 1), at("2026-02-28T12:00:00Z"));
    }
}
