//! Emergency openings ("bris de glace"): a professional outside the team opens a record for a
//! limited time with a written reason; the opening is flagged in the trail and reviewed by the
//! directors of the person's establishments.

use std::sync::LazyLock;

use dui_crypto::{Column, Keyring};
use dui_domain::audit::AuditAction;
use dui_domain::emergency::EmergencyReview;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::record::{EmergencyAccess, ReviewOutcome};
use dui_domain::{EmergencyAccessId, ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::WHO_CTE;
use crate::args;
use crate::feature::{Feature, Table, to_json};
use crate::idempotency::{Create, create_once};
use crate::rows::parse_opt;
use crate::sealing::{open_json, seal_json};
use crate::sql::{Sql, Stmt};
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

pub(crate) const EMERGENCY_REASON: Column = Column::new("emergency_accesses", "reason");
pub(crate) const EMERGENCY_REVIEW: Column = Column::new("emergency_accesses", "review_comment");

pub(crate) const EMERGENCY_FIELDS: &str = "id, resident_id, user_id, reason, opened_at, expires_at, reviewed_by, reviewed_at, \
     review_outcome, review_comment, dek_version";

pub(crate) fn emergency(row: &Row, keys: &Keyring) -> StoreResult<EmergencyAccess> {
    let id: Uuid = row.try_get("id")?;
    Ok(EmergencyAccess {
        id: EmergencyAccessId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        user_id: UserId::from_uuid(row.try_get("user_id")?),
        reason: open_json(keys, EMERGENCY_REASON, id, row.try_get("reason")?)?,
        opened_at: row.try_get("opened_at")?,
        expires_at: row.try_get("expires_at")?,
        reviewed_by: row.try_get::<_, Option<Uuid>>("reviewed_by")?.map(UserId::from_uuid),
        reviewed_at: row.try_get("reviewed_at")?,
        review_outcome: parse_opt(row, "review_outcome", ReviewOutcome::parse)?,
        review_comment: match row.try_get::<_, Option<&[u8]>>("review_comment")? {
            Some(sealed) => Some(open_json(keys, EMERGENCY_REVIEW, id, sealed)?),
            None => None,
        },
    })
}

/// Where the caller oversees records: `:overseen_all`, or the establishments `:overseen`.
const OVERSEEN: &str = "(:overseen_all OR EXISTS (SELECT 1 FROM stays s WHERE s.tenant_id = e.tenant_id \
     AND s.resident_id = e.resident_id AND s.establishment_id = ANY(:overseen)))";

static OPEN: Stmt = LazyLock::new(|| {
    // The opening's trace carries the reason (sealed), unlike other events.
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         r AS (SELECT r.tenant_id, r.id FROM residents r, who WHERE r.tenant_id = who.tenant_id AND r.id = :resident \
               AND r.record_status = 'active'), \
         e AS (INSERT INTO emergency_accesses (tenant_id, id, resident_id, user_id, reason, expires_at, dek_version) \
               SELECT r.tenant_id, :id, r.id, who.user_id, :reason, now() + make_interval(mins => :minutes), :dek_version \
               FROM r, who RETURNING *), \
         trace AS (INSERT INTO audit_events (tenant_id, id, actor_id, actor_kind, action, outcome, resident_id, \
                     resource_type, resource_id, request_id, client_address, emergency, reason, dek_version) \
                   SELECT who.tenant_id, :id, who.user_id, 'user', :action::text, 'success', e.resident_id, \
                     :resource_type::text, e.id, who.request_id, who.client_address, true, :audit_reason, :dek_version \
                   FROM who, e) \
         SELECT {EMERGENCY_FIELDS} FROM e"
    ))
});

static BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {EMERGENCY_FIELDS} FROM emergency_accesses WHERE tenant_id = :tenant AND id = :id"))
});

static LIST: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         data AS (SELECT e.* FROM emergency_accesses e, who WHERE e.tenant_id = who.tenant_id \
                  AND (NOT :pending OR e.reviewed_at IS NULL) AND {OVERSEEN} \
                  ORDER BY e.opened_at DESC LIMIT 500), \
         trace AS ({trace}) \
         SELECT {fields}, r.identity AS resident_identity, r.dek_version AS resident_dek_version, \
           (SELECT coalesce(json_agg(json_build_object('at', u.occurred_at, 'action', u.action, \
                      'resource_type', u.resource_type, 'resource_id', u.resource_id) ORDER BY u.occurred_at), '[]'::json) \
            FROM (SELECT a.occurred_at, a.action, a.resource_type, a.resource_id FROM audit_events a \
                  WHERE a.tenant_id = data.tenant_id AND a.resident_id = data.resident_id AND a.actor_id = data.user_id \
                  AND a.emergency AND a.occurred_at >= data.opened_at AND a.occurred_at <= data.expires_at \
                  ORDER BY a.occurred_at LIMIT 200) u) AS viewed \
         FROM data JOIN residents r ON r.tenant_id = data.tenant_id AND r.id = data.resident_id \
         ORDER BY data.opened_at DESC",
        fields = EMERGENCY_FIELDS.split(", ").map(|f| format!("data.{}", f.trim())).collect::<Vec<_>>().join(", "),
        trace = Trace {
            from: "who, data",
            resident: "data.resident_id",
            resource: "data.id",
            outcome: "'success'",
            emergency: "false"
        }
        .sql(),
    ))
});

static REVIEW: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, \
         changed AS (UPDATE emergency_accesses e SET reviewed_by = who.user_id, reviewed_at = now(), \
                       review_outcome = :outcome, review_comment = :comment \
                     FROM who WHERE e.tenant_id = who.tenant_id AND e.id = :id AND e.reviewed_at IS NULL \
                     AND e.user_id <> who.user_id AND {OVERSEEN} RETURNING e.*), \
         trace AS ({trace}) SELECT {EMERGENCY_FIELDS} FROM changed",
        trace = Trace {
            from: "who, changed",
            resident: "changed.resident_id",
            resource: "changed.id",
            outcome: "'success'",
            emergency: "false"
        }
        .sql(),
    ))
});

