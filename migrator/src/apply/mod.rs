//! Apply: carry a plan out. The only module with effects on Partner Center.
//!
//! # Layout
//! - this file: the run (customers, steps, journal) and `reconcile`, behind every write.
//! - `manual`: the manual path's steps (buy, swap, make room, sweep, suspend).
//! - `migration`: the `migrate` step (new commerce on the server: create once, poll, retry).
//! - `server`: the synchronous server-side steps (legacy upgrade, NCE transition).
//!
//! Customers run concurrently (bounded); within a customer the steps run strictly in order,
//! and a customer stops at its first failure, so an old subscription is never suspended
//! before every one of its users moved. Each step is journaled before the call (with the
//! `MS-RequestId` it uses, derived from the plan and the step, so a resumed run reuses it)
//! and after. Steps read the server before acting: a purchase is recognised by its tag
//! instead of being bought twice, a swap or a suspension already made is not repeated.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::client::rest::derived_guid;
use crate::client::{ClientError, ErrorCode, PartnerCenter};
use crate::journal::{Journal, JournalError, StepState};
use crate::plan::{CustomerPlan, Plan, Step, digest};

mod manual;
mod migration;
mod server;

use manual::{buy, make_room, suspend, swap, sweep};
pub use migration::CreatePacer;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The token was refused: nothing more can succeed, so the whole run stops.
    #[error(transparent)]
    Unauthorized(ClientError),
}

/// Told as work progresses (a progress bar, log lines, or nothing).
pub trait Progress: Send + Sync {
    /// Told once, before the first step, what will be carried out.
    fn planned(&self, _plan: &Plan) {}
    fn step(&self, _customer: &str, _step: &Step) {}
    fn customer_finished(&self, _outcome: &CustomerOutcome) {}
}

pub struct Quiet;
impl Progress for Quiet {}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub concurrency: usize,
    /// Set (e.g. by Ctrl-C) to stop cleanly after the steps in flight.
    pub stop: Arc<AtomicBool>,
    /// Runs spending the same partner's limits side by side (a sharded rehearsal's worlds,
    /// each migrating its own customers): migration creates are spaced this many times
    /// further apart, so together they stay within 100 in 5 minutes. At least 1.
    pub side_by_side: u32,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { concurrency: 8, stop: Arc::new(AtomicBool::new(false)), side_by_side: 1 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerOutcome {
    pub customer_id: String,
    pub name: String,
    pub steps: usize,
    pub steps_done: usize,
    pub complete: bool,
    /// Why it stopped short, if it did.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyOutcome {
    pub customers: Vec<CustomerOutcome>,
    pub stopped: bool,
}

impl ApplyOutcome {
    pub fn complete(&self) -> bool {
        !self.stopped && self.customers.iter().all(|c| c.complete)
    }
}

enum StepError {
    /// Refused by the service: recorded as failed.
    Failed(String),
    /// No clear answer: left as intended, so a resumed run reads before repeating.
    Unknown(String),
    Unauthorized(ClientError),
    Journal(JournalError),
}

impl From<ClientError> for StepError {
    fn from(e: ClientError) -> Self {
        match e {
            e if e.is_unclear() => StepError::Unknown(e.to_string()),
            ClientError::Unauthorized { .. } | ClientError::SignIn { .. } => StepError::Unauthorized(e),
            other => StepError::Failed(other.to_string()),
        }
    }
}

impl From<JournalError> for StepError {
    fn from(e: JournalError) -> Self {
        StepError::Journal(e)
    }
}

/// The `MS-RequestId` of a step: the same on every run of the same plan.
pub fn step_request_id(plan_id: &str, customer: &str, index: usize, purpose: &str) -> String {
    let a = u64::from_str_radix(&digest(plan_id), 16).unwrap_or(0);
    let b = u64::from_str_radix(&digest(&format!("{purpose}|{customer}|{index}")), 16).unwrap_or(0);
    derived_guid(a, b)
}

/// Apply the plan (or resume it: steps the journal records as done are skipped).
pub async fn apply<P: PartnerCenter + 'static>(
    pc: Arc<P>,
    plan: Arc<Plan>,
    journal: Arc<Journal>,
    options: &ApplyOptions,
    progress: Arc<dyn Progress>,
) -> Result<ApplyOutcome, ApplyError> {
    journal.begin(&plan)?;
    progress.planned(&plan);
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let pacer = Arc::new(CreatePacer::sharing(options.side_by_side));
    let mut tasks = JoinSet::new();
    for index in 0..plan.customers.len() {
        // The permit is taken before the task starts, so customers start strictly in plan
        // order (earliest deadline first), whatever the runtime's scheduling.
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        if options.stop.load(Ordering::SeqCst) {
            break;
        }
        let (pc, plan, journal, stop, progress, pacer) =
            (pc.clone(), plan.clone(), journal.clone(), options.stop.clone(), progress.clone(), pacer.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let c = &plan.customers[index];
            let run =
                Run { plan_id: &plan.id, journal: &journal, stop: &stop, progress: progress.as_ref(), pacer: &pacer };
            let result = run_customer(pc.as_ref(), c, &run).await;
            if matches!(result.1, Err(StepError::Unauthorized(_))) {
                // Nothing more can succeed with this token.
                stop.store(true, Ordering::SeqCst);
            }
            (index, result)
        });
    }
    let mut results: BTreeMap<usize, (Vec<migration::Started>, Result<(), StepError>)> = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, result)) = joined {
            results.insert(index, result);
        }
    }
    // Migrations run on the server meanwhile: every customer was started before any is waited
    // for, so a book's migrations overlap instead of queueing behind each other's polls.
    let run =
        Run { plan_id: &plan.id, journal: &journal, stop: &options.stop, progress: progress.as_ref(), pacer: &pacer };
    let mut settled: BTreeMap<usize, Result<(), StepError>> = BTreeMap::new();
    for (index, (started, result)) in results {
        let c = &plan.customers[index];
        let migrated = migration::settle_all(pc.as_ref(), c, started, &run).await;
        // The customer's own error first; else a migration's.
        settled.insert(index, result.and(migrated));
    }
    outcomes(&plan, &journal, settled, options, progress.as_ref())
}

