//! Key-encryption keys (KEKs) and the wrapping of tenants' keys.
//!
//! A wrapped key is `nonce (12) || AES-256-GCM(KEK, key) || tag (16)`, with associated data
//! naming the tenant, the key's purpose and its version: a wrapped key moved to another tenant or
//! slot does not unwrap.

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use dui_domain::TenantId;

use crate::CryptoError;
use crate::key::{SecretKey, random_nonce};

/// What a tenant key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyPurpose {
    /// Seals field values.
    Data,
    /// Computes blind indexes.
    Index,
    /// Links the audit trail's hash chain.
    Audit,
}

impl KeyPurpose {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Data => "data",
            Self::Index => "index",
            Self::Audit => "audit",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "data" => Some(Self::Data),
            "index" => Some(Self::Index),
            "audit" => Some(Self::Audit),
            _ => None,
        }
    }
}

/// A tenant key wrapped by a KEK, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub kek_version: u32,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WrappedKey(kek v{}, {} bytes)", self.kek_version, self.bytes.len())
    }
}

fn wrap_aad(tenant: TenantId, purpose: KeyPurpose, version: u32) -> Vec<u8> {
    let mut aad = Vec::with_capacity(48);
    aad.extend_from_slice(b"dui/dek/1|");
    aad.extend_from_slice(tenant.as_uuid().as_bytes());
    aad.extend_from_slice(purpose.as_str().as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

/// The configured KEKs. One is active (it wraps new keys); the others still unwrap what they
/// wrapped, until a KEK rotation has rewrapped everything.
pub struct KekRing {
    active: u32,
    keks: BTreeMap<u32, Aes256Gcm>,
}

impl fmt::Debug for KekRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KekRing").field("active", &self.active).field("versions", &self.versions()).finish()
    }
}

impl KekRing {
    pub fn new(active: u32, keys: Vec<(u32, SecretKey)>) -> Result<Self, CryptoError> {
        let mut keks = BTreeMap::new();
        for (version, key) in keys {
            if version == 0 {
                return Err(CryptoError::InvalidKey("KEK versions start at 1".to_owned()));
            }
            let cipher = Aes256Gcm::new(key.as_bytes().into());
            if keks.insert(version, cipher).is_some() {
                return Err(CryptoError::InvalidKey(format!("KEK version {version} given twice")));
            }
        }
        if !keks.contains_key(&active) {
            return Err(CryptoError::InvalidKey(format!("the active KEK version {active} is not in the ring")));
        }
        Ok(Self { active, keks })
    }

    /// From base64-encoded 32-byte keys by version, as written in the configuration.
    pub fn from_base64(active: u32, keys: &BTreeMap<u32, String>) -> Result<Self, CryptoError> {
        let keys = keys
            .iter()
            .map(|(version, text)| {
                let bytes = STANDARD
                    .decode(text.trim())
                    .map_err(|_| CryptoError::InvalidKey(format!("KEK version {version} is not base64")))?;
                Ok((*version, SecretKey::from_slice(&bytes)?))
            })
            .collect::<Result<Vec<_>, CryptoError>>()?;
        Self::new(active, keys)
    }

    /// A new KEK, base64-encoded, for the configuration.
    pub fn generate_base64() -> Result<String, CryptoError> {
        let key = SecretKey::generate()?;
        Ok(STANDARD.encode(key.as_bytes()))
    }

    pub fn active_version(&self) -> u32 {
        self.active
    }

    pub fn versions(&self) -> Vec<u32> {
        self.keks.keys().copied().collect()
    }

    /// Wraps a tenant key under the active KEK.
    pub fn wrap(
        &self,
        tenant: TenantId,
        purpose: KeyPurpose,
        version: u32,
        key: &SecretKey,
    ) -> Result<WrappedKey, CryptoError> {
        let cipher = &self.keks[&self.active];
        let nonce = random_nonce()?;
        let mut bytes = Vec::with_capacity(12 + 32 + 16);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(key.as_bytes());
        let tag = cipher
            .encrypt_inout_detached(&Nonce::from(nonce), &wrap_aad(tenant, purpose, version), (&mut bytes[12..]).into())
            .map_err(|_| CryptoError::Malformed)?;
        bytes.extend_from_slice(&tag);
        Ok(WrappedKey { kek_version: self.active, bytes })
    }

