//! The outbox: messages written in the transaction of the change that caused them, leased by
//! workers (`FOR UPDATE SKIP LOCKED`: two workers never take the same message; a lease that runs
//! out lets another worker take over), every attempt recorded, and the doorbell
//! (`outbox_due`) that tells workers which tenant has something due without reading any
//! tenant's rows. The content is sealed: it is clinical data on its way out.
//!
//! Statements of people (enqueue, lists, retry, cancel) are traced like every access; the
//! worker's are traced as the system's (`actor_kind = 'system'`), one `outbox.send` event per
//! message taken by its recipient.

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use dui_crypto::Column;
use dui_domain::audit::AuditAction;
use dui_domain::outbox::{AttemptOutcome, MessageStatus, NewMessage, OutboxAttempt, OutboxMessage};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::policy::ScopeReach;
use dui_domain::{EstablishmentId, OutboxMessageId, ResidentId, TenantId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO_CTE, target};
use crate::args;
use crate::feature::{Feature, Table, TenantExport, to_json};
use crate::listing::{listed, open_listed};
use crate::rows::{parse, parse_opt};
use crate::sealing::{open_json, seal_json};
use crate::sql::{Sql, Stmt};
use crate::trace::Trace;
use crate::tx::{Mode, Tx};
use crate::{Db, StoreError, StoreResult};

pub(crate) const OUTBOX_PAYLOAD: Column = Column::new("outbox_messages", "payload");

const COLUMNS: &str = "m.id, m.resident_id, m.establishment_id, m.channel, m.kind, m.idempotency_key, m.content_type, \
     m.status, m.attempts, m.max_attempts, m.next_attempt_at, m.last_error, m.receipt, m.created_by, m.created_at, \
     m.updated_at, m.sent_at, m.cancelled_by";

/// The content, sealed as JSON: its bytes in base64 (so that the tenant export carries it
/// opened like every other sealed value).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
struct Content(String);

pub(crate) fn message(row: &Row) -> StoreResult<OutboxMessage> {
    let status = parse(row, "status", MessageStatus::parse)?;
    let next: chrono::DateTime<chrono::Utc> = row.try_get("next_attempt_at")?;
    Ok(OutboxMessage {
        id: OutboxMessageId::from_uuid(row.try_get("id")?),
        resident_id: row.try_get::<_, Option<Uuid>>("resident_id")?.map(ResidentId::from_uuid),
        establishment_id: row.try_get::<_, Option<Uuid>>("establishment_id")?.map(EstablishmentId::from_uuid),
        channel: row.try_get("channel")?,
        kind: row.try_get("kind")?,
        idempotency_key: row.try_get("idempotency_key")?,
        content_type: row.try_get("content_type")?,
        status,
        attempts: row.try_get("attempts")?,
        max_attempts: row.try_get("max_attempts")?,
        next_attempt_at: matches!(status, MessageStatus::Pending | MessageStatus::Sending).then_some(next),
        last_error: row.try_get("last_error")?,
        receipt: row.try_get("receipt")?,
        created_by: row.try_get::<_, Option<Uuid>>("created_by")?.map(UserId::from_uuid),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        sent_at: row.try_get("sent_at")?,
        cancelled_by: row.try_get::<_, Option<Uuid>>("cancelled_by")?.map(UserId::from_uuid),
    })
}

fn attempt(row: &Row) -> StoreResult<OutboxAttempt> {
    Ok(OutboxAttempt {
        attempt: row.try_get("attempt")?,
        worker: row.try_get("worker")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        outcome: parse_opt(row, "outcome", AttemptOutcome::parse)?,
        error: row.try_get("error")?,
    })
}

/// The trace of a person's access to messages `rows`: one event each, about its resident.
fn traced(rows: &str) -> String {
    let (resident, resource) = (format!("{rows}.resident_id"), format!("{rows}.id"));
    Trace {
        from: &format!("who, {rows}"),
        resident: &resident,
        resource: &resource,
        outcome: "'success'",
        emergency: "false",
    }
    .sql()
}

// ----------------------------------------------------------------------------------------------
// Enqueueing, in the transaction of the change.
// ----------------------------------------------------------------------------------------------

