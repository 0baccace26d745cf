//! Scenarios and the `skuswap` front door: this crate wires the mock and the migration engine
//! together (the engine library never links the mock), so it hosts the binary.
//!
//! # Layout
//! - `serve`: `skuswap serve`, the mock Partner Center on a socket.
//! - `migrate`: `plan`, `apply`, `verify`, `status`, `rollback` around the engine.
//! - `client`: one `PartnerCenter` over whichever transport the user picked.
//! - `csv_import`: a partner's book as CSV -> synthetic tenants of the same shape.
//! - `generate`: synthetic tenants from knobs and one seed (`fake`, ChaCha).
//! - `html`: the self-contained HTML report (plotters SVG charts).
//! - `rehearse`: the whole migration against an in-process mock on virtual time, judged.
//! - `named`: the named scenarios (`named/*.json`): full documents or generator specs.
//! - `src/main.rs`: the command line (clap), one subcommand per job.
//! - `named/*.json`: the named scenario files (format in README, "Scenario documents").

pub mod cli;
pub mod client;
pub mod csv_import;
pub mod generate;
pub mod html;
pub mod migrate;
pub mod named;
pub mod rehearse;
pub mod serve;
