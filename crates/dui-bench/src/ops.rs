//! The benchmarked operations, through dui (HTTP, each virtual user with its own token and
//! scope) and through the baseline (the same SQL statements with the same parameters and the
//! same transaction shape, sent straight to PostgreSQL by a minimal tokio-postgres client).

use std::sync::Arc;

use dui_domain::audit::AuditAction;
use dui_domain::people::Role;
use dui_domain::scope::{Grant, RequestContext, TenantScope};
use dui_domain::{EstablishmentId, TenantId, UserId};
use dui_storage::args;
use dui_storage::bench::{Statements, WhoParams};
use serde_json::json;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Statement};
use uuid::Uuid;

use crate::load::{Call, Failure, Operation};
use crate::manifest::Manifest;

/// The operations, as named in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    NoteWrite,
    ResidentSummary,
    HandoverFeed,
    AssessmentsRead,
    CarePlanRead,
    ResidentRead,
    ResidentSearch,
}

impl Op {
    pub const ALL: [Op; 7] = [
        Op::NoteWrite,
        Op::ResidentSummary,
        Op::HandoverFeed,
        Op::AssessmentsRead,
        Op::CarePlanRead,
        Op::ResidentRead,
        Op::ResidentSearch,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::NoteWrite => "note write",
            Op::ResidentSummary => "resident summary read",
            Op::HandoverFeed => "hand-over feed (80-resident unit)",
            Op::AssessmentsRead => "assessments read",
            Op::CarePlanRead => "care plan read",
            Op::ResidentRead => "record read by id",
            Op::ResidentSearch => "search by birth name and date",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Op::NoteWrite => "note_write",
            Op::ResidentSummary => "resident_summary",
            Op::HandoverFeed => "handover_feed",
            Op::AssessmentsRead => "assessments_read",
            Op::CarePlanRead => "care_plan_read",
            Op::ResidentRead => "resident_read",
            Op::ResidentSearch => "resident_search",
        }
    }

    /// Share of the shift-change mix: at the change of shift, the team reads the feed, opens
    /// records, and writes its notes; a few look at assessments and plans.
    pub fn mix_weight(self) -> f64 {
        match self {
            Op::NoteWrite => 0.25,
            Op::ResidentSummary => 0.40,
            Op::HandoverFeed => 0.25,
            Op::AssessmentsRead => 0.05,
            Op::CarePlanRead => 0.05,
            // Measured alone: the shift-change mix is the one it always was.
            Op::ResidentRead | Op::ResidentSearch => 0.0,
        }
    }
}

/// A member of staff as the generator plays them.
#[derive(Debug, Clone)]
pub struct VirtualUser {
    pub tenant: Uuid,
    pub user: Uuid,
    pub role: Role,
    pub establishment: Uuid,
    pub unit: Uuid,
    pub residents: Arc<Vec<Uuid>>,
    /// The birth name and birth date of each of `residents` (empty in datasets seeded before
    /// they were kept).
    pub identities: Arc<Vec<(String, chrono::NaiveDate)>>,
    pub token: String,
}

impl VirtualUser {
    pub fn scope(&self) -> TenantScope {
        TenantScope::new(
            TenantId::from_uuid(self.tenant),
            UserId::from_uuid(self.user),
            vec![Grant { establishment: Some(EstablishmentId::from_uuid(self.establishment)), role: self.role }],
        )
        .with_request(RequestContext {
            request_id: Some(Uuid::new_v4().to_string()),
            client_address: Some(std::net::IpAddr::from([127, 0, 0, 1])),
        })
    }

    pub fn resident(&self, i: u64) -> Uuid {
        self.residents[self.index(i)]
    }

    /// The birth name and birth date of [`VirtualUser::resident`]`(i)`.
    pub fn identity(&self, i: u64) -> Result<&(String, chrono::NaiveDate), Failure> {
        self.identities
            .get(self.index(i))
            .ok_or_else(|| Failure::Other("the dataset keeps no birth identities: seed it again to search".to_owned()))
    }

    fn index(&self, i: u64) -> usize {
        // Spread over the residents, not in order (a stride coprime with most sizes).
        (i.wrapping_mul(7919) % self.residents.len() as u64) as usize
    }
}

