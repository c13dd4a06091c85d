//! Every fuzz target on generated inputs, a bounded number of cases each (times
//! `DUI_FUZZ_SCALE`; `DUI_FUZZ_SEED` for another sequence than the fixed one), and the properties that only hold of the structured inputs: a valid matricule is
//! accepted and a mistyped one refused, what the INSi writers write reads back the same. Each
//! test prints its executions (the shrinking of a failure included).

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::NaiveDate;
use dui_domain::identity::{self, Sex};
use dui_exchange::insi::{self, Found, InsTraits, InsiIns, RetrievalAnswer};
use dui_fuzz::{inputs, targets};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Runs `check` on `cases` inputs of `strategy` (times `DUI_FUZZ_SCALE`), fails on the first input
/// that breaks it (shrunk), and prints how many executions there were.
fn fuzz<S: Strategy>(name: &str, cases: u32, strategy: S, check: impl Fn(S::Value)) {
    let cases = dui_fuzz::cases(cases);
    let seed: u64 = std::env::var("DUI_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config { cases, failure_persistence: None, max_shrink_iters: 2_000, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let executions = AtomicU64::new(0);
    let started = std::time::Instant::now();
    let result = runner.run(&strategy, |input| {
        executions.fetch_add(1, Ordering::Relaxed);
        check(input);
        Ok(())
    });
    println!(
        "fuzz {name}: {} executions in {:.1} s, {} (seed {seed})",
        executions.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
        if result.is_ok() { "no crash" } else { "CRASH" }
    );
    if let Err(error) = result {
        panic!("{name}: {error}");
    }
}

#[test]
fn matricule() {
    fuzz("matricule", 10_000, inputs::matricule_input(), |input| targets::matricule(&input));
}

/// A valid matricule is accepted and agrees with the traits it encodes; a digit mistyped or two
/// neighbours swapped are refused (the key, 97 − n mod 97, catches both).
#[test]
fn matricule_key_catches_typing_errors() {
    let strategy = (inputs::nir(), any::<prop::sample::Index>(), 1u8..10, any::<bool>());
    fuzz("matricule_key", 5_000, strategy, |((matricule, person), at, shift, swap)| {
        assert_eq!(identity::matricule(&matricule).as_deref(), Ok(matricule.as_str()));
        assert_eq!(identity::matricule_agrees(&matricule, &person), Ok(()), "{matricule}");
        let bytes = matricule.as_bytes();
        let digits: Vec<usize> = (0..15).filter(|&i| bytes[i].is_ascii_digit()).collect();
        let mut typed = bytes.to_vec();
        if swap {
            let body: Vec<usize> = digits.iter().copied().filter(|&i| i < 12 && digits.contains(&(i + 1))).collect();
            let i = body[at.index(body.len())];
            if typed[i] == typed[i + 1] {
                return;
            }
            typed.swap(i, i + 1);
        } else {
            let i = digits[at.index(digits.len())];
            typed[i] = b'0' + (typed[i] - b'0' + shift) % 10;
        }
        let typed = String::from_utf8(typed).unwrap();
        assert!(identity::matricule(&typed).is_err(), "{matricule} typed as {typed} was accepted");
    });
}

#[test]
fn finess() {
    fuzz("finess", 10_000, inputs::finess_input(), |input| targets::finess(&input));
}

#[test]
fn identity_text() {
    fuzz("identity_text", 5_000, inputs::identity_text_input(), |input| targets::identity_text(&input));
}

#[test]
fn token() {
    let now = chrono::Utc::now().timestamp();
    fuzz("token", 3_000, inputs::token_input(now), |input| targets::token(&input));
}

#[test]
fn insi_answer() {
    fuzz("insi_answer", 5_000, inputs::insi_input(), |input| targets::insi_answer(&input));
}

/// A text of the teleservice: anything but the control characters XML cannot carry, not blank
/// at either end (the reader trims).
fn service_text() -> impl Strategy<Value = String> {
    // Control characters become letters, and a letter starts the text, rather than filtering
    // (too many inputs would be thrown away).
    prop::collection::vec(inputs::odd_char(), 0..20).prop_map(|chars| {
        let text: String = chars.into_iter().map(|c| if c.is_control() { 'X' } else { c }).collect();
        format!("A{}", text.trim_end())
    })
}

#[test]
fn bdpm() {
    fuzz("bdpm", 5_000, inputs::bdpm_input(), |input| targets::bdpm(&input));
}

/// What the local teleservice writes, the client reads back the same.
#[test]
fn insi_answers_read_back() {
    // A matricule has no spaces (the reader trims the identifier and the key apart).
    let matricule = || {
        prop::collection::vec(inputs::odd_char(), 3..20).prop_map(|chars| {
            chars.into_iter().map(|c| if c.is_control() || c.is_whitespace() { '0' } else { c }).collect::<String>()
        })
    };
    let ins = move || (matricule(), service_text()).prop_map(|(matricule, oid)| InsiIns { matricule, oid });
    let found = (
        ins(),
        service_text(),
        service_text(),
        any::<bool>(),
        (1900i32..2030, 1u32..=12, 1u32..=28),
        prop::option::of(service_text()),
        prop::collection::vec(ins(), 0..3),
    )
        .prop_map(|(ins, birth_name, first_names, female, (y, m, d), birth_place, history)| Found {
            ins,
            traits: InsTraits {
                birth_name,
                first_names,
                sex: if female { Sex::Female } else { Sex::Male },
                birth_date: NaiveDate::from_ymd_opt(y, m, d).unwrap(),
                birth_place,
            },
            history,
        });
    let answer = prop_oneof![
        4 => found.prop_map(RetrievalAnswer::One),
        1 => Just(RetrievalAnswer::NoneFound),
        1 => Just(RetrievalAnswer::Several),
    ];
    fuzz("insi_round_trip", 3_000, answer, |answer| {
        let written = insi::retrieval_answer(&answer);
        assert_eq!(insi::read_retrieval_answer(written.as_bytes()), Ok(answer), "{written}");
    });
}

#[test]
fn plan_pdf() {
    fuzz("plan_pdf", 100, inputs::plan_texts(), |texts| {
        targets::plan_pdf(&texts);
    });
}

/// pdftotext, when installed, finds in the document the words of the texts given, whatever
/// surrounds them.
#[test]
fn plan_pdf_text_is_recovered() {
    if std::process::Command::new("pdftotext").arg("-v").output().is_err() {
        println!("note: pdftotext is not installed; skipping the text recovery check");
        return;
    }
    let word = prop::sample::select(vec!["Jardin", "été", "Œuvre", "Bientôt", "Noël", "Garçon", "à", "Zoë"]);
    let noise = prop::collection::vec(inputs::odd_char(), 0..6).prop_map(|c| c.into_iter().collect::<String>());
    let text = (prop::collection::vec((word, noise), 1..6)).prop_map(|parts| {
        let words: Vec<&str> = parts.iter().map(|(w, _)| *w).collect();
        let text: String = parts.iter().map(|(w, n)| format!("{w} {n} ")).collect();
        (words.join(" "), text)
    });
    let dir = std::env::temp_dir().join(format!("dui-fuzz-pdf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    fuzz("plan_pdf_text", 40, text, |(words, text)| {
        let texts = targets::PlanTexts { texts: vec![text], ..Default::default() };
        let pdf = targets::plan_pdf(&texts);
        let path = dir.join("plan.pdf");
        std::fs::write(&path, pdf).unwrap();
        let output = std::process::Command::new("pdftotext").arg(&path).arg("-").output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let found = String::from_utf8_lossy(&output.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
        for word in words.split(' ') {
            assert!(found.contains(word), "{word:?} not in {found:?}");
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// Raw bytes, for each target: what a fuzzer without structure gives.
#[test]
fn every_target_on_raw_bytes() {
    for (name, target) in targets::ALL {
        let cases = if *name == "plan_pdf" { 100 } else { 3_000 };
        fuzz(&format!("{name}_bytes"), cases, prop::collection::vec(any::<u8>(), 0..300), |bytes| target(&bytes));
    }
}
