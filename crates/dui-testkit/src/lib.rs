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
//! * [`insi`]: a local INSi teleservice over mutual TLS, and the test certificates.
//! * [`nir`]: matricules INS that agree with the traits of the test's people.

mod app;
mod db;
mod idp;
pub mod insi;
pub mod keys;

pub use app::{TestApp, TestResponse, TestTenant, TestUser, random_finess};
pub use db::{TestDb, admin_url};
pub use idp::FakeIdp;

/// `n` written in letters (`a`, `b`... `z`, `ba`...): names hold no digit, so a test that
/// makes many people names them `Famille` + `letters(i)`.
pub fn letters(n: usize) -> String {
    let mut n = n;
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII letters")
}

/// A matricule INS (NIR form, valid key) that agrees with the traits it encodes: the sex, the
/// year and month of `birth_date` (`YYYY-MM-DD`), and a birth in Paris (department 75, so it
/// agrees with a birth place `75xxx`, or any place before 1976); `serial` (below 1,000,000)
/// tells people apart.
pub fn nir(female: bool, birth_date: &str, serial: u32) -> String {
    let date = chrono::NaiveDate::parse_from_str(birth_date, "%Y-%m-%d").expect("a YYYY-MM-DD birth date");
    use chrono::Datelike;
    let body = format!(
        "{}{:02}{:02}75{:03}{:03}",
        if female { 2 } else { 1 },
        date.year().rem_euclid(100),
        date.month(),
        1 + (serial / 1000) % 999,
        serial % 1000
    );
    let number: u64 = body.parse().expect("digits");
    format!("{body}{:02}", 97 - number % 97)
}
