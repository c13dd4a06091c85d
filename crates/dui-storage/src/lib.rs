//! PostgreSQL storage for dui.
//!
//! * [`Db`] owns the connection pool. Every method that touches a tenant's rows takes a
//!   [`TenantScope`](dui_domain::scope::TenantScope) (or a [`TenantId`](dui_domain::TenantId) for
//!   the authentication look-ups) first and runs inside a [`tx::TenantTx`], which sets the
//!   transaction-local `app.tenant_id` that the row-level security policies read. Queries also
//!   filter on `tenant_id` explicitly: the policies are the safety net, not the mechanism.
//! * [`migrate`] applies the embedded SQL migrations under an advisory lock.
//! * [`cluster`] finds, starts or creates a local PostgreSQL for the demo and the tests.

pub mod access;
pub mod assessments;
pub mod audit;
#[cfg(feature = "bench")]
pub mod bench;
pub mod care_plans;
pub mod care_tasks;
pub mod cluster;
mod error;
pub mod export;
mod idempotency;
pub mod import;
mod keys;
mod listing;
pub mod measurements;
pub mod migrate;
pub mod notes;
mod notices;
mod people;
pub mod place;
mod platform;
mod pool;
mod principals;
pub mod record;
mod reencrypt;
mod residents;
mod rows;
pub mod sql;
mod structure;
pub mod summary;
mod trace;
mod tx;
pub mod txn;

pub use access::RecordContext;
pub use error::StoreError;
pub use keys::{CryptoConfig, RewrapReport};
pub use people::{MembershipGrant, Principal, PrincipalKey};
pub use platform::ResolvedProvider;
pub use pool::{Db, DbConfig, PoolStatus};
pub use reencrypt::{ReencryptOptions, ReencryptProgress};
pub use residents::{APPEND_ONLY_SEALED, ResidentContext, ResidentFilter, sealed_columns};
pub use txn::{Mode, Tx};

/// Result of a storage call.
pub type StoreResult<T> = Result<T, StoreError>;
