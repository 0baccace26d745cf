//! `skuswap rehearse`: the whole migration against an in-process mock, on virtual time.
//!
//! The mock's clock moves with the work: discovery and every step cost requests, and at the
//! configured rate (500 per minute) each request costs virtual time, so an end date that falls
//! mid-migration passes exactly where it would for real. Prospects that accept later are
//! migrated in a later wave. Then the clock runs past every end date and the de-provisioning
//! window, and the mock's audit log is judged. Losses on customers the plan flagged at risk
//! (or that never became the partner's customers) are expected; any other is a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::anyhow;
use chrono::{DateTime, Duration, Utc};
use mock_server::Mock;
use mock_server::invariants::{SeriesPoint, Verdict, Violation, check_with_series};
use mock_server::model::{Cause, Event, EventKind, Scenario, TokenMode, World};
use serde::Serialize;
use skuswap_migrator::apply::{ApplyOptions, ApplyOutcome, Progress, apply};
use skuswap_migrator::client::{InProcess, PartnerCenter, RestClient, RetryPolicy};
use skuswap_migrator::discover::discover_concurrently;
use skuswap_migrator::journal::Journal;
use skuswap_migrator::mapping::Mapping;
use skuswap_migrator::plan::{CustomerAction, Plan, Policy, Step, plan};

type Client = RestClient<InProcess<axum::Router>>;

pub struct Options {
    pub rate: u32,
    pub mapping: Mapping,
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Wave {
    pub at: DateTime<Utc>,
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
}

impl Rehearsal {
    pub fn passed(&self) -> bool {
        self.unexpected.is_empty() && self.incomplete.is_empty()
    }
}

/// Moves the mock's clock as requests are spent.
struct Pacer {
    mock: Mock,
    pc: Arc<Client>,
    base_time: DateTime<Utc>,
    base_requests: u64,
    rate: u32,
}

impl Pacer {
    fn catch_up(&self) {
        let spent = self.pc.requests_sent().saturating_sub(self.base_requests);
        let t = self.base_time + cost(spent, self.rate);
        self.mock.with(|w| {
            if t > w.now() {
                let _ = w.advance_to(t);
            }
        });
    }
}

impl Progress for Pacer {
    fn step(&self, _customer: &str, _step: &Step) {
        self.catch_up();
    }
}

fn cost(requests: u64, rate: u32) -> Duration {
    Duration::milliseconds(
        i64::try_from(requests.saturating_mul(60_000) / u64::from(rate.max(1))).unwrap_or(i64::MAX / 4),
    )
}

/// Run a rehearsal of `scenario`.
pub async fn rehearse(scenario: &Scenario, opts: &Options) -> anyhow::Result<Rehearsal> {
    let wall = Instant::now();
    let mut world = World::from_scenario(scenario, opts.seed).map_err(|e| anyhow!("{}: {e}", scenario.name))?;
    let seed = world.seed();
    let token = world.issue_token(None, TokenMode::AppUser).map_err(|e| anyhow!("{e}"))?;
    let start = world.now();
    let deprovision_days = world.settings.deprovision_days;
    let mock = crate::serve::mock(world);
    let app = mock_server::app(mock.clone());
    let pc = Arc::new(RestClient::new(InProcess::new(app), token, RetryPolicy { seed, ..RetryPolicy::default() }));
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
    // The first wave reads every customer; later ones only those who have just accepted.
    let mut scope: Option<Vec<String>> = None;
    for _ in 0..64 {
        let wave_start = mock.read(World::now);
        let before = pc.requests_sent();
        let snapshot = discover_concurrently(pc.clone(), &mapping, scope.as_deref(), 4).await?;
        let discovery_requests = pc.requests_sent() - before;
        let now = wave_start + cost(discovery_requests, opts.rate);
        mock.with(|w| w.advance_to(now)).map_err(|e| anyhow!("{e}"))?;
        let plan = plan(&snapshot, &mapping, &Policy { now, requests_per_minute: opts.rate })?;
        let journal = Arc::new(Journal::in_memory());
        let pacer = Arc::new(Pacer {
            mock: mock.clone(),
            pc: pc.clone(),
            base_time: now,
            base_requests: pc.requests_sent(),
            rate: opts.rate,
        });
        let before_apply = pc.requests_sent();
        let options = ApplyOptions { concurrency: 1, ..ApplyOptions::default() };
        let outcome = apply(pc.clone(), Arc::new(plan.clone()), journal, &options, pacer.clone()).await?;
        pacer.catch_up();
        let apply_requests = pc.requests_sent() - before_apply;
        migration += cost(discovery_requests + apply_requests, opts.rate);
        waves.push(Wave { at: wave_start, plan, outcome, discovery_requests, apply_requests });
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
    mock.with(|w| w.advance_to(end)).map_err(|e| anyhow!("{e}"))?;

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
    let (unexpected, expected) = classify(&verdict, &waves, &mapping);
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
    })
}

/// Losses the plan foresaw (at risk) or could not prevent (not the partner's customer) are
/// expected; the rest are the engine's failures.
fn classify(verdict: &Verdict, waves: &[Wave], mapping: &Mapping) -> (Vec<Violation>, Vec<Expected>) {
    let mut planned_at: BTreeMap<String, (bool, DateTime<Utc>)> = BTreeMap::new();
    for w in waves {
        for c in w.plan.customers.iter().filter(|c| !c.steps.is_empty()) {
            planned_at.entry(c.customer_id.clone()).or_insert((c.at_risk, w.at));
        }
    }
    let mut unexpected = Vec::new();
    let mut expected = Vec::new();
    for v in &verdict.violations {
        let id = v.customer.to_string();
        let reason = match planned_at.get(&id) {
            Some((true, _)) => {
                Some("the plan flagged this customer at risk: its end date came before the migration could reach it")
            }
            Some((false, at)) if v.at < *at => {
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
