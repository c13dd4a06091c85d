//! One tenant's unwrapped keys, and sealing and opening with them.

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use dui_domain::TenantId;
use hmac::Mac;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::blind::BlindIndex;
use crate::key::{SecretKey, random_nonce};
use crate::sealed::{self, Column, FORMAT_V1, HEADER_LEN, TAG_LEN};
use crate::{CryptoError, sealed::associated_data};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// A tenant's keys: every data-key version still in use (the active one seals new values), and
/// the blind-index key. Prints only the versions.
pub struct Keyring {
    tenant: TenantId,
    active: u32,
    data: BTreeMap<u32, Aes256Gcm>,
    index: SecretKey,
    audit: SecretKey,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("tenant", &self.tenant)
            .field("active", &self.active)
            .field("versions", &self.data.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// `data` holds every usable data-key version; `active` must be among them.
    pub fn new(
        tenant: TenantId,
        active: u32,
        data: Vec<(u32, SecretKey)>,
        index: &SecretKey,
        audit: &SecretKey,
    ) -> Result<Self, CryptoError> {
        let data: BTreeMap<u32, Aes256Gcm> =
            data.into_iter().map(|(version, key)| (version, Aes256Gcm::new(key.as_bytes().into()))).collect();
        if !data.contains_key(&active) {
            return Err(CryptoError::UnknownKeyVersion(active));
        }
        Ok(Self { tenant, active, data, index: index.clone(), audit: audit.clone() })
    }

    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    /// The version new values are sealed with.
    pub fn active_version(&self) -> u32 {
        self.active
    }

    pub fn holds(&self, version: u32) -> bool {
        self.data.contains_key(&version)
    }

    /// Seals `plaintext` for `column` of `row`, with the active key.
    pub fn seal(&self, column: Column, row: Uuid, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let cipher = &self.data[&self.active];
        let nonce = random_nonce()?;
        let mut sealed = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        sealed.push(FORMAT_V1);
        sealed.extend_from_slice(&self.active.to_be_bytes());
        sealed.extend_from_slice(&nonce);
        let aad = associated_data(&sealed, self.tenant, column, row);
        sealed.extend_from_slice(plaintext);
        let tag = cipher
            .encrypt_inout_detached(&Nonce::from(nonce), &aad, (&mut sealed[HEADER_LEN..]).into())
            .map_err(|_| CryptoError::Malformed)?;
        sealed.extend_from_slice(&tag);
        Ok(sealed)
    }

    /// Opens a value sealed for `column` of `row`. Fails if it was altered in any way, or sealed
    /// for another place.
    pub fn open(&self, column: Column, row: Uuid, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let version = sealed::key_version(sealed)?;
        let cipher = self.data.get(&version).ok_or(CryptoError::UnknownKeyVersion(version))?;
        let nonce: [u8; 12] = sealed[5..HEADER_LEN].try_into().map_err(|_| CryptoError::Malformed)?;
        let (body, tag) = sealed[HEADER_LEN..].split_at(sealed.len() - HEADER_LEN - TAG_LEN);
        let tag = Tag::try_from(tag).map_err(|_| CryptoError::Malformed)?;
        let aad = associated_data(sealed, self.tenant, column, row);
        let mut plaintext = body.to_vec();
        cipher
            .decrypt_inout_detached(&Nonce::from(nonce), &aad, plaintext.as_mut_slice().into(), &tag)
            .map_err(|_| CryptoError::Tampered)?;
        Ok(plaintext)
    }

    /// Seals a value as JSON.
    pub fn seal_json<T: Serialize + ?Sized>(
        &self,
        column: Column,
        row: Uuid,
        value: &T,
    ) -> Result<Vec<u8>, CryptoError> {
        let mut plaintext = serde_json::to_vec(value).map_err(|e| CryptoError::InvalidKey(e.to_string()))?;
        let sealed = self.seal(column, row, &plaintext);
        zeroize::Zeroize::zeroize(&mut plaintext);
        sealed
    }

    /// Opens a value sealed as JSON. A value that opens but does not parse is treated as tampered:
    /// authentication makes that impossible unless the key itself sealed garbage.
    pub fn open_json<T: DeserializeOwned>(&self, column: Column, row: Uuid, sealed: &[u8]) -> Result<T, CryptoError> {
        let mut plaintext = self.open(column, row, sealed)?;
        let value = serde_json::from_slice(&plaintext).map_err(|_| CryptoError::Tampered);
        zeroize::Zeroize::zeroize(&mut plaintext);
        value
    }

    /// Re-seals a value with the active key (a DEK rotation), if it is not already.
    pub fn reseal(&self, column: Column, row: Uuid, sealed: &[u8]) -> Result<Option<Vec<u8>>, CryptoError> {
        if sealed::key_version(sealed)? == self.active {
            return Ok(None);
        }
        let mut plaintext = self.open(column, row, sealed)?;
        let resealed = self.seal(column, row, &plaintext);
        zeroize::Zeroize::zeroize(&mut plaintext);
        resealed.map(Some)
    }

    /// A link of the tenant's audit chain: HMAC-SHA256 under the audit key of the previous link,
    /// the sequence number and the event's hash. Without the key (so without the KEK), links
    /// cannot be forged.
    pub fn audit_link(&self, previous: &[u8; 32], seq: u64, event_hash: &[u8; 32]) -> [u8; 32] {
        let mut mac =
            <HmacSha256 as hmac::KeyInit>::new_from_slice(self.audit.as_bytes()).expect("HMAC takes any key length");
        mac.update(b"dui/audit/1");
        mac.update(previous);
        mac.update(&seq.to_be_bytes());
        mac.update(event_hash);
        mac.finalize().into_bytes().into()
    }

    /// The blind index of an already normalised value.
    pub fn blind_index(&self, index: BlindIndex, normalised: &str) -> [u8; 32] {
        // Built per call from the zeroized key (an HMAC set-up is two hash blocks), so that no
        // long-lived hash state holds key material.
        let mut mac =
            <HmacSha256 as hmac::KeyInit>::new_from_slice(self.index.as_bytes()).expect("HMAC takes any key length");
        mac.update(index.label.as_bytes());
        mac.update(&[0]);
        mac.update(normalised.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const NAME: Column = Column::new("residents", "identity");
    const NOTE: Column = Column::new("notes", "body");
    const INS: BlindIndex = BlindIndex::new("ins");
    const BIRTH: BlindIndex = BlindIndex::new("birth_identity");

    fn keyring(tenant: TenantId, active: u32, versions: &[u32]) -> Keyring {
        let data = versions.iter().map(|v| (*v, SecretKey::from_bytes([*v as u8; 32]))).collect();
        Keyring::new(tenant, active, data, &SecretKey::from_bytes([9; 32]), &SecretKey::from_bytes([7; 32])).unwrap()
    }

    fn tenant() -> TenantId {
        TenantId::from_uuid(Uuid::now_v7())
    }

    proptest! {
        #[test]
        fn sealing_round_trips(plaintext in proptest::collection::vec(any::<u8>(), 0..4096), row in any::<u128>()) {
            let keys = keyring(tenant(), 1, &[1]);
            let row = Uuid::from_u128(row);
            let sealed = keys.seal(NAME, row, &plaintext).unwrap();
            prop_assert_eq!(sealed.len(), plaintext.len() + HEADER_LEN + TAG_LEN);
            prop_assert_eq!(keys.open(NAME, row, &sealed).unwrap(), plaintext);
        }

        #[test]
        fn json_round_trips(text in "\\PC*", number in any::<i64>()) {
            let keys = keyring(tenant(), 1, &[1]);
            let row = Uuid::now_v7();
            let value = (text.clone(), number);
            let sealed = keys.seal_json(NOTE, row, &value).unwrap();
            prop_assert_eq!(keys.open_json::<(String, i64)>(NOTE, row, &sealed).unwrap(), value);
        }

        #[test]
        fn any_single_flipped_bit_is_detected(plaintext in proptest::collection::vec(any::<u8>(), 1..256), bit in any::<usize>()) {
            let keys = keyring(tenant(), 1, &[1]);
            let row = Uuid::now_v7();
            let mut sealed = keys.seal(NAME, row, &plaintext).unwrap();
            let bit = bit % (sealed.len() * 8);
            sealed[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(keys.open(NAME, row, &sealed).is_err());
        }

        #[test]
        fn truncation_is_detected(plaintext in proptest::collection::vec(any::<u8>(), 0..256), cut in any::<usize>()) {
            let keys = keyring(tenant(), 1, &[1]);
            let row = Uuid::now_v7();
            let sealed = keys.seal(NAME, row, &plaintext).unwrap();
            let cut = cut % sealed.len();
            prop_assert!(keys.open(NAME, row, &sealed[..cut]).is_err());
        }
    }

    #[test]
    fn a_value_opens_only_in_its_own_place() {
        let tenant = tenant();
        let keys = keyring(tenant, 1, &[1]);
        let row = Uuid::now_v7();
        let sealed = keys.seal(NAME, row, b"DUPONT Marie").unwrap();
        assert_eq!(keys.open(NAME, row, &sealed).unwrap(), b"DUPONT Marie");
        // Another row, another column, another table.
        assert_eq!(keys.open(NAME, Uuid::now_v7(), &sealed).unwrap_err(), CryptoError::Tampered);
        assert_eq!(keys.open(Column::new("residents", "ins"), row, &sealed).unwrap_err(), CryptoError::Tampered);
        assert_eq!(keys.open(Column::new("contacts", "identity"), row, &sealed).unwrap_err(), CryptoError::Tampered);
        // Another tenant, even with the very same key bytes.
        let other = keyring(TenantId::from_uuid(Uuid::now_v7()), 1, &[1]);
        assert_eq!(other.open(NAME, row, &sealed).unwrap_err(), CryptoError::Tampered);
        // A header edited to name another key version that also exists.
        let both = keyring(tenant, 1, &[1, 2]);
        let mut relabelled = sealed.clone();
        relabelled[4] = 2;
        assert_eq!(both.open(NAME, row, &relabelled).unwrap_err(), CryptoError::Tampered);
        // Garbage and empty values.
        assert_eq!(keys.open(NAME, row, b"").unwrap_err(), CryptoError::Malformed);
        assert_eq!(keys.open(NAME, row, b"DUPONT Marie in clear").unwrap_err(), CryptoError::Malformed);
    }

    #[test]
    fn nonces_are_fresh() {
        let keys = keyring(tenant(), 1, &[1]);
        let row = Uuid::now_v7();
        let a = keys.seal(NAME, row, b"same").unwrap();
        let b = keys.seal(NAME, row, b"same").unwrap();
        assert_ne!(a, b);
        assert_ne!(a[5..17], b[5..17]);
    }

    #[test]
    fn rotation_keeps_old_values_readable_and_reseals_them() {
        let tenant = tenant();
        let row = Uuid::now_v7();
        let old = keyring(tenant, 1, &[1]);
        let sealed = old.seal(NAME, row, b"DUPONT").unwrap();
        let rotated = keyring(tenant, 2, &[1, 2]);
        assert_eq!(rotated.open(NAME, row, &sealed).unwrap(), b"DUPONT");
        let resealed = rotated.reseal(NAME, row, &sealed).unwrap().unwrap();
        assert_eq!(sealed::key_version(&resealed).unwrap(), 2);
        assert!(rotated.reseal(NAME, row, &resealed).unwrap().is_none());
        // Once version 1 is gone, only resealed values open.
        let retired = keyring(tenant, 2, &[2]);
        assert_eq!(retired.open(NAME, row, &resealed).unwrap(), b"DUPONT");
        assert_eq!(retired.open(NAME, row, &sealed).unwrap_err(), CryptoError::UnknownKeyVersion(1));
    }

    #[test]
    fn blind_indexes_match_within_a_tenant_only_and_per_index() {
        let a = keyring(tenant(), 1, &[1]);
        let same_tenant_other_dek = keyring(a.tenant(), 2, &[2]);
        assert_eq!(a.blind_index(INS, "255081416802538"), same_tenant_other_dek.blind_index(INS, "255081416802538"));
        assert_ne!(a.blind_index(INS, "255081416802538"), a.blind_index(BIRTH, "255081416802538"));
        let other_index_key = Keyring::new(
            a.tenant(),
            1,
            vec![(1, SecretKey::from_bytes([1; 32]))],
            &SecretKey::from_bytes([8; 32]),
            &SecretKey::from_bytes([7; 32]),
        )
        .unwrap();
        assert_ne!(a.blind_index(INS, "255081416802538"), other_index_key.blind_index(INS, "255081416802538"));
    }

    #[test]
    fn audit_links_depend_on_every_input_and_the_key() {
        let keys = keyring(tenant(), 1, &[1]);
        let base = keys.audit_link(&[0; 32], 1, &[1; 32]);
        assert_ne!(base, keys.audit_link(&[1; 32], 1, &[1; 32]));
        assert_ne!(base, keys.audit_link(&[0; 32], 2, &[1; 32]));
        assert_ne!(base, keys.audit_link(&[0; 32], 1, &[2; 32]));
        let other = Keyring::new(
            keys.tenant(),
            1,
            vec![(1, SecretKey::from_bytes([1; 32]))],
            &SecretKey::from_bytes([9; 32]),
            &SecretKey::from_bytes([6; 32]),
        )
        .unwrap();
        assert_ne!(base, other.audit_link(&[0; 32], 1, &[1; 32]));
    }

    #[test]
    fn key_material_is_wiped_when_dropped() {
        fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroized_on_drop::<Aes256Gcm>();
        zeroized_on_drop::<SecretKey>();
    }

    #[test]
    fn prints_no_key() {
        let keys = keyring(tenant(), 1, &[1]);
        let printed = format!("{keys:?}");
        assert!(printed.contains("active: 1") && !printed.contains("cipher"), "{printed}");
    }
}
