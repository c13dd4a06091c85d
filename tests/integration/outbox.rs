//! The outbox: messages enqueued with the change that causes them, sent by workers through a
//! transport, retried with backoff, failed for good when refused, followed, retried and
//! cancelled by people; two workers never send the same message, and a worker that stops
//! mid-send is replaced once its lease runs out.
//!
//! The transport is a fake peer: the real ones (DMP, MSSanté) come with their channels. It
//! deduplicates on the idempotency key, as a real recipient does.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dui_app::outbox::{Delivery, Outgoing, SendError, Sending, Transport, Worker, WorkerConfig};
use dui_domain::outbox::{Backoff, DEFAULT_MAX_ATTEMPTS, NewMessage, OutboxMessage};
use dui_domain::people::Role;
use dui_domain::scope::TenantScope;
use dui_domain::{ResidentId, TenantId};
use dui_storage::Mode;
use dui_testkit::{TestApp, TestTenant};
use serde_json::{Value, json};

use crate::residents::{admit, identity};

/// What the fake peer does with one call.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Take(&'static str),
    Later(&'static str),
    Refuse(&'static str),
    /// Never answers (the worker is stopped meanwhile, or times out).
    Hang,
}

/// A recipient: answers as scripted (then takes everything), records each call, and takes each
/// idempotency key once.
#[derive(Default)]
pub(crate) struct Peer {
    script: Mutex<VecDeque<Answer>>,
    calls: Mutex<Vec<(String, i32, Vec<u8>)>>,
    taken: Mutex<HashMap<String, usize>>,
    started: tokio::sync::Notify,
}

impl Peer {
    pub(crate) fn scripted(answers: &[Answer]) -> Arc<Self> {
        Arc::new(Self { script: Mutex::new(answers.iter().cloned().collect()), ..Self::default() })
    }

    fn calls(&self) -> Vec<(String, i32)> {
        self.calls.lock().unwrap().iter().map(|(key, attempt, _)| (key.clone(), *attempt)).collect()
    }

    fn taken(&self) -> HashMap<String, usize> {
        self.taken.lock().unwrap().clone()
    }
}

impl Transport for Peer {
    fn channel(&self) -> &str {
        "fake"
    }

    fn send<'a>(&'a self, message: &'a Outgoing) -> Sending<'a> {
        Box::pin(async move {
            self.calls.lock().unwrap().push((
                message.idempotency_key.clone(),
                message.attempt,
                message.payload.clone(),
            ));
            self.started.notify_waiters();
            let answer = self.script.lock().unwrap().pop_front().unwrap_or(Answer::Take("ok"));
            match answer {
                Answer::Take(receipt) => {
                    // A recipient takes a key once: a second delivery of it is acknowledged, not kept twice.
                    self.taken.lock().unwrap().entry(message.idempotency_key.clone()).or_insert(1);
                    Ok(Delivery { receipt: Some(format!("{receipt}-{}", message.idempotency_key)) })
                }
                Answer::Later(why) => Err(SendError::Retryable(why.to_owned())),
                Answer::Refuse(why) => Err(SendError::Permanent(why.to_owned())),
                Answer::Hang => std::future::pending().await,
            }
        })
    }
}

fn config() -> WorkerConfig {
    WorkerConfig {
        batch: 10,
        tenants_per_pass: 50,
        lease: Duration::from_millis(1500),
        send_timeout: Duration::from_millis(1000),
        backoff: Backoff { base: Duration::from_millis(200), max: Duration::from_millis(400) },
        poll: Duration::from_millis(100),
    }
}

pub(crate) fn worker(app: &TestApp, peer: &Arc<Peer>) -> Worker {
    Worker::new(app.app(), vec![peer.clone() as Arc<dyn Transport>], config())
}

pub(crate) fn message(resident: Option<ResidentId>, key: &str) -> NewMessage {
    NewMessage {
        resident,
        establishment: None,
        channel: "fake".to_owned(),
        kind: "fake.document".to_owned(),
        idempotency_key: key.to_owned(),
        content_type: "text/plain".to_owned(),
        payload: format!("Compte rendu confidentiel {key}").into_bytes(),
        max_attempts: DEFAULT_MAX_ATTEMPTS,
    }
}

/// Enqueues in a transaction of its own, as a use case does in its.
pub(crate) async fn enqueue(app: &TestApp, tenant: TenantId, new: NewMessage) -> OutboxMessage {
    let scope = TenantScope::console(tenant);
    let mut tx = app.store.begin(&scope, Mode::Write);
    let queued = dui_app::outbox::enqueue(&mut tx, new).await.unwrap();
    tx.commit().await.unwrap();
    queued
}

/// Rows read as the owner inside the tenant (row-level security is forced on the owner too).
async fn as_owner(app: &TestApp, tenant: TenantId, sql: &str) -> Vec<tokio_postgres::Row> {
    let mut owner = app.db.connect(&app.db.owner_url).await;
    let tx = owner.transaction().await.unwrap();
    tx.execute("SELECT set_config('app.tenant_id', $1, true)", &[&tenant.to_string()]).await.unwrap();
    tx.query(sql, &[]).await.unwrap()
}

async fn resident(app: &TestApp, tenant: &TestTenant, name: &str) -> ResidentId {
    let created = admit(app, tenant, json!({"identity": identity(name, "Jeanne", "1938-05-06")})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.json["id"].as_str().unwrap().parse().unwrap()
}

async fn detail(app: &TestApp, tenant: &TestTenant, id: impl std::fmt::Display) -> Value {
    let found = app.get(&format!("/api/v1/outbox/{id}"), &tenant.admin.token).await;
    assert_eq!(found.status, 200, "{}", found.text);
    found.json
}

fn outcomes(detail: &Value) -> Vec<&str> {
    detail["attempt_log"].as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap_or("running")).collect()
}

#[tokio::test]
async fn a_message_leaves_once_with_the_change_that_caused_it() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let person = resident(&app, &tenant, "Envoi").await;

    // Enqueued in a transaction that rolls back: nothing leaves.
    let scope = TenantScope::console(tenant.id);
    let mut tx = app.store.begin(&scope, Mode::Write);
    dui_app::outbox::enqueue(&mut tx, message(Some(person), "rolled-back")).await.unwrap();
    tx.rollback().await.unwrap();
    // Enqueued twice with one key: one message.
    let queued = enqueue(&app, tenant.id, message(Some(person), "doc-1")).await;
    let again = enqueue(&app, tenant.id, message(Some(person), "doc-1")).await;
    assert_eq!(queued.id, again.id);
    assert_eq!(queued.status.as_str(), "pending");
    // A bad message is a bug of its use case, named field by field.
    let scope = TenantScope::console(tenant.id);
    let mut tx = app.store.begin(&scope, Mode::Write);
    let bad = NewMessage { channel: "Not A Channel".to_owned(), ..message(None, "x") };
    assert!(matches!(dui_app::outbox::enqueue(&mut tx, bad).await, Err(dui_app::AppError::Invalid(_))));
    drop(tx);

    // The content is sealed at rest.
    let stored = as_owner(&app, tenant.id, "SELECT payload FROM outbox_messages").await;
    assert_eq!(stored.len(), 1, "the rolled back message is not there");
    let bytes: Vec<u8> = stored[0].get(0);
    assert!(!String::from_utf8_lossy(&bytes).contains("Compte rendu"), "sealed");

    let peer = Peer::scripted(&[Answer::Take("DMP")]);
    assert_eq!(worker(&app, &peer).pass().await.unwrap(), 1);
    assert_eq!(worker(&app, &peer).pass().await.unwrap(), 0, "sent once");
    let calls = peer.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert_eq!((calls[0].0.as_str(), calls[0].1), ("doc-1", 1));
    assert_eq!(calls[0].2, b"Compte rendu confidentiel doc-1", "the content as it was enqueued");

    let sent = detail(&app, &tenant, queued.id).await;
    assert_eq!((sent["status"].as_str(), sent["receipt"].as_str()), (Some("sent"), Some("DMP-doc-1")));
    assert_eq!(outcomes(&sent), ["sent"]);
    assert!(sent["sent_at"].is_string() && sent["next_attempt_at"].is_null());
    // The sending is in the person's trail, by the system.
    let report = app.get(&format!("/api/v1/residents/{person}/access-report"), &tenant.admin.token).await;
    let sends: Vec<&Value> = report.json.as_array().unwrap().iter().filter(|e| e["action"] == "outbox.send").collect();
    assert_eq!(sends.len(), 1, "{}", report.text);
    assert_eq!(sends[0]["actor_kind"], "system");

    // People follow it: the tenant's list, the person's, the message itself.
    let listed = app.get("/api/v1/outbox?status=sent", &tenant.admin.token).await;
    assert_eq!(listed.json["items"][0]["id"], json!(queued.id), "{}", listed.text);
    let none = app.get("/api/v1/outbox?status=pending", &tenant.admin.token).await;
    assert_eq!(none.json["items"], json!([]));
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let of_person = app.get(&format!("/api/v1/residents/{person}/outbox"), &nurse.token).await;
    assert_eq!(of_person.json[0]["status"], "sent", "{}", of_person.text);
    app.get("/api/v1/outbox", &nurse.token).await.problem(403);
    app.get("/api/v1/outbox?status=lost", &tenant.admin.token).await.problem(400);
    // Another tenant sees none of it.
    let other = app.tenant("Beta").await;
    app.get(&format!("/api/v1/outbox/{}", queued.id), &other.admin.token).await.problem(404);
    app.post(&format!("/api/v1/outbox/{}/cancel", queued.id), &other.admin.token, json!({})).await.problem(404);
    app.get(&format!("/api/v1/residents/{person}/outbox"), &other.admin.token).await.problem(404);
    let theirs = app.get("/api/v1/outbox", &other.admin.token).await;
    assert_eq!(theirs.json["items"], json!([]));
    // Nothing is done to a message that left.
    app.post(&format!("/api/v1/outbox/{}/cancel", queued.id), &tenant.admin.token, json!({})).await.problem(409);
    app.post(&format!("/api/v1/outbox/{}/retry", queued.id), &tenant.admin.token, json!({})).await.problem(409);
}

