//! Integration tests: the real server, a real PostgreSQL, real HTTP. Each test gets its own
//! database (see `dui_testkit::TestDb`), so they run in parallel.

mod access;
mod architecture;
mod assessments;
mod audit;
mod auth;
mod care_plans;
mod care_tasks;
mod cli;
mod connections;
mod encryption;
mod errors;
mod idempotency;
mod identity_insi;
mod insi;
mod instruments;
mod isolation;
mod limits;
mod measurements;
mod migrations;
mod openapi;
mod outbox;
mod people;
mod platform;
mod principals;
mod record;
mod residents;
mod resilience;
mod reversibility;
mod scale;
mod schema;
mod structure;
mod summary;
mod system;
mod tls;
mod transmissions;
