//! `skuswap rehearse`: the whole migration against an in-process mock, on virtual time.
//!
//! The mock's clock moves with the work: discovery and every step cost requests, and at the
//! configured rate (500 per minute) each request costs virtual time, so an end date that falls
//! mid-migration passes exactly where it would for real. Prospects that accept later are
//! migrated in a later wave. Then the clock runs past every end date and the de-provisioning
//! window, and the mock's audit log is judged. Losses on customers the plan flagged at risk
//! (or that never became the partner's customers) are expected; any other is a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::anyhow;
use chrono::{DateTime, Duration, Utc};
use mock_server::Mock;
use mock_server::invariants::{SeriesPoint, Verdict, Violation, ViolationKind, check_with_series};
use mock_server::model::faults::FaultPlan;
use mock_server::model::{Cause, Event, EventKind, Scenario, TokenMode, World};
use serde::Serialize;
use skuswap_migrator::apply::{ApplyOptions, ApplyOutcome, CustomerOutcome, Progress, Quiet, apply};
use skuswap_migrator::client::{InProcess, PartnerCenter, Pause, RestClient, RetryPolicy};
use skuswap_migrator::discover::discover_concurrently;
use skuswap_migrator::journal::Journal;
use skuswap_migrator::mapping::Mapping;
use skuswap_migrator::plan::{CustomerAction, Plan, Policy, Step, plan};

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
}

/// The engine as shipped.
pub struct Correct;

