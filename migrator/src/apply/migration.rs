//! The `migrate` step: move a legacy subscription (with its add-ons) to new commerce on the
//! server, never creating a second migration while one is running or done. It runs in two
//! parts: `start` (while the customer's other steps go on) and, once every customer of the run
//! was started, `settle_all`: poll until each completes, and after a failure retry only once
//! the legacy subscription is active again (at once, or after Microsoft reverts a migration
//! that failed in limbo).

use std::time::Duration;

use tokio::sync::Mutex;

use super::{Run, StepError, step_request_id};
use crate::client::{AddOnRequest, Migration, NewMigration, PartnerCenter, SubscriptionStatus};
use crate::journal::StepState;
use crate::plan::{CustomerPlan, Step};

/// Creates are spaced at least this far apart, so no run sends more than Partner Center's
/// 100 creates per 5 minutes, whatever the concurrency (the spacing is taken under one lock).
pub const CREATE_SPACING: Duration = Duration::from_secs(3);
/// A migration is created at most this many times (the first, then retries after failures).
pub const CREATE_ROUNDS: u32 = 3;
/// How long one run waits for a migration, or for a revert, before leaving it to a later run.
pub const PATIENCE: Duration = Duration::from_secs(80 * 3600);
const FIRST_POLL: Duration = Duration::from_secs(60);
const LONGEST_POLL: Duration = Duration::from_secs(15 * 60);

/// Shared by every customer of one apply: the spacing of creates.
#[derive(Default)]
pub struct CreatePacer {
    started: Mutex<bool>,
}

impl CreatePacer {
    /// Hold the lock for the spacing, then create.
    async fn create<P: PartnerCenter>(
        &self,
        pc: &P,
        customer: &str,
        request: &NewMigration,
        request_id: &str,
    ) -> crate::client::Result<Migration> {
        let mut started = self.started.lock().await;
        if *started {
            pc.wait(CREATE_SPACING).await;
        }
        *started = true;
        pc.create_migration(customer, request, request_id).await
    }
}

/// A migration started (or adopted) for step `step`, after `round` creates.
pub struct Started {
    pub step: usize,
    pub round: u32,
    pub migration: Migration,
}

/// What the step is asked to do.
pub struct MigrateStep<'a> {
    pub customer: &'a str,
    pub subscription: &'a str,
    request: NewMigration,
}

impl<'a> MigrateStep<'a> {
    /// The plan's `Migrate` step, its batch id (`externalReferenceId`) the plan's id, so one
    /// query finds the whole batch.
    pub fn of(plan_id: &str, customer: &'a str, step: &'a Step) -> Option<MigrateStep<'a>> {
        let Step::Migrate { subscription_id, add_ons, term_duration, billing_cycle, purchase_full_term, .. } = step
        else {
            return None;
        };
        let request = NewMigration {
            current_subscription_id: subscription_id.clone(),
            term_duration: term_duration.clone(),
            billing_cycle: billing_cycle.clone(),
            purchase_full_term: *purchase_full_term,
            external_reference_id: Some(plan_id.to_string()),
            add_on_migrations: add_ons.iter().map(|a| AddOnRequest { current_subscription_id: a.clone() }).collect(),
        };
        Some(MigrateStep { customer, subscription: subscription_id, request })
    }
}

/// The `MS-RequestId` of each create round of step `index`.
pub fn request_ids(plan_id: &str, customer: &str, index: usize) -> impl Fn(u32) -> String {
    let (plan_id, customer) = (plan_id.to_string(), customer.to_string());
    move |round| step_request_id(&plan_id, &customer, index, &format!("migrate-{round}"))
}

