//! The server's own signing keys: Ed25519, PKCS#8 PEM, identified by their RFC 7638 thumbprint.

use std::fmt;

use dui_domain::secret::Secret;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not an Ed25519 key in PEM form ({0})")]
    NotEd25519(String),
    #[error("cannot draw random bytes: {0}")]
    Random(String),
}

/// A public key that verifies the server's tokens: the active signing key's, or a previous one
/// kept during a rotation so that tokens it signed stay valid until they expire.
#[derive(Clone)]
pub struct VerificationKey {
    pub(crate) kid: String,
    pub(crate) decoding: DecodingKey,
    pub(crate) jwk: Jwk,
}

impl VerificationKey {
    /// From a public key (`-----BEGIN PUBLIC KEY-----`) or a private key PEM.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        if pem.contains("PRIVATE KEY") {
            return SigningKey::from_pem(pem).map(|k| k.verification);
        }
        let decoding = DecodingKey::from_ed_pem(pem.as_bytes()).map_err(|e| KeyError::NotEd25519(e.to_string()))?;
        let jwk = Jwk::from_decoding_key(&decoding, Some(Algorithm::EdDSA))
            .map_err(|e| KeyError::NotEd25519(e.to_string()))?;
        Self::from_public_jwk(jwk)
    }

    fn from_public_jwk(mut jwk: Jwk) -> Result<Self, KeyError> {
        let kid = jwk.thumbprint(ThumbprintHash::SHA256).map_err(|e| KeyError::NotEd25519(e.to_string()))?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| KeyError::NotEd25519(e.to_string()))?;
        Ok(Self { kid, decoding, jwk })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK, ready for the JWKS document.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerificationKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// The private key that signs the server's tokens. Its `Debug` shows the key id only.
#[derive(Clone)]
pub struct SigningKey {
    pub(crate) encoding: EncodingKey,
    pub(crate) verification: VerificationKey,
}

impl SigningKey {
    /// From a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as made by [`generate_pem`] or
    /// `openssl genpkey -algorithm ed25519`.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let encoding = EncodingKey::from_ed_pem(pem.as_bytes()).map_err(|e| KeyError::NotEd25519(e.to_string()))?;
        let jwk =
            Jwk::from_encoding_key(&encoding, Algorithm::EdDSA).map_err(|e| KeyError::NotEd25519(e.to_string()))?;
        let verification = VerificationKey::from_public_jwk(jwk)?;
        Ok(Self { encoding, verification })
    }

    pub fn kid(&self) -> &str {
        &self.verification.kid
    }

    pub fn verification_key(&self) -> &VerificationKey {
        &self.verification
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid()).finish_non_exhaustive()
    }
}

/// Generates a new Ed25519 private key, as PKCS#8 PEM.
pub fn generate_pem() -> Result<Secret<String>, KeyError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
    // PKCS#8 v1 (the private seed alone), the form OpenSSL writes and jsonwebtoken reads.
    let keypair = ed25519_dalek::pkcs8::KeypairBytes { secret_key: seed, public_key: None };
    seed.fill(0);
    let pem = keypair.to_pkcs8_pem(LineEnding::LF).map_err(|e| KeyError::NotEd25519(e.to_string()))?;
    Ok(Secret::new(pem.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_and_differ() {
        let a = SigningKey::from_pem(generate_pem().unwrap().expose()).unwrap();
        let b = SigningKey::from_pem(generate_pem().unwrap().expose()).unwrap();
        assert_ne!(a.kid(), b.kid());
        assert_eq!(a.kid().len(), 43, "a SHA-256 thumbprint in base64url");
        assert!(!format!("{a:?}").contains("PRIVATE"));
    }

    #[test]
    fn a_private_pem_also_gives_its_verification_key() {
        let pem = generate_pem().unwrap();
        let signing = SigningKey::from_pem(pem.expose()).unwrap();
        let verification = VerificationKey::from_pem(pem.expose()).unwrap();
        assert_eq!(signing.kid(), verification.kid());
    }

    #[test]
    fn refuses_what_is_not_an_ed25519_key() {
        assert!(SigningKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err());
        assert!(VerificationKey::from_pem("hello").is_err());
    }
}
