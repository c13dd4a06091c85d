//! Documents attached to a person's record. The metadata is a row of `documents` (the title
//! sealed in `details`); the content is cut into chunks of [`CHUNK_SIZE`] bytes, each sealed on
//! its own at its place (`dui_crypto::chunked`) and stored as a row of `document_chunks`, written
//! as an upload arrives and read back one at a time by a download: neither holds the whole file
//! in memory. The chunks and the document's row (with its trace) are written in one
//! transaction: an upload refused half-way, or cut off, leaves nothing.
//!
//! Read by those who read the care team's data where the document was added
//! (`care_readable`); flagged in error, never deleted.

use std::sync::{Arc, LazyLock};

use base64::Engine;
use chrono::{DateTime, Utc};
use dui_crypto::chunked::chunk_place;
pub use dui_crypto::spool::{Spool, SpoolError, SpoolReader};
use dui_crypto::{Column, Keyring};
use dui_domain::audit::AuditAction;
use dui_domain::document::{ContentFacts, ContentType, Document, DocumentKind, DocumentStatus, NewDocument};
use dui_domain::idempotency::{Created, IdempotencyKey, KEY_LIFETIME_HOURS};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::transmission::EnteredInError;
use dui_domain::{DocumentId, EstablishmentId, ResidentId, TenantId, UserId};
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::access::{WHO_CTE, care_readable, target};
use crate::alerts::{Flagging, flag_entered_in_error};
use crate::args;
use crate::feature::{Feature, Table, TenantExport, to_json};
use crate::idempotency::{CLAIM_NAMED, EXISTING_NAMED};
use crate::listing::{listed, open_listed};
use crate::rows::parse;
use crate::sealing::{open_json, refuse_sealed, seal_json};
use crate::sql::{Sql, Stmt};
use crate::stays::PLACE;
use crate::trace::Trace;
use crate::tx::{Mode, Tx};
use crate::{Db, StoreError, StoreResult};

pub(crate) const DETAILS: Column = Column::new("documents", "details");
pub(crate) const ERROR_REASON: Column = Column::new("documents", "error_reason");
pub(crate) const CONTENT: Column = Column::raw("document_chunks", "content");

/// The size of a document's chunks (the last one may be shorter): a few round trips per
/// megabyte, and little memory per upload or download in progress.
pub const CHUNK_SIZE: usize = 256 * 1024;

/// What is sealed of a document's metadata.
#[derive(Serialize, Deserialize)]
struct Details {
    title: String,
}

/// A document's columns, from alias `d`.
const DOCUMENT_COLUMNS: &str = "d.id, d.resident_id, d.establishment_id, d.kind, d.details, d.dek_version, \
     d.document_date, d.content_type, d.size_bytes, d.sha256, d.chunk_count, d.recorded_by, d.recorded_at, \
     d.error_at, d.error_by, d.error_reason";

pub(crate) fn document(row: &Row, keys: &Keyring) -> StoreResult<Document> {
    let id: Uuid = row.try_get("id")?;
    let details: Details = open_json(keys, DETAILS, id, row.try_get("details")?)?;
    let entered_in_error = match row.try_get::<_, Option<DateTime<Utc>>>("error_at")? {
        Some(at) => Some(EnteredInError {
            at,
            by: UserId::from_uuid(row.try_get("error_by")?),
            reason: open_json(keys, ERROR_REASON, id, row.try_get("error_reason")?)?,
        }),
        None => None,
    };
    Ok(Document {
        id: DocumentId::from_uuid(id),
        resident_id: ResidentId::from_uuid(row.try_get("resident_id")?),
        establishment_id: EstablishmentId::from_uuid(row.try_get("establishment_id")?),
        kind: parse(row, "kind", DocumentKind::parse)?,
        title: details.title,
        document_date: row.try_get("document_date")?,
        content_type: parse(row, "content_type", ContentType::parse)?,
        size_bytes: row.try_get::<_, i64>("size_bytes")? as u64,
        sha256: row.try_get("sha256")?,
        status: if entered_in_error.is_some() { DocumentStatus::EnteredInError } else { DocumentStatus::Active },
        recorded_by: UserId::from_uuid(row.try_get("recorded_by")?),
        recorded_at: row.try_get("recorded_at")?,
        entered_in_error,
    })
}

