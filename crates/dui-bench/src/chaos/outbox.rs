//! The outbox under crashes: messages enqueued at a steady pace while the worker sending them is
//! stopped dead again and again — its task aborted mid-send and its database connections closed
//! with it, as a SIGKILL of its process would — and started afresh. A recipient records every
//! delivery and keeps each idempotency key once, as the national services do. Afterwards:
//! every message sent, each taken once by the recipient; resends (inevitable when a worker dies
//! between the recipient's answer and its own record of it) carry the same key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dui_app::outbox::{Delivery, Outgoing, Sending, Transport, Worker, WorkerConfig};
use dui_domain::TenantId;
use dui_domain::outbox::{Backoff, NewMessage};
use dui_domain::scope::TenantScope;
use dui_storage::Mode;

use crate::rng::Rng;

const CHANNEL: &str = "chaos";

/// Records each delivery; takes each key once.
#[derive(Default)]
struct Recipient {
    deliveries: Mutex<HashMap<String, u32>>,
    rng: Mutex<Option<Rng>>,
}

impl Transport for Recipient {
    fn channel(&self) -> &str {
        CHANNEL
    }

    fn send<'a>(&'a self, message: &'a Outgoing) -> Sending<'a> {
        Box::pin(async move {
            // The network's way there, the recipient's work, the way back: a crash may come in
            // any of them.
            let (there, back) = {
                let mut rng = self.rng.lock().expect("the recipient's generator");
                let rng = rng.get_or_insert_with(|| Rng::new(11));
                (rng.below(40), rng.below(40))
            };
            tokio::time::sleep(Duration::from_millis(there)).await;
            *self.deliveries.lock().expect("the deliveries").entry(message.idempotency_key.clone()).or_insert(0) += 1;
            tokio::time::sleep(Duration::from_millis(back)).await;
            Ok(Delivery { receipt: Some(format!("recu-{}", message.idempotency_key)) })
        }) as Sending<'a>
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct OutboxReport {
    pub enqueued: u64,
    /// Workers stopped dead.
    pub worker_kills: u64,
    /// Messages the outbox records as sent.
    pub sent: u64,
    /// Messages in another state at the end (pending, sending, failed).
    pub not_sent: u64,
    /// Keys the recipient never received.
    pub lost: u64,
    /// Deliveries beyond the first of a key: resends the recipient recognised.
    pub resent: u64,
    /// Seconds from the last kill to the last message sent.
    pub drained_seconds: f64,
}

fn worker_config() -> WorkerConfig {
    WorkerConfig {
        batch: 10,
        tenants_per_pass: 50,
        lease: Duration::from_secs(2),
        send_timeout: Duration::from_secs(1),
        backoff: Backoff { base: Duration::from_millis(200), max: Duration::from_secs(1) },
        poll: Duration::from_millis(100),
    }
}

pub async fn run(
    config: &dui::config::Config,
    tenant: TenantId,
    owner_url: &str,
    messages: u64,
    kills: u64,
    seed: u64,
) -> anyhow::Result<OutboxReport> {
    let recipient = Arc::new(Recipient::default());
    let db_config = dui::server::db_config(config)?;
    let producer = dui_storage::Db::new(&db_config)?;
    let scope = TenantScope::console(tenant);
    let mut rng = Rng::derive(seed, &[77]);
    let pace = Duration::from_millis(20);
    let enqueue = {
        let producer = producer.clone();
        tokio::spawn(async move {
            for n in 0..messages {
                let message = NewMessage {
                    resident: None,
                    establishment: None,
                    channel: CHANNEL.to_owned(),
                    kind: "chaos.document".to_owned(),
                    idempotency_key: format!("chaos-{n}"),
                    content_type: "text/plain".to_owned(),
                    payload: format!("Document de contrôle {n}").into_bytes(),
                    max_attempts: 100,
                };
                let mut tries = 0;
                loop {
                    let mut tx = producer.begin(&scope, Mode::Write);
                    let queued = match dui_app::outbox::enqueue(&mut tx, message.clone()).await {
                        Ok(_) => tx.commit().await.map_err(|e| e.to_string()),
                        Err(error) => Err(error.to_string()),
                    };
                    match queued {
                        Ok(()) => break,
                        Err(error) if tries >= 100 => anyhow::bail!("message {n} could not be enqueued: {error}"),
                        Err(_) => tries += 1,
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                tokio::time::sleep(pace).await;
            }
            Ok(())
        })
    };
    // A worker with its own pool and change listener, as in a process of its own; stopped dead
    // by aborting both and closing the pool.
    let start_worker =
        |recipient: Arc<Recipient>| -> anyhow::Result<(dui_storage::Db, [tokio::task::JoinHandle<()>; 2])> {
            let db = dui_storage::Db::new(&db_config)?;
            let app = dui_app::App::new(db.clone(), dui_app::AppConfig::default());
            let worker = Worker::new(app, vec![recipient as Arc<dyn Transport>], worker_config());
            let listener = db.spawn_listener();
            let running = tokio::spawn(worker.run(std::future::pending()));
            Ok((db, [running, listener]))
        };
    let stop_dead = |db: dui_storage::Db, tasks: [tokio::task::JoinHandle<()>; 2]| async move {
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
        db.close();
    };
    let mut killed = 0;
    for _ in 0..kills {
        let (db, tasks) = start_worker(recipient.clone())?;
        tokio::time::sleep(Duration::from_millis(150 + rng.below(900))).await;
        stop_dead(db, tasks).await;
        killed += 1;
    }
    enqueue.await??;
    let last_kill = Instant::now();
    let (db, tasks) = start_worker(recipient.clone())?;
    let (owner, connection) = tokio_postgres::connect(owner_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    // Row-level security applies to the owner too: the tenant is set for the session.
    owner.execute("SELECT set_config('app.tenant_id', $1, false)", &[&tenant.to_string()]).await?;
    let count = |status: &'static str| {
        let owner = &owner;
        async move {
            let row = owner
                .query_one(
                    "SELECT count(*) FROM outbox_messages WHERE channel = $1 AND status = $2",
                    &[&CHANNEL, &status],
                )
                .await?;
            Ok::<i64, anyhow::Error>(row.get(0))
        }
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut sent = 0;
    while Instant::now() < deadline {
        sent = count("sent").await? as u64;
        if sent >= messages {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drained = last_kill.elapsed().as_secs_f64();
    stop_dead(db, tasks).await;
    producer.close();
    let deliveries = recipient.deliveries.lock().expect("the deliveries").clone();
    let lost = (0..messages).filter(|n| !deliveries.contains_key(&format!("chaos-{n}"))).count() as u64;
    let resent = deliveries.values().map(|c| u64::from(c.saturating_sub(1))).sum();
    Ok(OutboxReport {
        enqueued: messages,
        worker_kills: killed,
        sent,
        not_sent: messages.saturating_sub(sent),
        lost,
        resent,
        drained_seconds: drained,
    })
}
