//! Blind indexes: exact-match search on encrypted values.
//!
//! A blind index is HMAC-SHA256 under the tenant's index key, over a domain-separation label and
//! the normalised value. The same value gives the same index within a tenant (so equality
//! queries and unique constraints work), nothing about the value can be learnt from the index
//! without the key, and two tenants' indexes of the same value differ.

/// Which blind index: each has its own label, so equal inputs to two indexes do not collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlindIndex {
    pub label: &'static str,
}

impl BlindIndex {
    pub const fn new(label: &'static str) -> Self {
        Self { label }
    }
}