/// Every customer's outcome, from the journal and the errors met.
fn outcomes(
    plan: &Plan,
    journal: &Journal,
    results: BTreeMap<usize, Result<(), StepError>>,
    options: &ApplyOptions,
    progress: &dyn Progress,
) -> Result<ApplyOutcome, ApplyError> {
    let mut outcomes: BTreeMap<usize, CustomerOutcome> = BTreeMap::new();
    let mut fatal = None;
    for (index, result) in results {
        let c = &plan.customers[index];
        let done = journal_done(journal, c)?;
        let error = match result {
            Ok(_) => None,
            Err(StepError::Failed(e)) | Err(StepError::Unknown(e)) => Some(e),
            Err(StepError::Journal(e)) => return Err(ApplyError::Journal(e)),
            Err(StepError::Unauthorized(e)) => {
                options.stop.store(true, Ordering::SeqCst);
                let text = e.to_string();
                fatal.get_or_insert(e);
                Some(text)
            }
        };
        let outcome = CustomerOutcome {
            customer_id: c.customer_id.clone(),
            name: c.name.clone(),
            steps: c.steps.len(),
            steps_done: done,
            complete: done == c.steps.len() && error.is_none(),
            error,
        };
        progress.customer_finished(&outcome);
        outcomes.insert(index, outcome);
    }
    if let Some(e) = fatal {
        return Err(ApplyError::Unauthorized(e));
    }
    for (index, c) in plan.customers.iter().enumerate() {
        if let std::collections::btree_map::Entry::Vacant(slot) = outcomes.entry(index) {
            let done = journal_done(journal, c)?;
            slot.insert(CustomerOutcome {
                customer_id: c.customer_id.clone(),
                name: c.name.clone(),
                steps: c.steps.len(),
                steps_done: done,
                complete: done == c.steps.len(),
                error: (done < c.steps.len()).then(|| "not started: the run was stopped".to_string()),
            });
        }
    }
    Ok(ApplyOutcome { customers: outcomes.into_values().collect(), stopped: options.stop.load(Ordering::SeqCst) })
}

fn journal_done(journal: &Journal, c: &CustomerPlan) -> Result<usize, JournalError> {
    journal.done_count(&c.customer_id)
}

/// What every customer of one run shares.
struct Run<'a> {
    plan_id: &'a str,
    journal: &'a Journal,
    stop: &'a AtomicBool,
    progress: &'a dyn Progress,
    pacer: &'a CreatePacer,
}

/// Run a customer's steps in order; a migration is only started here (and settled once every
/// customer was started). Returns the migrations started, even when a later step stopped it.
async fn run_customer<P: PartnerCenter>(
    pc: &P,
    c: &CustomerPlan,
    run: &Run<'_>,
) -> (Vec<migration::Started>, Result<(), StepError>) {
    let mut started = Vec::new();
    let result = run_steps(pc, c, run, &mut started).await;
    (started, result)
}

