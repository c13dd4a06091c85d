//! The real server on port 0, and builders for what tests need in it.

use std::time::Duration;

use dui::config::Config;
use dui::server::RunningServer;
use dui_app::{people, platform, structure};
use dui_auth::own::{OwnIssuer, Subject};
use dui_domain::people::Role;
use dui_domain::scope::{RequestContext, TenantScope};
use dui_domain::structure::{Establishment, EstablishmentCategory, Unit};
use dui_domain::{EstablishmentId, OperatorId, TenantId, UserId};
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;
use uuid::Uuid;

use crate::db::TestDb;
use crate::keys;

/// The issuer of the server's own tokens in tests.
pub const TEST_ISSUER: &str = "http://dui.test";

/// A user of a test tenant and a valid token for them.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: UserId,
    pub token: String,
}

/// A test tenant: an administrator, two establishments (an EHPAD and a home-help service) with a
/// unit each.
#[derive(Debug, Clone)]
pub struct TestTenant {
    pub id: TenantId,
    pub admin: TestUser,
    pub establishments: Vec<Establishment>,
    pub units: Vec<Unit>,
}

/// An HTTP answer, with its body parsed as JSON when it is JSON.
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body as received (a PDF, for instance).
    pub bytes: Vec<u8>,
    /// The body read as UTF-8 (lossily).
    pub text: String,
    pub json: Value,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts that this is a problem details answer with `status`, and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "body: {}", self.text);
        assert_eq!(self.json["status"], status, "body: {}", self.text);
        assert!(self.json["type"].as_str().is_some_and(|t| t.starts_with("urn:dui:problem:")), "body: {}", self.text);
        assert!(self.json["detail"].as_str().is_some_and(|d| !d.is_empty()), "body: {}", self.text);
        assert!(self.json["request_id"].is_string(), "body: {}", self.text);
        &self.json
    }
}

/// The server, running on a database of its own.
#[derive(Debug)]
pub struct TestApp {
    pub db: TestDb,
    /// The server's storage (pool as the application role, and key cache), for seeding and
    /// inspecting through the same code as production.
    pub store: dui_storage::Db,
    pub base_url: String,
    pub client: reqwest::Client,
    pub config: Config,
    pub issuer: OwnIssuer,
    server: Option<RunningServer>,
}

/// A valid FINESS number, random enough not to collide across tests.
pub fn random_finess() -> String {
    let n = Uuid::new_v4().as_u128() % 10_000_000;
    format!("75{n:07}")
}

impl TestApp {
    /// Today as the test tenants' establishments count days (Europe/Paris), read from the
    /// database's clock: near midnight it is not UTC's day.
    pub async fn local_today(&self) -> chrono::NaiveDate {
        let owner = self.db.connect(&self.db.owner_url).await;
        owner.query_one("SELECT (now() AT TIME ZONE 'Europe/Paris')::date", &[]).await.unwrap().get(0)
    }

    /// The use cases, on the server's storage: for seeding and inspecting through the same code
    /// as the API.
    pub fn app(&self) -> dui_app::App {
        let config = dui_app::AppConfig { emergency_access_minutes: self.config.access.emergency_access_minutes };
        dui_app::App::new(self.store.clone(), config)
    }

    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with a configuration adjusted by `customise`.
    pub async fn spawn_with(customise: impl FnOnce(&mut Config)) -> Self {
        let db = TestDb::new().await;
        Self::spawn_on(db, customise).await
    }

    /// Spawns with these exchanges: the server's outbox workers send through their transports.
    pub async fn spawn_exchanging(exchanges: dui::server::Exchanges) -> Self {
        Self::spawn_full(TestDb::new().await, |_| {}, &exchanges).await
    }

    /// Spawns over an existing database.
    pub async fn spawn_on(db: TestDb, customise: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_full(db, customise, &dui::server::Exchanges::default()).await
    }

    async fn spawn_full(db: TestDb, customise: impl FnOnce(&mut Config), exchanges: &dui::server::Exchanges) -> Self {
        // DUI_TEST_LOG=debug (or any filter) shows the server's logs when a test fails.
        if let Ok(filter) = std::env::var("DUI_TEST_LOG") {
            dui::server::init_logging(dui::config::LogFormat::Pretty, &filter);
        }
        let mut config = Config::default();
        config.http.listen = "127.0.0.1:0".to_owned();
        config.database.url = Some(db.app_url.clone().into());
        config.database.owner_url = Some(db.owner_url.clone().into());
        config.database.migrate_on_start = false;
        config.database.pool_size = 4;
        config.database.startup_timeout_secs = 10;
        config.auth.issuer = TEST_ISSUER.to_owned();
        config.auth.signing_key = Some(keys::SIGNING_KEY.to_owned().into());
        config.auth.jwks_refresh_min_interval_secs = 0;
        config.crypto.active_kek = Some(1);
        config.crypto.keks.insert("1".to_owned(), keys::KEK_V1.to_owned().into());
        customise(&mut config);
        config.validate().expect("test configuration");
        let state = dui::server::build_state(&config).await.expect("server state");
        let listener = tokio::net::TcpListener::bind(config.listen_addr()).await.expect("bind");
        let server = dui::server::spawn_with(listener, state.clone(), exchanges).expect("spawn");
        let base_url = format!("http://{}", server.addr);
        // The server's own storage: what tests do through it is what the server sees at once.
        let store = state.db().clone();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        let issuer = state.issuer().clone();
        Self { db, store, base_url, client, config, issuer, server: Some(server) }
    }