static ENQUEUE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         m AS (INSERT INTO outbox_messages (tenant_id, id, resident_id, establishment_id, channel, kind, idempotency_key, \
                 content_type, payload, dek_version, max_attempts, created_by) \
               SELECT who.tenant_id, :id, :resident, :establishment, :channel, :kind, :key, :content_type, :payload, \
                      :dek_version, :max_attempts, CASE WHEN who.console THEN NULL ELSE who.user_id END FROM who \
               ON CONFLICT (tenant_id, channel, idempotency_key) DO NOTHING RETURNING *), \
         trace AS ({trace}) \
         SELECT {COLUMNS}, true AS created FROM m \
         UNION ALL SELECT {COLUMNS}, false FROM outbox_messages m \
         WHERE m.tenant_id = :tenant AND m.channel = :channel AND m.idempotency_key = :key",
        trace = traced("m"),
    ))
});

/// Puts a message in the outbox, in the caller's transaction: it leaves only if that
/// transaction commits. The same idempotency key on the same channel gives the message already
/// there (`false`): enqueueing is safe to repeat.
pub async fn enqueue(tx: &mut Tx<'_>, new: &NewMessage) -> StoreResult<(OutboxMessage, bool)> {
    let keys = tx.sealing_keys(1).await?;
    let id = Uuid::now_v7();
    let payload = seal_json(&keys, OUTBOX_PAYLOAD, id, &Content(STANDARD.encode(&new.payload)))?;
    let (resident, establishment) = (new.resident.map(|r| r.as_uuid()), new.establishment.map(|e| e.as_uuid()));
    let dek = keys.active_version() as i32;
    let args = args! { id: &id, resident: &resident, establishment: &establishment, channel: &new.channel,
    kind: &new.kind, key: &new.idempotency_key, content_type: &new.content_type, payload: &payload,
    dek_version: &dek, max_attempts: &new.max_attempts }
    .action(AuditAction::OutboxEnqueue);
    let rows = tx.query(&ENQUEUE, &args).await?;
    // A message with this key committed by another transaction while this one ran is not in
    // this statement's snapshot: the caller retries.
    let row = rows.first().ok_or(StoreError::Conflict { constraint: "outbox_messages_key_unique".to_owned() })?;
    Ok((message(row)?, row.try_get("created")?))
}

// ----------------------------------------------------------------------------------------------
// People following the outbox.
// ----------------------------------------------------------------------------------------------

/// Which messages of the tenant to list.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub status: Option<MessageStatus>,
    pub channel: Option<String>,
    pub resident: Option<ResidentId>,
}

static LIST: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         rows AS (SELECT m.* FROM outbox_messages m WHERE m.tenant_id = :tenant \
                  AND (:all_reach OR m.establishment_id = ANY(:reach)) \
                  AND (:status::text IS NULL OR m.status = :status) AND (:channel::text IS NULL OR m.channel = :channel) \
                  AND (:resident::uuid IS NULL OR m.resident_id = :resident) \
                  AND (:after::uuid IS NULL OR m.id < :after) ORDER BY m.id DESC LIMIT :limit), \
         trace AS ({trace}) \
         SELECT {COLUMNS} FROM rows m ORDER BY m.id DESC",
        trace = traced("rows"),
    ))
});

/// The tenant's messages within `reach` (by establishment they leave from), newest first.
pub async fn list(
    tx: Tx<'_>,
    reach: &ScopeReach,
    filter: &MessageFilter,
    page: PageRequest,
) -> StoreResult<Page<OutboxMessage>> {
    let ids: Vec<Uuid> = reach.establishments.iter().map(|e| e.as_uuid()).collect();
    let (status, resident, limit) =
        (filter.status.map(MessageStatus::as_str), filter.resident.map(|r| r.as_uuid()), page.fetch_limit());
    let args = args! { all_reach: &reach.all, reach: &ids, status: &status, channel: &filter.channel,
    resident: &resident, after: &page.after, limit: &limit }
    .action(AuditAction::OutboxList);
    let rows = tx.finish(&LIST, &args).await?;
    let items = rows.iter().map(message).collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, page, |m| m.id.as_uuid()))
}

static OF_RESIDENT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         trace AS ({trace}) \
         {listed}",
        target = target(),
        trace = Trace::read(),
        listed = listed(
            &format!(
                "SELECT {COLUMNS} FROM outbox_messages m, target t WHERE m.tenant_id = t.tenant_id AND m.resident_id = t.id"
            ),
            "x.id DESC"
        ),
    ))
});

