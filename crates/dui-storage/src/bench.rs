//! The statements of the benchmarked operations, exactly as the storage functions send them,
//! and the values of their shared parameters: for the raw-PostgreSQL baseline, which runs the
//! same statements with the same parameters and the same transaction shape without the server.
//! Built only with the `bench` feature.

use dui_domain::scope::TenantScope;
use tokio_postgres::types::ToSql;

use crate::sql::{Args, Sql};
use crate::who::Who;

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
    pub feed_start: Sql,
    /// Hand-over feed of a unit, with its trace.
    pub handover_by_unit: Sql,
    /// The hand-over's other events of a unit (read first; the notes' statement records them).
    pub handover_events_by_unit: Sql,
    /// Resident summary: the record, GIR and plan, with its trace.
    pub summary: Sql,
    /// Resident summary: the alerts and allergies in force.
    pub summary_alerts: Sql,
    /// Resident summary: the latest notes.
    pub summary_notes: Sql,
    /// Note write: where the person is supported (refusal recorded).
    pub note_context: Sql,
    /// Note write: the idempotency key's claim.
    pub claim: Sql,
    /// Note write: the insert with its trace.
    pub note_insert: Sql,
    /// A resident's assessments, with the trace.
    pub assessments: Sql,
    /// A resident's care-plan versions, with the trace.
    pub plan_versions: Sql,
    /// A resident's record, with the trace.
    pub resident_read: Sql,
    /// A search by birth identity, with a trace per record found.
    pub search: Sql,
}

pub fn statements() -> Statements {
    Statements {
        set_tenant: crate::tx::SET_TENANT,
        feed_start: Sql::new(crate::notes::FEED_START),
        handover_by_unit: Sql::new(&crate::notes::handover_sql(true)),
        handover_events_by_unit: Sql::new(&crate::handover::feed_sql(true)),
        summary: Sql::new(&crate::summary::summary_sql(true)),
        summary_alerts: Sql::new(&crate::alerts::summary_alerts_sql()),
        summary_notes: Sql::new(&crate::summary::summary_notes_sql()),
        note_context: crate::access::context_statement().clone(),
        claim: crate::idempotency::claim_statement().clone(),
        note_insert: Sql::new(&crate::notes::note_insert_sql(false)),
        assessments: Sql::new(&crate::assessments::assessments_sql(true)),
        plan_versions: Sql::new(&crate::care_plans::plan_versions_sql(true)),
        resident_read: Sql::new(&crate::residents::read_sql(true)),
        search: Sql::new(&crate::residents::search_traced_sql()),
    }
}

/// The parameters every resident statement shares, for a caller.
#[derive(Debug)]
pub struct WhoParams {
    who: Who,
    tenant: uuid::Uuid,
}

impl WhoParams {
    pub fn of(scope: &TenantScope, recent_stay_days: i32) -> Self {
        Self { who: Who::of(scope, recent_stay_days), tenant: scope.tenant_id().as_uuid() }
    }

    /// The values of `sql`'s parameters in order: from `args`, then the caller's, as a
    /// transaction binds them.
    pub fn bind<'a>(&'a self, sql: &Sql, args: &'a Args<'_>) -> crate::StoreResult<Vec<&'a (dyn ToSql + Sync)>> {
        let tenant: &(dyn ToSql + Sync) = &self.tenant;
        sql.bind(args, &|name| if name == "tenant" { Some(tenant) } else { self.who.param(name) })
    }
}

/// The blind index a search by `birth_name` and `birth_date` looks for in `tenant`.
pub async fn birth_index(
    db: &crate::Db,
    tenant: dui_domain::TenantId,
    birth_name: &str,
    birth_date: chrono::NaiveDate,
) -> crate::StoreResult<Vec<u8>> {
    let keys = db.keyring(tenant, []).await?;
    let key = dui_domain::identity::birth_identity_key(birth_name, birth_date);
    Ok(keys.blind_index(crate::residents::BIRTH_IDENTITY_INDEX, &key).to_vec())
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
    let body = crate::sealing::seal_json(&keys, crate::notes::NOTE_BODY, id, content)?;
    Ok((body, keys.active_version() as i32))
}
