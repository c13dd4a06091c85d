//! Reversibility: a tenant exported, imported into a new tenant on the same installation or on
//! another one, and exported again, is the same; a damaged export imports nothing.

use std::collections::BTreeMap;
use std::path::Path;

use dui_app::platform::{self, Operator};
use dui_auth::own::Subject;
use dui_domain::TenantId;
use dui_domain::scope::RequestContext;
use dui_domain::structure::Finess;
use dui_storage::tenant_export::{ImportOptions, ImportReport};
use dui_testkit::{TestApp, TestTenant, keys};
use serde_json::{Value, json};

use crate::encryption::read_tenant_export;
use crate::record::{Filled, fill_record};

/// A tenant with something in every table: two filled records, one of them merged into another,
/// an identity provider and a user linked to it, a read marker.
async fn busy_tenant(app: &TestApp) -> (TestTenant, Filled) {
    let tenant = app.tenant("Source").await;
    let filled = fill_record(app, &tenant, "Réversible", Some(&crate::record::ins())).await;
    let other = fill_record(app, &tenant, "Doublon", None).await;
    let settings = app
        .request(
            reqwest::Method::PATCH,
            "/api/v1/settings",
            Some(&tenant.admin.token),
            Some(json!({"expected_version": 0, "task_missed_after_minutes": 180})),
        )
        .await;
    assert_eq!(settings.status, 200, "{}", settings.text);
    let duplicate = app.post(
        "/api/v1/residents",
        &tenant.admin.token,
        json!({"establishment_id": tenant.establishments[0].id, "confirm_homonym": true,
               "identity": {"birth_name": "Doublon", "first_names": "Jeanne", "sex": "female", "birth_date": "1938-05-06"}}),
    );
    let duplicate = duplicate.await;
    assert_eq!(duplicate.status, 201, "{}", duplicate.text);
    let referent =
        app.user(&tenant, &[(Some(tenant.establishments[0].id), dui_domain::people::Role::IdentityVigilance)]).await;
    let merged = app
        .post(
            &format!("/api/v1/residents/{}/merge", other.id),
            &referent.token,
            json!({"duplicate_id": duplicate.json["id"], "reason": "Même personne, doublon créé à l'admission"}),
        )
        .await;
    assert_eq!(merged.status, 200, "{}", merged.text);
    let (_, operator) = app.operator().await;
    let provider = app
        .post(
            &format!("/platform/v1/tenants/{}/identity-providers", tenant.id),
            &operator,
            json!({"label": "IdP de l'association", "issuer": "https://idp.source.test", "audience": "dui",
                   "jwks_url": "https://idp.source.test/jwks"}),
        )
        .await;
    assert_eq!(provider.status, 201, "{}", provider.text);
    let linked = app
        .put(
            &format!("/api/v1/users/{}/external-identities/{}", filled.nurse.id, provider.json["id"].as_str().unwrap()),
            &tenant.admin.token,
            json!({"subject": "nurse-1"}),
        )
        .await;
    assert_eq!(linked.status, 200, "{}", linked.text);
    let feed = format!("/api/v1/establishments/{}/handover", tenant.establishments[0].id);
    let read = app.get(&feed, &filled.nurse.token).await;
    assert_eq!(read.status, 200, "{}", read.text);
    let marked = app
        .put(
            &format!("/api/v1/establishments/{}/handover/read-marker", tenant.establishments[0].id),
            &filled.nurse.token,
            json!({"up_to": read.json["items"][0]["id"]}),
        )
        .await;
    assert!(marked.status < 300, "{}", marked.text);
    // The documents about the two people left for the shared record, each with its attempt.
    let peer = crate::outbox::Peer::scripted(&[]);
    assert_eq!(crate::outbox::worker(app, &peer).pass().await.unwrap(), 2);
    let sent = app.get("/api/v1/outbox?status=sent", &tenant.admin.token).await;
    assert_eq!(sent.json["items"].as_array().unwrap().len(), 2, "{}", sent.text);
    (tenant, filled)
}

async fn export(app: &TestApp, tenant: TenantId, path: &Path) {
    let request = RequestContext::default();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    platform::export_tenant(&app.app(), Operator::console(&request), tenant, &mut out).await.unwrap();
}

async fn import(app: &TestApp, path: &Path, options: &ImportOptions) -> Result<ImportReport, dui_app::AppError> {
    let request = RequestContext::default();
    let mut input = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    platform::import_tenant(&app.app(), Operator::console(&request), &mut input, options).await
}

/// The content of an export: every table's rows, without what the import itself adds (its event
/// in the trail).
fn content(path: &Path) -> BTreeMap<String, Vec<Value>> {
    let (_, mut tables) = read_tenant_export(path);
    if let Some(events) = tables.get_mut("audit_events") {
        events.retain(|e| e["action"] != "tenant.import");
    }
    tables
}