/// The messages about a resident the caller sees, newest first; the reading is recorded.
pub async fn of_resident(tx: Tx<'_>, resident: ResidentId) -> StoreResult<Vec<OutboxMessage>> {
    let resident = resident.as_uuid();
    open_listed(tx, &OF_RESIDENT, &args! { resident: &resident }.action(AuditAction::OutboxRead), None, |row, _| {
        message(row)
    })
    .await
}

static ONE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         rows AS (SELECT m.* FROM outbox_messages m WHERE m.tenant_id = :tenant AND m.id = :id \
                  AND (:all_reach OR m.establishment_id = ANY(:reach))), \
         trace AS ({trace}) \
         SELECT {COLUMNS}, NULL::int AS attempt, NULL::uuid AS worker, NULL::timestamptz AS started_at, \
                NULL::timestamptz AS finished_at, NULL::text AS outcome, NULL::text AS error FROM rows m \
         UNION ALL \
         SELECT {COLUMNS}, a.attempt, a.worker, a.started_at, a.finished_at, a.outcome, a.error \
         FROM rows m JOIN outbox_attempts a ON a.tenant_id = m.tenant_id AND a.message_id = m.id \
         ORDER BY attempt NULLS FIRST",
        trace = traced("rows"),
    ))
});

/// One message within `reach`, with its attempts, oldest first; the reading is recorded.
pub async fn get(
    tx: Tx<'_>,
    reach: &ScopeReach,
    id: OutboxMessageId,
) -> StoreResult<(OutboxMessage, Vec<OutboxAttempt>)> {
    let (ids, id): (Vec<Uuid>, Uuid) = (reach.establishments.iter().map(|e| e.as_uuid()).collect(), id.as_uuid());
    let args = args! { id: &id, all_reach: &reach.all, reach: &ids }.action(AuditAction::OutboxView);
    let rows = tx.finish(&ONE, &args).await?;
    let first = rows.first().ok_or(StoreError::NotFound)?;
    let attempts = rows[1..].iter().map(attempt).collect::<StoreResult<Vec<_>>>()?;
    Ok((message(first)?, attempts))
}

static PEEK: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {COLUMNS} FROM outbox_messages m WHERE m.tenant_id = :tenant AND m.id = :id \
         AND (:all_reach OR m.establishment_id = ANY(:reach))"
    ))
});

/// A message within `reach`, read to decide (not recorded).
pub async fn peek(tx: &mut Tx<'_>, reach: &ScopeReach, id: OutboxMessageId) -> StoreResult<OutboxMessage> {
    let (ids, id): (Vec<Uuid>, Uuid) = (reach.establishments.iter().map(|e| e.as_uuid()).collect(), id.as_uuid());
    let row = tx.query_opt(&PEEK, &args! { id: &id, all_reach: &reach.all, reach: &ids }).await?;
    row.as_ref().map(message).transpose()?.ok_or(StoreError::NotFound)
}

fn change_sql(set: &str, allowed: &str) -> String {
    format!(
        "WITH {WHO_CTE}, \
         rows AS (UPDATE outbox_messages m SET {set}, updated_at = now() FROM who \
                  WHERE m.tenant_id = :tenant AND m.id = :id AND m.status IN ({allowed}) RETURNING m.*), \
         trace AS ({trace}) \
         SELECT {COLUMNS} FROM rows m",
        trace = traced("rows"),
    )
}

static RETRY: Stmt = LazyLock::new(|| {
    Sql::new(&change_sql(
        "status = 'pending', next_attempt_at = now(), budget_from = m.attempts, last_error = m.last_error",
        "'failed'",
    ))
});
static CANCEL: Stmt = LazyLock::new(|| {
    Sql::new(&change_sql(
        "status = 'cancelled', cancelled_by = CASE WHEN who.console THEN NULL ELSE who.user_id END",
        "'pending', 'failed'",
    ))
});

async fn change(mut tx: Tx<'_>, sql: &Sql, id: OutboxMessageId, action: AuditAction) -> StoreResult<OutboxMessage> {
    let uuid = id.as_uuid();
    let rows = tx.query(sql, &args! { id: &uuid }.action(action)).await?;
    match rows.first() {
        Some(row) => {
            let changed = message(row)?;
            tx.commit().await?;
            Ok(changed)
        }
        None => {
            let now = tx.query_opt(&PEEK, &args! { id: &uuid, all_reach: &true, reach: &Vec::<Uuid>::new() }).await?;
            let status = now.as_ref().map(message).transpose()?.ok_or(StoreError::NotFound)?.status;
            Err(StoreError::Conflict { constraint: format!("outbox_messages_{}", status.as_str()) })
        }
    }
}