impl Engine for Correct {
    type Pc = Client;
    fn client(&self, pc: Arc<Client>) -> Arc<Client> {
        pc
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
}

/// See [`Options::meanwhile`].
pub type Meanwhile = Arc<dyn Fn(&mut World, u64) + Send + Sync>;

/// What the fault plan did to the migration, from the audit log.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultReport {
    pub plan: String,
    /// Faults injected, by effect.
    pub injected: BTreeMap<String, u64>,
    /// 429s from the rate limits.
    pub throttled: u64,
    /// Orders answered from the MS-RequestId window instead of bought again.
    pub replayed_orders: u64,
    /// Virtual minutes the client spent waiting (Retry-After and back-off).
    pub waited_minutes: f64,
    /// Extra `apply` runs (resumed from the journal) it took to finish.
    pub resumed_runs: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Wave {
    pub at: DateTime<Utc>,
    /// When discovery ended and the plan was made.
    pub planned_at: DateTime<Utc>,
    pub plan: Plan,
    pub outcome: ApplyOutcome,
    pub discovery_requests: u64,
    pub apply_requests: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    pub customer_id: String,
    pub name: String,
    pub deadline: Option<DateTime<Utc>>,
    pub at_risk: bool,
    pub purchased: Option<DateTime<Utc>>,
    pub first_swap: Option<DateTime<Utc>>,
    pub last_swap: Option<DateTime<Utc>>,
    pub suspended: Option<DateTime<Utc>>,
    pub deprovisioned: Option<DateTime<Utc>>,
    pub expired: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatRow {
    pub product: String,
    pub bought: u64,
    pub retired: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Expected {
    pub violation: Violation,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rehearsal {
    pub scenario: String,
    pub description: String,
    pub seed: u64,
    pub rate: u32,
    pub customers: usize,
    pub users: usize,
    pub subscriptions: usize,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub waves: Vec<Wave>,
    pub requests: u64,
    pub wall_seconds: f64,
    /// Virtual time the migration itself took (discovery and apply), at the rate.
    pub migration_minutes: f64,
    pub verdict_ok: bool,
    pub unexpected: Vec<Violation>,
    pub expected: Vec<Expected>,
    pub series: Vec<SeriesPoint>,
    pub timelines: Vec<Timeline>,
    pub seats: Vec<SeatRow>,
    /// Customers who would lose licenses if the migration started at `start` (at risk).
    pub at_risk: Vec<String>,
    pub actions: Vec<(String, String)>,
    pub incomplete: Vec<String>,
    /// For a failure: the audit-log lines around the first unexpected violation.
    pub log_excerpt: Vec<String>,
    pub faults: Option<FaultReport>,
    /// Customers (and offers) bought more than once: `customer: offer xN`.
    pub double_purchases: Vec<String>,
    /// Extra runs of `apply` (resumed from the journal) it took to finish.
    pub resumed_runs: u32,
    /// After the de-provisioning window: old subscriptions of migrated customers not deleted,
    /// moved users holding an old SKU or missing a successor.
    pub leftovers: Vec<String>,
    /// Changes made by a second `apply` after completion (with `Options::reapply`).
    pub reapplied_changes: Vec<String>,
}

impl Rehearsal {
    pub fn passed(&self) -> bool {
        self.unexpected.is_empty()
            && self.incomplete.is_empty()
            && self.double_purchases.is_empty()
            && self.leftovers.is_empty()
            && self.reapplied_changes.is_empty()
    }
}

/// Waits on the mock's virtual clock: honouring `Retry-After: 60` moves the clock a minute
/// and costs no wall time.
struct VirtualPause {
    mock: Mock,
    waited_ms: AtomicU64,
    /// False for an engine that does not wait: the clock stands still.
    waits: bool,
}

impl Pause for VirtualPause {
    fn pause(&self, wait: std::time::Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        if !self.waits {
            return Box::pin(tokio::task::yield_now());
        }
        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX / 4);
        self.waited_ms.fetch_add(ms, Ordering::Relaxed);
        self.mock.with(|w| {
            let to = w.now() + Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX / 4));
            let _ = w.advance_to(to);
        });
        Box::pin(tokio::task::yield_now())
    }
}

/// Moves the mock's clock as requests are spent (and as the client waits).
struct Pacer {
    mock: Mock,
    pc: Arc<Client>,
    pause: Arc<VirtualPause>,
    reached: Reached,
    meanwhile: Option<Meanwhile>,
    steps: AtomicU64,
    base_time: DateTime<Utc>,
    base_requests: u64,
    base_waited_ms: u64,
    rate: u32,
}

impl Pacer {
    fn catch_up(&self) {
        let spent = self.pc.requests_sent().saturating_sub(self.base_requests);
        let waited = self.pause.waited_ms.load(Ordering::Relaxed).saturating_sub(self.base_waited_ms);
        let t = self.base_time
            + cost(spent, self.rate)
            + Duration::milliseconds(i64::try_from(waited).unwrap_or(i64::MAX / 4));
        self.mock.with(|w| {
            if t > w.now() {
                let _ = w.advance_to(t);
            }
        });
    }
}

impl Progress for Pacer {
    fn step(&self, customer: &str, _step: &Step) {
        self.catch_up();
        if let Some(f) = &self.meanwhile {
            let n = self.steps.fetch_add(1, Ordering::Relaxed);
            self.mock.with(|w| f(w, n));
        }
        let now = self.mock.read(World::now);
        let mut r = self.reached.lock().unwrap_or_else(|p| p.into_inner());
        r.entry(customer.to_string()).or_insert((now, None));
    }

