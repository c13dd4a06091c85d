//! The INSi client against a local teleservice over mutual TLS: each answer code, a SOAP fault,
//! a slow service, a closed connection, certificates the other side does not trust, the circuit
//! breaker, and errors that name no trait.

use std::time::Duration;

use chrono::NaiveDate;
use dui::exchange::insi::{InsiClient, InsiError};
use dui::exchange::soap_client::{CallError, SoapClient, SoapEndpoint};
use dui_domain::identity::Sex;
use dui_exchange::SoapError;
use dui_exchange::insi::{Found, InsTraits, InsiIns, RetrievalAnswer, RetrievalQuery, Software};
use dui_testkit::insi::{CLOSE, FAULT, InsiPeer, SLOW, TestPki};
use uuid::Uuid;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn person(birth_name: &str, first_names: &str, sex: Sex, born: NaiveDate, place: &str, ins: &str, oid: &str) -> Found {
    Found {
        ins: InsiIns { matricule: ins.to_owned(), oid: oid.to_owned() },
        traits: InsTraits {
            birth_name: birth_name.to_owned(),
            first_names: first_names.to_owned(),
            sex,
            birth_date: born,
            birth_place: Some(place.to_owned()),
        },
        history: Vec::new(),
    }
}

const NIR: &str = "1.2.250.1.213.1.4.8";
const NIA: &str = "1.2.250.1.213.1.4.9";

/// The test persons of the national base, as the peer knows them.
fn persons() -> Vec<Found> {
    let mut changed = person("ADRTROIS", "DOMINIQUE", Sex::Female, date(1997, 2, 26), "2A020", "297022A02077878", NIR);
    changed.history.push(InsiIns { matricule: "297022A02012345".to_owned(), oid: NIR.to_owned() });
    vec![
        changed,
        person("TCHITCHI", "CATARINA BELLA", Sex::Female, date(1936, 6, 21), "63220", "236066322083656", NIR),
        person("D'ARTAGNAN-LE GOFF", "JEAN-PIERRE", Sex::Male, date(1940, 1, 2), "75056", "140017505612345", NIR),
        person("MARTIN", "JEANNE", Sex::Female, date(1940, 1, 1), "75056", "240017505600111", NIR),
        person("MARTIN", "JEANNE LOUISE", Sex::Female, date(1940, 1, 1), "13055", "240011305500222", NIR),
        person("OKONKWO", "ADAEZE", Sex::Female, date(1985, 3, 9), "99216", "285039921600333", NIA),
    ]
}

fn query(birth_name: &str, first_name: &str, sex: Sex, born: NaiveDate, place: Option<&str>) -> RetrievalQuery {
    RetrievalQuery {
        birth_name: birth_name.to_owned(),
        first_name: first_name.to_owned(),
        sex,
        birth_date: born,
        birth_place: place.map(str::to_owned),
    }
}

fn endpoint(pki: &TestPki, url: &str, client: &str, ca: &str) -> SoapEndpoint {
    SoapEndpoint {
        url: url.to_owned(),
        certificate_file: pki.path(&format!("{client}.pem")),
        key_file: pki.path(&format!("{client}.key")),
        ca_file: Some(pki.path(ca)),
        timeout: Duration::from_millis(1500),
        breaker_failures: 3,
        breaker_cooldown: Duration::from_secs(1),
    }
}

fn software() -> Software {
    Software {
        authorisation: "AUTORISATION-CNDA-TEST".to_owned(),
        version: "0.1.0".to_owned(),
        name: "urn:lps:dui:0.1.0".to_owned(),
        instance: Uuid::from_u128(42),
    }
}

fn client(endpoint: SoapEndpoint) -> InsiClient {
    InsiClient::new(SoapClient::new(endpoint).unwrap(), software(), "330000001".to_owned())
}

