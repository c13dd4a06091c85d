//! The outbox: how anything leaves the system. A use case that causes an exchange (a document
//! for the national shared record, a secure message) calls [`enqueue`] in its own transaction;
//! a [`Worker`] sends the message through the [`Transport`] of its channel, retrying what may
//! succeed later, and records every attempt. People follow the messages, send a failed one
//! again, or cancel one.
//!
//! Delivery is at least once: a worker that stops mid-send leaves its lease to run out, and
//! another sends again. The recipient recognises a message it already took by its idempotency
//! key, the same on every attempt: a retry is never a duplicate.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use dui_domain::outbox::{Backoff, MessageStatus, NewMessage, OutboxMessage, OutboxMessageDetail};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::policy::{self, ScopeReach};
use dui_domain::scope::TenantScope;
use dui_domain::{EstablishmentId, OutboxMessageId, ResidentId, TenantId};
use dui_storage::outbox::{self as store, Ending, Leased};
use dui_storage::{Mode, Tx};
use uuid::Uuid;

pub use dui_storage::outbox::MessageFilter;

use crate::{App, AppError, AppResult};

// ----------------------------------------------------------------------------------------------
// Putting a message in the outbox.
// ----------------------------------------------------------------------------------------------

/// Puts a message in the outbox, in the transaction of the operation that causes it: it leaves
/// if, and only if, that transaction commits. The same idempotency key on the same channel
/// gives back the message already there.
pub async fn enqueue(tx: &mut Tx<'_>, message: NewMessage) -> AppResult<OutboxMessage> {
    let message = message.validate()?;
    let (queued, _) = store::enqueue(tx, &message).await?;
    Ok(queued)
}

// ----------------------------------------------------------------------------------------------
// People following the outbox.
// ----------------------------------------------------------------------------------------------

/// Where the caller follows the outbox; a caller without any reach is refused outright.
fn reach(scope: &TenantScope) -> AppResult<ScopeReach> {
    let reach = policy::oversight_reach(scope);
    if reach.all || !reach.establishments.is_empty() {
        Ok(reach)
    } else {
        Err(AppError::Forbidden("Your roles do not allow you to follow outgoing messages.".into()))
    }
}

/// The tenant's outgoing messages, newest first: tenant administrators see them all, directors
/// those leaving from their establishments.
pub async fn list(
    app: &App,
    scope: &TenantScope,
    filter: MessageFilter,
    page: PageRequest,
) -> AppResult<Page<OutboxMessage>> {
    let reach = reach(scope)?;
    Ok(store::list(app.db().begin(scope, Mode::Write), &reach, &filter, page).await?)
}

/// The messages about a person, newest first, for those who see the record.
pub async fn of_resident(app: &App, scope: &TenantScope, resident: ResidentId) -> AppResult<Vec<OutboxMessage>> {
    Ok(store::of_resident(app.db().begin(scope, Mode::Write), resident).await?)
}

/// One message with every attempt made at sending it.
pub async fn get(app: &App, scope: &TenantScope, id: OutboxMessageId) -> AppResult<OutboxMessageDetail> {
    let reach = reach(scope)?;
    let (message, attempt_log) = store::get(app.db().begin(scope, Mode::Write), &reach, id).await?;
    Ok(OutboxMessageDetail { message, attempt_log })
}

/// Sends a failed message again, with a new allowance of attempts.
pub async fn retry(app: &App, scope: &TenantScope, id: OutboxMessageId) -> AppResult<OutboxMessage> {
    let reach = reach(scope)?;
    let mut tx = app.db().begin(scope, Mode::Write);
    let found = store::peek(&mut tx, &reach, id).await?;
    if !found.status.retryable_by_hand() {
        return Err(AppError::Conflict(format!("Only a failed message is sent again; this one is {}.", found.status)));
    }
    Ok(store::retry(tx, id).await?)
}

/// Cancels a message that waits or failed; one being sent cannot be called back.
pub async fn cancel(app: &App, scope: &TenantScope, id: OutboxMessageId) -> AppResult<OutboxMessage> {
    let reach = reach(scope)?;
    let mut tx = app.db().begin(scope, Mode::Write);
    let found = store::peek(&mut tx, &reach, id).await?;
    if !found.status.cancellable() {
        let why = match found.status {
            MessageStatus::Sending => "it is being sent".to_owned(),
            other => format!("it is {other}"),
        };
        return Err(AppError::Conflict(format!("This message cannot be cancelled: {why}.")));
    }
    Ok(store::cancel(tx, id).await?)
}

// ----------------------------------------------------------------------------------------------
// Sending.
// ----------------------------------------------------------------------------------------------

/// A message as a transport sends it.
#[derive(Clone)]
pub struct Outgoing {
    pub tenant: TenantId,
    pub id: OutboxMessageId,
    pub resident: Option<ResidentId>,
    pub establishment: Option<EstablishmentId>,
    pub kind: String,
    /// The same on every attempt: what the recipient deduplicates on.
    pub idempotency_key: String,
    pub content_type: String,
    pub payload: Vec<u8>,
    /// 1 for the first attempt.
    pub attempt: i32,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

/// What the recipient answered when it took a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Its id of the document or message, when it gives one.
    pub receipt: Option<String>,
}

/// Why a send failed, as the transport classifies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// May succeed later: unreachable, busy, timed out, "try again".
    Retryable(String),
    /// Refused: sending the same again would fail the same way.
    Permanent(String),
}

/// The future a transport's send returns.
pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<Delivery, SendError>> + Send + 'a>>;

