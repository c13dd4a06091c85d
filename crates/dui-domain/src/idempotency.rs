//! Idempotency keys: a retried create returns what the first attempt created.

use crate::validation::ValidationErrors;

/// How long a key is remembered.
pub const KEY_LIFETIME_HOURS: i64 = 24;

/// A client's `Idempotency-Key`, with the fingerprint of the request it came with (so that the
/// same key reused for a different request is refused rather than answered with the wrong
/// resource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    key: String,
    fingerprint: [u8; 32],
}

impl IdempotencyKey {
    /// Checks the key: 1 to 200 visible ASCII characters (a UUID is the usual choice).
    pub fn new(key: &str, fingerprint: [u8; 32]) -> Result<Self, ValidationErrors> {
        let valid = !key.is_empty() && key.len() <= 200 && key.bytes().all(|b| b.is_ascii_graphic());
        if valid {
            Ok(Self { key: key.to_owned(), fingerprint })
        } else {
            Err(ValidationErrors::single("Idempotency-Key", "must be 1 to 200 visible ASCII characters"))
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }
}

/// The outcome of an idempotent create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created<T> {
    pub value: T,
    /// The resource was created by an earlier request with the same key.
    pub replayed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shape() {
        assert!(IdempotencyKey::new("0f9b2c1e-5a7d-4a39-9f0e-3c1d2b4a5e6f", [0; 32]).is_ok());
        for bad in ["", "with space", "é", &"k".repeat(201)] {
            assert!(IdempotencyKey::new(bad, [0; 32]).is_err(), "{bad:?}");
        }
    }
}