/// Start the migration, or adopt the one running or done. `rounds` creates were made before.
pub(super) async fn start<P: PartnerCenter>(
    pc: &P,
    pacer: &CreatePacer,
    step: &MigrateStep<'_>,
    request_id: &impl Fn(u32) -> String,
    rounds: u32,
) -> Result<(Migration, u32), StepError> {
    let mut round = rounds;
    loop {
        // Read first: a lost answer, a crash or a rival may already have started it.
        let (running, failed_before) = live(pc, step.subscription).await?;
        if let Some(m) = running {
            return Ok((m, round));
        }
        let legacy = pc.subscription(step.customer, step.subscription).await?.subscription;
        match legacy.status {
            SubscriptionStatus::Active => {}
            // Failed after the suspension: Microsoft reverts it; wait, then create again.
            SubscriptionStatus::Suspended if failed_before => {
                wait_for_revert(pc, step).await?;
                continue;
            }
            other => {
                return Err(StepError::Failed(format!("the legacy subscription is {other}, so it cannot migrate")));
            }
        }
        if round >= CREATE_ROUNDS {
            return Err(StepError::Failed(format!("the migration failed {CREATE_ROUNDS} times")));
        }
        round += 1;
        match pacer.create(pc, step.customer, &step.request, &request_id(round)).await {
            Ok(m) => return Ok((m, round)),
            // Maybe created: the next pass reads before it creates again.
            Err(e) if e.is_unclear() => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Settle every migration a customer started, journaling each outcome.
pub(super) async fn settle_all<P: PartnerCenter>(
    pc: &P,
    c: &CustomerPlan,
    started: Vec<Started>,
    run: &Run<'_>,
) -> Result<(), StepError> {
    let cid = c.customer_id.as_str();
    let mut first_error = None;
    for s in started {
        let Some(step) = c.steps.get(s.step).and_then(|x| MigrateStep::of(run.plan_id, cid, x)) else { continue };
        let (index, ids) = (s.step, request_ids(run.plan_id, cid, s.step));
        match settle(pc, run.pacer, &step, &ids, s).await {
            Ok(outcome) => run.journal.finish(cid, index, StepState::Done, &outcome)?,
            Err(StepError::Failed(e)) => {
                run.journal.finish(cid, index, StepState::Failed, &e)?;
                first_error.get_or_insert(StepError::Failed(e));
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Poll until it completes; after a failure start again (bounded by `CREATE_ROUNDS`).
async fn settle<P: PartnerCenter>(
    pc: &P,
    pacer: &CreatePacer,
    step: &MigrateStep<'_>,
    request_id: &impl Fn(u32) -> String,
    started: Started,
) -> Result<String, StepError> {
    let (mut migration, mut round) = (started.migration, started.round);
    let mut failures = Vec::new();
    loop {
        let done = poll(pc, step.customer, migration).await?;
        if done.is_completed() {
            let nce = done.new_commerce_subscription_id.as_deref().unwrap_or("?");
            return Ok(format!("migration {} completed: new-commerce subscription {nce}", done.id));
        }
        failures.push(format!(
            "migration {} {}: {}",
            done.id,
            done.status,
            done.error_description.as_deref().unwrap_or("no reason given")
        ));
        match start(pc, pacer, step, request_id, round).await {
            Ok((m, r)) => (migration, round) = (m, r),
            Err(StepError::Failed(e)) => return Err(StepError::Failed(format!("{e} ({})", failures.join("; ")))),
            Err(e) => return Err(e),
        }
    }
}

/// A migration of this subscription that is running or done (never start another), and
/// whether one failed before (a suspended legacy subscription then awaits its revert).
async fn live<P: PartnerCenter>(pc: &P, subscription: &str) -> Result<(Option<Migration>, bool), StepError> {
    let all = pc.migrations_of(subscription).await?;
    let running = all.iter().find(|m| m.is_completed()).or_else(|| all.iter().find(|m| m.is_processing())).cloned();
    let failed = all.iter().any(|m| !m.is_completed() && !m.is_processing());
    Ok((running, failed))
}

/// Poll until it is no longer `Processing`, with back-off from a minute to a quarter hour.
async fn poll<P: PartnerCenter>(pc: &P, customer: &str, mut m: Migration) -> Result<Migration, StepError> {
    let (mut waited, mut every) = (Duration::ZERO, FIRST_POLL);
    while m.is_processing() {
        if waited >= PATIENCE {
            return Err(StepError::Unknown(format!("migration {} is still processing after {waited:?}", m.id)));
        }
        pc.wait(every).await;
        waited += every;
        every = (every * 2).min(LONGEST_POLL);
        m = pc.migration(customer, &m.id).await?;
    }
    Ok(m)
}

/// A failure left legacy suspended: wait until Microsoft reactivates it (within 72 hours).
async fn wait_for_revert<P: PartnerCenter>(pc: &P, step: &MigrateStep<'_>) -> Result<(), StepError> {
    let mut waited = Duration::ZERO;
    loop {
        pc.wait(LONGEST_POLL).await;
        waited += LONGEST_POLL;
        let s = pc.subscription(step.customer, step.subscription).await?.subscription;
        if s.status == SubscriptionStatus::Active {
            return Ok(());
        }
        if waited >= PATIENCE {
            return Err(StepError::Unknown(format!(
                "the migration failed and the legacy subscription is still {} after {waited:?}",
                s.status
            )));
        }
    }
}
