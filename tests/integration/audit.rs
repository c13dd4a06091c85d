//! The audit trail: a scripted day leaves exactly the expected trace; the trail is append-only
//! for the application, chained, and `dui audit verify` finds edited, deleted and slipped-in
//! rows; no trace means no data; refused logins and operators' actions are recorded.

use clap::Parser;
use dui_domain::people::Role;
use dui_storage::audit::ChainBreak;
use dui_testkit::{TestApp, TestTenant, keys};
use serde_json::{Value, json};

use crate::residents::identity;

/// The INS of the day's resident (a woman born in February 1934).
fn ins() -> String {
    dui_testkit::nir(true, "1934-02-02", 1)
}

fn period() -> String {
    let now = chrono::Utc::now();
    format!(
        "from={}&to={}",
        (now - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ"),
        (now + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ")
    )
}

/// The tenant's trail, as its administrator exports it.
async fn trail(app: &TestApp, tenant: &TestTenant) -> Vec<Value> {
    let export = app.get(&format!("/api/v1/audit/export?{}", period()), &tenant.admin.token).await;
    assert_eq!(export.status, 200, "{}", export.text);
    assert_eq!(export.header("content-type"), Some("application/x-ndjson"));
    export.text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

/// Runs SQL as the owner inside the tenant (row-level security is forced on the owner too).
async fn as_owner(app: &TestApp, tenant: &TestTenant, sql: &str) {
    let owner = app.db.connect(&app.db.owner_url).await;
    owner
        .batch_execute(&format!("BEGIN; SELECT set_config('app.tenant_id', '{}', true); {sql}; COMMIT;", tenant.id))
        .await
        .unwrap();
}

async fn admit(app: &TestApp, tenant: &TestTenant, birth_name: &str) -> String {
    let created = app
        .post(
            "/api/v1/residents",
            &tenant.admin.token,
            json!({"establishment_id": tenant.establishments[0].id, "identity": identity(birth_name, "Anne", "1934-02-02"),
                   "confirm_homonym": true}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.json["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_scripted_day_leaves_exactly_the_expected_trace() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let (ehpad, saad) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let assistant = app.user(&tenant, &[(Some(ehpad), Role::CareAssistant)]).await;
    let director = app.user(&tenant, &[(Some(ehpad), Role::Director)]).await;
    let helper = app.user(&tenant, &[(Some(saad), Role::HomeHelper)]).await;
    let night = app.user(&tenant, &[(Some(saad), Role::Nurse)]).await;
    let admin = &tenant.admin;

    // The day.
    let created = app
        .post(
            "/api/v1/residents",
            &admin.token,
            json!({"establishment_id": ehpad, "identity": identity("Journée", "Anne", "1934-02-02"),
                   "ins": {"matricule": ins(), "oid": "1.2.250.1.213.1.4.10"}}),
        )
        .await;
    let r = created.json["id"].as_str().unwrap().to_owned();
    let record = format!("/api/v1/residents/{r}");
    app.get("/api/v1/residents", &nurse.token).await;
    app.get(&record, &nurse.token).await;
    let note =
        app.post(&format!("{record}/notes"), &nurse.token, json!({"text": "Toilette faite, bonne humeur."})).await;
    let note_id = note.json["id"].as_str().unwrap().to_owned();
    app.get(&format!("{record}/notes"), &assistant.token).await;
    app.get(&record, &helper.token).await.problem(404);
    let contact = app
        .post(
            &format!("{record}/contacts"),
            &admin.token,
            json!({"kind": "relative", "details": {"family_name": "Fils"}}),
        )
        .await;
    let contact_id = contact.json["id"].as_str().unwrap().to_owned();
    app.get(&format!("{record}/contacts"), &nurse.token).await;
    let consent = app
        .post(
            &format!("{record}/consents"),
            &admin.token,
            json!({"kind": "dmp_feeding", "decision": "refused", "expressed_by": "person"}),
        )
        .await;
    let consent_id = consent.json["id"].as_str().unwrap().to_owned();
    app.request_with(
        reqwest::Method::POST,
        &format!("{record}/identity-status"),
        Some(&assistant.token),
        Some(json!({"to_status": "VALI", "document": "passport"})),
        &[("If-Match", "\"1\"")],
    )
    .await
    .problem(403);
    let validated = app
        .request_with(
            reqwest::Method::POST,
            &format!("{record}/identity-status"),
            Some(&admin.token),
            Some(json!({"to_status": "VALI", "document": "passport"})),
            &[("If-Match", "\"1\"")],
        )
        .await;
    assert_eq!(validated.status, 200, "{}", validated.text);
    app.post("/api/v1/residents/search", &nurse.token, json!({"ins": ins()})).await;
    let opening = app
        .post(
            &format!("{record}/emergency-access"),
            &night.token,
            json!({"reason": "Appel de nuit, chute, antécédents"}),
        )
        .await;
    let opening_id = opening.json["id"].as_str().unwrap().to_owned();
    app.get(&record, &night.token).await;
    app.get("/api/v1/emergency-accesses", &director.token).await;
    app.post(
        &format!("/api/v1/emergency-accesses/{opening_id}/review"),
        &director.token,
        json!({"outcome": "justified", "comment": "Chute confirmée"}),
    )
    .await;
    app.get(&format!("{record}/access-report"), &director.token).await;
    app.get(&format!("{record}/export"), &director.token).await;
    app.patch(&format!("/api/v1/users/{}", helper.id), &admin.token, json!({"status": "disabled"})).await;
    app.get("/api/v1/me", &helper.token).await.problem(401);
    let events = trail(&app, &tenant).await;

    // What happened, event by event: (actor, action, outcome, resident, resource, emergency).
    let who = |id: &str| -> &str {
        [
            (admin.id.to_string(), "admin"),
            (nurse.id.to_string(), "nurse"),
            (assistant.id.to_string(), "assistant"),
            (director.id.to_string(), "director"),
            (helper.id.to_string(), "helper"),
            (night.id.to_string(), "night"),
        ]
        .into_iter()
        .find(|(known, _)| known == id)
        .map_or("?", |(_, name)| name)
    };
    let what = |id: &Value| -> String {
        let id = id.as_str().unwrap_or("-");
        [
            (r.as_str(), "R"),
            (note_id.as_str(), "note"),
            (contact_id.as_str(), "contact"),
            (consent_id.as_str(), "consent"),
            (opening_id.as_str(), "opening"),
            (tenant.id.to_string().as_str(), "tenant"),
            (helper.id.to_string().as_str(), "helper"),
        ]
        .into_iter()
        .find(|(known, _)| *known == id)
        .map_or(if id == "-" { "-".to_owned() } else { "other".to_owned() }, |(_, name)| name.to_owned())
    };
    let day: Vec<String> = events
        .iter()
        .filter(|e| e["actor_kind"] != "console")
        .map(|e| {
            format!(
                "{} {} {} {} {}{}",
                who(e["actor_id"].as_str().unwrap_or("")),
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
                what(&e["resident_id"]),
                what(&e["resource_id"]),
                if e["emergency"] == true { " EMERGENCY" } else { "" }
            )
        })
        .collect();
    let expected = [
        "admin resident.create success R R",
        "nurse resident.list success R R",
        "nurse resident.read success R R",
        "nurse note.create success R note",
        "assistant note.read success R R",
        "helper resident.read denied R R",
        "admin contact.create success R contact",
        "nurse contact.read success R R",
        "admin consent.create success R consent",
        "assistant identity.change_status denied R R",
        "admin identity.change_status success R other",
        "nurse resident.search success R R",
        "night emergency_access.open success R opening EMERGENCY",
        "night resident.read success R R EMERGENCY",
        "director emergency_access.list success R opening",
        "director emergency_access.review success R opening",
        "director audit.access_report success R R",
        "director resident.export success R R",
        "admin user.update success - helper",
        "helper auth.login denied - helper",
        "admin audit.export success - tenant",
    ];
    assert_eq!(day, expected, "\n{}", day.join("\n"));
    // Every event of a request carries its request id and the client's address.
    for event in events.iter().filter(|e| e["actor_kind"] != "console") {
        assert!(event["request_id"].as_str().is_some_and(|id| id.len() > 10), "{event}");
        assert_eq!(event["client_address"], "127.0.0.1", "{event}");
    }
    // The emergency opening keeps its reason (sealed at rest).
    let open = events.iter().find(|e| e["action"] == "emergency_access.open").unwrap();
    assert_eq!(open["reason"], "Appel de nuit, chute, antécédents");

    // The chain covers it all and holds.
    app.store.chain_tenant(tenant.id).await.unwrap();
    let report = app.store.verify_audit(tenant.id).await.unwrap();
    assert_eq!(report.broken, None);
    assert_eq!(report.links, trail(&app, &tenant).await.len() as i64 - 1, "all but the export just recorded");
    let chained = trail(&app, &tenant).await;
    assert!(chained.iter().rev().skip(2).all(|e| e["chain_seq"].is_i64()), "chained events say where");
}

#[tokio::test]
async fn verify_finds_an_edited_a_deleted_a_slipped_in_row_and_a_forged_link() {
    let app = TestApp::spawn().await;
    let mut tenants = Vec::new();
    for name in ["Édité", "Effacé", "Glissé", "Forgé", "Intact", "Caché"] {
        let tenant = app.tenant(name).await;
        let id = admit(&app, &tenant, name).await;
        for _ in 0..3 {
            app.get(&format!("/api/v1/residents/{id}"), &tenant.admin.token).await;
        }
        app.store.chain_tenant(tenant.id).await.unwrap();
        assert_eq!(app.store.verify_audit(tenant.id).await.unwrap().broken, None);
        tenants.push(tenant);
    }
    let read_event = |tenant: &TestTenant| {
        format!(
            "(SELECT id FROM audit_events WHERE action = 'resident.read' AND tenant_id = '{}' ORDER BY occurred_at LIMIT 1 OFFSET 1)",
            tenant.id
        )
    };
    as_owner(
        &app,
        &tenants[0],
        &format!("UPDATE audit_events SET outcome = 'denied' WHERE id = {}", read_event(&tenants[0])),
    )
    .await;
    as_owner(&app, &tenants[1], &format!("DELETE FROM audit_events WHERE id = {}", read_event(&tenants[1]))).await;
    as_owner(
        &app,
        &tenants[2],
        &format!(
            "INSERT INTO audit_events (tenant_id, id, occurred_at, actor_kind, action, outcome) \
             VALUES ('{}', gen_random_uuid(), now() - interval '2 hours', 'system', 'resident.read', 'success')",
            tenants[2].id
        ),
    )
    .await;
    as_owner(&app, &tenants[3], "UPDATE audit_chain SET link = sha256(link) WHERE seq = 3").await;
    // A row slipped in below the chainer's horizon (its transaction id forged low): never chained.
    as_owner(
        &app,
        &tenants[5],
        &format!(
            "INSERT INTO audit_events (tenant_id, id, occurred_at, actor_kind, action, outcome, xact) \
             VALUES ('{}', gen_random_uuid(), now() - interval '2 hours', 'system', 'resident.read', 'success', '1')",
            tenants[5].id
        ),
    )
    .await;

    let seq_of = |report: &dui_storage::audit::ChainReport| report.links + 1;
    let edited = app.store.verify_audit(tenants[0].id).await.unwrap();
    assert!(
        matches!(edited.broken, Some(ChainBreak::EventAltered { seq, .. }) if seq == seq_of(&edited)),
        "{edited:?}"
    );
    let deleted = app.store.verify_audit(tenants[1].id).await.unwrap();
    assert!(
        matches!(deleted.broken, Some(ChainBreak::EventMissing { seq, .. }) if seq == seq_of(&deleted)),
        "{deleted:?}"
    );
    // The slipped-in row claims a date long before the events chained ahead of it: named.
    app.store.chain_tenant(tenants[2].id).await.unwrap();
    let slipped = app.store.verify_audit(tenants[2].id).await.unwrap();
    assert!(
        matches!(slipped.broken, Some(ChainBreak::Backdated { seq, .. }) if seq == seq_of(&slipped)),
        "{slipped:?}"
    );
    // Hidden below the horizon, it is never chained, and named.
    app.store.chain_tenant(tenants[5].id).await.unwrap();
    let hidden = app.store.verify_audit(tenants[5].id).await.unwrap();
    assert!(matches!(hidden.broken, Some(ChainBreak::Unchained { .. })), "{hidden:?}");
    let forged = app.store.verify_audit(tenants[3].id).await.unwrap();
    assert_eq!(forged.broken, Some(ChainBreak::LinkAltered { seq: 3 }));
    assert_eq!(forged.links, 2);
    let intact = app.store.verify_audit(tenants[4].id).await.unwrap();
    assert_eq!(intact.broken, None);
    assert_eq!(intact.head.as_ref().map(String::len), Some(64));

    // The command line says the same, and fails.
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        config.path(),
        format!(
            "[database]\nurl = \"{}\"\n[auth]\nissuer = \"http://dui.test\"\nsigning_key = \"\"\"\n{}\"\"\"\n[crypto]\nactive_kek = 1\nkeks = {{ 1 = \"{}\" }}\n[log]\nlevel = \"warn\"\n",
            app.db.app_url,
            keys::SIGNING_KEY,
            keys::KEK_V1
        ),
    )
    .unwrap();
    let path = config.path().to_str().unwrap();
    let run = |args: &[&str]| {
        let mut argv = vec!["dui", "--config", path, "audit"];
        argv.extend_from_slice(args);
        dui::cli::run(dui::cli::Cli::try_parse_from(argv).unwrap())
    };
    let error = format!("{:#}", run(&["verify"]).await.unwrap_err());
    assert!(error.contains("5 audit chain(s) broken"), "{error}");
    run(&["verify", "--tenant", &tenants[4].id.to_string()]).await.unwrap();
    let error = format!("{:#}", run(&["verify", "--tenant", &tenants[0].id.to_string()]).await.unwrap_err());
    assert!(error.contains("1 audit chain(s) broken"), "{error}");

    // The export, from the command line, for the data-protection officer.
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("trail.ndjson");
    run(&["export", &tenants[4].id.to_string(), "--out", file.to_str().unwrap()]).await.unwrap();
    let lines: Vec<Value> =
        std::fs::read_to_string(&file).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.iter().filter(|e| e["action"] == "resident.read").count() == 3, "{lines:?}");
    assert_eq!(lines.last().unwrap()["action"], "audit.export");
    assert_eq!(lines.last().unwrap()["actor_kind"], "console");
}

#[tokio::test]
async fn the_application_cannot_rewrite_the_trail() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    admit(&app, &tenant, "Immuable").await;
    app.store.chain_tenant(tenant.id).await.unwrap();
    let mut client = app.db.connect(&app.db.app_url).await;
    for sql in [
        "UPDATE audit_events SET outcome = 'denied'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "UPDATE audit_chain SET link = link",
        "DELETE FROM audit_chain",
        "DELETE FROM platform_events",
        "UPDATE auth_failures SET reason = 'x'",
    ] {
        let tx = client.transaction().await.unwrap();
        tx.execute("SELECT set_config('app.tenant_id', $1, true)", &[&tenant.id.to_string()]).await.unwrap();
        let error = tx.batch_execute(sql).await.unwrap_err();
        assert_eq!(error.code(), Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE), "{sql}: {error}");
    }
}

#[tokio::test]
async fn no_trace_no_data() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let id = admit(&app, &tenant, "Tracée").await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;
    let owner = app.db.connect(&app.db.owner_url).await;
    owner
        .batch_execute(
            "CREATE FUNCTION refuse_trace() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'the audit store refuses writes'; END $$; \
             CREATE TRIGGER refuse_trace BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_trace();",
        )
        .await
        .unwrap();
    // Reads are not served, writes are not made.
    // A read's event goes with those of the reads answered meanwhile: when they cannot be
    // written, the read is answered "unavailable", never with the record.
    let read = app.get(&format!("/api/v1/residents/{id}"), &nurse.token).await;
    assert_eq!(read.status, 503, "{}", read.text);
    assert!(!read.text.contains("Tracée"));
    let listed = app.get("/api/v1/residents", &nurse.token).await;
    assert!(listed.status >= 500 && !listed.text.contains("Tracée"), "{}", listed.text);
    let note = app.post(&format!("/api/v1/residents/{id}/notes"), &nurse.token, json!({"text": "non tracée"})).await;
    assert_eq!(note.status, 500);
    let admitted = app
        .post(
            "/api/v1/residents",
            &tenant.admin.token,
            json!({"establishment_id": tenant.establishments[0].id, "identity": identity("Fantôme", "Paul", "1930-01-01")}),
        )
        .await;
    assert_eq!(admitted.status, 500);
    owner.batch_execute("DROP TRIGGER refuse_trace ON audit_events").await.unwrap();
    let notes = app.get(&format!("/api/v1/residents/{id}/notes"), &nurse.token).await;
    assert_eq!(notes.json["items"], json!([]));
    let found = app
        .post(
            "/api/v1/residents/search",
            &tenant.admin.token,
            json!({"birth_name": "Fantôme", "birth_date": "1930-01-01"}),
        )
        .await;
    assert_eq!(found.json, json!([]));
}

#[tokio::test]
async fn refused_logins_and_operators_actions_are_recorded() {
    let app = TestApp::spawn().await;
    let (operator_id, operator) = app.operator().await;
    let created = app
        .post(
            "/platform/v1/tenants",
            &operator,
            json!({"name": "Tracé", "finess_juridique": dui_testkit::random_finess()}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let tenant_id = created.json["id"].as_str().unwrap().to_owned();
    app.post(&format!("/platform/v1/tenants/{tenant_id}/suspend"), &operator, json!(null)).await;
    app.get("/api/v1/me", "not-a-token").await.problem(401);

    let owner = app.db.connect(&app.db.owner_url).await;
    let actions: Vec<(String, Option<uuid::Uuid>, Option<uuid::Uuid>)> = owner
        .query("SELECT action, operator_id, tenant_id FROM platform_events ORDER BY occurred_at", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let tenant = Some(tenant_id.parse().unwrap());
    let operator_id = Some(operator_id.as_uuid());
    assert_eq!(
        actions,
        [("tenant.create".to_owned(), operator_id, tenant), ("tenant.suspend".to_owned(), operator_id, tenant)]
    );
    let failures: Vec<(String, Option<String>)> = owner
        .query("SELECT reason, host(client_address) FROM auth_failures", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].1.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn the_trail_is_exported_by_tenant_admins_over_a_bounded_period() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    admit(&app, &tenant, "Export").await;
    let director = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Director)]).await;
    app.get(&format!("/api/v1/audit/export?{}", period()), &director.token).await.problem(403);
    app.get("/api/v1/audit/export", &tenant.admin.token).await.problem(422);
    app.get("/api/v1/audit/export?from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z", &tenant.admin.token)
        .await
        .problem(422);
    app.get("/api/v1/audit/export?from=2026-03-01T00:00:00Z&to=2026-01-01T00:00:00Z", &tenant.admin.token)
        .await
        .problem(422);
    let empty =
        app.get("/api/v1/audit/export?from=2026-01-01T00:00:00Z&to=2026-01-31T00:00:00Z", &tenant.admin.token).await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.text, "");
    app.store.chain_tenant(tenant.id).await.unwrap();
    let events = trail(&app, &tenant).await;
    assert!(events.iter().any(|e| e["action"] == "resident.create"));
    let seqs: Vec<i64> = events.iter().filter_map(|e| e["chain_seq"].as_i64()).collect();
    assert!(seqs.windows(2).all(|w| w[1] > w[0]) && !seqs.is_empty(), "{seqs:?}");
}