/// Carries the messages of one channel to their recipients (the DMP's web services, MSSanté).
pub trait Transport: Send + Sync + 'static {
    /// The channel it carries.
    fn channel(&self) -> &str;

    /// Sends one message. It may be called again for the same message (a retry, a worker taking
    /// over): the recipient deduplicates on `message.idempotency_key`.
    fn send<'a>(&'a self, message: &'a Outgoing) -> Sending<'a>;
}

/// How workers send.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Messages leased at a time from one tenant.
    pub batch: i64,
    /// Tenants served per channel per pass.
    pub tenants_per_pass: i64,
    /// How long a lease lasts: a worker that stops is replaced once it runs out. Longer than
    /// `send_timeout`.
    pub lease: Duration,
    /// How long a send may take before it counts as a retryable failure.
    pub send_timeout: Duration,
    /// Waits between retries.
    pub backoff: Backoff,
    /// The longest wait between passes when nothing rings.
    pub poll: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            batch: 10,
            tenants_per_pass: 50,
            lease: Duration::from_secs(120),
            send_timeout: Duration::from_secs(60),
            backoff: Backoff { base: Duration::from_secs(30), max: Duration::from_secs(3600) },
            poll: Duration::from_secs(5),
        }
    }
}

/// A number drawn uniformly in [0, 1), for the backoff's jitter (the low 53 bits of a random
/// UUID are random).
fn unit_random() -> f64 {
    let bits = (Uuid::new_v4().as_u128() as u64) & ((1u64 << 53) - 1);
    bits as f64 / (1u64 << 53) as f64
}

/// Sends what is due, channel by channel, tenant by tenant. Several may run, in one server or
/// many: they never send the same message at once.
pub struct Worker {
    app: App,
    transports: Vec<Arc<dyn Transport>>,
    config: WorkerConfig,
    id: Uuid,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let channels: Vec<&str> = self.transports.iter().map(|t| t.channel()).collect();
        f.debug_struct("Worker").field("id", &self.id).field("channels", &channels).finish_non_exhaustive()
    }
}

impl Worker {
    pub fn new(app: App, transports: Vec<Arc<dyn Transport>>, config: WorkerConfig) -> Self {
        Self { app, transports, config, id: Uuid::now_v7() }
    }

    /// The worker's id, as its attempts record it.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// One pass: leases what is due on every channel and sends it. Returns how many messages
    /// were attempted.
    pub async fn pass(&self) -> AppResult<usize> {
        let db = self.app.db();
        let mut attempted = 0;
        for transport in &self.transports {
            let channel = transport.channel();
            for due in db.outbox_due(channel, self.config.tenants_per_pass).await? {
                let leased =
                    db.lease_outbox(due.tenant, channel, self.id, self.config.batch, self.config.lease).await?;
                for message in leased {
                    self.send(transport.as_ref(), message).await?;
                    attempted += 1;
                }
                db.settle_outbox(due.tenant, channel).await?;
            }
        }
        Ok(attempted)
    }

    async fn send(&self, transport: &dyn Transport, leased: Leased) -> AppResult<()> {
        let outgoing = Outgoing {
            tenant: leased.tenant,
            id: leased.message.id,
            resident: leased.message.resident_id,
            establishment: leased.message.establishment_id,
            kind: leased.message.kind.clone(),
            idempotency_key: leased.message.idempotency_key.clone(),
            content_type: leased.message.content_type.clone(),
            payload: leased.payload.clone(),
            attempt: leased.attempt,
        };
        let retry_in = || self.config.backoff.delay(leased.attempt_in_allowance.max(1) as u32, unit_random());
        let ending = match tokio::time::timeout(self.config.send_timeout, transport.send(&outgoing)).await {
            Ok(Ok(delivery)) => Ending::Sent { receipt: delivery.receipt },
            Ok(Err(SendError::Retryable(error))) => Ending::Retryable { error, retry_in: retry_in() },
            Ok(Err(SendError::Permanent(error))) => Ending::Permanent { error },
            Err(_) => Ending::Retryable {
                error: format!("no answer within {} s", self.config.send_timeout.as_secs()),
                retry_in: retry_in(),
            },
        };
        let recorded = self.app.db().end_attempt(&leased, self.id, &ending).await?;
        let (tenant, message, attempt) = (leased.tenant, leased.message.id, leased.attempt);
        match (&ending, recorded) {
            (_, false) => {
                tracing::warn!(%tenant, %message, attempt, "the lease ran out during the send; another worker took the message over")
            }
            (Ending::Sent { .. }, true) => {
                tracing::info!(%tenant, %message, attempt, channel = transport.channel(), "message sent")
            }
            (Ending::Retryable { error, retry_in }, true) => {
                tracing::warn!(%tenant, %message, attempt, error, retry_in_secs = retry_in.as_secs(), "send failed; retrying later");
            }
            (Ending::Permanent { error }, true) => {
                tracing::error!(%tenant, %message, attempt, error, "message refused for good")
            }
        }
        Ok(())
    }

    /// Runs until `stop` resolves: a pass, then another at once if it sent anything, else when a
    /// message is enqueued (the bell) or after `poll`.
    pub async fn run(self, stop: impl Future<Output = ()>) {
        let bell = self.app.db().outbox_bell();
        let mut stop = std::pin::pin!(stop);
        loop {
            // Listening before the pass: a message enqueued during it rings for the next one.
            let rung = bell.notified();
            let mut rung = std::pin::pin!(rung);
            rung.as_mut().enable();
            let pause = match self.pass().await {
                Ok(0) => self.config.poll,
                Ok(_) => Duration::ZERO,
                Err(error) => {
                    tracing::warn!(%error, worker = %self.id, "outbox pass failed; the next one resumes it");
                    self.config.poll
                }
            };
            tokio::select! {
                biased;
                () = &mut stop => return,
                () = rung, if !pause.is_zero() => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}
