//! Fixed keys for tests. They protect nothing: never configure them anywhere else.

/// The server's signing key in tests (Ed25519, PKCS#8 PEM).
pub const SIGNING_KEY: &str = include_str!("../keys/test-signing-key.pem");
/// A previous signing key, for rotation tests.
pub const PREVIOUS_SIGNING_KEY: &str = include_str!("../keys/test-previous-key.pem");
/// The fake identity provider's RSA key.
pub const IDP_RSA_KEY: &str = include_str!("../keys/test-idp-rsa.pem");
/// Its public half (SPKI PEM): what an attacker would use as an HMAC secret.
pub const IDP_RSA_PUBLIC_KEY: &str = include_str!("../keys/test-idp-rsa.pub.pem");
/// The key the fake identity provider rotates to.
pub const IDP_RSA_ROTATED_KEY: &str = include_str!("../keys/test-idp-rsa-rotated.pem");

/// The key-encryption key of tests (version 1), base64.
pub const KEK_V1: &str = "dGVzdC1rZWstdjEtZm9yLWR1aS10ZXN0cy1vbmx5ISE=";
/// A second KEK, for KEK rotation tests.
pub const KEK_V2: &str = "dGVzdC1rZWstdjItZm9yLWR1aS10ZXN0cy1vbmx5ISE=";

/// The key settings of tests: the ring holds [`KEK_V1`], active.
pub fn crypto_config() -> dui_storage::CryptoConfig {
    let keks = std::collections::BTreeMap::from([(1, KEK_V1.to_owned())]);
    dui_storage::CryptoConfig::new(dui_crypto::KekRing::from_base64(1, &keks).expect("test KEK"))
}