/// The nurses and care assistants of the chosen tenants (all when `tenants` is empty); only
/// those of each tenant's first establishment (its 80-resident unit) when `first_unit`.
pub fn virtual_users(
    manifest: &Manifest,
    tenants: &[usize],
    first_unit: bool,
    mint: &dyn Fn(Uuid, Uuid) -> String,
) -> Vec<VirtualUser> {
    let mut users = Vec::new();
    for (t, tenant) in manifest.tenants.iter().enumerate() {
        if !tenants.is_empty() && !tenants.contains(&t) {
            continue;
        }
        for (e, establishment) in tenant.establishments.iter().enumerate() {
            if first_unit && e > 0 {
                continue;
            }
            let residents = Arc::new(establishment.residents.clone());
            let identities = Arc::new(establishment.identities.clone());
            for member in &establishment.staff {
                let Some(role) = Role::parse(&member.role) else { continue };
                if !matches!(role, Role::Nurse | Role::CareAssistant) {
                    continue;
                }
                users.push(VirtualUser {
                    tenant: tenant.id,
                    user: member.id,
                    role,
                    establishment: establishment.id,
                    unit: establishment.unit,
                    residents: residents.clone(),
                    identities: identities.clone(),
                    token: mint(tenant.id, member.id),
                });
            }
        }
    }
    users
}

/// What a note written by the generator says (the fields of the request without its scope).
fn note_content(i: u64) -> serde_json::Value {
    let mut body = note_body(i);
    if let Some(fields) = body.as_object_mut() {
        fields.remove("scope");
    }
    body
}

fn note_body(i: u64) -> serde_json::Value {
    if i.is_multiple_of(3) {
        json!({"target": "Douleur", "data": "Se plaint du genou droit au lever, EVA à 4.",
               "actions": "Antalgique selon protocole à 8 h, coussin de positionnement.",
               "results": "EVA à 2 à 9 h, a participé à l'atelier mémoire.", "scope": "care_team"})
    } else {
        json!({"text": "Nuit calme, a dormi jusqu'à 6 h 30. Petit-déjeuner pris en entier, bonne hydratation. \
                        Visite de sa fille l'après-midi, très souriante.", "scope": "whole_team"})
    }
}

/// An operation through dui's HTTP API.
#[derive(Debug)]
pub struct Http {
    pub op: Op,
    pub client: reqwest::Client,
    pub base: String,
    pub users: Arc<Vec<VirtualUser>>,
}

impl Operation for Http {
    fn call(&self, i: u64) -> Call<'_> {
        Box::pin(async move {
            let user = &self.users[(i % self.users.len() as u64) as usize];
            let resident = user.resident(i / self.users.len() as u64);
            let request = match self.op {
                Op::NoteWrite => self
                    .client
                    .post(format!("{}/api/v1/residents/{resident}/notes", self.base))
                    .header("Idempotency-Key", Uuid::new_v4().to_string())
                    .json(&note_body(i)),
                Op::ResidentSummary => self.client.get(format!("{}/api/v1/residents/{resident}/summary", self.base)),
                Op::HandoverFeed => self.client.get(format!(
                    "{}/api/v1/establishments/{}/handover?unit_id={}",
                    self.base, user.establishment, user.unit
                )),
                Op::AssessmentsRead => {
                    self.client.get(format!("{}/api/v1/residents/{resident}/assessments?instrument=aggir", self.base))
                }
                Op::CarePlanRead => self.client.get(format!("{}/api/v1/residents/{resident}/care-plan", self.base)),
                Op::ResidentRead => self.client.get(format!("{}/api/v1/residents/{resident}", self.base)),
                Op::ResidentSearch => {
                    let (birth_name, birth_date) = user.identity(i / self.users.len() as u64)?;
                    self.client
                        .post(format!("{}/api/v1/residents/search", self.base))
                        .json(&json!({"birth_name": birth_name, "birth_date": birth_date}))
                }
            };
            let response = request.bearer_auth(&user.token).send().await.map_err(|e| Failure::Other(e.to_string()))?;
            let status = response.status();
            let body = response.bytes().await.map_err(|e| Failure::Other(e.to_string()))?;
            if status.is_success() {
                Ok(())
            } else if status.as_u16() == 429 {
                Err(Failure::RateLimited)
            } else {
                Err(Failure::Other(format!(
                    "{status}: {}",
                    String::from_utf8_lossy(&body).chars().take(300).collect::<String>()
                )))
            }
        })
    }
}

