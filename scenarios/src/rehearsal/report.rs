//! The report of a rehearsal as data: one value that the terminal text, `--json` and the HTML
//! page all render. Built from the waves the runner ran and the mock's audit log.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mock_server::invariants::SeriesPoint;
use mock_server::model::faults::FaultPlan;
use mock_server::model::{Cause, Event, EventKind, World};
use serde::Serialize;
use skuswap_migrator::apply::ApplyOutcome;
use skuswap_migrator::plan::{CustomerAction, Plan, StepKind};

use super::verdict::Verdict;

/// One run of discover -> plan -> apply (the first reads every customer; later ones only the
/// prospects that have just accepted).
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
    pub verdict: Verdict,
    pub series: Vec<SeriesPoint>,
    pub timelines: Vec<Timeline>,
    pub seats: Vec<SeatRow>,
    /// Customers who would lose licenses if the migration started at `start` (at risk).
    pub at_risk: Vec<String>,
    pub actions: Vec<(String, String)>,
    pub faults: Option<FaultReport>,
    /// Extra runs of `apply` (resumed from the journal) it took to finish.
    pub resumed_runs: u32,
    /// Access tokens obtained after the first, when signed in with a token lifetime.
    pub token_renewals: Option<u64>,
    /// The server-side path: migrations to new commerce (absent when none was planned).
    pub new_commerce: Option<NewCommerceReport>,
    /// Worlds the customers were dealt into and run side by side (1: one world).
    pub shards: usize,
}

/// What the migrations to new commerce did, read from the mock after the run.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewCommerceReport {
    /// Migration steps planned, over every wave.
    pub planned: usize,
    /// Legacy upgrades and NCE transitions planned (synchronous server-side paths).
    pub upgrades: usize,
    pub transitions: usize,
    pub completed: usize,
    /// Failures met (each retried once legacy was active again, or left to the report).
    pub failed: usize,
    /// Subscriptions the server would not migrate, with the reason.
    pub blocked: Vec<String>,
    /// Minutes from create to completion: median and longest.
    pub median_minutes: f64,
    pub longest_minutes: f64,
}

/// How the world's migrations to new commerce ended: minutes from create to completion of
/// each completed one, and how many failed.
#[derive(Debug, Clone, Default)]
pub struct MigrationTimes {
    pub completed_minutes: Vec<f64>,
    pub failed: usize,
}

impl MigrationTimes {
    pub fn of(w: &World) -> Self {
        use mock_server::model::migrations::MigrationStatus;
        MigrationTimes {
            completed_minutes: w
                .all_migrations()
                .filter(|m| m.status == MigrationStatus::Completed)
                .filter_map(|m| m.completed.map(|t| (t - m.started).num_seconds() as f64 / 60.0))
                .collect(),
            failed: w.all_migrations().filter(|m| m.status == MigrationStatus::Failed).count(),
        }
    }
}

/// The new-commerce part of the report, from the plans and how the migrations ended.
pub fn new_commerce(waves: &[Wave], times: &MigrationTimes) -> Option<NewCommerceReport> {
    let plans = || waves.iter().flat_map(|w| &w.plan.customers);
    let count = |kind| plans().flat_map(|c| &c.steps).filter(|s| s.kind() == kind).count();
    let (planned, upgrades, transitions) =
        (count(StepKind::Migrate), count(StepKind::Upgrade), count(StepKind::Transition));
    let blocked: Vec<String> = plans()
        .flat_map(|c| c.blocked.iter().map(move |b| format!("{}: {}: {}", c.name, b.offer_name, b.reason)))
        .collect();
    if planned + upgrades + transitions == 0 && blocked.is_empty() {
        return None;
    }
    let mut minutes = times.completed_minutes.clone();
    minutes.sort_by(f64::total_cmp);
    Some(NewCommerceReport {
        planned,
        upgrades,
        transitions,
        completed: minutes.len(),
        failed: times.failed,
        blocked,
        median_minutes: minutes.get(minutes.len() / 2).copied().unwrap_or(0.0),
        longest_minutes: minutes.last().copied().unwrap_or(0.0),
    })
}

