//! Documents attached to a person's record: added (streamed: the content is read, checked and
//! hashed as it arrives, received whole into a sealed spool — no database connection is held
//! while a slow client sends it —, then sealed and stored chunk by chunk, never held whole), listed, read,
//! downloaded (chunk by chunk again), flagged when entered in error. Read by those who read the
//! care team's data where the person is supported; added and flagged by those who record care
//! data (`policy::can_add_document`), whatever the document's kind.

use std::fmt::Display;

use bytes::Bytes;
use dui_domain::audit::AuditAction;
use dui_domain::document::{
    ContentFacts, ContentType, Document, DocumentInput, NewDocument, SIGNATURE_LEN, check_declared, sniff,
};
use dui_domain::idempotency::{Created, IdempotencyKey};
use dui_domain::pagination::{Page, PageRequest};
use dui_domain::policy;
use dui_domain::record::free_text;
use dui_domain::scope::TenantScope;
use dui_domain::{DocumentId, ResidentId};
use dui_storage::documents::{self, CHUNK_SIZE, Opened, Spool, Upload};
use dui_storage::{Mode, StoreError};
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};

use crate::access::{acting, changeable, refuse};
use crate::{App, AppError, AppResult};

/// A document to add: its metadata, and its content as it arrives.
pub struct AddDocument<S> {
    pub resident: ResidentId,
    pub document: DocumentInput,
    /// The type the client declared, if any: it must be the one found in the content (or
    /// `application/octet-stream`).
    pub declared_type: Option<String>,
    /// The length the client announced, if any: refused at once when over the limit.
    pub declared_length: Option<u64>,
    /// The largest content accepted, in bytes (the server's setting).
    pub max_bytes: u64,
    /// The idempotency key, with the fingerprint of the request without its content: the
    /// content's SHA-256 completes it once the content is read.
    pub key: Option<IdempotencyKey>,
    pub content: S,
}

impl<S> std::fmt::Debug for AddDocument<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddDocument")
            .field("resident", &self.resident)
            .field("kind", &self.document.kind)
            .field("declared_type", &self.declared_type)
            .field("declared_length", &self.declared_length)
            .finish_non_exhaustive()
    }
}

fn too_large(max: u64) -> AppError {
    AppError::TooLarge(format!("A document may be at most {max} bytes."))
}

/// The format of the content from its first bytes, and its agreement with the declared type.
fn decide(head: &[u8], declared: Option<&str>) -> AppResult<ContentType> {
    let found = sniff(head).map_err(AppError::Unsupported)?;
    check_declared(declared, found).map_err(AppError::Unsupported)?;
    Ok(found)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Adds a document to a person's record: by those who record care data where the person is
/// supported. The content is refused as soon as its first bytes show it is not a PDF, a JPEG or
/// a PNG (or not the type declared), or once it passes `max_bytes`; nothing of a refused or
/// interrupted upload stays. With an idempotency key, the same request (content included) sent
/// again returns the document made the first time.
pub async fn add<S, E>(app: &App, scope: &TenantScope, command: AddDocument<S>) -> AppResult<Created<Document>>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    let resident = command.resident;
    // Decided before the content is received: a refusal is told at once.
    let mut tx = app.db().begin(scope, Mode::Write);
    may_add(&mut tx, scope, resident, command.document.clone()).await?;
    tx.commit().await?;
    if command.declared_length.is_some_and(|length| length > command.max_bytes) {
        return Err(too_large(command.max_bytes));
    }
    // Received whole into a spool (sealed under a key held in memory) before the database is
    // asked for anything: a slow upload holds no connection of the pool.
    let declared = command.declared_type.as_deref();
    let mut spool =
        Spool::new(&std::env::temp_dir()).map_err(|e| AppError::Store(StoreError::Unavailable(e.to_string())))?;
    let mut content = command.content;
    let mut digest = Sha256::new();
    let mut head: Vec<u8> = Vec::with_capacity(SIGNATURE_LEN);
    let mut format: Option<ContentType> = None;
    while let Some(frame) = content.next().await {
        let frame = frame.map_err(|e| AppError::Unreadable(format!("The content could not be read: {e}")))?;
        if spool.size() + frame.len() as u64 > command.max_bytes {
            return Err(too_large(command.max_bytes));
        }
        digest.update(&frame);
        if format.is_none() {
            head.extend_from_slice(&frame[..(SIGNATURE_LEN - head.len()).min(frame.len())]);
            if head.len() == SIGNATURE_LEN {
                format = Some(decide(&head, declared)?);
            }
        }
        spool.write(&frame).map_err(|e| AppError::Store(StoreError::Unavailable(e.to_string())))?;
    }
    let content_type = match format {
        Some(format) => format,
        // Shorter than a signature (or empty): what it is, said as for any other.
        None => decide(&head, declared)?,
    };
    let size = spool.size();
    let mut pieces = spool.finish().map_err(|e| AppError::Store(StoreError::Unavailable(e.to_string())))?;
    // Written in one transaction, where the decision is taken again.
    let mut tx = app.db().begin(scope, Mode::Write);
    let new = may_add(&mut tx, scope, resident, command.document).await?;
    let mut upload = Upload::start(tx);
    let unavailable = |e: dui_storage::documents::SpoolError| AppError::Store(StoreError::Unavailable(e.to_string()));
    // Chunks of CHUNK_SIZE, the last one known by the size (an empty content is one empty chunk).
    let mut chunk: Vec<u8> = Vec::with_capacity(CHUNK_SIZE);
    let mut written = 0u64;
    while let Some(piece) = pieces.next_piece().map_err(unavailable)? {
        let mut piece = piece.as_slice();
        while !piece.is_empty() {
            let taken = (CHUNK_SIZE - chunk.len()).min(piece.len());
            chunk.extend_from_slice(&piece[..taken]);
            piece = &piece[taken..];
            written += taken as u64;
            if chunk.len() == CHUNK_SIZE && written < size {
                upload.put(&chunk, false).await?;
                chunk.clear();
            }
        }
    }
    upload.put(&chunk, true).await?;
    let sha256: [u8; 32] = digest.finalize().into();
    let facts = ContentFacts { content_type, size_bytes: size, sha256: hex(&sha256) };
    let key = match command.key {
        Some(key) => {
            let mut fingerprint = Sha256::new();
            fingerprint.update(key.fingerprint());
            fingerprint.update(sha256);
            Some(IdempotencyKey::new(key.key(), fingerprint.finalize().into())?)
        }
        None => None,
    };
    Ok(upload.finish(key.as_ref(), resident, &new, &facts).await?)
}

