//! The audit trail: administrative actions, the hash chain, its verification, the access report
//! and the export for the data-protection officer.
//!
//! Events are written by the statements that do the access (see [`crate::trace`]). The
//! chainer links each tenant's events, in the order it finds them, into a chain: link n is
//! HMAC-SHA256 under the tenant's audit key of link n−1, n and the SHA-256 of event n's canonical
//! encoding. `verify_audit` recomputes it all and names the first broken link.

use std::io::Write;

use chrono::{DateTime, Utc};
use dui_crypto::{Column, Keyring};
use std::sync::LazyLock;

use dui_domain::audit::AuditAction;
use dui_domain::{ResidentId, TenantId, UserId};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::WHO_CTE;
use crate::args;
use crate::feature::{Feature, Merge, ResidentExport, ResidentRows, Table, TenantExport, to_json};
use crate::sealing::open_json;
use crate::sql::{Sql, Stmt};
use crate::tx::{Mode, Tx};
use crate::{Db, StoreError, StoreResult};

pub(crate) const AUDIT_REASON: Column = Column::new("audit_events", "reason");

/// Events younger than this may still be waiting to be chained (a transaction can run long, and
/// the chainer waits for every older transaction to finish); older unchained events are
/// reported by verification, and so is a chained event older by this than one chained before
/// it (written behind the chain's back with a date in the past). Events written before
/// transaction ids were recorded are looked for this far back behind the chain's head.
const CHAIN_MARGIN_MINUTES: i32 = 10;

/// Events chained per transaction.
const BATCH: i64 = 1000;

/// An event as stored, for verification and export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_kind: String,
    pub action: String,
    pub outcome: String,
    pub resident_id: Option<Uuid>,
    pub resource_type: Option<String>,
    pub resource_id: Option<Uuid>,
    pub request_id: Option<String>,
    pub client_address: Option<String>,
    pub emergency: bool,
    /// Opened, when a reason was given.
    pub reason: Option<String>,
    /// Position in the tenant's chain, once chained.
    pub chain_seq: Option<i64>,
}

pub(crate) const EVENT_COLUMNS: &str = "e.id, e.occurred_at, e.actor_id, e.actor_kind, e.action, e.outcome, e.resident_id, \
     e.resource_type, e.resource_id, e.request_id, host(e.client_address) AS client_address, e.emergency, e.reason, \
     e.dek_version";

/// The canonical encoding of an event (every column, length-prefixed) and its SHA-256.
fn event_hash(tenant: TenantId, row: &Row) -> StoreResult<[u8; 32]> {
    let mut hash = Sha256::new();
    let mut field = |bytes: Option<&[u8]>| match bytes {
        None => hash.update([0u8]),
        Some(bytes) => {
            hash.update([1u8]);
            hash.update((bytes.len() as u64).to_be_bytes());
            hash.update(bytes);
        }
    };
    let id: Uuid = row.try_get("id")?;
    let occurred: DateTime<Utc> = row.try_get("occurred_at")?;
    field(Some(tenant.as_uuid().as_bytes()));
    field(Some(id.as_bytes()));
    field(Some(&occurred.timestamp_micros().to_be_bytes()));
    field(row.try_get::<_, Option<Uuid>>("actor_id")?.as_ref().map(|u| u.as_bytes().as_slice()));
    for column in ["actor_kind", "action", "outcome"] {
        field(Some(row.try_get::<_, &str>(column)?.as_bytes()));
    }
    field(row.try_get::<_, Option<Uuid>>("resident_id")?.as_ref().map(|u| u.as_bytes().as_slice()));
    field(row.try_get::<_, Option<&str>>("resource_type")?.map(str::as_bytes));
    field(row.try_get::<_, Option<Uuid>>("resource_id")?.as_ref().map(|u| u.as_bytes().as_slice()));
    field(row.try_get::<_, Option<&str>>("request_id")?.map(str::as_bytes));
    field(row.try_get::<_, Option<&str>>("client_address")?.map(str::as_bytes));
    field(Some(&[u8::from(row.try_get::<_, bool>("emergency")?)]));
    field(row.try_get::<_, Option<&[u8]>>("reason")?);
    field(row.try_get::<_, Option<i32>>("dek_version")?.map(|v| v.to_be_bytes()).as_ref().map(|b| b.as_slice()));
    Ok(hash.finalize().into())
}

