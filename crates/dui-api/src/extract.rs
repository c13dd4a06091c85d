//! Extractors whose rejections are problem details.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dui_domain::idempotency::{Created, IdempotencyKey};
use serde::Serialize;
use serde::de::{Deserialize, DeserializeOwned, Deserializer};
use sha2::{Digest, Sha256};

use crate::problem::ApiError;

/// A JSON body. Missing content type → 415, bad syntax → 400, wrong shape or unknown field →
/// 422 naming the field, too large → 413.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(unsupported_media_type());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(unreadable)?;
        Ok(Json(from_json(&bytes)?))
    }
}

fn unsupported_media_type() -> ApiError {
    ApiError::Rejected {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        detail: "The request body must be sent as application/json.".to_owned(),
        errors: Vec::new(),
    }
}

fn unreadable(rejection: axum::extract::rejection::BytesRejection) -> ApiError {
    ApiError::Rejected {
        status: rejection.status(),
        detail: if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            "The request body is larger than allowed.".to_owned()
        } else {
            format!("The request body cannot be read: {}", rejection.body_text())
        },
        errors: Vec::new(),
    }
}

/// Reads a JSON body. JSON Schema counts `5.0` as an integer, so a number written with a zero
/// fraction is accepted where an integer is expected: when the first reading fails on a
/// floating-point number, such numbers are rewritten as integers and the body is read again.
fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match axum::Json::<T>::from_bytes(bytes) {
        Ok(axum::Json(value)) => Ok(value),
        Err(rejection @ axum::extract::rejection::JsonRejection::JsonDataError(_))
            if rejection.body_text().contains("invalid type: floating point") =>
        {
            let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
                return Err(rejection.into());
            };
            if !integral_floats_as_integers(&mut value) {
                return Err(rejection.into());
            }
            let again = serde_json::to_vec(&value).map_err(|_| ApiError::from(rejection))?;
            Ok(axum::Json::<T>::from_bytes(&again)?.0)
        }
        Err(rejection) => Err(rejection.into()),
    }
}

/// Rewrites every number with a zero fraction that an integer can hold exactly; true when one was.
fn integral_floats_as_integers(value: &mut serde_json::Value) -> bool {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    match value {
        serde_json::Value::Number(number) if number.is_f64() => match number.as_f64() {
            Some(float) if float.fract() == 0.0 && float.abs() < EXACT => {
                // In range and without fraction, so the conversion is exact.
                #[allow(clippy::cast_possible_truncation)]
                let integer = float as i64;
                *value = serde_json::Value::from(integer);
                true
            }
            _ => false,
        },
        serde_json::Value::Array(items) => {
            items.iter_mut().fold(false, |any, item| integral_floats_as_integers(item) | any)
        }
        serde_json::Value::Object(fields) => {
            fields.values_mut().fold(false, |any, item| integral_floats_as_integers(item) | any)
        }
        _ => false,
    }
}

/// The header a client sets to make a create safe to retry.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on the answer to a retried create: the resource is the one the first attempt made.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The body of a create, and its `Idempotency-Key` if the client sent one. The key is bound to a
/// fingerprint of the method, path and body, so reusing it for another request is refused.
#[derive(Debug, Clone)]
pub struct CreateRequest<T> {
    pub body: T,
    pub key: Option<IdempotencyKey>,
}

/// The start of a request's fingerprint, which an idempotency key is bound to: its method and
/// path. Each kind of request adds what else makes it itself (a create, its body; an upload, its
/// query, declared type and content).
pub(crate) fn fingerprint_start(method: &axum::http::Method, path: &str) -> Sha256 {
    let mut digest = Sha256::new();
    digest.update(method.as_str().as_bytes());
    digest.update(b" ");
    digest.update(path.as_bytes());
    digest.update(b"\n");
    digest
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<T, S> FromRequest<S> for CreateRequest<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(unsupported_media_type());
        }
        let key = req.headers().get(&IDEMPOTENCY_KEY).map(|v| v.to_str().map(str::to_owned).unwrap_or_default());
        let mut digest = fingerprint_start(req.method(), req.uri().path());
        let bytes = Bytes::from_request(req, state).await.map_err(unreadable)?;
        digest.update(&bytes);
        let body = from_json(&bytes)?;
        let key = key.map(|key| IdempotencyKey::new(&key, digest.finalize().into())).transpose()?;
        Ok(CreateRequest { body, key })
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Query-string parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) = axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Query(value))
    }
}