/// Sends a failed message again, with a new allowance of attempts, and commits. `Conflict`
/// (`outbox_messages_<status>`) when it is not failed (any more).
pub async fn retry(tx: Tx<'_>, id: OutboxMessageId) -> StoreResult<OutboxMessage> {
    change(tx, &RETRY, id, AuditAction::OutboxRetry).await
}

/// Cancels a waiting or failed message, and commits. `Conflict` when it is being sent or is
/// finished.
pub async fn cancel(tx: Tx<'_>, id: OutboxMessageId) -> StoreResult<OutboxMessage> {
    change(tx, &CANCEL, id, AuditAction::OutboxCancel).await
}

// ----------------------------------------------------------------------------------------------
// Workers.
// ----------------------------------------------------------------------------------------------

/// A tenant with messages of a channel due, as the doorbell says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub tenant: TenantId,
}

static DUE: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT d.tenant_id FROM outbox_due d JOIN tenants t ON t.id = d.tenant_id \
         WHERE d.channel = :channel AND d.due_at <= now() AND t.status = 'active' ORDER BY d.due_at LIMIT :limit",
    )
});

/// A message leased by a worker: what it sends, and the attempt it makes.
#[derive(Clone)]
pub struct Leased {
    pub tenant: TenantId,
    pub message: OutboxMessage,
    pub payload: Vec<u8>,
    /// This attempt's number (1 for the first).
    pub attempt: i32,
    /// Attempts made within its current allowance, this one included.
    pub attempt_in_allowance: i32,
    /// Attempts it has left after this one, in its allowance.
    pub attempts_left: i32,
}

impl std::fmt::Debug for Leased {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leased")
            .field("tenant", &self.tenant)
            .field("message", &self.message.id)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

static LEASE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH due AS (SELECT m.id FROM outbox_messages m WHERE m.tenant_id = :tenant AND m.channel = :channel \
                      AND m.status IN ('pending', 'sending') AND m.next_attempt_at <= now() \
                      AND EXISTS (SELECT 1 FROM tenants t WHERE t.id = :tenant AND t.status = 'active') \
                      ORDER BY m.next_attempt_at, m.id LIMIT :limit FOR UPDATE SKIP LOCKED), \
         m AS (UPDATE outbox_messages m SET status = 'sending', lease_owner = :worker, attempts = m.attempts + 1, \
                 next_attempt_at = now() + make_interval(secs => :lease_secs), updated_at = now() \
               FROM due WHERE m.tenant_id = :tenant AND m.id = due.id RETURNING m.*), \
         abandoned AS (UPDATE outbox_attempts a SET finished_at = now(), outcome = 'abandoned', \
                         error = 'its worker stopped before the end: the lease ran out' \
                       FROM m WHERE a.tenant_id = :tenant AND a.message_id = m.id AND a.finished_at IS NULL RETURNING a.id), \
         started AS (INSERT INTO outbox_attempts (tenant_id, id, message_id, attempt, worker) \
                     SELECT :tenant, dui_uuid_v7(), m.id, m.attempts, :worker FROM m RETURNING message_id) \
         SELECT {COLUMNS}, m.payload, m.dek_version, m.budget_from, (SELECT count(*) FROM abandoned) AS abandoned \
         FROM m JOIN started s ON s.message_id = m.id ORDER BY m.id"
    ))
});

static BELL: Stmt =
    LazyLock::new(|| Sql::new("SELECT rung FROM outbox_due WHERE tenant_id = :tenant AND channel = :channel"));

/// Moves the doorbell to the next due message, or takes it down, unless it rang since `:rung`
/// was read (a message enqueued meanwhile keeps its ring).
static SETTLE: Stmt = LazyLock::new(|| {
    Sql::new(
        "WITH next AS (SELECT min(next_attempt_at) AS due FROM outbox_messages \
                       WHERE tenant_id = :tenant AND channel = :channel AND status IN ('pending', 'sending')), \
         gone AS (DELETE FROM outbox_due d USING next WHERE d.tenant_id = :tenant AND d.channel = :channel \
                  AND d.rung = :rung AND next.due IS NULL RETURNING 1), \
         moved AS (UPDATE outbox_due d SET due_at = next.due FROM next WHERE d.tenant_id = :tenant \
                   AND d.channel = :channel AND d.rung = :rung AND next.due IS NOT NULL RETURNING 1) \
         SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM moved)",
    )
});