/// One baseline connection and its prepared statements.
struct Connection {
    client: Client,
    set_tenant: Statement,
    feed_start: Statement,
    handover: Statement,
    summary: Statement,
    summary_alerts: Statement,
    summary_notes: Statement,
    note_context: Statement,
    claim: Statement,
    note_insert: Statement,
    assessments: Statement,
    plan_versions: Statement,
    resident_read: Statement,
    search: Statement,
}

/// The baseline's connections: as many as the server's pool.
pub struct Baseline {
    connections: Vec<Arc<Connection>>,
    idle: std::sync::Mutex<Vec<usize>>,
    available: tokio::sync::Semaphore,
    recent_stay_days: i32,
    statements: Statements,
    /// For sealing the bodies of the notes written, as dui does.
    db: dui_storage::Db,
}

impl std::fmt::Debug for Baseline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Baseline").field("connections", &self.connections.len()).finish()
    }
}

impl Baseline {
    /// As many connections as the server's pool, set as the server sets its own.
    pub async fn connect(
        server: &dui_storage::DbConfig,
        recent_stay_days: i32,
        db: dui_storage::Db,
    ) -> anyhow::Result<Self> {
        let statements: Statements = dui_storage::bench::statements();
        let mut connections = Vec::new();
        let config = dui_storage::bench::connection_config(server)?;
        let size = server.pool_size;
        for _ in 0..size {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(connection);
            let prepare = |sql: &str| {
                let sql = sql.to_owned();
                let client = &client;
                async move { client.prepare(&sql).await }
            };
            connections.push(Arc::new(Connection {
                set_tenant: prepare(statements.set_tenant).await?,
                feed_start: prepare(statements.feed_start.text()).await?,
                handover: prepare(statements.handover_by_unit.text()).await?,
                summary: prepare(statements.summary.text()).await?,
                summary_alerts: prepare(statements.summary_alerts.text()).await?,
                summary_notes: prepare(statements.summary_notes.text()).await?,
                note_context: prepare(statements.note_context.text()).await?,
                claim: prepare(statements.claim.text()).await?,
                note_insert: prepare(statements.note_insert.text()).await?,
                assessments: prepare(statements.assessments.text()).await?,
                plan_versions: prepare(statements.plan_versions.text()).await?,
                resident_read: prepare(statements.resident_read.text()).await?,
                search: prepare(statements.search.text()).await?,
                client,
            }));
        }
        Ok(Self {
            idle: std::sync::Mutex::new((0..size).collect()),
            available: tokio::sync::Semaphore::new(size),
            connections,
            recent_stay_days,
            statements,
            db,
        })
    }

    /// Runs `work` on an idle connection (waiting for one), rolls back what it left open when it
    /// failed so the next call finds the connection clean, and gives the connection back.
    async fn on_connection<F, Fut>(&self, work: F) -> Result<(), Failure>
    where
        F: FnOnce(Arc<Connection>) -> Fut,
        Fut: std::future::Future<Output = Result<(), Failure>>,
    {
        let _permit = self.available.acquire().await.expect("the semaphore is never closed");
        let index =
            self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop().expect("a permit means an idle connection");
        let connection = self.connections[index].clone();
        let result = work(connection.clone()).await;
        if result.is_err() {
            let _ = connection.client.batch_execute("ROLLBACK").await;
        }
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(index);
        result
    }
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// BEGIN, the tenant, the statement and COMMIT, all sent before the first answer (as dui does
/// for an operation of one statement).
async fn single(
    c: &Connection,
    tenant: &str,
    statement: &Statement,
    params: Params<'_>,
) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    let tenant_param: [&(dyn ToSql + Sync); 1] = [&tenant];
    let (_, _, rows, _) = tokio::try_join!(
        c.client.batch_execute("BEGIN"),
        c.client.query(&c.set_tenant, &tenant_param),
        c.client.query(statement, params),
        c.client.batch_execute("COMMIT"),
    )?;
    Ok(rows)
}

/// BEGIN, the tenant and the transaction's first statement, sent together (as dui does).
async fn first(
    c: &Connection,
    tenant: &str,
    statement: &Statement,
    params: Params<'_>,
) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    let tenant_param: [&(dyn ToSql + Sync); 1] = [&tenant];
    let (_, _, rows) = tokio::try_join!(
        c.client.batch_execute("BEGIN"),
        c.client.query(&c.set_tenant, &tenant_param),
        c.client.query(statement, params),
    )?;
    Ok(rows)
}

