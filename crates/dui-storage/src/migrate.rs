//! Schema migrations: plain SQL files in `migrations/`, embedded in the binary.
//!
//! Several replicas may start at once; each takes the same session-level advisory lock before
//! looking at the schema history, so exactly one applies a migration and the others find it done.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use crate::pool::{connect_spawned, pg_config, tls_for};
use crate::{StoreError, StoreResult};

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// Key of the advisory lock serialising migrations ("dui-migr" in ASCII).
const MIGRATION_LOCK: i64 = 0x6475_692d_6d69_6772;

/// One migration: its version and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationInfo {
    pub version: i32,
    pub name: String,
}

/// The migrations this binary carries, in order.
pub fn embedded_migrations() -> Vec<MigrationInfo> {
    embedded::migrations::runner()
        .get_migrations()
        .iter()
        .map(|m| MigrationInfo { version: m.version(), name: m.name().to_owned() })
        .collect()
}

/// A fingerprint of the embedded migrations (versions, names and contents): tests key their
/// template database on it.
pub fn fingerprint() -> u64 {
    let mut hasher = DefaultHasher::new();
    for migration in embedded::migrations::runner().get_migrations() {
        migration.version().hash(&mut hasher);
        migration.name().hash(&mut hasher);
        migration.checksum().hash(&mut hasher);
    }
    hasher.finish()
}

/// Applies the pending migrations as the owner role (`owner_url`). Returns those applied now.
pub async fn run(owner_url: &str) -> StoreResult<Vec<MigrationInfo>> {
    run_with_ca(owner_url, None).await
}

/// [`run`], verifying a TLS connection (`sslmode=require`) against `ca_file`.
pub async fn run_with_ca(owner_url: &str, ca_file: Option<&std::path::Path>) -> StoreResult<Vec<MigrationInfo>> {
    let config = pg_config(owner_url, Duration::from_secs(10), None)?;
    let tls = tls_for(&config, ca_file)?;
    let (mut client, connection) = connect_spawned(&config, &tls).await?;
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK]).await?;
    let mut runner = embedded::migrations::runner();
    runner.set_migration_table_name("dui_schema_history");
    // A migration that landed is never edited: a changed checksum stops the run.
    let runner = runner.set_abort_divergent(true).set_grouped(false);
    let result = runner.run_async(&mut client).await;
    // The lock is session-level; releasing it explicitly lets others go on at once.
    let unlock = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]).await;
    drop(client);
    let _ = connection.await;
    let report = result.map_err(|e| StoreError::Migration(e.to_string()))?;
    unlock?;
    let applied = report
        .applied_migrations()
        .iter()
        .map(|m| MigrationInfo { version: m.version(), name: m.name().to_owned() })
        .collect::<Vec<_>>();
    for migration in &applied {
        tracing::info!(version = migration.version, name = %migration.name, "migration applied");
    }
    Ok(applied)
}
