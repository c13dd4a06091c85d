//! SOAP 1.2 over HTTPS with the structure's certificate (mutual TLS): the transport the national
//! services (INSi now, the DMP next) are called through. It carries envelopes; it does not read
//! them. A circuit breaker keeps a national outage from stalling the server: after
//! `breaker_failures` failures in a row, calls fail at once for `breaker_cooldown`, then one call
//! is let through to try.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Where and how to reach a SOAP service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapEndpoint {
    /// `https://...`.
    pub url: String,
    /// The structure's certificate (PEM, its chain after it) and its private key (PEM): read
    /// from files, never stored in the database.
    pub certificate_file: PathBuf,
    pub key_file: PathBuf,
    /// The CA the service's certificate is checked against (default: the system's roots).
    pub ca_file: Option<PathBuf>,
    /// For the whole call (connection, request and answer).
    pub timeout: Duration,
    pub breaker_failures: u32,
    pub breaker_cooldown: Duration,
}

/// Why a call got no answer to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("the service did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the service could not be reached: {0}")]
    Unreachable(String),
    #[error("the service answered HTTP {status} without a SOAP envelope")]
    Status { status: u16 },
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the service failed repeatedly: calls are suspended for {0:?}")]
    Suspended(Duration),
}

impl CallError {
    /// Whether trying again soon may succeed (the same request, for an idempotent operation).
    pub fn is_transient(&self) -> bool {
        match self {
            CallError::Timeout(_) | CallError::Unreachable(_) => true,
            CallError::Status { status } => *status >= 500 || matches!(status, 408 | 429),
            CallError::TooLarge(_) | CallError::Suspended(_) => false,
        }
    }

    /// Whether it says the service is failing (what the breaker counts).
    fn counts_against_the_service(&self) -> bool {
        self.is_transient() || matches!(self, CallError::TooLarge(_))
    }
}

/// A call in flight; if it is dropped before it ends, it counts as a failure.
struct Pending<'a> {
    client: &'a SoapClient,
    probe: bool,
    ended: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.client.record(self.probe, false);
        }
    }
}

/// Why the client could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SetupError(String);

/// Answers larger than this are not read (a national service's answer is a few kilobytes).
pub const MAX_ANSWER: usize = 1 << 20;

#[derive(Debug, Default)]
struct BreakerState {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

/// A SOAP client for one service.
#[derive(Debug, Clone)]
pub struct SoapClient {
    http: reqwest::Client,
    endpoint: Arc<SoapEndpoint>,
    breaker: Arc<Mutex<BreakerState>>,
}

fn setup(what: &str, path: &std::path::Path, error: impl std::fmt::Display) -> SetupError {
    SetupError(format!("{what} {}: {error}", path.display()))
}

impl SoapClient {
    pub fn new(endpoint: SoapEndpoint) -> Result<Self, SetupError> {
        if !endpoint.url.starts_with("https://") {
            return Err(SetupError(format!("{} is not an https:// address", endpoint.url)));
        }
        let mut roots = rustls::RootCertStore::empty();
        match &endpoint.ca_file {
            Some(path) => {
                for certificate in CertificateDer::pem_file_iter(path).map_err(|e| setup("CA file", path, e))? {
                    let certificate = certificate.map_err(|e| setup("CA file", path, e))?;
                    roots.add(certificate).map_err(|e| setup("CA file", path, e))?;
                }
            }
            None => {
                for certificate in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(certificate);
                }
            }
        }
        if roots.is_empty() {
            return Err(SetupError("no CA certificate to check the service with".to_owned()));
        }
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&endpoint.certificate_file)
            .map_err(|e| setup("certificate file", &endpoint.certificate_file, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| setup("certificate file", &endpoint.certificate_file, e))?;
        if chain.is_empty() {
            return Err(setup("certificate file", &endpoint.certificate_file, "no certificate in it"));
        }
        let key = PrivateKeyDer::from_pem_file(&endpoint.key_file)
            .map_err(|e| setup("private key file", &endpoint.key_file, e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SetupError(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| SetupError(format!("the certificate and its key do not go together: {e}")))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(endpoint.timeout)
            .connect_timeout(endpoint.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SetupError(format!("HTTP client: {e}")))?;
        Ok(Self { http, endpoint: Arc::new(endpoint), breaker: Arc::new(Mutex::new(BreakerState::default())) })
    }

    /// Whether a call may go now: `Some(true)` for the one probe a half-open breaker lets
    /// through.
    fn admit(&self) -> Result<bool, CallError> {
        let mut state = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        match state.open_until {
            Some(until) if Instant::now() < until => Err(CallError::Suspended(until - Instant::now())),
            Some(_) if state.probing => Err(CallError::Suspended(Duration::ZERO)),
            Some(_) => {
                state.probing = true;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// What a call's end says of the service: the probe's result decides whether the breaker
    /// closes or opens again; other calls count failures in a row.
    fn record(&self, probe: bool, succeeded: bool) {
        let mut state = self.breaker.lock().unwrap_or_else(|e| e.into_inner());
        if probe {
            state.probing = false;
        } else if state.open_until.is_some() {
            // A call admitted before the breaker opened: the probe decides, not it.
            return;
        }
        if succeeded {
            *state = BreakerState::default();
            return;
        }
        state.failures += 1;
        if probe || state.failures >= self.endpoint.breaker_failures.max(1) {
            state.open_until = Some(Instant::now() + self.endpoint.breaker_cooldown);
            tracing::warn!(
                url = %self.endpoint.url,
                failures = state.failures,
                cooldown_s = self.endpoint.breaker_cooldown.as_secs(),
                "calls to a national service suspended after repeated failures"
            );
        }
    }

    /// Posts `envelope` with its SOAP action and returns the answer's bytes — an envelope, which
    /// may hold a fault (SOAP 1.2 sends a fault with HTTP 400 when the request is at fault, 500
    /// when the service is).
    pub async fn call(&self, action: &str, envelope: String) -> Result<Vec<u8>, CallError> {
        let probe = self.admit()?;
        // Counted as a failure if the call is dropped before it ends (the caller gave up): a
        // probe never left pending keeps the breaker from staying half-open for good.
        let mut pending = Pending { client: self, probe, ended: false };
        let outcome = self.send(action, envelope).await;
        pending.ended = true;
        // An answer, even a fault, means the service is up.
        self.record(probe, !matches!(&outcome, Err(e) if e.counts_against_the_service()));
        outcome
    }
    async fn send(&self, action: &str, envelope: String) -> Result<Vec<u8>, CallError> {
        let timeout = self.endpoint.timeout;
        let classify = |error: reqwest::Error| {
            if error.is_timeout() { CallError::Timeout(timeout) } else { CallError::Unreachable(describe(&error)) }
        };
        let mut response = self
            .http
            .post(&self.endpoint.url)
            .header("content-type", format!(r#"application/soap+xml; charset=utf-8; action="{action}""#))
            .body(envelope)
            .send()
            .await
            .map_err(classify)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > MAX_ANSWER {
                return Err(CallError::TooLarge(MAX_ANSWER));
            }
            body.extend_from_slice(&chunk);
        }
        let soap = response_is_soap(&body);
        if (200..300).contains(&status) || (matches!(status, 400 | 500) && soap) {
            Ok(body)
        } else {
            Err(CallError::Status { status })
        }
    }
}

fn response_is_soap(body: &[u8]) -> bool {
    let head = &body[..body.len().min(512)];
    String::from_utf8_lossy(head).contains("Envelope")
}

/// The error and its causes, on one line (the TLS or connection cause is what an operator
/// needs).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
