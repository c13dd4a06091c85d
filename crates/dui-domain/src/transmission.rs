//! Transmissions: the professional notes of the daily hand-over. A note is a transmission
//! ciblée (a target and Données / Actions / Résultats), an observation, an incident, or a free
//! note; it is never deleted — a correction is an amendment that leaves the original readable,
//! and a note written by mistake is flagged as entered in error.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::NoteScope;
use crate::validation::ValidationErrors;
use crate::{EstablishmentId, NoteId, ResidentId, UnitId, UserId};

/// The longest part of a note, in characters.
pub const MAX_PART: usize = 20_000;
/// The longest target (cible), in characters: a few words ("chute", "douleur abdominale").
pub const MAX_TARGET: usize = 120;

crate::text_codes! {
    pub enum NoteKind {
        /// Transmission ciblée: a target and Données / Actions / Résultats.
        Targeted = "targeted",
        Observation = "observation",
        /// An adverse event, with its type and severity.
        Incident = "incident",
        Free = "free",
    }
}

crate::text_codes! {
    pub enum IncidentType {
        Fall = "fall",
        /// Fugue, disparition inquiétante.
        Runaway = "runaway",
        Aggression = "aggression",
        MedicationError = "medication_error",
        /// Fausse route.
        Choking = "choking",
        PressureUlcer = "pressure_ulcer",
        SelfHarm = "self_harm",
        PropertyDamage = "property_damage",
        Other = "other",
    }
}

crate::text_codes! {
    pub enum Severity {
        Minor = "minor",
        Moderate = "moderate",
        Major = "major",
        /// To be declared to the authorities (événement indésirable grave).
        Critical = "critical",
    }
}

/// What a note says: sealed in storage. A free note, an observation or an incident has a
/// `text`; a transmission ciblée has a `target` and at least one of `data`, `actions`,
/// `results`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoteContent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Cible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Données: what was observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Actions: what was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<String>,
    /// Résultats: what came of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<String>,
}

impl std::fmt::Debug for NoteContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoteContent([redacted])")
    }
}

/// An incident's classification (in clear: it is counted for quality reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Incident {
    #[serde(rename = "type")]
    pub incident_type: IncidentType,
    pub severity: Severity,
}

/// The flag on a note entered in error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnteredInError {
    pub at: DateTime<Utc>,
    pub by: UserId,
    pub reason: String,
}

/// A professional note, opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Note {
    pub id: NoteId,
    pub resident_id: ResidentId,
    pub author_id: UserId,
    pub establishment_id: EstablishmentId,
    /// The unit the person was in when the note was written.
    pub unit_id: Option<UnitId>,
    pub kind: NoteKind,
    pub scope: NoteScope,
    /// When the note was written.
    pub written_at: DateTime<Utc>,
    /// When what it reports happened.
    pub facts_at: DateTime<Utc>,
    #[serde(flatten)]
    pub content: NoteContent,
    pub incident: Option<Incident>,
    /// The objective of the projet personnalisé it reports on.
    pub objective_id: Option<uuid::Uuid>,
    /// The note this one corrects.
    pub amends: Option<NoteId>,
    /// The latest amendment of this note, if it was corrected.
    pub amended_by: Option<NoteId>,
    pub entered_in_error: Option<EnteredInError>,
}

/// How the person a feed note is about is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResidentName {
    pub id: ResidentId,
    /// Nom utilisé, or the birth name.
    pub family_name: String,
    /// Prénom utilisé, or the first first name.
    pub given_name: String,
}

impl ResidentName {
    /// How a person is named in lists: used names first.
    pub fn of(identity: crate::identity::Identity, id: ResidentId) -> Self {
        let given = identity
            .used_first_name
            .or(identity.first_first_name)
            .unwrap_or_else(|| identity.first_names.split_whitespace().next().unwrap_or_default().to_owned());
        Self { id, family_name: identity.used_name.unwrap_or(identity.birth_name), given_name: given }
    }
}

/// A note of the hand-over feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedNote {
    #[serde(flatten)]
    pub note: Note,
    pub resident: ResidentName,
    /// Written after the reader's marker on this feed.
    pub unread: bool,
}

