//! Plan: a pure function of the discovered snapshot, the mapping and a policy. Per customer,
//! in order: buy the successor (or reuse free seats), swap each user in one call, suspend the
//! old subscriptions this partner sold; everything else is an action for the customer.
//! Customers are ordered by deadline, earliest first, and flagged at risk when the estimated
//! completion at the configured request rate falls after their end date. Rows whose strategy
//! migrates add `Migrate` steps first (the server works on them meanwhile).
//!
//! # Layout
//! - this file: steps, plans, the manual path, ordering and the plan table.
//! - `new_commerce`: the server-side path (migrations, what is blocked and why).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::client::{Offer, SubscriptionStatus};
use crate::discover::{CustomerState, Snapshot};
use crate::mapping::Mapping;

mod new_commerce;

use new_commerce::{left_unmoved, other_channel_left, plan_migrations, plan_synchronous};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "kind")]
pub enum Step {
    /// Buy `quantity` seats of the successor offer. `tag` is the friendly name the purchase
    /// carries, by which a resumed run recognises it instead of buying again.
    Buy { offer_id: String, offer_name: String, quantity: u32, tag: String },
    /// One call per user: assign every successor SKU (by product name) and remove the retired
    /// SKUs (by id) together.
    Swap { user_id: String, user_principal_name: String, assign: Vec<String>, remove: Vec<String> },
    /// Suspend a retired subscription this partner sold (after every swap).
    Suspend { subscription_id: String, offer_name: String },
    /// Upgrade a legacy subscription with the legacy upgrades API, moving its users' licenses
    /// (the server buys the target and suspends the source).
    Upgrade { subscription_id: String, offer_name: String, target_offer_id: String, target_name: String, quantity: u32 },
    /// Transition every seat of an NCE subscription, with the licenses, to another item.
    Transition {
        subscription_id: String,
        offer_name: String,
        to_catalog_item_id: String,
        to_name: String,
        quantity: u32,
    },
    /// Migrate a legacy subscription (and its add-ons, as one bundle) to new commerce on the
    /// server: create once, poll until it completes, retry a failure once legacy is active.
    Migrate {
        subscription_id: String,
        offer_name: String,
        add_ons: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        term_duration: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        billing_cycle: Option<String>,
        #[serde(default)]
        purchase_full_term: bool,
    },
}

/// What a step does, without its data: journals, progress and reports speak of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StepKind {
    Buy,
    Swap,
    Suspend,
    Migrate,
    Upgrade,
    Transition,
}

impl StepKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            StepKind::Buy => "buy",
            StepKind::Swap => "swap",
            StepKind::Suspend => "suspend",
            StepKind::Migrate => "migrate",
            StepKind::Upgrade => "upgrade",
            StepKind::Transition => "transition",
        }
    }
}

impl std::fmt::Display for StepKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Step {
    pub fn kind(&self) -> StepKind {
        match self {
            Step::Buy { .. } => StepKind::Buy,
            Step::Swap { .. } => StepKind::Swap,
            Step::Suspend { .. } => StepKind::Suspend,
            Step::Migrate { .. } => StepKind::Migrate,
            Step::Upgrade { .. } => StepKind::Upgrade,
            Step::Transition { .. } => StepKind::Transition,
        }
    }