static REVIEW_STATE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "SELECT e.user_id = :user AS own, e.reviewed_at IS NOT NULL AS reviewed FROM emergency_accesses e \
         WHERE e.tenant_id = :tenant AND e.id = :id AND {OVERSEEN}"
    ))
});

/// Opens a record for `minutes` with a written reason, and commits. The record must exist in
/// the tenant (`NotFound` otherwise); the opening is recorded with its reason and flagged.
pub async fn open(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    reason: &str,
    minutes: i32,
) -> StoreResult<Created<EmergencyAccess>> {
    let keys = tx.sealing_keys(2).await?;
    let id = Uuid::now_v7();
    let sealed = seal_json(&keys, EMERGENCY_REASON, id, reason)?;
    let audit_reason = seal_json(&keys, crate::audit::AUDIT_REASON, id, reason)?;
    let dek = keys.active_version() as i32;
    let resident = resident.as_uuid();
    let args = args! { resident: &resident, id: &id, reason: &sealed, minutes: &minutes, dek_version: &dek,
    audit_reason: &audit_reason }
    .action(AuditAction::EmergencyAccessOpen);
    let map = |row: &Row| emergency(row, &keys);
    create_once(tx, key, Create { id, insert: &OPEN, args, reload: &BY_ID, map: &map }).await
}

/// Where the caller oversees records, as bound to [`OVERSEEN`].
struct Overseen {
    all: bool,
    establishments: Vec<Uuid>,
}

fn overseen(tx: &Tx<'_>) -> StoreResult<Overseen> {
    let reach = dui_domain::policy::oversight_reach(tx.scope()?);
    Ok(Overseen { all: reach.all, establishments: reach.establishments.iter().map(|e| e.as_uuid()).collect() })
}

/// Emergency openings of records of residents supported in establishments the caller oversees
/// (all, for tenant-wide roles), most recent first; `pending` keeps those not reviewed yet.
/// Each opening listed is recorded.
pub async fn list(tx: Tx<'_>, pending: bool) -> StoreResult<Vec<EmergencyReview>> {
    let reach = overseen(&tx)?;
    let args = args! { pending: &pending, overseen_all: &reach.all, overseen: &reach.establishments }
        .action(AuditAction::EmergencyAccessList);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = tx.finish(&LIST, &args).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut needed = crate::sealing::versions(&rows)?;
    for row in &rows {
        needed.push(row.try_get::<_, i32>("resident_dek_version")? as u32);
    }
    let keys = db.keyring(tenant, needed).await?;
    rows.iter()
        .map(|row| {
            let access = emergency(row, &keys)?;
            let identity: dui_domain::resident::Identity = open_json(
                &keys,
                crate::residents::RESIDENT_IDENTITY,
                access.resident_id.as_uuid(),
                row.try_get("resident_identity")?,
            )?;
            let viewed: serde_json::Value = row.try_get("viewed")?;
            let viewed = serde_json::from_value(viewed)
                .map_err(|e| StoreError::Corrupt { column: "audit_events", value: e.to_string() })?;
            let resident = dui_domain::transmission::ResidentName::of(identity, access.resident_id);
            Ok(EmergencyReview { access, resident, viewed })
        })
        .collect()
}

/// Records a director's review of an emergency opening, and commits. `NotFound` when it is out
/// of the caller's oversight, the caller's own, or reviewed already (see [`review_state`]).
pub async fn review(
    tx: Tx<'_>,
    id: EmergencyAccessId,
    outcome: ReviewOutcome,
    comment: &str,
) -> StoreResult<EmergencyAccess> {
    let keys = tx.sealing_keys(1).await?;
    let sealed = seal_json(&keys, EMERGENCY_REVIEW, id.as_uuid(), comment)?;
    let reach = overseen(&tx)?;
    let (row_id, outcome) = (id.as_uuid(), outcome.as_str());
    let args = args! { id: &row_id, outcome: &outcome, comment: &sealed, overseen_all: &reach.all,
    overseen: &reach.establishments }
    .action(AuditAction::EmergencyAccessReview);
    let rows = tx.finish(&REVIEW, &args).await?;
    emergency(rows.first().ok_or(StoreError::NotFound)?, &keys)
}

/// Why a review did not apply, for an opening the caller oversees: `Some((own, reviewed))`
/// (the reviewer opened it; it was reviewed already), `None` when out of reach or absent.
pub async fn review_state(mut tx: Tx<'_>, id: EmergencyAccessId) -> StoreResult<Option<(bool, bool)>> {
    let reach = overseen(&tx)?;
    let row_id = id.as_uuid();
    let args = args! { id: &row_id, overseen_all: &reach.all, overseen: &reach.establishments };
    let row = tx.query_opt(&REVIEW_STATE, &args).await?;
    tx.commit().await?;
    row.map(|row| Ok((row.try_get("own")?, row.try_get("reviewed")?))).transpose()
}

/// Emergency openings: reasons and review comments sealed; a merge moves them; the resident's
/// export lists them, oldest first, with their review.
pub(crate) const FEATURE: Feature = Feature {
    name: "emergency",
    tables: &[Table::of_person(
        "emergency_accesses",
        &[EMERGENCY_REASON, EMERGENCY_REVIEW],
        "emergency_accesses",
        EMERGENCY_FIELDS,
        "opened_at, id",
        |row, keys| to_json(emergency(row, keys)),
    )],
};
