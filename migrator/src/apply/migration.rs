//! The `migrate` step: move a legacy subscription (with its add-ons) to new commerce on the
//! server, never creating a second migration while one is running or done. It runs in two
//! parts: `start` (while the customer's other steps go on) and, once every customer of the run
//! was started, `settle_all`: poll until each completes, and after a failure retry only once
//! the legacy subscription is active again (at once, or after Microsoft reverts a migration
//! that failed in limbo).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Mutex;

use super::{Run, StepError, step_request_id};
use crate::client::{AddOnRequest, Migration, NewMigration, PartnerCenter, SubscriptionStatus};
use crate::journal::StepState;
use crate::plan::{CustomerPlan, Step};

/// Creates are spaced at least this far apart, so no run sends more than Partner Center's
/// 100 creates per 5 minutes, whatever the concurrency (the spacing is taken under one lock).
const CREATE_SPACING: Duration = Duration::from_secs(3);
/// A migration is created at most this many times (the first, then retries after failures).
const CREATE_ROUNDS: u32 = 3;
/// How long one run waits for a migration, or for a revert, before leaving it to a later run.
const PATIENCE: Duration = Duration::from_secs(80 * 3600);
const FIRST_POLL: Duration = Duration::from_secs(60);
const LONGEST_POLL: Duration = Duration::from_secs(15 * 60);

/// Shared by every customer of one apply: the spacing of creates.
pub struct CreatePacer {
    started: Mutex<bool>,
    spacing: Duration,
}

impl CreatePacer {
    /// The pacer of a run beside `side_by_side - 1` others spending the same partner's limit.
    pub fn sharing(side_by_side: u32) -> Self {
        CreatePacer { started: Mutex::new(false), spacing: CREATE_SPACING * side_by_side.max(1) }
    }

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
            pc.wait(self.spacing).await;
        }
        *started = true;
        pc.create_migration(customer, request, request_id).await
    }
}

/// A migration started (or adopted) for step `step`, after `round` creates; `None`: left to
/// the settling phase (a failure in limbo whose revert must be waited for).
pub struct Started {
    pub step: usize,
    pub round: u32,
    pub migration: Option<Migration>,
}

/// Unclear answers to creates tolerated in one start before the step is left unknown.
const UNCLEAR_CREATES: u32 = 6;

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
/// With `defer`, a legacy subscription awaiting Microsoft's revert is not waited for here
/// (`Ok(None)`): the settling phase waits, once every customer was started.
pub(super) async fn start<P: PartnerCenter>(
    pc: &P,
    pacer: &CreatePacer,
    step: &MigrateStep<'_>,
    (request_id, stop): (&impl Fn(u32) -> String, &AtomicBool),
    rounds: u32,
    defer: bool,
) -> Result<Option<(Migration, u32)>, StepError> {
    let (round, mut unclear) = (rounds, 0);
    loop {
        // Read first: a lost answer, a crash or a rival may already have started it.
        let (running, failed_before) = live(pc, step.subscription).await?;
        if let Some(m) = running {
            return Ok(Some((m, round)));
        }
        let legacy = pc.subscription(step.customer, step.subscription).await?.subscription;
        match legacy.status {
            SubscriptionStatus::Active => {}
            // Failed after the suspension: Microsoft reverts it; wait, then create again.
            SubscriptionStatus::Suspended if failed_before && defer => return Ok(None),
            SubscriptionStatus::Suspended if failed_before => {
                wait_for_revert(pc, step, stop).await?;
                continue;
            }
            other => {
                return Err(StepError::Failed(format!("the legacy subscription is {other}, so it cannot migrate")));
            }
        }
        if round >= CREATE_ROUNDS {
            return Err(StepError::Failed(format!("the migration failed {CREATE_ROUNDS} times")));
        }
        match pacer.create(pc, step.customer, &step.request, &request_id(round + 1)).await {
            Ok(m) => return Ok(Some((m, round + 1))),
            // Maybe created: the next pass reads before it creates again.
            Err(e) if e.is_unclear() && unclear + 1 < UNCLEAR_CREATES => unclear += 1,
            // A rival (another engine, a resumed run) started it first: adopt theirs.
            Err(e) if e.to_string().contains("(code 1)") => {}
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
        match settle(pc, run.pacer, &step, (&ids, run.stop), s).await {
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
    (request_id, stop): (&impl Fn(u32) -> String, &AtomicBool),
    started: Started,
) -> Result<String, StepError> {
    let mut round = started.round;
    let mut failures = Vec::new();
    let mut migration = started.migration;
    loop {
        let m = match migration.take() {
            Some(m) => m,
            None => match start(pc, pacer, step, (request_id, stop), round, false).await {
                Ok(Some((m, r))) => {
                    round = r;
                    m
                }
                Ok(None) => return Err(StepError::Unknown("the migration is waiting for a revert".into())),
                Err(StepError::Failed(e)) if !failures.is_empty() => {
                    return Err(StepError::Failed(format!("{e} ({})", failures.join("; "))));
                }
                Err(e) => return Err(e),
            },
        };
        let done = poll(pc, step.customer, m, stop).await?;
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
    }
}

/// A migration of this subscription that is running or done (never start another), and
/// whether one failed before (a suspended legacy subscription then awaits its revert).
async fn live<P: PartnerCenter>(pc: &P, subscription: &str) -> Result<(Option<Migration>, bool), StepError> {
    let all = pc.migrations_of(subscription).await?;
    let running = all.iter().find(|m| m.is_completed()).or_else(|| all.iter().find(|m| !m.is_failed())).cloned();
    Ok((running, all.iter().any(Migration::is_failed)))
}

/// Poll until it completes or fails (any other status keeps it running): read at once (it may
/// have finished while other customers were started), then with back-off from a minute to a
/// quarter hour. A stop request leaves it to a resumed run.
async fn poll<P: PartnerCenter>(
    pc: &P,
    customer: &str,
    mut m: Migration,
    stop: &AtomicBool,
) -> Result<Migration, StepError> {
    let (mut waited, mut every) = (Duration::ZERO, FIRST_POLL);
    loop {
        m = pc.migration(customer, &m.id).await?;
        if m.is_completed() || m.is_failed() {
            return Ok(m);
        }
        if waited >= PATIENCE || stop.load(Ordering::SeqCst) {
            return Err(StepError::Unknown(format!("migration {} is still {} after {waited:?}", m.id, m.status)));
        }
        pc.wait(every).await;
        waited += every;
        every = (every * 2).min(LONGEST_POLL);
    }
}

/// A failure left legacy suspended: wait until Microsoft reactivates it (within 72 hours).
async fn wait_for_revert<P: PartnerCenter>(pc: &P, step: &MigrateStep<'_>, stop: &AtomicBool) -> Result<(), StepError> {
    let mut waited = Duration::ZERO;
    loop {
        let s = pc.subscription(step.customer, step.subscription).await?.subscription;
        if s.status == SubscriptionStatus::Active {
            return Ok(());
        }
        if waited >= PATIENCE || stop.load(Ordering::SeqCst) {
            return Err(StepError::Unknown(format!(
                "the migration failed and the legacy subscription is still {} after {waited:?}",
                s.status
            )));
        }
        pc.wait(LONGEST_POLL).await;
        waited += LONGEST_POLL;
    }
}