async fn run_steps<P: PartnerCenter>(
    pc: &P,
    c: &CustomerPlan,
    run: &Run<'_>,
    started: &mut Vec<migration::Started>,
) -> Result<(), StepError> {
    let Run { plan_id, journal, stop, progress, pacer } = *run;
    let cid = c.customer_id.as_str();
    // Successor SKU ids by product name, read once the purchases are made.
    let mut skus: Option<BTreeMap<String, String>> = None;
    for (i, step) in c.steps.iter().enumerate() {
        if stop.load(Ordering::SeqCst) {
            return Err(StepError::Unknown("stopped before finishing".into()));
        }
        let record = journal.step(cid, i)?;
        if record.as_ref().is_some_and(|r| r.state == StepState::Done) {
            continue;
        }
        let resuming = record.is_some();
        let request_id = step_request_id(plan_id, cid, i, "apply");
        journal.intend(cid, i, step.kind(), &request_id)?;
        progress.step(cid, step);
        let result = match step {
            Step::Buy { offer_id, quantity, tag, .. } => {
                skus = None;
                buy(pc, cid, offer_id, *quantity, tag, &request_id).await
            }
            Step::Swap { user_id, assign, remove, .. } => {
                if skus.is_none() {
                    let list = pc.subscribed_skus(cid).await?;
                    skus =
                        Some(list.into_iter().map(|s| (s.product_sku.name.to_lowercase(), s.product_sku.id)).collect());
                }
                let empty = BTreeMap::new();
                let map = skus.as_ref().unwrap_or(&empty);
                swap(pc, cid, user_id, assign, remove, map, resuming, &request_id).await
            }
            Step::Suspend { subscription_id, offer_name } => {
                match make_room(pc, plan_id, c, i, subscription_id, offer_name).await {
                    Ok(()) => suspend(pc, cid, subscription_id, &request_id).await,
                    Err(e) => Err(e),
                }
            }
            Step::Upgrade { subscription_id, target_offer_id, target_name, quantity, .. } => {
                let target = crate::client::OfferRef { id: target_offer_id.clone(), name: target_name.clone() };
                let step =
                    server::UpgradeStep { customer: cid, subscription: subscription_id, target, quantity: *quantity };
                server::upgrade(pc, &step, &request_id).await
            }
            Step::Transition { subscription_id, to_catalog_item_id, quantity, .. } => {
                let step = server::TransitionStep {
                    customer: cid,
                    subscription: subscription_id,
                    to: to_catalog_item_id,
                    quantity: *quantity,
                };
                server::transition(pc, &step, &request_id).await
            }
            Step::Migrate { .. } => {
                let Some(step) = migration::MigrateStep::of(plan_id, cid, step) else { continue };
                let ids = migration::request_ids(plan_id, cid, i);
                match migration::start(pc, pacer, &step, (&ids, stop), 0, true).await {
                    Ok(m) => {
                        // Journaled as soon as it is known; a resumed run reads the server for it
                        // and adopts it instead of creating another.
                        let note = m.as_ref().map_or("waiting for a revert to migrate again".to_string(), |(m, _)| {
                            format!("migration {} {}", m.id, m.status)
                        });
                        journal.finish(cid, i, StepState::Intended, &note)?;
                        let (migration, round) = m.map_or((None, 0), |(m, r)| (Some(m), r));
                        started.push(migration::Started { step: i, round, migration });
                        continue;
                    }
                    Err(e) => Err(e),
                }
            }
        };
        match result {
            Ok(outcome) => journal.finish(cid, i, StepState::Done, &outcome)?,
            Err(StepError::Failed(e)) => {
                journal.finish(cid, i, StepState::Failed, &e)?;
                return Err(StepError::Failed(e));
            }
            Err(e) => return Err(e),
        }
    }
    sweep(pc, plan_id, c).await
}

/// Attempts per step when answers get lost; each one reads the truth again before acting.
const RECONCILE_ATTEMPTS: u32 = 6;

/// No clear answer (timeout, 5xx, dropped connection, unreachable, throttled): the write may
/// or may not have been applied, so read before repeating it.
fn unclear(e: &ClientError) -> bool {
    e.is_unclear()
}

/// What a read of the server says about a step.
enum Truth<C> {
    /// Already done (by us earlier, a lost answer, a rival): nothing to send.
    Done(String),
    /// Not done: act on this current state.
    Act(C),
}

/// How a reconciled write treats a refusal it may retry after a fresh read.
struct Retry {
    /// Besides unclear answers, refusals worth a fresh read (a stale ETag).
    stale: bool,
    /// Attempts exhausted: refused (true) or unknown (false).
    exhausted_is_failure: bool,
}

/// Read the truth, then act or skip; after an unclear answer, read again before repeating the
/// write with the same request id. `read` is told the attempt number (0 first).
async fn reconcile<P, C, R, A>(
    pc: &P,
    retry: Retry,
    read: impl Fn(u32) -> R,
    act: impl Fn(C) -> A,
) -> Result<String, StepError>
where
    P: PartnerCenter,
    R: Future<Output = Result<Truth<C>, StepError>>,
    A: Future<Output = Result<Result<String, StepError>, ClientError>>,
{
    let mut last = String::new();
    for attempt in 0..RECONCILE_ATTEMPTS {
        if attempt > 0 {
            pc.back_off(attempt - 1).await;
        }
        let current = match read(attempt).await? {
            Truth::Done(what) => return Ok(what),
            Truth::Act(c) => c,
        };
        match act(current).await {
            Ok(done) => return done,
            Err(e) if unclear(&e) || (retry.stale && e.is(ErrorCode::StaleEtag)) => last = e.to_string(),
            // After an unclear attempt a refusal may only say the first one was applied.
            Err(e) if attempt > 0 => {
                if let Truth::Done(what) = read(attempt).await? {
                    return Ok(format!("{what} ({})", e.code().unwrap_or("refused")));
                }
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(if retry.exhausted_is_failure { StepError::Failed(last) } else { StepError::Unknown(last) })
}

const UNCLEAR_ONLY: Retry = Retry { stale: false, exhausted_is_failure: false };
