//! A faithful, stateful, in-memory mock of the Partner Center REST API (v1) for rehearsing
//! subscription migrations offline, with a virtual clock, an audit log and a judge.
//!
//! # Layout
//! - [`model`]: the pure domain (state and every rule; no HTTP, no clock reads, no RNG).
//! - [`invariants`]: the pure checker folded over the audit log (`invariants/sorted_set.rs`: its small per-user sets).
//! - [`http`]: the axum surface: Partner Center routes under `/v1`, the admin API under
//!   `/admin`, wire types, and the one error type that renders Partner Center's error body.
//! - [`state`]: the shared handle (`Mock`) around the world, behind a `std::sync::Mutex`, and
//!   the named scenarios the hosting binary lends it (`ScenarioLibrary`).

pub mod http;
pub mod invariants;
pub mod model;
pub mod state;

pub use http::app;
pub use state::{Mock, mint_token};
