//! Scenarios, rehearsals and the `skuswap` front door. This crate wires the mock and the
//! migration engine together (the engine library never links the mock), so it hosts the
//! binary.
//!
//! # Layout
//! - `cli`: one file per command (`serve`, `migrate`, `rehearse`, `scenarios`), plus the
//!   target the migration commands talk to; `src/main.rs` only parses and dispatches.
//! - `rehearsal`: the whole migration on an in-process mock on virtual time: runner, pacing,
//!   verdict, report data, renderers (text, JSON, HTML).
//! - `named`: the named scenarios (`named/*.json`: full documents or generator specs), lent
//!   to the mock for `GET /admin/scenarios`.
//! - `generate`: synthetic tenants from knobs and one seed (`fake`, ChaCha).
//! - `csv_import`: a partner's book as CSV -> synthetic tenants of the same shape.
//! - `capture`: a read-only capture of a real book (GETs only), pseudonymised on request, as a
//!   scenario document or the bulk migration tool's CSV.
//! - `named/*.json`: the named scenario files (format in README, "Scenario documents").

pub mod capture;
pub mod cli;
pub mod csv_import;
pub mod generate;
pub mod named;
pub mod rehearsal;
