//! The rehearsal: the whole migration against an in-process mock, on virtual time, judged.
//!
//! Discovery and every step cost requests, and at the configured rate (500 a minute) each
//! request costs virtual time, so an end date that falls mid-migration passes exactly where it
//! would for real. Prospects that accept later are migrated in a later wave. Then the clock
//! runs past every end date and the de-provisioning window, and the mock's audit log is
//! judged.
//!
//! # Layout
//! - `runner`: runs the waves (the engine's own `migrate`), resumes, reapplies, closes the window.
//! - `shards`: a large book dealt into worlds of their own, run on both cores, merged back.
//! - `folding`: the judge folds the audit log on the other core while the waves run.
//! - `pacing`: virtual time: requests cost time at the rate, waits move the clock.
//! - `verdict`: what "passed" means, built on the mock's judge.
//! - `report`: the rehearsal as one value (waves, timelines, seats, faults, the verdict).
//! - `render`: that value as terminal text, JSON, or a self-contained HTML page.

mod folding;
mod pacing;
pub mod render;
pub mod report;
mod runner;
pub mod shards;
pub mod verdict;

use std::sync::Arc;

use mock_server::model::World;
use mock_server::model::faults::FaultPlan;
use skuswap_migrator::client::{InProcess, PartnerCenter, RestClient};
use skuswap_migrator::mapping::Mapping;
use skuswap_migrator::plan::Plan;

pub use report::{FaultReport, Rehearsal, SeatRow, Timeline, Wave};
pub use runner::rehearse_with;
pub use verdict::{Expected, Verdict};

/// The rehearsal's own client: the engine's REST client over the in-process transport.
pub type Client = RestClient<InProcess<axum::Router>>;

/// Which engine rehearses. The real one is [`Correct`]; tests build deliberately broken ones
/// (remove-then-assign, suspend first, no reconciliation, ...) to prove the judge catches them.
pub trait Engine: Send + Sync {
    type Pc: PartnerCenter + 'static;
    /// The client the engine talks through (a wrapper may misbehave, or crash).
    fn client(&self, pc: Arc<Client>) -> Arc<Self::Pc>;
    /// The plan the engine follows (a broken engine may reorder it).
    fn shape(&self, plan: Plan) -> Plan {
        plan
    }
    /// Whether the client waits out `Retry-After` and back-off on the virtual clock.
    fn waits(&self) -> bool {
        true
    }
    /// Called before each resumed run of `apply` (a crashed process starts again).
    fn restart(&self) {}
    /// How many copies of the engine run the same plan at once, each with its own journal
    /// (two operators who both pressed "apply").
    fn racers(&self) -> usize {
        1
    }
    /// Whether one engine may serve several worlds at once, from their own threads (a sharded
    /// rehearsal): only if it keeps no state of its own between calls.
    fn shardable(&self) -> bool {
        false
    }
}

/// The engine as shipped.
pub struct Correct;

impl Engine for Correct {
    type Pc = Client;
    fn client(&self, pc: Arc<Client>) -> Arc<Client> {
        pc
    }
    fn shardable(&self) -> bool {
        true
    }
}

#[derive(Clone)]
pub struct Options {
    pub rate: u32,
    pub mapping: Mapping,
    pub seed: Option<u64>,
    /// A fault plan in force while the migration runs (rate limits, errors, lost answers).
    pub faults: Option<FaultPlan>,
    /// What the customers' own admins do while the migration runs: called with the world and
    /// the number of engine steps so far, before each step (tests license new users, or jump
    /// the clock, this way). Losses to the clock are then judged as under faults.
    pub meanwhile: Option<Meanwhile>,
    /// After the migration, run `apply` once more per wave with a fresh journal and count the
    /// changes it makes (there must be none).
    pub reapply: bool,
    /// Sign in through the mock's authority (refresh-token flow) with access tokens that last
    /// this many virtual seconds, renewed as the migration runs; `None`: one fixed token.
    pub token_lifetime: Option<u32>,
    /// Worlds the customers are dealt into, run side by side on their own threads, each with
    /// its share of the rate; 1: one world. See [`shards`] for when a book can be sharded.
    pub shards: usize,
}

/// See [`Options::meanwhile`].
pub type Meanwhile = Arc<dyn Fn(&mut World, u64) + Send + Sync>;

/// Run a rehearsal of `scenario` with the engine as shipped.
pub async fn rehearse(scenario: &mock_server::model::Scenario, opts: &Options) -> anyhow::Result<Rehearsal> {
    rehearse_with(scenario, opts, &Correct).await
}

/// [`rehearse`] a book nothing else needs: its memory is freed as soon as its customers are
/// in their worlds, for the worlds' growth to reuse (a book is a tenth of a large
/// rehearsal's peak).
pub async fn rehearse_owned(scenario: mock_server::model::Scenario, opts: &Options) -> anyhow::Result<Rehearsal> {
    runner::rehearse_book(std::borrow::Cow::Owned(scenario), opts, &Correct).await
}
