//! Encryption at rest, end to end: nothing readable in a dump, values bound to their place,
//! tampering detected, keys rotated and destroyed.

use std::process::Command;

use dui_domain::people::Role;
use dui_storage::cluster;
use dui_testkit::{TestApp, TestTenant, keys};
use serde_json::json;

use crate::residents::{admit, identity};

/// Runs statements as the owner inside `tenant`'s context (the owner is bound by the policies
/// too).
pub(crate) async fn as_owner(app: &TestApp, tenant: &TestTenant, sql: &str) {
    let owner = app.db.connect(&app.db.owner_url).await;
    owner
        .batch_execute(&format!("BEGIN; SELECT set_config('app.tenant_id', '{}', true); {sql}; COMMIT;", tenant.id))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

/// The INS of the people [`seed_resident`] makes (women born in May 1931).
fn ins(serial: u32) -> String {
    dui_testkit::nir(true, "1931-05-17", serial)
}

async fn seed_resident(app: &TestApp, tenant: &TestTenant, name: &str, ins: &str, note: &str) -> String {
    let created = admit(
        app,
        tenant,
        json!({"identity": {"birth_name": name, "first_names": "Bérénice Anatolie", "sex": "female",
                            "birth_date": "1931-05-17", "birth_place": "2A004", "used_name": format!("{name}-Usage")},
               "ins": {"matricule": ins, "oid": "1.2.250.1.213.1.4.10"}}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let nurse = app.user(tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let written = app.post(&format!("/api/v1/residents/{id}/notes"), &nurse.token, json!({"text": note})).await;
    assert_eq!(written.status, 201, "{}", written.text);
    id
}

#[tokio::test]
async fn a_database_dump_reveals_no_name_no_ins_no_note() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let secrets = [
        ("Zébulonnière", &ins(1), "Chute dans la salle de bain vers 3h, hématome au front, famille prévenue."),
        ("Quetzalcoatlès", &ins(2), "Refus de soin ce matin, agitation, Mme Quetzalcoatlès réclame sa fille."),
    ];
    let mut first = None;
    for (name, ins, note) in secrets {
        first.get_or_insert(seed_resident(&app, &tenant, name, ins, note).await);
    }
    // Alerts, allergies and falls say clinical things: sealed too, the substance's normalised
    // form included.
    let record = format!("/api/v1/residents/{}", first.unwrap());
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let allergy = json!({"kind": "allergy", "substance": "Zébulonicilline", "reaction": "Œdème de Quincke",
                         "severity": "life_threatening", "source": "medical_record"});
    let alert = json!({"kind": "other", "label": "Quetzalphobie nocturne", "detail": "Appeler Mme Zébulonnière"});
    let fall = json!({"occurred_at": "2026-11-01T03:00:00Z", "place": "bathroom", "discovery": "found_on_floor",
                      "circumstances": "Glissade sur carrelage mouillé", "consequences": ["wound"],
                      "care_given": "Pansement arcade sourcilière"});
    let problem = json!({"kind": "history", "text": "Zébulonose congénitale", "cim10": "Q89.9"});
    let vaccination = json!({"vaccine": "Quetzalvax", "given_on": "2026-10-20", "batch": "LOTZEB42"});
    let physician = json!({"role": "attending", "name": "Dr Zébulonnet", "rpps": "10003456789"});
    // A prescription: its drugs are public data of the referential (in clear there), what is
    // prescribed to the person is not.
    crate::drugs::import_fixture(&app).await;
    let prescription = json!({"prescriber": {"name": "Dr Quetzalordo"}, "prescribed_on": "2026-11-30",
        "source": "paper", "lines": [{"cis": "69000009", "dose": {"quantity": 1, "unit": "comprimé"}, "route": "oral",
            "schedule": {"kind": "if_needed", "max_per_day": 3, "condition": "Si quetzalgie"},
            "notes": "Zébulonade dans la compote"}]});
    let care = [
        ("allergies", allergy),
        ("alerts", alert),
        ("falls", fall),
        ("medical/problems", problem),
        ("medical/vaccinations", vaccination),
        ("medical/physicians", physician),
        ("prescriptions", prescription),
    ];
    for (kind, body) in care {
        let recorded = app.post(&format!("{record}/{kind}"), &nurse.token, body).await;
        assert_eq!(recorded.status, 201, "{}", recorded.text);
    }
    // A dose of it, refused, with what the person said.
    let version = app.get(&format!("{record}/prescriptions"), &nurse.token).await.json[0]["id"].clone();
    let dose = json!({"prescription_version_id": version, "line": 1, "outcome": "refused",
                      "note": "Quetzalrefus catégorique"});
    let refused = app.post(&format!("{record}/administrations"), &nurse.token, dose).await;
    assert_eq!(refused.status, 201, "{}", refused.text);
    let pg_dump = cluster::find_program("pg_dump").expect("pg_dump is installed with PostgreSQL");
    let url = cluster::url_for(&app.db.admin_url, "postgres", &app.db.name).unwrap();
    let output = Command::new(pg_dump).args(["--data-only", "--inserts", "--dbname", &url]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let dump = String::from_utf8_lossy(&output.stdout).to_lowercase();
    // The dump is real and complete: clear data of the same tenant is in it.
    assert!(dump.contains(&tenant.establishments[0].name.to_lowercase()), "the dump holds the establishments");
    assert!(dump.contains("insert into public.residents"), "the dump holds the residents' rows");
    for (name, ins, note) in secrets {
        let words =
            [name.to_lowercase(), ins.to_string(), note.to_lowercase(), "bérénice".to_owned(), "anatolie".to_owned()];
        for word in words
            .iter()
            .chain(note.to_lowercase().split(' ').filter(|w| w.len() > 7).map(str::to_owned).collect::<Vec<_>>().iter())
        {
            assert!(!dump.contains(word.as_str()), "the dump reveals {word:?}");
        }
    }
    for word in [
        "zébulonicilline",
        "zebulonicilline",
        "quincke",
        "quetzalphobie",
        "carrelage",
        "pansement",
        "zébulonose",
        "q89.9",
        "quetzalvax",
        "lotzeb42",
        "zébulonnet",
        "10003456789",
        "quetzalordo",
        "quetzalgie",
        "zébulonade",
        "quetzalrefus",
    ] {
        assert!(!dump.contains(word), "the dump reveals {word:?}");
    }
    for table in [
        "allergies",
        "major_alerts",
        "falls",
        "medical_problems",
        "vaccinations",
        "physicians",
        "prescriptions",
        "administrations",
    ] {
        assert!(dump.contains(&format!("insert into public.{table}")), "the dump holds the {table}' rows");
    }
    assert!(!dump.contains("1931-05-17"), "the dump reveals a birth date");
    assert!(!dump.contains("2a004"), "the dump reveals a birth place");
    // Nor the keys: they are only wrapped, and the KEK never reaches the database.
    assert!(!dump.contains(&keys::KEK_V1.to_lowercase()));
}

#[tokio::test]
async fn a_sealed_value_moved_to_another_row_or_tenant_does_not_open() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let first = seed_resident(&app, &tenant, "Premier", &ins(1), "note un").await;
    let second = seed_resident(&app, &tenant, "Second", &ins(2), "note deux").await;
    // Swap the identities of two residents, as an attacker with write access to the database might.
    as_owner(
        &app,
        &tenant,
        &format!(
            "UPDATE residents SET identity = (SELECT identity FROM residents WHERE id = '{first}') WHERE id = '{second}'"
        ),
    )
    .await;
    let response = app.get(&format!("/api/v1/residents/{second}"), &tenant.admin.token).await;
    let problem = response.problem(500);
    assert!(!response.text.contains("Premier"), "nothing of the value leaks");
    assert_eq!(problem["detail"], "The server failed to answer; the failure is logged.");
    // The untouched record still reads.
    assert_eq!(app.get(&format!("/api/v1/residents/{first}"), &tenant.admin.token).await.status, 200);

    // Another tenant's ciphertext, copied into this tenant's row.
    let other = app.tenant("Beta").await;
    let foreign = seed_resident(&app, &other, "Étranger", &ins(1), "note d'ailleurs").await;
    let owner = app.db.connect(&app.db.owner_url).await;
    let visible: i64 = owner.query_one("SELECT count(*) FROM residents", &[]).await.unwrap().get(0);
    assert_eq!(visible, 0, "without a tenant context even the owner sees no row");
    let tx_sql = format!(
        "BEGIN; SELECT set_config('app.tenant_id', '{}', true); CREATE TEMP TABLE stolen AS SELECT identity FROM residents WHERE id = '{foreign}'; COMMIT; \
         BEGIN; SELECT set_config('app.tenant_id', '{}', true); UPDATE residents SET identity = (SELECT identity FROM stolen) WHERE id = '{first}'; COMMIT;",
        other.id, tenant.id
    );
    owner.batch_execute(&tx_sql).await.unwrap();
    app.get(&format!("/api/v1/residents/{first}"), &tenant.admin.token).await.problem(500);
}

#[tokio::test]
async fn altered_and_truncated_values_are_detected() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let id = seed_resident(&app, &tenant, "Altéré", &ins(1), "texte intact").await;
    // Flip one byte in the middle of the note's ciphertext.
    as_owner(&app, &tenant, "UPDATE notes SET body = overlay(body placing decode(lpad(to_hex(get_byte(body, 20) # 1), 2, '0'), 'hex') from 21 for 1)").await;
    let notes = app.get(&format!("/api/v1/residents/{id}/notes"), &tenant.admin.token).await;
    notes.problem(500);
    assert!(!notes.text.contains("texte"));
    // Truncate the identity.
    as_owner(&app, &tenant, "UPDATE residents SET identity = substring(identity from 1 for 30)").await;
    app.get(&format!("/api/v1/residents/{id}"), &tenant.admin.token).await.problem(500);
    // A relabelled key version.
    as_owner(&app, &tenant, "UPDATE residents SET ins = set_byte(ins, 4, 7)").await;
    app.get(&format!("/api/v1/residents/{id}"), &tenant.admin.token).await.problem(500);
}

#[tokio::test]
async fn kek_rotation_rewraps_every_key_without_touching_data() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let other = app.tenant("Beta").await;
    let id = seed_resident(&app, &tenant, "Rotation", &ins(1), "avant la rotation").await;
    seed_resident(&app, &other, "Autre", &ins(2), "autre tenant").await;
    let owner = app.db.connect(&app.db.owner_url).await;
    let residents_before: Vec<Vec<u8>> = owner
        .query(&format!("SELECT identity FROM residents WHERE tenant_id = '{}'", tenant.id), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let db = app.stop().await;

    // Every server gets the ring {1, 2} with 2 active; then the rotation runs.
    let both = |config: &mut dui::config::Config| {
        config.crypto.active_kek = Some(2);
        config.crypto.keks.insert("2".to_owned(), keys::KEK_V2.to_owned().into());
    };
    let app = TestApp::spawn_on(db, both).await;
    let report = app.store.rewrap_all_keys().await.unwrap();
    // Three keys per tenant: data, blind index and audit chain.
    assert_eq!((report.tenants, report.rewrapped, report.already_current), (2, 6, 0));
    assert_eq!(app.store.rewrap_all_keys().await.unwrap().rewrapped, 0, "a second run has nothing to do");
    let db = app.stop().await;

    // KEK 1 can now be removed from every configuration: a server with only KEK 2 reads all.
    let only_new = |config: &mut dui::config::Config| {
        config.crypto.active_kek = Some(2);
        config.crypto.keks.clear();
        config.crypto.keks.insert("2".to_owned(), keys::KEK_V2.to_owned().into());
    };
    let app = TestApp::spawn_on(db, only_new).await;
    let read = app.get(&format!("/api/v1/residents/{id}"), &tenant.admin.token).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.json["identity"]["birth_name"], "Rotation");
    let owner = app.db.connect(&app.db.owner_url).await;
    let residents_after: Vec<Vec<u8>> = owner
        .query(&format!("SELECT identity FROM residents WHERE tenant_id = '{}'", tenant.id), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(residents_before, residents_after, "data rows are untouched by a KEK rotation");
    let db = app.stop().await;

    // And a server that only has the old KEK can no longer unwrap anything.
    let app = TestApp::spawn_on(db, |_| {}).await;
    app.get(&format!("/api/v1/residents/{id}"), &tenant.admin.token).await.problem(500);
}

async fn stale_versions(app: &TestApp, tenant: &TestTenant) -> Vec<i32> {
    let owner = app.db.connect(&app.db.owner_url).await;
    let sql = format!(
        "BEGIN; SELECT set_config('app.tenant_id', '{}', true); \
         CREATE TEMP TABLE v AS SELECT dek_version FROM residents UNION ALL SELECT dek_version FROM notes; COMMIT;",
        tenant.id
    );
    owner.batch_execute(&sql).await.unwrap();
    let mut versions: Vec<i32> =
        owner.query("SELECT dek_version FROM v", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    versions.sort();
    versions
}

#[tokio::test]
async fn dek_rotation_and_an_interrupted_reencryption_that_resumes() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let mut ids = Vec::new();
    let matricules = [dui_testkit::nir(true, "1940-01-01", 1), dui_testkit::nir(true, "1940-01-01", 2)];
    for i in 0..6 {
        let body = json!({"identity": identity(&format!("Famille{}", dui_testkit::letters(i)), "Jeanne", "1940-01-01"), "confirm_homonym": true,
                          "ins": matricules.get(i).map(|m| json!({"matricule": m, "oid": "1.2.250.1.213.1.4.10"}))});
        let created = admit(&app, &tenant, body).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let id = created.json["id"].as_str().unwrap().to_owned();
        ids.push(id);
    }
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    for id in &ids {
        let note = app
            .post(&format!("/api/v1/residents/{id}/notes"), &nurse.token, json!({"text": format!("note de {id}")}))
            .await;
        assert_eq!(note.status, 201);
    }
    assert!(stale_versions(&app, &tenant).await.iter().all(|v| *v == 1));

    // Rotate: new writes use version 2 at once.
    assert_eq!(app.store.rotate_data_key(tenant.id).await.unwrap(), 2);
    let after = app.post(&format!("/api/v1/residents/{}/notes", ids[0]), &nurse.token, json!({"text": "après"})).await;
    assert_eq!(after.status, 201);
    let versions = stale_versions(&app, &tenant).await;
    assert_eq!(versions.iter().filter(|v| **v == 2).count(), 1);
    // Six records, their first identity-status event, their admission told at the hand-over, and
    // six notes.
    assert_eq!(app.store.count_stale_rows(tenant.id).await.unwrap(), 24);

    // The job stops after two batches of three (as if interrupted)...
    let options = dui_storage::ReencryptOptions { batch_size: 3, max_batches: Some(2) };
    let mut seen = Vec::new();
    let done = app.store.reencrypt_tenant(tenant.id, options, &mut |p| seen.push(p.done)).await.unwrap();
    assert_eq!(done, 6);
    assert_eq!(seen, [3, 6]);
    assert_eq!(app.store.count_stale_rows(tenant.id).await.unwrap(), 18);
    // ...while everything stays readable, old and new versions alike...
    for id in &ids {
        assert_eq!(app.get(&format!("/api/v1/residents/{id}"), &nurse.token).await.status, 200);
        let notes = app.get(&format!("/api/v1/residents/{id}/notes"), &nurse.token).await;
        assert_eq!(notes.status, 200, "{}", notes.text);
    }
    // ...and a second run resumes and finishes; a third finds nothing.
    let options = dui_storage::ReencryptOptions { batch_size: 4, max_batches: None };
    assert_eq!(app.store.reencrypt_tenant(tenant.id, options, &mut |_| {}).await.unwrap(), 18);
    assert_eq!(app.store.reencrypt_tenant(tenant.id, options, &mut |_| {}).await.unwrap(), 0);
    assert!(stale_versions(&app, &tenant).await.iter().all(|v| *v == 2));
    for id in &ids {
        let read = app.get(&format!("/api/v1/residents/{id}"), &nurse.token).await;
        assert_eq!(read.status, 200);
        assert!(read.json["identity"]["birth_name"].as_str().unwrap().starts_with("Famille"));
        let notes = app.get(&format!("/api/v1/residents/{id}/notes"), &nurse.token).await;
        assert!(notes.json["items"].as_array().unwrap().iter().any(|n| n["text"] == format!("note de {id}")));
    }
    let keys = app.store.data_key_versions(tenant.id).await.unwrap();
    assert_eq!(keys.iter().map(|(v, s, _)| (*v, s.as_str())).collect::<Vec<_>>(), [(1, "retired"), (2, "active")]);
    // Search through the blind indexes is unaffected by a data-key rotation.
    let found = app.post("/api/v1/residents/search", &nurse.token, json!({"ins": matricules[1]})).await;
    assert_eq!(found.json.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_rotation_by_another_process_reaches_the_server_at_once() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let id = seed_resident(&app, &tenant, "Avis", &ins(1), "avant").await;
    // Another process (as `dui keys rotate-dek` is): its own pool and key cache.
    let cli = dui_storage::Db::new(&dui::server::db_config(&app.config).unwrap()).unwrap();
    assert_eq!(cli.rotate_data_key(tenant.id).await.unwrap(), 2);
    // The server was told: within moments (far less than its 30 s cache), new notes use v2.
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let note = app.post(&format!("/api/v1/residents/{id}/notes"), &nurse.token, json!({"text": "après"})).await;
        assert_eq!(note.status, 201, "{}", note.text);
        if stale_versions(&app, &tenant).await.contains(&2) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the server kept sealing with the old key");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn data_keys_rotate_before_their_encryption_budget_runs_out() {
    // A tiny budget: 10 encryptions per key, reserved 4 at a time.
    let app = TestApp::spawn_with(|config| {
        config.crypto.max_encryptions_per_key = 10;
        config.crypto.reservation_block = 4;
    })
    .await;
    let tenant = app.tenant("Alpha").await;
    let mut ids = Vec::new();
    for i in 0..9 {
        // Each record seals two values (identity and, here absent, no INS: one).
        let created = admit(
            &app,
            &tenant,
            json!({"identity": identity(&format!("Budget{}", dui_testkit::letters(i)), "Anne", "1940-01-01")}),
        )
        .await;
        assert_eq!(created.status, 201, "{}", created.text);
        ids.push(created.json["id"].as_str().unwrap().to_owned());
    }
    let keys = app.store.data_key_versions(tenant.id).await.unwrap();
    assert!(keys.len() >= 2, "rotated at least once: {keys:?}");
    // An exhausted key is not suspect: it still opens its values, and nothing needs resealing.
    assert!(keys.iter().filter(|(_, status, _)| status == "exhausted").count() >= 1, "{keys:?}");
    assert!(!app.store.has_stale_rows(tenant.id).await.unwrap());
    // An operator rotation retires every older key; the maintenance pass then moves all the data
    // in one pass, even though resealing itself exhausts keys on the way.
    app.store.rotate_data_key(tenant.id).await.unwrap();
    // Nine records, their first identity-status events and their admissions told at the
    // hand-over.
    assert_eq!(app.store.count_stale_rows(tenant.id).await.unwrap(), 27);
    assert_eq!(app.store.reencrypt_stale_tenants().await.unwrap(), 27);
    assert!(!app.store.has_stale_rows(tenant.id).await.unwrap());
    for (version, status, reserved) in &keys {
        assert!(*reserved <= 10 + 4, "v{version} ({status}) reserved {reserved}: the budget is respected");
    }
    for id in &ids {
        assert_eq!(app.get(&format!("/api/v1/residents/{id}"), &tenant.admin.token).await.status, 200);
    }
}

#[tokio::test]
async fn shredding_exports_then_makes_the_tenant_unreadable_for_good() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let bystander = app.tenant("Beta").await;
    let id = seed_resident(&app, &tenant, "Départ", &ins(1), "dernière transmission").await;
    let kept = seed_resident(&app, &bystander, "Reste", &ins(1), "transmission qui reste").await;
    let record = app.store.tenant_by_id(tenant.id).await.unwrap().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export.json");
    // A wrong confirmation does nothing.
    let refused = dui::cli::shred(&app.store, &record, &export, "000000000").await.unwrap_err();
    assert!(refused.to_string().contains("not confirmed"), "{refused}");
    assert!(!export.exists());
    assert_eq!(app.get(&format!("/api/v1/residents/{id}"), &tenant.admin.token).await.status, 200);

    dui::cli::shred(&app.store, &record, &export, record.finess_juridique.as_str()).await.unwrap();
    // The export holds the data, opened.
    let (header, tables) = read_tenant_export(&export);
    assert_eq!(header["format"], "dui-tenant-export");
    assert_eq!(tables["residents"][0]["identity"]["birth_name"], "Départ");
    assert_eq!(tables["notes"][0]["body"]["text"], "dernière transmission");
    assert_eq!(tables["establishments"].len(), 2);

    // The tenant is refused, its keys are gone, and nothing of it opens any more.
    let refused = app.get(&format!("/api/v1/residents/{id}"), &tenant.admin.token).await;
    assert!(refused.problem(401)["detail"].as_str().unwrap().contains("suspended"));
    let scope = dui_domain::scope::TenantScope::console(tenant.id);
    let tx = app.store.begin(&scope, dui_storage::Mode::Write);
    let unreadable =
        dui_storage::residents::read(tx, id.parse().unwrap(), dui_storage::Reading::Unrecorded).await.unwrap_err();
    assert!(matches!(unreadable, dui_storage::StoreError::KeysDestroyed), "{unreadable:?}");
    let owner = app.db.connect(&app.db.owner_url).await;
    let sql = format!(
        "BEGIN; SELECT set_config('app.tenant_id', '{}', true); CREATE TEMP TABLE k AS SELECT wrapped, status FROM tenant_keys; COMMIT;",
        tenant.id
    );
    owner.batch_execute(&sql).await.unwrap();
    let keys = owner.query("SELECT wrapped IS NULL, status FROM k", &[]).await.unwrap();
    assert!(!keys.is_empty() && keys.iter().all(|k| k.get::<_, bool>(0) && k.get::<_, String>(1) == "destroyed"));
    // It cannot be resumed, nor shredded twice.
    let (_, operator) = app.operator().await;
    app.post(&format!("/platform/v1/tenants/{}/resume", tenant.id), &operator, json!({})).await.problem(409);
    let record = app.store.tenant_by_id(tenant.id).await.unwrap().unwrap();
    assert!(dui::cli::shred(&app.store, &record, &export, record.finess_juridique.as_str()).await.is_err());
    // Another tenant is untouched.
    let other = app.get(&format!("/api/v1/residents/{kept}"), &bystander.admin.token).await;
    assert_eq!(other.json["identity"]["birth_name"], "Reste");
}

/// A tenant export (JSON lines): its header, and its rows by table.
pub(crate) fn read_tenant_export(
    path: &std::path::Path,
) -> (serde_json::Value, std::collections::BTreeMap<String, Vec<serde_json::Value>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap());
    let header = lines.next().unwrap();
    let mut tables: std::collections::BTreeMap<String, Vec<serde_json::Value>> = Default::default();
    let mut ended = false;
    for line in lines {
        if line.get("end").is_some() {
            ended = true;
            continue;
        }
        tables.entry(line["table"].as_str().unwrap().to_owned()).or_default().push(line["row"].clone());
    }
    assert!(ended, "the export ends with its counts");
    (header, tables)
}

#[tokio::test]
async fn every_tenant_table_is_declared_by_a_feature() {
    let db = dui_testkit::TestDb::new().await;
    let owner = db.connect(&db.owner_url).await;
    let tables: Vec<String> = owner
        .query(
            "SELECT c.relname::text FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' \
             AND c.relrowsecurity ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let declared: Vec<&str> = dui_storage::features::tables().map(|t| t.name).collect();
    for table in &tables {
        assert!(declared.contains(&table.as_str()), "{table} is a tenant table that no feature declares");
    }
    for table in &declared {
        assert!(tables.iter().any(|t| t == table), "a feature declares {table}, which is not a tenant table");
    }
    // The declarations say what the tenant's export does with each: carried, or left out for a
    // reason given.
    for (table, why) in dui_storage::features::not_exported() {
        assert!(why.len() > 20, "{table} is left out of the tenant export without a reason");
    }
}

#[tokio::test]
async fn every_binary_column_is_sealed_a_blind_index_or_key_material() {
    let db = dui_testkit::TestDb::new().await;
    let owner = db.connect(&db.owner_url).await;
    let columns: Vec<String> = owner
        .query(
            "SELECT table_name::text || '.' || column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND data_type = 'bytea' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let sealed = dui_storage::sealed_columns();
    for column in &columns {
        let accounted = sealed.contains(column)
            || dui_storage::features::derived_columns().contains(column)
            || column == "tenant_keys.wrapped"
            || column == "idempotency_keys.fingerprint"
            // The audit chain's hashes and keyed links: integrity, not content.
            || column == "audit_chain.event_hash"
            || column == "audit_chain.link";
        assert!(
            accounted,
            "{column} is binary but neither sealed, nor a blind index its feature makes again on import"
        );
    }
    for column in &sealed {
        assert!(columns.contains(column), "the registry names {column}, which does not exist");
    }
}
