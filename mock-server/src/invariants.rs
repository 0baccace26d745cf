//! The judge: folds the audit log and reports every moment a licensed user lost their last
//! effective license in a product family, a SKU had more holders than purchased seats, or a
//! client retried a throttled request before its `Retry-After` had passed.
//!
//! It is a pure function over the events (no access to the live state), so it judges any
//! client's migration the same way and tests can reuse it on an exported log. State is judged
//! at batch boundaries (the end of a request or of a clock step), never inside an atomic swap.
//! The effective-license rule is [`crate::model::is_effective`], the same the model uses.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{Cause, Event, EventKind, SubscriptionStatus, is_effective};

mod sorted_set;
use sorted_set::SortedSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// A user who held an effective license in a family no longer does.
    UserUnlicensed,
    /// More users hold a SKU than the tenant has purchased (active + warning) seats.
    SeatsOverAssigned,
    /// A throttled request was sent again before its `Retry-After` had passed.
    EarlyRetry,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    pub kind: ViolationKind,
    pub customer: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// The event (sequence number) that tipped it: the last change in the batch to the
    /// user's licenses or to the seats of a SKU the user held.
    pub event: u64,
    pub batch: u64,
    pub at: DateTime<Utc>,
    pub cause: Cause,
    pub message: String,
    /// Why no client could have prevented it (the service itself took the seats), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavoidable: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub ok: bool,
    pub violations: Vec<Violation>,
}

#[derive(Default, Clone, Copy, Debug, Serialize, Deserialize)]
struct Pool {
    active: u32,
    warning: u32,
    consumed: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Sub {
    pool: (Uuid, Uuid),
    quantity: u32,
    status: SubscriptionStatus,
    /// Suspended by an NCE migration with its seats still in service (see `model::migrations`).
    held: bool,
}

#[derive(Default, Clone, Debug, Serialize, Deserialize)]
struct Fold {
    // Every map as sorted pairs: a snapshot that carries a judge stays byte for byte.
    #[serde(with = "pairs")]
    subs: HashMap<Uuid, Sub>,
    #[serde(with = "pairs")]
    pools: HashMap<(Uuid, Uuid), Pool>,
    #[serde(with = "pairs")]
    holders: HashMap<(Uuid, Uuid), BTreeSet<Uuid>>,
    /// Each user's customer and the SKUs they hold: a user holds one or two, so a sorted
    /// vector (see `sorted_set`: a set's node is some two hundred bytes, over 250,000 users).
    #[serde(with = "pairs")]
    user_skus: HashMap<Uuid, (Uuid, SortedSet<Uuid>)>,
    deleted_users: BTreeSet<Uuid>,
    /// Each SKU's family, shared with every user's set below.
    #[serde(with = "pairs")]
    family: HashMap<Uuid, Arc<str>>,
    /// Families in which each user held an effective license at the last boundary.
    #[serde(with = "pairs")]
    licensed: HashMap<Uuid, SortedSet<Arc<str>>>,
    over: BTreeSet<(Uuid, Uuid)>,
    /// Whether each pool's licenses were effective at the last boundary: only a flip needs
    /// every holder re-examined (a plain swap touches just its own user).
    #[serde(with = "pairs")]
    effective: HashMap<(Uuid, Uuid), bool>,
}

/// Maps as lists of pairs sorted by key: JSON keys must be strings, and a hash map's order
/// would change every run.
mod pairs {
    use std::collections::HashMap;
    use std::hash::Hash;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K: Serialize + Ord, V: Serialize, S: Serializer>(
        map: &HashMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut list: Vec<(&K, &V)> = map.iter().collect();
        list.sort_by(|a, b| a.0.cmp(b.0));
        list.serialize(s)
    }

