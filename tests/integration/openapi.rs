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
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(schema, "#/components/schemas/Problem", "{method} {path} {status}");
                }
            }
        }
    }
    assert!(operations >= 30, "{operations}");
}