/// The baseline of one operation.
pub struct Raw {
    pub op: Op,
    pub baseline: Arc<Baseline>,
    pub users: Arc<Vec<VirtualUser>>,
}

impl std::fmt::Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Raw").field("op", &self.op).finish()
    }
}

impl Raw {
    pub fn new(op: Op, baseline: Arc<Baseline>, users: Arc<Vec<VirtualUser>>) -> Self {
        Self { op, baseline, users }
    }

    async fn run(&self, c: &Connection, i: u64) -> Result<(), Failure> {
        let user = &self.users[(i % self.users.len() as u64) as usize];
        let resident = user.resident(i / self.users.len() as u64);
        let scope = user.scope();
        let who = WhoParams::of(&scope, self.baseline.recent_stay_days);
        let statements = &self.baseline.statements;
        let tenant = user.tenant.to_string();
        // Authentication sends nothing: dui keeps a known user's status and roles between
        // requests (dropped by change notices), so a request of such a user reads none.
        let sql = |e: tokio_postgres::Error| Failure::Other(format!("baseline: {e}"));
        let bind = |e: dui_storage::StoreError| Failure::Other(format!("baseline: {e}"));
        match self.op {
            Op::NoteWrite => {
                let context = args! { resident: &resident }.action(AuditAction::NoteCreate);
                first(c, &tenant, &c.note_context, &who.bind(&statements.note_context, &context).map_err(bind)?)
                    .await
                    .map_err(sql)?;
                let id = Uuid::now_v7();
                let content: dui_domain::transmission::NoteContent =
                    serde_json::from_value(note_content(i)).map_err(|e| Failure::Other(e.to_string()))?;
                let (body, dek) = dui_storage::bench::seal_note_body(
                    &self.baseline.db,
                    TenantId::from_uuid(user.tenant),
                    id,
                    &content,
                )
                .await
                .map_err(|e| Failure::Other(e.to_string()))?;
                let key = Uuid::new_v4().to_string();
                let fingerprint = [7u8; 32];
                let fingerprint = fingerprint.as_slice();
                let hours = 24i32;
                let claim = args! { key: &key, fingerprint: &fingerprint, resource: &id, lifetime_hours: &hours };
                c.client.query(&c.claim, &who.bind(&statements.claim, &claim).map_err(bind)?).await.map_err(sql)?;
                let (kind, note_scope) =
                    if i.is_multiple_of(3) { ("targeted", "care_team") } else { ("free", "whole_team") };
                let (facts_at, incident, amends, severity, objective) =
                    (None::<chrono::DateTime<chrono::Utc>>, None::<&str>, None::<Uuid>, None::<&str>, None::<Uuid>);
                let insert = args! { id: &id, resident: &resident, kind: &kind, note_scope: &note_scope,
                facts_at: &facts_at, body: &body, dek_version: &dek, incident_type: &incident,
                amends: &amends, severity: &severity, objective: &objective }
                .action(AuditAction::NoteCreate);
                c.client
                    .query(&c.note_insert, &who.bind(&statements.note_insert, &insert).map_err(bind)?)
                    .await
                    .map_err(sql)?;
                c.client.batch_execute("COMMIT").await.map_err(sql)?;
            }
            Op::ResidentSummary => {
                let limit = 5i64;
                let record = args! { resident: &resident }.action(AuditAction::ResidentSummary);
                let notes = args! { resident: &resident, limit: &limit };
                let alerts = args! { resident: &resident, all: &false };
                let first = who.bind(&statements.summary, &record).map_err(bind)?;
                let second = who.bind(&statements.summary_alerts, &alerts).map_err(bind)?;
                let third = who.bind(&statements.summary_notes, &notes).map_err(bind)?;
                let tenant_param: [&(dyn ToSql + Sync); 1] = [&tenant];
                tokio::try_join!(
                    c.client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ"),
                    c.client.query(&c.set_tenant, &tenant_param),
                    c.client.query(&c.summary, &first),
                    c.client.query(&c.summary_alerts, &second),
                    c.client.query(&c.summary_notes, &third),
                    c.client.batch_execute("COMMIT"),
                )
                .map_err(sql)?;
            }
            Op::HandoverFeed => {
                let unit = Some(user.unit);
                let start = args! { establishment: &user.establishment, unit: &unit };
                let rows = first(c, &tenant, &c.feed_start, &who.bind(&statements.feed_start, &start).map_err(bind)?)
                    .await
                    .map_err(sql)?;
                let since: Option<chrono::DateTime<chrono::Utc>> = rows.first().and_then(|r| r.get("shift_since"));
                let read_up_to: Option<Uuid> = rows.first().and_then(|r| r.get("read_up_to"));
                let lower = dui_domain::transmission::first_id_at(since.unwrap_or_else(chrono::Utc::now));
                let limit =
                    dui_domain::pagination::PageRequest::first(dui_domain::pagination::DEFAULT_PAGE_SIZE).fetch_limit();
                let after = None::<Uuid>;
                // The notes and the day's other events, recording the people of both.
                let feed = args! { place: &user.unit, lower: &lower, after: &after, limit: &limit,
                read_up_to: &read_up_to }
                .action(AuditAction::HandoverRead);
                let params = who.bind(&statements.handover_by_unit, &feed).map_err(bind)?;
                tokio::try_join!(c.client.query(&c.handover, &params), c.client.batch_execute("COMMIT"))
                    .map_err(sql)?;
            }
            Op::AssessmentsRead => {
                let (instrument, only) = (Some("aggir"), None::<Uuid>);
                let read = args! { resident: &resident, instrument: &instrument, only: &only }
                    .action(AuditAction::AssessmentRead);
                single(c, &tenant, &c.assessments, &who.bind(&statements.assessments, &read).map_err(bind)?)
                    .await
                    .map_err(sql)?;
            }
            Op::CarePlanRead => {
                let only = None::<Uuid>;
                let read = args! { resident: &resident, only: &only }.action(AuditAction::CarePlanRead);
                single(c, &tenant, &c.plan_versions, &who.bind(&statements.plan_versions, &read).map_err(bind)?)
                    .await
                    .map_err(sql)?;
            }
            Op::ResidentRead => {
                let read = args! { resident: &resident }.action(AuditAction::ResidentRead);
                single(c, &tenant, &c.resident_read, &who.bind(&statements.resident_read, &read).map_err(bind)?)
                    .await
                    .map_err(sql)?;
            }
            Op::ResidentSearch => {
                let (birth_name, birth_date) = user.identity(i / self.users.len() as u64)?;
                let index = dui_storage::bench::birth_index(
                    &self.baseline.db,
                    TenantId::from_uuid(user.tenant),
                    birth_name,
                    *birth_date,
                )
                .await
                .map_err(bind)?;
                let search = args! { index: &index }.action(AuditAction::ResidentSearch);
                single(c, &tenant, &c.search, &who.bind(&statements.search, &search).map_err(bind)?)
                    .await
                    .map_err(sql)?;
            }
        }
        Ok(())
    }
}

