//! RFC 9457 problem details: the one shape of every error the API returns.
//!
//! Handlers return [`ApiError`]. Its response carries the [`Problem`] in its extensions as well
//! as in its body; the outermost middleware adds the request id and the request path to the body.
//! Errors produced outside handlers (unknown route, wrong method, panics, timeouts, oversized
//! bodies) are turned into problems by the same middleware, so no response with a 4xx or 5xx
//! status ever has another shape.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dui_app::AppError;
use dui_auth::AuthError;
use dui_domain::validation::{FieldError, ValidationErrors};
use dui_storage::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem details object (RFC 9457), with dui's extension members.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URN naming the kind of problem (`urn:dui:problem:validation`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// The short, fixed summary of the kind of problem.
    pub title: String,
    pub status: u16,
    /// What went wrong this time, in words meant for the person who sent the request.
    pub detail: String,
    /// The request path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The request id, as in the `x-request-id` header: quote it when asking for support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// For validation problems, each invalid field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For a record that would duplicate others, the ids of those records.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<uuid::Uuid>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("urn:dui:problem:{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            instance: None,
            request_id: None,
            errors: Vec::new(),
            duplicates: Vec::new(),
        }
    }

    /// The generic problem for a status produced outside a handler.
    pub fn for_status(status: StatusCode) -> Self {
        let (slug, title, detail) = match status {
            StatusCode::NOT_FOUND => ("not-found", "Not found", "No resource exists at this address."),
            StatusCode::UNAUTHORIZED => ("unauthenticated", "Unauthenticated", "A valid bearer token is required."),
            StatusCode::FORBIDDEN => ("forbidden", "Forbidden", "You may not do this."),
            StatusCode::UNPROCESSABLE_ENTITY => ("validation", "Invalid input", "The request has invalid fields."),
            StatusCode::CONFLICT => ("conflict", "Conflict", "The request conflicts with existing data."),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method-not-allowed",
                "Method not allowed",
                "This resource does not accept this method; see the Allow header.",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => {
                ("payload-too-large", "Payload too large", "The request body is larger than allowed.")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported-media-type", "Unsupported media type", "The request body must be application/json.")
            }
            StatusCode::REQUEST_TIMEOUT => ("timeout", "Request timeout", "The request took too long to arrive."),
            StatusCode::SERVICE_UNAVAILABLE => {
                ("unavailable", "Service unavailable", "The service cannot answer right now; retry shortly.")
            }
            StatusCode::TOO_MANY_REQUESTS => ("rate-limited", "Too many requests", "Too many requests; retry later."),
            StatusCode::PRECONDITION_REQUIRED => (
                "precondition-required",
                "Precondition required",
                "This update needs an If-Match header with the ETag of the version read.",
            ),
            s if s.is_server_error() => {
                ("internal", "Internal error", "The server failed to answer; the failure is logged.")
            }
            _ => ("bad-request", "Bad request", "The request cannot be processed."),
        };
        Self::new(status, slug, title, detail)
    }

    pub fn to_response(&self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response.extensions_mut().insert(self.clone());
        response
    }
}

