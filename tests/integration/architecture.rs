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

/// Exchange formats are built and parsed without I/O: the bytes are carried by the transport,
/// the decisions made by the use cases.
#[test]
fn exchange_formats_do_no_io() {
    let graph = graph();
    let pulled = &graph.transitive["dui-exchange"];
    for forbidden in ["tokio", "tokio-postgres", "axum", "hyper", "reqwest", "mio", "socket2"] {
        assert!(!pulled.contains(forbidden), "dui-exchange must not depend on {forbidden} (even indirectly)");
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
        ("dui-exchange", &["dui-domain"][..]),
        ("dui-app", &["dui-domain", "dui-storage", "dui-render"][..]),
        ("dui-api", &["dui-domain", "dui-auth", "dui-storage", "dui-render", "dui-app"][..]),
        ("dui", &["dui-domain", "dui-crypto", "dui-auth", "dui-storage", "dui-app", "dui-api", "dui-exchange"][..]),
    ]);
    for (krate, allowed) in inner {
        let internal: Vec<&String> = graph.direct[krate].iter().filter(|d| d.starts_with("dui")).collect();
        for dep in internal {
            assert!(allowed.contains(&dep.as_str()), "{krate} must not depend on {dep}");
        }
        assert!(!graph.transitive[krate].contains("dui-testkit"), "{krate} must not depend on the testkit");
    }
}

/// The statements the benchmark's baseline reads are compiled only with the `bench` feature of
/// the storage, which no production crate turns on.
#[test]
fn only_the_benchmark_builds_the_baseline_statements() {
    let crates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates");
    for krate in PRODUCTION {
        let manifest = std::fs::read_to_string(crates.join(krate).join("Cargo.toml")).unwrap();
        let storage = manifest.lines().find(|l| l.starts_with("dui-storage"));
        assert!(storage.is_none_or(|l| !l.contains("bench")), "{krate} turns the bench feature on");
    }
}

/// The use cases are called by every door (the API, web pages, FHIR, workers): nothing of HTTP
/// may be in them, neither in their dependencies nor in their code.
#[test]
fn the_use_cases_know_nothing_of_http() {
    let graph = graph();
    for http in ["axum", "http", "tower", "tower-http", "utoipa", "utoipa-axum", "hyper", "reqwest"] {
        assert!(!graph.direct["dui-app"].contains(http), "dui-app depends on {http}");
    }
    for (path, source) in sources("dui-app") {
        for word in ["axum", "StatusCode", "HeaderMap", "http::", "utoipa", "IntoResponse"] {
            assert!(!code(&source).contains(word), "{path} names {word}");
        }
    }
}

/// Each `.rs` file of a crate, with its text.
fn sources(krate: &str) -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates").join(krate).join("src");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let name = path.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
                files.push((name, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// The code of a file: without comments (line and doc comments), and without its unit tests.
fn code(source: &str) -> String {
    let source = source.split("#[cfg(test)]\nmod tests").next().unwrap_or(source);
    source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .map(|line| match line.find(" // ") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module of a file: its first path segment (`features/notes.rs` is in `features`);
/// `lib.rs` and `main.rs` are the crate's root.
fn module_of(path: &str) -> String {
    let first = path.split('/').next().unwrap_or(path);
    first.trim_end_matches(".rs").to_owned()
}

/// Which modules each module of a crate uses: `crate::module` paths, and names the crate root
/// re-exports (`use crate::{Db, args}` is a use of the modules defining them).
fn module_graph(krate: &str) -> BTreeMap<String, BTreeSet<String>> {
    let files = sources(krate);
    let mut texts: BTreeMap<String, String> = BTreeMap::new();
    for (path, source) in &files {
        texts.entry(module_of(path)).or_default().push_str(&code(source));
    }
    let root = texts.remove("lib").or_else(|| texts.remove("main")).unwrap_or_default();
    // Names the root re-exports, and macros, by the module that defines them.
    let mut defined: BTreeMap<String, String> = BTreeMap::new();
    for line in root.lines().map(str::trim).filter(|l| l.starts_with("pub use ")) {
        let Some((module, names)) = line["pub use ".len()..].trim_end_matches(';').split_once("::") else { continue };
        for name in names.trim_matches(|c| c == '{' || c == '}').split(',') {
            defined.insert(name.trim().to_owned(), module.to_owned());
        }
    }
    for (module, text) in &texts {
        for (at, _) in text.match_indices("macro_rules!") {
            let name: String =
                text[at + 12..].trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            defined.insert(name, module.clone());
        }
    }
    let identifier = |text: &str| -> String { text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect() };
    let mut graph = BTreeMap::new();
    for (module, text) in &texts {
        let mut uses = BTreeSet::new();
        for (at, _) in text.match_indices("crate::") {
            let rest = &text[at + 7..];
            let names: Vec<String> = if let Some(group) = rest.strip_prefix('{') {
                group.split('}').next().unwrap_or("").split(',').map(|n| identifier(n.trim())).collect()
            } else {
                vec![identifier(rest)]
            };
            for name in names {
                let target = if texts.contains_key(&name) { Some(name.clone()) } else { defined.get(&name).cloned() };
                if let Some(target) = target.filter(|t| t != module && texts.contains_key(t)) {
                    uses.insert(target);
                }
            }
        }
        graph.insert(module.clone(), uses);
    }
    graph
}

/// The modules of `graph` that use one another in a cycle, each cycle once.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Two modules are in one cycle when each reaches the other.
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(current) = stack.pop() {
            for next in graph.get(&current).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> = graph.keys().map(|m| (m, reach(m))).collect();
    let mut found: Vec<Vec<String>> = Vec::new();
    for module in graph.keys() {
        if !reaches[module].contains(module) || found.iter().any(|c| c.contains(module)) {
            continue;
        }
        let cycle: Vec<String> = graph
            .keys()
            .filter(|other| reaches[module].contains(*other) && reaches[*other].contains(module))
            .cloned()
            .collect();
        found.push(cycle);
    }
    found
}

/// Within a crate, modules use one another in one direction: a module can be read, changed and
/// moved knowing only the modules below it.
#[test]
fn no_module_cycles_within_a_crate() {
    for krate in PRODUCTION.iter().chain(&["dui-render", "dui-exchange", "dui-bench"]) {
        let graph = module_graph(krate);
        assert!(graph.len() > 1 || *krate == "dui-crypto", "{krate}: its modules are read");
        assert_eq!(cycles(&graph), Vec::<Vec<String>>::new(), "{krate} has modules that use one another");
    }
}

/// The cycle finder finds cycles (a test that cannot fail is a defect).
#[test]
fn the_cycle_finder_finds_a_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [("a", &["b"][..]), ("b", &["c"]), ("c", &["a"]), ("d", &["a"])]
        .into_iter()
        .map(|(m, uses)| (m.to_owned(), uses.iter().map(|u| (*u).to_owned()).collect()))
        .collect();
    assert_eq!(cycles(&graph), [["a", "b", "c"]]);
    // And reads the graph of a crate: storage's features use the transaction, not the reverse.
    let storage = module_graph("dui-storage");
    assert!(storage["notes"].contains("tx") && storage["notes"].contains("sql"), "{:?}", storage["notes"]);
    assert!(storage["keys"].contains("pool"), "through the root's re-export of Db: {:?}", storage["keys"]);
    assert!(!storage["tx"].contains("notes"));
}
