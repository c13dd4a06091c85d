//! PostgreSQL storage for dui: one module per kind of record (a *feature*, owning its tables,
//! its statements and its declaration, [`feature`]), and what they stand on.
//!
//! * [`Db`] owns the connection pool, the tenants' keys and the caches.
//! * [`Tx`] is a transaction bound to a tenant (and, for a person's operation, to the caller's
//!   scope): it sets the transaction-local `app.tenant_id` that the row-level security policies
//!   read, and binds `:tenant` in every statement. Statements also filter on `tenant_id`
//!   explicitly: the policies are the safety net, not the mechanism. The use cases
//!   (`dui-app`) open it; the features' functions run their statements in it.
//! * [`features`] is the registry every cross-kind job derives from: the merge, the exports,
//!   the tenant import, the re-encryption.
//! * [`migrate`] applies the embedded SQL migrations under an advisory lock.
//! * [`cluster`] finds, starts or creates a local PostgreSQL for the demo and the tests.

pub mod absences;
pub mod access;
pub mod administrations;
pub mod alerts;
pub mod assessments;
pub mod assignments;
pub mod audit;
#[cfg(feature = "bench")]
pub mod bench;
pub mod care_plans;
pub mod care_tasks;
pub mod cluster;
pub mod consents;
pub mod contacts;
pub mod documents;
pub mod drugs;
pub mod emergency;
mod error;
pub mod falls;
pub mod feature;
pub mod features;
pub mod handover;
mod handover_write;
mod idempotency;
pub mod identity;
pub mod import;
pub mod insi_calls;
mod keys;
mod keystore;
mod listing;
pub mod measurements;
pub mod medical;
pub mod merge;
pub mod migrate;
pub mod notes;
mod notices;
pub mod nutrition;
pub mod outbox;
pub mod people;
pub mod place;
pub mod plans;
pub mod platform;
mod pool;
pub mod prescriptions;
mod principals;
pub mod record_merges;
mod reencrypt;
pub mod resident_export;
pub mod residents;
pub mod restraints;
mod rows;
mod sealing;
pub mod settings;
pub mod sql;
pub mod stays;
pub mod structure;
pub mod summary;
pub mod tenant_export;
mod trace;
mod trail;
pub mod tx;
mod unchanged;
mod who;
pub mod wounds;

pub use access::RecordContext;
pub use error::StoreError;
pub use features::sealed_columns;
pub use keys::RewrapReport;
pub use keystore::CryptoConfig;
pub use platform::ResolvedProvider;
pub use pool::{Db, DbConfig, PoolStatus};
pub use principals::{MembershipGrant, Principal, PrincipalKey};
pub use reencrypt::{ReencryptOptions, ReencryptProgress};
pub use residents::ResidentFilter;
pub use trace::Reading;
pub use tx::{Mode, Tx};

/// Result of a storage call.
pub type StoreResult<T> = Result<T, StoreError>;
