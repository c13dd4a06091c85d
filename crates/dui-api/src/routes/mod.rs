//! The routes, grouped by audience.

pub mod assessments;
pub mod audit;
pub mod care_plans;
pub mod care_tasks;
pub mod instruments;
pub mod measurements;
pub mod notes;
pub mod outbox;
pub mod people;
pub mod platform;
pub mod residents;
pub mod structure;
pub mod system;
pub mod timeline;