pub(crate) fn event(row: &Row, keys: &Keyring) -> StoreResult<AuditEvent> {
    let id: Uuid = row.try_get("id")?;
    Ok(AuditEvent {
        id,
        occurred_at: row.try_get("occurred_at")?,
        actor_id: row.try_get("actor_id")?,
        actor_kind: row.try_get("actor_kind")?,
        action: row.try_get("action")?,
        outcome: row.try_get("outcome")?,
        resident_id: row.try_get("resident_id")?,
        resource_type: row.try_get("resource_type")?,
        resource_id: row.try_get("resource_id")?,
        request_id: row.try_get("request_id")?,
        client_address: row.try_get("client_address")?,
        emergency: row.try_get("emergency")?,
        reason: match row.try_get::<_, Option<&[u8]>>("reason")? {
            Some(sealed) => Some(open_json(keys, AUDIT_REASON, id, sealed)?),
            None => None,
        },
        chain_seq: row.try_get("chain_seq")?,
    })
}

/// Where the chain of a tenant breaks, if it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ChainBreak {
    /// Link `seq` names an event that no longer exists: the event was deleted.
    EventMissing { seq: i64, event: Uuid },
    /// The event of link `seq` differs from what was chained: it was edited.
    EventAltered { seq: i64, event: Uuid },
    /// Link `seq` does not follow from the previous one: the chain was edited.
    LinkAltered { seq: i64 },
    /// Link `seq` is missing: the chain was cut.
    Gap { seq: i64 },
    /// An event older than the chaining margin is not in the chain.
    Unchained { event: Uuid, occurred_at: DateTime<Utc> },
    /// Link `seq` chains an event dated long before events chained ahead of it: it was written
    /// later with a date in the past.
    Backdated { seq: i64, event: Uuid, occurred_at: DateTime<Utc> },
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::EventMissing { seq, event } => write!(f, "link {seq}: event {event} is missing (deleted)"),
            Self::EventAltered { seq, event } => write!(f, "link {seq}: event {event} was altered"),
            Self::LinkAltered { seq } => write!(f, "link {seq} does not follow from the previous one (chain edited)"),
            Self::Gap { seq } => write!(f, "link {seq} is missing (chain cut)"),
            Self::Backdated { seq, event, occurred_at } => {
                write!(
                    f,
                    "link {seq}: event {event} claims {occurred_at}, long before the events chained ahead of it (backdated?)"
                )
            }
            Self::Unchained { event, occurred_at } => {
                write!(f, "event {event} of {occurred_at} was never chained (inserted behind the chain's back?)")
            }
        }
    }
}

/// The result of verifying a tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub tenant: TenantId,
    pub links: i64,
    /// The last verified link, in hexadecimal: noted somewhere else, it lets a later check see
    /// that the chain was not cut short (events removed from its end with their links).
    pub head: Option<String>,
    /// The first break found, if any.
    pub broken: Option<ChainBreak>,
}

/// One line of a resident's access report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessEntry {
    pub occurred_at: DateTime<Utc>,
    /// `user` (a professional), `console` (the command line) or `system` (the server itself:
    /// a message sent to the shared record, ...).
    pub actor_kind: String,
    pub actor_id: Option<UserId>,
    /// The professional's name, as the directory has it now.
    pub actor_name: Option<String>,
    pub action: String,
    pub outcome: String,
    pub emergency: bool,
}

const NIL: Uuid = Uuid::nil();

static AUTH_FAILURE: Stmt = LazyLock::new(|| {
    Sql::new(
        "INSERT INTO auth_failures (id, reason, claimed_issuer, claimed_tenant, claimed_subject, request_id, client_address) \
         VALUES (:id, :reason, :claimed_issuer, :claimed_tenant, :claimed_subject, :request_id, :client_address)",
    )
});

static LOGIN_REFUSED: Stmt = LazyLock::new(|| {
    Sql::new(
        "INSERT INTO audit_events (tenant_id, id, actor_id, actor_kind, action, outcome, resource_type, resource_id, \
         request_id, client_address) \
         VALUES (:tenant, dui_uuid_v7(), :user, 'user', :action, 'denied', :resource_type, :user, :request_id, :client_address)",
    )
});

