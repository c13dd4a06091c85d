//! The audit events of reads, written together: the events of every read answered meanwhile go
//! into the trail in one transaction and one durable commit, instead of each read writing its
//! event and waiting for its own commit.
//!
//! A read's statement reads only (its transaction takes no transaction id and writes no log);
//! what the event needs — whether the resident was in reach, through an emergency opening, which
//! records were shown — comes back with its rows ([`ReadTrace`]). The request then hands its
//! events to the [`Trail`] and waits, before it is answered, until they are committed:
//!
//! - the events of all requests waiting form the current batch;
//! - one request at a time leads: it takes the current batch (a new one starts for the requests
//!   that come meanwhile), inserts its events — one `INSERT ... SELECT FROM unnest(...)` per
//!   tenant, each under that tenant's row-level security — and commits, synchronously, on a
//!   connection kept for the purpose; then it tells the batch's requests how it went;
//! - the others wait for their batch, and one of them leads the next as soon as the previous
//!   one is committed.
//!
//! The promise is the same as when each read wrote its own event: no read is answered before
//! its event is durable, and a read whose event could not be written is answered with an error
//! (`Unavailable`), never with the record. Writes keep their events in their own statement:
//! the change and its trace commit together or not at all.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use deadpool_postgres::{Object, Pool};
use dui_domain::TenantId;
use dui_domain::audit::AuditAction;
use tokio::sync::watch;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::{StoreError, StoreResult};

/// One event of a read, made once the read's statement has answered.
#[derive(Debug, Clone)]
pub(crate) struct ReadEvent {
    pub tenant: Uuid,
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_kind: &'static str,
    pub action: &'static str,
    pub outcome: &'static str,
    pub resident_id: Option<Uuid>,
    pub resource_type: &'static str,
    pub resource_id: Option<Uuid>,
    pub request_id: Option<String>,
    pub client_address: Option<IpAddr>,
    pub emergency: bool,
}

/// Who read, for the events of a read (from the transaction's caller).
#[derive(Debug, Clone)]
pub(crate) struct Reader {
    pub tenant: Uuid,
    pub user: Uuid,
    pub console: bool,
    pub request_id: Option<String>,
    pub client_address: Option<IpAddr>,
}

/// What a read statement's rows say about the events to record.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ReadTrace {
    /// A read of one resident's record, `resident`: one event, a success when the rows show the
    /// resident in reach — a first row, whose `visible` column (when the statement has one) is
    /// true — else a refusal; through an emergency opening when the row's `via_emergency` says
    /// so.
    Record { action: AuditAction, resident: Uuid },
    /// A list of records: one event per row, about the resident of its `id`, through an
    /// emergency opening when its `via_emergency` says so.
    EachRecord { action: AuditAction },
}

impl ReadTrace {
    /// The events of a read that returned `rows`, by `reader`.
    pub(crate) fn events(self, reader: &Reader, rows: &[Row]) -> StoreResult<Vec<ReadEvent>> {
        let event = |action: AuditAction, success: bool, resident: Uuid, emergency: bool| ReadEvent {
            tenant: reader.tenant,
            id: Uuid::now_v7(),
            occurred_at: Utc::now(),
            actor_id: (!reader.console).then_some(reader.user),
            actor_kind: if reader.console { "console" } else { "user" },
            action: action.as_str(),
            outcome: if success { "success" } else { "denied" },
            resident_id: Some(resident),
            resource_type: action.resource_type(),
            resource_id: Some(resident),
            request_id: reader.request_id.clone(),
            client_address: reader.client_address,
            emergency,
        };
        let emergency = |row: &Row| -> StoreResult<bool> {
            Ok(match row.columns().iter().any(|c| c.name() == "via_emergency") {
                true => row.try_get::<_, Option<bool>>("via_emergency")?.unwrap_or(false),
                false => false,
            })
        };
        match self {
            ReadTrace::Record { action, resident } => {
                let (success, through_emergency) = match rows.first() {
                    None => (false, false),
                    Some(row) => {
                        let visible = match row.columns().iter().any(|c| c.name() == "visible") {
                            true => row.try_get::<_, bool>("visible")?,
                            false => true,
                        };
                        (visible, visible && emergency(row)?)
                    }
                };
                Ok(vec![event(action, success, resident, through_emergency)])
            }
            ReadTrace::EachRecord { action } => {
                rows.iter().map(|row| Ok(event(action, true, row.try_get("id")?, emergency(row)?))).collect()
            }
        }
    }
}