/// A note to write, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNote {
    pub kind: NoteKind,
    pub scope: NoteScope,
    pub content: NoteContent,
    pub incident: Option<Incident>,
    pub facts_at: Option<DateTime<Utc>>,
    pub objective_id: Option<uuid::Uuid>,
}

/// A note as a client sends it, before checks.
#[derive(Debug, Clone, Default)]
pub struct NoteDraft {
    pub kind: Option<NoteKind>,
    pub scope: Option<NoteScope>,
    pub content: NoteContent,
    pub incident_type: Option<IncidentType>,
    pub severity: Option<Severity>,
    pub facts_at: Option<DateTime<Utc>>,
    pub objective_id: Option<uuid::Uuid>,
}

fn part(errors: &mut ValidationErrors, field: &str, value: Option<String>, max: usize) -> Option<String> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())?;
    if value.chars().count() > max {
        errors.add(field, format!("must be at most {max} characters"));
        return None;
    }
    Some(value)
}

impl NewNote {
    /// Checks a draft. `now` bounds `facts_at` (facts cannot be in the future, give or take a
    /// few minutes of clock skew).
    pub fn validate(draft: NoteDraft, now: DateTime<Utc>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let kind = draft.kind.unwrap_or(if draft.content.target.is_some() {
            NoteKind::Targeted
        } else if draft.incident_type.is_some() {
            NoteKind::Incident
        } else {
            NoteKind::Free
        });
        let content = NoteContent {
            text: part(&mut errors, "text", draft.content.text, MAX_PART),
            target: part(&mut errors, "target", draft.content.target, MAX_TARGET),
            data: part(&mut errors, "data", draft.content.data, MAX_PART),
            actions: part(&mut errors, "actions", draft.content.actions, MAX_PART),
            results: part(&mut errors, "results", draft.content.results, MAX_PART),
        };
        if kind == NoteKind::Targeted {
            if content.target.is_none() {
                errors.add("target", "is required for a targeted transmission");
            }
            if content.data.is_none() && content.actions.is_none() && content.results.is_none() {
                errors.add("data", "a targeted transmission needs data, actions or results");
            }
            if content.text.is_some() {
                errors.add("text", "a targeted transmission is written as data, actions and results");
            }
        } else {
            if content.text.is_none() && !errors.errors().iter().any(|e| e.field == "text") {
                errors.add("text", "must not be empty");
            }
            for (field, value) in [
                ("target", &content.target),
                ("data", &content.data),
                ("actions", &content.actions),
                ("results", &content.results),
            ] {
                if value.is_some() {
                    errors.add(field, "is only for a targeted transmission");
                }
            }
        }
        let incident = match (kind, draft.incident_type, draft.severity) {
            (NoteKind::Incident, Some(incident_type), Some(severity)) => Some(Incident { incident_type, severity }),
            (NoteKind::Incident, incident_type, severity) => {
                if incident_type.is_none() {
                    errors.add("incident_type", "is required for an incident");
                }
                if severity.is_none() {
                    errors.add("severity", "is required for an incident");
                }
                None
            }
            (_, incident_type, severity) => {
                if incident_type.is_some() {
                    errors.add("incident_type", "is only for an incident");
                }
                if severity.is_some() {
                    errors.add("severity", "is only for an incident");
                }
                None
            }
        };
        if draft.facts_at.is_some_and(|at| at > now + chrono::Duration::minutes(5)) {
            errors.add("facts_at", "is in the future");
        }
        errors.into_result(|| NewNote {
            kind,
            scope: draft.scope.unwrap_or(NoteScope::WholeTeam),
            content,
            incident,
            facts_at: draft.facts_at,
            objective_id: draft.objective_id,
        })
    }
}

