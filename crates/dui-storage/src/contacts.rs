//! Contacts of a person: relatives, carers, the trusted person, legal representatives (with
//! their protection measure). Their details are sealed; a contact ends, it is never deleted.

use std::sync::LazyLock;

use dui_crypto::{Column, Keyring};
use dui_domain::audit::AuditAction;
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::record::{Contact, ContactChange, ContactKind, NewContact, ProtectionMeasure};
use dui_domain::{ContactId, ResidentId};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::StoreResult;
use crate::access::{WHO_CTE, target};
use crate::args;
use crate::feature::{Feature, Merge, Table, to_json};
use crate::idempotency::{Create, create_once};
use crate::listing::{listed, present};
use crate::rows::{parse, parse_opt};
use crate::sealing::{open_json, seal_json};
use crate::sql::{Sql, Stmt};
use crate::trace::Trace;
use crate::tx::Tx;
use crate::unchanged::why_unchanged;

pub(crate) const CONTACT_DETAILS: Column = Column::new("contacts", "details");

pub(crate) const CONTACT_FIELDS: &str =
    "id, resident_id, kind, protection_measure, details, emergency_contact, ended_at, row_version, dek_version";

pub(crate) fn contact(row: &Row, keys: &Keyring) -> StoreResult<Contact> {
    let id: Uuid = row.try_get("id")?;
    Ok(Contact {
        id: ContactId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        kind: parse(row, "kind", ContactKind::parse)?,
        protection_measure: parse_opt(row, "protection_measure", ProtectionMeasure::parse)?,
        details: open_json(keys, CONTACT_DETAILS, id, row.try_get("details")?)?,
        emergency_contact: row.try_get("emergency_contact")?,
        ended_at: row.try_get("ended_at")?,
        row_version: row.try_get("row_version")?,
    })
}

static LIST: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT c.* FROM contacts c, target t WHERE c.tenant_id = t.tenant_id AND c.resident_id = t.id), \
         trace AS ({trace}) \
         {listed}",
        target = target(),
        trace = Trace::read(),
        listed = listed(
            &format!("SELECT {CONTACT_FIELDS}, created_at FROM data"),
            "x.ended_at NULLS FIRST, x.created_at, x.id"
        ),
    ))
});

static INSERT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         c AS (INSERT INTO contacts (tenant_id, id, resident_id, kind, protection_measure, details, emergency_contact, \
                                     dek_version) \
               SELECT t.tenant_id, :id, t.id, :kind, :measure, :details, :emergency_contact, :dek_version \
               FROM target t WHERE t.record_status = 'active' RETURNING *), \
         trace AS ({trace}) SELECT {CONTACT_FIELDS} FROM c",
        target = target(),
        trace = Trace::written("c"),
    ))
});

static BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {CONTACT_FIELDS} FROM contacts WHERE tenant_id = :tenant AND id = :id"))
});

static UPDATE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         changed AS (UPDATE contacts c SET details = coalesce(:details, c.details), \
                       dek_version = CASE WHEN :details::bytea IS NULL THEN c.dek_version ELSE :dek_version END, \
                       emergency_contact = coalesce(:emergency_contact, c.emergency_contact), \
                       ended_at = CASE WHEN :end THEN coalesce(c.ended_at, now()) ELSE c.ended_at END, \
                       row_version = c.row_version + 1, updated_at = now() \
                     FROM target t WHERE c.tenant_id = t.tenant_id AND c.resident_id = t.id AND c.id = :id \
                     AND (:expected_version::int IS NULL OR c.row_version = :expected_version) RETURNING c.*), \
         trace AS ({trace}) SELECT {CONTACT_FIELDS} FROM changed",
        target = target(),
        trace = Trace::written("changed"),
    ))
});