    fn customer_finished(&self, outcome: &CustomerOutcome) {
        if outcome.complete {
            let now = self.mock.read(World::now);
            let mut r = self.reached.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(entry) = r.get_mut(&outcome.customer_id) {
                entry.1 = Some(now);
            }
        }
    }
}

/// When the engine first acted for each customer, and when it finished it (virtual time).
type Reached = Arc<Mutex<BTreeMap<String, (DateTime<Utc>, Option<DateTime<Utc>>)>>>;

fn cost(requests: u64, rate: u32) -> Duration {
    Duration::milliseconds(
        i64::try_from(requests.saturating_mul(60_000) / u64::from(rate.max(1))).unwrap_or(i64::MAX / 4),
    )
}

/// Run a rehearsal of `scenario`.
pub async fn rehearse(scenario: &Scenario, opts: &Options) -> anyhow::Result<Rehearsal> {
    rehearse_with(scenario, opts, &Correct).await
}

/// Run a rehearsal of `scenario` with `engine`.
pub async fn rehearse_with<E: Engine>(scenario: &Scenario, opts: &Options, engine: &E) -> anyhow::Result<Rehearsal> {
    let wall = Instant::now();
    let mut world = World::from_scenario(scenario, opts.seed).map_err(|e| anyhow!("{}: {e}", scenario.name))?;
    let seed = world.seed();
    let token = world.issue_token(None, TokenMode::AppUser).map_err(|e| anyhow!("{e}"))?;
    let start = world.now();
    let deprovision_days = world.settings.deprovision_days;
    if let Some(plan) = &opts.faults {
        world.set_fault_plan(Some(plan.clone())).map_err(|e| anyhow!("fault plan: {e}"))?;
    }
    let mock = crate::serve::mock(world);
    let app = mock_server::app(mock.clone());
    let pause = Arc::new(VirtualPause { mock: mock.clone(), waited_ms: AtomicU64::new(0), waits: engine.waits() });
    let pc = Arc::new(
        RestClient::new(InProcess::new(app), token, RetryPolicy { seed, ..RetryPolicy::default() })
            .with_pause(pause.clone()),
    );
    let engine_pc = engine.client(pc.clone());
    let prospects: Vec<String> = mock.read(|w| {
        let partner = w.partners().first().map(|p| p.id);
        w.all_customers()
            .filter(|c| {
                partner.is_some_and(|p| !c.is_customer_of(p)) && (c.accepts.is_some() || c.resellers.is_empty())
            })
            .map(|c| c.id.to_string())
            .collect()
    });
    let mapping = Mapping { prospects, ..opts.mapping.clone() };

    let mut waves = Vec::new();
    let mut migration = Duration::zero();
    let mut resumed_runs = 0u32;
    let reached: Reached = Arc::default();
    // The first wave reads every customer; later ones only those who have just accepted.
    let mut scope: Option<Vec<String>> = None;
    for _ in 0..64 {
        let wave_start = mock.read(World::now);
        let waited_before = pause.waited_ms.load(Ordering::Relaxed);
        let before = pc.requests_sent();
        // Under faults, one request at a time: the plan's draws then land on the same calls
        // in every run, so a seed replays a storm exactly.
        let readers = if opts.faults.is_some() { 1 } else { 4 };
        let snapshot = discover_concurrently(pc.clone(), &mapping, scope.as_deref(), readers).await?;
        let discovery_requests = pc.requests_sent() - before;
        // Waits during discovery (Retry-After) may already have moved the clock further.
        let now = mock.with(|w| {
            let t = (wave_start + cost(discovery_requests, opts.rate)).max(w.now());
            w.advance_to(t).map(|_| t)
        });
        let now = now.map_err(|e| anyhow!("{e}"))?;
        let plan = engine.shape(plan(&snapshot, &mapping, &Policy { now, requests_per_minute: opts.rate })?);
        let journal = Arc::new(Journal::in_memory());
        let pacer = Arc::new(Pacer {
            mock: mock.clone(),
            pc: pc.clone(),
            pause: pause.clone(),
            reached: reached.clone(),
            meanwhile: opts.meanwhile.clone(),
            steps: AtomicU64::new(0),
            base_time: now,
            base_requests: pc.requests_sent(),
            base_waited_ms: pause.waited_ms.load(Ordering::Relaxed),
            rate: opts.rate,
        });
        let before_apply = pc.requests_sent();
        let options = ApplyOptions { concurrency: 1, ..ApplyOptions::default() };
        let shared_plan = Arc::new(plan.clone());
        let first = apply(engine_pc.clone(), shared_plan.clone(), journal.clone(), &options, pacer.clone());
        let mut outcome = if engine.racers() > 1 {
            let rival_options = ApplyOptions { concurrency: 1, ..ApplyOptions::default() };
            let rival = apply(
                engine_pc.clone(),
                shared_plan.clone(),
                Arc::new(Journal::in_memory()),
                &rival_options,
                Arc::new(skuswap_migrator::apply::Quiet),
            );
            let (ours, theirs) = tokio::join!(first, rival);
            theirs?;
            ours?
        } else {
            first.await?
        };
        // A customer may end unfinished (faults, a crash); an operator runs `apply` again and
        // it resumes from the journal. Under faults the last run comes after the plan is
        // cleared: the storm is over, and the migration must then complete.
        for round in 0..4 {
            if outcome.complete() {
                break;
            }
            if round == 3 && opts.faults.is_some() {
                mock.with(|w| w.set_fault_plan(None)).map_err(|e| anyhow!("{e}"))?;
            }
            resumed_runs += 1;
            engine.restart();
            let options = ApplyOptions { concurrency: 1, ..ApplyOptions::default() };
            outcome = apply(engine_pc.clone(), shared_plan.clone(), journal.clone(), &options, pacer.clone()).await?;
        }
        pacer.catch_up();
        let apply_requests = pc.requests_sent() - before_apply;
        migration += cost(discovery_requests + apply_requests, opts.rate)
            + Duration::milliseconds(
                i64::try_from(pause.waited_ms.load(Ordering::Relaxed).saturating_sub(waited_before)).unwrap_or(0),
            );
        waves.push(Wave { at: wave_start, planned_at: now, plan, outcome, discovery_requests, apply_requests });
        // The next prospect to accept starts the next wave.
        let pending = |w: &World| -> Vec<String> {
            w.all_customers().filter(|c| c.accepts.is_some()).map(|c| c.id.to_string()).collect()
        };
        let before_accepting = mock.read(pending);
        let next = mock.read(|w| w.all_customers().filter_map(|c| c.accepts.as_ref().map(|a| a.at)).min());
        match next {
            Some(t) => mock.with(|w| w.advance_to(t.max(w.now()))).map_err(|e| anyhow!("{e}"))?,
            None => break,
        };
        let still = mock.read(pending);
        scope = Some(before_accepting.into_iter().filter(|c| !still.contains(c)).collect());
    }

    // A second apply of a finished migration must change nothing.
    let mut reapplied_changes = Vec::new();
    if opts.reapply {
        for wave in &waves {
            let before = mock.read(|w| w.events().len());
            let options = ApplyOptions { concurrency: 1, ..ApplyOptions::default() };
            let plan = Arc::new(wave.plan.clone());
            apply(engine_pc.clone(), plan, Arc::new(Journal::in_memory()), &options, Arc::new(Quiet)).await?;
            reapplied_changes.extend(mock.read(|w| {
                w.events()[before..].iter().filter(|e| changes_state(e)).map(ToString::to_string).collect::<Vec<_>>()
            }));
        }
    }

    // Past every end date and the de-provisioning window.
    let last = mock.read(|w| {
        w.all_customers()
            .flat_map(|c| {
                c.subscriptions
                    .values()
                    .map(|s| s.commitment_end_date.max(s.inactive_since.unwrap_or(s.commitment_end_date)))
            })
            .max()
            .unwrap_or(w.now())
            .max(w.now())
    });
    let end = last + Duration::days(deprovision_days + 1);
    mock.with(|w| w.advance_to(end.max(w.now()))).map_err(|e| anyhow!("{e}"))?;

    let (verdict, series, timelines, seats, log_excerpt, counts) = mock.read(|w| {
        let (verdict, series) = check_with_series(w.events());
        let timelines = timelines(w.events(), &waves);
        let seats = seats(w);
        let counts = (
            w.all_customers().count(),
            w.all_customers().map(|c| c.users.len()).sum::<usize>(),
            w.all_customers().map(|c| c.subscriptions.len()).sum::<usize>(),
        );
        (verdict, series, timelines, seats, Vec::new(), counts)
    });
    let reached = reached.lock().unwrap_or_else(|p| p.into_inner()).clone();
    // Faults, or a world changed under the engine (a clock jump), cost it time the plan could
    // not foresee: judge losses to the clock by the order it kept.
    let disturbed = opts.faults.is_some() || opts.meanwhile.is_some();
    let late = if disturbed { late_in_order(&waves, &reached) } else { BTreeSet::new() };
    let (unexpected, expected) = classify(&verdict, &waves, &mapping, &late, &reached, disturbed);
    let (double_purchases, fault_report) = mock.read(|w| {
        let report = opts.faults.as_ref().map(|plan| FaultReport {
            plan: describe_plan(plan),
            resumed_runs,
            waited_minutes: pause.waited_ms.load(Ordering::Relaxed) as f64 / 60_000.0,
            ..fault_counts(w.events())
        });
        (double_purchases(w), report)
    });
    let leftovers = mock.read(|w| leftovers(w, &waves));
    let log_excerpt = match unexpected.first() {
        Some(v) => mock.read(|w| excerpt(w.events(), v.event)),
        None => log_excerpt,
    };
    let mut at_risk = BTreeSet::new();
    let mut actions = Vec::new();
    let mut incomplete = Vec::new();
    for wave in &waves {
        for c in &wave.plan.customers {
            if c.at_risk {
                at_risk.insert(c.name.clone());
            }
        }
        for o in wave.outcome.customers.iter().filter(|o| !o.complete) {
            incomplete.push(format!("{}: {}", o.name, o.error.clone().unwrap_or_default()));
        }
    }
    if let Some(last_wave) = waves.last() {
        for c in &last_wave.plan.customers {
            for a in &c.actions {
                actions.push((c.name.clone(), a.describe()));
            }
        }
    }
    Ok(Rehearsal {
        scenario: scenario.name.clone(),
        description: scenario.description.clone(),
        seed,
        rate: opts.rate,
        customers: counts.0,
        users: counts.1,
        subscriptions: counts.2,
        start,
        end,
        requests: pc.requests_sent(),
        wall_seconds: wall.elapsed().as_secs_f64(),
        migration_minutes: migration.num_milliseconds() as f64 / 60_000.0,
        verdict_ok: verdict.ok,
        unexpected,
        expected,
        series,
        timelines,
        seats,
        at_risk: at_risk.into_iter().collect(),
        actions,
        incomplete,
        log_excerpt,
        waves,
        faults: fault_report,
        double_purchases,
        resumed_runs,
        leftovers,
        reapplied_changes,
    })
}

/// Suspensions, read from the audit log, of subscriptions this partner did not sell (the mock
/// refuses them; the log is checked anyway, as it would be for any client).
fn foreign_suspensions(w: &World) -> Vec<String> {
    use mock_server::model::Channel;
    let partner = w.partners().first().map(|p| p.id);
    let mut channel: BTreeMap<uuid::Uuid, Channel> = BTreeMap::new();
    let mut out = Vec::new();
    for e in w.events() {
        match (&e.kind, e.subscription) {
            (EventKind::SubscriptionCreated { channel: c, .. }, Some(s)) => {
                channel.insert(s, *c);
            }
            (EventKind::SubscriptionSuspended { .. }, Some(s)) if is_request(e) => {
                let ours = matches!(channel.get(&s), Some(Channel::Csp(p)) if Some(*p) == partner);
                if !ours {
                    out.push(format!("subscription {s} of another channel was suspended at event #{}", e.seq));
                }
            }
            _ => {}
        }
    }
    out
}

/// The end state the migration promised, checked on the world after the window closed.
fn leftovers(w: &World, waves: &[Wave]) -> Vec<String> {
    use mock_server::model::SubscriptionStatus;
    let mut out = foreign_suspensions(w);
    for wave in waves {
        for c in &wave.plan.customers {
            let Some(customer) = c.customer_id.parse().ok().and_then(|id| w.customer_any(id)) else { continue };
            for step in &c.steps {
                match step {
                    Step::Suspend { subscription_id, offer_name } => {
                        let sub = subscription_id.parse().ok().and_then(|id| customer.subscriptions.get(&id));
                        if sub.is_some_and(|s| s.status != SubscriptionStatus::Deleted) {
                            out.push(format!("{}: {offer_name} {subscription_id} is not de-provisioned", c.name));
                        }
                    }
                    Step::Swap { user_id, user_principal_name, assign, remove } => {
                        let Some(user) = user_id.parse().ok().and_then(|id| customer.users.get(&id)) else { continue };
                        let holds = |sku: &String| sku.parse().is_ok_and(|s| user.holds(s));
                        if remove.iter().any(holds) {
                            out.push(format!("{}: {user_principal_name} still holds a retired SKU", c.name));
                        }
                        let successors: Vec<String> = assign
                            .iter()
                            .filter_map(|name| {
                                w.catalog
                                    .offers()
                                    .find(|o| o.name.eq_ignore_ascii_case(name))
                                    .map(|o| o.sku_id.to_string())
                            })
                            .collect();
                        if !successors.iter().all(holds) {
                            out.push(format!("{}: {user_principal_name} lacks a successor", c.name));
                        }
                    }
                    Step::Buy { .. } => {}
                }
            }
        }
    }
    out
}

fn describe_plan(plan: &FaultPlan) -> String {
    format!(
        "seed {}: {} rule(s), {} rate limit(s), fairness {}",
        plan.seed,
        plan.rules.len(),
        plan.rate_limits.len(),
        plan.fairness
    )
}

fn fault_counts(events: &[Event]) -> FaultReport {
    let mut r = FaultReport::default();
    for e in events {
        match &e.kind {
            EventKind::FaultInjected { effect, .. } => *r.injected.entry(effect.clone()).or_default() += 1,
            EventKind::Throttled { .. } => r.throttled += 1,
            EventKind::OrderReplayed { .. } => r.replayed_orders += 1,
            _ => {}
        }
    }
    r
}

/// Successor subscriptions bought by requests more than once for the same customer and offer.
fn double_purchases(w: &World) -> Vec<String> {
    let mut bought: BTreeMap<(uuid::Uuid, String), u32> = BTreeMap::new();
    for e in w.events() {
        if let (EventKind::SubscriptionCreated { offer_id, .. }, Some(c)) = (&e.kind, e.customer)
            && is_request(e)
        {
            *bought.entry((c, offer_id.clone())).or_default() += 1;
        }
    }
    bought
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|((c, offer), n)| {
            let name = w.customer_any(c).map_or_else(|| c.to_string(), |c| c.company_name.clone());
            format!("{name}: {offer} bought {n} times")
        })
        .collect()
}

