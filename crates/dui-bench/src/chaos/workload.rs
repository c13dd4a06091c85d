//! The writers of the campaign and their ledger. Each writer records, at a steady pace, notes,
//! measurements, task records and assessments through the API, each with its own idempotency
//! key; a write that gets no answer (the server killed, the database away) is sent again with
//! the same key and body until it is acknowledged. Every acknowledged write goes in the ledger
//! with the id the server gave and the hash of its content; every attempt goes in the timeline,
//! from which the error windows of each fault are read. [`verify`] reads everything back.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Note,
    Measurement,
    TaskRecord,
    Assessment,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Note, Kind::Measurement, Kind::TaskRecord, Kind::Assessment];

    fn path(self) -> &'static str {
        match self {
            Kind::Note => "notes",
            Kind::Measurement => "measurements",
            Kind::TaskRecord => "tasks",
            Kind::Assessment => "assessments",
        }
    }

    /// The hash of what a write of this kind says, from its request or from what the server
    /// gives back: both must agree.
    fn content_hash(self, value: &Value) -> Option<String> {
        let text = match self {
            Kind::Note => format!("note|{}", value["text"].as_str()?),
            Kind::Measurement => format!(
                "{}|{:.1}|{}",
                value["kind"].as_str()?,
                value["value"].as_f64()?,
                instant(&value["measured_at"])?.timestamp()
            ),
            Kind::TaskRecord => format!(
                "task|{}|{}|{}|{}",
                value["plan_version_id"].as_str()?,
                value["action_id"].as_str()?,
                instant(&value["scheduled_for"])?.timestamp(),
                value["status"].as_str()?
            ),
            Kind::Assessment => format!(
                "{}|{}|{}",
                value["instrument"].as_str()?,
                value["assessed_on"].as_str()?,
                canonical(&value["answers"])
            ),
        };
        Some(hex(&Sha256::digest(text.as_bytes())))
    }

    /// The field of an item the server gives back that tells when it was recorded.
    fn recorded_at(self) -> &'static str {
        match self {
            Kind::Note => "written_at",
            Kind::Measurement | Kind::TaskRecord => "recorded_at",
            Kind::Assessment => "created_at",
        }
    }
}

fn instant(value: &Value) -> Option<DateTime<Utc>> {
    value.as_str()?.parse().ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// JSON with its object keys sorted at every level.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, String> = map.iter().map(|(k, v)| (k, canonical(v))).collect();
            let fields: Vec<String> = sorted.iter().map(|(k, v)| format!("{}:{v}", Value::from(k.as_str()))).collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// An acknowledged write.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Entry {
    pub kind: Kind,
    pub resident: Uuid,
    pub id: String,
    pub hash: String,
    pub key: String,
    /// Attempts it took (1: answered at once).
    pub attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Acknowledged,
    Status(u16),
    /// No connection could be made (the server down, or its listener closed).
    Unreachable,
    /// The connection broke, or the answer did not come in time.
    Broken,
}

/// One attempt: when it started and ended (seconds since the campaign's start) and how.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    pub start: f64,
    pub end: f64,
    pub outcome: Outcome,
}

/// Something that must never happen.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Anomaly {
    pub what: String,
}

/// An occurrence of a task of the plan that a writer may record.
#[derive(Debug, Clone)]
struct Occurrence {
    plan_version_id: String,
    action_id: String,
    scheduled_for: String,
}

#[derive(Debug)]
pub struct Workload {
    pub client: reqwest::Client,
    pub base: String,
    pub token: String,
    pub residents: Vec<Uuid>,
    pub establishment: Uuid,
    pub origin: Instant,
    /// The wall-clock time of the origin: measurements are dated back from it, one minute apart.
    pub origin_time: DateTime<Utc>,
    sequence: AtomicU64,
    occurrences: Mutex<(VecDeque<Occurrence>, NaiveDate)>,
    /// Occurrences recorded, with their first record: amended once the next day's are used up.
    recorded: Mutex<Vec<(String, Occurrence)>>,
    pub ledger: Mutex<Vec<Entry>>,
    pub timeline: Mutex<Vec<Attempt>>,
    pub anomalies: Mutex<Vec<Anomaly>>,
    /// No new write once set (those under way are carried to their acknowledgement).
    pub stopping: AtomicBool,
    /// Writes given up at the hard deadline, unacknowledged.
    pub abandoned: AtomicU64,
}

