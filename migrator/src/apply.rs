//! Apply: carry a plan out. The only module with effects on Partner Center.
//!
//! Customers run concurrently (bounded); within a customer the steps run strictly in order,
//! and a customer stops at its first failure, so an old subscription is never suspended
//! before every one of its users moved. Each step is journaled before the call (with the
//! `MS-RequestId` it uses, derived from the plan and the step, so a resumed run reuses it)
//! and after. Steps read the server before acting: a purchase is recognised by its tag
//! instead of being bought twice, a swap or a suspension already made is not repeated.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::client::rest::derived_guid;
use crate::client::{
    ClientError, ErrorCode, FetchedSubscription, NewLine, PartnerCenter, SubscribedSku, SubscriptionStatus, UserState,
};
use crate::journal::{Journal, JournalError, StepState};
use crate::plan::{CustomerPlan, Plan, Step, digest};

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
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { concurrency: 8, stop: Arc::new(AtomicBool::new(false)) }
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
    let mut tasks = JoinSet::new();
    for index in 0..plan.customers.len() {
        // The permit is taken before the task starts, so customers start strictly in plan
        // order (earliest deadline first), whatever the runtime's scheduling.
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        if options.stop.load(Ordering::SeqCst) {
            break;
        }
        let (pc, plan, journal, stop, progress) =
            (pc.clone(), plan.clone(), journal.clone(), options.stop.clone(), progress.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let c = &plan.customers[index];
            let result = run_customer(pc.as_ref(), &plan.id, c, &journal, &stop, progress.as_ref()).await;
            if matches!(result, Err(StepError::Unauthorized(_))) {
                // Nothing more can succeed with this token.
                stop.store(true, Ordering::SeqCst);
            }
            (index, result)
        });
    }
    let mut outcomes: BTreeMap<usize, CustomerOutcome> = BTreeMap::new();
    let mut fatal = None;
    while let Some(joined) = tasks.join_next().await {
        let Ok((index, result)) = joined else {
            continue;
        };
        let c = &plan.customers[index];
        let done = journal_done(&journal, c)?;
        let error = match result {
            Ok(()) => None,
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
            let done = journal_done(&journal, c)?;
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

async fn run_customer<P: PartnerCenter>(
    pc: &P,
    plan_id: &str,
    c: &CustomerPlan,
    journal: &Journal,
    stop: &AtomicBool,
    progress: &dyn Progress,
) -> Result<(), StepError> {
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
        journal.intend(cid, i, step.kind().as_str(), &request_id)?;
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

async fn buy<P: PartnerCenter>(
    pc: &P,
    cid: &str,
    offer_id: &str,
    quantity: u32,
    tag: &str,
    request_id: &str,
) -> Result<String, StepError> {
    let mine = |subs: &[crate::client::Subscription]| {
        subs.iter().find(|s| s.friendly_name == tag && s.offer_id.eq_ignore_ascii_case(offer_id)).map(|s| s.id.clone())
    };
    let line =
        NewLine { line_item_number: 0, offer_id: offer_id.to_string(), quantity, friendly_name: tag.to_string() };
    let (line, mine) = (&line, &mine);
    // Read before (re-)buying: a lost answer, a crash or a duplicate delivery may already have
    // bought it. The purchase tag in the friendly name is how we recognise ours.
    let read = |_| async move {
        Ok::<Truth<_>, StepError>(match mine(&pc.subscriptions(cid).await?) {
            Some(id) => Truth::Done(format!("subscription {id} (found, not bought again)")),
            None => Truth::Act(()),
        })
    };
    let act = move |()| async move {
        let order = pc.create_order(cid, std::slice::from_ref(line), request_id).await?;
        Ok::<_, ClientError>(match order.line_items.first().and_then(|l| l.subscription_id.clone()) {
            Some(id) => Ok(format!("subscription {id}")),
            None => match mine(&pc.subscriptions(cid).await?) {
                Some(id) => Ok(format!("subscription {id}")),
                None => Err(StepError::Unknown(format!("order {} is still provisioning", order.id))),
            },
        })
    };
    reconcile(pc, UNCLEAR_ONLY, read, act).await
}

#[allow(clippy::too_many_arguments)]
async fn swap<P: PartnerCenter>(
    pc: &P,
    cid: &str,
    user: &str,
    assign: &[String],
    remove: &[String],
    skus: &BTreeMap<String, String>,
    resuming: bool,
    request_id: &str,
) -> Result<String, StepError> {
    let mut assign_ids = Vec::with_capacity(assign.len());
    for name in assign {
        match skus.get(&name.to_lowercase()) {
            Some(id) => assign_ids.push(id.clone()),
            None => {
                return Err(StepError::Failed(format!(
                    "successor SKU {name:?} is not in the tenant's subscribed SKUs"
                )));
            }
        }
    }
    swap_ids(pc, cid, user, &assign_ids, remove, resuming, request_id).await
}

/// One user's swap by SKU ids, in one license update, reconciled: after an unclear answer
/// (or when resuming) the user's licenses are read before trying again.
async fn swap_ids<P: PartnerCenter>(
    pc: &P,
    cid: &str,
    user: &str,
    assign_ids: &[String],
    remove: &[String],
    resuming: bool,
    request_id: &str,
) -> Result<String, StepError> {
    let read = |attempt| async move {
        if !resuming && attempt == 0 {
            return Ok::<Truth<()>, StepError>(Truth::Act(()));
        }
        let held: Vec<String> = pc.user_licenses(cid, user).await?.into_iter().map(|l| l.product_sku.id).collect();
        let swapped = assign_ids.iter().all(|a| held.contains(a)) && !remove.iter().any(|r| held.contains(r));
        Ok::<Truth<_>, StepError>(if swapped { Truth::Done("already swapped".to_string()) } else { Truth::Act(()) })
    };
    let act = move |()| async move {
        pc.update_licenses(cid, user, assign_ids, remove, request_id).await?;
        Ok::<_, ClientError>(Ok(format!("assigned {}, removed {}", assign_ids.join(","), remove.join(","))))
    };
    reconcile(pc, UNCLEAR_ONLY, read, act).await
}

/// Before a suspension: anyone licensed since the plan was made (a customer admin, meanwhile)
/// would be left without a seat. Move them the way the plan moves their colleagues, if a
/// successor seat is free; otherwise refuse to suspend and say why.
async fn make_room<P: PartnerCenter>(
    pc: &P,
    plan_id: &str,
    c: &CustomerPlan,
    index: usize,
    sid: &str,
    offer_name: &str,
) -> Result<(), StepError> {
    let cid = c.customer_id.as_str();
    let current = pc.subscription(cid, sid).await?;
    if current.subscription.status != SubscriptionStatus::Active {
        return Ok(());
    }
    let skus = pc.subscribed_skus(cid).await?;
    let Some(old) = skus.iter().find(|s| s.product_sku.name.eq_ignore_ascii_case(offer_name)) else {
        return Ok(());
    };
    let remaining = old.active_units - i64::from(current.subscription.quantity);
    if old.consumed_units <= remaining {
        return Ok(());
    }
    let excess = old.consumed_units - remaining.max(0);
    move_stragglers(pc, plan_id, c, index, old, &skus, excess, &format!("suspending {offer_name}")).await
}

/// After the last step: the last chance to move anyone licensed on a retired SKU since the plan
/// was made (on another channel's subscription, which the engine never suspends, or on seats
/// left after a suspension). One read when there is nobody to move.
async fn sweep<P: PartnerCenter>(pc: &P, plan_id: &str, c: &CustomerPlan) -> Result<(), StepError> {
    let retired: BTreeSet<&String> = c
        .steps
        .iter()
        .flat_map(|s| match s {
            Step::Swap { remove, .. } => remove.iter().collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    if retired.is_empty() {
        return Ok(());
    }
    let skus = pc.subscribed_skus(&c.customer_id).await?;
    for old in skus.iter().filter(|s| retired.contains(&s.product_sku.id) && s.consumed_units > 0) {
        let context = format!("finishing with {}", old.product_sku.name);
        move_stragglers(pc, plan_id, c, c.steps.len(), old, &skus, old.consumed_units, &context).await?;
    }
    Ok(())
}

/// Move up to `excess` users still holding `old` the way the plan moves their colleagues,
/// adding a successor seat where none is free; refuse, saying why, when the plan has no
/// successor for `old`.
#[allow(clippy::too_many_arguments)]
async fn move_stragglers<P: PartnerCenter>(
    pc: &P,
    plan_id: &str,
    c: &CustomerPlan,
    index: usize,
    old: &SubscribedSku,
    skus: &[SubscribedSku],
    excess: i64,
    context: &str,
) -> Result<(), StepError> {
    let cid = c.customer_id.as_str();
    let offer_name = &old.product_sku.name;
    let successors: Option<&Vec<String>> = c.steps.iter().find_map(|s| match s {
        Step::Swap { assign, remove, .. } if remove.contains(&old.product_sku.id) => Some(assign),
        _ => None,
    });
    let mut stragglers = Vec::new();
    for user in pc.users(cid).await?.into_iter().filter(|u| u.state == UserState::Active) {
        let held = pc.user_licenses(cid, &user.id).await?;
        if held.iter().any(|l| l.product_sku.id == old.product_sku.id) {
            stragglers.push(user);
        }
    }
    let Some(successors) = successors else {
        return Err(StepError::Failed(format!(
            "{} user(s) still hold {offer_name} and the plan moves nobody off it ({context}): run `skuswap plan` again",
            stragglers.len()
        )));
    };
    let mut free: BTreeMap<String, i64> =
        skus.iter().map(|s| (s.product_sku.name.to_lowercase(), s.available_units)).collect();
    for user in stragglers.iter().take(usize::try_from(excess.max(1)).unwrap_or(1)) {
        let mut assign = Vec::new();
        for name in successors {
            let Some(sku) = skus.iter().find(|s| s.product_sku.name.eq_ignore_ascii_case(name)) else {
                return Err(StepError::Failed(format!(
                    "successor SKU {name:?} is not in the tenant's subscribed SKUs"
                )));
            };
            let left = free.entry(name.to_lowercase()).or_insert(0);
            if *left < 1 {
                let request_id = step_request_id(plan_id, cid, index, &format!("seat|{}|{name}", user.id));
                add_seat(pc, c, name, &request_id).await.map_err(|e| match e {
                    StepError::Failed(why) => StepError::Failed(format!(
                        "{} was licensed for {offer_name} after the plan was made and no {name} seat is free ({why}); stopped before {context}",
                        user.user_principal_name
                    )),
                    other => other,
                })?;
                *left += 1;
            }
            *left -= 1;
            assign.push(sku.product_sku.id.clone());
        }
        let request_id = step_request_id(plan_id, cid, index, &format!("straggler|{}", user.id));
        swap_ids(pc, cid, &user.id, &assign, std::slice::from_ref(&old.product_sku.id), false, &request_id).await?;
    }
    Ok(())
}

/// One more seat on the successor subscription this migration bought (or, when it reused
/// seats, on an active one of the same product), for a user found at suspension time.
async fn add_seat<P: PartnerCenter>(pc: &P, c: &CustomerPlan, name: &str, request_id: &str) -> Result<(), StepError> {
    let cid = c.customer_id.as_str();
    let tag = c.steps.iter().find_map(|s| match s {
        Step::Buy { offer_name, tag, .. } if offer_name.eq_ignore_ascii_case(name) => Some(tag.as_str()),
        _ => None,
    });
    let subs = pc.subscriptions(cid).await?;
    let target = subs
        .iter()
        .find(|s| s.status == SubscriptionStatus::Active && tag.is_some_and(|t| s.friendly_name == t))
        .or_else(|| {
            subs.iter().find(|s| s.status == SubscriptionStatus::Active && s.offer_name.eq_ignore_ascii_case(name))
        });
    let Some(target) = target else {
        return Err(StepError::Failed(format!("no active {name} subscription to add a seat to")));
    };
    let wanted = pc.subscription(cid, &target.id).await?.subscription.quantity + 1;
    let read = |_| async move {
        let current = pc.subscription(cid, &target.id).await?;
        Ok::<Truth<_>, StepError>(if current.subscription.quantity >= wanted {
            Truth::Done(String::new())
        } else {
            Truth::Act(current)
        })
    };
    let act = move |current: FetchedSubscription| async move {
        pc.set_subscription_quantity(cid, &current, wanted, request_id).await?;
        Ok::<_, ClientError>(Ok(String::new()))
    };
    reconcile(pc, Retry { stale: true, exhausted_is_failure: false }, read, act).await.map(|_| ()).map_err(
        |e| match e {
            StepError::Unknown(_) => StepError::Unknown(format!("adding a {name} seat: no clear answer")),
            other => other,
        },
    )
}

async fn suspend<P: PartnerCenter>(pc: &P, cid: &str, sid: &str, request_id: &str) -> Result<String, StepError> {
    let read = |_| async move {
        let current = pc.subscription(cid, sid).await?;
        Ok::<Truth<_>, StepError>(if current.subscription.status.is_inactive() {
            Truth::Done(format!("already {}", current.subscription.status))
        } else {
            Truth::Act(current)
        })
    };
    // A stale ETag (someone, or our own lost attempt, changed it) or an unclear answer: read it
    // again and decide afresh.
    let act = move |current: FetchedSubscription| async move {
        let s = pc.set_subscription_status(cid, &current, &SubscriptionStatus::Suspended, request_id).await?;
        Ok::<_, ClientError>(Ok(format!("status {}", s.status)))
    };
    reconcile(pc, Retry { stale: true, exhausted_is_failure: true }, read, act).await.map_err(|e| match e {
        StepError::Failed(last) => StepError::Failed(format!("subscription {sid} could not be suspended: {last}")),
        other => other,
    })
}