/// Losses the plan foresaw (at risk) or could not prevent (not the partner's customer) are
/// expected; the rest are the engine's failures.
/// Under faults, throughput is lost to waiting, so the plan's at-risk estimate (made at the
/// clean request rate) is optimistic. A customer the engine had not finished by its end date
/// is then late through no fault of its order, provided the engine reached customers in
/// deadline order (earliest first); if it did not, nobody is excused.
fn late_in_order(
    waves: &[Wave],
    reached: &BTreeMap<String, (DateTime<Utc>, Option<DateTime<Utc>>)>,
) -> BTreeSet<String> {
    let mut late = BTreeSet::new();
    for w in waves {
        let mut started: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> =
            w.plan.customers.iter().filter_map(|c| reached.get(&c.customer_id).map(|r| (r.0, c.deadline))).collect();
        started.sort_by_key(|(t, _)| *t);
        let in_order = started.windows(2).all(|p| match (p[0].1, p[1].1) {
            (Some(a), Some(b)) => a <= b,
            (None, Some(_)) => false,
            _ => true,
        });
        if !in_order {
            return BTreeSet::new();
        }
        for c in &w.plan.customers {
            let Some(deadline) = c.deadline else { continue };
            let finished = reached.get(&c.customer_id).and_then(|r| r.1);
            if finished.is_none_or(|f| f >= deadline) {
                late.insert(c.customer_id.clone());
            }
        }
    }
    late
}

