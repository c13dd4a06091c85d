//! The projet personnalisé (care plan): co-built with the person, reviewed at least yearly.
//! A plan is a series of versions; each review produces a new version, every version stays
//! readable, and one at most is active. Draft → active → superseded (by the next active
//! version) or closed (support ended).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::people::Role;
use crate::validation::ValidationErrors;
use crate::{EstablishmentId, ResidentId, UserId};

/// A plan older than this (since its activation) is due for review.
pub const REVIEW_MONTHS: u32 = 12;

crate::text_codes! {
    pub enum PlanStatus {
        Draft = "draft",
        Active = "active",
        Superseded = "superseded",
        Closed = "closed",
    }
}

crate::text_codes! {
    /// Life domains of objectives (after the SERAFIN-PH blocks and the usual headings of a
    /// projet d'accompagnement).
    pub enum ObjectiveDomain {
        Health = "health",
        Autonomy = "autonomy",
        DailyLife = "daily_life",
        SocialLife = "social_life",
        FamilyAndRelationships = "family_and_relationships",
        Safety = "safety",
        Rights = "rights",
        Other = "other",
    }
}

crate::text_codes! {
    pub enum ObjectiveStatus {
        Planned = "planned",
        InProgress = "in_progress",
        Achieved = "achieved",
        PartlyAchieved = "partly_achieved",
        NotAchieved = "not_achieved",
        Abandoned = "abandoned",
    }
}

crate::text_codes! {
    /// Who validated the plan with the team.
    pub enum ValidatedBy {
        Person = "person",
        LegalRepresentative = "legal_representative",
    }
}

crate::text_codes! {
    /// How the plan was validated.
    pub enum ValidationMethod {
        Signature = "signature",
        /// Expressed orally, noted by the professional.
        Oral = "oral",
        /// Electronic signature or another written form.
        Written = "written",
    }
}

crate::redacted_debug!(Need, Objective, Action, ObjectiveOutcome, Review, PlanContent);

/// A need identified with the person.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Need {
    pub domain: ObjectiveDomain,
    pub text: String,
}

/// An objective of the plan. Its id stays the same from version to version, so that reviews and
/// notes follow it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Objective {
    /// Given by the server when absent.
    #[serde(default)]
    pub id: Option<Uuid>,
    pub domain: ObjectiveDomain,
    pub text: String,
    #[serde(default)]
    pub target_date: Option<NaiveDate>,
    pub status: ObjectiveStatus,
}

/// Who carries an action out: a role, a named professional, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Performer {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub user_id: Option<UserId>,
}

/// An action or intervention: what, who, how often, from when to when. With a `schedule`, it
/// becomes tasks of the daily care plan (plan de soins).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// Given by the server when absent; stable across versions.
    #[serde(default)]
    pub id: Option<Uuid>,
    /// The objective it serves.
    #[serde(default)]
    pub objective_id: Option<Uuid>,
    pub what: String,
    pub who: Performer,
    /// How often, as said to the person ("chaque matin", "deux fois par semaine").
    #[serde(default)]
    pub frequency: Option<String>,
    /// When it is scheduled, for the daily task lists (see `schedule`).
    #[serde(default)]
    pub schedule: Option<crate::schedule::Schedule>,
    #[serde(default)]
    pub from: Option<NaiveDate>,
    #[serde(default)]
    pub to: Option<NaiveDate>,
}

/// The outcome of one objective at a review.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ObjectiveOutcome {
    pub objective_id: Uuid,
    pub status: ObjectiveStatus,
    #[serde(default)]
    pub comment: Option<String>,
}

/// A review (évaluation) of the plan, from which the version that holds it was made.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Review {
    pub date: NaiveDate,
    /// Who took part: the person, relatives, professionals (names and roles, as written).
    pub participants: Vec<String>,
    pub outcomes: Vec<ObjectiveOutcome>,
    #[serde(default)]
    pub summary: Option<String>,
}

/// The content of a version: everything said about the person, sealed in storage.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanContent {
    /// Attentes: what the person wishes, in their words.
    pub expectations: String,
    #[serde(default)]
    pub needs: Vec<Need>,
    #[serde(default)]
    pub objectives: Vec<Objective>,
    #[serde(default)]
    pub actions: Vec<Action>,
    /// The review this version comes from (none for a first plan).
    #[serde(default)]
    pub review: Option<Review>,
}

/// The validation of a version by the person or their legal representative.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Validation {
    pub by: ValidatedBy,
    /// The name of who validated (sealed with the content).
    pub name: String,
    pub on: NaiveDate,
    pub method: ValidationMethod,
}

impl std::fmt::Debug for Validation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validation").field("by", &self.by).field("on", &self.on).field("method", &self.method).finish()
    }
}

/// One version of a plan, opened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanVersion {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub resident_id: ResidentId,
    pub establishment_id: EstablishmentId,
    /// 1, 2, ...
    pub version: i32,
    pub status: PlanStatus,
    pub content: PlanContent,
    /// When the next review is due (default: twelve months after activation).
    pub review_due_on: Option<NaiveDate>,
    pub validation: Option<Validation>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    pub activated_by: Option<UserId>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Changes with every update of a draft; send it back as `If-Match`.
    pub row_version: i32,
}