#[tokio::test]
async fn retryable_failures_wait_longer_each_time_and_used_up_attempts_fail() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let peer = Peer::scripted(&[Answer::Later("503 busy"), Answer::Later("timeout"), Answer::Take("ok")]);
    let worker = worker(&app, &peer);
    let queued = enqueue(&app, tenant.id, message(None, "later")).await;

    assert_eq!(worker.pass().await.unwrap(), 1);
    let waiting = detail(&app, &tenant, queued.id).await;
    assert_eq!((waiting["status"].as_str(), waiting["last_error"].as_str()), (Some("pending"), Some("503 busy")));
    let next: chrono::DateTime<chrono::Utc> = waiting["next_attempt_at"].as_str().unwrap().parse().unwrap();
    let updated: chrono::DateTime<chrono::Utc> = waiting["updated_at"].as_str().unwrap().parse().unwrap();
    let wait = (next - updated).num_milliseconds();
    assert!((95..=250).contains(&wait), "the first retry waits half to all of the base: {wait} ms");
    assert_eq!(worker.pass().await.unwrap(), 0, "not before its time");
    for _ in 0..40 {
        worker.pass().await.unwrap();
        if detail(&app, &tenant, queued.id).await["status"] == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = detail(&app, &tenant, queued.id).await;
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(outcomes(&sent), ["retryable", "retryable", "sent"]);
    assert_eq!(sent["attempts"], 3);
    assert!(sent["last_error"].is_null(), "a sent message carries no error");
    assert_eq!(peer.calls(), [("later".into(), 1), ("later".into(), 2), ("later".into(), 3)], "the same key each time");

    // Two attempts allowed, both failing: failed, and a person sends it again.
    let peer = Peer::scripted(&[Answer::Later("down"), Answer::Later("down"), Answer::Later("down")]);
    let worker = self::worker(&app, &peer);
    let short = enqueue(&app, tenant.id, NewMessage { max_attempts: 2, ..message(None, "short") }).await;
    for _ in 0..40 {
        worker.pass().await.unwrap();
        if detail(&app, &tenant, short.id).await["status"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let failed = detail(&app, &tenant, short.id).await;
    assert_eq!((failed["status"].as_str(), failed["attempts"].as_i64()), (Some("failed"), Some(2)), "{failed}");
    assert_eq!(worker.pass().await.unwrap(), 0, "a failed message waits for a person");
    let retried = app.post(&format!("/api/v1/outbox/{}/retry", short.id), &tenant.admin.token, json!({})).await;
    assert_eq!(retried.json["status"], "pending", "{}", retried.text);
    assert_eq!(worker.pass().await.unwrap(), 1, "due at once, with a new allowance");
    let after = detail(&app, &tenant, short.id).await;
    assert_eq!(outcomes(&after), ["retryable", "retryable", "retryable"]);
    assert_eq!(after["status"], "pending", "one attempt of the new allowance is left");
}

#[tokio::test]
async fn a_refusal_fails_at_once_and_people_retry_or_cancel() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let peer = Peer::scripted(&[Answer::Refuse("400 invalid document")]);
    let worker = worker(&app, &peer);
    let refused = enqueue(&app, tenant.id, message(None, "refused")).await;
    assert_eq!(worker.pass().await.unwrap(), 1);
    let failed = detail(&app, &tenant, refused.id).await;
    assert_eq!((failed["status"].as_str(), failed["attempts"].as_i64()), (Some("failed"), Some(1)));
    assert_eq!(failed["last_error"], "400 invalid document");
    assert_eq!(outcomes(&failed), ["permanent"]);

    // Directors follow the messages of their establishments; the tenant's own are the
    // administrators'. Carers do not.
    let director = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Director)]).await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let path = format!("/api/v1/outbox/{}/retry", refused.id);
    app.post(&path, &nurse.token, json!({})).await.problem(403);
    app.post(&path, &director.token, json!({})).await.problem(404);
    let here = enqueue(
        &app,
        tenant.id,
        NewMessage { establishment: Some(tenant.establishments[0].id), ..message(None, "from-the-ehpad") },
    )
    .await;
    let listed = app.get("/api/v1/outbox", &director.token).await;
    let ids: Vec<&Value> = listed.json["items"].as_array().unwrap().iter().map(|m| &m["id"]).collect();
    assert_eq!(ids, [&json!(here.id)], "{}", listed.text);

    // Cancelled: it will not be sent; cancelling is not undone by a retry.
    let cancelled = app.post(&format!("/api/v1/outbox/{}/cancel", here.id), &director.token, json!({})).await;
    assert_eq!(cancelled.json["status"], "cancelled", "{}", cancelled.text);
    assert_eq!(cancelled.json["cancelled_by"], json!(director.id));
    app.post(&format!("/api/v1/outbox/{}/retry", here.id), &director.token, json!({})).await.problem(409);
    // The failed one is sent again by an administrator, and taken.
    let retried = app.post(&path, &tenant.admin.token, json!({})).await;
    assert_eq!(retried.json["status"], "pending", "{}", retried.text);
    assert_eq!(worker.pass().await.unwrap(), 1, "the cancelled message is not sent");
    assert_eq!(detail(&app, &tenant, refused.id).await["status"], "sent");
    assert_eq!(peer.calls(), [("refused".into(), 1), ("refused".into(), 2)]);
    app.post(&format!("/api/v1/outbox/{}/retry", uuid::Uuid::now_v7()), &tenant.admin.token, json!({}))
        .await
        .problem(404);

    // Each action is in the trail.
    let actions: Vec<String> = as_owner(
        &app,
        tenant.id,
        "SELECT action FROM audit_events WHERE action LIKE 'outbox.%' AND action <> 'outbox.view' ORDER BY id",
    )
    .await
    .iter()
    .map(|r| r.get(0))
    .collect();
    assert_eq!(
        actions,
        ["outbox.enqueue", "outbox.enqueue", "outbox.list", "outbox.cancel", "outbox.retry", "outbox.send"],
        "{actions:?}"
    );
}

