//! Large values sealed in chunks: a document's content, cut into pieces of a fixed size, each
//! sealed on its own (so that neither writing nor reading needs the whole value in memory).
//!
//! Each chunk is an ordinary sealed value ([`crate::sealed`]) whose row is its *place*: a UUID
//! derived from the document, the chunk's index and whether it is the last one. A chunk opened
//! at another index, for another document, or as the last when it was not (or the reverse) fails
//! its tag check: chunks cannot be reordered, swapped between documents, dropped from the end
//! (the new last chunk was not sealed as last) or extended. Storing the place as the chunk row's
//! id lets the generic re-encryption reseal chunks like any other row; readers never trust the
//! stored id, they compute the place they expect.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{Column, CryptoError, Keyring};

/// The place of chunk `index` of `document`, the last one when `last`: a version 8 UUID (custom
/// content) hashed from them.
pub fn chunk_place(document: Uuid, index: u32, last: bool) -> Uuid {
    let mut digest = Sha256::new();
    digest.update(b"dui/chunk/1");
    digest.update(document.as_bytes());
    digest.update(index.to_be_bytes());
    digest.update([u8::from(last)]);
    let hash = digest.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

impl Keyring {
    /// Seals chunk `index` of `document` (the last one when `last`) for `column`.
    pub fn seal_chunk(
        &self,
        column: Column,
        document: Uuid,
        index: u32,
        last: bool,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.seal(column, chunk_place(document, index, last), plaintext)
    }

    /// Opens chunk `index` of `document`, expected to be the last one when `last`. Fails if the
    /// chunk was altered, or sealed at another place.
    pub fn open_chunk(
        &self,
        column: Column,
        document: Uuid,
        index: u32,
        last: bool,
        sealed: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.open(column, chunk_place(document, index, last), sealed)
    }
}

#[cfg(test)]
mod tests {
    use dui_domain::TenantId;

    use super::*;
    use crate::SecretKey;

    const CONTENT: Column = Column::raw("document_chunks", "content");

    fn keyring(active: u32, versions: &[u32], tenant: TenantId) -> Keyring {
        let data = versions.iter().map(|v| (*v, SecretKey::from_bytes([*v as u8; 32]))).collect();
        Keyring::new(tenant, active, data, &SecretKey::from_bytes([9; 32]), &SecretKey::from_bytes([7; 32])).unwrap()
    }

    #[test]
    fn places_differ_by_document_index_and_last() {
        let document = Uuid::now_v7();
        let place = chunk_place(document, 3, false);
        assert_eq!(place, chunk_place(document, 3, false));
        assert_ne!(place, chunk_place(document, 4, false));
        assert_ne!(place, chunk_place(document, 3, true));
        assert_ne!(place, chunk_place(Uuid::now_v7(), 3, false));
        assert_eq!(place.get_version_num(), 8);
    }

    #[test]
    fn a_chunk_opens_only_at_its_own_place() {
        let tenant = TenantId::from_uuid(Uuid::now_v7());
        let keys = keyring(1, &[1], tenant);
        let document = Uuid::now_v7();
        let first = keys.seal_chunk(CONTENT, document, 0, false, b"first part").unwrap();
        let last = keys.seal_chunk(CONTENT, document, 1, true, b"last part").unwrap();
        assert_eq!(keys.open_chunk(CONTENT, document, 0, false, &first).unwrap(), b"first part");
        assert_eq!(keys.open_chunk(CONTENT, document, 1, true, &last).unwrap(), b"last part");
        // Reordered.
        assert_eq!(keys.open_chunk(CONTENT, document, 1, true, &first).unwrap_err(), CryptoError::Tampered);
        assert_eq!(keys.open_chunk(CONTENT, document, 0, false, &last).unwrap_err(), CryptoError::Tampered);
        // Truncated: the first chunk read as the last one.
        assert_eq!(keys.open_chunk(CONTENT, document, 0, true, &first).unwrap_err(), CryptoError::Tampered);
        // Extended: the last chunk read as if more followed.
        assert_eq!(keys.open_chunk(CONTENT, document, 1, false, &last).unwrap_err(), CryptoError::Tampered);
        // Another document's, another column's.
        assert_eq!(keys.open_chunk(CONTENT, Uuid::now_v7(), 0, false, &first).unwrap_err(), CryptoError::Tampered);
        let other = Column::raw("document_chunks", "other");
        assert_eq!(keys.open_chunk(other, document, 0, false, &first).unwrap_err(), CryptoError::Tampered);
        // A flipped bit.
        let mut altered = first.clone();
        altered[20] ^= 1;
        assert_eq!(keys.open_chunk(CONTENT, document, 0, false, &altered).unwrap_err(), CryptoError::Tampered);
    }

    #[test]
    fn a_chunk_resealed_at_its_stored_place_still_opens() {
        // The re-encryption job reseals a chunk row at its id, which is the place.
        let tenant = TenantId::from_uuid(Uuid::now_v7());
        let document = Uuid::now_v7();
        let old = keyring(1, &[1], tenant);
        let sealed = old.seal_chunk(CONTENT, document, 2, true, b"content").unwrap();
        let rotated = keyring(2, &[1, 2], tenant);
        let resealed = rotated.reseal(CONTENT, chunk_place(document, 2, true), &sealed).unwrap().unwrap();
        assert_eq!(crate::sealed::key_version(&resealed).unwrap(), 2);
        assert_eq!(rotated.open_chunk(CONTENT, document, 2, true, &resealed).unwrap(), b"content");
    }
}
