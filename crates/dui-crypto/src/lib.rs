//! Encryption at rest for dui.
//!
//! * [`kek::KekRing`]: key-encryption keys from configuration (several versions, one active).
//!   They wrap the tenants' keys and never reach the database.
//! * [`keyring::Keyring`]: one tenant's unwrapped keys — its data-encryption keys (DEKs, one
//!   per version; the active one seals, all of them open) and its blind-index key.
//! * [`sealed`]: the sealed-field format. AES-256-GCM, a random 96-bit nonce, and associated data
//!   binding the ciphertext to its tenant, table, column and row, so that a value copied
//!   anywhere else does not open.
//! * [`chunked`]: large values (documents) sealed chunk by chunk, each bound to its place.
//! * [`blind`]: keyed HMAC-SHA256 blind indexes for exact-match search on encrypted values.
//!
//! Nothing here does I/O: storing wrapped keys and counting encryptions is storage's job.

pub mod blind;
pub mod chunked;
pub mod kek;
pub mod key;
pub mod keyring;
pub mod sealed;
pub mod spool;

pub use blind::BlindIndex;
pub use kek::{KekRing, KeyPurpose, WrappedKey};
pub use key::SecretKey;
pub use keyring::Keyring;
pub use sealed::Column;

/// What can go wrong opening or unwrapping.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The value is not in the sealed format at all (truncated, or never sealed).
    #[error("not a sealed value")]
    Malformed,
    /// The authentication tag does not match: the value was altered, or belongs to another row,
    /// column or tenant.
    #[error("sealed value failed authentication")]
    Tampered,
    /// Sealed with a key version this keyring does not hold (destroyed, or not loaded yet).
    #[error("no key of version {0}")]
    UnknownKeyVersion(u32),
    /// The KEK version of a wrapped key is not in the ring.
    #[error("no key-encryption key of version {0}")]
    UnknownKek(u32),
    /// The operating system's random source failed.
    #[error("random source failed")]
    Random,
    /// A key given in configuration is not usable.
    #[error("invalid key: {0}")]
    InvalidKey(String),
}