impl Workload {
    pub fn new(base: String, token: String, residents: Vec<Uuid>, establishment: Uuid) -> Arc<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(45))
            .connect_timeout(Duration::from_secs(2))
            .pool_max_idle_per_host(64)
            .build()
            .expect("an HTTP client");
        let today = Utc::now().date_naive();
        Arc::new(Self {
            client,
            base,
            token,
            residents,
            establishment,
            origin: Instant::now(),
            origin_time: Utc::now(),
            sequence: AtomicU64::new(0),
            // Tasks are recorded for the coming day (a task is not recorded as done earlier than a
            // day before its time): each occurrence once, then amended.
            occurrences: Mutex::new((VecDeque::new(), today)),
            recorded: Mutex::new(Vec::new()),
            ledger: Mutex::new(Vec::new()),
            timeline: Mutex::new(Vec::new()),
            anomalies: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            abandoned: AtomicU64::new(0),
        })
    }

    pub fn now(&self) -> f64 {
        self.origin.elapsed().as_secs_f64()
    }

    async fn anomaly(&self, what: String) {
        eprintln!("ANOMALY: {what}");
        self.anomalies.lock().await.push(Anomaly { what });
    }

    /// Writers at `rate` writes per second in all, until [`Workload::stopping`] is set.
    pub fn spawn_writers(self: &Arc<Self>, writers: usize, rate: f64, seed: u64) -> Vec<tokio::task::JoinHandle<()>> {
        (0..writers)
            .map(|w| {
                let this = self.clone();
                let period = Duration::from_secs_f64(writers as f64 / rate);
                tokio::spawn(async move {
                    let mut rng = Rng::derive(seed, &[w as u64]);
                    let mut tick = tokio::time::interval(period);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    while !this.stopping.load(Ordering::Relaxed) {
                        tick.tick().await;
                        this.write_one(&mut rng).await;
                    }
                })
            })
            .collect()
    }

    /// `count` writes sent at once, beside the steady ones (to have requests in flight at a
    /// chosen moment).
    pub fn burst(self: &Arc<Self>, count: usize, seed: u64) -> Vec<tokio::task::JoinHandle<()>> {
        (0..count)
            .map(|i| {
                let this = self.clone();
                tokio::spawn(async move {
                    let mut rng = Rng::derive(seed, &[1_000_000 + i as u64]);
                    this.write_one(&mut rng).await;
                })
            })
            .collect()
    }

    async fn write_one(&self, rng: &mut Rng) {
        let n = self.sequence.fetch_add(1, Ordering::Relaxed);
        let resident = *rng.pick(&self.residents);
        let kind = match rng.below(20) {
            0..=7 => Kind::Note,
            8..=13 => Kind::Measurement,
            14..=16 => Kind::TaskRecord,
            _ => Kind::Assessment,
        };
        let body = match kind {
            Kind::Note => json!({
                "text": format!("Transmission de contrôle n° {n} : {}", rng.pick(PHRASES)),
                "scope": "whole_team"
            }),
            Kind::Measurement => {
                let at = self.origin_time - chrono::Duration::minutes(n as i64 + 1);
                json!({"kind": "weight", "value": 40.0 + rng.below(600) as f64 / 10.0,
                       "measured_at": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)})
            }
            Kind::TaskRecord => {
                let occurrence = match self.occurrence().await {
                    Some(next) => next,
                    None => return self.amend_one(rng, n).await,
                };
                let body = json!({"plan_version_id": occurrence.plan_version_id, "action_id": occurrence.action_id,
                       "scheduled_for": occurrence.scheduled_for, "status": "done"});
                let Some(hash) = kind.content_hash(&body) else { return };
                if let Some(id) = self.send(kind, self.residents[0], "tasks".to_owned(), body, hash).await {
                    self.recorded.lock().await.push((id, occurrence));
                }
                return;
            }
            Kind::Assessment => {
                let codes = ["A", "B", "C"];
                let mut pick = || *rng.pick(&codes);
                let variables = json!({
                    "coherence": pick(), "orientation": pick(), "toilette": {"haut": pick(), "bas": pick()},
                    "habillage": pick(), "alimentation": pick(), "elimination": pick(), "transferts": pick(),
                    "deplacement_interieur": pick(), "deplacement_exterieur": pick(), "alerter": pick()});
                let day = self.origin_time.date_naive() - chrono::Days::new(n % 300);
                json!({"instrument": "aggir", "assessed_on": day.to_string(), "answers": {"variables": variables}})
            }
        };
        // The task record's target resident is the one whose plan has the occurrence.
        let resident = if kind == Kind::TaskRecord { self.residents[0] } else { resident };
        let Some(hash) = kind.content_hash(&body) else {
            self.anomaly(format!("the generator built a {kind:?} it cannot hash: {body}")).await;
            return;
        };
        self.send(kind, resident, kind.path().to_owned(), body, hash).await;
    }

    /// Amends the record of an occurrence recorded earlier (done, or not done with a reason).
    async fn amend_one(&self, rng: &mut Rng, n: u64) {
        let picked = {
            let recorded = self.recorded.lock().await;
            if recorded.is_empty() {
                return;
            }
            recorded[rng.below(recorded.len() as u64) as usize].clone()
        };
        let (id, occurrence) = picked;
        let status = if n.is_multiple_of(2) { "done" } else { "not_done" };
        let mut body = json!({"status": status});
        if status == "not_done" {
            body["reason"] = json!(format!("Reportée, contrôle n° {n}"));
        }
        let described = json!({"plan_version_id": occurrence.plan_version_id, "action_id": occurrence.action_id,
                               "scheduled_for": occurrence.scheduled_for, "status": status});
        let Some(hash) = Kind::TaskRecord.content_hash(&described) else { return };
        self.send(Kind::TaskRecord, self.residents[0], format!("tasks/{id}/amendments"), body, hash).await;
    }

    /// Sends one write to `path` (under the resident) until it is acknowledged (same key, same
    /// body), or until the hard deadline of two minutes after the stop. The id acknowledged.
    async fn send(&self, kind: Kind, resident: Uuid, path: String, body: Value, hash: String) -> Option<String> {
        let key = Uuid::new_v4().to_string();
        let url = format!("{}/api/v1/residents/{resident}/{path}", self.base);
        let mut attempts = 0u32;
        let mut stopped_at: Option<Instant> = None;
        loop {
            attempts += 1;
            let start = self.now();
            let sent = self
                .client
                .post(&url)
                .bearer_auth(&self.token)
                .header("Idempotency-Key", &key)
                .json(&body)
                .send()
                .await;
            let (outcome, answer) = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match response.bytes().await {
                        Ok(bytes) => (
                            if (200..300).contains(&status) { Outcome::Acknowledged } else { Outcome::Status(status) },
                            serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
                        ),
                        Err(_) => (Outcome::Broken, Value::Null),
                    }
                }
                Err(error) if error.is_connect() => (Outcome::Unreachable, Value::Null),
                Err(_) => (Outcome::Broken, Value::Null),
            };
            self.timeline.lock().await.push(Attempt { start, end: self.now(), outcome });
            match outcome {
                Outcome::Acknowledged => {
                    let Some(id) = answer["id"].as_str().map(str::to_owned) else {
                        self.anomaly(format!("a {kind:?} was acknowledged without an id: {answer}")).await;
                        return None;
                    };
                    if kind.content_hash(&answer).as_deref() != Some(hash.as_str()) {
                        self.anomaly(format!("{kind:?} {id} was acknowledged with other content: {answer}")).await;
                    }
                    self.ledger.lock().await.push(Entry { kind, resident, id: id.clone(), hash, key, attempts });
                    return Some(id);
                }
                // The database away, the server shedding load or restarting, a key still held by
                // an attempt that was cut: try again, the same.
                Outcome::Status(429 | 500 | 502 | 503 | 504 | 409) | Outcome::Unreachable | Outcome::Broken => {
                    if let Outcome::Status(status @ (500 | 409)) = outcome {
                        // 409 is the key still in use by an attempt in progress; anything else
                        // under 409 is refused below. 500 is a defect of the server.
                        let kind_of = answer["type"].as_str().unwrap_or_default();
                        if status == 500 || !kind_of.contains("idempotency") {
                            self.anomaly(format!("{kind:?} answered {status}: {answer}")).await;
                            if status == 409 {
                                return None;
                            }
                        }
                    }
                }
                Outcome::Status(status) => {
                    self.anomaly(format!("{kind:?} refused with {status}: {answer} (body {body})")).await;
                    return None;
                }
            }
            if self.stopping.load(Ordering::Relaxed) {
                let since = *stopped_at.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_secs(120) {
                    self.abandoned.fetch_add(1, Ordering::Relaxed);
                    self.anomaly(format!("{kind:?} with key {key} never acknowledged")).await;
                    return None;
                }
            }
            tokio::time::sleep(Duration::from_millis(100 + 50 * u64::from(attempts.min(8)))).await;
        }
    }

    /// The next occurrence of a task nobody recorded, due within the coming 23 hours (today's
    /// and tomorrow's tasks). `None` when they are used up, or while the server cannot say.
    async fn occurrence(&self) -> Option<Occurrence> {
        let mut state = self.occurrences.lock().await;
        let last = self.origin_time.date_naive() + chrono::Days::new(1);
        for _ in 0..3 {
            if state.0.is_empty() && state.1 > last {
                return None;
            }
            if let Some(next) = state.0.pop_front() {
                return Some(next);
            }
            let day = state.1;
            let url = format!("{}/api/v1/establishments/{}/tasks?date={day}", self.base, self.establishment);
            let response = self.client.get(&url).bearer_auth(&self.token).send().await.ok()?;
            if !response.status().is_success() {
                return None;
            }
            let tasks: Value = response.json().await.ok()?;
            let horizon = Utc::now() + chrono::Duration::hours(23);
            for task in tasks.as_array()? {
                // Only the plan's tasks are recorded as task records (a restraint's reassessment
                // is not).
                if task["resident"]["id"].as_str() != Some(self.residents[0].to_string().as_str())
                    || task["kind"] != "care_plan"
                    || !task["record"].is_null()
                    || instant(&task["scheduled_for"]).is_none_or(|at| at > horizon)
                {
                    continue;
                }
                state.0.push_back(Occurrence {
                    plan_version_id: task["plan_version_id"].as_str()?.to_owned(),
                    action_id: task["action_id"].as_str()?.to_owned(),
                    scheduled_for: task["scheduled_for"].as_str()?.to_owned(),
                });
            }
            state.1 = day + chrono::Days::new(1);
        }
        None
    }
}

