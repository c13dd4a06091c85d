//! Fuzzing: each parser of outside input as a plain function ([`targets`]), and the inputs
//! that drive them ([`inputs`]): valid ones, then edited. The test suite runs every target on a
//! bounded number of generated cases (`tests/targets.rs`; `DUI_FUZZ_SCALE` multiplies it), and
//! `scripts/fuzz` runs them longer, or under cargo-fuzz on a nightly toolchain (`fuzz/`). The
//! requests to the real server are fuzzed by the integration tests (`tests/integration/fuzz.rs`)
//! with the same edits of JSON and text.

pub mod inputs;
pub mod targets;

/// The number of cases to run of a target whose bounded run has `default`: that many times
/// `DUI_FUZZ_SCALE` (1 by default; `scripts/fuzz` runs 10 times as many), so that a longer run
/// keeps the proportions of cheap and dear targets.
pub fn cases(default: u32) -> u32 {
    let scale: u32 = std::env::var("DUI_FUZZ_SCALE").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    default.saturating_mul(scale)
}

/// `count` inputs of the target `name` as bytes, drawn from its structured inputs: the seeds a
/// byte-level fuzzer starts from (`scripts/fuzz --libfuzzer` writes them to `fuzz/corpus`).
pub fn corpus(name: &str, count: usize, seed: u64) -> Vec<Vec<u8>> {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let strategy: proptest::strategy::BoxedStrategy<Vec<u8>> = match name {
        "matricule" => inputs::matricule_input().prop_map(String::into_bytes).boxed(),
        "finess" => inputs::finess_input().prop_map(String::into_bytes).boxed(),
        "identity_text" => inputs::identity_text_input().prop_map(String::into_bytes).boxed(),
        "token" => inputs::token_input(chrono::Utc::now().timestamp()).prop_map(String::into_bytes).boxed(),
        "insi_answer" => inputs::insi_input().boxed(),
        "bdpm" => inputs::bdpm_input().boxed(),
        "plan_pdf" => inputs::plan_texts()
            .prop_map(|t| {
                let mut parts = vec![t.establishment];
                parts.extend(t.names);
                parts.extend(t.texts);
                parts.join("\u{1f}").into_bytes()
            })
            .boxed(),
        other => panic!("no target {other}"),
    };
    (0..count).map(|_| strategy.new_tree(&mut runner).expect("an input").current()).collect()
}
