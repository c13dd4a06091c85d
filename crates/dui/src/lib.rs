//! The dui server: configuration, wiring, the command line and the demo. The binary in
//! `main.rs` only parses arguments and calls [`cli::run`].

pub mod cli;
pub mod config;
pub mod demo;
pub mod drugs;
pub mod exchange;
pub mod server;