    /// Requests the step costs against Partner Center when it runs without faults.
    pub fn requests(&self) -> u32 {
        match self {
            Step::Buy { .. } => 3,
            Step::Swap { .. } => 1,
            Step::Suspend { .. } => 2,
            // Read the subscription's migrations, create, and a few polls.
            Step::Migrate { .. } => 6,
            // Read the truth, then the call.
            Step::Upgrade { .. } | Step::Transition { .. } => 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase", tag = "kind")]
pub enum CustomerAction {
    /// Seats of a retired SKU come from a subscription this partner did not sell (Open,
    /// direct, another CSP partner): the customer must cancel it through that channel.
    CancelOtherChannel { product: String, seats: i64 },
    /// Not the partner's customer yet: the customer's global admin must accept this link.
    AcceptInvitation { url: String },
}

impl CustomerAction {
    pub fn describe(&self) -> String {
        match self {
            CustomerAction::CancelOtherChannel { product, seats } => format!(
                "cancel {seats} seat(s) of {product} bought through another channel (Open, direct or another partner): this partner cannot suspend them"
            ),
            CustomerAction::AcceptInvitation { url } => {
                format!("accept the reseller invitation: {url}")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerPlan {
    pub customer_id: String,
    pub name: String,
    /// The earliest end date of a retired subscription this partner sold.
    pub deadline: Option<DateTime<Utc>>,
    pub estimated_completion: DateTime<Utc>,
    pub at_risk: bool,
    pub steps: Vec<Step>,
    pub actions: Vec<CustomerAction>,
    /// Things the plan could not do well (e.g. more seats than an offer's maximum).
    pub warnings: Vec<String>,
    /// Subscriptions a row would migrate to new commerce that the server says cannot go, and
    /// why (under `auto` they take the manual path instead, when the row names successors).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<Blocked>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blocked {
    pub subscription_id: String,
    pub offer_name: String,
    pub reason: String,
    /// `manual` when the row falls back to buying successors; none when the subscription stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// What a migration to new commerce is expected to take, beyond its requests (Microsoft:
/// "usually 0-6 hours"; the mock's default is minutes): counted in the at-risk estimate.
pub const MIGRATION_ESTIMATE_MINUTES: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub format: u32,
    /// Digest of the steps: identifies the migration in the journal.
    pub id: String,
    pub planned_at: DateTime<Utc>,
    pub requests_per_minute: u32,
    pub customers: Vec<CustomerPlan>,
}

#[derive(Debug, Clone)]
pub struct Policy {
    /// The moment the plan is made (passed in: the engine never reads a clock).
    pub now: DateTime<Utc>,
    /// Partner Center's documented limit is 500 requests per minute.
    pub requests_per_minute: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("mapping row {row:?}: successor {name:?} is not in the catalog (market {country})")]
    UnknownSuccessor { row: String, name: String, country: String },
    #[error("mapping row {row:?}: successor {name:?} is no longer available for purchase")]
    SuccessorNotPurchasable { row: String, name: String },
    #[error("the request rate must be at least 1 per minute")]
    ZeroRate,
}

fn find_offer<'a>(offers: &'a [Offer], name_or_id: &str) -> Option<&'a Offer> {
    offers
        .iter()
        .find(|o| o.id.eq_ignore_ascii_case(name_or_id))
        .or_else(|| offers.iter().find(|o| o.name.eq_ignore_ascii_case(name_or_id)))
}

fn is_active(status: &SubscriptionStatus) -> bool {
    *status == SubscriptionStatus::Active
}

/// FNV-1a over the text: a stable, dependency-free digest for plan ids.
pub fn digest(text: &str) -> String {
    let mut h = Fnv::default();
    h.feed(text.as_bytes());
    h.hex()
}

/// FNV-1a fed as it is written, so a plan's digest never holds its whole JSON text (tens of
/// megabytes for a large book).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn feed(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

impl std::io::Write for Fnv {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.feed(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Build the plan (pure).
pub fn plan(snapshot: &Snapshot, mapping: &Mapping, policy: &Policy) -> Result<Plan, PlanError> {
    if policy.requests_per_minute == 0 {
        return Err(PlanError::ZeroRate);
    }
    let mut customers = Vec::new();
    for c in &snapshot.customers {
        if let Some(p) = plan_customer(c, snapshot, mapping)? {
            customers.push(p);
        }
    }
    for prospect in &snapshot.prospects {
        customers.push(CustomerPlan {
            customer_id: prospect.clone(),
            name: format!("prospect {prospect}"),
            deadline: None,
            estimated_completion: policy.now,
            at_risk: false,
            steps: Vec::new(),
            actions: vec![CustomerAction::AcceptInvitation { url: snapshot.invitation_url.clone() }],
            warnings: Vec::new(),
            blocked: Vec::new(),
        });
    }
    in_deadline_order(&mut customers);
    let mut spent: u64 = 0;
    for c in &mut customers {
        spent += c.steps.iter().map(|s| u64::from(s.requests())).sum::<u64>();
        let millis = spent.saturating_mul(60_000) / u64::from(policy.requests_per_minute);
        let waiting = if c.steps.iter().any(|s| s.kind() == StepKind::Migrate) {
            Duration::minutes(MIGRATION_ESTIMATE_MINUTES)
        } else {
            Duration::zero()
        };
        c.estimated_completion =
            policy.now + Duration::milliseconds(i64::try_from(millis).unwrap_or(i64::MAX / 2)) + waiting;
        c.at_risk = c.deadline.is_some_and(|d| d <= c.estimated_completion);
    }
    Ok(Plan::of(customers, policy.now, policy.requests_per_minute))
}

/// Deadline first; unknown deadlines last; ties by name, then id, for a stable order.
fn in_deadline_order(customers: &mut [CustomerPlan]) {
    customers.sort_by(|a, b| {
        (a.deadline.is_none(), a.deadline, &a.name, &a.customer_id).cmp(&(
            b.deadline.is_none(),
            b.deadline,
            &b.name,
            &b.customer_id,
        ))
    });
}

impl Plan {
    fn of(customers: Vec<CustomerPlan>, planned_at: DateTime<Utc>, requests_per_minute: u32) -> Plan {
        // The digest of the customers' JSON text, written straight into the hash.
        let mut h = Fnv::default();
        let _ = serde_json::to_writer(&mut h, &customers);
        Plan { format: 1, id: h.hex(), planned_at, requests_per_minute, customers }
    }

    /// Plans made for parts of one book (a sharded rehearsal deals customers into worlds of
    /// their own, each with its share of the rate) as the one plan of the whole: every
    /// customer in deadline order, made when the last part was, at the whole rate.
    pub fn join(parts: Vec<Plan>, requests_per_minute: u32) -> Plan {
        let planned_at = parts.iter().map(|p| p.planned_at).max().unwrap_or_default();
        let mut customers: Vec<CustomerPlan> = parts.into_iter().flat_map(|p| p.customers).collect();
        in_deadline_order(&mut customers);
        Plan::of(customers, planned_at, requests_per_minute)
    }
}

fn plan_customer(c: &CustomerState, snapshot: &Snapshot, mapping: &Mapping) -> Result<Option<CustomerPlan>, PlanError> {
    // Retired SKUs present in the tenant, each with the successor the policy picks.
    let mut server = plan_migrations(c, mapping);
    plan_synchronous(c, mapping, &mut server);
    left_unmoved(c, mapping, &mut server);
    let mut retired: BTreeMap<String, (String, &Offer)> = BTreeMap::new(); // sku id -> (sku name, successor)
    for sku in &c.skus {
        let Some(row) = mapping.row_for(&sku.product_sku.id, &sku.product_sku.name) else {
            continue;
        };
        if !Mapping::manual_applies(row) {
            server.blocked.extend(other_channel_left(c, sku));
            continue;
        }
        if server.offers.contains(&sku.product_sku.name.to_lowercase()) {
            continue;
        }
        let name = mapping.successor_for(&c.id, row);
        let offer = find_offer(&snapshot.offers, &name).ok_or_else(|| PlanError::UnknownSuccessor {
            row: row.from.clone(),
            name: name.clone(),
            country: mapping.country.clone(),
        })?;
        if !offer.is_available_for_purchase {
            return Err(PlanError::SuccessorNotPurchasable { row: row.from.clone(), name });
        }
        retired.insert(sku.product_sku.id.clone(), (sku.product_sku.name.clone(), offer));
    }
    let ours: Vec<_> = c
        .subscriptions
        .iter()
        .filter(|s| mapping.row_for(&s.offer_id, &s.offer_name).is_some_and(Mapping::manual_applies))
        .filter(|s| !server.subscriptions.contains(&s.id) && !server.offers.contains(&s.offer_name.to_lowercase()))
        .collect();
    if retired.is_empty() && ours.is_empty() && server.steps.is_empty() && server.blocked.is_empty() {
        return Ok(None);
    }

    // Users holding a retired SKU, and what each needs.
    let sku_name = |id: &str| c.skus.iter().find(|s| s.product_sku.id == id).map(|s| s.product_sku.name.clone());
    let mut swaps = Vec::new();
    let mut needed: BTreeMap<String, u32> = BTreeMap::new(); // successor offer name -> seats
    for u in &c.users {
        let remove: Vec<String> = u.skus.iter().filter(|s| retired.contains_key(*s)).cloned().collect();
        if remove.is_empty() {
            continue;
        }
        let held: BTreeSet<String> = u.skus.iter().filter_map(|s| sku_name(s)).collect();
        let assign: BTreeSet<String> = remove
            .iter()
            .filter_map(|s| retired.get(s).map(|(_, o)| o.name.clone()))
            .filter(|name| !held.contains(name))
            .collect();
        for name in &assign {
            *needed.entry(name.clone()).or_insert(0) += 1;
        }
        swaps.push(Step::Swap {
            user_id: u.id.clone(),
            user_principal_name: u.user_principal_name.clone(),
            assign: assign.into_iter().collect(),
            remove,
        });
    }

    // Migrations first: they run on the server for minutes or hours while the rest goes on.
    let mut steps = server.steps;
    let mut warnings = Vec::new();
    for (name, seats) in &needed {
        let Some(offer) = find_offer(&snapshot.offers, name) else {
            continue;
        };
        // Reuse free active seats of the successor the tenant already has, but never a
        // trial's: users moved onto a trial lose the license when it ends.
        let trial_seats: i64 = c
            .subscriptions
            .iter()
            .filter(|s| s.is_trial && is_active(&s.status) && s.offer_name.eq_ignore_ascii_case(name))
            .map(|s| i64::from(s.quantity))
            .sum();
        let free = c
            .skus
            .iter()
            .filter(|s| s.product_sku.name.eq_ignore_ascii_case(name))
            .map(|s| (s.active_units - s.consumed_units).max(0))
            .sum::<i64>()
            .saturating_sub(trial_seats)
            .max(0);
        let missing = i64::from(*seats) - free;
        if missing <= 0 {
            continue;
        }
        let mut quantity = u32::try_from(missing).unwrap_or(u32::MAX).max(offer.minimum_quantity.max(1));
        if offer.maximum_quantity > 0 && quantity > offer.maximum_quantity {
            warnings.push(format!(
                "{name}: {quantity} seats needed but one subscription holds at most {}; buy the rest by hand",
                offer.maximum_quantity
            ));
            quantity = offer.maximum_quantity;
        }
        steps.push(Step::Buy {
            offer_id: offer.id.clone(),
            offer_name: offer.name.clone(),
            quantity,
            tag: String::new(),
        });
    }
    steps.extend(swaps);

    // Suspend what this partner sold: add-ons before their base subscription.
    let mut to_suspend: Vec<_> = ours.iter().filter(|s| is_active(&s.status)).collect();
    to_suspend.sort_by_key(|s| (s.parent_subscription_id.is_none(), s.id.clone()));
    for s in &to_suspend {
        steps.push(Step::Suspend { subscription_id: s.id.clone(), offer_name: s.offer_name.clone() });
    }

    // Seats of retired SKUs beyond what this partner sold come from another channel.
    let mut actions = Vec::new();
    for (sku_id, (name, _)) in &retired {
        let Some(sku) = c.skus.iter().find(|s| &s.product_sku.id == sku_id) else {
            continue;
        };
        let sold: i64 = ours
            .iter()
            .filter(|s| {
                s.offer_name.eq_ignore_ascii_case(name)
                    && (is_active(&s.status) || s.status == SubscriptionStatus::Suspended)
            })
            .map(|s| i64::from(s.quantity))
            .sum();
        let other = sku.active_units + sku.suspended_units + sku.warning_units - sold;
        if other > 0 {
            actions.push(CustomerAction::CancelOtherChannel { product: name.clone(), seats: other });
        }
    }
    if steps.is_empty() && actions.is_empty() && server.blocked.is_empty() {
        return Ok(None);
    }
    let deadline = ours
        .iter()
        .copied()
        .chain(c.subscriptions.iter().filter(|s| server.subscriptions.contains(&s.id)))
        .filter(|s| is_active(&s.status))
        .filter_map(|s| s.commitment_end_date)
        .min();
    // The purchase tag: stable per customer and offer, short enough for a friendly name.
    for step in &mut steps {
        if let Step::Buy { offer_id, tag, .. } = step {
            *tag = format!("skuswap {}", &digest(&format!("{}|{offer_id}", c.id))[..12]);
        }
    }
    Ok(Some(CustomerPlan {
        customer_id: c.id.clone(),
        name: c.name.clone(),
        deadline,
        estimated_completion: DateTime::<Utc>::MIN_UTC,
        at_risk: false,
        steps,
        actions,
        warnings,
        blocked: server.blocked,
    }))
}

impl Plan {
    /// The plan as a table for people.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<28} {:<11} {:<7} {:<52} {:>5} {:>7}  CUSTOMER MUST",
            "CUSTOMER", "DEADLINE", "RISK", "BUY", "USERS", "SUSPEND"
        );
        for c in &self.customers {
            let buys: Vec<String> = c
                .steps
                .iter()
                .filter_map(|s| match s {
                    Step::Buy { offer_name, quantity, .. } => Some(format!("{offer_name} x{quantity}")),
                    _ => None,
                })
                .collect();
            let users = c.steps.iter().filter(|s| matches!(s, Step::Swap { .. })).count();
            let suspends = c.steps.iter().filter(|s| matches!(s, Step::Suspend { .. })).count();
            let actions: Vec<String> = c
                .actions
                .iter()
                .map(|a| match a {
                    CustomerAction::CancelOtherChannel { product, seats } => {
                        format!("cancel {product} x{seats} (other channel)")
                    }
                    CustomerAction::AcceptInvitation { .. } => "accept invitation".to_string(),
                })
                .collect();
            let _ = writeln!(
                out,
                "{:<28} {:<11} {:<7} {:<52} {:>5} {:>7}  {}",
                truncate(&c.name, 28),
                c.deadline.map_or("-".to_string(), |d| d.format("%Y-%m-%d").to_string()),
                if c.at_risk { "AT RISK" } else { "ok" },
                truncate(&if buys.is_empty() { "-".to_string() } else { buys.join(", ") }, 52),
                users,
                suspends,
                if actions.is_empty() { "-".to_string() } else { actions.join("; ") }
            );
        }
        self.new_commerce_lines(&mut out);
        let requests: u32 = self.customers.iter().flat_map(|c| &c.steps).map(Step::requests).sum();
        let _ = writeln!(
            out,
            "{} customer(s), {} step(s), about {} request(s): {} at {} requests/minute. Plan {}.",
            self.customers.len(),
            self.customers.iter().map(|c| c.steps.len()).sum::<usize>(),
            requests,
            human_minutes(f64::from(requests) / f64::from(self.requests_per_minute.max(1))),
            self.requests_per_minute,
            self.id
        );
        out
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}…", s.chars().take(n - 1).collect::<String>()) }
}

pub fn human_minutes(minutes: f64) -> String {
    if minutes < 1.0 {
        format!("{:.0} s", minutes * 60.0)
    } else if minutes < 120.0 {
        format!("{minutes:.1} min")
    } else {
        format!("{:.1} h", minutes / 60.0)
    }
}
