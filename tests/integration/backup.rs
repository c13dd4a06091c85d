//! The backup and restore drill (see `docs/backup.md`): a platform's PostgreSQL is backed up
//! the way production does it — a base backup and the WAL archive — and restored to a point in
//! time into a new cluster; dui starts on it, the audit chains verify, what was written before
//! the point reads back identical and what came after is absent. And the backup alone, without
//! the key-encryption keys, gives no identity: the files hold none in clear, and a server with
//! other keys cannot open them.
//!
//! `scripts/restore-drill` runs this test and shows the figures it prints.

use std::path::Path;
use std::time::{Duration, Instant};

use clap::Parser;
use dui_auth::own::Subject;
use dui_domain::people::Role;
use dui_storage::cluster::{self, PrivateCluster};
use dui_testkit::{TestApp, TestDb, TestTenant, TestUser, keys, nir};
use serde_json::{Value, json};
use tokio_postgres::NoTls;

/// A person admitted with an INS, and a note about them.
struct Person {
    id: String,
    birth_name: &'static str,
    ins: String,
    note: String,
}

async fn admit(app: &TestApp, tenant: &TestTenant, nurse: &TestUser, birth_name: &'static str, serial: u32) -> Person {
    let birth_date = format!("19{}-0{}-1{}", 30 + serial, 1 + serial % 9, serial % 10);
    let ins = nir(true, &birth_date, serial);
    let admitted = app
        .post(
            "/api/v1/residents",
            &tenant.admin.token,
            json!({"establishment_id": tenant.establishments[0].id, "unit_id": tenant.units[0].id,
                   "identity": {"birth_name": birth_name, "first_names": "Aliénor", "sex": "female",
                                "birth_date": birth_date, "birth_place": "75056"},
                   "ins": {"matricule": ins, "oid": "1.2.250.1.213.1.4.10"}}),
        )
        .await;
    assert_eq!(admitted.status, 201, "{}", admitted.text);
    let id = admitted.json["id"].as_str().unwrap().to_owned();
    let note = format!("Transmission pour Mme {birth_name} : a bien dormi, appétit conservé");
    let written = app.post(&format!("/api/v1/residents/{id}/notes"), &nurse.token, json!({"text": note})).await;
    assert_eq!(written.status, 201, "{}", written.text);
    Person { id, birth_name, ins, note }
}

/// What the API shows of a person: the record and its notes.
async fn shown(app: &TestApp, token: &str, person: &Person) -> (Value, Value) {
    let record = app.get(&format!("/api/v1/residents/{}", person.id), token).await;
    assert_eq!(record.status, 200, "{}", record.text);
    let notes = app.get(&format!("/api/v1/residents/{}/notes", person.id), token).await;
    assert_eq!(notes.status, 200, "{}", notes.text);
    (record.json, notes.json)
}

async fn admin_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect as the superuser");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// The size of the files under `dir`.
fn size_of(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() { size_of(&entry.path()) } else { meta.len() };
    }
    total
}

/// The files under `dir` that hold `needle`, byte for byte.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if memchr::memmem::find(&std::fs::read(&path).unwrap(), needle).is_some() {
            found.push(path.display().to_string());
        }
    }
    found
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

/// A configuration file for the command line on `db`, with this key-encryption key.
fn config_file(db: &TestDb, kek: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        format!(
            "[database]\nurl = \"{}\"\nowner_url = \"{}\"\n[auth]\nissuer = \"http://dui.test\"\nsigning_key = \"\"\"\n{}\"\"\"\n[crypto]\nactive_kek = 1\nkeks = {{ 1 = \"{kek}\" }}\n[log]\nlevel = \"error\"\n",
            db.app_url,
            db.owner_url,
            keys::SIGNING_KEY,
        ),
    )
    .unwrap();
    file
}

/// `dui audit verify`: what it reports when it fails.
async fn audit_verify(file: &tempfile::NamedTempFile) -> Result<(), String> {
    let path = file.path().to_str().unwrap();
    let cli = dui::cli::Cli::try_parse_from(["dui", "--config", path, "audit", "verify"]).unwrap();
    dui::cli::run(cli).await.map_err(|error| format!("{error:#}"))
}

