//! A local INSi teleservice for the tests: a TLS server that requires a client certificate from
//! the test CA (as the national service requires the structure's certificate), checks the SOAP
//! request and its context headers, and answers from a table of test persons — `00` when one
//! person matches, `01` when none does, `02` when several do; a verification is `00` when the
//! INS is a person's of the table and the traits sent are theirs, else `01`. Some birth names make it misbehave
//! as a real service can: [`FAULT`] answers a SOAP fault, [`SLOW`] answers after
//! [`SLOW_DELAY`], [`CLOSE`] closes the connection without answering.
//!
//! [`TestPki`] makes the certificates with openssl: a CA, the peer's certificate for
//! `localhost`/`127.0.0.1`, a client certificate from that CA, and one from another CA.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dui_domain::identity::ins_form;
use dui_exchange::insi::{
    self, Found, RETRIEVE_ACTION, ReceivedRequest, RetrievalAnswer, VERIFY_ACTION, VerificationAnswer,
};
use dui_exchange::soap;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A birth name the peer answers with a SOAP fault.
pub const FAULT: &str = "PANNE";
/// A birth name the peer answers late.
pub const SLOW: &str = "LENTEUR";
/// How late.
pub const SLOW_DELAY: Duration = Duration::from_secs(5);
/// A birth name for which the peer closes the connection without answering.
pub const CLOSE: &str = "COUPURE";

/// Test certificates, in a temporary directory.
#[derive(Debug)]
pub struct TestPki {
    pub dir: tempfile::TempDir,
}

impl TestPki {
    /// The CA, the peer's certificate, the structure's client certificate, and a stranger's
    /// client certificate signed by another CA.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let run = |args: &[&str]| {
            let output =
                Command::new("openssl").args(args).current_dir(dir.path()).output().expect("openssl is installed");
            assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        };
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        for (ca, name) in [("ca", "dui test CA"), ("other-ca", "another CA")] {
            let subject = format!("/CN={name}");
            let (key_file, cert_file) = (format!("{ca}.key"), format!("{ca}.pem"));
            let mut args = vec!["req", "-x509"];
            args.extend(key);
            args.extend(["-days", "2", "-subj", &subject, "-keyout", &key_file, "-out", &cert_file]);
            run(&args);
        }
        std::fs::write(dir.path().join("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
        std::fs::write(dir.path().join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        for (name, subject, ca, ext) in [
            ("server", "/CN=localhost", "ca", "server.ext"),
            ("client", "/CN=330000001/O=EHPAD de test", "ca", "client.ext"),
            ("stranger", "/CN=999999999/O=Inconnu", "other-ca", "client.ext"),
        ] {
            let (key_file, csr, cert) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"));
            let mut args = vec!["req"];
            args.extend(key);
            args.extend(["-subj", subject, "-keyout", &key_file, "-out", &csr]);
            run(&args);
            let (ca_cert, ca_key) = (format!("{ca}.pem"), format!("{ca}.key"));
            run(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_cert,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                ext,
                "-out",
                &cert,
            ]);
        }
        Self { dir }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

fn certificates(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path).unwrap().collect::<Result<_, _>>().unwrap()
}

/// The running peer.
pub struct InsiPeer {
    /// `https://127.0.0.1:<port>/insi`.
    pub url: String,
    /// Every well-formed request it received, in order.
    pub received: Arc<Mutex<Vec<ReceivedRequest>>>,
    /// The persons of its national base.
    persons: Arc<Mutex<Vec<Found>>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for InsiPeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InsiPeer").field("url", &self.url).finish()
    }
}

impl Drop for InsiPeer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether `person` answers `request`: the same birth name, sex and birth date, a given name of
/// theirs, and the same place of birth when one is given.
fn matches(person: &Found, request: &ReceivedRequest) -> bool {
    let (query, traits) = (&request.query, &person.traits);
    ins_form(&query.birth_name) == traits.birth_name
        && query.sex == traits.sex
        && query.birth_date == traits.birth_date
        && traits.first_names.split(' ').any(|name| name == ins_form(&query.first_name))
        && query.birth_place.as_ref().is_none_or(|place| Some(place) == traits.birth_place.as_ref())
}