#[tokio::test]
async fn the_chainer_waits_for_a_late_commit_and_chains_older_events_once() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Tardif").await;
    let id = admit(&app, &tenant, "Tardif").await;
    let owner = app.db.connect(&app.db.owner_url).await;
    let insert = |occurred: &str, xact: &str| {
        format!(
            "INSERT INTO audit_events (tenant_id, id, occurred_at, actor_kind, action, outcome, xact) \
             VALUES ('{}', gen_random_uuid(), {occurred}, 'system', 'resident.read', 'success', {xact})",
            tenant.id
        )
    };
    // Events written before transaction ids were recorded (as in a database migrated with
    // them, whose chainer has not passed yet) are chained by time, once. (Under the chainer's
    // lock, so that no pass in progress marks them done before they are there.)
    owner
        .batch_execute(&format!(
            "BEGIN; SELECT set_config('app.tenant_id', '{}', true); \
             SELECT pg_advisory_xact_lock(7244, hashtext(current_setting('app.tenant_id'))); {}; {}; \
             INSERT INTO audit_chain_cursors (tenant_id) VALUES ('{}') \
             ON CONFLICT (tenant_id) DO UPDATE SET legacy_done = false; COMMIT;",
            tenant.id,
            insert("now() - interval '1 minute'", "NULL"),
            insert("now()", "NULL"),
            tenant.id
        ))
        .await
        .unwrap();
    app.store.chain_tenant(tenant.id).await.unwrap();
    let first = app.store.verify_audit(tenant.id).await.unwrap();
    assert_eq!(first.broken, None);
    owner.execute("SELECT set_config('app.tenant_id', $1, false)", &[&tenant.id.to_string()]).await.unwrap();
    let events: i64 = owner.query_one("SELECT count(*) FROM audit_events", &[]).await.unwrap().get(0);
    assert_eq!(first.links, events, "every event is chained, the old ones included");

    // A transaction that recorded an event and has not committed yet...
    let (late, connection) = tokio_postgres::connect(&app.db.owner_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    late.batch_execute(&format!(
        "BEGIN; SELECT set_config('app.tenant_id', '{}', true); {};",
        tenant.id,
        insert("now()", "DEFAULT")
    ))
    .await
    .unwrap();
    // ... while others are served and chained.
    for _ in 0..3 {
        assert_eq!(app.get(&format!("/api/v1/residents/{id}"), &tenant.admin.token).await.status, 200);
    }
    app.store.chain_tenant(tenant.id).await.unwrap();
    let before = app.store.verify_audit(tenant.id).await.unwrap();
    assert_eq!((before.broken.as_ref(), before.links), (None, first.links + 3));
    // Once it commits, the next pass chains it: the horizon had not moved past it.
    late.batch_execute("COMMIT").await.unwrap();
    app.store.chain_tenant(tenant.id).await.unwrap();
    let after = app.store.verify_audit(tenant.id).await.unwrap();
    assert_eq!((after.broken.as_ref(), after.links), (None, first.links + 4));
    // Passes with nothing new change nothing.
    app.store.chain_tenant(tenant.id).await.unwrap();
    assert_eq!(app.store.verify_audit(tenant.id).await.unwrap().links, after.links);
}

