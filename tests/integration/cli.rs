//! The command line and the demo seed, against a real database.

use clap::Parser;
use dui::cli::{Cli, TokenArgs};
use dui::config::Config;
use dui_domain::structure::Finess;
use dui_domain::tenant::TenantStatus;
use dui_testkit::{TestApp, keys};

fn config_file(app: &TestApp) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        format!(
            "[database]\nurl = \"{}\"\nowner_url = \"{}\"\n[auth]\nissuer = \"http://dui.test\"\nsigning_key = \"\"\"\n{}\"\"\"\n[crypto]\nactive_kek = 1\nkeks = {{ 1 = \"{}\" }}\n[log]\nlevel = \"warn\"\n",
            app.db.app_url,
            app.db.owner_url,
            keys::SIGNING_KEY,
            keys::KEK_V1
        ),
    )
    .unwrap();
    file
}

async fn run(file: &tempfile::NamedTempFile, args: &[&str]) {
    let path = file.path().to_str().unwrap();
    let mut argv = vec!["dui", "--config", path];
    argv.extend_from_slice(args);
    dui::cli::run(Cli::try_parse_from(argv).unwrap()).await.unwrap();
}

#[tokio::test]
async fn tenants_are_managed_from_the_command_line() {
    let app = TestApp::spawn().await;
    let file = config_file(&app);
    run(
        &file,
        &[
            "tenant",
            "create",
            "--name",
            "APF 33",
            "--finess-juridique",
            "330000017",
            "--admin-family-name",
            "Laurent",
            "--admin-given-name",
            "Marc",
        ],
    )
    .await;
    let finess = Finess::parse("330000017").unwrap();
    let tenant = app.store.tenant_by_finess(&finess).await.unwrap().expect("created");
    assert_eq!(tenant.name, "APF 33");

    run(&file, &["tenant", "suspend", "330000017"]).await;
    assert_eq!(app.store.tenant_by_finess(&finess).await.unwrap().unwrap().status, TenantStatus::Suspended);
    run(&file, &["tenant", "resume", &tenant.id.to_string()]).await;
    assert_eq!(app.store.tenant_by_finess(&finess).await.unwrap().unwrap().status, TenantStatus::Active);
    run(&file, &["tenant", "list"]).await;
    run(&file, &["migrate"]).await;

    // `dui token` mints a token the server accepts, for the created administrator.
    let config = Config::load(Some(file.path()), Vec::new()).unwrap();
    let scope = dui_domain::scope::TenantScope::console(tenant.id);
    let admin = dui_app::people::list_users(&app.app(), &scope, dui_domain::pagination::PageRequest::first(10))
        .await
        .unwrap()
        .items
        .remove(0);
    let args = TokenArgs {
        user: Some(admin.id.as_uuid()),
        tenant: Some("330000017".to_owned()),
        operator: None,
        ttl: Some(600),
    };
    let token = dui::cli::token(&config, &app.store, &args).await.unwrap();
    // The command line takes a user with their tenant, or an operator; nothing less, not both.
    let user = admin.id.to_string();
    let parses = |args: &[&str]| Cli::try_parse_from([&["dui", "token"][..], args].concat()).is_ok();
    assert!(parses(&["--user", &user, "--tenant", "330000017", "--ttl", "600"]));
    assert!(parses(&["--operator", "astreinte"]));
    assert!(!parses(&["--user", &user]), "a user needs their tenant");
    assert!(!parses(&["--tenant", "330000017"]), "a tenant alone is no subject");
    assert!(!parses(&["--user", &user, "--tenant", "330000017", "--operator", "astreinte"]));
    assert!(!parses(&[]));
    let me = app.get("/api/v1/me", &token).await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json["user"]["family_name"], "Laurent");
    // Not for an unknown user.
    let ghost = TokenArgs { user: Some(uuid::Uuid::now_v7()), ..args };
    assert!(dui::cli::token(&config, &app.store, &ghost).await.is_err());

    run(&file, &["operator", "create", "--name", "astreinte"]).await;
    let args = TokenArgs { user: None, tenant: None, operator: Some("astreinte".to_owned()), ttl: None };
    let token = dui::cli::token(&config, &app.store, &args).await.unwrap();
    assert_eq!(app.get("/platform/v1/tenants", &token).await.status, 200);

    // Export, then import as a new tenant: the administrator is there, under the same id.
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("apf33.jsonl");
    run(&file, &["tenant", "export", "330000017", "--out", export.to_str().unwrap()]).await;
    assert!(!export.with_extension("partial").exists(), "the partial file was renamed");
    let path = export.to_str().unwrap();
    run(&file, &["tenant", "import", path, "--name", "APF 33 (copie)", "--finess-juridique", "330000025"]).await;
    let copy = app.store.tenant_by_finess(&Finess::parse("330000025").unwrap()).await.unwrap().expect("imported");
    assert_eq!((copy.name.as_str(), copy.status), ("APF 33 (copie)", TenantStatus::Active));
    let scope = dui_domain::scope::TenantScope::console(copy.id);
    let page = dui_domain::pagination::PageRequest::first(10);
    let users = dui_app::people::list_users(&app.app(), &scope, page).await.unwrap();
    assert_eq!(users.items[0].id, admin.id);
    // The same file again: the FINESS is taken now, and the command says so.
    let again = ["dui", "--config", file.path().to_str().unwrap(), "tenant", "import", path];
    let refused =
        dui::cli::run(Cli::try_parse_from([&again[..], &["--finess-juridique", "330000025"]].concat()).unwrap());
    assert!(refused.await.is_err());
}

