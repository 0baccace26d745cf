//! The verdict of a rehearsal: one type that decides "passed", built on the mock's judge
//! (`invariants::check`, a fold over the audit log). A license lost to the clock is excused
//! only where the plan foresaw it (at risk) or could not prevent it (not the partner's
//! customer, an end date it cannot see, faults that cost the engine its lead while it kept
//! deadline order); every other violation, an incomplete customer, a double purchase, a
//! leftover after the de-provisioning window, or a change made by a second apply fails it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use mock_server::invariants::{self, Violation, ViolationKind};
use mock_server::model::{Cause, Event, EventKind, World};
use serde::Serialize;
use skuswap_migrator::mapping::Mapping;
use skuswap_migrator::plan::Step;

use super::pacing::Reached;
use super::report::{Wave, is_request};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Expected {
    pub violation: Violation,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    /// The mock's judge found no violation at all (expected ones included).
    pub judge_ok: bool,
    pub unexpected: Vec<Violation>,
    pub expected: Vec<Expected>,
    /// Customers the engine left unfinished, with why.
    pub incomplete: Vec<String>,
    /// Customers (and offers) bought more than once: `customer: offer bought N times`.
    pub double_purchases: Vec<String>,
    /// After the de-provisioning window: old subscriptions of migrated customers not deleted,
    /// moved users holding an old SKU or missing a successor, other channels' suspensions.
    pub leftovers: Vec<String>,
    /// Changes made by a second `apply` after completion (with `Options::reapply`).
    pub reapplied_changes: Vec<String>,
    /// Moments the run sent more NCE migration creates than Partner Center allows (100 per
    /// partner in 5 minutes), judged from the audit log.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limit_breaches: Vec<String>,
    /// For a failure: the audit-log lines around the first unexpected violation.
    pub log_excerpt: Vec<String>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.unexpected.is_empty()
            && self.incomplete.is_empty()
            && self.double_purchases.is_empty()
            && self.leftovers.is_empty()
            && self.reapplied_changes.is_empty()
            && self.limit_breaches.is_empty()
    }
}

/// What the judge needs to know of the run besides the world.
pub struct Run<'a> {
    pub waves: &'a [Wave],
    pub mapping: &'a Mapping,
    pub reached: &'a Reached,
    /// Faults, or a world changed under the engine (a clock jump): losses to the clock are
    /// then judged by the order the engine kept.
    pub disturbed: bool,
    pub reapplied_changes: Vec<String>,
}