/// The tenant's chain lock, waited for or tried (`locked`). In a statement of its own: the next
/// one, reading the head, then sees what a pass that held the lock before committed. (Read in
/// the statement that waited, the head came from the snapshot taken before the wait, and the
/// pass after a wait wrote links the other had written: a conflict on the chain.)
static CHAIN_LOCK_WAIT: Stmt = LazyLock::new(|| {
    Sql::new("SELECT true AS locked FROM (SELECT pg_advisory_xact_lock(7244, hashtext(:tenant::uuid::text))) l")
});
static CHAIN_LOCK_TRY: Stmt =
    LazyLock::new(|| Sql::new("SELECT pg_try_advisory_xact_lock(7244, hashtext(:tenant::uuid::text)) AS locked"));

/// Where a pass starts, once the lock is held: the cursor, the oldest transaction running now
/// (taken before looking at the events), the head.
static CHAIN_STATE: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT (SELECT horizon::text FROM audit_chain_cursors WHERE tenant_id = :tenant) AS horizon, \
           coalesce((SELECT legacy_done FROM audit_chain_cursors WHERE tenant_id = :tenant), false) AS legacy_done, \
           pg_snapshot_xmin(pg_current_snapshot())::text AS next_horizon, \
           (SELECT c.seq FROM audit_chain c WHERE c.tenant_id = :tenant ORDER BY c.seq DESC LIMIT 1) AS head_seq, \
           (SELECT c.link FROM audit_chain c WHERE c.tenant_id = :tenant ORDER BY c.seq DESC LIMIT 1) AS head_link",
    )
});

/// Whether event `e` is chained, looked up in the chain's index for each event read. (`OFFSET 0`
/// keeps it a lookup: made an anti-join, a generic plan — which cannot know how few events lie
/// beyond the horizon — hashed the tenant's whole chain and read the whole trail at each pass.)
const CHAINED: &str = "SELECT 1 FROM audit_chain c WHERE c.tenant_id = e.tenant_id AND c.event_id = e.id OFFSET 0";

static UNCHAINED_LEGACY: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {EVENT_COLUMNS} FROM audit_events e WHERE e.tenant_id = :tenant AND e.xact IS NULL \
         AND e.occurred_at >= coalesce((SELECT h.occurred_at FROM audit_chain c \
                 JOIN audit_events h ON h.tenant_id = c.tenant_id AND h.id = c.event_id \
                 WHERE c.tenant_id = :tenant ORDER BY c.seq DESC LIMIT 1), '-infinity') - make_interval(mins => :margin) \
         AND NOT EXISTS ({CHAINED}) \
         ORDER BY e.occurred_at, e.id LIMIT {BATCH}"
    ))
});
pub(crate) static UNCHAINED: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {EVENT_COLUMNS}, e.xact::text AS xact FROM audit_events e \
         WHERE e.tenant_id = :tenant AND e.xact >= :horizon::text::xid8 \
         AND NOT EXISTS ({CHAINED}) \
         ORDER BY e.xact, e.id LIMIT {BATCH}"
    ))
});
static MOVE_HORIZON: Stmt = LazyLock::new(|| {
    Sql::new(
        "INSERT INTO audit_chain_cursors (tenant_id, horizon) \
         VALUES (:tenant, least(:next_horizon::text::xid8, coalesce(:last::text::xid8, :next_horizon::text::xid8))) \
         ON CONFLICT (tenant_id) DO UPDATE SET horizon = greatest(audit_chain_cursors.horizon, EXCLUDED.horizon), \
         updated_at = now()",
    )
});
static LEGACY_DONE: Stmt = LazyLock::new(|| {
    Sql::new(
        "INSERT INTO audit_chain_cursors (tenant_id, legacy_done) VALUES (:tenant, true) \
         ON CONFLICT (tenant_id) DO UPDATE SET legacy_done = true, updated_at = now()",
    )
});
static LINKS: Stmt = LazyLock::new(|| {
    Sql::new(
        "INSERT INTO audit_chain (tenant_id, seq, event_id, event_hash, link) \
         SELECT :tenant, * FROM unnest(:seqs::bigint[], :ids::uuid[], :hashes::bytea[], :links::bytea[])",
    )
});
static CHAIN_PAGE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT c.seq, c.event_id, c.event_hash, c.link, e.id IS NOT NULL AS present, {} \
         FROM audit_chain c LEFT JOIN audit_events e ON e.tenant_id = c.tenant_id AND e.id = c.event_id \
         WHERE c.tenant_id = :tenant AND c.seq >= :from_seq ORDER BY c.seq LIMIT 2000",
        EVENT_COLUMNS.replace("e.id,", "coalesce(e.id, c.event_id) AS id,")
    ))
});
static OLD_UNCHAINED: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT e.id, e.occurred_at FROM audit_events e WHERE e.tenant_id = :tenant \
         AND e.occurred_at < now() - make_interval(mins => :margin) \
         AND NOT EXISTS (SELECT 1 FROM audit_chain c WHERE c.tenant_id = e.tenant_id AND c.event_id = e.id) \
         ORDER BY e.occurred_at LIMIT 1",
    )
});
static EXPORTED: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, x AS (SELECT id FROM tenants WHERE id = :tenant), trace AS ({trace}) SELECT * FROM x",
        trace = crate::trace::Trace::administered("x")
    ))
});
static EXPORT_PAGE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT {EVENT_COLUMNS}, c.seq AS chain_seq FROM audit_events e \
         LEFT JOIN audit_chain c ON c.tenant_id = e.tenant_id AND c.event_id = e.id \
         WHERE e.tenant_id = :tenant AND (:from::timestamptz IS NULL OR e.occurred_at >= :from) \
         AND (:to::timestamptz IS NULL OR e.occurred_at < :to) \
         AND (:after_at::timestamptz IS NULL OR (e.occurred_at, e.id) > (:after_at, :after_id)) \
         ORDER BY e.occurred_at, e.id LIMIT 1000"
    ))
});

