//! The skuswap migration engine: discover expiring legacy subscriptions, plan (the mapping is
//! data), buy, swap every user's license in one atomic call, suspend the old subscription only
//! where this partner may, and report what the customer must do. It never depends on the
//! mock: it talks to anything that speaks Partner Center through [`client::PartnerCenter`].
//!
//! # Layout
//! - [`client`]: the `PartnerCenter` trait, the REST client, and its two transports.
//! - [`mapping`]: retired offer -> successors, and each row's path, as data (TOML).
//! - [`discover`]: read the snapshot a plan needs.
//! - [`plan`]: the pure planner; plans are JSON files and tables.
//! - [`journal`]: the SQLite journal of intents and outcomes.
//! - [`apply`]: the only module with effects; resumable and idempotent (the manual steps, and
//!   NCE migrations started once and settled after every customer started).
//! - [`migrate`]: the entry point: discover -> plan -> apply, or resume from the journal.
//! - [`verify`], [`rollback`], [`report`]: prove, undo, tell.

pub mod apply;
pub mod client;
pub mod discover;
pub mod journal;
pub mod mapping;
pub mod migrate;
pub mod plan;
pub mod report;
pub mod rollback;
pub mod verify;
