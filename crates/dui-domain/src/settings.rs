//! The tenant's settings of care: choices an organisation makes for all its establishments, set
//! by its administrators. Without a change, the defaults below apply.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::UserId;
use crate::people::Role;
use crate::validation::ValidationErrors;

/// Who validates an AGGIR assessment by default: in an EHPAD the coordinating physician
/// validates the GIR that the team assessed.
pub const DEFAULT_AGGIR_VALIDATORS: &[Role] = &[Role::CoordinatingPhysician];

/// By default a task not recorded four hours after its time is missed: the shift is over, or
/// nearly, and doing it now is another decision.
pub const DEFAULT_TASK_MISSED_AFTER_MINUTES: u32 = 240;

/// The roles that may be given the validation of the GIR: those responsible for care and its
/// assessment (a service without a coordinating physician — a SSIAD, a SAAD — gives it to its
/// coordinating nurse or its evaluator).
pub const AGGIR_VALIDATOR_CHOICES: &[Role] =
    &[Role::Director, Role::CoordinatingPhysician, Role::Nurse, Role::Psychologist, Role::SocialWorker, Role::Educator];

/// The bounds of the missed-task window, in minutes: after the hour of lateness, at most a day.
pub const TASK_MISSED_AFTER_RANGE: std::ops::RangeInclusive<u32> = (crate::care_task::GRACE_MINUTES as u32 + 1)..=1440;

/// The tenant's settings, as in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CareSettings {
    /// The roles whose holders validate an AGGIR assessment.
    pub aggir_validators: Vec<Role>,
    /// Minutes after its time at which a task not recorded is missed (it is late from the first
    /// hour).
    pub task_missed_after_minutes: u32,
    /// 0 while the defaults apply; each change adds one.
    pub version: i32,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<UserId>,
}

impl Default for CareSettings {
    fn default() -> Self {
        Self {
            aggir_validators: DEFAULT_AGGIR_VALIDATORS.to_vec(),
            task_missed_after_minutes: DEFAULT_TASK_MISSED_AFTER_MINUTES,
            version: 0,
            updated_at: None,
            updated_by: None,
        }
    }
}

impl CareSettings {
    /// The window after which a task not recorded is missed.
    pub fn missed_after(&self) -> chrono::Duration {
        chrono::Duration::minutes(i64::from(self.task_missed_after_minutes))
    }

    /// Applies a change, checked: the settings as they will be.
    pub fn changed(&self, change: &SettingsChange) -> Result<CareSettings, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut next = self.clone();
        if let Some(validators) = &change.aggir_validators {
            let mut roles = validators.clone();
            roles.sort_by_key(|r| r.as_str());
            roles.dedup();
            if roles.is_empty() {
                errors.add("aggir_validators", "must name at least one role");
            }
            if let Some(bad) = roles.iter().find(|r| !AGGIR_VALIDATOR_CHOICES.contains(r)) {
                errors.add(
                    "aggir_validators",
                    format!(
                        "cannot include {}: the GIR is validated by one of {}",
                        bad.as_str(),
                        AGGIR_VALIDATOR_CHOICES.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            next.aggir_validators = roles;
        }
        if let Some(minutes) = change.task_missed_after_minutes {
            if !TASK_MISSED_AFTER_RANGE.contains(&minutes) {
                errors.add(
                    "task_missed_after_minutes",
                    format!(
                        "must be from {} to {} minutes",
                        TASK_MISSED_AFTER_RANGE.start(),
                        TASK_MISSED_AFTER_RANGE.end()
                    ),
                );
            }
            next.task_missed_after_minutes = minutes;
        }
        errors.into_result(|| next)
    }
}

/// A change of the settings: what is left out stays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsChange {
    pub aggir_validators: Option<Vec<Role>>,
    pub task_missed_after_minutes: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coordinating_physician_validates_the_gir_by_default() {
        let settings = CareSettings::default();
        assert_eq!(settings.aggir_validators, vec![Role::CoordinatingPhysician]);
        assert_eq!(settings.missed_after(), chrono::Duration::hours(4));
    }

    #[test]
    fn a_change_is_checked_and_keeps_what_it_leaves_out() {
        let settings = CareSettings::default();
        let nurses = SettingsChange {
            aggir_validators: Some(vec![Role::Nurse, Role::CoordinatingPhysician, Role::Nurse]),
            ..Default::default()
        };
        let next = settings.changed(&nurses).unwrap();
        assert_eq!(next.aggir_validators, vec![Role::CoordinatingPhysician, Role::Nurse]);
        assert_eq!(next.task_missed_after_minutes, DEFAULT_TASK_MISSED_AFTER_MINUTES);

        for bad in [
            SettingsChange { aggir_validators: Some(vec![]), ..Default::default() },
            SettingsChange { aggir_validators: Some(vec![Role::CareAssistant]), ..Default::default() },
            SettingsChange { task_missed_after_minutes: Some(60), ..Default::default() },
            SettingsChange { task_missed_after_minutes: Some(1441), ..Default::default() },
        ] {
            assert!(settings.changed(&bad).is_err(), "{bad:?}");
        }
        let window = SettingsChange { task_missed_after_minutes: Some(61), ..Default::default() };
        assert_eq!(settings.changed(&window).unwrap().task_missed_after_minutes, 61);
    }
}
