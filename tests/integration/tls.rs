//! The database connection over TLS, with the server's certificate verified.

use std::path::Path;
use std::process::Command;

use dui_storage::cluster::{self, PrivateCluster};
use dui_testkit::{TestApp, TestDb};

/// A test CA and a certificate for 127.0.0.1 / localhost signed by it, made with openssl.
fn make_certificates(dir: &Path) {
    let run = |args: &[&str]| {
        let output = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl is installed");
        assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=dui test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    ]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[tokio::test]
async fn the_database_connection_is_encrypted_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let ssl = [
        "ssl=on".to_owned(),
        format!("ssl_cert_file={}", dir.path().join("server.crt").display()),
        format!("ssl_key_file={}", dir.path().join("server.key").display()),
    ];
    let settings: Vec<&str> = ssl.iter().map(String::as_str).collect();
    let pg = PrivateCluster::create_with(dir.path(), &settings).expect("a cluster with TLS");
    let provisioned = cluster::provision(&pg.admin_url(), "dui_tls").await.unwrap();
    let ca = dir.path().join("ca.crt");
    let require = |url: &str| format!("{url} sslmode=require");

    // Migrations over TLS.
    dui_storage::migrate::run_with_ca(&require(&provisioned.owner_url), Some(&ca)).await.unwrap();

    // The server over TLS: it works, and the connections are encrypted.
    let db = TestDb {
        name: provisioned.database.clone(),
        admin_url: pg.admin_url(),
        owner_url: require(&provisioned.owner_url),
        app_url: require(&provisioned.app_url),
    };
    let ca_for_server = ca.clone();
    let app = TestApp::spawn_on(db, move |config| config.database.ca_file = Some(ca_for_server)).await;
    assert!(app.store.connection_encrypted().await.unwrap());
    let tenant = app.tenant("Chiffré").await;
    assert_eq!(app.get("/api/v1/me", &tenant.admin.token).await.status, 200);
    let db = app.stop().await;

    // Without the CA, the server's certificate is not trusted: start-up fails, saying why.
    let mut config = dui::config::Config::default();
    config.database.url = Some(db.app_url.clone().into());
    config.database.owner_url = Some(db.owner_url.clone().into());
    config.database.migrate_on_start = false;
    config.database.startup_timeout_secs = 1;
    config.auth.signing_key = Some(dui_testkit::keys::SIGNING_KEY.to_owned().into());
    config.crypto.active_kek = Some(1);
    config.crypto.keks.insert("1".to_owned(), dui_testkit::keys::KEK_V1.to_owned().into());
    let error = format!("{:#}", dui::server::build_state(&config).await.unwrap_err());
    assert!(error.contains("TLS handshake") && error.contains("certificate"), "{error}");

    // Without sslmode=require, this test server (trust authentication) accepts a plain
    // connection: TLS is the connection string's choice, never silently downgraded from it.
    let plain = dui_storage::Db::new(&dui_storage::DbConfig::new(
        provisioned.app_url.clone(),
        dui_testkit::keys::crypto_config(),
    ))
    .unwrap();
    assert!(!plain.connection_encrypted().await.unwrap());
    // Whatever the connection string, prepared statements keep their generic plan.
    assert_eq!(plain.plan_cache_mode().await.unwrap(), "force_generic_plan");
    // And never start parallel workers for them.
    assert_eq!(plain.setting("max_parallel_workers_per_gather").await.unwrap(), "0");
    drop(db);
    pg.stop().unwrap();
}
