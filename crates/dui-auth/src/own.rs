//! The server's own issuer: tokens for local accounts, service accounts and platform operators.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use dui_domain::{OperatorId, TenantId, UserId};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::AuthError;
use crate::keys::{SigningKey, VerificationKey};

/// Who a token of ours designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A user of a tenant: the tenant comes from the token, never from the URL.
    TenantUser { tenant: TenantId, user: UserId },
    /// A platform operator: no tenant at all.
    Operator(OperatorId),
}

/// Whether a token is for the tenant API or the platform API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Context {
    Tenant,
    Platform,
}

/// The registered claims are optional here only so that a token lacking one is refused by the
/// validation, which names the missing claim, rather than by deserialisation.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    /// One audience, or several (RFC 7519 §4.1.3): the validation checks that ours is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aud: Option<Audience>,
    sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jti: Option<String>,
    ctx: Context,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tid: Option<Uuid>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Several(Vec<String>),
}

/// Signs and verifies the server's own tokens.
#[derive(Debug, Clone)]
pub struct OwnIssuer {
    issuer: String,
    audience: String,
    signing: SigningKey,
    /// The signing key's public half first, then previous keys still accepted.
    verification: Vec<VerificationKey>,
    leeway_secs: u64,
    verified: Arc<Verified>,
}

/// The tokens already verified, each with the last second it is valid in, so that a client's
/// next requests with the same token cost a look-up instead of a signature check. A token is
/// known by the SHA-256 of its very text (32 bytes an entry, whatever the token's length); the
/// keys that verified it stay for the life of the process; each entry is dropped once its token
/// expires.
#[derive(Debug, Default)]
struct Verified(Mutex<HashMap<[u8; 32], (Subject, i64)>>);

/// The most tokens remembered (about 10 MiB): the working day of a regional platform's staff.
/// Past it, the expired go, then all of them.
const VERIFIED_CAPACITY: usize = 100_000;