/// The events the tenant's trail received since the last look, each as
/// `actor action outcome resource` (`R` for the record itself, else the resource's type; `+E`
/// through an emergency opening).
struct Trail<'a> {
    app: &'a TestApp,
    tenant: &'a TestTenant,
    names: Vec<(String, &'static str)>,
    resident: String,
    seen: usize,
}

impl Trail<'_> {
    async fn since(&mut self) -> Vec<String> {
        let mut owner = self.app.db.connect(&self.app.db.owner_url).await;
        let tx = owner.transaction().await.unwrap();
        tx.execute("SELECT set_config('app.tenant_id', $1, true)", &[&self.tenant.id.to_string()]).await.unwrap();
        let rows = tx
            .query(
                "SELECT coalesce(actor_id::text, actor_kind), action, outcome, resident_id::text, resource_id::text, \
                 resource_type, emergency FROM audit_events ORDER BY id OFFSET $1",
                &[&(self.seen as i64)],
            )
            .await
            .unwrap();
        self.seen += rows.len();
        rows.iter()
            .map(|row| {
                let actor: String = row.get(0);
                let actor = self.names.iter().find(|(id, _)| *id == actor).map_or(actor.as_str(), |(_, name)| name);
                let resource = if row.get::<_, Option<String>>(4).as_deref() == Some(self.resident.as_str()) {
                    "R".to_owned()
                } else {
                    row.get::<_, Option<String>>(5).unwrap_or_else(|| "-".to_owned())
                };
                let about = match row.get::<_, Option<String>>(3) {
                    Some(r) if r == self.resident => "",
                    Some(_) => " (another record)",
                    None => " (no record)",
                };
                let emergency = if row.get::<_, bool>(6) { " +E" } else { "" };
                format!("{actor} {} {} {resource}{about}{emergency}", row.get::<_, String>(1), row.get::<_, String>(2))
            })
            .collect()
    }

    /// Asserts the events `step` left.
    async fn expect(&mut self, step: &str, expected: &[&str]) {
        let got = self.since().await;
        assert_eq!(got, expected, "{step}: the trail received\n{}", got.join("\n"));
    }
}

