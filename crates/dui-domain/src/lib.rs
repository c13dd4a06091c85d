//! The vocabulary of the DUI and the rules that need no outside world.
//!
//! This crate does no I/O, reads no clock and draws no random numbers: time and identifiers are
//! passed in by the callers. Everything here can be tested with plain values.

pub mod absence;
pub mod administration;
pub mod alert;
pub mod assessment;
pub mod audit;
pub mod care_plan;
pub mod care_task;
pub mod codes;
pub mod document;
pub mod drug;
pub mod emergency;
pub mod fall;
pub mod handover;
pub mod idempotency;
pub mod identity;
pub mod ids;
pub mod insi;
pub mod measurement;
pub mod medical;
pub mod nutrition;
pub mod outbox;
pub mod pagination;
pub mod people;
pub mod period;
pub mod policy;
pub mod prescription;
pub mod record;
pub mod resident;
pub mod restraint;
pub mod schedule;
pub mod scope;
pub mod secret;
pub mod settings;
pub mod structure;
pub mod tenant;
pub mod timeline;
pub mod transmission;
pub mod validation;
pub mod wound;

pub use ids::*;
pub use validation::{FieldError, ValidationErrors};
