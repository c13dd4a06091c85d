//! The server's own issuer: tokens for local accounts, service accounts and platform operators.

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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
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

/// Signs and verifies the server's own tokens.
#[derive(Debug, Clone)]
pub struct OwnIssuer {
    issuer: String,
    audience: String,
    signing: SigningKey,
    /// The signing key's public half first, then previous keys still accepted.
    verification: Vec<VerificationKey>,
    leeway_secs: u64,
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
        Self { issuer: issuer.into(), audience: audience.into(), signing, verification, leeway_secs }
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
            aud: Some(self.audience.clone()),
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

    /// Verifies one of our tokens and returns whom it designates.
    pub fn verify(&self, token: &str, key_id: Option<&str>) -> Result<Subject, AuthError> {
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
        let sub: Uuid = claims.sub.parse().map_err(|_| AuthError::InvalidClaim("sub".to_owned()))?;
        match (claims.ctx, claims.tid) {
            (Context::Tenant, Some(tenant)) => {
                Ok(Subject::TenantUser { tenant: TenantId::from_uuid(tenant), user: UserId::from_uuid(sub) })
            }
            (Context::Tenant, None) => Err(AuthError::MissingClaim("tid".to_owned())),
            (Context::Platform, None) => Ok(Subject::Operator(OperatorId::from_uuid(sub))),
            (Context::Platform, Some(_)) => Err(AuthError::InvalidClaim("tid".to_owned())),
        }
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