impl Db {
    /// Records a refused authentication (platform-wide: the token's claims are not trusted), and,
    /// when the token was genuine but its user or tenant refused, in that tenant's trail too.
    pub async fn record_auth_failure(
        &self,
        reason: &str,
        claimed_issuer: Option<&str>,
        claimed_tenant: Option<TenantId>,
        claimed_subject: Option<&str>,
        verified_user: Option<(TenantId, Uuid)>,
        request: &dui_domain::scope::RequestContext,
    ) -> StoreResult<()> {
        let clip = |s: &str| s.chars().take(200).collect::<String>();
        let (id, issuer, subject) = (Uuid::now_v7(), claimed_issuer.map(clip), claimed_subject.map(clip));
        let claimed_tenant = claimed_tenant.map(|t| t.as_uuid());
        let args = args! { id: &id, reason: &reason, claimed_issuer: &issuer, claimed_tenant: &claimed_tenant,
        claimed_subject: &subject, request_id: &request.request_id,
        client_address: &request.client_address };
        self.begin_platform(Mode::Write).finish(&AUTH_FAILURE, &args).await?;
        if let Some((tenant, user)) = verified_user
            && self.tenant_by_id(tenant).await?.is_some()
        {
            let args = args! { user: &user, request_id: &request.request_id, client_address: &request.client_address }
                .action(AuditAction::AuthLogin);
            self.begin_for_tenant(tenant, Mode::Write).finish(&LOGIN_REFUSED, &args).await?;
        }
        Ok(())
    }

    /// Chains the tenants' new events, and the events written before transaction ids were
    /// recorded while any is left. One server at a time does it (a transaction-level advisory
    /// lock per tenant); returns how many events were chained.
    pub async fn chain_audit(&self) -> StoreResult<u64> {
        self.chain_tenants(true).await
    }

    /// Chains the new events of the tenants this process wrote to since the last call: the
    /// frequent pass, which leaves idle tenants alone (the periodic [`Db::chain_audit`] over every
    /// tenant catches what other processes wrote).
    pub async fn chain_noted_audit(&self) -> StoreResult<u64> {
        let mut chained = 0;
        for tenant in self.take_audited() {
            match self.chain_tenant_pass(tenant, false, false).await {
                Ok(Some(count)) => chained += count,
                // Another server is chaining it: what this one wrote may come after its look.
                Ok(None) => self.note_audited(tenant),
                Err(error) => {
                    self.note_audited(tenant);
                    return Err(error);
                }
            }
        }
        Ok(chained)
    }

    /// A pass over every tenant, skipping those another server is chaining.
    async fn chain_tenants(&self, legacy: bool) -> StoreResult<u64> {
        let mut chained = 0;
        for tenant in self.tenants_with_keys().await? {
            chained += self.chain_tenant_pass(tenant, legacy, false).await?.unwrap_or(0);
        }
        Ok(chained)
    }

    /// A full pass over one tenant, after the pass another server may be making (for
    /// verification: when it returns, every event committed before the call is chained).
    pub async fn chain_tenant(&self, tenant: TenantId) -> StoreResult<u64> {
        Ok(self.chain_tenant_pass(tenant, true, true).await?.unwrap_or(0))
    }