/// Moves the doorbell (see [`SETTLE`]).
async fn settle(tx: &mut Tx<'_>, channel: &str) -> StoreResult<()> {
    if let Some(bell) = tx.query_opt(&BELL, &args! { channel: &channel }).await? {
        let rung: i64 = bell.try_get(0)?;
        tx.query(&SETTLE, &args! { channel: &channel, rung: &rung }).await?;
    }
    Ok(())
}

/// Where a send ended, as the worker records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Taken, with the recipient's receipt.
    Sent { receipt: Option<String> },
    /// Failed; tried again at `retry_in` unless the allowance is used up.
    Retryable { error: String, retry_in: std::time::Duration },
    /// Refused for good.
    Permanent { error: String },
}

static SENT: Stmt = LazyLock::new(|| {
    Sql::new(
        "WITH m AS (UPDATE outbox_messages m SET status = 'sent', sent_at = now(), lease_owner = NULL, receipt = :receipt, \
                      last_error = NULL, updated_at = now() \
                    WHERE m.tenant_id = :tenant AND m.id = :id AND m.status = 'sending' AND m.lease_owner = :worker \
                    RETURNING m.*), \
         a AS (UPDATE outbox_attempts a SET finished_at = now(), outcome = 'sent' \
               WHERE a.tenant_id = :tenant AND a.message_id = :id AND a.attempt = :attempt AND a.finished_at IS NULL RETURNING 1), \
         trace AS (INSERT INTO audit_events (tenant_id, id, actor_id, actor_kind, action, outcome, resident_id, \
                     resource_type, resource_id) \
                   SELECT m.tenant_id, dui_uuid_v7(), NULL, 'system', :action, 'success', m.resident_id, :resource_type, m.id \
                   FROM m) \
         SELECT count(*) FROM m",
    )
});

static FAILED: Stmt = LazyLock::new(|| {
    Sql::new(
        "WITH m AS (UPDATE outbox_messages m SET \
                      status = CASE WHEN :permanent OR m.attempts - m.budget_from >= m.max_attempts THEN 'failed' ELSE 'pending' END, \
                      next_attempt_at = now() + make_interval(secs => :retry_secs), lease_owner = NULL, \
                      last_error = :error, updated_at = now() \
                    WHERE m.tenant_id = :tenant AND m.id = :id AND m.status = 'sending' AND m.lease_owner = :worker \
                    RETURNING m.*), \
         a AS (UPDATE outbox_attempts a SET finished_at = now(), \
                 outcome = CASE WHEN :permanent THEN 'permanent' ELSE 'retryable' END, error = :error \
               WHERE a.tenant_id = :tenant AND a.message_id = :id AND a.attempt = :attempt AND a.finished_at IS NULL RETURNING 1) \
         SELECT count(*) FROM m",
    )
});

/// The longest error text kept (what a peer answered may be long).
const MAX_ERROR: usize = 2000;

fn shortened(error: &str) -> String {
    match error.char_indices().nth(MAX_ERROR) {
        Some((at, _)) => format!("{}…", &error[..at]),
        None => error.to_owned(),
    }
}

impl Db {
    /// Tenants with messages of `channel` due now (active tenants only), the longest waiting
    /// first.
    pub async fn outbox_due(&self, channel: &str, limit: i64) -> StoreResult<Vec<Due>> {
        let mut tx = self.begin_platform(Mode::Read);
        let rows = tx.query(&DUE, &args! { channel: &channel, limit: &limit }).await?;
        tx.commit().await?;
        rows.iter().map(|r| Ok(Due { tenant: TenantId::from_uuid(r.try_get(0)?) })).collect()
    }