fn digest(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

impl Verified {
    fn get(&self, token: &str, now: i64) -> Option<Subject> {
        let key = digest(token);
        let tokens = self.0.lock().unwrap_or_else(|e| e.into_inner());
        tokens.get(&key).filter(|(_, until)| now <= *until).map(|(subject, _)| *subject)
    }

    fn put(&self, token: &str, subject: Subject, until: i64, now: i64) {
        let key = digest(token);
        let mut tokens = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if tokens.len() >= VERIFIED_CAPACITY {
            tokens.retain(|_, (_, valid_until)| now <= *valid_until);
            if tokens.len() >= VERIFIED_CAPACITY {
                tokens.clear();
            }
        }
        tokens.insert(key, (subject, until));
    }
}

impl OwnIssuer {
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        signing: SigningKey,
        previous: Vec<VerificationKey>,
        leeway_secs: u64,
    ) -> Self {
        let mut verification = vec![signing.verification_key().clone()];
        verification.extend(previous.into_iter().filter(|k| k.kid() != signing.kid()));
        let verified = Arc::default();
        Self { issuer: issuer.into(), audience: audience.into(), signing, verification, leeway_secs, verified }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Mints a token for `subject`, valid from `now` for `ttl`.
    pub fn mint(&self, subject: Subject, now: DateTime<Utc>, ttl: chrono::Duration) -> String {
        let (sub, ctx, tid) = match subject {
            Subject::TenantUser { tenant, user } => (user.to_string(), Context::Tenant, Some(tenant.as_uuid())),
            Subject::Operator(operator) => (operator.to_string(), Context::Platform, None),
        };
        let claims = Claims {
            iss: Some(self.issuer.clone()),
            aud: Some(Audience::One(self.audience.clone())),
            sub,
            iat: Some(now.timestamp()),
            nbf: Some(now.timestamp()),
            exp: Some((now + ttl).timestamp()),
            jti: Some(Uuid::now_v7().to_string()),
            ctx,
            tid,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.signing.kid().to_owned());
        // Signing with a well-formed Ed25519 key and serialisable claims cannot fail.
        jsonwebtoken::encode(&header, &claims, &self.signing.encoding).expect("signing with a valid Ed25519 key")
    }

    /// Verifies one of our tokens and returns whom it designates. A token verified before is
    /// not checked again until it expires.
    pub fn verify(&self, token: &str, key_id: Option<&str>) -> Result<Subject, AuthError> {
        let now = Utc::now().timestamp();
        if let Some(subject) = self.verified.get(token, now) {
            return Ok(subject);
        }
        let (subject, expires) = self.check(token, key_id)?;
        let leeway = i64::try_from(self.leeway_secs).unwrap_or(i64::MAX);
        self.verified.put(token, subject, expires.saturating_add(leeway), now);
        Ok(subject)
    }

    /// The signature and claims checks, and when the token expires.
    fn check(&self, token: &str, key_id: Option<&str>) -> Result<(Subject, i64), AuthError> {
        let key_id = key_id.ok_or(AuthError::UnknownKey)?;
        let key = self.verification.iter().find(|k| k.kid() == key_id).ok_or(AuthError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway_secs;
        let data =
            jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation).map_err(|e| AuthError::from_jwt(&e))?;
        let claims = data.claims;
        let expires = claims.exp.ok_or_else(|| AuthError::MissingClaim("exp".to_owned()))?;
        let sub: Uuid = claims.sub.parse().map_err(|_| AuthError::InvalidClaim("sub".to_owned()))?;
        let subject = match (claims.ctx, claims.tid) {
            (Context::Tenant, Some(tenant)) => {
                Ok(Subject::TenantUser { tenant: TenantId::from_uuid(tenant), user: UserId::from_uuid(sub) })
            }
            (Context::Tenant, None) => Err(AuthError::MissingClaim("tid".to_owned())),
            (Context::Platform, None) => Ok(Subject::Operator(OperatorId::from_uuid(sub))),
            (Context::Platform, Some(_)) => Err(AuthError::InvalidClaim("tid".to_owned())),
        }?;
        Ok((subject, expires))
    }

    /// The public keys, as published at the JWKS endpoint.
    pub fn jwks(&self) -> JwkSet {
        JwkSet { keys: self.verification.iter().map(|k| k.jwk().clone()).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::generate_pem;

    fn issuer() -> OwnIssuer {
        let key = SigningKey::from_pem(generate_pem().unwrap().expose()).unwrap();
        OwnIssuer::new("https://dui.test", "dui", key, vec![], 0)
    }

    #[test]
    fn round_trip_for_users_and_operators() {
        let issuer = issuer();
        let tenant = TenantId::from_uuid(Uuid::now_v7());
        let user = UserId::from_uuid(Uuid::now_v7());
        let token = issuer.mint(Subject::TenantUser { tenant, user }, Utc::now(), chrono::Duration::minutes(5));
        let kid = crate::peek(&token).unwrap().key_id;
        assert_eq!(issuer.verify(&token, kid.as_deref()), Ok(Subject::TenantUser { tenant, user }));

        let operator = OperatorId::from_uuid(Uuid::now_v7());
        let token = issuer.mint(Subject::Operator(operator), Utc::now(), chrono::Duration::minutes(5));
        assert_eq!(issuer.verify(&token, kid.as_deref()), Ok(Subject::Operator(operator)));
    }

    /// A token of `issuer` with the audience claim `aud`.
    fn with_audience(issuer: &OwnIssuer, aud: Option<Audience>) -> String {
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: Some(issuer.issuer.clone()),
            aud,
            sub: Uuid::now_v7().to_string(),
            iat: Some(now),
            nbf: Some(now),
            exp: Some(now + 300),
            jti: None,
            ctx: Context::Platform,
            tid: None,
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(issuer.signing.kid().to_owned());
        jsonwebtoken::encode(&header, &claims, &issuer.signing.encoding).unwrap()
    }

    #[test]
    fn the_audience_may_be_one_or_several_and_must_hold_ours() {
        let issuer = issuer();
        let kid = issuer.signing.kid().to_owned();
        let several = with_audience(&issuer, Some(Audience::Several(vec!["autre".to_owned(), "dui".to_owned()])));
        assert!(issuer.verify(&several, Some(&kid)).is_ok(), "RFC 7519: an array holding ours");
        let others = with_audience(&issuer, Some(Audience::Several(vec!["autre".to_owned()])));
        assert_eq!(issuer.verify(&others, Some(&kid)), Err(AuthError::WrongAudience));
        let wrong = with_audience(&issuer, Some(Audience::One("autre".to_owned())));
        assert_eq!(issuer.verify(&wrong, Some(&kid)), Err(AuthError::WrongAudience));
        assert_eq!(
            issuer.verify(&with_audience(&issuer, None), Some(&kid)),
            Err(AuthError::MissingClaim("aud".to_owned()))
        );
    }

    #[test]
    fn refuses_expired_and_future_tokens_and_foreign_keys() {
        let issuer = issuer();
        let subject = Subject::Operator(OperatorId::from_uuid(Uuid::now_v7()));
        let kid = issuer.signing.kid().to_owned();
        let expired = issuer.mint(subject, Utc::now() - chrono::Duration::hours(2), chrono::Duration::hours(1));
        assert_eq!(issuer.verify(&expired, Some(&kid)), Err(AuthError::Expired));
        let future = issuer.mint(subject, Utc::now() + chrono::Duration::hours(1), chrono::Duration::hours(1));
        assert_eq!(issuer.verify(&future, Some(&kid)), Err(AuthError::NotYetValid));
        let other = self::issuer();
        let foreign = other.mint(subject, Utc::now(), chrono::Duration::minutes(5));
        assert_eq!(issuer.verify(&foreign, Some(other.signing.kid())), Err(AuthError::UnknownKey));
        // The right kid on a token signed by another key: the signature check fails.
        assert_eq!(issuer.verify(&foreign, Some(&kid)), Err(AuthError::BadSignature));
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires_and_only_as_is() {
        let key = SigningKey::from_pem(generate_pem().unwrap().expose()).unwrap();
        let issuer = OwnIssuer::new("https://dui.test", "dui", key, vec![], 30);
        let kid = issuer.signing.kid().to_owned();
        let subject = Subject::TenantUser {
            tenant: TenantId::from_uuid(Uuid::now_v7()),
            user: UserId::from_uuid(Uuid::now_v7()),
        };
        let now = Utc::now();
        let token = issuer.mint(subject, now, chrono::Duration::minutes(5));
        assert_eq!(issuer.verify(&token, Some(&kid)), Ok(subject));
        // Kept until its expiry plus the leeway the full check allows, not a second more.
        let until = (now + chrono::Duration::minutes(5)).timestamp() + 30;
        assert_eq!(issuer.verified.get(&token, until), Some(subject));
        assert_eq!(issuer.verified.get(&token, until + 1), None);
        assert_eq!(issuer.verify(&token, Some(&kid)), Ok(subject));
        // Any other text is checked in full: a changed signature is refused.
        let at = token.len() - 10;
        let flipped = if &token[at..=at] == "A" { "B" } else { "A" };
        let altered = format!("{}{flipped}{}", &token[..at], &token[at + 1..]);
        assert_eq!(issuer.verify(&altered, Some(&kid)), Err(AuthError::BadSignature));
        // A refused token is not remembered.
        let expired = issuer.mint(subject, now - chrono::Duration::hours(2), chrono::Duration::hours(1));
        assert_eq!(issuer.verify(&expired, Some(&kid)), Err(AuthError::Expired));
        assert_eq!(issuer.verified.get(&expired, now.timestamp() - 7200), None);
    }

    #[test]
    fn remembered_tokens_stay_within_their_capacity() {
        let verified = Verified::default();
        let subject = Subject::Operator(OperatorId::from_uuid(Uuid::now_v7()));
        for n in 0..VERIFIED_CAPACITY + 10 {
            // Half already expired at 1,000: those go first.
            verified.put(&format!("token-{n}"), subject, if n % 2 == 0 { 500 } else { 2_000 }, 1_000);
        }
        let kept = verified.0.lock().unwrap().len();
        assert!(kept <= VERIFIED_CAPACITY, "{kept}");
        assert_eq!(verified.get(&format!("token-{}", VERIFIED_CAPACITY + 9), 1_000), Some(subject));
    }

    #[test]
    fn previous_keys_still_verify_after_a_rotation() {
        let old = issuer();
        let subject = Subject::Operator(OperatorId::from_uuid(Uuid::now_v7()));
        let token = old.mint(subject, Utc::now(), chrono::Duration::minutes(5));
        let new_key = SigningKey::from_pem(generate_pem().unwrap().expose()).unwrap();
        let rotated =
            OwnIssuer::new("https://dui.test", "dui", new_key, vec![old.signing.verification_key().clone()], 0);
        assert_eq!(rotated.verify(&token, Some(old.signing.kid())), Ok(subject));
        assert_eq!(rotated.jwks().keys.len(), 2);
    }
}
