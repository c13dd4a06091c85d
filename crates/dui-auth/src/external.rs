//! External OpenID Connect issuers: verifying their tokens with keys fetched from their JWKS URL.
//!
//! Keys are cached per JWKS URL for `ttl`. A token naming a key that the cache does not hold
//! triggers a refresh (the issuer may have rotated its keys), at most once per
//! `min_refresh_interval` per URL so that tokens with made-up key ids cannot turn the server into
//! a fetch amplifier. Concurrent refreshes of one URL are merged into one fetch. When the issuer
//! cannot be reached, keys already cached keep working.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::AuthError;

/// The largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// How one external issuer is trusted, as configured for a tenant.
#[derive(Debug, Clone, Copy)]
pub struct ExternalIssuer<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub jwks_url: &'a str,
    /// The claim naming the user.
    pub subject_claim: &'a str,
}

#[derive(Debug)]
struct Entry {
    keys: Arc<Vec<Jwk>>,
    fetched_at: Instant,
}

/// Cached JWKS documents of external issuers.
#[derive(Debug)]
pub struct JwksCache {
    http: reqwest::Client,
    ttl: Duration,
    min_refresh_interval: Duration,
    entries: Mutex<HashMap<String, Entry>>,
    /// One lock per URL: the first caller fetches, the others wait and use its result.
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Instant>>>>>,
}

impl JwksCache {
    pub fn new(ttl: Duration, min_refresh_interval: Duration, fetch_timeout: Duration) -> Result<Self, String> {
        crate::install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(fetch_timeout)
            .connect_timeout(fetch_timeout)
            .user_agent(concat!("dui/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            http,
            ttl,
            min_refresh_interval,
            entries: Mutex::new(HashMap::new()),
            fetching: Mutex::new(HashMap::new()),
        })
    }

    fn cached(&self, url: &str) -> Option<(Arc<Vec<Jwk>>, Instant)> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(url).map(|e| (e.keys.clone(), e.fetched_at))
    }

    /// The key `kid` of the issuer at `url` (or its only key when the token names none).
    pub async fn key(&self, url: &str, kid: Option<&str>) -> Result<Jwk, AuthError> {
        let now = Instant::now();
        let cached = self.cached(url);
        if let Some((keys, fetched_at)) = &cached {
            let fresh = now.duration_since(*fetched_at) < self.ttl;
            if let Some(key) = find(keys, kid) {
                if fresh {
                    return Ok(key);
                }
            } else if fresh && now.duration_since(*fetched_at) < self.min_refresh_interval {
                return Err(AuthError::UnknownKey);
            }
        }
        match self.refresh(url).await {
            Ok(keys) => find(&keys, kid).ok_or(AuthError::UnknownKey),
            Err(error) => {
                // The issuer is unreachable: keep working with what we had.
                let stale = cached.as_ref().and_then(|(keys, _)| find(keys, kid));
                tracing::warn!(url, error = %error, using_cached = stale.is_some(), "JWKS fetch failed");
                stale.ok_or(AuthError::KeysUnavailable)
            }
        }
    }

    async fn refresh(&self, url: &str) -> Result<Arc<Vec<Jwk>>, String> {
        let lock = {
            let mut fetching = self.fetching.lock().unwrap_or_else(|e| e.into_inner());
            fetching.entry(url.to_owned()).or_default().clone()
        };
        let started = Instant::now();
        let mut last_fetch = lock.lock().await;
        // Someone else fetched while we waited, or fetched too recently: use their result.
        if let Some(at) = *last_fetch
            && (at >= started || started.duration_since(at) < self.min_refresh_interval)
            && let Some((keys, _)) = self.cached(url)
        {
            return Ok(keys);
        }
        *last_fetch = Some(Instant::now());
        let keys = Arc::new(self.fetch(url).await?);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.insert(url.to_owned(), Entry { keys: keys.clone(), fetched_at: Instant::now() });
        Ok(keys)
    }

    async fn fetch(&self, url: &str) -> Result<Vec<Jwk>, String> {
        let mut response = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP status {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err("JWKS document too large".to_owned());
            }
            body.extend_from_slice(&chunk);
        }
        let document: Value = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
        let keys = document.get("keys").and_then(Value::as_array).ok_or("no \"keys\" array")?;
        // Keys of kinds we do not support are skipped rather than failing the whole set.
        Ok(keys.iter().filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok()).collect())
    }
}

