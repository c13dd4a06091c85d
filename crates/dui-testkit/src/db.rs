//! A database per test.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use dui_storage::cluster;
use tokio::sync::OnceCell;
use tokio_postgres::NoTls;

/// The superuser connection tests use: `DUI_TEST_ADMIN_URL`, else the local default; if that does
/// not work, a private cluster under `target/dui-test-pg` (created and started on first use).
pub async fn admin_url() -> String {
    static URL: OnceCell<String> = OnceCell::const_new();
    URL.get_or_init(|| async {
        let configured = std::env::var("DUI_TEST_ADMIN_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        cluster::ensure_server(&configured, &target_dir().join("dui-test-pg"))
            .await
            .unwrap_or_else(|e| panic!("no PostgreSQL for the tests: {e}"))
    })
    .await
    .clone()
}

/// The workspace's target directory.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}

async fn admin_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect as the test superuser");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// Test databases are named `dui_test_<unix seconds>_<random>`; those older than this are
/// leftovers of killed test runs and are dropped.
const STALE_AFTER_SECS: u64 = 3 * 3600;

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The migrated template, built once per schema version across all test processes.
async fn template(admin: &tokio_postgres::Client, url: &str) -> String {
    static NAME: OnceCell<String> = OnceCell::const_new();
    NAME.get_or_init(|| async {
        let name = format!("dui_tpl_{:016x}", dui_storage::migrate::fingerprint());
        // Test processes start together; one builds, the others wait for it.
        admin.execute("SELECT pg_advisory_lock(7243)", &[]).await.expect("template lock");
        let exists = admin.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name]).await.unwrap().is_some();
        if !exists {
            let building = format!("{name}_building");
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {building}")).await.unwrap();
            let provisioned = cluster::provision(url, &building).await.expect("provision the template");
            dui_storage::migrate::run(&provisioned.owner_url).await.expect("migrate the template");
            admin.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}")).await.unwrap();
        }
        sweep(admin).await;
        admin.execute("SELECT pg_advisory_unlock(7243)", &[]).await.unwrap();
        name
    })
    .await
    .clone()
}

/// Drops test databases left behind by interrupted runs.
async fn sweep(admin: &tokio_postgres::Client) {
    let rows =
        admin.query("SELECT datname::text FROM pg_database WHERE datname LIKE 'dui\\_test\\_%'", &[]).await.unwrap();
    let now = now_secs();
    for row in rows {
        let name: String = row.get(0);
        let created = name.split('_').nth(2).and_then(|s| s.parse::<u64>().ok()).unwrap_or(now);
        if now.saturating_sub(created) > STALE_AFTER_SECS {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    }
}

/// A database of its own for one test, migrated, dropped when the value is dropped.
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
    pub admin_url: String,
    /// The owner role's connection string (migrations, schema inspection).
    pub owner_url: String,
    /// The application role's connection string (what the server uses).
    pub app_url: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let url = admin_url().await;
        let admin = admin_client(&url).await;
        cluster::ensure_roles(&admin).await.expect("roles");
        let template = template(&admin, &url).await;
        let name = format!("dui_test_{}_{}", now_secs(), uuid::Uuid::new_v4().simple());
        admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template} OWNER {}", cluster::OWNER_ROLE))
            .await
            .expect("clone the template");
        Self {
            owner_url: cluster::url_for(&url, cluster::OWNER_ROLE, &name).unwrap(),
            app_url: cluster::url_for(&url, cluster::APP_ROLE, &name).unwrap(),
            admin_url: url,
            name,
        }
    }

    /// A client connected as `url` (one of this database's roles).
    pub async fn connect(&self, url: &str) -> tokio_postgres::Client {
        admin_client(url).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let url = self.admin_url.clone();
        // Drop runs outside any runtime guarantee: use a thread with its own small runtime.
        let dropper = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async move {
                if let Ok((client, connection)) = tokio_postgres::connect(&url, NoTls).await {
                    tokio::spawn(connection);
                    let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                }
            });
        });
        let _ = dropper.join();
    }
}