impl Operation for Raw {
    fn call(&self, i: u64) -> Call<'_> {
        Box::pin(self.baseline.on_connection(move |c| async move { self.run(&c, i).await }))
    }
}

/// A durable commit and little else (a one-column row inserted in the probe's own table, the
/// commit record flushed, in one round trip): the floor under every write's latency on this
/// machine, apart from any statement. A transaction that only takes an id writes no WAL, and
/// PostgreSQL does not wait for the flush of such a commit: the row is what makes it durable.
pub struct CommitProbe {
    baseline: Arc<Baseline>,
    insert: String,
}

impl CommitProbe {
    pub fn new(baseline: Arc<Baseline>) -> Self {
        Self { baseline, insert: format!("INSERT INTO {} VALUES (1)", crate::server::COMMIT_PROBE_TABLE) }
    }
}

impl Operation for CommitProbe {
    fn call(&self, _i: u64) -> Call<'_> {
        Box::pin(self.baseline.on_connection(move |c| async move {
            tokio::try_join!(
                c.client.batch_execute("BEGIN"),
                c.client.batch_execute(&self.insert),
                c.client.batch_execute("COMMIT"),
            )
            .map(|_| ())
            .map_err(|e| Failure::Other(format!("commit probe: {e}")))
        }))
    }
}
