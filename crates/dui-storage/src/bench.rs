//! The statements of the benchmarked operations, exactly as the storage functions send them,
//! and the values of their shared parameters: for the raw-PostgreSQL baseline, which runs the
//! same statements with the same parameters and the same transaction shape without the server.
//! Built only with the `bench` feature.

use dui_domain::scope::TenantScope;
use tokio_postgres::types::ToSql;

use crate::access::Who;

/// The connection settings of a server with `config` (statement planning, timeouts), for the
/// baseline's connections.
pub fn connection_config(config: &crate::DbConfig) -> crate::StoreResult<tokio_postgres::Config> {
    crate::pool::pg_config(config.url.expose(), config.connect_timeout, Some(config.statement_timeout))
}

/// The statements, by the operation that sends them.
#[derive(Debug, Clone)]
pub struct Statements {
    /// Sets the tenant for row-level security, first in every transaction.
    pub set_tenant: &'static str,
    /// Hand-over feed: where the previous shift started, and the reader's marker.
    pub feed_start: &'static str,
    /// Hand-over feed of a unit, with its trace.
    pub handover_by_unit: String,
    /// Resident summary: the record, GIR and plan, with its trace.
    pub summary: String,
    /// Resident summary: the latest notes.
    pub summary_notes: String,
    /// Note write: where the person is supported (refusal recorded).
    pub note_context: String,
    /// Note write: the idempotency key's claim.
    pub claim: &'static str,
    /// Note write: the insert with its trace.
    pub note_insert: String,
    /// A resident's assessments, with the trace.
    pub assessments: String,
    /// A resident's care-plan versions, with the trace.
    pub plan_versions: String,
}

pub fn statements() -> Statements {
    Statements {
        set_tenant: crate::tx::SET_TENANT,
        feed_start: crate::notes::FEED_START,
        handover_by_unit: crate::notes::handover_sql(true),
        summary: crate::summary::summary_sql(),
        summary_notes: crate::summary::summary_notes_sql(),
        note_context: crate::residents::context_sql(Some("note.create")),
        claim: crate::idempotency::CLAIM,
        note_insert: crate::notes::note_insert_sql(false),
        assessments: crate::assessments::assessments_sql(),
        plan_versions: crate::care_plans::plan_versions_sql(),
    }
}

/// The first parameters (`$1`..`$18`) of every resident statement, for a caller.
#[derive(Debug)]
pub struct WhoParams(Who);

impl WhoParams {
    pub fn of(scope: &TenantScope, recent_stay_days: i32) -> Self {
        Self(Who::of(scope, recent_stay_days))
    }

    pub fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0.params()
    }
}

/// A note body sealed for row `id` as [`crate::Db::add_note`] seals it, with its key version:
/// the baseline writes real rows that dui reads back.
pub async fn seal_note_body(
    db: &crate::Db,
    tenant: dui_domain::TenantId,
    id: uuid::Uuid,
    content: &dui_domain::transmission::NoteContent,
) -> crate::StoreResult<(Vec<u8>, i32)> {
    let keys = db.keyring_for_sealing(tenant, 1).await?;
    let body = crate::residents::seal_json(&keys, crate::notes::NOTE_BODY, id, content)?;
    Ok((body, keys.active_version() as i32))
}
