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