#[tokio::test]
async fn two_workers_never_send_the_same_message() {
    let app = TestApp::spawn().await;
    let alpha = app.tenant("Alpha").await;
    let beta = app.tenant("Beta").await;
    for n in 0..30 {
        let tenant = if n % 2 == 0 { alpha.id } else { beta.id };
        enqueue(&app, tenant, message(None, &format!("m{n}"))).await;
    }
    let peer = Peer::scripted(&[]);
    let (one, two) = (worker(&app, &peer), worker(&app, &peer));
    let (mut first, mut second) = (0, 0);
    for _ in 0..10 {
        let (a, b) = tokio::join!(one.pass(), two.pass());
        first += a.unwrap();
        second += b.unwrap();
    }
    assert_eq!(first + second, 30, "every message attempted once: {first} + {second}");
    assert!(first > 0 && second > 0, "both worked: {first} + {second}");
    let calls = peer.calls();
    assert_eq!(calls.len(), 30);
    assert!(calls.iter().all(|(_, attempt)| *attempt == 1), "no message was sent twice: {calls:?}");
    assert_eq!(peer.taken().len(), 30);
    let owner = app.db.connect(&app.db.owner_url).await;
    let left: i64 = owner.query_one("SELECT count(*) FROM outbox_due", &[]).await.unwrap().get(0);
    assert_eq!(left, 0, "nothing is due any more: the doorbells are down");
}