/// The batch the requests waiting now belong to.
struct Batch {
    events: Vec<ReadEvent>,
    /// `Some(true)` once committed, `Some(false)` once failed.
    outcome: Arc<watch::Sender<Option<bool>>>,
}

impl Batch {
    fn new() -> Self {
        Self { events: Vec::new(), outcome: Arc::new(watch::Sender::new(None)) }
    }
}

/// The writer of reads' events, one per server.
pub(crate) struct Trail {
    current: Mutex<Batch>,
    /// The connection batches are written on, held by the batch being written.
    leader: Arc<tokio::sync::Mutex<Option<Object>>>,
    /// Counts the batches written (or failed), so that a waiter whose batch was not that one
    /// leads the next.
    ended: watch::Sender<u64>,
}

impl std::fmt::Debug for Trail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trail").finish_non_exhaustive()
    }
}

impl Trail {
    pub(crate) fn new() -> Self {
        Self {
            current: Mutex::new(Batch::new()),
            leader: Arc::new(tokio::sync::Mutex::new(None)),
            ended: watch::Sender::new(0),
        }
    }

    /// Writes `events` with the others waiting, durably; returns once they are committed.
    ///
    /// The batch is written by a task of its own: a leader whose request is cancelled (its
    /// client gone, its time up) stops waiting, never the writing, so every batch gets its
    /// outcome and the next one its leader.
    pub(crate) async fn record(self: &Arc<Self>, pool: &Pool, events: Vec<ReadEvent>) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut outcome = {
            let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
            current.events.extend(events);
            current.outcome.subscribe()
        };
        let mut ended = self.ended.subscribe();
        loop {
            ended.borrow_and_update();
            if let Some(written) = *outcome.borrow_and_update() {
                return if written {
                    Ok(())
                } else {
                    Err(StoreError::Unavailable("the audit trail could not be written".to_owned()))
                };
            }
            if outcome.has_changed().is_err() {
                // The batch went without an outcome (its writing task failed).
                return Err(StoreError::Unavailable(
                    "the audit events of the read may not have been written".to_owned(),
                ));
            }
            if let Ok(mut connection) = self.leader.clone().try_lock_owned() {
                if outcome.borrow().is_some() {
                    continue;
                }
                let batch =
                    std::mem::replace(&mut *self.current.lock().unwrap_or_else(|e| e.into_inner()), Batch::new());
                let (trail, pool) = (self.clone(), pool.clone());
                let writing = tokio::spawn(async move {
                    let written = match batch.events.is_empty() {
                        true => Ok(()),
                        false => write(&mut connection, &pool, &batch.events).await,
                    };
                    if let Err(error) = &written {
                        tracing::error!(%error, events = batch.events.len(), "the audit events of reads could not be written");
                    }
                    batch.outcome.send_replace(Some(written.is_ok()));
                    drop(connection);
                    trail.ended.send_modify(|n| *n += 1);
                });
                // A panic in the task drops the batch without an outcome: seen above.
                let _ = writing.await;
                continue;
            }
            tokio::select! {
                _ = outcome.changed() => {}
                _ = ended.changed() => {}
            }
        }
    }
}

const SET_TENANT: &str = "SELECT set_config('app.tenant_id', $1, true)";

const INSERT: &str = "INSERT INTO audit_events (tenant_id, id, occurred_at, actor_id, actor_kind, action, outcome, \
     resident_id, resource_type, resource_id, request_id, client_address, emergency) \
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::uuid[], $5::text[], $6::text[], $7::text[], \
     $8::uuid[], $9::text[], $10::uuid[], $11::text[], $12::inet[], $13::bool[])";

