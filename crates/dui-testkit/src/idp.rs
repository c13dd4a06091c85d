//! A real OpenID Connect key server for tests: it publishes its JWKS over HTTP on port 0, can
//! rotate its key, counts how often it is fetched, and mints RS256 tokens.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::sync::RwLock;

use crate::keys;

#[derive(Debug)]
struct Shared {
    published: RwLock<JwkSet>,
    fetches: AtomicUsize,
}

/// An identity provider with one RSA signing key at a time.
#[derive(Debug, Clone)]
pub struct FakeIdp {
    pub issuer: String,
    pub jwks_url: String,
    key: EncodingKey,
    kid: String,
    shared: Arc<Shared>,
}

fn public_jwk(key: &EncodingKey, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(key, Algorithm::RS256).expect("RSA test key");
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk
}

async fn serve_jwks(State(shared): State<Arc<Shared>>) -> axum::Json<JwkSet> {
    shared.fetches.fetch_add(1, Ordering::SeqCst);
    axum::Json(shared.published.read().await.clone())
}

impl FakeIdp {
    /// Starts the key server.
    pub async fn start() -> Self {
        let key = EncodingKey::from_rsa_pem(keys::IDP_RSA_KEY.as_bytes()).expect("RSA test key");
        let kid = "idp-key-1".to_owned();
        let shared = Arc::new(Shared {
            published: RwLock::new(JwkSet { keys: vec![public_jwk(&key, &kid)] }),
            fetches: AtomicUsize::new(0),
        });
        let app = Router::new().route("/jwks", get(serve_jwks)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { issuer: format!("http://{addr}/realms/test"), jwks_url: format!("http://{addr}/jwks"), key, kid, shared }
    }

    /// How many times the JWKS was fetched.
    pub fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }

    /// Switches to a new key, published alongside the old one (as real providers do during a
    /// rotation). Returns the provider that signs with the new key.
    pub async fn rotate(&self) -> FakeIdp {
        let key = EncodingKey::from_rsa_pem(keys::IDP_RSA_ROTATED_KEY.as_bytes()).expect("RSA test key");
        let kid = "idp-key-2".to_owned();
        self.shared.published.write().await.keys.push(public_jwk(&key, &kid));
        FakeIdp { key, kid, ..self.clone() }
    }

    /// A token with the usual claims for `subject` and `audience`, valid for ten minutes.
    pub fn token(&self, subject: &str, audience: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        self.sign(&json!({
            "iss": self.issuer, "aud": audience, "sub": subject,
            "iat": now, "nbf": now, "exp": now + 600,
        }))
    }

    /// Signs any claims with the provider's key (RS256, with its key id).
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).expect("sign")
    }

    /// Signs with a header of the caller's choosing (attacks on `alg` and `kid`).
    pub fn sign_with_header(&self, header: &Header, claims: &Value, key: &EncodingKey) -> String {
        jsonwebtoken::encode(header, claims, key).expect("sign")
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }
}