#[tokio::test]
async fn each_answer_code_over_mutual_tls_with_the_required_context() {
    let pki = TestPki::new();
    let peer = InsiPeer::start(&pki, persons()).await;
    let insi = client(endpoint(&pki, &peer.url, "client", "ca.pem"));

    // 00: one person, with the INS traits and an earlier INS.
    let id = Uuid::now_v7();
    let one = insi.retrieve(id, &query("ADRTROIS", "DOMINIQUE", Sex::Female, date(1997, 2, 26), None)).await;
    let Ok(RetrievalAnswer::One(found)) = one else { panic!("{one:?}") };
    assert_eq!(found.ins.matricule, "297022A02077878");
    assert_eq!(found.traits.birth_place.as_deref(), Some("2A020"));
    assert_eq!(found.history.len(), 1);
    // The service was told who calls, with what software, under which message id.
    let received = peer.received.lock().unwrap().last().cloned().unwrap();
    assert_eq!(received.message_id, format!("uuid:{id}"));
    assert_eq!(received.emitter, "330000001");
    assert_eq!(received.authorisation, "AUTORISATION-CNDA-TEST");

    // A second given name finds the person too; so do apostrophes and hyphens, and a NIA.
    let bella = query("TCHITCHI", "BELLA", Sex::Female, date(1936, 6, 21), None);
    assert!(matches!(insi.retrieve(Uuid::now_v7(), &bella).await, Ok(RetrievalAnswer::One(_))));
    let musketeer = query("D'ARTAGNAN-LE GOFF", "JEAN-PIERRE", Sex::Male, date(1940, 1, 2), None);
    let Ok(RetrievalAnswer::One(found)) = insi.retrieve(Uuid::now_v7(), &musketeer).await else { panic!() };
    assert_eq!(found.traits.birth_name, "D'ARTAGNAN-LE GOFF");
    let nia = query("OKONKWO", "ADAEZE", Sex::Female, date(1985, 3, 9), None);
    let Ok(RetrievalAnswer::One(found)) = insi.retrieve(Uuid::now_v7(), &nia).await else { panic!() };
    assert_eq!(found.ins.oid, NIA);

    // 02: two homonyms; the place of birth tells them apart.
    let homonyms = query("MARTIN", "JEANNE", Sex::Female, date(1940, 1, 1), None);
    assert_eq!(insi.retrieve(Uuid::now_v7(), &homonyms).await, Ok(RetrievalAnswer::Several));
    let marseille = RetrievalQuery { birth_place: Some("13055".to_owned()), ..homonyms };
    let Ok(RetrievalAnswer::One(found)) = insi.retrieve(Uuid::now_v7(), &marseille).await else { panic!() };
    assert_eq!(found.traits.first_names, "JEANNE LOUISE");

    // 01: nobody.
    let nobody = query("INCONNUE", "MARIE", Sex::Female, date(1930, 5, 5), None);
    assert_eq!(insi.retrieve(Uuid::now_v7(), &nobody).await, Ok(RetrievalAnswer::NoneFound));
}

#[tokio::test]
async fn faults_slowness_and_closed_connections_are_errors_that_name_no_trait() {
    let pki = TestPki::new();
    let peer = InsiPeer::start(&pki, persons()).await;
    // (The breaker is tested below: here it must not open.)
    let mut settings = endpoint(&pki, &peer.url, "client", "ca.pem");
    settings.breaker_failures = 10;
    let insi = client(settings);
    let born = date(1950, 7, 14);

    // A SOAP fault is the service's answer: an error, not retried.
    let before = peer.received.lock().unwrap().len();
    let fault = insi.retrieve(Uuid::now_v7(), &query(FAULT, "MARIE", Sex::Female, born, None)).await.unwrap_err();
    assert!(matches!(&fault, InsiError::Answer(SoapError::Fault(f)) if !f.is_senders()), "{fault:?}");
    assert_eq!(peer.received.lock().unwrap().len(), before + 1, "a fault is not retried");

    // Too slow: the call is given up after its timeout (shorter than the peer's delay), and
    // tried once more.
    let slow = insi.retrieve(Uuid::now_v7(), &query(SLOW, "MARIE", Sex::Female, born, None)).await.unwrap_err();
    assert!(matches!(slow, InsiError::Transport(CallError::Timeout(_))), "{slow:?}");

    // A connection closed without an answer: an error, after one more try.
    let before = peer.received.lock().unwrap().len();
    let closed = insi.retrieve(Uuid::now_v7(), &query(CLOSE, "MARIE", Sex::Female, born, None)).await.unwrap_err();
    assert!(matches!(closed, InsiError::Transport(CallError::Unreachable(_))), "{closed:?}");
    assert_eq!(peer.received.lock().unwrap().len(), before + 2, "tried twice");

    // No error message carries what was searched.
    for error in [fault.to_string(), slow.to_string(), closed.to_string()] {
        for secret in ["MARIE", "1950", FAULT, SLOW, CLOSE] {
            assert!(!error.contains(secret), "{error}");
        }
    }
}