/// Each operation, one by one, and exactly the events it leaves: reads are recorded when a
/// person reads, the checks an operation makes to decide are not, and writes do not record
/// reads.
#[tokio::test]
async fn each_operation_leaves_exactly_its_events() {
    let app = TestApp::spawn().await;
    crate::drugs::import_fixture(&app).await;
    let tenant = app.tenant("Alpha").await;
    let (ehpad, saad) = (tenant.establishments[0].id, tenant.establishments[1].id);
    let nurse = app.user(&tenant, &[(Some(ehpad), Role::Nurse)]).await;
    let director = app.user(&tenant, &[(Some(ehpad), Role::Director)]).await;
    let night = app.user(&tenant, &[(Some(saad), Role::Nurse)]).await;
    let admin = &tenant.admin;
    let r = admit(&app, &tenant, "Chaque").await;
    let record = format!("/api/v1/residents/{r}");
    let names = vec![
        (admin.id.to_string(), "admin"),
        (nurse.id.to_string(), "nurse"),
        (director.id.to_string(), "director"),
        (night.id.to_string(), "night"),
    ];
    let mut trail = Trail { app: &app, tenant: &tenant, names, resident: r.clone(), seen: 0 };
    trail.since().await;
    let ok = |response: dui_testkit::TestResponse| {
        assert!(response.status < 300, "{}", response.text);
        response
    };

    ok(app.get(&record, &nurse.token).await);
    trail.expect("read the record", &["nurse resident.read success R"]).await;
    ok(app.get(&format!("{record}/summary"), &nurse.token).await);
    trail.expect("its first screen", &["nurse resident.summary success R"]).await;
    ok(app.get(&format!("{record}/timeline"), &nurse.token).await);
    trail.expect("its timeline", &["nurse resident.timeline success R"]).await;
    ok(app.get("/api/v1/residents", &nurse.token).await);
    trail.expect("the list", &["nurse resident.list success R"]).await;

    // The plan: drafted, put in force, read, printed.
    let plan = ok(app
        .post(
            &format!("{record}/care-plan"),
            &director.token,
            json!({"content": {"expectations": "Marcher chaque jour", "objectives": [{"domain": "autonomy", "text": "Marcher chaque jour", "status": "in_progress"}]}}),
        )
        .await);
    trail.expect("a plan drafted", &["director care_plan.create success care_plan_version"]).await;
    let version = plan.json["id"].as_str().unwrap().to_owned();
    let objective = plan.json["content"]["objectives"][0]["id"].as_str().unwrap().to_owned();
    let etag =
        crate::care_plans::validated(&app, &format!("{record}/care-plan/versions/{version}"), &director.token).await;
    trail.expect("validated by the person", &["director care_plan.validate success care_plan_version"]).await;
    ok(app
        .request_with(
            reqwest::Method::POST,
            &format!("{record}/care-plan/versions/{version}/activate"),
            Some(&director.token),
            None,
            &[("If-Match", &etag)],
        )
        .await);
    trail.expect("put in force", &["director care_plan.activate success care_plan_version"]).await;
    ok(app.get(&format!("{record}/care-plan"), &nurse.token).await);
    trail.expect("the plan read", &["nurse care_plan.read success R"]).await;
    ok(app.get(&format!("{record}/care-plan/versions/{version}/pdf"), &nurse.token).await);
    trail.expect("printed", &["nurse care_plan.print success R"]).await;

    // Notes: the objective a note serves is checked against the plan without reading it.
    let note = ok(app
        .post(
            &format!("{record}/notes"),
            &nurse.token,
            json!({"text": "A marché jusqu'au jardin.", "objective_id": objective}),
        )
        .await);
    trail.expect("a note about an objective", &["nurse note.create success note"]).await;
    let note = note.json["id"].as_str().unwrap().to_owned();
    ok(app.get(&format!("{record}/notes"), &nurse.token).await);
    trail.expect("the notes read", &["nurse note.read success R"]).await;
    ok(app
        .post(&format!("{record}/notes/{note}/amendments"), &nurse.token, json!({"text": "A marché jusqu'au portail."}))
        .await);
    trail.expect("a note amended", &["nurse note.amend success note"]).await;
    ok(app.get(&format!("/api/v1/establishments/{ehpad}/handover"), &nurse.token).await);
    trail.expect("the hand-over feed", &["nurse handover.read success R"]).await;

    // Stays: a move records the move, not a reading of the stays.
    let stays = ok(app.get(&format!("{record}/stays"), &nurse.token).await);
    trail.expect("the stays read", &["nurse stay.read success R"]).await;
    let stay = stays.json[0]["id"].as_str().unwrap().to_owned();
    let unit = tenant.units[0].id;
    let etag = format!("\"{}\"", stays.json[0]["row_version"]);
    ok(app
        .request_with(
            reqwest::Method::PATCH,
            &format!("{record}/stays/{stay}"),
            Some(&admin.token),
            Some(json!({"unit_id": unit})),
            &[("If-Match", &etag)],
        )
        .await);
    trail.expect("a move", &["admin stay.update success stay"]).await;

    // Measurements, assessments, tasks.
    ok(app.post(&format!("{record}/measurements"), &nurse.token, json!({"kind": "pulse", "value": 70})).await);
    trail.expect("a measurement", &["nurse measurement.create success measurement"]).await;
    ok(app.get(&format!("{record}/measurements"), &nurse.token).await);
    trail.expect("the series", &["nurse measurement.read success R"]).await;
    ok(app.get(&format!("{record}/nutrition-status"), &nurse.token).await);
    trail.expect("the nutrition status", &["nurse measurement.read success R"]).await;

    // Absences and appointments: an appointment outside records its absence, one event each.
    let soon = chrono::Utc::now() + chrono::Duration::days(2);
    ok(app
        .post(
            &format!("{record}/absences"),
            &nurse.token,
            json!({"kind": "hospitalisation", "starts_at": soon, "expected_return_at": soon + chrono::Duration::days(1)}),
        )
        .await);
    trail.expect("a departure", &["nurse absence.create success absence"]).await;
    ok(app.get(&format!("{record}/absences"), &nurse.token).await);
    trail.expect("the absences read", &["nurse absence.read success R"]).await;
    // 10:00 UTC: the same day in the establishment's calendar (Paris).
    let later = (chrono::Utc::now().date_naive() + chrono::Days::new(12)).and_hms_opt(10, 0, 0).unwrap().and_utc();
    ok(app
        .post(
            &format!("{record}/appointments"),
            &nurse.token,
            json!({"starts_at": later, "with_whom": "Dr Cœur", "outside": true,
                   "returns_at": later + chrono::Duration::hours(3)}),
        )
        .await);
    let mut events = trail.since().await;
    events.sort();
    assert_eq!(events, ["nurse absence.create success absence", "nurse appointment.create success appointment"]);
    ok(app.get(&format!("{record}/appointments"), &nurse.token).await);
    trail.expect("the appointments read", &["nurse appointment.read success R"]).await;
    ok(app.get(&format!("/api/v1/establishments/{ehpad}/away?date={}", later.date_naive()), &nurse.token).await);
    trail.expect("who is away that day", &["nurse absence.day_list success R"]).await;

    // A restraint: an outside physician's prescription recorded, read, reassessed, stopped.
    let restraint = ok(app
        .post(
            &format!("{record}/restraints"),
            &nurse.token,
            json!({"kind": "bed_rails", "planned_end_at": chrono::Utc::now() + chrono::Duration::days(1),
                   "reason": "Chutes nocturnes", "conditions": {"when": "La nuit"},
                   "external_prescriber": {"name": "Dr Martin", "rpps": "10003456789"}}),
        )
        .await);
    trail.expect("a restraint", &["nurse restraint.prescribe success restraint"]).await;
    let restraint = format!("{record}/restraints/{}", restraint.json["id"].as_str().unwrap());
    ok(app.get(&format!("{record}/restraints"), &nurse.token).await);
    trail.expect("the restraints read", &["nurse restraint.read success R"]).await;
    ok(app
        .post(
            &format!("{restraint}/reassessments"),
            &nurse.token,
            json!({"outcome": "continue", "skin": "intact", "agitation": "calm", "consent": "accepts"}),
        )
        .await);
    trail.expect("a reassessment", &["nurse restraint.reassess success restraint_reassessment"]).await;
    ok(app.get(&format!("/api/v1/establishments/{ehpad}/restraints/overdue"), &nurse.token).await);
    trail.expect("nothing overdue", &[]).await;
    ok(app.post(&format!("{restraint}/stop"), &nurse.token, json!({"reason": "Lit bas installé"})).await);
    trail.expect("stopped", &["nurse restraint.stop success restraint"]).await;

    // Alerts and allergies: each write its event, the list one reading.
    ok(app
        .post(
            &format!("{record}/allergies"),
            &nurse.token,
            json!({"kind": "allergy", "substance": "Pénicilline", "severity": "severe", "source": "medical_record"}),
        )
        .await);
    trail.expect("an allergy", &["nurse allergy.create success allergy"]).await;
    let alert = ok(app.post(&format!("{record}/alerts"), &nurse.token, json!({"kind": "fall_risk"})).await);
    trail.expect("an alert", &["nurse alert.create success alert"]).await;
    ok(app.get(&format!("{record}/alerts"), &nurse.token).await);
    trail.expect("the alerts read", &["nurse alert.read success R"]).await;
    // The drug referential is public data: reading it is recorded nowhere; checking a drug
    // against the person's allergies is a read of the person's alerts.
    ok(app.get("/api/v1/drugs?q=augmentin", &nurse.token).await);
    ok(app.get("/api/v1/drugs/68585615", &nurse.token).await);
    trail.expect("the drug referential read", &[]).await;
    ok(app.get(&format!("{record}/drugs/68585615/allergy-check"), &nurse.token).await);
    trail.expect("a drug checked against the allergies", &["nurse alert.read success R"]).await;
    let alert = alert.json["id"].as_str().unwrap().to_owned();
    ok(app.post(&format!("{record}/alerts/{alert}/end"), &nurse.token, json!({})).await);
    trail.expect("an alert ended", &["nurse alert.end success alert"]).await;
    // Falls: a fall and its correction; the register read by a director, the establishment's
    // list by a nurse, one event per person shown; a director records none (the refusal
    // recorded).
    let fall = json!({"occurred_at": "2026-11-01T03:00:00Z", "place": "room", "discovery": "found_on_floor",
                      "circumstances": "Retrouvé au sol", "consequences": ["none"]});
    let recorded = ok(app.post(&format!("{record}/falls"), &nurse.token, fall.clone()).await);
    trail.expect("a fall", &["nurse fall.create success fall"]).await;
    let first = recorded.json["id"].as_str().unwrap().to_owned();
    ok(app.post(&format!("{record}/falls/{first}/amendments"), &nurse.token, fall.clone()).await);
    trail.expect("a fall corrected", &["nurse fall.amend success fall"]).await;
    ok(app.get(&format!("{record}/falls"), &director.token).await);
    trail.expect("the falls register", &["director fall.read success R"]).await;
    ok(app.get(&format!("/api/v1/establishments/{ehpad}/falls"), &nurse.token).await);
    trail.expect("the establishment's falls", &["nurse fall.list success R"]).await;
    app.post(&format!("{record}/falls"), &director.token, fall).await.problem(403);
    trail.expect("a fall refused", &["director fall.create denied R"]).await;
    // The medical file: a problem resolved and another flagged, a vaccination flagged, a
    // physician ended; the file read; a care assistant records no problem (the refusal recorded).
    let medical = format!("{record}/medical");
    let problem = json!({"kind": "active_problem", "text": "Hypertension artérielle", "cim10": "I10"});
    let recorded = ok(app.post(&format!("{medical}/problems"), &nurse.token, problem.clone()).await);
    trail.expect("a problem", &["nurse medical_problem.create success medical_problem"]).await;
    let problem_id = recorded.json["id"].as_str().unwrap().to_owned();
    ok(app.post(&format!("{medical}/problems/{problem_id}/resolve"), &nurse.token, json!({})).await);
    trail.expect("a problem resolved", &["nurse medical_problem.resolve success medical_problem"]).await;
    let flag = json!({"reason": "Autre résident"});
    ok(app.post(&format!("{medical}/problems/{problem_id}/entered-in-error"), &nurse.token, flag.clone()).await);
    trail.expect("a problem flagged", &["nurse medical_problem.flag_error success medical_problem"]).await;
    let vaccination = json!({"vaccine": "Vaxigrip Tetra", "given_on": "2026-10-20"});
    let recorded = ok(app.post(&format!("{medical}/vaccinations"), &nurse.token, vaccination).await);
    trail.expect("a vaccination", &["nurse vaccination.create success vaccination"]).await;
    let vaccination_id = recorded.json["id"].as_str().unwrap().to_owned();
    ok(app.post(&format!("{medical}/vaccinations/{vaccination_id}/entered-in-error"), &nurse.token, flag).await);
    trail.expect("a vaccination flagged", &["nurse vaccination.flag_error success vaccination"]).await;
    let physician = json!({"role": "attending", "name": "Dr Claire Martin"});
    let recorded = ok(app.post(&format!("{medical}/physicians"), &nurse.token, physician).await);
    trail.expect("a physician", &["nurse physician.create success physician"]).await;
    let physician_id = recorded.json["id"].as_str().unwrap().to_owned();
    ok(app.post(&format!("{medical}/physicians/{physician_id}/end"), &nurse.token, json!({})).await);
    trail.expect("a physician ended", &["nurse physician.end success physician"]).await;
    let physician = json!({"role": "specialist", "name": "Dr Erreur", "speciality": "Cardiologie"});
    let recorded = ok(app.post(&format!("{medical}/physicians"), &nurse.token, physician).await);
    trail.expect("another physician", &["nurse physician.create success physician"]).await;
    let physician_id = recorded.json["id"].as_str().unwrap().to_owned();
    let flag = json!({"reason": "Pas le bon médecin"});
    ok(app.post(&format!("{medical}/physicians/{physician_id}/entered-in-error"), &nurse.token, flag).await);
    trail.expect("a physician flagged", &["nurse physician.flag_error success physician"]).await;
    ok(app.get(&medical, &nurse.token).await);
    trail.expect("the medical file", &["nurse medical.read success R"]).await;
    app.post(&format!("{medical}/problems"), &director.token, problem).await.problem(403);
    trail.expect("a problem refused", &["director medical_problem.create denied R"]).await;
    // Documents: added, listed, read, downloaded (the event names the document), flagged; a
    // director adds none (the refusal recorded).
    let documents = format!("{record}/documents");
    let directives = format!("{documents}?kind=advance_directives&title=Directives");
    let pdf = crate::documents::tiny_pdf;
    let added = ok(crate::documents::upload_to(&app, &nurse.token, &directives, "application/pdf", pdf()).await);
    trail.expect("a document", &["nurse document.create success document"]).await;
    let document = format!("{documents}/{}", added.json["id"].as_str().unwrap());
    ok(app.get(&documents, &nurse.token).await);
    trail.expect("the documents listed", &["nurse document.read success R"]).await;
    ok(app.get(&document, &nurse.token).await);
    trail.expect("a document's metadata", &["nurse document.read success R"]).await;
    ok(app.get(&format!("{document}/content"), &nurse.token).await);
    trail.expect("a document downloaded", &["nurse document.download success document"]).await;
    ok(app.post(&format!("{document}/entered-in-error"), &nurse.token, json!({"reason": "Autre résident"})).await);
    trail.expect("a document flagged", &["nurse document.flag_error success document"]).await;
    crate::documents::upload_to(&app, &director.token, &directives, "application/pdf", pdf()).await.problem(403);
    trail.expect("a document refused", &["director document.create denied R"]).await;
    // Prescriptions: one recorded, changed, stopped; listed and read; a director writes none.
    let prescriptions = format!("{record}/prescriptions");
    let line = |quantity: f64| {
        json!({"cis": "60234100", "dose": {"quantity": quantity, "unit": "comprimé"}, "route": "oral",
               "schedule": {"kind": "moments", "moments": [{"moment": "morning"}]}})
    };
    let prescription = json!({"prescriber": {"name": "Dr Claire Martin"}, "prescribed_on": "2026-11-30",
                              "source": "paper", "lines": [line(1.0)]});
    let recorded = ok(app.post(&prescriptions, &nurse.token, prescription.clone()).await);
    trail.expect("a prescription", &["nurse prescription.create success prescription"]).await;
    let one = format!("{prescriptions}/{}", recorded.json["prescription_id"].as_str().unwrap());
    let change = json!({"replaces": recorded.json["id"], "prescriber": {"name": "Dr Claire Martin"},
                        "prescribed_on": "2026-11-30", "source": "paper", "lines": [line(0.5)]});
    ok(app.post(&format!("{one}/versions"), &nurse.token, change).await);
    trail.expect("a prescription changed", &["nurse prescription.revise success prescription"]).await;
    ok(app.post(&format!("{one}/stop"), &nurse.token, json!({"reason": "Fin du traitement"})).await);
    trail.expect("a prescription stopped", &["nurse prescription.stop success prescription"]).await;
    ok(app.get(&prescriptions, &nurse.token).await);
    trail.expect("the prescriptions", &["nurse prescription.list success R"]).await;
    ok(app.get(&one, &nurse.token).await);
    trail.expect("a prescription read", &["nurse prescription.read success R"]).await;
    app.post(&prescriptions, &director.token, prescription).await.problem(403);
    trail.expect("a prescription refused", &["director prescription.create denied R"]).await;
    // Doses: one given if needed, flagged in error; the history and the round's plan read; a
    // director records none.
    let if_needed = json!({"prescriber": {"name": "Dr Claire Martin"}, "prescribed_on": "2026-11-30", "source": "paper",
                           "lines": [{"cis": "69000009", "dose": {"quantity": 1, "unit": "comprimé"}, "route": "oral",
                                      "schedule": {"kind": "if_needed", "max_per_day": 3, "condition": "si douleurs"}}]});
    let recorded = ok(app.post(&prescriptions, &nurse.token, if_needed).await);
    trail.expect("a prescription if needed", &["nurse prescription.create success prescription"]).await;
    let doses = format!("{record}/administrations");
    let dose = json!({"prescription_version_id": recorded.json["id"], "line": 1, "outcome": "given"});
    let given = ok(app.post(&doses, &nurse.token, dose.clone()).await);
    trail.expect("a dose", &["nurse administration.create success administration"]).await;
    let flag = format!("{doses}/{}/entered-in-error", given.json["id"].as_str().unwrap());
    ok(app.post(&flag, &nurse.token, json!({"reason": "Mauvaise personne"})).await);
    trail.expect("a dose flagged", &["nurse administration.flag_error success administration"]).await;
    let today = app.local_today().await;
    let (from, to) = (today - chrono::Duration::days(1), today + chrono::Duration::days(1));
    ok(app.get(&format!("{doses}?from={from}&to={to}"), &nurse.token).await);
    trail.expect("the doses", &["nurse administration.list success R"]).await;
    ok(app.get(&format!("/api/v1/establishments/{ehpad}/doses"), &nurse.token).await);
    trail.expect("the round's plan", &["nurse administration.plan success R"]).await;
    app.post(&doses, &director.token, dose).await.problem(403);
    trail.expect("a dose refused", &["director administration.create denied R"]).await;
    let assessed = ok(app
        .post(
            &format!("{record}/assessments"),
            &nurse.token,
            json!({"instrument": "algoplus", "assessed_on": "2026-11-02",
                   "answers": {"visage": "yes", "regard": "no", "plaintes": "no", "corps": "no", "comportements": "no"}}),
        )
        .await);
    trail.expect("an assessment", &["nurse assessment.create success assessment"]).await;
    ok(app.get(&format!("{record}/assessments"), &nurse.token).await);
    trail.expect("the assessments read", &["nurse assessment.read success R"]).await;
    let assessment = assessed.json["id"].as_str().unwrap();
    ok(app.get(&format!("{record}/assessments/{assessment}"), &nurse.token).await);
    trail.expect("one assessment read", &["nurse assessment.read success R"]).await;
    ok(app.get(&format!("{record}/gir-history"), &nurse.token).await);
    trail.expect("the GIR history", &["nurse assessment.gir_history success R"]).await;

    // Wounds: recorded, assessed, given a protocol, read, counted for the establishment, closed.
    let wound = ok(app
        .post(
            &format!("{record}/wounds"),
            &nurse.token,
            json!({"kind": "pressure_ulcer", "site": "sacrum", "origin": "acquired", "stage": "stage_1"}),
        )
        .await);
    trail.expect("a wound", &["nurse wound.create success wound"]).await;
    let wound = format!("{record}/wounds/{}", wound.json["id"].as_str().unwrap());
    ok(app.post(&format!("{wound}/assessments"), &nurse.token, json!({"length_cm": 2, "width_cm": 1})).await);
    trail.expect("a wound assessed", &["nurse wound.assess success wound_assessment"]).await;
    ok(app
        .post(
            &format!("{wound}/protocol"),
            &nurse.token,
            json!({"products": ["Hydrocolloïde"], "frequency": "Tous les 3 jours",
                   "schedule": {"kind": "every_days", "every": 3, "from_date": "2026-11-01", "time": "10:00"}}),
        )
        .await);
    trail.expect("its protocol", &["nurse wound.protocol success wound_protocol"]).await;
    ok(app.get(&format!("{record}/wounds"), &nurse.token).await);
    trail.expect("the wounds read", &["nurse wound.read success R"]).await;
    ok(app.get(&format!("/api/v1/establishments/{ehpad}/pressure-ulcers"), &nurse.token).await);
    trail.expect("the establishment's pressure ulcers", &["nurse wound.list success R"]).await;
    ok(app.get(&format!("/api/v1/establishments/{ehpad}/pressure-ulcers"), &director.token).await);
    trail.expect("counted only, for the director", &[]).await;
    ok(app.post(&format!("{wound}/close"), &nurse.token, json!({"outcome": "healed"})).await);
    trail.expect("a wound closed", &["nurse wound.close success wound"]).await;

    // Nutrition: a diet, a watch and an intake; read one by one and as a summary.
    ok(app
        .post(
            &format!("{record}/diet"),
            &nurse.token,
            json!({"diets": ["enriched"], "food_texture": "mixe", "drink_texture": "iddsi_1", "decided_by": "dietitian"}),
        )
        .await);
    trail.expect("a diet", &["nurse diet.create success diet_prescription"]).await;
    ok(app.get(&format!("{record}/diet"), &nurse.token).await);
    trail.expect("the diets read", &["nurse diet.read success R"]).await;
    let watch = ok(app
        .post(
            &format!("{record}/nutrition-watches"),
            &nurse.token,
            json!({"covers": "both", "reason": "Perte de poids"}),
        )
        .await);
    trail.expect("a watch", &["nurse nutrition_watch.start success nutrition_watch"]).await;
    ok(app.get(&format!("{record}/nutrition-watches"), &nurse.token).await);
    trail.expect("the watches read", &["nurse nutrition_watch.read success R"]).await;
    ok(app
        .post(&format!("{record}/intakes"), &nurse.token, json!({"meal": "lunch", "eaten": "half", "drinks_ml": 200}))
        .await);
    trail.expect("an intake", &["nurse intake.create success intake"]).await;
    ok(app.get(&format!("{record}/intakes"), &nurse.token).await);
    trail.expect("the intakes read", &["nurse intake.read success R"]).await;
    ok(app.get(&format!("{record}/nutrition"), &nurse.token).await);
    trail.expect("the nutrition summary", &["nurse nutrition.read success R"]).await;
    let end = format!("{record}/nutrition-watches/{}/end", watch.json["id"].as_str().unwrap());
    ok(app.post(&end, &nurse.token, json!({})).await);
    trail.expect("the watch ended", &["nurse nutrition_watch.end success nutrition_watch"]).await;

    // Contacts and consents.
    ok(app
        .post(
            &format!("{record}/contacts"),
            &admin.token,
            json!({"kind": "relative", "details": {"family_name": "Fils"}}),
        )
        .await);
    trail.expect("a contact", &["admin contact.create success contact"]).await;
    ok(app.get(&format!("{record}/contacts"), &nurse.token).await);
    trail.expect("the contacts read", &["nurse contact.read success R"]).await;
    ok(app
        .post(
            &format!("{record}/consents"),
            &admin.token,
            json!({"kind": "dmp_feeding", "decision": "refused", "expressed_by": "person"}),
        )
        .await);
    trail.expect("a consent", &["admin consent.create success consent"]).await;
    ok(app.get(&format!("{record}/identity-events"), &admin.token).await);
    trail.expect("the identity history", &["admin identity.read_history success R"]).await;

    // Out of reach: one refusal, nothing else; an emergency opening, then reads marked so.
    app.get(&record, &night.token).await.problem(404);
    trail.expect("out of reach", &["night resident.read denied R"]).await;
    ok(app.post(&format!("{record}/emergency-access"), &night.token, json!({"reason": "Appel de nuit, chute"})).await);
    trail.expect("an emergency opening", &["night emergency_access.open success emergency_access +E"]).await;
    ok(app.get(&format!("{record}/notes"), &night.token).await);
    trail.expect("notes read in an emergency", &["night note.read success R +E"]).await;

    // Oversight.
    ok(app.get(&format!("{record}/duplicates"), &admin.token).await);
    trail.expect("duplicates looked for", &["admin resident.duplicates success R"]).await;
    ok(app.get(&format!("{record}/access-report"), &director.token).await);
    trail.expect("who accessed", &["director audit.access_report success R"]).await;
    ok(app.get(&format!("{record}/outbox"), &director.token).await);
    trail.expect("the outgoing messages", &["director outbox.read success R"]).await;
    ok(app.get(&format!("{record}/export"), &director.token).await);
    trail.expect("the export", &["director resident.export success R"]).await;
}

