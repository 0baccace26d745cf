//! The engine's entry point: discover -> plan -> apply, as `skuswap plan`/`apply` and the
//! rehearsal all run it. A journal that already holds a migration resumes it (no discovery);
//! otherwise the server is read, a plan made, and the plan carried out.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::apply::{ApplyError, ApplyOptions, ApplyOutcome, Progress, apply};
use crate::client::{ClientError, PartnerCenter};
use crate::discover::{DiscoverOptions, discover};
use crate::journal::{Journal, JournalError};
use crate::mapping::Mapping;
use crate::plan::{Plan, PlanError, Policy, plan};

/// How to migrate.
#[derive(Debug, Clone)]
pub struct Migrate<'a> {
    pub mapping: &'a Mapping,
    pub discovery: DiscoverOptions<'a>,
    /// The rate the plan's deadline estimate assumes (Partner Center documents 500 a minute).
    pub requests_per_minute: u32,
    pub apply: ApplyOptions,
}

/// What the caller decides and hears along the way. Progress of `apply` comes through the
/// [`Progress`] supertrait.
pub trait Hooks: Progress {
    /// Told `(done, total)` as discovery reads customers.
    fn discovering(&self, _done: usize, _total: usize) {}
    /// The instant the plan is made from, asked once discovery is over (the engine never reads
    /// a clock: the command line passes now, a rehearsal its virtual time).
    fn planning_instant(&self) -> DateTime<Utc>;
    /// The plan to carry out, given the fresh one: a saved plan checked against it, or a
    /// test's deliberately broken reordering. An `Err` refuses, with nothing changed.
    fn accept(&self, fresh: Plan) -> Result<Plan, String> {
        Ok(fresh)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{0}")]
    Refused(String),
}

/// A migration carried out (or as far as it got).
#[derive(Debug, Clone)]
pub struct Migration {
    pub plan: Arc<Plan>,
    pub outcome: ApplyOutcome,
    /// The journal already held this migration: nothing was discovered or planned.
    pub resumed: bool,
}

/// Discover and plan: reads only.
pub async fn plan_migration<P: PartnerCenter>(
    pc: &P,
    how: &Migrate<'_>,
    hooks: &dyn Hooks,
) -> Result<Plan, MigrateError> {
    let snapshot = discover(pc, how.mapping, &how.discovery, |done, total| hooks.discovering(done, total)).await?;
    let policy = Policy { now: hooks.planning_instant(), requests_per_minute: how.requests_per_minute };
    let fresh = plan(&snapshot, how.mapping, &policy)?;
    hooks.accept(fresh).map_err(MigrateError::Refused)
}

/// Resume the journal's migration, or discover and plan a new one; then apply it.
pub async fn migrate<P: PartnerCenter + 'static>(
    pc: Arc<P>,
    journal: Arc<Journal>,
    how: &Migrate<'_>,
    hooks: Arc<dyn Hooks>,
) -> Result<Migration, MigrateError> {
    let (plan, resumed) = match journal.shared_plan()? {
        Some(p) => (p, true),
        None => (Arc::new(plan_migration(pc.as_ref(), how, hooks.as_ref()).await?), false),
    };
    let outcome = apply(pc, plan.clone(), journal, &how.apply, hooks).await?;
    Ok(Migration { plan, outcome, resumed })
}