    pub fn deserialize<'de, K: Deserialize<'de> + Eq + Hash, V: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<HashMap<K, V>, D::Error> {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

fn pool_counts(status: SubscriptionStatus, held: bool, quantity: u32) -> (u32, u32) {
    match status {
        SubscriptionStatus::Active => (quantity, 0),
        SubscriptionStatus::Suspended if held => (quantity, 0),
        SubscriptionStatus::Expired => (0, quantity),
        SubscriptionStatus::Suspended | SubscriptionStatus::Deleted => (0, 0),
    }
}

impl Fold {
    fn set_sub(&mut self, id: Uuid, quantity: u32, status: SubscriptionStatus) {
        let held = self.subs.get(&id).is_some_and(|s| s.held) && status == SubscriptionStatus::Suspended;
        self.set_sub_held(id, quantity, status, held);
    }

    fn set_sub_held(&mut self, id: Uuid, quantity: u32, status: SubscriptionStatus, held: bool) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        let (a0, w0) = pool_counts(sub.status, sub.held, sub.quantity);
        let (a1, w1) = pool_counts(status, held, quantity);
        sub.quantity = quantity;
        sub.status = status;
        sub.held = held;
        let pool = self.pools.entry(sub.pool).or_default();
        pool.active = pool.active.saturating_sub(a0).saturating_add(a1);
        pool.warning = pool.warning.saturating_sub(w0).saturating_add(w1);
    }

    /// An in-place transition: the subscription's seats leave one SKU's pool for another's.
    fn move_sub(&mut self, id: Uuid, to: (Uuid, Uuid)) {
        let Some((quantity, status, held)) = self.subs.get(&id).map(|s| (s.quantity, s.status, s.held)) else {
            return;
        };
        self.set_sub_held(id, 0, SubscriptionStatus::Deleted, false);
        if let Some(sub) = self.subs.get_mut(&id) {
            sub.pool = to;
        }
        self.set_sub_held(id, quantity, status, held);
    }

    fn effective_families(&self, user: Uuid) -> SortedSet<Arc<str>> {
        let Some((customer, skus)) = self.user_skus.get(&user) else {
            return SortedSet::default();
        };
        if self.deleted_users.contains(&user) {
            return SortedSet::default();
        }
        skus.iter()
            .filter(|sku| {
                let p = self.pools.get(&(*customer, **sku)).copied().unwrap_or_default();
                is_effective(p.active, p.consumed)
            })
            .filter_map(|sku| self.family.get(sku).cloned())
            .collect()
    }
}

/// How many users held an effective license in each family, after a batch that changed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesPoint {
    pub at: DateTime<Utc>,
    pub licensed: BTreeMap<String, u64>,
}

/// Judge a whole log.
pub fn check<E: Borrow<Event>>(events: &[E]) -> Verdict {
    fold(events, false).0
}

/// Judge a whole log, and chart licensed users per family over virtual time (same fold).
pub fn check_with_series<E: Borrow<Event>>(events: &[E]) -> (Verdict, Vec<SeriesPoint>) {
    fold(events, true)
}

fn fold<E: Borrow<Event>>(events: &[E], want_series: bool) -> (Verdict, Vec<SeriesPoint>) {
    let mut judge = Judge { want_series, ..Judge::default() };
    judge.feed(events);
    judge.conclude()
}

/// The judge as a running fold: fed whole batches as the log grows, so a verdict costs only
/// the events since the last one, and a log cut from the front (`World::bound_log`) keeps
/// the judge's state at the cut.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Judge {
    fold: Fold,
    violations: Vec<Violation>,
    series: Vec<SeriesPoint>,
    counts: BTreeMap<String, u64>,
    want_series: bool,
    /// The last event folded.
    through: u64,
}

impl Judge {
    /// A judge that also charts licensed users per family (what [`check_with_series`] folds).
    pub fn charting() -> Self {
        Judge { want_series: true, ..Judge::default() }
    }

    /// The verdict and the chart, once the whole log is folded.
    pub fn conclude(self) -> (Verdict, Vec<SeriesPoint>) {
        (self.verdict(), self.series)
    }

    /// The last event folded (0: none).
    pub fn through(&self) -> u64 {
        self.through
    }

    pub fn verdict(&self) -> Verdict {
        Verdict { ok: self.violations.is_empty(), violations: self.violations.clone() }
    }

    /// The violations found so far, without copying them.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Fold `events`: whole batches, after every event folded before (earlier ones are
    /// skipped, so feeding a log's tail again is harmless).
    pub fn feed<E: Borrow<Event>>(&mut self, events: &[E]) {
        let start = events.partition_point(|e| e.borrow().seq <= self.through);
        let events = &events[start..];
        let mut i = 0;
        while i < events.len() {
            let batch = events[i].borrow().batch;
            let mut end = i;
            while end < events.len() && events[end].borrow().batch == batch {
                end += 1;
            }
            let group: Vec<&Event> = events[i..end].iter().map(Borrow::borrow).collect();
            self.batch(&group);
            i = end;
        }
        if let Some(last) = events.last() {
            self.through = last.borrow().seq;
        }
    }

