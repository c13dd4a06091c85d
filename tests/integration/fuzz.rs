//! Fuzzing the real server: for every operation of the OpenAPI document that takes a JSON body,
//! a valid body (made from its schema, with real ids and values that pass the domain's checks)
//! is sent as it is and with edits — fields dropped, of another type, too long, added, the text
//! cut short or a key twice; for every operation with query parameters, valid values and edits
//! of them, parameters dropped, doubled, unknown or badly percent-encoded; and the bearer token
//! edited. Whatever arrives, the answer is a success or a 4xx problem
//! (`application/problem+json`), never a 5xx. Cases per operation: `DUI_FUZZ_HTTP_CASES`.
//! Each run prints its executions and the statuses they got, by operation.

use std::collections::BTreeMap;

use dui_domain::people::Role;
use dui_fuzz::inputs;
use dui_testkit::insi::{InsiPeer, TestPki};
use dui_testkit::{TestApp, random_finess};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use reqwest::Method;
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// The document the operations and their schemas are read from.
fn document() -> Value {
    serde_json::from_str(include_str!("../../docs/openapi.json")).unwrap()
}

/// What the bodies and paths refer to: ids by the name of the path parameter or field.
struct Fixture {
    ids: BTreeMap<String, String>,
}

impl Fixture {
    fn id(&self, name: &str) -> String {
        self.ids.get(name).cloned().unwrap_or_else(|| Uuid::now_v7().to_string())
    }
}

/// The AGGIR answers of the document's example.
fn aggir_answers(document: &Value) -> Value {
    document["paths"]["/api/v1/instruments/aggir/score"]["post"]["requestBody"]["content"]["application/json"]
        ["example"]
        .clone()
}

/// A valid value for the field `name` whose schema is `schema`: the values the domain checks
/// beyond the schema (FINESS, names, ids of things that exist) come from the field's name.
fn valid(document: &Value, schema: &Value, name: &str, fixture: &Fixture) -> Value {
    let special = match name {
        "finess" | "finess_juridique" => Some(json!(random_finess())),
        "birth_name" | "family_name" | "used_name" => Some(json!("Martin")),
        "first_names" | "given_name" | "used_first_name" | "first_first_name" | "first_name" => Some(json!("Jeanne")),
        "birth_date" => Some(json!("1941-04-03")),
        "birth_place" => Some(json!("75056")),
        "email" => Some(json!("jeanne.martin@example.fr")),
        "rpps" => Some(json!("10000000001")),
        "adeli" => Some(json!("751234567")),
        "issuer" => Some(json!(format!("https://idp.example/{}", Uuid::new_v4()))),
        "jwks_url" => Some(json!("https://idp.example/jwks")),
        "answers" => Some(aggir_answers(document)),
        "instrument" => Some(json!("aggir")),
        "duplicate_id" => Some(json!(fixture.id("duplicate_id"))),
        "details" => Some(json!({"family_name": "Petit", "given_name": "Anne", "phone": "0601020304"})),
        "up_to" | "call_id" | "objective_id" | "action_id" | "plan_version_id" => Some(json!(fixture.id(name))),
        // A restraint is prescribed from now for at most 7 days.
        "planned_end_at" => Some(json!(chrono::Utc::now() + chrono::Duration::days(2))),
        _ => None,
    };
    if let Some(value) = special {
        return value;
    }
    if let Some(reference) = schema["$ref"].as_str() {
        let schema_name = reference.rsplit('/').next().unwrap();
        let target = &document["components"]["schemas"][schema_name];
        if schema_name.ends_with("Id") && target["format"] == "uuid" {
            let key = id_name(schema_name);
            return json!(fixture.id(&key));
        }
        return valid(document, target, name, fixture);
    }
    for choice in ["oneOf", "anyOf"] {
        if let Some(options) = schema[choice].as_array() {
            let option = options.iter().find(|o| o["type"] != "null").unwrap_or(&options[0]);
            return valid(document, option, name, fixture);
        }
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut merged = Map::new();
        for part in parts {
            if let Value::Object(fields) = valid(document, part, name, fixture) {
                merged.extend(fields);
            }
        }
        return Value::Object(merged);
    }
    if let Some(values) = schema["enum"].as_array() {
        return values.iter().find(|v| !v.is_null()).cloned().unwrap_or(Value::Null);
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds.iter().find(|k| *k != "null").cloned().unwrap_or(Value::Null),
        other => other.clone(),
    };
    match (kind.as_str().unwrap_or("object"), schema["format"].as_str()) {
        ("string", Some("date")) => json!("2026-03-01"),
        ("string", Some("date-time")) => json!("2026-03-01T08:00:00Z"),
        ("string", Some("uuid")) => json!(fixture.id(name)),
        ("string", _) => json!("Texte de l'essai, assez long pour chaque règle"),
        ("integer", _) => json!(schema["minimum"].as_i64().unwrap_or(1).max(1)),
        ("number", _) => json!(schema["minimum"].as_f64().unwrap_or(1.0).max(1.0)),
        ("boolean", _) => json!(false),
        ("array", _) => json!([valid(document, &schema["items"], name, fixture)]),
        _ => {
            let required: Vec<&str> =
                schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let mut fields = Map::new();
            for (field, field_schema) in schema["properties"].as_object().into_iter().flatten() {
                if required.contains(&field.as_str()) {
                    fields.insert(field.clone(), valid(document, field_schema, field, fixture));
                }
            }
            Value::Object(fields)
        }
    }
}