const PHRASES: &[&str] = &[
    "nuit calme, a dormi jusqu'à 6 h 30.",
    "petit-déjeuner pris en entier, bonne hydratation.",
    "se plaint du genou droit au lever, EVA à 4.",
    "visite de sa fille l'après-midi, très souriante.",
    "a participé à l'atelier mémoire avec plaisir.",
    "refuse la douche ce matin, toilette au lavabo.",
];

/// What reading everything back found.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Verification {
    pub acknowledged: BTreeMap<Kind, u64>,
    pub found: BTreeMap<Kind, u64>,
    /// Acknowledged, not in the database.
    pub lost: u64,
    /// In the database with other content than acknowledged.
    pub altered: u64,
    /// In the database, not in the ledger: a write recorded twice (a retry not recognised).
    pub duplicated: u64,
    /// Two acknowledgements with the same id for different writes.
    pub ledger_collisions: u64,
    /// Writes acknowledged after more than one attempt (retries across a fault).
    pub retried: u64,
    pub details: Vec<String>,
}

/// Reads back, through the API, every item of the campaign's kinds recorded since it started,
/// and compares with the ledger.
pub async fn verify(workload: &Workload) -> anyhow::Result<Verification> {
    let ledger = workload.ledger.lock().await.clone();
    let mut result = Verification::default();
    let mut expected: HashMap<String, &Entry> = HashMap::new();
    for entry in &ledger {
        *result.acknowledged.entry(entry.kind).or_default() += 1;
        if entry.attempts > 1 {
            result.retried += 1;
        }
        if let Some(previous) = expected.insert(entry.id.clone(), entry)
            && previous.hash != entry.hash
        {
            result.ledger_collisions += 1;
            result.details.push(format!("id {} acknowledged for two different writes", entry.id));
        }
    }
    let mut seen: HashSet<String> = HashSet::new();
    for resident in &workload.residents {
        for kind in Kind::ALL {
            for item in read_back(workload, *resident, kind).await? {
                let recorded = instant(&item[kind.recorded_at()]);
                if recorded.is_none_or(|at| at < workload.origin_time) {
                    continue;
                }
                let Some(id) = item["id"].as_str() else { continue };
                if !seen.insert(id.to_owned()) {
                    continue;
                }
                *result.found.entry(kind).or_default() += 1;
                match expected.get(id) {
                    None => {
                        result.duplicated += 1;
                        result.details.push(format!("{kind:?} {id} is recorded but was never acknowledged: {item}"));
                    }
                    Some(entry) if kind.content_hash(&item).as_deref() != Some(entry.hash.as_str()) => {
                        result.altered += 1;
                        result.details.push(format!("{kind:?} {id} holds other content than acknowledged"));
                    }
                    Some(_) => {}
                }
            }
        }
    }
    for entry in &ledger {
        if !seen.contains(&entry.id) {
            result.lost += 1;
            result.details.push(format!("{:?} {} acknowledged and not found", entry.kind, entry.id));
        }
    }
    Ok(result)
}