    /// Links events in batches, in (transaction id, event id) order. A pass looks at the events
    /// of transactions from the tenant's horizon on — the oldest transaction that was running
    /// when the previous pass had chained everything it saw — and chains those not chained yet;
    /// then the horizon moves to the oldest transaction running now. Nothing can appear below it
    /// later, so each pass reads a few seconds of events however busy the server. Events written
    /// before transaction ids were recorded are taken by time as before (`legacy`), until a pass
    /// finds none left. `None` when another server holds the tenant's chain (`wait` false).
    async fn chain_tenant_pass(&self, tenant: TenantId, legacy: bool, wait: bool) -> StoreResult<Option<u64>> {
        let keys = self.keyring(tenant, []).await?;
        let mut total = 0;
        loop {
            let mut tx = self.begin_for_tenant(tenant, Mode::Write);
            let lock = tx.query_one(if wait { &CHAIN_LOCK_WAIT } else { &CHAIN_LOCK_TRY }, &args! {}).await?;
            if !lock.try_get::<_, bool>("locked")? {
                return Ok(if total == 0 { None } else { Some(total) });
            }
            let state = tx.query_one(&CHAIN_STATE, &args! {}).await?;
            let horizon = state.try_get::<_, Option<String>>("horizon")?.unwrap_or_else(|| "0".to_owned());
            let legacy_done: bool = state.try_get("legacy_done")?;
            // Taken before looking: every transaction below it had finished, so the look sees
            // all their events, and if none is left unchained this is the next horizon.
            let next_horizon: String = state.try_get("next_horizon")?;
            let (mut seq, mut link) = match state.try_get::<_, Option<i64>>("head_seq")? {
                Some(seq) => (seq, link_array(&state.try_get::<_, Vec<u8>>("head_link")?)?),
                None => (0, [0u8; 32]),
            };
            let from_legacy = legacy && !legacy_done;
            let rows = if from_legacy {
                tx.query(&UNCHAINED_LEGACY, &args! { margin: &CHAIN_MARGIN_MINUTES }).await?
            } else {
                tx.query(&UNCHAINED, &args! { horizon: &horizon }).await?
            };
            if !from_legacy && !rows.is_empty() {
                // Every unchained event below the new horizon is in this batch: all of them when
                // the batch is not full (each transaction below `next_horizon` had finished when
                // the look began), else those below the last one's transaction (they come in
                // transaction order). What comes next belongs to transactions from there on.
                // A pass that found nothing leaves the cursor: the next looks from the same
                // place, at no more events, and an idle tenant costs no write.
                let full = rows.len() as i64 == BATCH;
                let last: Option<String> = match rows.last() {
                    Some(row) if full => Some(row.try_get("xact")?),
                    _ => None,
                };
                tx.query(&MOVE_HORIZON, &args! { next_horizon: &next_horizon, last: &last }).await?;
            }
            if rows.is_empty() {
                if from_legacy {
                    // Nothing old is left unchained: from now on only the cursor is followed.
                    tx.query(&LEGACY_DONE, &args! {}).await?;
                    tx.commit().await?;
                    continue;
                }
                tx.commit().await?;
                return Ok(Some(total));
            }
            // One statement for the whole batch: the links are computed here, written at once.
            let (mut seqs, mut ids, mut hashes, mut links) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for row in &rows {
                let hash = event_hash(tenant, row)?;
                seq += 1;
                link = keys.audit_link(&link, seq as u64, &hash);
                seqs.push(seq);
                let id: Uuid = row.try_get("id")?;
                ids.push(id);
                hashes.push(hash.to_vec());
                links.push(link.to_vec());
            }
            tx.query(&LINKS, &args! { seqs: &seqs, ids: &ids, hashes: &hashes, links: &links }).await?;
            tx.commit().await?;
            total += rows.len() as u64;
            if !from_legacy && (rows.len() as i64) < BATCH {
                return Ok(Some(total));
            }
        }
    }