/// `ResidentId` → `resident_id`, `PlanVersionId` → `version_id`, `TaskRecordId` → `record_id`.
fn id_name(schema_name: &str) -> String {
    let base = schema_name.trim_end_matches("Id");
    let snake: String = base
        .chars()
        .enumerate()
        .flat_map(|(i, c)| {
            let lower = c.to_ascii_lowercase();
            if c.is_uppercase() && i > 0 { vec!['_', lower] } else { vec![lower] }
        })
        .collect();
    let snake = match snake.as_str() {
        "plan_version" => "version".to_owned(),
        "task_record" => "record".to_owned(),
        "outbox_message" => "message".to_owned(),
        "identity_provider" => "provider".to_owned(),
        _ => snake,
    };
    format!("{snake}_id")
}

/// A path with its parameters filled in.
fn filled(path: &str, fixture: &Fixture) -> String {
    let mut out = String::new();
    for segment in path.split('/').skip(1) {
        out.push('/');
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some("code") => out.push_str("aggir"),
            Some(name) => out.push_str(&fixture.id(name)),
            None => out.push_str(segment),
        }
    }
    out
}

/// One operation of the document.
struct Operation {
    method: Method,
    path: String,
    body: Option<Value>,
    query: Vec<(String, Value)>,
}

fn operations(document: &Value) -> Vec<Operation> {
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
            let body = operation["requestBody"]["content"]["application/json"]["schema"].clone();
            let query = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query")
                .map(|p| (p["name"].as_str().unwrap().to_owned(), p["schema"].clone()))
                .collect();
            operations.push(Operation { method, path: path.clone(), body: (!body.is_null()).then_some(body), query });
        }
    }
    // The merges last: a merged record refuses most changes, which would hide the rest.
    operations.sort_by_key(|o| o.path.ends_with("merge"));
    operations
}