/// A person's contacts, current ones first; recorded.
pub async fn list(tx: Tx<'_>, resident: ResidentId) -> StoreResult<Vec<Contact>> {
    let id = resident.as_uuid();
    let args = args! { resident: &id }.action(AuditAction::ContactRead);
    let (db, tenant) = (tx.db(), tx.tenant());
    let rows = present(tx.finish(&LIST, &args).await?)?;
    db.open_rows(tenant, &rows, contact).await
}

/// Adds a contact, and commits.
pub async fn add(
    tx: Tx<'_>,
    key: Option<&IdempotencyKey>,
    resident: ResidentId,
    new: &NewContact,
) -> StoreResult<Created<Contact>> {
    let keys = tx.sealing_keys(1).await?;
    let id = Uuid::now_v7();
    let details = seal_json(&keys, CONTACT_DETAILS, id, &new.details)?;
    let resident = resident.as_uuid();
    let dek = keys.active_version() as i32;
    let measure = new.protection_measure.map(ProtectionMeasure::as_str);
    let kind = new.kind.as_str();
    let args = args! { resident: &resident, id: &id, kind: &kind, measure: &measure, details: &details,
    emergency_contact: &new.emergency_contact, dek_version: &dek }
    .action(AuditAction::ContactCreate);
    let map = |row: &Row| contact(row, &keys);
    create_once(tx, key, Create { id, insert: &INSERT, args, reload: &BY_ID, map: &map }).await
}

/// Replaces a contact's details (or ends it), if it is still at `expected_version`; commits.
pub async fn update(
    tx: Tx<'_>,
    resident: ResidentId,
    contact_id: ContactId,
    expected_version: Option<i32>,
    change: &ContactChange,
) -> StoreResult<Contact> {
    let keys = tx.sealing_keys(1).await?;
    let id = contact_id.as_uuid();
    let details = change.details.as_ref().map(|d| seal_json(&keys, CONTACT_DETAILS, id, d)).transpose()?;
    let dek = keys.active_version() as i32;
    let resident_id = resident.as_uuid();
    let args = args! { resident: &resident_id, id: &id, details: &details, dek_version: &dek,
    emergency_contact: &change.emergency_contact, end: &change.end,
    expected_version: &expected_version }
    .action(AuditAction::ContactUpdate);
    let (db, tenant, again) = (tx.db(), tx.tenant(), tx.again());
    match tx.finish(&UPDATE, &args).await?.first() {
        Some(row) => db.open_one(tenant, row, contact).await,
        None => Err(why_unchanged(again, "contacts", resident, id, expected_version).await),
    }
}

/// Contacts: their details are sealed; a merge moves them; the resident's export lists them
/// all, ended ones included, in the order they were recorded.
pub(crate) const FEATURE: Feature = Feature {
    name: "contacts",
    tables: &[Table::of_person(
        "contacts",
        &[CONTACT_DETAILS],
        "contacts",
        CONTACT_FIELDS,
        "created_at, id",
        |row, keys| to_json(contact(row, keys)),
    )
    // A person has one personne de confiance in force: when both records have one, the
    // duplicate's designation ends with the merge (it stays in the history).
    .merged(Merge::Rule {
        merge: || {
            "UPDATE contacts c SET resident_id = :survivor, \
               ended_at = CASE WHEN c.kind = 'trusted_person' AND c.ended_at IS NULL AND EXISTS ( \
                   SELECT 1 FROM contacts k WHERE k.tenant_id = c.tenant_id AND k.resident_id = :survivor \
                   AND k.kind = 'trusted_person' AND k.ended_at IS NULL) THEN now() ELSE c.ended_at END \
             FROM ok, who WHERE ok.found_both AND c.tenant_id = who.tenant_id AND c.resident_id = :duplicate \
             RETURNING c.id, (c.kind = 'trusted_person' AND c.ended_at = now()) AS ended"
                .to_owned()
        },
        undo: "ended_at = CASE WHEN t.id::text = ANY(m.ended) THEN NULL ELSE t.ended_at END",
    })],
};