fn classify(
    verdict: &Verdict,
    waves: &[Wave],
    mapping: &Mapping,
    late: &BTreeSet<String>,
    reached: &BTreeMap<String, (DateTime<Utc>, Option<DateTime<Utc>>)>,
    faults: bool,
) -> (Vec<Violation>, Vec<Expected>) {
    let mut planned_at: BTreeMap<String, (bool, DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    // Customers whose end date the partner cannot see (another channel sold the subscription).
    let mut unseen: BTreeSet<String> = BTreeSet::new();
    for w in waves {
        for c in w.plan.customers.iter().filter(|c| !c.steps.is_empty()) {
            planned_at.entry(c.customer_id.clone()).or_insert((c.at_risk, w.at, w.planned_at));
            if c.deadline.is_none() {
                unseen.insert(c.customer_id.clone());
            }
        }
    }
    let finished = |id: &str| reached.get(id).and_then(|r| r.1);
    let mut unexpected = Vec::new();
    let mut expected = Vec::new();
    for v in &verdict.violations {
        // Only a license lost to the clock (an end date passing) can be excused; one lost to
        // a request is the engine's doing, and an early retry or an over-assignment never is.
        if v.kind != ViolationKind::UserUnlicensed || !matches!(v.cause, Cause::ClockStep) {
            unexpected.push(v.clone());
            continue;
        }
        let id = v.customer.to_string();
        let reason = match planned_at.get(&id) {
            Some((true, _, _)) => {
                Some("the plan flagged this customer at risk: its end date came before the migration could reach it")
            }
            Some((false, _, planned)) if faults && v.at < *planned => {
                Some("lost while faults slowed discovery, before the plan could reach it")
            }
            // At the same instant the log orders the expiry first: still unfinished then.
            Some((false, _, _)) if unseen.contains(&id) && finished(&id).is_none_or(|f| v.at <= f) => Some(
                "its end date is not visible to this partner (another channel sold it), so the plan could not put it first; the engine had not finished it yet",
            ),
            Some((false, _, _)) if late.contains(&id) => Some(
                "the faults cost the engine its lead: taking customers earliest deadline first, it had not finished this one by its end date",
            ),
            Some((false, at, _)) if v.at < *at => {
                Some("lost before the partner could act (the customer accepted the invitation too late)")
            }
            Some(_) => None,
            None if mapping.prospects.contains(&id) => {
                Some("not the partner's customer: the invitation was never accepted in time")
            }
            None => Some("not the partner's customer nor among its prospects: out of its reach"),
        };
        match reason {
            Some(r) => expected.push(Expected { violation: v.clone(), reason: r.to_string() }),
            None => unexpected.push(v.clone()),
        }
    }
    (unexpected, expected)
}

fn excerpt(events: &[Event], seq: u64) -> Vec<String> {
    let i = events.partition_point(|e| e.seq < seq);
    let from = i.saturating_sub(5);
    let to = (i + 4).min(events.len());
    events[from..to].iter().map(ToString::to_string).collect()
}

/// An event a Partner Center request made that changes state (not a fault or a replay).
fn changes_state(e: &Event) -> bool {
    is_request(e)
        && !matches!(
            e.kind,
            EventKind::FaultInjected { .. }
                | EventKind::Throttled { .. }
                | EventKind::EarlyRetry { .. }
                | EventKind::OrderReplayed { .. }
        )
}

fn is_request(e: &Event) -> bool {
    matches!(e.cause, Cause::Request { .. })
}

fn timelines(events: &[Event], waves: &[Wave]) -> Vec<Timeline> {
    let mut by_id: BTreeMap<uuid::Uuid, Timeline> = BTreeMap::new();
    for w in waves {
        for c in w.plan.customers.iter().filter(|c| !c.steps.is_empty()) {
            let Ok(id) = c.customer_id.parse::<uuid::Uuid>() else { continue };
            by_id.entry(id).or_insert_with(|| Timeline {
                customer_id: c.customer_id.clone(),
                name: c.name.clone(),
                deadline: c.deadline,
                at_risk: c.at_risk,
                ..Timeline::default()
            });
        }
    }
    for e in events {
        let Some(t) = e.customer.and_then(|c| by_id.get_mut(&c)) else { continue };
        match &e.kind {
            EventKind::OrderPlaced { .. } if is_request(e) => {
                t.purchased.get_or_insert(e.at);
            }
            EventKind::LicenseAssigned { .. } if is_request(e) => {
                t.first_swap.get_or_insert(e.at);
                t.last_swap = Some(e.at);
            }
            EventKind::SubscriptionSuspended { .. } if is_request(e) => t.suspended = Some(e.at),
            EventKind::SubscriptionDeprovisioned { .. } => t.deprovisioned = Some(e.at),
            EventKind::SubscriptionExpired { .. } => {
                t.expired.get_or_insert(e.at);
            }
            _ => {}
        }
    }
    let mut out: Vec<Timeline> = by_id.into_values().collect();
    out.sort_by(|a, b| (a.deadline.is_none(), a.deadline, &a.name).cmp(&(b.deadline.is_none(), b.deadline, &b.name)));
    out
}

fn seats(w: &World) -> Vec<SeatRow> {
    let mut quantity: BTreeMap<uuid::Uuid, (String, u64)> = BTreeMap::new();
    let mut rows: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for e in w.events() {
        match &e.kind {
            EventKind::SubscriptionCreated { offer_id, quantity: q, .. } => {
                let name = w.catalog.offer(offer_id).map(|o| o.name.clone()).unwrap_or_else(|| offer_id.clone());
                if let Some(s) = e.subscription {
                    quantity.insert(s, (name.clone(), u64::from(*q)));
                }
                if is_request(e) {
                    rows.entry(name).or_default().0 += u64::from(*q);
                }
            }
            EventKind::SubscriptionSuspended { .. } if is_request(e) => {
                if let Some((name, q)) = e.subscription.and_then(|s| quantity.get(&s)) {
                    rows.entry(name.clone()).or_default().1 += q;
                }
            }
            _ => {}
        }
    }
    rows.into_iter().map(|(product, (bought, retired))| SeatRow { product, bought, retired }).collect()
}

impl Rehearsal {
    /// The terminal story.
    pub fn summary(&self, report: Option<&Path>) -> String {
        let planned: usize =
            self.waves.iter().map(|w| w.plan.customers.iter().filter(|c| !c.steps.is_empty()).count()).sum();
        let count = |kind: &str| -> usize {
            self.waves
                .iter()
                .flat_map(|w| &w.plan.customers)
                .flat_map(|c| &c.steps)
                .filter(|s| s.kind() == kind)
                .count()
        };
        let invitations: usize = self
            .waves
            .first()
            .map(|w| {
                w.plan
                    .customers
                    .iter()
                    .flat_map(|c| &c.actions)
                    .filter(|a| matches!(a, CustomerAction::AcceptInvitation { .. }))
                    .count()
            })
            .unwrap_or(0);
        let mut out = String::new();
        out.push_str(&format!(
            "Rehearsal of {} (seed {}): {} customers, {} users, {} subscriptions; virtual {} to {}\n",
            self.scenario,
            self.seed,
            self.customers,
            self.users,
            self.subscriptions,
            self.start.format("%Y-%m-%d %H:%M"),
            self.end.format("%Y-%m-%d")
        ));
        out.push_str(&format!(
            "  plan:        {planned} customers to migrate in {} wave(s): {} purchases, {} user swaps, {} suspensions; {invitations} invitation(s)\n",
            self.waves.len(),
            count("buy"),
            count("swap"),
            count("suspend")
        ));
        out.push_str(&format!(
            "  requests:    {} ({} of Partner Center time at {}/min); wall {:.2} s ({:.0} requests/s)\n",
            self.requests,
            skuswap_migrator::plan::human_minutes(self.migration_minutes),
            self.rate,
            self.wall_seconds,
            self.requests as f64 / self.wall_seconds.max(1e-9)
        ));
        out.push_str(&format!(
            "  at risk:     {} customer(s) would lose licenses if the migration started at {}{}\n",
            self.at_risk.len(),
            self.start.format("%Y-%m-%d %H:%M"),
            if self.at_risk.is_empty() { String::new() } else { format!(": {}", preview(&self.at_risk)) }
        ));
        out.push_str(&format!("  customers must act: {}\n", self.actions.len()));
        out.push_str(&format!(
            "  invariants:  {} ({} unexpected violation(s), {} expected on customers at risk or out of reach)\n",
            if self.passed() { "held" } else { "VIOLATED" },
            self.unexpected.len(),
            self.expected.len()
        ));
        if let Some(f) = &self.faults {
            let injected: u64 = f.injected.values().sum();
            out.push_str(&format!(
                "  faults:      {injected} injected, {} throttled by rate limits, {} orders answered from the MS-RequestId window; {} of waiting; {} resumed run(s)\n",
                f.throttled,
                f.replayed_orders,
                skuswap_migrator::plan::human_minutes(f.waited_minutes),
                f.resumed_runs
            ));
        }
        for d in &self.double_purchases {
            out.push_str(&format!("  bought twice: {d}\n"));
        }
        for i in &self.incomplete {
            out.push_str(&format!("  incomplete:  {i}\n"));
        }
        if let Some(v) = self.unexpected.first() {
            out.push_str(&format!("  first violation (seed {}): {}\n", self.seed, v.message));
            for line in &self.log_excerpt {
                out.push_str(&format!("    {line}\n"));
            }
        }
        if let Some(p) = report {
            out.push_str(&format!("  report:      {}\n", p.display()));
        }
        out
    }
}

fn preview(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
    if names.len() > 5 { format!("{}, and {} more", shown.join(", "), names.len() - 5) } else { shown.join(", ") }
}