fn soap_response(status: u16, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/soap+xml; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

async fn answer(
    request: Request<Incoming>,
    persons: Arc<Mutex<Vec<Found>>>,
    received: Arc<Mutex<Vec<ReceivedRequest>>>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let content_type = request.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let body = request.into_body().collect().await.map_err(std::io::Error::other)?.to_bytes();
    let sender = |reason: &str| Ok(soap_response(500, soap::fault("soap:Sender", None, reason)));
    let action = if content_type.contains(VERIFY_ACTION) { VERIFY_ACTION } else { RETRIEVE_ACTION };
    if !content_type.starts_with("application/soap+xml") || !content_type.contains(action) {
        return sender("Type de contenu ou action SOAP inattendu");
    }
    let retrieval = match insi::read_request(&body) {
        Ok(retrieval) => retrieval,
        Err(error) => return sender(&format!("Requête invalide : {error}")),
    };
    if retrieval.action != action
        || retrieval.ins.is_some() != (action == VERIFY_ACTION)
        || !retrieval.message_id.starts_with("uuid:")
    {
        return sender("En-têtes WS-Addressing invalides");
    }
    received.lock().unwrap().push(retrieval.clone());
    // The service reads names in the national form only.
    let names = [&retrieval.query.birth_name, &retrieval.query.first_name];
    if names.iter().any(|name| ins_form(name) != **name) {
        return sender("Traits non conformes : nom et prénom en majuscules non accentuées");
    }
    match retrieval.query.birth_name.as_str() {
        FAULT => return Ok(soap_response(500, soap::fault("soap:Receiver", None, "Erreur technique du service"))),
        SLOW => tokio::time::sleep(SLOW_DELAY).await,
        CLOSE => return Err(std::io::Error::other("connection closed by the peer")),
        _ => {}
    }
    if let Some(ins) = &retrieval.ins {
        // A verification: the INS is a person's of the base, and the traits sent are theirs.
        let verified = persons.lock().unwrap().iter().any(|p| p.ins == *ins && matches(p, &retrieval));
        let answer = if verified { VerificationAnswer::Verified } else { VerificationAnswer::Mismatch };
        return Ok(soap_response(200, insi::verification_answer(answer)));
    }
    let answer = {
        let persons = persons.lock().unwrap();
        let found: Vec<&Found> = persons.iter().filter(|p| matches(p, &retrieval)).collect();
        match found.as_slice() {
            [] => RetrievalAnswer::NoneFound,
            [one] => RetrievalAnswer::One((*one).clone()),
            _ => RetrievalAnswer::Several,
        }
    };
    Ok(soap_response(200, insi::retrieval_answer(&answer)))
}

impl InsiPeer {
    /// Starts the peer, answering from `persons`.
    pub async fn start(pki: &TestPki, persons: Vec<Found>) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for certificate in certificates(&pki.path("ca.pem")) {
            roots.add(certificate).unwrap();
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                certificates(&pki.path("server.pem")),
                PrivateKeyDer::from_pem_file(pki.path("server.key")).unwrap(),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://127.0.0.1:{}/insi", listener.local_addr().unwrap().port());
        let received = Arc::new(Mutex::new(Vec::new()));
        let persons = Arc::new(Mutex::new(persons));
        let (shared, base) = (received.clone(), persons.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (acceptor, persons, received) = (acceptor.clone(), persons.clone(), shared.clone());
                tokio::spawn(async move {
                    // A client without a certificate of the test CA fails here.
                    let Ok(tls) = acceptor.accept(stream).await else { return };
                    let service =
                        hyper::service::service_fn(move |request| answer(request, persons.clone(), received.clone()));
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
                });
            }
        });
        Self { url, received, persons: base, task }
    }

    /// Adds a person to its national base.
    pub fn add(&self, person: Found) {
        self.persons.lock().unwrap().push(person);
    }

    /// Takes a person out of its national base (by matricule): as when an INS is withdrawn.
    pub fn remove(&self, matricule: &str) {
        self.persons.lock().unwrap().retain(|p| p.ins.matricule != matricule);
    }
}

/// `body` (13 characters of a NIR or NIA) with its key: a matricule INS that passes the check.
pub fn with_key(body: &str) -> String {
    let digits = match &body[5..7] {
        "2A" => format!("{}19{}", &body[..5], &body[7..]),
        "2B" => format!("{}18{}", &body[..5], &body[7..]),
        _ => body.to_owned(),
    };
    let number: u64 = digits.parse().expect("13 digits");
    format!("{body}{:02}", 97 - number % 97)
}

/// The `[insi]` section of a server that calls `peer` with the structure's test certificate,
/// keeping the service's test identities.
pub fn config(pki: &TestPki, peer: &InsiPeer) -> dui::config::InsiConfig {
    dui::config::InsiConfig {
        url: Some(peer.url.clone()),
        certificate_file: Some(pki.path("client.pem")),
        key_file: Some(pki.path("client.key")),
        ca_file: Some(pki.path("ca.pem")),
        emitter: "330000001".to_owned(),
        authorisation: "AUTORISATION-CNDA-TEST".to_owned(),
        timeout_ms: 1500,
        breaker_failures: 3,
        breaker_cooldown_secs: 1,
        accept_test_identities: true,
        verification_period_days: 365,
        ..dui::config::InsiConfig::default()
    }
}
