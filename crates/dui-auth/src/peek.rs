//! Reading a token's routing information (issuer, audience, key id, algorithm) before verifying
//! it. Nothing read here is trusted: it only chooses which key will verify the token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;

use crate::AuthError;

/// What a token says of itself, unverified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedToken {
    pub algorithm: Algorithm,
    pub key_id: Option<String>,
    pub issuer: Option<String>,
    pub audiences: Vec<String>,
    /// `sub`, for the record of a refusal only.
    pub subject: Option<String>,
    /// The server's own `tid` claim, for the record of a refusal only.
    pub tenant: Option<uuid::Uuid>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct RoutingClaims {
    iss: Option<String>,
    aud: Option<Audience>,
    #[serde(default)]
    sub: Option<serde_json::Value>,
    #[serde(default)]
    tid: Option<serde_json::Value>,
}

/// Reads the header and the routing claims. A header whose `alg` is `none` or unknown fails
/// here: jsonwebtoken knows no such algorithm.
pub fn peek(token: &str) -> Result<UnverifiedToken, AuthError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
    let payload = token.split('.').nth(1).ok_or(AuthError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| AuthError::Malformed)?;
    let claims: RoutingClaims = serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)?;
    let audiences = match claims.aud {
        None => Vec::new(),
        Some(Audience::One(aud)) => vec![aud],
        Some(Audience::Many(auds)) => auds,
    };
    let subject = claims.sub.map(|s| match s {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    });
    let tenant = claims.tid.and_then(|t| t.as_str().and_then(|t| t.parse().ok()));
    Ok(UnverifiedToken { algorithm: header.alg, key_id: header.kid, issuer: claims.iss, audiences, subject, tenant })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &str, claims: &str) -> String {
        format!("{}.{}.c2ln", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(claims))
    }

    #[test]
    fn reads_routing_claims() {
        let t = token(r#"{"alg":"RS256","kid":"k1"}"#, r#"{"iss":"https://idp","aud":["a","b"]}"#);
        let peeked = peek(&t).unwrap();
        assert_eq!(peeked.algorithm, Algorithm::RS256);
        assert_eq!(peeked.key_id.as_deref(), Some("k1"));
        assert_eq!(peeked.issuer.as_deref(), Some("https://idp"));
        assert_eq!(peeked.audiences, ["a", "b"]);
    }

    #[test]
    fn refuses_alg_none_and_garbage() {
        let cases = [
            token(r#"{"alg":"none"}"#, r#"{"iss":"x"}"#),
            token(r#"{"alg":"HS256"}"#, "not json"),
            "abc".to_owned(),
            "a.b".to_owned(),
            String::new(),
        ];
        for case in cases {
            assert_eq!(peek(&case), Err(AuthError::Malformed), "{case}");
        }
    }
}