fn text(errors: &mut ValidationErrors, field: &str, value: &str, max: usize) -> String {
    let value = value.trim();
    if value.is_empty() {
        errors.add(field, "must not be empty");
    } else if value.chars().count() > max {
        errors.add(field, format!("must be at most {max} characters"));
    }
    value.to_owned()
}

impl PlanContent {
    /// Checks the content and gives ids to new objectives and actions (`new_id` makes them:
    /// the domain draws no random numbers). Links from actions and outcomes to objectives must
    /// hold.
    pub fn validate(mut self, mut new_id: impl FnMut() -> Uuid) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        self.expectations = text(&mut errors, "expectations", &self.expectations, 10_000);
        for (i, need) in self.needs.iter_mut().enumerate() {
            need.text = text(&mut errors, &format!("needs[{i}].text"), &need.text, 2_000);
        }
        let mut seen = std::collections::HashSet::new();
        for (i, objective) in self.objectives.iter_mut().enumerate() {
            objective.text = text(&mut errors, &format!("objectives[{i}].text"), &objective.text, 2_000);
            let id = *objective.id.get_or_insert_with(&mut new_id);
            if !seen.insert(id) {
                errors.add(format!("objectives[{i}].id"), "appears twice");
            }
        }
        let mut action_ids = std::collections::HashSet::new();
        for (i, action) in self.actions.iter_mut().enumerate() {
            action.what = text(&mut errors, &format!("actions[{i}].what"), &action.what, 2_000);
            if action.who.role.is_none() && action.who.user_id.is_none() {
                errors.add(format!("actions[{i}].who"), "needs a role or a professional");
            }
            if let Some(objective) = action.objective_id.filter(|o| !seen.contains(o)) {
                errors
                    .add(format!("actions[{i}].objective_id"), format!("{objective} is not an objective of this plan"));
            }
            if let (Some(from), Some(to)) = (action.from, action.to)
                && to < from
            {
                errors.add(format!("actions[{i}].to"), "is before from");
            }
            if let Some(frequency) = &action.frequency {
                action.frequency = Some(text(&mut errors, &format!("actions[{i}].frequency"), frequency, 200));
            }
            if let Some(schedule) = action.schedule.take() {
                match schedule.validate(&format!("actions[{i}].schedule")) {
                    Ok(schedule) => action.schedule = Some(schedule),
                    Err(found) => found.errors().iter().for_each(|e| errors.add(e.field.clone(), e.message.clone())),
                }
            }
            let id = *action.id.get_or_insert_with(&mut new_id);
            if !action_ids.insert(id) {
                errors.add(format!("actions[{i}].id"), "appears twice");
            }
        }
        if let Some(review) = &mut self.review {
            if review.participants.is_empty() {
                errors.add("review.participants", "must name who took part");
            }
            for (i, participant) in review.participants.iter_mut().enumerate() {
                *participant = text(&mut errors, &format!("review.participants[{i}]"), participant, 200);
            }
            for (i, outcome) in review.outcomes.iter().enumerate() {
                if !seen.contains(&outcome.objective_id) {
                    errors.add(format!("review.outcomes[{i}].objective_id"), "is not an objective of this plan");
                }
            }
        }
        errors.into_result(|| self)
    }
}

impl Validation {
    pub fn validate(mut self, today: NaiveDate) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        self.name = text(&mut errors, "name", &self.name, 200);
        if self.on > today {
            errors.add("on", "is in the future");
        }
        errors.into_result(|| self)
    }
}

/// When a plan activated on `activated` is due for review, unless a date was set.
pub fn default_review_due(activated: NaiveDate) -> NaiveDate {
    activated.checked_add_months(chrono::Months::new(REVIEW_MONTHS)).unwrap_or(activated)
}

/// A plan due for review in an establishment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DuePlan {
    pub resident: crate::transmission::ResidentName,
    pub version_id: Uuid,
    pub version: i32,
    pub activated_at: DateTime<Utc>,
    pub review_due_on: NaiveDate,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> PlanContent {
        serde_json::from_value(serde_json::json!({
            "expectations": "Continuer à jardiner",
            "needs": [{"domain": "autonomy", "text": "Aide à la marche"}],
            "objectives": [{"domain": "autonomy", "text": "Marcher jusqu'au jardin", "status": "planned"}],
            "actions": [{"what": "Accompagnement à la marche", "who": {"role": "care_assistant"}, "frequency": "chaque jour"}]
        }))
        .unwrap()
    }

    #[test]
    fn new_objectives_and_actions_get_ids_and_links_must_hold() {
        let mut n = 0u128;
        let checked = content()
            .validate(|| {
                n += 1;
                Uuid::from_u128(n)
            })
            .unwrap();
        assert_eq!(checked.objectives[0].id, Some(Uuid::from_u128(1)));
        assert_eq!(checked.actions[0].id, Some(Uuid::from_u128(2)));

        let mut broken = content();
        broken.actions[0].objective_id = Some(Uuid::from_u128(99));
        broken.actions[0].who = Performer { role: None, user_id: None };
        broken.expectations = "  ".to_owned();
        let errors = broken.validate(Uuid::nil).unwrap_err();
        let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["expectations", "actions[0].who", "actions[0].objective_id"]);
    }

    #[test]
    fn a_plan_is_due_twelve_months_after_activation() {
        let day = NaiveDate::from_ymd_opt(2026, 2, 28).unwrap();
        assert_eq!(default_review_due(day), NaiveDate::from_ymd_opt(2027, 2, 28).unwrap());
    }
}
