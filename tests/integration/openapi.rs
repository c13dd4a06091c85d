//! The committed OpenAPI document is the one the code generates.

use serde_json::Value;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");

#[test]
fn the_committed_document_is_current() {
    let generated = dui_api::openapi_json();
    if std::env::var_os("DUI_UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, generated).unwrap();
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is stale: run `DUI_UPDATE_OPENAPI=1 cargo test -p dui-tests openapi` and commit it"
    );
}

#[test]
fn the_document_describes_security_and_errors() {
    let doc: Value = serde_json::from_str(dui_api::openapi_json()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            let public = ["/livez", "/readyz", "/metrics", "/.well-known/jwks.json"].contains(&path.as_str());
            if public {
                assert_eq!(operation["security"], serde_json::json!([{}]), "{method} {path} is public");
            } else {
                assert!(operation.get("security").is_none(), "{method} {path} inherits the bearer requirement");
            }
            for (status, response) in operation["responses"].as_object().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
                    assert_eq!(schema, "#/components/schemas/Problem", "{method} {path} {status}");
                }
            }
        }
    }
    assert!(operations >= 30, "{operations}");
    // What every operation may answer is said: a secured one 401, one with a path id 404, one
    // with a body 422, any 503.
    let read = &doc["paths"]["/api/v1/residents/{resident_id}"]["get"]["responses"];
    for status in ["400", "401", "403", "404", "429", "503"] {
        assert!(read[status].is_object(), "reading a record may answer {status}");
    }
    let write = &doc["paths"]["/api/v1/residents/{resident_id}/notes"]["post"]["responses"];
    for status in ["413", "415", "422"] {
        assert!(write[status].is_object(), "writing a note may answer {status}");
    }
    assert!(doc["paths"]["/livez"]["get"]["responses"]["401"].is_null(), "a probe needs no token");
}

/// Each paginated list has a page schema of its own, whose items are what the list holds: one
/// shared `PageBody` schema would describe every list's items as one type.
#[test]
fn each_list_has_a_page_schema_of_its_items() {
    let doc: Value = serde_json::from_str(dui_api::openapi_json()).unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(!schemas.contains_key("PageBody"), "a page schema without its items' type");
    let mut pages = 0;
    for (name, schema) in schemas.iter().filter(|(name, _)| name.starts_with("PageBody")) {
        let items = name.strip_prefix("PageBody_").unwrap_or_else(|| panic!("{name}: the items' type is in the name"));
        // The items' schema, by reference or inline.
        let listed = &schema["properties"]["items"]["items"];
        assert!(
            listed["$ref"] == format!("#/components/schemas/{items}") || Some(listed) == schemas.get(items),
            "{name} lists {items}: {listed}"
        );
        pages += 1;
    }
    assert!(pages >= 7, "{pages}");
    // And the lists use them.
    for (path, items) in
        [("/api/v1/users", "User"), ("/api/v1/outbox", "OutboxMessage"), ("/api/v1/residents", "Resident")]
    {
        let schema = &doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(schema, &format!("#/components/schemas/PageBody_{items}"), "{path}");
    }
}

/// A combination (`allOf`) one of whose parts is a closed object (no additional properties)
/// forbids every property the other parts add: no body could validate.
#[test]
fn no_schema_combines_a_closed_object_with_other_properties() {
    let document: Value = serde_json::from_str(dui_api::openapi_json()).unwrap();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let resolve = |schema: &Value| -> Value {
        match schema["$ref"].as_str() {
            Some(reference) => schemas[reference.trim_start_matches("#/components/schemas/")].clone(),
            None => schema.clone(),
        }
    };
    let mut broken = Vec::new();
    for (name, schema) in schemas {
        let Some(parts) = schema["allOf"].as_array() else { continue };
        if parts.len() > 1 && parts.iter().map(resolve).any(|part| part["additionalProperties"] == Value::Bool(false)) {
            broken.push(name.clone());
        }
    }
    assert!(broken.is_empty(), "these schemas can never validate: {broken:?}");
    // The measurement's time is a property of its body.
    assert!(schemas["CreateMeasurement"]["properties"]["measured_at"].is_object());
}

/// Every `$ref` names a schema of the document: a dangling one leaves that part undocumented
/// and untested by contract tools.
#[test]
fn every_reference_resolves() {
    fn walk(value: &Value, at: &str, schemas: &serde_json::Map<String, Value>, dangling: &mut Vec<String>) {
        match value {
            Value::Object(fields) => {
                if let Some(Value::String(reference)) = fields.get("$ref") {
                    let known =
                        reference.strip_prefix("#/components/schemas/").is_some_and(|name| schemas.contains_key(name));
                    if !known {
                        dangling.push(format!("{at}: {reference}"));
                    }
                }
                for (key, inner) in fields {
                    walk(inner, &format!("{at}/{key}"), schemas, dangling);
                }
            }
            Value::Array(items) => {
                items.iter().enumerate().for_each(|(i, item)| walk(item, &format!("{at}/{i}"), schemas, dangling))
            }
            _ => {}
        }
    }
    let document: Value = serde_json::from_str(dui_api::openapi_json()).unwrap();
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let mut dangling = Vec::new();
    walk(&document, "", schemas, &mut dangling);
    assert!(dangling.is_empty(), "references to nothing: {dangling:#?}");
}