async fn intact(app: &TestApp, tenant: TenantId) -> i64 {
    app.store.chain_tenant(tenant).await.unwrap();
    let report = app.store.verify_audit(tenant).await.unwrap();
    assert_eq!(report.broken, None, "the chain of {tenant} holds");
    report.links
}

/// The imported tenant works: its people sign in with their ids, read the record, and find it by
/// its INS (the blind indexes were made again under the new keys).
async fn works(app: &TestApp, tenant: TenantId, filled: &Filled) {
    let token = app.token(Subject::TenantUser { tenant, user: filled.director.id });
    let record = app.get(&format!("/api/v1/residents/{}", filled.id), &token).await;
    assert_eq!(record.status, 200, "{}", record.text);
    assert_eq!(record.json["identity"]["birth_name"], "Réversible");
    // The note is a medical one: the nurse reads it.
    let nurse = app.token(Subject::TenantUser { tenant, user: filled.nurse.id });
    let notes = app.get(&format!("/api/v1/residents/{}/notes", filled.id), &nurse).await;
    assert_eq!(notes.json["items"][0]["text"], "Transmission exportée", "{}", notes.text);
    let found = app.post("/api/v1/residents/search", &token, json!({"ins": crate::record::ins()})).await;
    assert!(found.text.contains(&filled.id), "found by INS: {}", found.text);
}

/// The stored (sealed) identity of a record.
async fn sealed(app: &TestApp, tenant: TenantId, id: &str) -> Vec<u8> {
    let mut owner = app.db.connect(&app.db.owner_url).await;
    let tx = owner.transaction().await.unwrap();
    let tenant = tenant.to_string();
    tx.execute("SELECT set_config('app.tenant_id', $1, true)", &[&tenant]).await.unwrap();
    let id: uuid::Uuid = id.parse().unwrap();
    let row = tx.query_one("SELECT identity FROM residents WHERE id = $1", &[&id]).await.unwrap();
    row.get(0)
}

#[tokio::test]
async fn a_tenant_exported_then_imported_elsewhere_exports_the_same() {
    let source = TestApp::spawn().await;
    let (tenant, filled) = busy_tenant(&source).await;
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.jsonl");
    export(&source, tenant.id, &first).await;
    intact(&source, tenant.id).await;

    // Another installation: its own database and its own key-encryption key.
    let target = TestApp::spawn_with(|config| {
        config.crypto.keks.insert("1".to_owned(), keys::KEK_V2.to_owned().into());
    })
    .await;
    let report = import(&target, &first, &ImportOptions::default()).await.unwrap();
    assert_ne!(report.tenant.id, tenant.id, "a new tenant");
    assert!(report.skipped_identity_providers.is_empty());
    let imported = report.tenant.id;
    let again = dir.path().join("again.jsonl");
    export(&target, imported, &again).await;

    let (before, after) = (content(&first), content(&again));
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    for (table, rows) in &before {
        assert_eq!(rows, &after[table], "{table} is the same after the round trip");
    }
    let empty: Vec<&str> = dui_storage::features::tables()
        .filter(|t| matches!(t.tenant_export, dui_storage::feature::TenantExport::Rows { .. }))
        .map(|t| t.name)
        .filter(|t| !before.contains_key(*t))
        .collect();
    assert!(empty.is_empty(), "the round trip carries rows of every table; none of {empty:?}");
    assert_eq!(read_tenant_export(&first).1["user_external_identities"].len(), 1);
    // The header names the tenant as it was; the import kept its name and FINESS.
    let (header, _) = read_tenant_export(&again);
    assert_eq!(header["tenant"]["name"], "Source");
    assert_eq!(header["tenant"]["id"], json!(imported));

    // Both trails hold: the imported one is chained anew under the new tenant's audit key, the
    // import and the export recorded in it.
    let target_links = intact(&target, imported).await;
    let carried = before["audit_events"].len() as i64;
    assert_eq!(target_links, carried + 2, "the events as they were, the import and the export");
    works(&target, imported, &filled).await;
    // The sealed values are sealed again: the stored bytes differ from the source's.
    assert_ne!(sealed(&source, tenant.id, &filled.id).await, sealed(&target, imported, &filled.id).await);
}