    /// One batch: apply its events, then judge the state at its end.
    fn batch(&mut self, group: &[&Event]) {
        let batch = group[0].batch;
        // Last event in this batch touching each user / each pool, for attribution.
        let mut touched_users: BTreeMap<Uuid, u64> = BTreeMap::new();
        let mut touched_pools: BTreeMap<(Uuid, Uuid), u64> = BTreeMap::new();
        for e in group {
            if let EventKind::EarlyRetry { operation, not_before } = &e.kind {
                self.violations.push(early_retry(e, operation, not_before));
            }
            apply(&mut self.fold, e, &mut touched_users, &mut touched_pools);
        }
        for (pool, seq) in &touched_pools {
            let p = self.fold.pools.get(pool).copied().unwrap_or_default();
            let effective = is_effective(p.active, p.consumed);
            let flipped = self.fold.effective.insert(*pool, effective) != Some(effective);
            if let Some(holders) = self.fold.holders.get(pool).filter(|_| flipped) {
                for u in holders {
                    let s = touched_users.entry(*u).or_insert(*seq);
                    *s = (*s).max(*seq);
                }
            }
            let total = p.active.saturating_add(p.warning);
            if p.consumed > total {
                if self.fold.over.insert(*pool) {
                    let e = find(group, *seq);
                    self.violations.push(Violation {
                        kind: ViolationKind::SeatsOverAssigned,
                        customer: pool.0,
                        user: None,
                        sku: Some(pool.1),
                        family: self.fold.family.get(&pool.1).map(|f| f.to_string()),
                        event: *seq,
                        batch,
                        at: e.at,
                        cause: (*e.cause).clone(),
                        message: format!(
                            "SKU {} of customer {} has {} holders but {} purchased seats after {}",
                            pool.1, pool.0, p.consumed, total, e.cause
                        ),
                        unavoidable: why_unavoidable(group),
                    });
                }
            } else {
                self.fold.over.remove(pool);
            }
        }
        let mut changed = false;
        for (user, seq) in touched_users {
            let now = self.fold.effective_families(user);
            let before = self.fold.licensed.get(&user).cloned().unwrap_or_default();
            if before == now {
                continue;
            }
            if self.want_series {
                changed = true;
                for family in before.difference(&now) {
                    let c = self.counts.entry(family.to_string()).or_insert(0);
                    *c = c.saturating_sub(1);
                }
                for family in now.difference(&before) {
                    *self.counts.entry(family.to_string()).or_insert(0) += 1;
                }
            }
            if !self.fold.deleted_users.contains(&user) {
                for family in before.difference(&now) {
                    let e = find(group, seq);
                    let customer = self.fold.user_skus.get(&user).map(|(c, _)| *c).unwrap_or_default();
                    self.violations.push(Violation {
                    kind: ViolationKind::UserUnlicensed,
                    customer,
                    user: Some(user),
                    sku: e.sku,
                    family: Some(family.to_string()),
                    event: seq,
                    batch,
                    at: e.at,
                    cause: (*e.cause).clone(),
                    message: format!(
                        "user {user} of customer {customer} lost their last effective {family} license at event #{seq} ({}){}",
                        e.cause,
                        why_unavoidable(group).map(|w| format!("; unavoidable: {w}")).unwrap_or_default()
                    ),
                    unavoidable: why_unavoidable(group),
                });
                }
            }
            self.fold.licensed.insert(user, now);
        }
        if changed {
            let at = group[group.len() - 1].at;
            match self.series.last_mut() {
                Some(p) if p.at == at => p.licensed = self.counts.clone(),
                _ => self.series.push(SeriesPoint { at, licensed: self.counts.clone() }),
            }
        }
    }
}

fn early_retry(e: &Event, operation: &str, not_before: &DateTime<Utc>) -> Violation {
    Violation {
        kind: ViolationKind::EarlyRetry,
        customer: e.customer.unwrap_or_default(),
        user: None,
        sku: None,
        family: None,
        event: e.seq,
        batch: e.batch,
        at: e.at,
        cause: (*e.cause).clone(),
        message: format!(
            "{operation} was retried at {} before its Retry-After ({not_before}) had passed ({})",
            e.at, e.cause
        ),
        unavoidable: None,
    }
}

/// When the service itself took the seats (a migration that failed after suspending the
/// legacy subscription), no client could have prevented the loss: say so.
fn why_unavoidable(group: &[&Event]) -> Option<String> {
    group.iter().find_map(|e| match &e.kind {
        EventKind::MigrationFailed { migration, reverted: false, .. } => Some(format!(
            "NCE migration {migration} failed after suspending the legacy subscription, and Microsoft reverts it later"
        )),
        _ => None,
    })
}

fn find<'a>(group: &[&'a Event], seq: u64) -> &'a Event {
    group.iter().find(|e| e.seq == seq).copied().unwrap_or(group[group.len() - 1])
}

/// The NCE events: a migration's hold on legacy seats, and an in-place transition moving a
/// subscription's seats to another SKU. Returns the pools touched.
fn apply_new_commerce(f: &mut Fold, e: &Event, customer: Uuid) -> Vec<Uuid> {
    let (Some(sub), Some(sku)) = (e.subscription, e.sku) else {
        return Vec::new();
    };
    if let EventKind::SubscriptionConverted(c) = &e.kind {
        note_family(f, sku, &c.family);
        f.move_sub(sub, (customer, sku));
        return vec![c.from_sku, sku];
    }
    let (status, held) = match e.kind {
        EventKind::MigrationStarted { .. } => (SubscriptionStatus::Suspended, true),
        EventKind::MigrationFailed { reverted: true, .. } => (SubscriptionStatus::Active, false),
        _ => (SubscriptionStatus::Suspended, false),
    };
    match f.subs.get(&sub).map(|s| s.quantity) {
        Some(q) => {
            f.set_sub_held(sub, q, status, held);
            vec![sku]
        }
        None => Vec::new(),
    }
}