/// The chainer's frequent pass takes only the tenants this server wrote to, and a pass over a
/// tenant with nothing new writes nothing: idle tenants cost the chainer no transaction's flush.
#[tokio::test]
async fn the_chainer_links_the_tenants_written_to_and_writes_nothing_for_idle_ones() {
    let app = TestApp::spawn().await;
    let busy = app.tenant("Busy").await;
    let idle = app.tenant("Idle").await;
    app.store.chain_audit().await.unwrap();
    let cursor = |tenant: &TestTenant| {
        let (app, tenant) = (&app, tenant.id);
        async move {
            let mut owner = app.db.connect(&app.db.owner_url).await;
            let tx = owner.transaction().await.unwrap();
            tx.execute("SELECT set_config('app.tenant_id', $1, true)", &[&tenant.to_string()]).await.unwrap();
            let row = tx.query_one("SELECT updated_at, horizon::text FROM audit_chain_cursors", &[]).await.unwrap();
            (row.get::<_, chrono::DateTime<chrono::Utc>>(0), row.get::<_, String>(1))
        }
    };
    let idle_before = cursor(&idle).await;
    let busy_before = cursor(&busy).await;

    let r = admit(&app, &busy, "Active").await;
    assert_eq!(app.get(&format!("/api/v1/residents/{r}"), &busy.admin.token).await.status, 200);
    // The frequent pass (the server's, every two seconds, or this one) chains them.
    app.store.chain_noted_audit().await.unwrap();
    app.store.chain_audit().await.unwrap();
    let report = app.store.verify_audit(busy.id).await.unwrap();
    assert_eq!(report.broken, None);
    assert_eq!(report.links, trail(&app, &busy).await.len() as i64 - 1, "every event but the export just made");
    assert_ne!(cursor(&busy).await, busy_before, "the busy tenant's cursor moved on");
    // Full passes over the idle tenant found nothing, and wrote nothing.
    assert_eq!(cursor(&idle).await, idle_before, "the idle tenant's cursor was not written");
    let report = app.store.verify_audit(idle.id).await.unwrap();
    assert_eq!(report.broken, None);
}