#[tokio::test]
async fn keys_are_generated_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.pem");
    dui::cli::run(
        Cli::try_parse_from(["dui", "keys", "generate-signing-key", "--out", path.to_str().unwrap()]).unwrap(),
    )
    .await
    .unwrap();
    let pem = std::fs::read_to_string(&path).unwrap();
    assert!(dui_auth::keys::SigningKey::from_pem(&pem).is_ok());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[tokio::test]
async fn the_demo_seed_is_complete_and_idempotent() {
    let app = TestApp::spawn().await;
    let first = dui::demo::seed(&app.store).await.unwrap();
    let second = dui::demo::seed(&app.store).await.unwrap();
    assert_eq!(first.tenant.id, second.tenant.id);
    assert_eq!(first.users.len(), 6);
    assert_eq!(
        first.users.iter().map(|u| u.user.id).collect::<Vec<_>>(),
        second.users.iter().map(|u| u.user.id).collect::<Vec<_>>()
    );
    let scope = dui_domain::scope::TenantScope::console(first.tenant.id);
    let establishments =
        dui_app::structure::list_establishments(&app.app(), &scope, dui_domain::pagination::PageRequest::first(50))
            .await
            .unwrap()
            .items;
    assert_eq!(establishments.len(), 3);
    // The demo nurse sees her nursing home only.
    let nurse = first.users.iter().find(|u| u.user.family_name == "Moreau").unwrap();
    let token = app.token(dui_auth::own::Subject::TenantUser { tenant: first.tenant.id, user: nurse.user.id });
    let visible = app.get("/api/v1/establishments", &token).await;
    assert_eq!(visible.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(visible.json["items"][0]["name"], "EHPAD Les Tilleuls");
    // Care data to look at: today's tasks from a plan in force, a GIR, a transmission ciblée.
    let ehpad = visible.json["items"][0]["id"].as_str().unwrap();
    let tasks = app.get(&format!("/api/v1/establishments/{ehpad}/tasks"), &token).await;
    assert_eq!(tasks.status, 200, "{}", tasks.text);
    // The plan came into force with the seed: tomorrow holds a whole day of its tasks.
    let tomorrow = chrono::Utc::now().date_naive() + chrono::Days::new(1);
    let tasks = app.get(&format!("/api/v1/establishments/{ehpad}/tasks?date={tomorrow}"), &token).await;
    assert!(tasks.json.as_array().unwrap().len() >= 3, "{}", tasks.text);
    let residents = app.get("/api/v1/residents", &token).await;
    let lefort = residents.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["identity"]["birth_name"] == "Lefort")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let gir = app.get(&format!("/api/v1/residents/{lefort}/gir-history"), &token).await;
    assert_eq!(gir.json.as_array().unwrap().len(), 1, "{}", gir.text);
    let notes = app.get(&format!("/api/v1/residents/{lefort}/notes"), &token).await;
    assert!(notes.json["items"].as_array().unwrap().iter().any(|n| n["kind"] == "targeted"), "{}", notes.text);
}