#[tokio::test]
async fn a_worker_stopped_mid_send_is_replaced_once_its_lease_runs_out() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let queued = enqueue(&app, tenant.id, message(None, "interrupted")).await;
    let peer = Peer::scripted(&[Answer::Hang]);
    let stopped = worker(&app, &peer);
    let started = peer.started.notified();
    let task = tokio::spawn(async move { stopped.pass().await });
    started.await;
    task.abort();
    let _ = task.await;
    let sending = detail(&app, &tenant, queued.id).await;
    assert_eq!(sending["status"], "sending");
    assert_eq!(outcomes(&sending), ["running"]);

    let replacement = worker(&app, &peer);
    assert_eq!(replacement.pass().await.unwrap(), 0, "the lease still holds");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(replacement.pass().await.unwrap(), 1, "taken over");
    let sent = detail(&app, &tenant, queued.id).await;
    assert_eq!(sent["status"], "sent", "{sent}");
    assert_eq!(outcomes(&sent), ["abandoned", "sent"]);
    let log = sent["attempt_log"].as_array().unwrap();
    assert_ne!(log[0]["worker"], log[1]["worker"]);
    // The recipient saw the same key twice, and kept the message once.
    assert_eq!(peer.calls(), [("interrupted".into(), 1), ("interrupted".into(), 2)]);
    assert_eq!(peer.taken(), HashMap::from([("interrupted".to_owned(), 1)]));
}