impl Rehearsal {
    pub fn passed(&self) -> bool {
        self.verdict.passed()
    }

    /// Customers the waves planned any step for.
    pub fn planned_customers(&self) -> usize {
        self.waves.iter().map(|w| w.plan.customers.iter().filter(|c| !c.steps.is_empty()).count()).sum()
    }

    /// Planned steps of one kind, over every wave.
    pub fn steps(&self, kind: StepKind) -> usize {
        self.waves.iter().flat_map(|w| &w.plan.customers).flat_map(|c| &c.steps).filter(|s| s.kind() == kind).count()
    }

    /// Invitations the first wave sent to prospects.
    pub fn invitations(&self) -> usize {
        self.waves.first().map_or(0, |w| {
            w.plan
                .customers
                .iter()
                .flat_map(|c| &c.actions)
                .filter(|a| matches!(a, CustomerAction::AcceptInvitation { .. }))
                .count()
        })
    }
}

/// Customers the plans flagged at risk (by name), and what the last wave asks customers to do.
pub fn at_risk_and_actions(waves: &[Wave]) -> (Vec<String>, Vec<(String, String)>) {
    let at_risk: std::collections::BTreeSet<String> =
        waves.iter().flat_map(|w| &w.plan.customers).filter(|c| c.at_risk).map(|c| c.name.clone()).collect();
    let actions = waves
        .last()
        .map(|w| {
            w.plan.customers.iter().flat_map(|c| c.actions.iter().map(|a| (c.name.clone(), a.describe()))).collect()
        })
        .unwrap_or_default();
    (at_risk.into_iter().collect(), actions)
}

pub fn describe_plan(plan: &FaultPlan) -> String {
    format!(
        "seed {}: {} rule(s), {} rate limit(s), fairness {}",
        plan.seed,
        plan.rules.len(),
        plan.rate_limits.len(),
        plan.fairness
    )
}

/// Faults injected, throttles and replayed orders, counted from the audit log.
pub fn fault_counts(events: &[std::sync::Arc<Event>]) -> FaultReport {
    let mut r = FaultReport::default();
    for e in events {
        match &e.kind {
            EventKind::FaultInjected(hit) => *r.injected.entry(hit.effect.clone()).or_default() += 1,
            EventKind::Throttled(_) => r.throttled += 1,
            EventKind::OrderReplayed { .. } => r.replayed_orders += 1,
            _ => {}
        }
    }
    r
}

pub fn is_request(e: &Event) -> bool {
    matches!(*e.cause, Cause::Request { .. })
}

/// Each planned customer's purchase, swaps, suspension, de-provisioning and expiry, earliest
/// deadline first.
pub fn timelines(events: &[std::sync::Arc<Event>], waves: &[Wave]) -> Vec<Timeline> {
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
    out.sort_by(|a, b| timeline_order(a).cmp(&timeline_order(b)));
    out
}

/// Where a timeline stands in the report: earliest deadline first, none last, then by name.
pub fn timeline_order(t: &Timeline) -> (bool, Option<DateTime<Utc>>, &str) {
    (t.deadline.is_none(), t.deadline, &t.name)
}

/// Seats bought by requests, and seats of suspended subscriptions, per product.
pub fn seats(w: &World) -> Vec<SeatRow> {
    let mut quantity: BTreeMap<uuid::Uuid, (String, u64)> = BTreeMap::new();
    let mut rows: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for e in w.events() {
        match &e.kind {
            EventKind::SubscriptionCreated(c) => {
                let name = w.catalog.offer(&c.offer_id).map(|o| o.name.clone()).unwrap_or_else(|| c.offer_id.clone());
                if let Some(s) = e.subscription {
                    quantity.insert(s, (name.clone(), u64::from(c.quantity)));
                }
                if is_request(e) {
                    rows.entry(name).or_default().0 += u64::from(c.quantity);
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