    /// What SIGTERM does first: readiness starts failing while requests are still served.
    pub fn begin_shutdown(&self) {
        if let Some(server) = &self.server {
            server.state.begin_shutdown();
        }
    }

    /// Stops the server (graceful shutdown) and returns its database.
    pub async fn stop(mut self) -> TestDb {
        if let Some(server) = self.server.take() {
            server.stop().await.expect("clean stop");
        }
        self.db
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends a request; `body` is sent as JSON.
    pub async fn request(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> TestResponse {
        self.request_with(method, path, token, body, &[]).await
    }

    /// Sends a request with extra headers (`If-Match`, `Idempotency-Key`...).
    pub async fn request_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut request = self.client.request(method, self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::read(request.send().await.expect("request sent")).await
    }

    /// Reads any response.
    pub async fn read(response: reqwest::Response) -> TestResponse {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        TestResponse { status, headers, bytes, text, json }
    }

    pub async fn get(&self, path: &str, token: &str) -> TestResponse {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> TestResponse {
        self.request(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> TestResponse {
        self.request(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> TestResponse {
        self.request(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> TestResponse {
        self.request(Method::DELETE, path, Some(token), None).await
    }

    /// A token of the server's own issuer, valid for an hour.
    pub fn token(&self, subject: Subject) -> String {
        self.issuer.mint(subject, chrono::Utc::now(), chrono::Duration::hours(1))
    }

    /// Creates a platform operator and returns a token for them.
    pub async fn operator(&self) -> (OperatorId, String) {
        let operator = self.store.create_operator(&format!("operator-{}", Uuid::new_v4().simple())).await.unwrap();
        (operator.id, self.token(Subject::Operator(operator.id)))
    }

    /// Creates a tenant with an administrator, an EHPAD with one unit and a home-help service
    /// with one round.
    pub async fn tenant(&self, name: &str) -> TestTenant {
        let app = self.app();
        let request = RequestContext::default();
        let console = platform::Operator::console(&request);
        let tenant = platform::create_tenant(&app, console, name, &random_finess()).await.unwrap();
        let scope = TenantScope::console(tenant.id);
        let mut establishments = Vec::new();
        let mut units = Vec::new();
        for (label, category, unit) in
            [("EHPAD", EstablishmentCategory::Ehpad, "Aile A"), ("SAAD", EstablishmentCategory::Saad, "Tournée Nord")]
        {
            let name = format!("{label} {name}");
            let establishment = structure::create_establishment(&app, &scope, &random_finess(), &name, category, None)
                .await
                .unwrap()
                .value;
            units.push(structure::create_unit(&app, &scope, establishment.id, unit, None).await.unwrap().value);
            establishments.push(establishment);
        }
        let admin = people::CreateUser {
            family_name: "Admin".to_owned(),
            given_name: Some(name.to_owned()),
            ..Default::default()
        };
        let (admin, _) = platform::create_admin(&app, console, tenant.id, admin).await.unwrap();
        let token = self.token(Subject::TenantUser { tenant: tenant.id, user: admin.id });
        TestTenant { id: tenant.id, admin: TestUser { id: admin.id, token }, establishments, units }
    }

    /// Creates a user in `tenant` with these memberships (`None`: tenant-wide).
    pub async fn user(&self, tenant: &TestTenant, grants: &[(Option<EstablishmentId>, Role)]) -> TestUser {
        let app = self.app();
        let scope = TenantScope::console(tenant.id);
        let new = people::CreateUser {
            family_name: "Test".to_owned(),
            given_name: Some("User".to_owned()),
            ..Default::default()
        };
        let user = people::create_user(&app, &scope, new).await.unwrap().value;
        for (establishment, role) in grants {
            people::add_membership(&app, &scope, user.id, *establishment, *role, None).await.unwrap();
        }
        let token = self.token(Subject::TenantUser { tenant: tenant.id, user: user.id });
        TestUser { id: user.id, token }
    }
}