/// Path parameters: an id that is not a UUID is a 400 that says so.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(value) = axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Path(value))
    }
}

/// Deserialises a field that may be absent (outer `None`), null (`Some(None)`) or set: the
/// three states a PATCH needs.
pub fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The answer to a create: 201 with the resource, marked when it is a replay.
pub fn created<T: Serialize>(created: Created<T>) -> Response {
    let mut response = (StatusCode::CREATED, axum::Json(created.value)).into_response();
    if created.replayed {
        response.headers_mut().insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

/// [`created`], with the new resource's `ETag` (for resources updated with `If-Match`).
pub fn created_versioned<T: Serialize>(created: Created<T>, version: impl FnOnce(&T) -> i32) -> Response {
    let etag = version(&created.value);
    let mut response = self::created(created);
    if let Ok(value) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// The documented form of a free text the server trims and checks (at least one character
/// once trimmed, no control character): what `dui_domain::validation::text` accepts.
pub const TEXT: &str = r"^ *[^\s\x00-\x1F\x7F-\x9F]([^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F])? *$";
/// [`TEXT`] of at least 3 characters once trimmed.
pub const TEXT_3: &str = r"^ *[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]{1,}[^\s\x00-\x1F\x7F-\x9F] *$";
/// [`TEXT`] of at least 10 characters once trimmed.
pub const TEXT_10: &str = r"^ *[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]{8,}[^\s\x00-\x1F\x7F-\x9F] *$";

/// The `Idempotency-Key` header, as documented in the OpenAPI document.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyHeader {
    /// A key of your choice (a UUID is usual), 1 to 200 visible ASCII characters. Retrying the
    /// same request with the same key within 24 hours returns the resource created the first
    /// time (with `Idempotent-Replayed: true`) instead of creating another; the same key with a
    /// different request is refused (422).
    #[serde(rename = "Idempotency-Key")]
    #[param(rename = "Idempotency-Key", min_length = 1, max_length = 200, pattern = "^[!-~]{1,200}$")]
    pub idempotency_key: Option<String>,
}

/// The `If-Match` header of an update: the `row_version` the client read (sent back as the ETag).
/// Updates of a record require it (428 without), so that a stale write is refused (412) rather
/// than silently overwriting someone else's change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfMatch(pub i32);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Err(ApiError::Rejected {
                status: StatusCode::PRECONDITION_REQUIRED,
                detail: "This update needs an If-Match header with the ETag of the version you read.".to_owned(),
                errors: Vec::new(),
            });
        };
        let text = value.to_str().unwrap_or_default().trim();
        let text = text.strip_prefix("W/").unwrap_or(text);
        text.trim_matches('"').parse().map(IfMatch).map_err(|_| {
            ApiError::BadRequest("The If-Match header is not an ETag this server gave (\"<version>\").".to_owned())
        })
    }
}

/// A JSON answer with the ETag of the version it shows.
pub fn with_etag<T: Serialize>(status: StatusCode, body: T, version: i32) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// The `If-Match` header, as documented in the OpenAPI document.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfMatchHeader {
    /// The ETag of the version read (e.g. `"3"`). Required (428 without); a stale version is
    /// refused with 412.
    #[serde(rename = "If-Match")]
    #[param(rename = "If-Match", pattern = "^(W/)?\"[0-9]{1,9}\"$")]
    pub if_match: String,
}
