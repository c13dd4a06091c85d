//! The sealed-field format.
//!
//! ```text
//! byte 0       format version (1)
//! bytes 1..5   DEK version, big-endian u32
//! bytes 5..17  random 96-bit nonce
//! bytes 17..   AES-256-GCM ciphertext, then the 16-byte tag
//! ```
//!
//! The associated data is the header (format and DEK version) followed by the value's place:
//! tenant, table, column, row. Changing the header, or moving the value to another place, makes
//! the tag check fail.

use dui_domain::TenantId;
use uuid::Uuid;

use crate::CryptoError;

pub(crate) const FORMAT_V1: u8 = 1;
pub(crate) const HEADER_LEN: usize = 1 + 4 + 12;
pub(crate) const TAG_LEN: usize = 16;

/// Where a sealed value lives: its table and column. Declared once per encrypted column, as a
/// constant, next to the SQL that stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Column {
    pub table: &'static str,
    pub column: &'static str,
    /// The plaintext is raw bytes (a document's content), not JSON: the exports carry it in
    /// base64.
    pub raw: bool,
}

impl Column {
    pub const fn new(table: &'static str, column: &'static str) -> Self {
        Self { table, column, raw: false }
    }

    /// A column whose values are raw bytes rather than JSON.
    pub const fn raw(table: &'static str, column: &'static str) -> Self {
        Self { table, column, raw: true }
    }
}

/// The associated data of a value sealed with `header` at `column` of `row` of `tenant`. Each
/// variable-length part is length-prefixed, so no two places share an encoding.
pub(crate) fn associated_data(header: &[u8], tenant: TenantId, column: Column, row: Uuid) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + HEADER_LEN + 16 + column.table.len() + column.column.len() + 18);
    aad.extend_from_slice(b"dui/field/1");
    aad.extend_from_slice(&header[..5]);
    aad.extend_from_slice(tenant.as_uuid().as_bytes());
    aad.push(column.table.len() as u8);
    aad.extend_from_slice(column.table.as_bytes());
    aad.push(column.column.len() as u8);
    aad.extend_from_slice(column.column.as_bytes());
    aad.extend_from_slice(row.as_bytes());
    aad
}

/// The DEK version a sealed value names, without opening it.
pub fn key_version(sealed: &[u8]) -> Result<u32, CryptoError> {
    if sealed.len() < HEADER_LEN + TAG_LEN || sealed[0] != FORMAT_V1 {
        return Err(CryptoError::Malformed);
    }
    Ok(u32::from_be_bytes([sealed[1], sealed[2], sealed[3], sealed[4]]))
}
