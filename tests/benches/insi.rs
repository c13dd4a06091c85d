//! The time of one INSi retrieval through the client (SOAP envelope, mutual TLS, the answer
//! read), against the local teleservice: median and p99 over sequential calls on a kept-alive
//! connection, and the first call of a new client (TLS handshake included).
//!
//! `cargo bench -p dui-tests --bench insi`. Needs openssl, like the tests.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use dui::exchange::insi::InsiClient;
use dui::exchange::soap_client::{SoapClient, SoapEndpoint};
use dui_domain::identity::Sex;
use dui_exchange::insi::{Found, InsTraits, InsiIns, RetrievalAnswer, RetrievalQuery, Software};
use dui_testkit::insi::{InsiPeer, TestPki};
use uuid::Uuid;

const CALLS: usize = 2_000;
const FRESH_CLIENTS: usize = 50;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let pki = TestPki::new();
        let birth_date = NaiveDate::from_ymd_opt(1997, 2, 26).unwrap();
        let person = Found {
            ins: InsiIns { matricule: "297022A02077878".to_owned(), oid: "1.2.250.1.213.1.4.8".to_owned() },
            traits: InsTraits {
                birth_name: "ADRTROIS".to_owned(),
                first_names: "DOMINIQUE".to_owned(),
                sex: Sex::Female,
                birth_date,
                birth_place: Some("2A020".to_owned()),
            },
            history: Vec::new(),
        };
        let peer = InsiPeer::start(&pki, vec![person]).await;
        let endpoint = SoapEndpoint {
            url: peer.url.clone(),
            certificate_file: pki.path("client.pem"),
            key_file: pki.path("client.key"),
            ca_file: Some(pki.path("ca.pem")),
            timeout: Duration::from_secs(5),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(30),
        };
        let software = Software {
            authorisation: "BENCH".to_owned(),
            version: "0".to_owned(),
            name: "urn:lps:dui:bench".to_owned(),
            instance: Uuid::nil(),
        };
        let query = RetrievalQuery {
            birth_name: "ADRTROIS".to_owned(),
            first_name: "DOMINIQUE".to_owned(),
            sex: Sex::Female,
            birth_date,
            birth_place: None,
        };
        let new_client = || {
            InsiClient::new(SoapClient::new(endpoint.clone()).unwrap(), software.clone(), "330000001".to_owned())
        };
        let client = new_client();
        let mut times = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let started = Instant::now();
            let answer = client.retrieve(Uuid::now_v7(), &query).await.unwrap();
            times.push(started.elapsed());
            assert!(matches!(answer, RetrievalAnswer::One(_)));
        }
        times.sort();
        let mut fresh = Vec::with_capacity(FRESH_CLIENTS);
        for _ in 0..FRESH_CLIENTS {
            let client = new_client();
            let started = Instant::now();
            client.retrieve(Uuid::now_v7(), &query).await.unwrap();
            fresh.push(started.elapsed());
        }
        fresh.sort();
        println!("INSi retrieval against the local peer ({CALLS} sequential calls, one connection kept alive):");
        println!(
            "  median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
            times[times.len() - 1].as_secs_f64() * 1e3
        );
        println!(
            "  first call of a new client (TCP and TLS handshakes included, {FRESH_CLIENTS} clients): median {:.2} ms, p99 {:.2} ms",
            percentile(&fresh, 0.5).as_secs_f64() * 1e3,
            percentile(&fresh, 0.99).as_secs_f64() * 1e3
        );
    });
}