#[tokio::test]
async fn only_trusted_certificates_on_both_sides() {
    let pki = TestPki::new();
    let peer = InsiPeer::start(&pki, persons()).await;
    let search = query("ADRTROIS", "DOMINIQUE", Sex::Female, date(1997, 2, 26), None);

    // A client certificate from another CA: the service refuses the connection.
    let stranger = client(endpoint(&pki, &peer.url, "stranger", "ca.pem"));
    let refused = stranger.retrieve(Uuid::now_v7(), &search).await.unwrap_err();
    assert!(matches!(refused, InsiError::Transport(CallError::Unreachable(_))), "{refused:?}");
    // A service whose certificate the client's CA did not sign: the client refuses it.
    let distrusting = client(endpoint(&pki, &peer.url, "client", "other-ca.pem"));
    let refused = distrusting.retrieve(Uuid::now_v7(), &search).await.unwrap_err().to_string();
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");
    assert!(peer.received.lock().unwrap().is_empty(), "nothing reached the service");

    // Set-up errors say what is wrong.
    let mut plain = endpoint(&pki, &peer.url, "client", "ca.pem");
    plain.url = plain.url.replace("https", "http");
    assert!(SoapClient::new(plain).unwrap_err().to_string().contains("https"));
    let mut mismatched = endpoint(&pki, &peer.url, "client", "ca.pem");
    mismatched.key_file = pki.path("stranger.key");
    assert!(SoapClient::new(mismatched).unwrap_err().to_string().contains("do not go together"));
    let mut missing = endpoint(&pki, &peer.url, "client", "ca.pem");
    missing.key_file = pki.path("absent.key");
    assert!(SoapClient::new(missing).unwrap_err().to_string().contains("absent.key"));
}

#[tokio::test]
async fn the_breaker_suspends_calls_to_a_failing_service_then_tries_again() {
    let pki = TestPki::new();
    let peer = InsiPeer::start(&pki, persons()).await;
    let mut settings = endpoint(&pki, &peer.url, "client", "ca.pem");
    settings.breaker_failures = 2;
    settings.breaker_cooldown = Duration::from_millis(800);
    let insi = client(settings);
    let born = date(1950, 7, 14);
    let good = query("ADRTROIS", "DOMINIQUE", Sex::Female, date(1997, 2, 26), None);

    // Two failed calls (one retrieval and its retry): the breaker opens.
    insi.retrieve(Uuid::now_v7(), &query(CLOSE, "MARIE", Sex::Female, born, None)).await.unwrap_err();
    let received = peer.received.lock().unwrap().len();
    let suspended = insi.retrieve(Uuid::now_v7(), &good).await.unwrap_err();
    assert!(matches!(suspended, InsiError::Transport(CallError::Suspended(_))), "{suspended:?}");
    assert_eq!(peer.received.lock().unwrap().len(), received, "nothing was sent");

    // After the cool-down, one call is let through; it succeeds and the breaker closes.
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(matches!(insi.retrieve(Uuid::now_v7(), &good).await, Ok(RetrievalAnswer::One(_))));
    assert!(matches!(insi.retrieve(Uuid::now_v7(), &good).await, Ok(RetrievalAnswer::One(_))));

    // A probe that fails opens it again at once; a probe given up by its caller counts as a
    // failure too, so the breaker never stays half-open for good.
    insi.retrieve(Uuid::now_v7(), &query(CLOSE, "MARIE", Sex::Female, born, None)).await.unwrap_err();
    tokio::time::sleep(Duration::from_millis(900)).await;
    insi.retrieve(Uuid::now_v7(), &query(CLOSE, "MARIE", Sex::Female, born, None)).await.unwrap_err();
    let again = insi.retrieve(Uuid::now_v7(), &good).await.unwrap_err();
    assert!(matches!(again, InsiError::Transport(CallError::Suspended(_))), "the failed probe reopened it: {again:?}");
    tokio::time::sleep(Duration::from_millis(900)).await;
    let slow = query(SLOW, "MARIE", Sex::Female, born, None);
    let given_up = tokio::time::timeout(Duration::from_millis(200), insi.retrieve(Uuid::now_v7(), &slow)).await;
    assert!(given_up.is_err(), "the caller gave up");
    let again = insi.retrieve(Uuid::now_v7(), &good).await.unwrap_err();
    assert!(matches!(again, InsiError::Transport(CallError::Suspended(d)) if d > Duration::ZERO), "{again:?}");
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert!(matches!(insi.retrieve(Uuid::now_v7(), &good).await, Ok(RetrievalAnswer::One(_))));

    // A fault does not open it: the service answered.
    for _ in 0..3 {
        insi.retrieve(Uuid::now_v7(), &query(FAULT, "MARIE", Sex::Female, born, None)).await.unwrap_err();
    }
    assert!(matches!(insi.retrieve(Uuid::now_v7(), &good).await, Ok(RetrievalAnswer::One(_))));
}
