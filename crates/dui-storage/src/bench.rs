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
    /// Hand-over feed of a unit, its notes and its other events, with its trace.
    pub handover_by_unit: Sql,
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

/// A hand-over event as the dataset generator makes it: what the use cases would have written
/// with a refused task, an abnormal measurement, a fall... (its source row is not made: the
/// feed does not read it).
#[derive(Debug, Clone)]
pub struct SeededEvent {
    pub resident: dui_domain::ResidentId,
    pub establishment: dui_domain::EstablishmentId,
    pub unit: Option<dui_domain::UnitId>,
    pub kind: dui_domain::handover::HandoverEventKind,
    pub source_type: &'static str,
    pub scope: dui_domain::record::NoteScope,
    pub summary: String,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub recorded_by: dui_domain::UserId,
}

const EVENT_STAGE: &str = "CREATE TEMPORARY TABLE seed_events (tenant_id uuid, id uuid, resident_id uuid, \
     establishment_id uuid, unit_id uuid, kind text, source_type text, source_id uuid, scope text, summary bytea, \
     dek_version integer, occurred_at timestamptz, recorded_by uuid) ON COMMIT DROP";

const EVENT_COPY: &str = "COPY seed_events (tenant_id, id, resident_id, establishment_id, unit_id, kind, source_type, \
     source_id, scope, summary, dek_version, occurred_at, recorded_by) FROM STDIN (FORMAT binary)";

static SEEDED: crate::sql::Stmt = std::sync::LazyLock::new(|| {
    Sql::new(
        "WITH e AS (INSERT INTO handover_events (tenant_id, id, resident_id, establishment_id, unit_id, kind, \
                      source_type, source_id, scope, summary, dek_version, occurred_at, recorded_by) \
                    SELECT * FROM seed_events WHERE tenant_id = :tenant RETURNING 1) \
         SELECT count(*) FROM e",
    )
});

/// Writes `events` of the transaction's tenant, sealed as the use cases seal them (ids of their
/// time, as if written then), in one transaction, and commits; returns how many were written.
pub async fn seed_handover_events(mut tx: crate::tx::Tx<'_>, events: &[SeededEvent]) -> crate::StoreResult<u64> {
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::Type;
    if events.is_empty() {
        return Ok(0);
    }
    let tenant = tx.tenant().as_uuid();
    let keys = tx.sealing_keys(events.len() as u64).await?;
    let dek = keys.active_version() as i32;
    tx.batch(EVENT_STAGE).await?;
    let sink = tx.copy_in(EVENT_COPY).await?;
    let types = [
        Type::UUID,
        Type::UUID,
        Type::UUID,
        Type::UUID,
        Type::UUID,
        Type::TEXT,
        Type::TEXT,
        Type::UUID,
        Type::TEXT,
        Type::BYTEA,
        Type::INT4,
        Type::TIMESTAMPTZ,
        Type::UUID,
    ];
    let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &types));
    for event in events {
        let id = crate::import::note_id_at(event.occurred_at);
        let summary = crate::sealing::seal_json(&keys, crate::handover::EVENT_SUMMARY, id, &event.summary)?;
        let source = uuid::Uuid::now_v7();
        let (resident, establishment, unit, author) = (
            event.resident.as_uuid(),
            event.establishment.as_uuid(),
            event.unit.map(|u| u.as_uuid()),
            event.recorded_by.as_uuid(),
        );
        let row: [&(dyn ToSql + Sync); 13] = [
            &tenant,
            &id,
            &resident,
            &establishment,
            &unit,
            &event.kind.as_str(),
            &event.source_type,
            &source,
            &event.scope.as_str(),
            &summary,
            &dek,
            &event.occurred_at,
            &author,
        ];
        writer.as_mut().write(&row).await?;
    }
    writer.as_mut().finish().await?;
    let rows = tx.finish(&SEEDED, &crate::args! {}).await?;
    let written: i64 = rows.first().ok_or(crate::StoreError::NotFound)?.try_get(0)?;
    Ok(written as u64)
}
