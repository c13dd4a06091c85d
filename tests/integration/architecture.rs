//! The dependency rules of ARCHITECTURE.md, checked against `cargo metadata`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

struct Graph {
    /// Package name → its direct normal (non-dev, non-build) dependencies' names.
    direct: BTreeMap<String, BTreeSet<String>>,
    /// Package name → every package its normal dependencies pull in.
    transitive: BTreeMap<String, BTreeSet<String>>,
}

fn graph() -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let mut normal: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for node in metadata["resolve"]["nodes"].as_array().unwrap() {
        let name = names[node["id"].as_str().unwrap()].to_owned();
        let deps = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null()))
            .map(|d| names[d["pkg"].as_str().unwrap()].to_owned())
            .collect();
        normal.entry(name).or_default().extend::<BTreeSet<String>>(deps);
    }
    let mut transitive = BTreeMap::new();
    for name in normal.keys() {
        let mut seen = BTreeSet::new();
        let mut stack = vec![name.clone()];
        while let Some(current) = stack.pop() {
            for dep in normal.get(&current).into_iter().flatten() {
                if seen.insert(dep.clone()) {
                    stack.push(dep.clone());
                }
            }
        }
        transitive.insert(name.clone(), seen);
    }
    Graph { direct: normal, transitive }
}

const PRODUCTION: [&str; 7] = ["dui-domain", "dui-crypto", "dui-auth", "dui-storage", "dui-app", "dui-api", "dui"];

#[test]
fn the_domain_does_no_io() {
    let graph = graph();
    let pulled = &graph.transitive["dui-domain"];
    for forbidden in ["tokio", "tokio-postgres", "axum", "hyper", "reqwest", "mio", "socket2"] {
        assert!(!pulled.contains(forbidden), "dui-domain must not depend on {forbidden} (even indirectly)");
    }
}

/// Cargo unifies features, so the dependency graph cannot show whether the domain draws random
/// numbers or reads the clock through a shared crate: its source must not.
#[test]
fn the_domain_reads_no_clock_and_draws_no_random_numbers() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/dui-domain/src");
    let forbidden = [
        "Utc::now",
        "Local::now",
        "SystemTime",
        "Instant::now",
        "new_v4",
        "now_v7",
        "std::fs",
        "std::net",
        "std::env",
        "std::process",
    ];
    let mut stack = vec![dir];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for word in forbidden {
                assert!(!source.contains(word), "{} uses {word}", path.display());
            }
        }
    }
}

#[test]
fn encryption_does_no_io_and_is_the_only_one_with_ciphers() {
    let graph = graph();
    let pulled = &graph.transitive["dui-crypto"];
    for forbidden in ["tokio", "tokio-postgres", "axum", "hyper", "reqwest"] {
        assert!(!pulled.contains(forbidden), "dui-crypto must not depend on {forbidden} (even indirectly)");
    }
    for krate in PRODUCTION {
        for cipher in ["aes-gcm", "hmac"] {
            assert_eq!(graph.direct[krate].contains(cipher), krate == "dui-crypto", "{krate} and {cipher}");
        }
    }
}

#[test]
fn only_storage_names_postgres() {
    let graph = graph();
    for krate in PRODUCTION {
        for driver in ["tokio-postgres", "deadpool-postgres", "refinery", "postgres"] {
            let uses = graph.direct[krate].contains(driver);
            assert_eq!(uses, krate == "dui-storage" && driver != "postgres", "{krate} and {driver}");
        }
    }
}

#[test]
fn only_the_api_knows_http_serving() {
    let graph = graph();
    for krate in PRODUCTION {
        for http in ["axum", "tower-http", "utoipa-axum"] {
            assert_eq!(graph.direct[krate].contains(http), krate == "dui-api", "{krate} and {http}");
        }
    }
}

#[test]
fn only_auth_touches_token_crypto() {
    let graph = graph();
    for krate in PRODUCTION {
        for crypto in ["jsonwebtoken", "ed25519-dalek"] {
            assert_eq!(graph.direct[krate].contains(crypto), krate == "dui-auth", "{krate} and {crypto}");
        }
    }
}

#[test]
fn dependencies_point_inward() {
    let graph = graph();
    let inner: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("dui-domain", &[][..]),
        ("dui-crypto", &["dui-domain"][..]),
        ("dui-auth", &["dui-domain"][..]),
        ("dui-storage", &["dui-domain", "dui-crypto"][..]),
        ("dui-render", &["dui-domain"][..]),
        ("dui-app", &["dui-domain", "dui-storage", "dui-render"][..]),
        ("dui-api", &["dui-domain", "dui-auth", "dui-storage", "dui-render", "dui-app"][..]),
        ("dui", &["dui-domain", "dui-crypto", "dui-auth", "dui-storage", "dui-app", "dui-api"][..]),
    ]);
    for (krate, allowed) in inner {
        let internal: Vec<&String> = graph.direct[krate].iter().filter(|d| d.starts_with("dui")).collect();
        for dep in internal {
            assert!(allowed.contains(&dep.as_str()), "{krate} must not depend on {dep}");
        }
        assert!(!graph.transitive[krate].contains("dui-testkit"), "{krate} must not depend on the testkit");
    }
}

/// The unrecorded reads exist for the audit-cost benchmark only: no production crate calls them,
/// and no production crate turns on the feature that compiles them.
#[test]
fn only_the_benchmark_reads_without_recording() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates");
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !(name.ends_with(".rs") || name == "Cargo.toml") {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            let defining = path.ends_with("dui-storage/src/residents.rs")
                || path.ends_with("dui-storage/src/notes.rs")
                || path.ends_with("dui-storage/Cargo.toml");
            for word in ["_untraced(", "bench-untraced"] {
                assert!(defining || !source.contains(word), "{} uses {word}", path.display());
            }
        }
    }
}
