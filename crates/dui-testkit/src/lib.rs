//! Test support for dui.
//!
//! * [`TestDb`]: a fresh PostgreSQL database per test, cloned from a template migrated once per
//!   schema version. PostgreSQL is real: the configured server when it answers, else a private
//!   cluster started under `target/` (see [`dui_storage::cluster`]).
//! * [`TestApp`]: the real server, on port 0, over a [`TestDb`], with an HTTP client and builders
//!   for tenants, establishments, users and tokens.
//! * [`FakeIdp`]: a real OpenID Connect key server (JWKS over HTTP) and a token minter, standing
//!   in for Pro Santé Connect or an organisation's IdP.
//! * [`keys`]: fixed test keys.

mod app;
mod db;
mod idp;
pub mod keys;

pub use app::{TestApp, TestResponse, TestTenant, TestUser, random_finess};
pub use db::{TestDb, admin_url};
pub use idp::FakeIdp;
