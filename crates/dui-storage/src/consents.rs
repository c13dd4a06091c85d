//! Consents and oppositions (DMP feeding, sharing outside the team, messages to the person,
//! image rights...): recorded with who expressed them and when, revoked, never edited.

use std::sync::LazyLock;

use dui_crypto::{Column, Keyring};
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::record::{Consent, ConsentDecision, ConsentKind, ExpressedBy, NewConsent};
use dui_domain::{ConsentId, ResidentId, UserId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO_CTE, target};
use crate::args;
use crate::feature::{Feature, Table, to_json};
use crate::idempotency::{Create, create_once};
use crate::listing::{listed, present};
use crate::rows::parse;
use crate::sealing::{open_json, seal_json};
use crate::sql::{Sql, Stmt};
use crate::trace::Trace;
use crate::tx::Tx;
use crate::{StoreError, StoreResult};

pub(crate) const CONSENT_DETAILS: Column = Column::new("consents", "details");

pub(crate) const CONSENT_FIELDS: &str = "id, resident_id, kind, decision, expressed_on, expressed_by, recorded_by, recorded_at, \
     revoked_at, revoked_by, details, dek_version";

pub(crate) fn consent(row: &Row, keys: &Keyring) -> StoreResult<Consent> {
    let id: Uuid = row.try_get("id")?;
    Ok(Consent {
        id: ConsentId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        kind: parse(row, "kind", ConsentKind::parse)?,
        decision: parse(row, "decision", ConsentDecision::parse)?,
        expressed_on: row.try_get("expressed_on")?,
        expressed_by: parse(row, "expressed_by", ExpressedBy::parse)?,
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        revoked_at: row.try_get("revoked_at")?,
        revoked_by: row.try_get::<_, Option<Uuid>>("revoked_by")?.map(UserId::from_uuid),
        comment: match row.try_get::<_, Option<&[u8]>>("details")? {
            Some(sealed) => open_json(keys, CONSENT_DETAILS, id, sealed)?,
            None => None,
        },
    })
}

static LIST: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT c.* FROM consents c, target t WHERE c.tenant_id = t.tenant_id AND c.resident_id = t.id), \
         trace AS ({trace}) \
         {listed}",
        target = target(),
        trace = Trace::read(),
        listed = listed(&format!("SELECT {CONSENT_FIELDS} FROM data"), "x.recorded_at DESC, x.id DESC"),
    ))
});

static INSERT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         c AS (INSERT INTO consents (tenant_id, id, resident_id, kind, decision, expressed_on, expressed_by, recorded_by, \
                                     details, dek_version) \
               SELECT t.tenant_id, :id, t.id, :kind, :decision, :expressed_on, :expressed_by, who.user_id, :details, \
                      :dek_version FROM target t, who \
               WHERE t.record_status = 'active' RETURNING *), \
         trace AS ({trace}) SELECT {CONSENT_FIELDS} FROM c",
        target = target(),
        trace = Trace::written("c"),
    ))
});

static BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {CONSENT_FIELDS} FROM consents WHERE tenant_id = :tenant AND id = :id"))
});

static REVOKE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         changed AS (UPDATE consents c SET revoked_at = coalesce(c.revoked_at, now()), \
                       revoked_by = coalesce(c.revoked_by, who.user_id) \
                     FROM target t, who WHERE c.tenant_id = t.tenant_id AND c.resident_id = t.id AND c.id = :id \
                     RETURNING c.*), \
         trace AS ({trace}) SELECT {CONSENT_FIELDS} FROM changed",
        target = target(),
        trace = Trace::written("changed"),
    ))
});

/// A person's consents and oppositions, newest first; recorded.
pub async fn list(tx: Tx<'_>, resident: ResidentId) -> StoreResult<Vec<Consent>> {
    let id = resident.as_uuid();
    let args = args! { resident: &id }.action(AuditAction::ConsentRead);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = present(tx.finish(&LIST, &args).await?)?;
    db.open_rows(tenant, &rows, consent).await
}

/// Records a consent or an opposition, and commits.
pub async fn record(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewConsent,
) -> StoreResult<Created<Consent>> {
    let keys = tx.sealing_keys(1).await?;
    let id = Uuid::now_v7();
    let details = new.comment.as_ref().map(|c| seal_json(&keys, CONSENT_DETAILS, id, &Some(c))).transpose()?;
    let resident = resident.as_uuid();
    let dek = keys.active_version() as i32;
    let (kind, decision, expressed_by) = (new.kind.as_str(), new.decision.as_str(), new.expressed_by.as_str());
    let args = args! { resident: &resident, id: &id, kind: &kind, decision: &decision, expressed_on: &new.expressed_on,
    expressed_by: &expressed_by, details: &details, dek_version: &dek }
    .action(AuditAction::ConsentCreate);
    let map = |row: &Row| consent(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT, args, reload: &BY_ID, map: &map }).await
}

/// Revokes a consent decision (revoking twice keeps the first revocation), and commits.
pub async fn revoke(tx: Tx<'_>, resident: ResidentId, consent_id: ConsentId) -> StoreResult<Consent> {
    let (resident, id) = (resident.as_uuid(), consent_id.as_uuid());
    let args = args! { resident: &resident, id: &id }.action(AuditAction::ConsentRevoke);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = tx.finish(&REVOKE, &args).await?;
    let row = rows.first().ok_or(StoreError::NotFound)?;
    db.open_one(tenant, row, consent).await
}

/// Consents and oppositions: comments sealed; a merge moves them; the resident's export lists
/// them all, revoked ones included, in the order they were recorded.
pub(crate) const FEATURE: Feature = Feature {
    name: "consents",
    tables: &[Table::of_person(
        "consents",
        &[CONSENT_DETAILS],
        "consents",
        CONSENT_FIELDS,
        "recorded_at, id",
        |row, keys| to_json(consent(row, keys)),
    )],
};