#[tokio::test]
async fn serving_refuses_an_incomplete_configuration_with_a_clear_message() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "[http]\nlisten = \"127.0.0.1:0\"\n").unwrap();
    let cli = Cli::try_parse_from(["dui", "--config", file.path().to_str().unwrap(), "serve"]).unwrap();
    let error = format!("{:#}", dui::cli::run(cli).await.unwrap_err());
    assert!(error.contains("database.url"), "{error}");
    assert!(error.contains("signing_key"), "{error}");

    std::fs::write(file.path(), "[database]\npool_size = \"lots\"\n").unwrap();
    let cli = Cli::try_parse_from(["dui", "--config", file.path().to_str().unwrap(), "serve"]).unwrap();
    let error = format!("{:#}", dui::cli::run(cli).await.unwrap_err());
    assert!(error.contains("invalid configuration") && error.contains("pool_size"), "{error}");
}

#[tokio::test]
async fn keys_are_rotated_and_data_resealed_from_the_command_line() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Alpha").await;
    let body = serde_json::json!({"establishment_id": tenant.establishments[0].id,
        "identity": {"birth_name": "Console", "first_names": "Ada", "sex": "female", "birth_date": "1935-12-10"}});
    let created = app.post("/api/v1/residents", &tenant.admin.token, body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let file = config_file(&app);
    let finess = app.store.tenant_by_id(tenant.id).await.unwrap().unwrap().finess_juridique.to_string();

    run(&file, &["keys", "rotate-dek", "--tenant", &finess]).await;
    // The record, its first identity-status event and the hand-over's admission event.
    assert_eq!(app.store.count_stale_rows(tenant.id).await.unwrap(), 3);
    run(&file, &["keys", "status", "--tenant", &finess]).await;
    run(&file, &["keys", "reencrypt", "--batch-size", "10"]).await;
    assert_eq!(app.store.count_stale_rows(tenant.id).await.unwrap(), 0);
    run(&file, &["keys", "rotate-kek"]).await;
    let read =
        app.get(&format!("/api/v1/residents/{}", created.json["id"].as_str().unwrap()), &tenant.admin.token).await;
    assert_eq!(read.json["identity"]["birth_name"], "Console");

    // An export from the command line is complete and written atomically.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("alpha.json");
    run(&file, &["tenant", "export", &finess, "--out", out.to_str().unwrap()]).await;
    let (_, tables) = crate::encryption::read_tenant_export(&out);
    assert_eq!(tables["residents"][0]["identity"]["first_names"], "Ada");
    assert!(!out.with_extension("partial").exists());
}

#[tokio::test]
async fn the_drug_referential_is_imported_from_the_command_line() {
    let app = TestApp::spawn().await;
    let file = config_file(&app);
    let dir = crate::drugs::fixture_dir();
    run(&file, &["drugs", "import", "--dir", dir.to_str().unwrap()]).await;
    run(&file, &["drugs", "import", "--dir", dir.to_str().unwrap()]).await;
    let owner = app.db.connect(&app.db.owner_url).await;
    let row = owner
        .query_one("SELECT (SELECT count(*) FROM drug_specialities), (SELECT count(*) FROM drug_imports)", &[])
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (15, 1), "imported once");
    // A folder without the files: an error naming the file, nothing written.
    let empty = tempfile::tempdir().unwrap();
    let path = file.path().to_str().unwrap();
    let argv = ["dui", "--config", path, "drugs", "import", "--dir", empty.path().to_str().unwrap()];
    let error = dui::cli::run(Cli::try_parse_from(argv).unwrap()).await.unwrap_err();
    assert!(format!("{error:#}").contains("CIS_bdpm.txt"), "{error:#}");
}
