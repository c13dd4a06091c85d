//! Needs assessments: the AGGIR grid and its GIR (`aggir`), and the other published instruments
//! an establishment records (`instruments`): nutrition (MNA, MNA-SF), pressure-ulcer risk
//! (Braden), pain (Algoplus) and the SERAFIN-PH needs.
//!
//! Everything here is computation on given answers: storing an evaluation, and who may see it, is
//! the business of the storage and API crates.

pub mod aggir;
pub mod instruments;
pub mod recorded;

pub use aggir::{AggirEvaluation, Code, GirResult, Group, Variable, VariableCodes, gir};
pub use instruments::{Evaluation, Instrument, Outcome, Points, instrument, instruments};