#[tokio::test]
async fn an_import_on_the_same_installation_needs_its_own_finess_and_leaves_shared_providers() {
    let app = TestApp::spawn().await;
    let (tenant, filled) = busy_tenant(&app).await;
    // A message that has not left yet.
    let waiting = crate::outbox::enqueue(&app, tenant.id, crate::outbox::message(None, "not-yet")).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    export(&app, tenant.id, &file).await;

    // The FINESS juridique designates one tenant: the same one is refused, and nothing is made.
    let refused = import(&app, &file, &ImportOptions::default()).await.unwrap_err();
    assert!(matches!(refused, dui_app::AppError::Store(dui_storage::StoreError::Conflict { .. })), "{refused:?}");

    let options =
        ImportOptions { name: Some("Copie".to_owned()), finess_juridique: Some(Finess::parse("330000017").unwrap()) };
    let report = import(&app, &file, &options).await.unwrap();
    assert_eq!(report.tenant.name, "Copie");
    // The identity provider designates the source tenant; the copy does without it.
    assert_eq!(report.skipped_identity_providers.len(), 1, "{report:?}");
    let links = report.rows.tables.iter().find(|(t, _)| t == "user_external_identities").map(|(_, n)| *n);
    assert_eq!(links.unwrap_or(0), 0);
    intact(&app, report.tenant.id).await;
    works(&app, report.tenant.id, &filled).await;
    // The message that had not left is on hold in the copy: a person decides whether it leaves
    // from here (the source may still send it).
    let admin = app.token(Subject::TenantUser { tenant: report.tenant.id, user: tenant.admin.id });
    let held = app.get(&format!("/api/v1/outbox/{}", waiting.id), &admin).await;
    assert_eq!(held.json["status"], "failed", "{}", held.text);
    assert!(held.json["last_error"].as_str().unwrap().contains("imported"), "{}", held.text);
    let source = app.get(&format!("/api/v1/outbox/{}", waiting.id), &tenant.admin.token).await;
    assert_eq!(source.json["status"], "pending");
    // Two tenants hold the same ids, each under its own keys: the source is untouched.
    let source = app.get(&format!("/api/v1/residents/{}", filled.id), &filled.director.token).await;
    assert_eq!(source.json["identity"]["birth_name"], "Réversible");
    // The platform's trail records both the export and the import.
    let owner = app.db.connect(&app.db.owner_url).await;
    let actions: Vec<String> = owner
        .query("SELECT action FROM platform_events WHERE action IN ('tenant.export', 'tenant.import') ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(actions, ["tenant.export", "tenant.import"]);
}

/// Writes `lines` as an export file.
fn write(path: &Path, lines: &[Value]) {
    let text: Vec<String> = lines.iter().map(Value::to_string).collect();
    std::fs::write(path, text.join("\n") + "\n").unwrap();
}

#[tokio::test]
async fn a_damaged_export_imports_nothing_and_says_why() {
    let app = TestApp::spawn().await;
    let (tenant, _) = busy_tenant(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    export(&app, tenant.id, &file).await;
    let lines: Vec<Value> =
        std::fs::read_to_string(&file).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let damaged = dir.path().join("damaged.jsonl");
    let options = |finess: &str| ImportOptions { name: None, finess_juridique: Some(Finess::parse(finess).unwrap()) };

    let mut newer = lines.clone();
    newer[0]["version"] = json!(3);
    let mut miscounted = lines.clone();
    let last = miscounted.len() - 1;
    miscounted[last]["end"]["rows"]["notes"] = json!(999);
    let mut unknown = lines.clone();
    unknown.insert(1, json!({"table": "pg_authid", "row": {"id": "x"}}));
    let mut broken = lines.clone();
    let note = broken.iter().position(|l| l["table"] == "notes").unwrap();
    broken[note]["row"]["resident_id"] = json!(uuid::Uuid::now_v7());
    let cases: Vec<(&str, Vec<Value>, &str)> = vec![
        ("truncated", lines[..lines.len() - 1].to_vec(), "incomplete"),
        ("newer format", newer, "version 3"),
        ("miscounted", miscounted, "announces 999 rows of notes"),
        ("unknown table", unknown, "pg_authid is not a table"),
        ("dangling reference", broken, "the rows of notes break"),
        ("not an export", vec![json!({"hello": "world"})], "not a dui-tenant-export"),
    ];
    for (n, (case, content, expected)) in cases.into_iter().enumerate() {
        write(&damaged, &content);
        let finess = format!("3300000{n:02}");
        let error = import(&app, &damaged, &options(&finess)).await.unwrap_err();
        assert!(error.to_string().contains(expected), "{case}: {error}");
        let made = app.store.tenant_by_finess(&Finess::parse(&finess).unwrap()).await.unwrap();
        assert!(made.is_none(), "{case}: no tenant is left behind");
    }
}

#[test]
fn the_format_document_lists_every_table_as_the_features_declare_it() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/tenant-export.md")).unwrap();
    let (carried, left_out) = text.split_once("Left out, with the reason").unwrap();
    for table in dui_storage::features::tables() {
        let row = format!("| `{}` |", table.name);
        match table.tenant_export {
            dui_storage::feature::TenantExport::Rows { order, .. } => {
                let line = carried.lines().find(|l| l.starts_with(&row));
                let line = line.unwrap_or_else(|| panic!("{} is carried and not documented", table.name));
                assert!(line.contains(&format!("`{order}`")) || table.name == "residents", "{}: {line}", table.name);
                for column in table.sealed {
                    assert!(
                        line.contains(&format!("`{}`", column.column)),
                        "{}.{} is sealed",
                        table.name,
                        column.column
                    );
                }
            }
            dui_storage::feature::TenantExport::Omitted(_) => {
                assert!(left_out.contains(&row), "{} is left out and not documented", table.name);
            }
        }
    }
}