static INSERT_CHUNK: Stmt = LazyLock::new(|| {
    Sql::new(
        "INSERT INTO document_chunks (tenant_id, id, document_id, chunk_index, content, dek_version) \
         VALUES (:tenant, :id, :document, :index, :content, :dek_version)",
    )
});

static INSERT_DOCUMENT: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, {PLACE}, \
         d AS (INSERT INTO documents (tenant_id, id, resident_id, establishment_id, kind, details, dek_version, \
                 document_date, content_type, size_bytes, sha256, chunk_count, recorded_by) \
               SELECT t.tenant_id, :id, t.id, p.establishment_id, :kind, :details, :dek_version, :document_date, \
                 :content_type, :size_bytes, :sha256, :chunk_count, who.user_id \
               FROM target t, place p, who WHERE t.record_status = 'active' RETURNING *), \
         trace AS ({trace}) SELECT {DOCUMENT_COLUMNS} FROM d",
        target = target(),
        trace = Trace::written("d"),
    ))
});

static DOCUMENT_BY_ID: Stmt = LazyLock::new(|| {
    Sql::new(&format!("SELECT {DOCUMENT_COLUMNS} FROM documents d WHERE d.tenant_id = :tenant AND d.id = :id"))
});

/// An upload in progress: its transaction, holding the chunks stored so far. Dropped before
/// [`Upload::finish`], it rolls back and nothing of it stays.
pub struct Upload<'a> {
    tx: Tx<'a>,
    id: Uuid,
    next: u32,
}

impl std::fmt::Debug for Upload<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload").field("id", &self.id).field("chunks", &self.next).finish()
    }
}

impl<'a> Upload<'a> {
    /// Starts an upload in `tx` (where the use case has decided access already).
    pub fn start(tx: Tx<'a>) -> Self {
        Self { tx, id: Uuid::now_v7(), next: 0 }
    }

    /// The transaction, for the use case's own statements.
    pub fn tx(&mut self) -> &mut Tx<'a> {
        &mut self.tx
    }

    /// How many chunks were stored.
    pub fn chunks(&self) -> u32 {
        self.next
    }

    /// Seals and stores the next chunk, the last one when `last`.
    pub async fn put(&mut self, content: &[u8], last: bool) -> StoreResult<()> {
        let keys = self.tx.sealing_keys(1).await?;
        let index = self.next;
        let sealed =
            keys.seal_chunk(CONTENT, self.id, index, last, content).map_err(|e| StoreError::Crypto(e.to_string()))?;
        let (place, position, dek) = (chunk_place(self.id, index, last), index as i32, keys.active_version() as i32);
        let args = args! { id: &place, document: &self.id, index: &position, content: &sealed, dek_version: &dek };
        self.tx.query(&INSERT_CHUNK, &args).await?;
        self.next += 1;
        Ok(())
    }

    /// Writes the document's row over the chunks stored, with its trace, and commits — once per
    /// idempotency key: when the key was used already, the chunks are rolled back and the
    /// document made the first time is returned (if the request, content included, was the
    /// same). `NotFound` when the record is out of reach or no longer active.
    pub async fn finish(
        mut self,
        key: Option<&IdempotencyKey>,
        resident: ResidentId,
        new: &NewDocument,
        facts: &ContentFacts,
    ) -> StoreResult<Created<Document>> {
        if let Some(key) = key {
            let (text, fingerprint, lifetime) = (key.key(), key.fingerprint().as_slice(), KEY_LIFETIME_HOURS as i32);
            let claim = args! { key: &text, fingerprint: &fingerprint, resource: &self.id, lifetime_hours: &lifetime };
            if self.tx.query(&CLAIM_NAMED, &claim).await?.is_empty() {
                let existing =
                    self.tx.query_one(&EXISTING_NAMED, &args! { key: &text, lifetime_hours: &lifetime }).await?;
                if existing.try_get::<_, &[u8]>("fingerprint")? != fingerprint {
                    return Err(StoreError::IdempotencyMismatch);
                }
                let resource: Uuid = existing.try_get("resource_id")?;
                let row = self.tx.query_one(&DOCUMENT_BY_ID, &args! { id: &resource }).await?;
                let keys = self.tx.keyring(crate::sealing::versions(std::slice::from_ref(&row))?).await?;
                let value = document(&row, &keys)?;
                // The chunks sent again are not kept.
                self.tx.rollback().await?;
                return Ok(Created { value, replayed: true });
            }
        }
        let keys = self.tx.sealing_keys(1).await?;
        let details = seal_json(&keys, DETAILS, self.id, &Details { title: new.title.clone() })?;
        let (resident, dek, kind) = (resident.as_uuid(), keys.active_version() as i32, new.kind.as_str());
        let (content_type, size, chunks) = (facts.content_type.as_str(), facts.size_bytes as i64, self.next as i32);
        let args = args! { resident: &resident, id: &self.id, kind: &kind, details: &details, dek_version: &dek,
        document_date: &new.document_date, content_type: &content_type, size_bytes: &size,
        sha256: &facts.sha256, chunk_count: &chunks }
        .action(AuditAction::DocumentCreate);
        let rows = self.tx.query(&INSERT_DOCUMENT, &args).await?;
        let value = document(rows.first().ok_or(StoreError::NotFound)?, &keys)?;
        self.tx.commit().await?;
        Ok(Created { value, replayed: false })
    }
}

