//! The use cases of dui: every operation the record offers, one function each, whoever asks
//! for it — the HTTP API today, the web pages, the FHIR API and the exchange workers next.
//!
//! A use case takes the caller's [`TenantScope`](dui_domain::scope::TenantScope) and a typed
//! command, and returns a typed result or an [`AppError`]. It owns every decision of the
//! operation: validation (with the domain's rules), access (the record's context and the
//! permission table of [`dui_domain::policy`]), the rules of the record, and which event the
//! audit trail receives. It runs in one transaction ([`dui_storage::Tx`]), committed before it
//! returns. Nothing of HTTP is known here: the doors translate.
//!
//! One module per kind of record, each use case a function of it.

pub mod absences;
mod access;
pub mod administrations;
pub mod alerts;
pub mod assessments;
pub mod audit;
pub mod care_plans;
pub mod care_tasks;
pub mod contacts;
pub mod documents;
pub mod drugs;
pub mod emergency;
mod error;
pub mod falls;
pub mod insi;
pub mod measurements;
pub mod medical;
pub mod notes;
pub mod nutrition;
pub mod outbox;
pub mod people;
mod period;
pub mod platform;
pub mod prescriptions;
pub mod residents;
pub mod restraints;
pub mod settings;
pub mod stays;
pub mod structure;
pub mod timeline;
pub mod wounds;

use std::sync::Arc;

use dui_storage::Db;

pub use error::{AppError, AppResult};

/// Settings of the use cases.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// How long an emergency opening of a record lasts.
    pub emergency_access_minutes: i32,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self { emergency_access_minutes: 240 }
    }
}

/// What every use case runs against: the database, the settings, and the services outside
/// the installation that the use cases call (when configured).
#[derive(Debug, Clone)]
pub struct App {
    db: Db,
    config: Arc<AppConfig>,
    insi: Option<Arc<dyn insi::InsiPort>>,
}

impl App {
    pub fn new(db: Db, config: AppConfig) -> Self {
        Self { db, config: Arc::new(config), insi: None }
    }

    /// The same, calling the INSi teleservice through `port`.
    pub fn with_insi(mut self, port: Arc<dyn insi::InsiPort>) -> Self {
        self.insi = Some(port);
        self
    }

    /// The INSi teleservice, when configured.
    pub fn insi(&self) -> Option<&dyn insi::InsiPort> {
        self.insi.as_deref()
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn config(&self) -> &AppConfig {
        &self.config
    }
}