#[tokio::test]
async fn restore_drill_to_a_point_in_time_into_a_new_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("wal-archive");
    let base = dir.path().join("base-backup");

    // The platform: PostgreSQL archiving its WAL, the schema migrated, dui serving.
    let pg = PrivateCluster::create_archiving(&dir.path().join("primary"), &archive, &[]).expect("a cluster");
    let provisioned = cluster::provision(&pg.admin_url(), "dui_drill").await.unwrap();
    dui_storage::migrate::run(&provisioned.owner_url).await.unwrap();
    let db = TestDb {
        name: provisioned.database.clone(),
        admin_url: pg.admin_url(),
        owner_url: provisioned.owner_url.clone(),
        app_url: provisioned.app_url.clone(),
    };
    let app = TestApp::spawn_on(db, |_| {}).await;
    let tenant = app.tenant("Sauvegarde").await;
    let nurse = app.user(&tenant, &[(Some(tenant.establishments[0].id), Role::Nurse)]).await;

    // Written before the base backup: restored from its data files.
    let mut kept =
        vec![admit(&app, &tenant, &nurse, "Frédégonde", 1).await, admit(&app, &tenant, &nurse, "Brunehaut", 2).await];
    pg.base_backup(&base).expect("a base backup");

    // Written after it, before the point: restored by replaying the archive.
    kept.push(admit(&app, &tenant, &nurse, "Radegonde", 3).await);
    kept.push(admit(&app, &tenant, &nurse, "Bertrade", 4).await);
    // In clear on purpose (a unit's name is no one's data): it must be found in the archive,
    // or the search below for names proves nothing.
    let witness = "Unité Témoin Archivée";
    let unit = app
        .post(
            &format!("/api/v1/establishments/{}/units", tenant.establishments[0].id),
            &tenant.admin.token,
            json!({"name": witness}),
        )
        .await;
    assert_eq!(unit.status, 201, "{}", unit.text);
    let mut before = Vec::new();
    for person in &kept {
        before.push(shown(&app, &nurse.token, person).await);
    }

    // The point to restore to. Commit times have microsecond resolution: what follows commits
    // after it.
    let admin = admin_client(&pg.admin_url()).await;
    let point: String = admin.query_one("SELECT clock_timestamp()::text", &[]).await.unwrap().get(0);
    tokio::time::sleep(Duration::from_millis(50)).await;

    // After the point: a person admitted, a note on a person kept, then the accident — the
    // database dropped.
    let lost = admit(&app, &tenant, &nurse, "Galswinthe", 5).await;
    let late_note = "Note écrite après le point de restauration";
    let written =
        app.post(&format!("/api/v1/residents/{}/notes", kept[0].id), &nurse.token, json!({"text": late_note})).await;
    assert_eq!(written.status, 201, "{}", written.text);
    drop(app.stop().await);
    let gone = admin.query_opt("SELECT 1 FROM pg_database WHERE datname = 'dui_drill'", &[]).await.unwrap();
    assert!(gone.is_none(), "the database is gone from the platform");

    // The segment holding all of it is archived, then the platform's cluster stops for good.
    let segment: String = admin.query_one("SELECT pg_walfile_name(pg_switch_wal())", &[]).await.unwrap().get(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !archive.join(&segment).exists() {
        assert!(Instant::now() < deadline, "segment {segment} was not archived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(admin);
    pg.stop().unwrap();

    // The restore, into a new cluster directory, to the point.
    let started = Instant::now();
    let restored = PrivateCluster::restore(&dir.path().join("restored"), &base, &archive, &point).expect("a restore");
    let admin = admin_client(&restored.admin_url()).await;
    let in_recovery: bool = admin.query_one("SELECT pg_is_in_recovery()", &[]).await.unwrap().get(0);
    assert!(!in_recovery, "the restored cluster was promoted and takes writes");
    let restore_time = started.elapsed();
    let backup_label = std::fs::read_to_string(base.join("backup_label")).unwrap();
    let backup_start = backup_label
        .lines()
        .find_map(|l| l.strip_prefix("START WAL LOCATION: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let replayed: f64 = admin
        .query_one("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), $1::text::pg_lsn)::float8", &[&backup_start])
        .await
        .unwrap()
        .get(0);
    let db = TestDb {
        name: "dui_drill".to_owned(),
        admin_url: restored.admin_url(),
        owner_url: cluster::url_for(&restored.admin_url(), cluster::OWNER_ROLE, "dui_drill").unwrap(),
        app_url: cluster::url_for(&restored.admin_url(), cluster::APP_ROLE, "dui_drill").unwrap(),
    };

    // dui on the restored database, with the platform's keys: the tokens it signed still work.
    let serving = Instant::now();
    let app = TestApp::spawn_on(db, |_| {}).await;
    let first = app.get(&format!("/api/v1/residents/{}", kept[0].id), &nurse.token).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let first_answer = serving.elapsed();

    // What was written before the point reads back identical; what came after is absent.
    for (person, before) in kept.iter().zip(&before) {
        assert_eq!(&shown(&app, &nurse.token, person).await, before, "{} reads back as it was", person.birth_name);
    }
    assert!(!before[0].1.to_string().contains(late_note));
    let absent = app.get(&format!("/api/v1/residents/{}", lost.id), &nurse.token).await;
    assert_eq!(absent.problem(404)["detail"], "No such resource.");
    let found = app.post("/api/v1/residents/search", &nurse.token, json!({"ins": lost.ins})).await;
    assert_eq!(found.json, json!([]), "{}", found.text);
    let found = app.post("/api/v1/residents/search", &nurse.token, json!({"ins": kept[3].ins})).await;
    assert_eq!(found.json[0]["id"], kept[3].id.as_str(), "the blind indexes came back with the rows");
    // The restored platform takes writes.
    let after =
        app.post(&format!("/api/v1/residents/{}/notes", kept[1].id), &nurse.token, json!({"text": "Reprise"})).await;
    assert_eq!(after.status, 201, "{}", after.text);

    // The audit chain verifies, through the storage and through `dui audit verify`.
    let report = app.store.verify_audit(tenant.id).await.unwrap();
    assert_eq!(report.broken, None, "{report:?}");
    assert!(report.links > 0, "{report:?}");
    assert_eq!(audit_verify(&config_file(&app.db, keys::KEK_V1)).await, Ok(()));
    // The trail holds the events of what was restored, and none of what was lost (the refused
    // read of its id just now aside).
    let superuser = admin_client(&cluster::url_for(&restored.admin_url(), "postgres", "dui_drill").unwrap()).await;
    let events = |resident: &str| {
        let (superuser, resident) = (&superuser, resident.parse::<uuid::Uuid>().unwrap());
        async move {
            let count: i64 = superuser
                .query_one(
                    "SELECT count(*) FROM audit_events WHERE resident_id = $1 AND outcome = 'success'",
                    &[&resident],
                )
                .await
                .unwrap()
                .get(0);
            count
        }
    };
    assert!(events(&kept[3].id).await >= 3, "its admission, its note, its reads");
    assert_eq!(events(&lost.id).await, 0);

    // The backup alone — data files and WAL — holds no identity in clear: no name, no INS, no
    // note. The witness proves the search reads what was written: an establishment's name in
    // the data files, the unit's in the archive.
    assert!(!files_holding(&base, tenant.establishments[0].name.as_bytes()).is_empty(), "the search finds clear text");
    assert!(!files_holding(&archive, witness.as_bytes()).is_empty(), "the search reads the WAL archive");
    for person in kept.iter().chain([&lost]) {
        let upper = person.birth_name.to_uppercase();
        let strict = dui_domain::identity::ins_form(person.birth_name);
        for secret in [person.birth_name, upper.as_str(), strict.as_str(), person.ins.as_str(), person.note.as_str()] {
            for files in [&base, &archive] {
                let holding = files_holding(files, secret.as_bytes());
                assert!(holding.is_empty(), "{secret:?} is in clear in {holding:?}");
            }
        }
    }

    // A server started on the backup with other keys opens nothing: the platform's tokens are
    // refused, and with its own, every identity is a refusal, not an answer — nor a crash.
    let db = app.stop().await;
    let other = TestApp::spawn_on(db, |config| {
        config.crypto.keks.insert("1".to_owned(), keys::KEK_V2.to_owned().into());
        config.auth.signing_key = Some(keys::PREVIOUS_SIGNING_KEY.to_owned().into());
    })
    .await;
    other.get("/api/v1/me", &nurse.token).await.problem(401);
    let token = other.token(Subject::TenantUser { tenant: tenant.id, user: nurse.id });
    assert_eq!(other.get("/api/v1/me", &token).await.status, 200, "the directory is not sealed");
    for person in &kept {
        let refused = other.get(&format!("/api/v1/residents/{}", person.id), &token).await;
        refused.problem(500);
        assert!(!refused.text.contains(person.birth_name), "{}", refused.text);
        other.post("/api/v1/residents/search", &token, json!({"ins": person.ins})).await.problem(500);
    }
    assert_eq!(other.request(reqwest::Method::GET, "/livez", None, None).await.status, 200, "still serving");
    // The operator is told why.
    let why = audit_verify(&config_file(&other.db, keys::KEK_V2)).await.expect_err("verified without the key");
    assert!(why.contains("key-encryption key"), "{why}");

    // The segments recovery took from the archive, as its log tells.
    let log = std::fs::read_to_string(restored.dir().join("postgresql.log")).unwrap_or_default();
    let segments = log.lines().filter(|l| l.contains("restored log file")).count();
    assert!(segments > 0, "the WAL written after the base backup was replayed from the archive:\n{log}");
    println!(
        "restore drill: base backup {}, WAL archive {}, {segments} WAL segment(s) replayed from the archive \
         ({} of WAL after the backup's start); restored in {:.2} s, first answer {:.2} s later",
        megabytes(size_of(&base)),
        megabytes(size_of(&archive)),
        megabytes(replayed as u64),
        restore_time.as_secs_f64(),
        first_answer.as_secs_f64(),
    );
    drop(other.stop().await);
    restored.stop().unwrap();
}