/// A person's documents the caller reads, newest first, a page after `:after`.
static LIST: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         data AS (SELECT d.* FROM documents d, target t, who WHERE d.tenant_id = t.tenant_id AND d.resident_id = t.id \
                  AND {readable} AND (:after::uuid IS NULL OR d.id < :after) ORDER BY d.id DESC LIMIT :limit) \
         {listed}",
        target = target(),
        readable = care_readable("d", "NOT t.normal"),
        listed = listed(&format!("SELECT {DOCUMENT_COLUMNS} FROM data d"), "x.id DESC"),
    ))
});

/// One document the caller reads.
static ONE: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} {listed}",
        target = target(),
        listed = listed(
            &format!(
                "SELECT {DOCUMENT_COLUMNS} FROM documents d, target t, who WHERE d.tenant_id = t.tenant_id \
                 AND d.resident_id = t.id AND d.id = :id AND {}",
                care_readable("d", "NOT t.normal")
            ),
            "x.id"
        ),
    ))
});

/// A document the caller reads, for a change: whether it is flagged already.
static META: Stmt = LazyLock::new(|| {
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target} \
         SELECT d.error_at IS NOT NULL AS in_error FROM documents d, target t, who \
         WHERE d.tenant_id = t.tenant_id AND d.resident_id = t.id AND d.id = :id AND {readable}",
        target = target(),
        readable = care_readable("d", "NOT t.normal"),
    ))
});

/// A document the caller reads, opened for download: its metadata, its first chunk, and the
/// download's event (naming the document) in the same statement.
static OPEN: Stmt = LazyLock::new(|| {
    let trace = Trace {
        from: "who, d, target",
        resident: "d.resident_id",
        resource: "d.id",
        outcome: "'success'",
        emergency: "NOT target.normal",
    };
    Sql::new(&format!(
        "WITH {WHO_CTE}, {target}, \
         d AS (SELECT d.* FROM documents d, target t, who WHERE d.tenant_id = t.tenant_id AND d.resident_id = t.id \
               AND d.id = :id AND {readable}), \
         trace AS ({trace}) \
         SELECT {DOCUMENT_COLUMNS}, c.content AS first_chunk, c.dek_version AS first_dek_version \
         FROM d LEFT JOIN document_chunks c ON c.tenant_id = d.tenant_id AND c.document_id = d.id AND c.chunk_index = 0",
        target = target(),
        readable = care_readable("d", "NOT t.normal"),
        trace = trace.sql(),
    ))
});

/// One chunk of a document, by its index.
static CHUNK: Stmt = LazyLock::new(|| {
    Sql::new(
        "SELECT content, dek_version FROM document_chunks \
         WHERE tenant_id = :tenant AND document_id = :document AND chunk_index = :index",
    )
});

static FLAG: LazyLock<Flagging> = LazyLock::new(|| {
    Flagging::of(
        "documents",
        DOCUMENT_COLUMNS,
        "d",
        care_readable,
        [DETAILS, ERROR_REASON],
        AuditAction::DocumentFlagError,
    )
});