/// Whether the caller may add a document to the person's record, in `tx`: the refusal is
/// recorded. The document's metadata, checked.
async fn may_add(
    tx: &mut dui_storage::Tx<'_>,
    scope: &TenantScope,
    resident: ResidentId,
    document: DocumentInput,
) -> AppResult<NewDocument> {
    let action = AuditAction::DocumentCreate;
    let establishments = acting(tx, resident, action).await?;
    if !policy::can_add_document(scope, &establishments) {
        return Err(refuse(tx, action, resident, "add a document").await);
    }
    Ok(NewDocument::validate(document, dui_storage::stays::today(tx, resident).await?)?)
}

/// A person's documents the caller reads, newest first, those entered in error included
/// (flagged). Metadata only.
pub async fn list(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    page: PageRequest,
) -> AppResult<Page<Document>> {
    Ok(documents::list(app.db().begin(scope, Mode::Write), resident, page).await?)
}

/// One document's metadata.
pub async fn get(app: &App, scope: &TenantScope, resident: ResidentId, id: DocumentId) -> AppResult<Document> {
    Ok(documents::one(app.db().begin(scope, Mode::Write), resident, id).await?)
}

/// A document's metadata and its content, to be read chunk by chunk; the download is recorded
/// before any content is given.
pub async fn download(app: &App, scope: &TenantScope, resident: ResidentId, id: DocumentId) -> AppResult<Opened> {
    Ok(documents::open(app.db().begin(scope, Mode::Write), resident, id).await?)
}

/// Flags a document as entered in error: it stays, flagged, with who, when and why.
pub async fn flag_error(
    app: &App,
    scope: &TenantScope,
    resident: ResidentId,
    id: DocumentId,
    reason: &str,
) -> AppResult<Document> {
    let reason = free_text("reason", reason, 3)?;
    let action = AuditAction::DocumentFlagError;
    let mut tx = app.db().begin(scope, Mode::Write);
    let establishments = acting(&mut tx, resident, action).await?;
    let found = documents::in_error(&mut tx, resident, id).await;
    let may = policy::can_add_document(scope, &establishments);
    let in_error = changeable(&mut tx, action, resident, found, may, "flag a document").await?;
    if in_error {
        return Err(AppError::Conflict("This document is flagged as entered in error already.".to_owned()));
    }
    Ok(documents::flag(tx, resident, id, &reason).await?)
}