async fn get(workload: &Workload, url: &str) -> anyhow::Result<Value> {
    let response = workload.client.get(url).bearer_auth(&workload.token).send().await?;
    let status = response.status();
    let body: Value = response.json().await?;
    anyhow::ensure!(status.is_success(), "{url} answered {status}: {body}");
    Ok(body)
}

async fn read_back(workload: &Workload, resident: Uuid, kind: Kind) -> anyhow::Result<Vec<Value>> {
    let base = format!("{}/api/v1/residents/{resident}/{}", workload.base, kind.path());
    let mut items = Vec::new();
    match kind {
        Kind::Note => {
            let mut cursor: Option<String> = None;
            loop {
                let url = match &cursor {
                    Some(c) => format!("{base}?limit=200&cursor={c}"),
                    None => format!("{base}?limit=200"),
                };
                let page = get(workload, &url).await?;
                items.extend(page["items"].as_array().cloned().unwrap_or_default());
                match page["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
            }
        }
        Kind::Measurement => {
            // Dated back from the origin, one minute apart: windows of a day.
            let count = workload.sequence.load(Ordering::Relaxed) as i64;
            let mut to = workload.origin_time + chrono::Duration::minutes(1);
            let earliest = workload.origin_time - chrono::Duration::minutes(count + 2);
            while to > earliest {
                let from = to - chrono::Duration::days(1);
                let url = format!(
                    "{base}?kind=weight&from={}&to={}",
                    from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                );
                items.extend(get(workload, &url.replace('+', "%2B")).await?.as_array().cloned().unwrap_or_default());
                to = from;
            }
        }
        Kind::TaskRecord => {
            let last = workload.occurrences.lock().await.1;
            // From the day before: the establishment's day may start before midnight UTC.
            let mut from = workload.origin_time.date_naive() - chrono::Days::new(1);
            while from <= last {
                let to = (from + chrono::Days::new(90)).min(last + chrono::Days::new(1));
                let url = format!("{base}?from={from}T00:00:00Z&to={to}T00:00:00Z");
                items.extend(get(workload, &url).await?.as_array().cloned().unwrap_or_default());
                from = to;
            }
        }
        Kind::Assessment => {
            items.extend(
                get(workload, &format!("{base}?instrument=aggir")).await?.as_array().cloned().unwrap_or_default(),
            );
        }
    }
    Ok(items)
}