/// An error a handler returns.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed: {0}")]
    Validation(ValidationErrors),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unauthenticated: {0}")]
    Unauthenticated(AuthError),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("duplicate of {duplicates:?}")]
    Duplicate { detail: String, duplicates: Vec<uuid::Uuid> },
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The tenant is over its request rate; retry after this long.
    #[error("rate limited")]
    RateLimited(std::time::Duration),
    /// The tenant's requests in progress stayed at their cap for as long as this one may wait
    /// for its turn: the server sheds it rather than let its queue grow.
    #[error("busy")]
    Busy(std::time::Duration),
    #[error("rejected input: {status}: {detail}")]
    Rejected { status: StatusCode, detail: String, errors: Vec<FieldError> },
    /// A failure whose cause is logged and never shown.
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn problem(&self) -> Problem {
        match self {
            ApiError::Validation(errors) => {
                let mut problem = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation",
                    "Invalid input",
                    format!("The request has invalid fields: {errors}."),
                );
                problem.errors = errors.errors().to_vec();
                problem
            }
            ApiError::BadRequest(detail) => {
                Problem::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request", detail.clone())
            }
            ApiError::Unauthenticated(error) => Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Unauthenticated",
                format!("{}.", capitalise(&error.to_string())),
            ),
            ApiError::Forbidden(detail) => {
                Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail.clone())
            }
            ApiError::NotFound => Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", "No such resource."),
            ApiError::Conflict(detail) => Problem::new(StatusCode::CONFLICT, "conflict", "Conflict", detail.clone()),
            ApiError::Duplicate { detail, duplicates } => {
                let mut problem = Problem::new(StatusCode::CONFLICT, "duplicate", "Possible duplicate", detail.clone());
                problem.duplicates = duplicates.clone();
                problem
            }
            ApiError::Unavailable(_) => Problem::for_status(StatusCode::SERVICE_UNAVAILABLE),
            ApiError::RateLimited(_) => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                "Your organisation is over its request rate on this server; retry after the delay in Retry-After.",
            ),
            ApiError::Busy(waited) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "Busy",
                format!(
                    "Your organisation's requests in progress on this server are at their cap, and this one \
                     waited {} ms for its turn; retry after the delay in Retry-After.",
                    waited.as_millis()
                ),
            ),
            ApiError::Rejected { status, detail, errors } => {
                let mut problem = Problem::for_status(*status);
                problem.detail = detail.clone();
                problem.errors = errors.clone();
                problem
            }
            ApiError::Internal(_) => Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(cause) => tracing::error!(cause, "request failed"),
            ApiError::Unavailable(cause) => tracing::warn!(cause, "dependency unavailable"),
            ApiError::Busy(waited) => {
                tracing::warn!(waited_ms = waited.as_millis() as u64, "request shed: its tenant's queue is full")
            }
            ApiError::Unauthenticated(reason) => tracing::info!(%reason, "authentication refused"),
            _ => {}
        }
        let mut response = self.problem().to_response();
        match &self {
            // RFC 6750 §3: say how to authenticate, and why the token was refused.
            ApiError::Unauthenticated(reason) => {
                let value = match reason {
                    AuthError::Missing | AuthError::NotBearer => "Bearer".to_owned(),
                    other => format!("Bearer error=\"invalid_token\", error_description=\"{other}\""),
                };
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
                }
            }
            ApiError::Unavailable(_) => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            ApiError::Busy(_) => {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::RateLimited(wait) => {
                // Whole seconds (RFC 9110), never 0: a client retrying at once would be refused again.
                let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            _ => {}
        }
        response
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        ApiError::Validation(errors)
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        ApiError::Unauthenticated(error)
    }
}