    /// Recomputes a tenant's chain from the first link and reports the first break.
    pub async fn verify_audit(&self, tenant: TenantId) -> StoreResult<ChainReport> {
        let keys = self.keyring(tenant, []).await?;
        let mut previous = [0u8; 32];
        let mut expected_seq = 1i64;
        let mut links = 0;
        let mut latest: Option<DateTime<Utc>> = None;
        loop {
            let rows = self
                .begin_for_tenant(tenant, Mode::Read)
                .finish(&CHAIN_PAGE, &args! { from_seq: &expected_seq })
                .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let seq: i64 = row.try_get("seq")?;
                let event: Uuid = row.try_get("event_id")?;
                if seq != expected_seq {
                    return Ok(ChainReport {
                        tenant,
                        links,
                        head: None,
                        broken: Some(ChainBreak::Gap { seq: expected_seq }),
                    });
                }
                if !row.try_get::<_, bool>("present")? {
                    return Ok(ChainReport {
                        tenant,
                        links,
                        head: None,
                        broken: Some(ChainBreak::EventMissing { seq, event }),
                    });
                }
                let stored_hash: Vec<u8> = row.try_get("event_hash")?;
                if event_hash(tenant, row)?.as_slice() != stored_hash.as_slice() {
                    return Ok(ChainReport {
                        tenant,
                        links,
                        head: None,
                        broken: Some(ChainBreak::EventAltered { seq, event }),
                    });
                }
                let stored_link = link_array(&row.try_get::<_, Vec<u8>>("link")?)?;
                let hash = link_array(&stored_hash)?;
                if keys.audit_link(&previous, seq as u64, &hash) != stored_link {
                    return Ok(ChainReport {
                        tenant,
                        links,
                        head: None,
                        broken: Some(ChainBreak::LinkAltered { seq }),
                    });
                }
                let occurred_at: DateTime<Utc> = row.try_get("occurred_at")?;
                if latest
                    .is_some_and(|latest| occurred_at < latest - chrono::Duration::minutes(CHAIN_MARGIN_MINUTES.into()))
                {
                    return Ok(ChainReport {
                        tenant,
                        links,
                        head: None,
                        broken: Some(ChainBreak::Backdated { seq, event, occurred_at }),
                    });
                }
                latest = latest.max(Some(occurred_at));
                previous = stored_link;
                expected_seq += 1;
                links += 1;
            }
        }
        let unchained = self
            .begin_for_tenant(tenant, Mode::Read)
            .finish(&OLD_UNCHAINED, &args! { margin: &CHAIN_MARGIN_MINUTES })
            .await?;
        let broken = match unchained.first() {
            Some(row) => Some(ChainBreak::Unchained { event: row.try_get(0)?, occurred_at: row.try_get(1)? }),
            None => None,
        };
        let head = (links > 0).then(|| previous.iter().map(|b| format!("{b:02x}")).collect());
        Ok(ChainReport { tenant, links, head, broken })
    }
}

static ON_TENANT: Stmt = LazyLock::new(|| {
    Sql::new(
        "INSERT INTO audit_events (tenant_id, id, actor_id, actor_kind, action, outcome, resource_type, resource_id) \
         VALUES (:tenant, dui_uuid_v7(), NULL, 'console', :action, 'success', :resource_type, :tenant)",
    )
});

/// Records, in the tenant's own trail, an action of the platform on the tenant as a whole (its
/// export, its import): the tenant's data-protection officer reads it there.
pub async fn record_on_tenant(tx: &mut Tx<'_>, action: AuditAction) -> StoreResult<()> {
    tx.query(&ON_TENANT, &args! {}.action(action)).await?;
    Ok(())
}

/// Writes a tenant's audit trail over a period as JSON lines (one event per line, with its
/// place in the chain), for its data-protection officer, in one snapshot; the export is itself
/// recorded, first. Commits.
pub async fn export(
    mut tx: Tx<'_>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    out: &mut (dyn Write + Send),
) -> StoreResult<u64> {
    tx.query(&EXPORTED, &args! {}.action(AuditAction::AuditExport)).await?;
    let mut after: Option<(DateTime<Utc>, Uuid)> = None;
    let mut count = 0;
    loop {
        let (after_at, after_id) = (after.map(|a| a.0), after.map(|a| a.1).unwrap_or(NIL));
        let args = args! { from: &from, to: &to, after_at: &after_at, after_id: &after_id };
        let rows = tx.query(&EXPORT_PAGE, &args).await?;
        if rows.is_empty() {
            break;
        }
        let keys = tx.keyring(crate::sealing::versions(&rows)?).await?;
        for row in &rows {
            let entry = event(row, &keys)?;
            serde_json::to_writer(&mut *out, &entry).map_err(|e| StoreError::Unavailable(e.to_string()))?;
            out.write_all(b"\n").map_err(|e| StoreError::Unavailable(e.to_string()))?;
            after = Some((entry.occurred_at, entry.id));
            count += 1;
        }
    }
    tx.commit().await?;
    out.flush().map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok(count)
}

