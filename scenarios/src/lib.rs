//! Scenarios and the `skuswap` front door: this crate wires the mock and the migration engine
//! together (the engine library never links the mock), so it hosts the binary.
//!
//! # Layout
//! - `serve`: `skuswap serve`, the mock Partner Center on a socket.
//! - `migrate`: `plan`, `apply`, `verify`, `status`, `rollback` around the engine.
//! - `client`: one `PartnerCenter` over whichever transport the user picked.
//! - `src/main.rs`: the command line (clap), one subcommand per job.
//! - `named/*.json`: the named scenario files (format in README, "Scenario documents").

pub mod client;
pub mod migrate;
pub mod serve;