#[tokio::test]
async fn passes_that_waited_for_the_chain_lock_go_on_from_the_head_the_last_one_left() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Attente").await;
    let id = admit(&app, &tenant, "ATTENTE").await;
    app.store.chain_tenant(tenant.id).await.unwrap();
    // More events than a pass chains per transaction: passes take turns between batches.
    for _ in 0..3 {
        as_owner(
            &app,
            &tenant,
            &format!(
                "INSERT INTO audit_events (tenant_id, id, actor_kind, action, outcome, resident_id, resource_type, resource_id) \
                 SELECT '{}', gen_random_uuid(), 'console', 'resident.read', 'success', '{id}', 'resident', '{id}' \
                 FROM generate_series(1, 900)",
                tenant.id
            ),
        )
        .await;
    }
    // Another server holds the tenant's chain; two passes of this one wait for it, then take
    // turns: each must go on from the links the other wrote.
    let holder = app.db.connect(&app.db.owner_url).await;
    holder
        .batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock(7244, hashtext('{}'))", tenant.id))
        .await
        .unwrap();
    let (first, second) = (app.store.clone(), app.store.clone());
    let passes =
        tokio::spawn(async move { tokio::join!(first.chain_tenant(tenant.id), second.chain_tenant(tenant.id)) });
    loop {
        let waiting: i64 = holder
            .query_one("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted", &[])
            .await
            .unwrap()
            .get(0);
        if waiting >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    holder.batch_execute("COMMIT").await.unwrap();
    let (first, second) = passes.await.unwrap();
    first.unwrap();
    second.unwrap();
    let report = app.store.verify_audit(tenant.id).await.unwrap();
    assert_eq!(report.broken, None);
    assert!(report.links >= 2700, "every event is chained, once: {report:?}");
}