/// The first UUIDv7 of a millisecond: ids of notes written at or after `at` are not below it.
/// The feed's `since` becomes an id bound, so one index serves the bound and the pagination.
pub fn first_id_at(at: DateTime<Utc>) -> uuid::Uuid {
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = 0x70;
    bytes[8] = 0x80;
    uuid::Uuid::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z").unwrap().with_timezone(&Utc)
    }

    fn fields(result: Result<NewNote, ValidationErrors>) -> Vec<String> {
        result.unwrap_err().errors().iter().map(|e| e.field.clone()).collect()
    }

    fn content(text: Option<&str>, target: Option<&str>, data: Option<&str>) -> NoteContent {
        NoteContent {
            text: text.map(str::to_owned),
            target: target.map(str::to_owned),
            data: data.map(str::to_owned),
            ..NoteContent::default()
        }
    }

    #[test]
    fn the_kind_follows_from_what_is_written_when_not_given() {
        let targeted = NewNote::validate(
            NoteDraft { content: content(None, Some("Chute"), Some("Retrouvée au sol")), ..Default::default() },
            now(),
        )
        .unwrap();
        assert_eq!(targeted.kind, NoteKind::Targeted);
        let free = NewNote::validate(
            NoteDraft { content: content(Some(" Bonne nuit "), None, None), ..Default::default() },
            now(),
        )
        .unwrap();
        assert_eq!(
            (free.kind, free.content.text.as_deref(), free.scope),
            (NoteKind::Free, Some("Bonne nuit"), NoteScope::WholeTeam)
        );
        let incident = NewNote::validate(
            NoteDraft {
                content: content(Some("Chute dans la salle de bains"), None, None),
                incident_type: Some(IncidentType::Fall),
                severity: Some(Severity::Moderate),
                ..Default::default()
            },
            now(),
        )
        .unwrap();
        assert_eq!(
            incident.incident,
            Some(Incident { incident_type: IncidentType::Fall, severity: Severity::Moderate })
        );
    }

    #[test]
    fn each_kind_has_its_shape() {
        let cases: [(NoteDraft, &[&str]); 6] = [
            (
                NoteDraft { kind: Some(NoteKind::Targeted), content: content(None, None, None), ..Default::default() },
                &["target", "data"],
            ),
            (
                NoteDraft {
                    kind: Some(NoteKind::Targeted),
                    content: content(Some("x"), Some("Douleur"), Some("EVA 6")),
                    ..Default::default()
                },
                &["text"],
            ),
            (
                NoteDraft {
                    kind: Some(NoteKind::Observation),
                    content: content(None, Some("Douleur"), None),
                    ..Default::default()
                },
                &["text", "target"],
            ),
            (
                NoteDraft {
                    kind: Some(NoteKind::Incident),
                    content: content(Some("Chute"), None, None),
                    ..Default::default()
                },
                &["incident_type", "severity"],
            ),
            (
                NoteDraft {
                    kind: Some(NoteKind::Free),
                    content: content(Some("x"), None, None),
                    severity: Some(Severity::Minor),
                    ..Default::default()
                },
                &["severity"],
            ),
            (NoteDraft { content: content(Some("   "), None, None), ..Default::default() }, &["text"]),
        ];
        for (draft, expected) in cases {
            assert_eq!(fields(NewNote::validate(draft, now())), expected.to_vec());
        }
        let long = "é".repeat(MAX_PART + 1);
        let too_long = NoteDraft { content: content(Some(&long), None, None), ..Default::default() };
        assert_eq!(fields(NewNote::validate(too_long, now())), ["text"]);
        let future = NoteDraft {
            content: content(Some("x"), None, None),
            facts_at: Some(now() + chrono::Duration::hours(1)),
            ..Default::default()
        };
        assert_eq!(fields(NewNote::validate(future, now())), ["facts_at"]);
    }

    #[test]
    fn the_first_id_of_a_millisecond_bounds_the_ids_made_from_then_on() {
        let at = now();
        let bound = first_id_at(at);
        assert_eq!(bound.get_version_num(), 7);
        let ts = uuid::Timestamp::from_unix(uuid::NoContext, at.timestamp() as u64, 0);
        let same_millisecond = uuid::Uuid::new_v7(ts);
        assert!(same_millisecond >= bound);
        let before =
            uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, at.timestamp() as u64 - 1, 999_000_000));
        assert!(before < bound);
    }
}