/// Judge the world's audit log after the window closed.
pub fn judge(w: &World, run: Run<'_>, judged: &invariants::Verdict) -> Verdict {
    let reached = run.reached.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let late = if run.disturbed { late_in_order(run.waves, &reached) } else { BTreeSet::new() };
    let stays = left_as_they_are(w, run.waves);
    let (unexpected, expected) = classify(judged, run.waves, (run.mapping, &stays), &late, &reached, run.disturbed);
    let incomplete = run
        .waves
        .iter()
        .flat_map(|wave| wave.outcome.customers.iter().filter(|o| !o.complete))
        .map(|o| format!("{}: {}", o.name, o.error.clone().unwrap_or_default()))
        .collect();
    let log_excerpt = unexpected.first().map(|v| excerpt(w.events(), v.event)).unwrap_or_default();
    Verdict {
        judge_ok: judged.ok,
        unexpected,
        expected,
        incomplete,
        double_purchases: double_purchases(w).into_iter().chain(double_migrations(w)).collect(),
        limit_breaches: migration_rate(w),
        leftovers: leftovers(w, run.waves),
        reapplied_changes: run.reapplied_changes,
        log_excerpt,
    }
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
            (EventKind::SubscriptionCreated(c), Some(s)) => {
                channel.insert(s, c.channel);
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

/// Add-ons migrated to new commerce on their own, not in their base's bundle: a completed
/// migration whose legacy subscription is an add-on.
fn orphan_add_ons(w: &World) -> Vec<String> {
    w.all_migrations()
        .filter(|m| m.status == mock_server::model::migrations::MigrationStatus::Completed)
        .filter(|m| {
            w.customer_any(m.customer)
                .and_then(|c| c.subscriptions.get(&m.current_subscription_id))
                .is_some_and(|s| s.parent_subscription_id.is_some())
        })
        .map(|m| format!("add-on {} migrated without its base (migration {})", m.current_subscription_id, m.id))
        .collect()
}

/// The end state the migration promised, checked on the world after the window closed.
fn leftovers(w: &World, waves: &[Wave]) -> Vec<String> {
    use mock_server::model::SubscriptionStatus;
    let mut out = foreign_suspensions(w);
    out.extend(orphan_add_ons(w));
    for wave in waves {
        for c in &wave.plan.customers {
            let Some(customer) = c.customer_id.parse().ok().and_then(|id| w.customer_any(id)) else { continue };
            for step in &c.steps {
                match step {
                    Step::Suspend { subscription_id, offer_name } => {
                        let sub =
                            subscription_id.parse::<uuid::Uuid>().ok().and_then(|id| customer.subscriptions.get(&id));
                        if sub.is_some_and(|s| s.status != SubscriptionStatus::Deleted) {
                            out.push(format!("{}: {offer_name} {subscription_id} is not de-provisioned", c.name));
                        }
                    }
                    Step::Swap { user_id, user_principal_name, assign, remove } => {
                        let Some(user) = user_id.parse::<uuid::Uuid>().ok().and_then(|id| customer.users.get(&id))
                        else {
                            continue;
                        };
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
                    Step::Migrate { subscription_id, offer_name, .. } => {
                        let done = w.all_migrations().any(|m| {
                            m.current_subscription_id.to_string() == *subscription_id
                                && m.status == mock_server::model::migrations::MigrationStatus::Completed
                        });
                        if !done {
                            out.push(format!(
                                "{}: {offer_name} {subscription_id} never migrated to new commerce",
                                c.name
                            ));
                        }
                    }
                    Step::Upgrade { subscription_id, offer_name, .. } => {
                        let sub =
                            subscription_id.parse::<uuid::Uuid>().ok().and_then(|id| customer.subscriptions.get(&id));
                        if sub.is_some_and(|s| s.status == SubscriptionStatus::Active) {
                            out.push(format!("{}: {offer_name} {subscription_id} was never upgraded", c.name));
                        }
                    }
                    Step::Transition { subscription_id, offer_name, to_catalog_item_id, .. } => {
                        let sub =
                            subscription_id.parse::<uuid::Uuid>().ok().and_then(|id| customer.subscriptions.get(&id));
                        if sub.is_some_and(|s| !s.offer_id.eq_ignore_ascii_case(to_catalog_item_id)) {
                            out.push(format!("{}: {offer_name} {subscription_id} was never transitioned", c.name));
                        }
                    }
                    Step::Buy { .. } => {}
                }
            }
        }
    }
    out
}

/// A second migration of one subscription started while an earlier one was running or done
/// (a retry after a failure is not one).
fn double_migrations(w: &World) -> Vec<String> {
    use mock_server::model::migrations::MigrationStatus;
    let mut by_sub: BTreeMap<uuid::Uuid, Vec<&mock_server::model::migrations::Migration>> = BTreeMap::new();
    for m in w.all_migrations() {
        by_sub.entry(m.current_subscription_id).or_default().push(m);
    }
    let mut out = Vec::new();
    for (sub, mut ms) in by_sub {
        ms.sort_by_key(|m| m.started);
        for pair in ms.windows(2) {
            let earlier_over = pair[0].completed.is_some_and(|t| t <= pair[1].started);
            if pair[0].status != MigrationStatus::Failed || !earlier_over {
                out.push(format!(
                    "subscription {sub}: migration {} started while {} was not failed",
                    pair[1].id, pair[0].id
                ));
            }
        }
    }
    out
}

/// Migration creates the service accepted, per partner, in any 5 minutes: at most 100.
pub fn migration_rate(w: &World) -> Vec<String> {
    rate_breaches(migration_starts(w))
}

/// Each migration's partner and the instant it was created.
pub fn migration_starts(w: &World) -> Vec<(uuid::Uuid, DateTime<Utc>)> {
    w.all_migrations().map(|m| (m.partner, m.started)).collect()
}

/// [`migration_rate`] over creates gathered from several worlds (a sharded rehearsal's
/// partner is one partner, whichever world its creates landed in).
pub fn rate_breaches(created: impl IntoIterator<Item = (uuid::Uuid, DateTime<Utc>)>) -> Vec<String> {
    let mut starts: BTreeMap<uuid::Uuid, Vec<DateTime<Utc>>> = BTreeMap::new();
    for (partner, at) in created {
        starts.entry(partner).or_default().push(at);
    }
    let window = chrono::Duration::minutes(5);
    let mut out = Vec::new();
    for (partner, mut at) in starts {
        at.sort();
        if let Some(i) = (100..at.len()).find(|&i| at[i] - at[i - 100] < window) {
            out.push(format!("partner {partner}: 101 migrations created within 5 minutes (by {})", at[i]));
        }
    }
    out
}

/// Successor subscriptions bought by requests more than once for the same customer and offer.
fn double_purchases(w: &World) -> Vec<String> {
    let mut bought: BTreeMap<(uuid::Uuid, String), u32> = BTreeMap::new();
    for e in w.events() {
        if let (EventKind::SubscriptionCreated(created), Some(c)) = (&e.kind, e.customer)
            && is_request(e)
        {
            *bought.entry((c, created.offer_id.clone())).or_default() += 1;
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

/// `(customer, SKU)` the plans left as they were: a subscription the server would not migrate
/// under a strategy without fallback, or another channel's seats nobody migrates. A loss on
/// that SKU at its end date is the plan's stated outcome; a loss on any other is not excused.
fn left_as_they_are(w: &World, waves: &[Wave]) -> BTreeSet<(String, uuid::Uuid)> {
    waves
        .iter()
        .flat_map(|wave| &wave.plan.customers)
        .flat_map(|c| c.blocked.iter().filter(|b| b.fallback.is_none()).map(move |b| (c, b)))
        .filter_map(|(c, b)| {
            let sku = w.catalog.offers().find(|o| o.name.eq_ignore_ascii_case(&b.offer_name))?.sku_id;
            Some((c.customer_id.clone(), sku))
        })
        .collect()
}

fn classify(
    verdict: &invariants::Verdict,
    waves: &[Wave],
    (mapping, stays): (&Mapping, &BTreeSet<(String, uuid::Uuid)>),
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
        // a request is the engine's doing, and an early retry or an over-assignment never is
        // (unless the service itself caused it, below).
        // The service itself took the seats (a migration failed in limbo): whatever followed in
        // that batch, a loss or an over-assignment, no client could have prevented.
        if v.kind != ViolationKind::EarlyRetry
            && let Some(why) = &v.unavoidable
        {
            expected.push(Expected { violation: v.clone(), reason: format!("unavoidable: {why}") });
            continue;
        }
        if v.kind != ViolationKind::UserUnlicensed || !matches!(v.cause, Cause::ClockStep) {
            unexpected.push(v.clone());
            continue;
        }
        let id = v.customer.to_string();
        let reason = match planned_at.get(&id) {
            _ if v.sku.is_some_and(|sku| stays.contains(&(id.clone(), sku))) => Some(
                "the plan left a subscription of this customer as it was: the server would not migrate it to new commerce and its strategy has no fallback",
            ),
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

fn excerpt(events: &[std::sync::Arc<Event>], seq: u64) -> Vec<String> {
    let i = events.partition_point(|e| e.seq < seq);
    let from = i.saturating_sub(5);
    let to = (i + 4).min(events.len());
    events[from..to].iter().map(ToString::to_string).collect()
}

/// An event a Partner Center request made that changes state (not a fault or a replay).
pub fn changes_state(e: &Event) -> bool {
    is_request(e)
        && !matches!(
            e.kind,
            EventKind::FaultInjected(_)
                | EventKind::Throttled(_)
                | EventKind::EarlyRetry { .. }
                | EventKind::OrderReplayed { .. }
        )
}
