//! Documents attached to a person's record. The content is sent as the raw request body (the
//! file as it is, `curl --data-binary @file.pdf`), its metadata in the query string; it is read,
//! checked and stored as it arrives, and a download streams it back, so neither holds the file
//! in memory. The type is decided from the content (PDF, JPEG or PNG), never from a name or the
//! declared `Content-Type`.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use dui_app::documents::{self, AddDocument};
use dui_domain::document::{Document, DocumentInput, DocumentKind};
use dui_domain::idempotency::IdempotencyKey;
use dui_domain::{DocumentId, ResidentId};
use serde::Deserialize;
use sha2::Digest;
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::auth::TenantAuth;
use crate::extract::{IDEMPOTENCY_KEY, IdempotencyHeader, Json, Path, Query, created, fingerprint_start};
use crate::pagination::{ListParams, PageBody};
use crate::problem::{ApiError, Problem};
use crate::routes::alerts::FlagEntryError;
use crate::state::AppState;

/// A file's bytes, as they are (OpenAPI: a binary string).
#[derive(Debug, utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileContent(pub Vec<u8>);

/// The metadata of a document sent with its content.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DocumentParams {
    /// What the document is.
    pub kind: DocumentKind,
    /// Its title (1 to 200 characters), e.g. "Directives anticipées".
    #[param(min_length = 1, max_length = 200, pattern = r"^ *[^\s\x00-\x1F\x7F-\x9F]([^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F])? *$")]
    pub title: String,
    /// The document's own date (signed, written, taken), when known; not in the future.
    pub document_date: Option<NaiveDate>,
}

/// Adds a document to the person's record. The body is the file itself — PDF, JPEG or PNG —
/// sent as `application/pdf`, `image/jpeg`, `image/png` or `application/octet-stream`; the
/// metadata is in the query string. The type is decided from the file's first bytes: a file
/// that is none of the three, or not the type declared, is refused (415, saying what it was
/// found to be). A file over the server's limit (`http.document_max_bytes`, 20 MiB by default)
/// is refused (413), and nothing of it stays. By those who record care data where the person is
/// supported, whatever the kind; filed in the establishment of the person's stay. The same
/// `Idempotency-Key` with the same request and content returns the document made the first time.
#[utoipa::path(post, path = "/residents/{resident_id}/documents", tag = "documents",
    params(("resident_id" = ResidentId, Path), DocumentParams, IdempotencyHeader),
    request_body(description = "The file, as it is.",
        content((FileContent = "application/pdf"), (FileContent = "image/jpeg"), (FileContent = "image/png"),
                (FileContent = "application/octet-stream"))),
    responses((status = 201, body = Document), (status = 400, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem),
              (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn add_document(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    Query(params): Query<DocumentParams>,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let declared_type = headers.get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("invalid").to_owned());
    let declared_length =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    // The request without its content: the content's SHA-256 completes the fingerprint.
    let key = match headers.get(&IDEMPOTENCY_KEY) {
        Some(value) => {
            let mut digest = fingerprint_start(request.method(), request.uri().path());
            digest.update(request.uri().query().unwrap_or("").as_bytes());
            digest.update(b"\n");
            digest.update(declared_type.as_deref().unwrap_or("").as_bytes());
            Some(IdempotencyKey::new(value.to_str().unwrap_or_default(), digest.finalize().into())?)
        }
        None => None,
    };
    let command = AddDocument {
        resident,
        document: DocumentInput { kind: params.kind, title: params.title, document_date: params.document_date },
        declared_type,
        declared_length,
        max_bytes: state.config().document_max_bytes,
        key,
        content: request.into_body().into_data_stream(),
    };
    Ok(created(documents::add(state.app(), &scope, command).await?))
}

/// The person's documents you may read, newest first, those entered in error included
/// (flagged): metadata only (the content is at `.../content`).
#[utoipa::path(get, path = "/residents/{resident_id}/documents", tag = "documents",
    params(("resident_id" = ResidentId, Path), ListParams),
    responses((status = 200, body = PageBody<Document>), (status = 404, body = Problem)))]
pub async fn list_documents(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path(resident): Path<ResidentId>,
    Query(params): Query<ListParams>,
) -> Result<Json<PageBody<Document>>, ApiError> {
    let page = params.page()?;
    Ok(Json(documents::list(state.app(), &scope, resident, page).await?.into()))
}

/// One document's metadata.
#[utoipa::path(get, path = "/residents/{resident_id}/documents/{document_id}", tag = "documents",
    params(("resident_id" = ResidentId, Path), ("document_id" = DocumentId, Path)),
    responses((status = 200, body = Document), (status = 404, body = Problem)))]
pub async fn get_document(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, DocumentId)>,
) -> Result<Json<Document>, ApiError> {
    Ok(Json(documents::get(state.app(), &scope, resident, id).await?))
}

/// A document's content, with its type, length and a file name made from its title. Streamed:
/// a content that does not open (altered in storage) ends the answer early — the connection is
/// closed before `Content-Length` bytes are sent — and is never given shorter as if complete.
#[utoipa::path(get, path = "/residents/{resident_id}/documents/{document_id}/content", tag = "documents",
    params(("resident_id" = ResidentId, Path), ("document_id" = DocumentId, Path)),
    responses((status = 200, description = "The file.",
               content((FileContent = "application/pdf"), (FileContent = "image/jpeg"), (FileContent = "image/png"))),
              (status = 404, body = Problem)))]
pub async fn download_document(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, DocumentId)>,
) -> Result<Response, ApiError> {
    let opened = documents::download(state.app(), &scope, resident, id).await?;
    let document = opened.document;
    let chunks = futures_util::stream::unfold(Some(opened.content), |content| async move {
        let mut content = content?;
        match content.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok(Bytes::from(chunk)), Some(content))),
            Ok(None) => None,
            Err(error) => {
                // Logged where it was detected; the client sees the answer cut short.
                tracing::error!(%error, "a document's content does not open: the download is cut off");
                Some((Err(std::io::Error::other("the document's content does not open")), None))
            }
        }
    });
    let disposition = format!("attachment; filename=\"{}\"", document.file_name());
    let mut response = Body::from_stream(chunks).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(document.content_type.as_str()));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(document.size_bytes));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Flags a document as entered in error (the wrong person's, sent twice...): it is never
/// deleted, it stays flagged with who, when and why.
#[utoipa::path(post, path = "/residents/{resident_id}/documents/{document_id}/entered-in-error", tag = "documents",
    params(("resident_id" = ResidentId, Path), ("document_id" = DocumentId, Path)), request_body = FlagEntryError,
    responses((status = 200, body = Document), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn flag_document(
    State(state): State<AppState>,
    TenantAuth(scope): TenantAuth,
    Path((resident, id)): Path<(ResidentId, DocumentId)>,
    Json(body): Json<FlagEntryError>,
) -> Result<Json<Document>, ApiError> {
    Ok(Json(documents::flag_error(state.app(), &scope, resident, id, &body.reason).await?))
}

/// The routes of this module (paths relative to the API's base).
pub fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new()
        .routes(routes!(list_documents, add_document))
        .routes(routes!(get_document))
        .routes(routes!(download_document))
        .routes(routes!(flag_document))
}