/// A valid value of a query parameter.
fn query_value(document: &Value, name: &str, schema: &Value, fixture: &Fixture) -> String {
    match name {
        "cursor" => return dui_api::pagination::encode_cursor(Uuid::now_v7()),
        "from" => return "2026-01-01T00:00:00Z".to_owned(),
        "to" => return "2026-12-31T00:00:00Z".to_owned(),
        "version" => return "1".to_owned(),
        "channel" => return "dmp".to_owned(),
        _ => {}
    }
    match valid(document, schema, name, fixture) {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

/// A query string: the valid one, parameters dropped, doubled, unknown, or values edited (and
/// percent-encoded, or not: `%ZZ`, a lone `%C3`).
fn query_string(valid: Vec<(String, String)>) -> impl Strategy<Value = String> {
    let encode = |pairs: &[(String, String)]| {
        pairs.iter().map(|(k, v)| format!("{}={}", percent(k), percent(v))).collect::<Vec<_>>().join("&")
    };
    let whole = encode(&valid);
    let edits = valid.clone();
    prop_oneof![
        1 => Just(whole.clone()),
        6 => (any::<prop::sample::Index>(), any::<prop::sample::Index>()).prop_flat_map(move |(at, _)| {
            let pairs = edits.clone();
            let i = at.index(pairs.len().max(1));
            let value = pairs.get(i).map(|(_, v)| v.clone()).unwrap_or_default();
            inputs::edited(value).prop_map(move |new| {
                let mut pairs = pairs.clone();
                if let Some(pair) = pairs.get_mut(i) {
                    pair.1 = new;
                }
                encode(&pairs)
            })
        }),
        1 => Just(format!("{whole}&{whole}")),
        1 => Just(format!("{whole}&unknown=1")),
        1 => Just(valid.iter().skip(1).map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")),
        1 => inputs::edited(whole.clone()),
        1 => prop::sample::select(vec!["%ZZ", "%C3", "%00", "%FF%FE", "=", "&&&", "limit", "limit=", "cursor=%2B%2F"])
            .prop_map(str::to_owned),
    ]
}

fn percent(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The statuses each operation got, for the report.
#[derive(Default)]
struct Tally(BTreeMap<String, BTreeMap<u16, u32>>);

impl Tally {
    fn count(&mut self, operation: &str, status: u16) {
        *self.0.entry(operation.to_owned()).or_default().entry(status).or_default() += 1;
    }

    fn print(&self, title: &str) {
        let total: u32 = self.0.values().flat_map(|s| s.values()).sum();
        println!("fuzz {title}: {total} executions, no 5xx, over {} operations", self.0.len());
        for (operation, statuses) in &self.0 {
            let shown: Vec<String> = statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
            println!("  {operation}: {}", shown.join(" "));
        }
    }
}

/// Sends one request and checks its answer: a success, or a 4xx problem.
async fn send(app: &TestApp, token: &str, method: &Method, path_and_query: &str, body: Option<&str>) -> (u16, Value) {
    let mut request = app.client.request(method.clone(), app.url(path_and_query)).bearer_auth(token);
    if method != Method::GET {
        request = request.header("if-match", "\"1\"");
    }
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_owned());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let text = response.text().await.unwrap_or_default();
    let shown = body.map(|b| b.chars().take(2_000).collect::<String>());
    assert!(status < 500, "{method} {path_and_query} with {shown:?} answered {status}: {text}");
    assert!(
        status < 400 || content_type == "application/problem+json",
        "{method} {path_and_query} with {shown:?} answered {status} as {content_type:?}: {text}"
    );
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The id a create answered, under the name of the path parameter that designates it.
fn created_id_name(document: &Value, path: &str) -> Option<String> {
    if path.ends_with("/care-plan") {
        return Some("version_id".to_owned());
    }
    document["paths"].as_object().unwrap().keys().find_map(|other| {
        let rest = other.strip_prefix(path)?.strip_prefix("/{")?;
        let (name, _) = rest.split_once('}')?;
        Some(name.to_owned())
    })
}

/// Draws one value of `strategy`.
fn draw<S: Strategy>(runner: &mut TestRunner, strategy: &S) -> S::Value {
    strategy.new_tree(runner).unwrap().current()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_never_get_a_server_error() {
    let cases = std::env::var("DUI_FUZZ_HTTP_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(12u32);
    let seed: u64 = std::env::var("DUI_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let pki = TestPki::new();
    let peer = InsiPeer::start(&pki, Vec::new()).await;
    let insi = dui_testkit::insi::config(&pki, &peer);
    let app = TestApp::spawn_with(move |config| {
        config.insi = insi;
        config.limits.tenant_requests_per_second = 0.0;
    })
    .await;
    let tenant = app.tenant("Fuzz").await;
    let ehpad = tenant.establishments[0].id;
    // One user who may do everything a tenant's people may do.
    let grants: Vec<_> = [
        Role::TenantAdmin,
        Role::Director,
        Role::CoordinatingPhysician,
        Role::Nurse,
        Role::IdentityVigilance,
        Role::SocialWorker,
        Role::Psychologist,
    ]
    .into_iter()
    .map(|role| (None, role))
    .collect();
    let user = app.user(&tenant, &grants).await;
    let other = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let (_, operator) = app.operator().await;
    let admit = |birth_name: &str| {
        json!({"establishment_id": ehpad, "unit_id": tenant.units[0].id, "admitted_on": "2026-01-05",
               "identity": {"birth_name": birth_name, "first_names": "Jeanne", "sex": "female",
                            "birth_date": "1941-04-03"}})
    };
    let resident = app.post("/api/v1/residents", &user.token, admit("Martin")).await;
    assert_eq!(resident.status, 201, "{}", resident.text);
    let duplicate = app.post("/api/v1/residents", &user.token, admit("Martine")).await;
    let mut fixture = Fixture {
        ids: BTreeMap::from([
            ("resident_id".to_owned(), resident.json["id"].as_str().unwrap().to_owned()),
            ("duplicate_id".to_owned(), duplicate.json["id"].as_str().unwrap().to_owned()),
            ("establishment_id".to_owned(), ehpad.to_string()),
            ("unit_id".to_owned(), tenant.units[0].id.to_string()),
            ("user_id".to_owned(), other.id.to_string()),
            ("tenant_id".to_owned(), tenant.id.to_string()),
        ]),
    };

    let document = document();
    let operations = operations(&document);
    let token_of = |path: &str| if path.starts_with("/platform/") { operator.clone() } else { user.token.clone() };
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(Config::default(), TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let started = std::time::Instant::now();

    // Each body once as made, twice over, so that what a create makes (a note, a plan
    // version...) is there for the operations on it.
    let mut seeds = Tally::default();
    for _ in 0..2 {
        for operation in operations.iter().filter(|o| o.body.is_some()) {
            let body = valid(&document, operation.body.as_ref().unwrap(), "", &fixture);
            let path = filled(&operation.path, &fixture);
            let token = token_of(&operation.path);
            let (status, answer) = send(&app, &token, &operation.method, &path, Some(&body.to_string())).await;
            seeds.count(&format!("{} {}", operation.method, operation.path), status);
            if let (true, Some(name), Some(id)) =
                (operation.method == Method::POST, created_id_name(&document, &operation.path), answer["id"].as_str())
                && !fixture.ids.contains_key(&name)
            {
                fixture.ids.insert(name, id.to_owned());
            }
        }
    }
    seeds.print("http_valid_bodies");

    let mut bodies = Tally::default();
    for operation in operations.iter().filter(|o| o.body.is_some()) {
        let label = format!("{} {}", operation.method, operation.path);
        let valid_body = valid(&document, operation.body.as_ref().unwrap(), "", &fixture);
        let strategy = inputs::json_body(valid_body);
        for _ in 0..cases {
            let body = draw(&mut runner, &strategy);
            let path = filled(&operation.path, &fixture);
            let (status, _) = send(&app, &token_of(&operation.path), &operation.method, &path, Some(&body)).await;
            bodies.count(&label, status);
        }
    }
    bodies.print("http_json_bodies");

    let mut queries = Tally::default();
    for operation in operations.iter().filter(|o| !o.query.is_empty()) {
        let label = format!("{} {}", operation.method, operation.path);
        let pairs: Vec<(String, String)> = operation
            .query
            .iter()
            .map(|(name, schema)| (name.clone(), query_value(&document, name, schema, &fixture)))
            .collect();
        let strategy = query_string(pairs);
        for _ in 0..cases {
            let query = draw(&mut runner, &strategy);
            let path = format!("{}?{query}", filled(&operation.path, &fixture));
            let (status, _) = send(&app, &token_of(&operation.path), &operation.method, &path, None).await;
            queries.count(&label, status);
        }
    }
    queries.print("http_query_strings");

    let mut tokens = Tally::default();
    let strategy = inputs::maybe_edited(user.token.clone(), 8);
    for _ in 0..cases * 4 {
        let token = draw(&mut runner, &strategy);
        let Ok(header) = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")) else { continue };
        let response = app.client.get(app.url("/api/v1/me")).header("authorization", header).send().await.unwrap();
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        assert!(status < 500, "token {token:?} answered {status}");
        assert!(status < 400 || content_type == "application/problem+json", "token {token:?}: {content_type}");
        tokens.count("GET /api/v1/me (token edited)", status);
    }
    tokens.print("http_bearer_token");
    println!("fuzz http: {:.1} s", started.elapsed().as_secs_f64());
    drop(peer);
}
