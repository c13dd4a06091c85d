/// Why a request is not authenticated. Each variant becomes a 401 whose detail says which check
/// failed; none reveals anything about other tenants or users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token was given")]
    Missing,
    #[error("the Authorization header is not a bearer token")]
    NotBearer,
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm is not accepted for its key")]
    AlgorithmRefused,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's issuer is not trusted")]
    UnknownIssuer,
    #[error("the token's audience is not this server")]
    WrongAudience,
    #[error("the token's key is unknown to its issuer")]
    UnknownKey,
    #[error("the token lacks the claim {0}")]
    MissingClaim(String),
    #[error("the token's claim {0} has an unexpected value")]
    InvalidClaim(String),
    #[error("the issuer's keys cannot be fetched right now")]
    KeysUnavailable,
    #[error("the token's user is unknown")]
    UnknownUser,
    #[error("the token's user is disabled")]
    UserDisabled,
    #[error("the tenant is suspended")]
    TenantSuspended,
}

impl AuthError {
    /// A short, stable name of the check that failed: the `reason` label of the refusals'
    /// metric and log lines (the detail shown to the client may be reworded; this may not).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::NotBearer => "not_bearer",
            Self::Malformed => "malformed",
            Self::AlgorithmRefused => "algorithm_refused",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::UnknownIssuer => "unknown_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::UnknownKey => "unknown_key",
            Self::MissingClaim(_) => "missing_claim",
            Self::InvalidClaim(_) => "invalid_claim",
            Self::KeysUnavailable => "keys_unavailable",
            Self::UnknownUser => "unknown_user",
            Self::UserDisabled => "user_disabled",
            Self::TenantSuspended => "tenant_suspended",
        }
    }

    /// Maps a jsonwebtoken error to the check that failed.
    pub(crate) fn from_jwt(error: &jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind;
        match error.kind() {
            ErrorKind::InvalidSignature => Self::BadSignature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::UnknownIssuer,
            ErrorKind::InvalidAudience => Self::WrongAudience,
            ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm | ErrorKind::UnsupportedAlgorithm => {
                Self::AlgorithmRefused
            }
            ErrorKind::MissingRequiredClaim(claim) => Self::MissingClaim(claim.clone()),
            ErrorKind::InvalidClaimFormat(claim) => Self::InvalidClaim(claim.clone()),
            ErrorKind::InvalidSubject => Self::InvalidClaim("sub".to_owned()),
            _ => Self::Malformed,
        }
    }
}
