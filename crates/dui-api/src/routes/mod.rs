//! The routes, grouped by audience.

pub mod audit;
pub mod instruments;
pub mod notes;
pub mod people;
pub mod platform;
pub mod residents;
pub mod structure;
pub mod system;