/// A resident's documents the caller reads, newest first, as the transaction's last statement;
/// the reading is recorded. `NotFound` when the resident is out of reach.
pub async fn list(tx: Tx<'_>, resident: ResidentId, page: PageRequest) -> StoreResult<Page<Document>> {
    let resident = resident.as_uuid();
    let limit = page.fetch_limit();
    let args = args! { resident: &resident, after: &page.after, limit: &limit };
    let trace = crate::trail::ReadTrace::Record { action: AuditAction::DocumentRead, resident };
    let items = open_listed(tx, &LIST, &args, Some(trace), document).await?;
    Ok(Page::from_rows(items, page, |d| d.id.as_uuid()))
}

/// One document's metadata, as the transaction's last statement; the reading is recorded.
/// `NotFound` when the resident is out of reach or the document is not one the caller reads.
pub async fn one(tx: Tx<'_>, resident: ResidentId, id: DocumentId) -> StoreResult<Document> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let trace = crate::trail::ReadTrace::Record { action: AuditAction::DocumentRead, resident };
    open_listed(tx, &ONE, &args! { resident: &resident, id: &id }, Some(trace), document)
        .await?
        .pop()
        .ok_or(StoreError::NotFound)
}

/// Whether a document the caller reads is flagged in error. `NotFound` otherwise.
pub async fn in_error(tx: &mut Tx<'_>, resident: ResidentId, id: DocumentId) -> StoreResult<bool> {
    let (resident, id) = (resident.as_uuid(), id.as_uuid());
    let row = tx.query_opt(&META, &args! { resident: &resident, id: &id }).await?.ok_or(StoreError::NotFound)?;
    Ok(row.try_get("in_error")?)
}

/// Flags a document as entered in error (see [`flag_entered_in_error`]).
pub async fn flag(tx: Tx<'_>, resident: ResidentId, id: DocumentId, reason: &str) -> StoreResult<Document> {
    flag_entered_in_error(tx, &FLAG, resident, id.as_uuid(), reason, document).await
}

/// A document opened for download: its metadata and its content, chunk by chunk.
#[derive(Debug)]
pub struct Opened {
    pub document: Document,
    pub content: Content,
}

/// A document's content, read one chunk at a time, each opened at its place: a chunk altered,
/// moved, missing or added fails loudly ([`StoreError::Tampered`]), never a shorter content.
pub struct Content {
    db: Db,
    tenant: TenantId,
    document: Uuid,
    count: u32,
    next: u32,
    /// The first chunk, read and opened with the metadata.
    first: Option<Vec<u8>>,
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Content").field("document", &self.document).field("chunks", &self.count).finish()
    }
}

impl Content {
    /// The next chunk of the content, `None` after the last. Each is read in a short transaction
    /// of its own: a slow client holds no connection between chunks.
    pub async fn next_chunk(&mut self) -> StoreResult<Option<Vec<u8>>> {
        if let Some(first) = self.first.take() {
            self.next = 1;
            return Ok(Some(first));
        }
        if self.next >= self.count {
            return Ok(None);
        }
        let (document, index) = (self.document, self.next as i32);
        let rows = self
            .db
            .begin_for_tenant(self.tenant, Mode::Read)
            .finish(&CHUNK, &args! { document: &document, index: &index })
            .await?;
        let place = chunk_place(document, self.next, self.next + 1 == self.count);
        let Some(row) = rows.first() else {
            tracing::error!(tenant = %self.tenant, %document, index, "a chunk of a document is missing");
            return Err(StoreError::Tampered { table: CONTENT.table, column: CONTENT.column });
        };
        let keys = self.db.keyring(self.tenant, [row.try_get::<_, i32>("dek_version")? as u32]).await?;
        let chunk = keys
            .open_chunk(CONTENT, document, self.next, self.next + 1 == self.count, row.try_get("content")?)
            .map_err(|e| refuse_sealed(self.tenant, CONTENT, place, e))?;
        self.next += 1;
        Ok(Some(chunk))
    }
}