    /// Unwraps a tenant key.
    pub fn unwrap(
        &self,
        tenant: TenantId,
        purpose: KeyPurpose,
        version: u32,
        wrapped: &WrappedKey,
    ) -> Result<SecretKey, CryptoError> {
        let cipher = self.keks.get(&wrapped.kek_version).ok_or(CryptoError::UnknownKek(wrapped.kek_version))?;
        if wrapped.bytes.len() != 12 + 32 + 16 {
            return Err(CryptoError::Malformed);
        }
        let nonce: [u8; 12] = wrapped.bytes[..12].try_into().map_err(|_| CryptoError::Malformed)?;
        let tag = Tag::try_from(&wrapped.bytes[44..]).map_err(|_| CryptoError::Malformed)?;
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&wrapped.bytes[12..44]);
        cipher
            .decrypt_inout_detached(
                &Nonce::from(nonce),
                &wrap_aad(tenant, purpose, version),
                key.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| CryptoError::Tampered)?;
        Ok(SecretKey::from_bytes(*key))
    }

    /// Rewraps under the active KEK (a KEK rotation), if not already.
    pub fn rewrap(
        &self,
        tenant: TenantId,
        purpose: KeyPurpose,
        version: u32,
        wrapped: &WrappedKey,
    ) -> Result<Option<WrappedKey>, CryptoError> {
        if wrapped.kek_version == self.active {
            return Ok(None);
        }
        let key = self.unwrap(tenant, purpose, version, wrapped)?;
        self.wrap(tenant, purpose, version, &key).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn ring(active: u32, versions: &[u32]) -> KekRing {
        KekRing::new(active, versions.iter().map(|v| (*v, SecretKey::from_bytes([*v as u8; 32]))).collect()).unwrap()
    }

    #[test]
    fn wraps_and_unwraps_bound_to_tenant_purpose_and_version() {
        let ring = ring(1, &[1]);
        let tenant = TenantId::from_uuid(Uuid::now_v7());
        let key = SecretKey::generate().unwrap();
        let wrapped = ring.wrap(tenant, KeyPurpose::Data, 3, &key).unwrap();
        assert_eq!(ring.unwrap(tenant, KeyPurpose::Data, 3, &wrapped).unwrap().as_bytes(), key.as_bytes());
        let other = TenantId::from_uuid(Uuid::now_v7());
        assert_eq!(ring.unwrap(other, KeyPurpose::Data, 3, &wrapped).unwrap_err(), CryptoError::Tampered);
        assert_eq!(ring.unwrap(tenant, KeyPurpose::Index, 3, &wrapped).unwrap_err(), CryptoError::Tampered);
        assert_eq!(ring.unwrap(tenant, KeyPurpose::Data, 4, &wrapped).unwrap_err(), CryptoError::Tampered);
        let mut flipped = wrapped.clone();
        flipped.bytes[20] ^= 1;
        assert_eq!(ring.unwrap(tenant, KeyPurpose::Data, 3, &flipped).unwrap_err(), CryptoError::Tampered);
    }

    #[test]
    fn rotation_rewraps_under_the_new_kek() {
        let tenant = TenantId::from_uuid(Uuid::now_v7());
        let key = SecretKey::generate().unwrap();
        let old = ring(1, &[1]);
        let wrapped = old.wrap(tenant, KeyPurpose::Data, 1, &key).unwrap();
        let both = ring(2, &[1, 2]);
        let rewrapped = both.rewrap(tenant, KeyPurpose::Data, 1, &wrapped).unwrap().unwrap();
        assert_eq!(rewrapped.kek_version, 2);
        assert!(both.rewrap(tenant, KeyPurpose::Data, 1, &rewrapped).unwrap().is_none(), "already current");
        let new_only = ring(2, &[2]);
        assert_eq!(new_only.unwrap(tenant, KeyPurpose::Data, 1, &rewrapped).unwrap().as_bytes(), key.as_bytes());
        assert_eq!(new_only.unwrap(tenant, KeyPurpose::Data, 1, &wrapped).unwrap_err(), CryptoError::UnknownKek(1));
    }

    #[test]
    fn configuration_errors_are_named() {
        let mut keys = BTreeMap::new();
        keys.insert(1, KekRing::generate_base64().unwrap());
        assert!(KekRing::from_base64(1, &keys).is_ok());
        assert!(KekRing::from_base64(2, &keys).unwrap_err().to_string().contains("active KEK version 2"));
        keys.insert(2, "not base64!".to_owned());
        assert!(KekRing::from_base64(1, &keys).unwrap_err().to_string().contains("version 2"));
        keys.insert(2, STANDARD.encode([0u8; 16]));
        assert!(KekRing::from_base64(1, &keys).unwrap_err().to_string().contains("32 expected"));
        assert!(!format!("{:?}", ring(1, &[1])).contains("cipher"));
    }
}