fn find(keys: &[Jwk], kid: Option<&str>) -> Option<Jwk> {
    match kid {
        Some(kid) => keys.iter().find(|k| k.common.key_id.as_deref() == Some(kid)).cloned(),
        None if keys.len() == 1 => keys.first().cloned(),
        None => None,
    }
}

/// The algorithms a key may verify: fixed by its type, never by the token. A symmetric key in a
/// JWKS is refused outright (a public document cannot hold a shared secret).
fn algorithms_for(jwk: &Jwk) -> Vec<Algorithm> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Vec::new();
    }
    let by_type: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => vec![],
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => vec![Algorithm::EdDSA],
        _ => vec![],
    };
    match jwk.common.key_algorithm {
        None => by_type,
        Some(declared) => by_type.into_iter().filter(|alg| key_algorithm(*alg) == declared).collect(),
    }
}

fn key_algorithm(alg: Algorithm) -> KeyAlgorithm {
    match alg {
        Algorithm::HS256 => KeyAlgorithm::HS256,
        Algorithm::HS384 => KeyAlgorithm::HS384,
        Algorithm::HS512 => KeyAlgorithm::HS512,
        Algorithm::ES256 => KeyAlgorithm::ES256,
        Algorithm::ES384 => KeyAlgorithm::ES384,
        Algorithm::RS256 => KeyAlgorithm::RS256,
        Algorithm::RS384 => KeyAlgorithm::RS384,
        Algorithm::RS512 => KeyAlgorithm::RS512,
        Algorithm::PS256 => KeyAlgorithm::PS256,
        Algorithm::PS384 => KeyAlgorithm::PS384,
        Algorithm::PS512 => KeyAlgorithm::PS512,
        Algorithm::EdDSA => KeyAlgorithm::EdDSA,
        _ => KeyAlgorithm::UNKNOWN_ALGORITHM,
    }
}

/// Verifies a token of an external issuer and returns the value of its subject claim.
pub async fn verify(
    token: &str,
    issuer: ExternalIssuer<'_>,
    cache: &JwksCache,
    leeway_secs: u64,
) -> Result<String, AuthError> {
    let peeked = crate::peek(token)?;
    let jwk = cache.key(issuer.jwks_url, peeked.key_id.as_deref()).await?;
    if !algorithms_for(&jwk).contains(&peeked.algorithm) {
        return Err(AuthError::AlgorithmRefused);
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| AuthError::UnknownKey)?;
    let mut validation = Validation::new(peeked.algorithm);
    validation.set_issuer(&[issuer.issuer]);
    validation.set_audience(&[issuer.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.validate_nbf = true;
    validation.leeway = leeway_secs;
    let data =
        jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(|e| AuthError::from_jwt(&e))?;
    match data.claims.get(issuer.subject_claim) {
        Some(Value::String(subject)) if !subject.is_empty() => Ok(subject.clone()),
        Some(Value::Number(number)) => Ok(number.to_string()),
        Some(_) => Err(AuthError::InvalidClaim(issuer.subject_claim.to_owned())),
        None => Err(AuthError::MissingClaim(issuer.subject_claim.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk(json: &str) -> Jwk {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn algorithms_follow_the_key_type() {
        let rsa = jwk(r#"{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"r"}"#);
        assert!(algorithms_for(&rsa).contains(&Algorithm::RS256));
        assert!(!algorithms_for(&rsa).contains(&Algorithm::HS256));
        let rsa_pinned = jwk(r#"{"kty":"RSA","n":"AQAB","e":"AQAB","alg":"PS256"}"#);
        assert_eq!(algorithms_for(&rsa_pinned), [Algorithm::PS256]);
        let secret = jwk(r#"{"kty":"oct","k":"c2VjcmV0"}"#);
        assert!(algorithms_for(&secret).is_empty());
        let ed = jwk(r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#);
        assert_eq!(algorithms_for(&ed), [Algorithm::EdDSA]);
        let enc = jwk(r#"{"kty":"RSA","n":"AQAB","e":"AQAB","use":"enc"}"#);
        assert!(algorithms_for(&enc).is_empty());
    }

    #[test]
    fn a_token_without_kid_uses_the_only_key() {
        let one = vec![jwk(r#"{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"a"}"#)];
        assert!(find(&one, None).is_some());
        assert!(find(&one, Some("b")).is_none());
        let two = vec![one[0].clone(), jwk(r#"{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"b"}"#)];
        assert!(find(&two, None).is_none());
        assert_eq!(find(&two, Some("b")).unwrap().common.key_id.as_deref(), Some("b"));
    }
}