/// What a named constraint means to the person who hit it. Keyed by constraint name so that the
/// message is precise without parsing database errors.
fn constraint_message(constraint: &str) -> Option<&'static str> {
    Some(match constraint {
        "tenants_finess_juridique_unique" => "A tenant with this FINESS juridique already exists.",
        "tenants_shredded_is_final" => "This tenant was shredded: its status can no longer change.",
        "platform_operators_name_unique" => "An operator with this name already exists.",
        "identity_providers_issuer_audience_unique" => {
            "An identity provider with this issuer and audience is already configured (for this or another tenant)."
        }
        "establishments_finess_unique" => "An establishment with this FINESS already exists in this tenant.",
        "care_plan_versions_one_plan" => {
            "This person has a projet personnalisé already: review it to make a new version."
        }
        "care_plan_review_refused" | "care_plan_versions_one_draft" => {
            "A new version is being prepared already: change that draft, or activate it first."
        }
        "care_plan_versions_one_active" => "Another version was activated meanwhile: read the plan again.",
        "care_plan_versions_changed" => "This version changed meanwhile: read it again, then redo your change.",
        "care_plan_versions_change_refused" => "Only a draft changes: this version is in force or history.",
        "assessments_change_refused" => "A validated assessment cannot change: record a correction that supersedes it.",
        "assessments_validated_immutable" => {
            "A validated assessment cannot change: record a correction that supersedes it."
        }
        "establishments_timezone_known" => "This time zone is not known (use an IANA name such as Europe/Paris).",
        "tenant_settings_changed" => "The settings changed meanwhile: read them again, then redo your change.",
        "physicians_one_attending" => {
            "The person has an attending physician in force (recorded meanwhile): end it first, or read the file again."
        }
        "administrations_once" => {
            "This dose is recorded already: read the plan again (flag the record entered in error to correct it)."
        }
        "care_task_records_once" => "This task is recorded already: amend the record instead.",
        "wound_protocols_one_in_force" => "The wound's protocol was changed meanwhile: read it again.",
        "prescriptions_stale_version" | "prescriptions_one_active" => {
            "This version is no longer the one in force: read the prescription again, then redo your change."
        }
        "restraints_replaced_once" => "This prescription was replaced already: read the person's restraints again.",
        "restraints_time_limited" => "A restraint is prescribed for at most 7 days: renew it with a new prescription.",
        "units_name_unique" => "A unit with this name already exists in this establishment.",
        "users_rpps_unique" => "A user with this RPPS number already exists in this tenant.",
        "users_adeli_unique" => "A user with this ADELI number already exists in this tenant.",
        "memberships_current_unique" => "The user already holds this role here.",
        "residents_ins_unique" => "A record with this INS already exists.",
        "residents_merged_is_final" => "This record was merged into another, or cannot be merged.",
        "residents_merge_into_itself" => "A record cannot be merged into itself.",
        "residents_change_refused" => "The identity status changed meanwhile: read the record again.",
        "stays_change_refused" => {
            "This stay cannot change so: it is closed, the date is before the admission, or the unit belongs to another establishment."
        }
        "contacts_change_refused" => "This contact cannot change so.",
        "stays_tenant_id_unit_id_fkey" => "No such unit.",
        "assignments_tenant_id_user_id_fkey" => "No such user.",
        "user_external_identities_pkey" => "This external identity is already linked to another user.",
        "user_external_identities_one_per_provider" => "The user is already linked to this identity provider.",
        "user_external_identities_provider_id_fkey" | "user_external_identities_tenant_id_provider_id_fkey" => {
            "The identity provider does not exist for this tenant."
        }
        "identity_providers_tenant_id_fkey" => "No such tenant.",
        "residents_no_merge_to_undo" => {
            "This record has no merge of that record to undo (already undone, or the records changed since)."
        }
        "contacts_one_trusted_person" => {
            "The person already has a personne de confiance in force: end that designation first (one at a time)."
        }
        "memberships_tenant_admin_is_tenant_wide" => {
            "The tenant_admin role is tenant-wide: leave establishment_id empty."
        }
        _ => return None,
    })
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Conflict { constraint } => ApiError::Conflict(
                constraint_message(&constraint).unwrap_or("The request conflicts with existing data.").to_owned(),
            ),
            StoreError::Invalid { constraint } => match constraint_message(&constraint) {
                Some(message) => ApiError::Rejected {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    detail: message.to_owned(),
                    errors: Vec::new(),
                },
                // Validation runs before the database; an unexplained constraint is a bug.
                None => ApiError::Internal(format!("constraint {constraint} refused a validated write")),
            },
            StoreError::Unavailable(cause) => ApiError::Unavailable(cause),
            // Logged with the row's identity where it was detected; the client learns nothing.
            StoreError::Tampered { table, column } => ApiError::Internal(format!("tampered value in {table}.{column}")),
            StoreError::Duplicate { candidates, same_ins: true } => ApiError::Duplicate {
                detail: "A record with this INS already exists: see duplicates.".to_owned(),
                duplicates: candidates,
            },
            StoreError::Duplicate { candidates, same_ins: false } => ApiError::Duplicate {
                detail: "A record with the same birth name and birth date exists: check that it is not the same \
                         person (see duplicates), or set confirm_homonym to create another record."
                    .to_owned(),
                duplicates: candidates,
            },
            StoreError::StaleVersion { current } => ApiError::Rejected {
                status: StatusCode::PRECONDITION_FAILED,
                detail: format!(
                    "This changed since you read it (now at version {current}): read it again, then redo your change."
                ),
                errors: Vec::new(),
            },
            StoreError::IdempotencyMismatch => ApiError::Rejected {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                detail:
                    "This Idempotency-Key was already used for a different request: use a new key for a new request."
                        .to_owned(),
                errors: vec![FieldError {
                    field: "Idempotency-Key".to_owned(),
                    message: "already used for a different request".to_owned(),
                }],
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Invalid(errors) => ApiError::Validation(errors),
            AppError::NotFound => ApiError::NotFound,
            AppError::Forbidden(detail) => ApiError::Forbidden(detail),
            AppError::Conflict(detail) => ApiError::Conflict(detail),
            AppError::Unsupported(detail) => {
                ApiError::Rejected { status: StatusCode::UNSUPPORTED_MEDIA_TYPE, detail, errors: Vec::new() }
            }
            AppError::TooLarge(detail) => {
                ApiError::Rejected { status: StatusCode::PAYLOAD_TOO_LARGE, detail, errors: Vec::new() }
            }
            AppError::Unreadable(detail) => ApiError::BadRequest(detail),
            AppError::Store(error) => error.into(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let text = rejection.body_text();
        // axum reports data errors as "<prefix>: <path>: <message>"; keep the path as the field.
        // A field left out is reported at the object that lacks it: the field is named then.
        let errors = match &rejection {
            JsonRejection::JsonDataError(_) => {
                let rest = text.split_once(": ").map_or(text.as_str(), |(_, rest)| rest);
                let (path, message) = match rest.split_once(": ") {
                    Some((field, message)) if !field.contains(' ') => (field, message),
                    _ => ("", rest),
                };
                let missing = message.strip_prefix("missing field `").and_then(|m| m.split_once('`')).map(|m| m.0);
                let field = match missing {
                    Some(name) if path.is_empty() => name.to_owned(),
                    Some(name) => format!("{path}.{name}"),
                    None => path.to_owned(),
                };
                vec![FieldError { field, message: message.to_owned() }]
            }
            _ => Vec::new(),
        };
        let detail = match &rejection {
            JsonRejection::MissingJsonContentType(_) => "The request body must be sent as application/json.".to_owned(),
            JsonRejection::JsonSyntaxError(_) => format!("The request body is not valid JSON: {}", strip_prefix(&text)),
            JsonRejection::JsonDataError(_) => {
                format!("The request body does not match the expected shape: {}", strip_prefix(&text))
            }
            _ if status == StatusCode::PAYLOAD_TOO_LARGE => "The request body is larger than allowed.".to_owned(),
            _ => format!("The request body cannot be read: {text}"),
        };
        ApiError::Rejected { status, detail, errors }
    }
}

fn strip_prefix(text: &str) -> &str {
    text.split_once(": ").map_or(text, |(_, rest)| rest)
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::Rejected {
            status: StatusCode::BAD_REQUEST,
            detail: format!("The query string is invalid: {}", strip_prefix(&rejection.body_text())),
            errors: Vec::new(),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::Rejected {
            status: StatusCode::BAD_REQUEST,
            detail: format!("The address is invalid: {}", strip_prefix(&rejection.body_text())),
            errors: Vec::new(),
        }
    }
}
