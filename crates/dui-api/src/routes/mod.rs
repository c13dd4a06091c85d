//! The routes, grouped by audience.

pub mod people;
pub mod platform;
pub mod structure;
pub mod system;
