//! What a use case answers when it does not do what was asked.

use dui_domain::ValidationErrors;
use dui_storage::StoreError;

/// Why an operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The command is invalid; each bad field is named.
    #[error("invalid: {0}")]
    Invalid(ValidationErrors),
    /// Absent, or out of the caller's reach (the two are never told apart).
    #[error("not found")]
    NotFound,
    /// The caller sees it but may not do this; the refusal is recorded.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The record's state refuses it (merged, validated, reviewed already...).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The content is not of a format accepted (what was found and what is accepted).
    #[error("unsupported content: {0}")]
    Unsupported(String),
    /// The content is larger than allowed.
    #[error("too large: {0}")]
    TooLarge(String),
    /// The content could not be read (the client stopped sending it).
    #[error("unreadable: {0}")]
    Unreadable(String),
    /// What storage said: constraints, stale versions, duplicates, unavailability.
    #[error(transparent)]
    Store(StoreError),
}

/// The result of a use case.
pub type AppResult<T> = Result<T, AppError>;

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => AppError::NotFound,
            other => AppError::Store(other),
        }
    }
}

impl From<ValidationErrors> for AppError {
    fn from(errors: ValidationErrors) -> Self {
        AppError::Invalid(errors)
    }
}

impl AppError {
    /// A single invalid field.
    pub fn invalid(field: &str, message: &str) -> Self {
        AppError::Invalid(ValidationErrors::single(field, message))
    }
}