/// Writes `events` in one transaction, a statement per tenant, and commits.
async fn write(connection: &mut Option<Object>, pool: &Pool, events: &[ReadEvent]) -> StoreResult<()> {
    if connection.as_ref().is_none_or(|c| c.is_closed()) {
        *connection = Some(pool.get().await?);
    }
    let Some(client) = connection.as_ref() else { return Err(StoreError::Unavailable("no connection".to_owned())) };
    let written = insert(client, events).await;
    if written.is_err() {
        // In an unknown state: a new connection next time.
        *connection = None;
    }
    written
}

async fn insert(client: &Object, events: &[ReadEvent]) -> StoreResult<()> {
    let tenants: Vec<Uuid> = tenants_of(events).iter().map(|t| t.as_uuid()).collect();
    let (set_tenant, insert) = tokio::try_join!(client.prepare_cached(SET_TENANT), client.prepare_cached(INSERT))?;
    let columns: Vec<Columns> = tenants.iter().map(|t| Columns::of(events.iter().filter(|e| e.tenant == *t))).collect();
    let names: Vec<String> = tenants.iter().map(Uuid::to_string).collect();
    let client: &tokio_postgres::Client = client;
    let statements = names.iter().zip(&columns).map(|(name, columns)| {
        let (set_tenant, insert) = (&set_tenant, &insert);
        async move {
            let tenant: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [name];
            let params = columns.params();
            tokio::try_join!(client.query(set_tenant, &tenant), client.execute(insert, &params))?;
            Ok::<_, tokio_postgres::Error>(())
        }
    });
    let begun = tokio::try_join!(
        client.batch_execute("BEGIN"),
        futures_util::future::try_join_all(statements),
        client.batch_execute("COMMIT"),
    );
    if begun.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    begun?;
    Ok(())
}

/// One tenant's events, column by column.
#[derive(Default)]
struct Columns {
    tenant: Vec<Uuid>,
    id: Vec<Uuid>,
    occurred_at: Vec<DateTime<Utc>>,
    actor_id: Vec<Option<Uuid>>,
    actor_kind: Vec<&'static str>,
    action: Vec<&'static str>,
    outcome: Vec<&'static str>,
    resident_id: Vec<Option<Uuid>>,
    resource_type: Vec<&'static str>,
    resource_id: Vec<Option<Uuid>>,
    request_id: Vec<Option<String>>,
    client_address: Vec<Option<IpAddr>>,
    emergency: Vec<bool>,
}

impl Columns {
    fn of<'a>(events: impl Iterator<Item = &'a ReadEvent>) -> Self {
        let mut c = Columns::default();
        for e in events {
            c.tenant.push(e.tenant);
            c.id.push(e.id);
            c.occurred_at.push(e.occurred_at);
            c.actor_id.push(e.actor_id);
            c.actor_kind.push(e.actor_kind);
            c.action.push(e.action);
            c.outcome.push(e.outcome);
            c.resident_id.push(e.resident_id);
            c.resource_type.push(e.resource_type);
            c.resource_id.push(e.resource_id);
            c.request_id.push(e.request_id.clone());
            c.client_address.push(e.client_address);
            c.emergency.push(e.emergency);
        }
        c
    }

    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 13] {
        [
            &self.tenant,
            &self.id,
            &self.occurred_at,
            &self.actor_id,
            &self.actor_kind,
            &self.action,
            &self.outcome,
            &self.resident_id,
            &self.resource_type,
            &self.resource_id,
            &self.request_id,
            &self.client_address,
            &self.emergency,
        ]
    }
}

/// The tenants of `events`, for the chainer.
pub(crate) fn tenants_of(events: &[ReadEvent]) -> Vec<TenantId> {
    let mut tenants: Vec<Uuid> = events.iter().map(|e| e.tenant).collect();
    tenants.sort_unstable();
    tenants.dedup();
    tenants.into_iter().map(TenantId::from_uuid).collect()
}