fn apply(f: &mut Fold, e: &Event, users: &mut BTreeMap<Uuid, u64>, pools: &mut BTreeMap<(Uuid, Uuid), u64>) {
    let (Some(customer), sku) = (e.customer, e.sku) else {
        if matches!(e.kind, EventKind::StateRestored | EventKind::ScenarioLoaded { .. }) && e.seq > 1 {
            // A log that restarts mid-way is judged from its restart.
            *f = Fold::default();
        }
        return;
    };
    let mut touch_pool = |f: &mut Fold, sku: Uuid| {
        pools.insert((customer, sku), e.seq);
        f.pools.entry((customer, sku)).or_default();
    };
    match &e.kind {
        EventKind::SubscriptionCreated(c) => {
            let (Some(sub), Some(sku)) = (e.subscription, sku) else {
                return;
            };
            note_family(f, sku, &c.family);
            f.subs.insert(
                sub,
                Sub { pool: (customer, sku), quantity: 0, status: SubscriptionStatus::Deleted, held: false },
            );
            f.set_sub(sub, c.quantity, c.status);
            touch_pool(f, sku);
        }
        EventKind::QuantityChanged { to, .. } => {
            let Some(sub) = e.subscription else { return };
            let status = f.subs.get(&sub).map(|s| s.status);
            if let (Some(status), Some(sku)) = (status, sku) {
                f.set_sub(sub, *to, status);
                touch_pool(f, sku);
            }
        }
        EventKind::SubscriptionSuspended { .. }
        | EventKind::SubscriptionReactivated { .. }
        | EventKind::SubscriptionExpired { .. }
        | EventKind::SubscriptionDeprovisioned { .. } => {
            let status = match e.kind {
                EventKind::SubscriptionSuspended { .. } => SubscriptionStatus::Suspended,
                EventKind::SubscriptionReactivated { .. } => SubscriptionStatus::Active,
                EventKind::SubscriptionExpired { .. } => SubscriptionStatus::Expired,
                _ => SubscriptionStatus::Deleted,
            };
            let Some(sub) = e.subscription else { return };
            let quantity = f.subs.get(&sub).map(|s| s.quantity);
            if let (Some(q), Some(sku)) = (quantity, sku) {
                f.set_sub(sub, q, status);
                touch_pool(f, sku);
            }
        }
        EventKind::MigrationStarted { .. }
        | EventKind::MigrationCompleted { .. }
        | EventKind::MigrationFailed { .. }
        | EventKind::SubscriptionConverted(_) => {
            for sku in apply_new_commerce(f, e, customer) {
                touch_pool(f, sku);
            }
        }
        EventKind::UserAdded { .. } => {
            if let Some(user) = e.user {
                f.user_skus.insert(user, (customer, SortedSet::default()));
                users.insert(user, e.seq);
            }
        }
        EventKind::UserDeleted => {
            if let Some(user) = e.user {
                f.deleted_users.insert(user);
                users.insert(user, e.seq);
            }
        }
        EventKind::UserRestored => {
            if let Some(user) = e.user {
                f.deleted_users.remove(&user);
                users.insert(user, e.seq);
            }
        }
        EventKind::LicenseAssigned { family } | EventKind::LicenseRemoved { family } => {
            let (Some(user), Some(sku)) = (e.user, sku) else {
                return;
            };
            note_family(f, sku, family);
            let assigned = matches!(e.kind, EventKind::LicenseAssigned { .. });
            let entry = f.user_skus.entry(user).or_insert_with(|| (customer, SortedSet::default()));
            let changed = if assigned { entry.1.insert(sku) } else { entry.1.remove(&sku) };
            if changed && !f.deleted_users.contains(&user) {
                let pool = f.pools.entry((customer, sku)).or_default();
                let holders = f.holders.entry((customer, sku)).or_default();
                if assigned {
                    pool.consumed += 1;
                    holders.insert(user);
                } else {
                    pool.consumed = pool.consumed.saturating_sub(1);
                    holders.remove(&user);
                }
            }
            users.insert(user, e.seq);
            touch_pool(f, sku);
        }
        _ => {}
    }
}

/// Remember `sku`'s family; a license event names it every time (the catalog's own string,
/// shared), so the common case is a pointer comparison.
fn note_family(f: &mut Fold, sku: Uuid, family: &Arc<str>) {
    if f.family.get(&sku).is_none_or(|known| !Arc::ptr_eq(known, family) && **known != **family) {
        f.family.insert(sku, family.clone());
    }
}