    /// Leases up to `limit` due messages of `channel` in `tenant` for `lease`: each gets its next
    /// attempt recorded (and the attempt of a worker that stopped is marked abandoned); the
    /// doorbell moves to the next due message. Committed before anything is sent.
    pub async fn lease_outbox(
        &self,
        tenant: TenantId,
        channel: &str,
        worker: Uuid,
        limit: i64,
        lease: std::time::Duration,
    ) -> StoreResult<Vec<Leased>> {
        let mut tx = self.begin_for_tenant(tenant, Mode::Write);
        let lease_secs = lease.as_secs_f64();
        let rows = tx
            .query(&LEASE, &args! { channel: &channel, worker: &worker, limit: &limit, lease_secs: &lease_secs })
            .await?;
        settle(&mut tx, channel).await?;
        let keys = tx.keyring(crate::sealing::versions(&rows)?).await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                let message = message(row)?;
                let Content(encoded) = open_json(&keys, OUTBOX_PAYLOAD, message.id.as_uuid(), row.try_get("payload")?)?;
                let payload = STANDARD
                    .decode(encoded)
                    .map_err(|e| StoreError::Corrupt { column: "outbox_messages.payload", value: e.to_string() })?;
                let budget_from: i32 = row.try_get("budget_from")?;
                let attempt_in_allowance = message.attempts - budget_from;
                let attempts_left = message.max_attempts - attempt_in_allowance;
                Ok(Leased { tenant, attempt: message.attempts, attempt_in_allowance, attempts_left, payload, message })
            })
            .collect()
    }

    /// Moves the doorbell of `channel` in `tenant` to its next due message, or takes it down:
    /// after a batch was sent, so that an idle outbox rings nobody.
    pub async fn settle_outbox(&self, tenant: TenantId, channel: &str) -> StoreResult<()> {
        let mut tx = self.begin_for_tenant(tenant, Mode::Write);
        settle(&mut tx, channel).await?;
        tx.commit().await
    }

    /// Records how an attempt ended. `false` when the lease was lost meanwhile (another worker
    /// took the message over; this ending is not recorded on the message).
    pub async fn end_attempt(&self, leased: &Leased, worker: Uuid, ending: &Ending) -> StoreResult<bool> {
        let mut tx = self.begin_for_tenant(leased.tenant, Mode::Write);
        let (id, attempt) = (leased.message.id.as_uuid(), leased.attempt);
        let row = match ending {
            Ending::Sent { receipt } => {
                let args = args! { id: &id, worker: &worker, attempt: &attempt, receipt: receipt }
                    .action(AuditAction::OutboxSend);
                tx.query_one(&SENT, &args).await?
            }
            Ending::Retryable { error, retry_in } => {
                let (error, secs) = (shortened(error), retry_in.as_secs_f64());
                let args = args! { id: &id, worker: &worker, attempt: &attempt, error: &error, permanent: &false,
                retry_secs: &secs };
                tx.query_one(&FAILED, &args).await?
            }
            Ending::Permanent { error } => {
                let error = shortened(error);
                let args = args! { id: &id, worker: &worker, attempt: &attempt, error: &error, permanent: &true,
                retry_secs: &0f64 };
                tx.query_one(&FAILED, &args).await?
            }
        };
        tx.commit().await?;
        Ok(row.try_get::<_, i64>(0)? == 1)
    }
}

/// Outgoing messages: the content sealed; a merge moves them to the record kept; the person's
/// export lists those about them (without their content, which the recipient holds); the
/// tenant export carries them and their attempts. An import puts messages that had not left
/// on hold (failed, to be retried by a person): nothing leaves twice from two installations
/// without someone deciding it.
pub(crate) const FEATURE: Feature = Feature {
    name: "outbox",
    tables: &[
        Table::of_person("outbox_messages", &[OUTBOX_PAYLOAD], "outbox_messages m", COLUMNS, "m.id", |row, _| {
            to_json(message(row))
        })
        .in_section("outgoing_messages")
        .exported(TenantExport::settled(
            "id",
            "UPDATE outbox_messages SET status = 'failed', lease_owner = NULL, updated_at = now(), \
             last_error = 'imported from another installation before it left: retry it to send it from here' \
             WHERE tenant_id = :tenant AND status IN ('pending', 'sending')",
        )),
        Table::of_tenant("outbox_attempts", "id").exported(TenantExport::settled(
            "id",
            "UPDATE outbox_attempts SET finished_at = now(), outcome = 'abandoned', \
             error = 'under way when the tenant was exported' WHERE tenant_id = :tenant AND finished_at IS NULL",
        )),
    ],
};
