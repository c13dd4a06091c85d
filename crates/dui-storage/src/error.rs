use tokio_postgres::error::SqlState;

/// What can go wrong in storage, in the terms the API needs to answer well.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist, or is not visible to this tenant (the two are never told apart).
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write; `constraint` names it.
    #[error("conflict with an existing row ({constraint})")]
    Conflict { constraint: String },
    /// A check or foreign-key constraint refused the write; `constraint` names it.
    #[error("constraint {constraint} refused the write")]
    Invalid { constraint: String },
    /// PostgreSQL cannot be reached, or no connection was free in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A stored value that the code does not understand: a bug or a tampered row.
    #[error("unexpected stored value in {column}: {value}")]
    Corrupt { column: &'static str, value: String },
    /// The database is reachable but not usable as it is: schema missing, or a role with powers
    /// that would defeat tenant isolation.
    #[error("{0}")]
    Misconfigured(String),
    /// A sealed value failed authentication: altered, or moved from another place. The row's
    /// identity is logged where it is detected; nothing of it is shown to the client.
    #[error("sealed value of {table}.{column} failed authentication")]
    Tampered { table: &'static str, column: &'static str },
    /// A key could not be made, unwrapped or used.
    #[error("encryption: {0}")]
    Crypto(String),
    /// The tenant's keys were destroyed (crypto-shredding).
    #[error("the tenant's keys are destroyed")]
    KeysDestroyed,
    /// The record would duplicate existing ones: the same INS (`same_ins`), or the same birth
    /// name and birth date.
    #[error("possible duplicate of {candidates:?}")]
    Duplicate { candidates: Vec<uuid::Uuid>, same_ins: bool },
    /// The row changed since the version the caller read (`If-Match` mismatch).
    #[error("stale version (current is {current})")]
    StaleVersion { current: i32 },
    /// An idempotency key was reused for a different request.
    #[error("idempotency key reused for a different request")]
    IdempotencyMismatch,
    /// A tenant export that cannot be imported: the message says what is wrong with it.
    #[error("cannot import: {0}")]
    Import(String),
    /// A migration could not be applied.
    #[error("migration failed: {0}")]
    Migration(String),
    /// Any other database error.
    #[error("database error: {}", describe(.0))]
    Database(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        let Some(db) = error.as_db_error() else {
            // No server error: the connection failed or closed. Say why, cause by cause
            // (a refused certificate, a refused connection...).
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                let text = cause.to_string();
                if !message.contains(&text) {
                    message.push_str(": ");
                    message.push_str(&text);
                }
                source = cause.source();
            }
            return StoreError::Unavailable(message);
        };
        let constraint = db.constraint().unwrap_or("unknown").to_owned();
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION || *code == SqlState::EXCLUSION_VIOLATION {
            StoreError::Conflict { constraint }
        } else if *code == SqlState::CHECK_VIOLATION
            || *code == SqlState::FOREIGN_KEY_VIOLATION
            || *code == SqlState::NOT_NULL_VIOLATION
        {
            StoreError::Invalid { constraint }
        } else if *code == SqlState::ADMIN_SHUTDOWN
            || *code == SqlState::CRASH_SHUTDOWN
            || *code == SqlState::CANNOT_CONNECT_NOW
            || code.code().starts_with("08")
            // Insufficient resources: a full disk (the WAL's, typically), out of memory, too
            // many connections.
            || code.code().starts_with("53")
            // Too slow or in the way of another transaction, this time: the statement
            // timeout, a lock timeout, a deadlock, a serialisation failure. Retrying later is
            // the answer, as when the database is away.
            || *code == SqlState::QUERY_CANCELED
            || *code == SqlState::LOCK_NOT_AVAILABLE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
        {
            StoreError::Unavailable(format!("{} ({})", db.message(), code.code()))
        } else {
            StoreError::Database(error)
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(error) => error.into(),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

/// A database error with the server's message and code, for the logs.
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!(
            "{} ({}){}",
            db.message(),
            db.code().code(),
            db.detail().map(|d| format!(": {d}")).unwrap_or_default()
        ),
        None => error.to_string(),
    }
}