#[tokio::test]
async fn a_send_that_does_not_answer_times_out_and_is_retried() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let queued = enqueue(&app, tenant.id, message(None, "slow")).await;
    let peer = Peer::scripted(&[Answer::Hang]);
    assert_eq!(worker(&app, &peer).pass().await.unwrap(), 1);
    let waiting = detail(&app, &tenant, queued.id).await;
    assert_eq!(waiting["status"], "pending");
    assert_eq!(waiting["last_error"], "no answer within 1 s");
    assert_eq!(outcomes(&waiting), ["retryable"]);
}

#[tokio::test]
async fn the_server_runs_its_workers_and_a_message_leaves_without_waiting_for_the_poll() {
    let peer = Peer::scripted(&[]);
    let exchanges = dui::server::Exchanges {
        transports: vec![peer.clone() as Arc<dyn Transport>],
        workers: 2,
        config: WorkerConfig { poll: Duration::from_secs(60), ..config() },
    };
    let app = TestApp::spawn_exchanging(exchanges).await;
    let tenant = app.tenant("Alpha").await;
    // Let the workers make their first pass and start waiting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let queued = enqueue(&app, tenant.id, message(None, "rung")).await;
    // Rung on commit (the listener hears it): sent well before the one-minute poll.
    let mut status = Value::Null;
    for _ in 0..100 {
        status = detail(&app, &tenant, queued.id).await["status"].clone();
        if status == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "sent");
    assert_eq!(peer.calls(), [("rung".into(), 1)]);
}