fn link_array(bytes: &[u8]) -> StoreResult<[u8; 32]> {
    bytes.try_into().map_err(|_| StoreError::Corrupt { column: "audit_chain", value: format!("{} bytes", bytes.len()) })
}

/// The audit trail: events (reasons sealed, never resealed: the chain covers the ciphertext);
/// the chain and its cursor are the installation's proof, made again by the importing one.
/// A person's export lists who accessed their record; a merge leaves events where they were
/// written.
pub(crate) const FEATURE: Feature = Feature {
    name: "audit",
    tables: &[
        Table {
            name: "audit_events",
            sealed: &[AUDIT_REASON],
            reseal: false,
            tenant_export: TenantExport::Rows { order: "id", derived: &[], defaulted: &["xact"], settle: None },
            resident: Some(ResidentRows {
                column: "resident_id",
                merge: Merge::Keep("the trail is append-only: an event stays with the record it was written about"),
                export: ResidentExport::Section {
                    name: "access_events",
                    from: "audit_events e",
                    columns: ACCESS_ENTRY_COLUMNS,
                    order: "e.occurred_at, e.id",
                    map: |row, _| to_json(access_entry(row)),
                },
            }),
        },
        Table {
            name: "audit_chain",
            sealed: &[],
            reseal: false,
            tenant_export: TenantExport::Omitted(
                "an integrity proof under the tenant's audit key; an import chains the events again under its own",
            ),
            resident: None,
        },
        Table {
            name: "audit_chain_cursors",
            sealed: &[],
            reseal: false,
            tenant_export: TenantExport::Omitted("where the chainer stands: working state of the integrity proof"),
            resident: None,
        },
    ],
};

/// One line of an access report.
pub(crate) fn access_entry(row: &Row) -> StoreResult<AccessEntry> {
    Ok(AccessEntry {
        occurred_at: row.try_get("occurred_at")?,
        actor_kind: row.try_get("actor_kind")?,
        actor_id: row.try_get::<_, Option<Uuid>>("actor_id")?.map(UserId::from_uuid),
        actor_name: row.try_get("actor_name")?,
        action: row.try_get("action")?,
        outcome: row.try_get("outcome")?,
        emergency: row.try_get("emergency")?,
    })
}

/// What an access report shows of an event (over `audit_events e`), with the actor's name as
/// the directory has it now.
const ACCESS_ENTRY_COLUMNS: &str = "e.occurred_at, e.actor_kind, e.actor_id, e.action, e.outcome, e.emergency, \
     (SELECT trim(u.given_name || ' ' || u.family_name) FROM users u \
      WHERE u.tenant_id = e.tenant_id AND u.id = e.actor_id) AS actor_name";

static ACCESS_REPORT: crate::sql::Stmt = std::sync::LazyLock::new(|| {
    crate::sql::Sql::new(&format!(
        "WITH {WHO_CTE}, \
         events AS (SELECT {ACCESS_ENTRY_COLUMNS} \
                    FROM audit_events e, who WHERE e.tenant_id = who.tenant_id AND e.resident_id = :resident \
                    AND (:from::timestamptz IS NULL OR e.occurred_at >= :from) \
                    AND (:to::timestamptz IS NULL OR e.occurred_at < :to) \
                    ORDER BY e.occurred_at, e.id LIMIT 10000), \
         trace AS ({trace}) \
         SELECT * FROM events ORDER BY occurred_at",
        trace = crate::trace::Trace {
            from: "who",
            resident: ":resident",
            resource: ":resident",
            outcome: "'success'",
            emergency: "false"
        }
        .sql(),
    ))
});

/// Who accessed a resident's record, and how, over a period (GDPR access report); the report is
/// itself recorded. Commits.
pub async fn access_report(
    tx: crate::tx::Tx<'_>,
    resident: ResidentId,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> StoreResult<Vec<AccessEntry>> {
    let id = resident.as_uuid();
    let args =
        crate::args! { resident: &id, from: &from, to: &to }.action(dui_domain::audit::AuditAction::AuditAccessReport);
    let rows = tx.finish(&ACCESS_REPORT, &args).await?;
    rows.iter().map(access_entry).collect()
}