/// Opens a document the caller reads for download, recording the download and committing
/// before any content is given. Its first chunk is read and opened here, so that a document
/// whose content does not open at all is refused before an answer starts. `NotFound` (the
/// refusal recorded) when the resident is out of reach or the document not one the caller reads.
pub async fn open(mut tx: Tx<'_>, resident: ResidentId, id: DocumentId) -> StoreResult<Opened> {
    let (db, tenant) = (tx.db().clone(), tx.tenant());
    let (resident_id, document_id) = (resident.as_uuid(), id.as_uuid());
    let args = args! { resident: &resident_id, id: &document_id }.action(AuditAction::DocumentDownload);
    let rows = tx.query(&OPEN, &args).await?;
    let Some(row) = rows.first() else {
        crate::access::deny(&mut tx, AuditAction::DocumentDownload, resident).await?;
        return Err(StoreError::NotFound);
    };
    tx.commit().await?;
    let count = row.try_get::<_, i32>("chunk_count")? as u32;
    let first_version: Option<i32> = row.try_get("first_dek_version")?;
    let mut versions = vec![row.try_get::<_, i32>("dek_version")? as u32];
    versions.extend(first_version.map(|v| v as u32));
    let keys: Arc<Keyring> = db.keyring(tenant, versions).await?;
    let document = document(row, &keys)?;
    let place = chunk_place(document_id, 0, count == 1);
    let Some(sealed) = row.try_get::<_, Option<&[u8]>>("first_chunk")? else {
        tracing::error!(%tenant, document = %document_id, "the first chunk of a document is missing");
        return Err(StoreError::Tampered { table: CONTENT.table, column: CONTENT.column });
    };
    let first = keys
        .open_chunk(CONTENT, document_id, 0, count == 1, sealed)
        .map_err(|e| refuse_sealed(tenant, CONTENT, place, e))?;
    Ok(Opened { document, content: Content { db, tenant, document: document_id, count, next: 0, first: Some(first) } })
}

/// The resident's export of a document: its metadata and its content in base64 (the export is
/// one JSON document).
fn exported(row: &Row, keys: &Keyring) -> StoreResult<serde_json::Value> {
    let meta = document(row, keys)?;
    let id = meta.id.as_uuid();
    let chunks: Vec<&[u8]> = row.try_get("chunks")?;
    let count = row.try_get::<_, i32>("chunk_count")? as usize;
    if chunks.len() != count {
        tracing::error!(tenant = %keys.tenant(), document = %id, "a document's chunks are missing or added");
        return Err(StoreError::Tampered { table: CONTENT.table, column: CONTENT.column });
    }
    let mut content = Vec::with_capacity(meta.size_bytes as usize);
    for (index, sealed) in chunks.iter().enumerate() {
        let last = index + 1 == count;
        let opened = keys
            .open_chunk(CONTENT, id, index as u32, last, sealed)
            .map_err(|e| refuse_sealed(keys.tenant(), CONTENT, chunk_place(id, index as u32, last), e))?;
        content.extend_from_slice(&opened);
    }
    let mut value = to_json(Ok(meta))?;
    if let serde_json::Value::Object(object) = &mut value {
        let encoded = base64::engine::general_purpose::STANDARD.encode(&content);
        object.insert("content_base64".to_owned(), serde_json::Value::String(encoded));
    }
    Ok(value)
}

/// The export's columns: a document's, its chunks in order, and the newest key version among
/// them and the document (so that the keyring read for the export opens them all).
const EXPORT_COLUMNS: &str = "d.id, d.resident_id, d.establishment_id, d.kind, d.details, \
     GREATEST(d.dek_version, (SELECT max(c.dek_version) FROM document_chunks c \
       WHERE c.tenant_id = d.tenant_id AND c.document_id = d.id)) AS dek_version, \
     ARRAY(SELECT c.content FROM document_chunks c WHERE c.tenant_id = d.tenant_id AND c.document_id = d.id \
       ORDER BY c.chunk_index) AS chunks, \
     d.document_date, d.content_type, d.size_bytes, d.sha256, d.chunk_count, d.recorded_by, d.recorded_at, \
     d.error_at, d.error_by, d.error_reason";

/// Documents: the title and the content sealed; a merge moves a document to the record kept
/// (its chunks belong to the document, not to the person); the resident's export gives each
/// document with its content in base64, in the order they were added. The chunks are resealed
/// after a key rotation like any sealed row (a chunk's id is the place its seal is bound to), and
/// the tenant's export carries them in base64, document by document, in order.
pub(crate) const FEATURE: Feature = Feature {
    name: "documents",
    tables: &[
        Table::of_person("documents", &[DETAILS, ERROR_REASON], "documents d", EXPORT_COLUMNS, "d.id", exported),
        Table {
            name: "document_chunks",
            sealed: &[CONTENT],
            reseal: true,
            tenant_export: TenantExport::rows("document_id, chunk_index"),
            resident: None,
        },
    ],
};
