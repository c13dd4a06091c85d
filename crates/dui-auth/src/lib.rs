//! Authentication by bearer JWT.
//!
//! Two kinds of issuers are trusted:
//! * the server's own ([`own::OwnIssuer`]): Ed25519 keys from configuration, published as a JWKS,
//!   for local accounts, service accounts and platform operators;
//! * external OpenID Connect issuers configured per tenant ([`external`]): their keys are fetched
//!   from their JWKS URL, cached, and refreshed when a token names an unknown key.
//!
//! Every verification pins the algorithm to the key's type, so `alg: none` and algorithm
//! confusion (an HMAC token "signed" with a public key) are refused. This crate knows nothing of
//! the database: mapping a verified token to a user is the caller's business.

mod error;
pub mod external;
pub mod keys;
pub mod own;
mod peek;

pub use error::AuthError;
pub use peek::{UnverifiedToken, peek};

/// Installs the process-wide TLS crypto provider used for outgoing HTTPS (JWKS fetches). Safe to
/// call more than once.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
