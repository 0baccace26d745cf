//! The pure domain model of Partner Center: state and every business rule, nothing of HTTP.
//!
//! Rules this module keeps (see ARCHITECTURE.md): no axum, no tokio, no serde_json, no clock
//! reads and no randomness of its own. Time arrives as the virtual `now` held in the state and
//! moved only by [`World::advance_to`]; ids come from a seeded [`ids::IdSource`]. A test in
//! `tests/` greps these files to keep it that way.
//!
//! # Layout
//! - `catalog`: offers, SKUs, families, retirement.
//! - `tenants`: partners, customers, relationships, users, tokens.
//! - `partner_customers`: each partner's customers in paging order (a derived index).
//! - `users`: creating, updating, restoring users, password resets.
//! - `subscriptions`: orders and subscriptions (buy, etag, who may see which).
//! - `patch`: a subscription PATCH (suspend, reactivate, quantity, nickname, auto-renew).
//! - `licenses`: license updates, subscribed SKUs, and the effective-license rule.
//! - `upgrades`: legacy subscription upgrades (eligibility, upgrade with or without licenses).
//! - `nce`: new-commerce items, terms and billing cycles, an NCE subscription's fields.
//! - `migrations`: legacy-to-NCE migrations (validate, create, complete or fail on the clock).
//! - `schedules`: migration schedules that fire on a date or at renewal.
//! - `transitions`: NCE transitions (upgrades inside new commerce, with or without licenses).
//! - `lifecycle`: the virtual clock: renewal, expiry, de-provisioning, prospects accepting.
//! - `signin`: the mock's own OAuth authority (apps, grants, device codes, token lifetimes).
//! - `events`: the audit log.
//! - `bounded_log`: the log's memory bound, and the judge's running fold that survives a cut.
//! - `checkpoint`: the world before a write, restored if the write panics halfway.
//! - `journal`: a write's changes to each customer it touches, undone if it panics.
//! - `faults`: fault plans, rate limits on virtual time, early-retry bookkeeping.
//! - `scenario`: the scenario document and how a world is built from it.
//! - `errors`: why a change is refused.

pub mod bounded_log;
pub mod catalog;
pub mod checkpoint;
pub mod errors;
pub mod events;
pub mod faults;
pub mod ids;
mod journal;
pub mod licenses;
pub mod lifecycle;
pub mod migrations;
pub mod nce;
mod partner_customers;
pub mod patch;
pub mod scenario;
pub mod schedules;
pub mod signin;
pub mod subscriptions;
pub mod tenants;
pub mod transitions;
pub mod upgrades;
pub mod users;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use catalog::{Catalog, Offer};
pub use errors::ModelError;
pub use events::{
    Actor, Cause, Event, EventKind, FaultInjected, Subject, SubscriptionConverted, SubscriptionCreated,
    SubscriptionTransitioned, Throttled,
};
pub use ids::IdSource;
pub use licenses::{SubscribedSku, is_effective};
pub use scenario::Scenario;
pub use subscriptions::{
    Channel, Order, OrderLine, OrderLineRequest, Subscription, SubscriptionChanges, SubscriptionStatus,
};
pub use tenants::{Customer, Partner, Token, TokenMode, Tokens, User, UserState};

pub type Result<T, E = ModelError> = std::result::Result<T, E>;

/// Knobs a scenario may set where Partner Center's documentation is silent or contradicts
/// itself (see README, "Known divergences").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Settings {
    /// Days from suspension (or expiry) until de-provisioning. 120 per the migration article;
    /// the 2023 lifecycle page says 90.
    pub deprovision_days: i64,
    /// Length of a subscription term (and of each renewal), in months.
    pub term_months: u32,
    /// An order repeated with the same `MS-RequestId` within this many seconds returns the
    /// first order instead of buying again; 0 models a service that does not deduplicate.
    pub order_dedup_seconds: i64,
    /// Days after an NCE purchase or renewal in which seats may be reduced: 7 per the 2023
    /// lifecycle page (the 2021 quantity page says 72 hours).
    pub nce_cancellation_days: i64,
    /// Minutes an NCE migration stays `Processing` before it completes or fails (a fault
    /// plan's `migrations.minutes` overrides it); Microsoft says usually 0-6 hours, up to 72.
    pub migration_minutes: i64,
    /// Hours until Microsoft reverts a migration that failed after the legacy subscription was
    /// suspended ("within 72 hours").
    pub migration_revert_hours: i64,
}

/// The bounds every setting is held to, so no deadline can overflow the calendar and no
/// lifecycle loop can reschedule without moving forward.
pub const MAX_DEPROVISION_DAYS: i64 = 3_650;
pub const MAX_TERM_MONTHS: u32 = 120;
pub const MAX_ORDER_DEDUP_SECONDS: i64 = 366 * 86_400;
pub const MAX_NCE_CANCELLATION_DAYS: i64 = 30;
pub const MAX_MIGRATION_MINUTES: i64 = 72 * 60;
pub const MAX_MIGRATION_REVERT_HOURS: i64 = 72;

impl Settings {
    /// Refuse, naming the field, any setting outside its bounds.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if !(0..=MAX_DEPROVISION_DAYS).contains(&self.deprovision_days) {
            return Err(format!("deprovisionDays must be from 0 to {MAX_DEPROVISION_DAYS}"));
        }
        if !(1..=MAX_TERM_MONTHS).contains(&self.term_months) {
            return Err(format!("termMonths must be from 1 to {MAX_TERM_MONTHS}"));
        }
        if !(0..=MAX_ORDER_DEDUP_SECONDS).contains(&self.order_dedup_seconds) {
            return Err(format!("orderDedupSeconds must be from 0 to {MAX_ORDER_DEDUP_SECONDS}"));
        }
        if !(0..=MAX_NCE_CANCELLATION_DAYS).contains(&self.nce_cancellation_days) {
            return Err(format!("nceCancellationDays must be from 0 to {MAX_NCE_CANCELLATION_DAYS}"));
        }
        if !(0..=MAX_MIGRATION_MINUTES).contains(&self.migration_minutes) {
            return Err(format!("migrationMinutes must be from 0 to {MAX_MIGRATION_MINUTES}"));
        }
        if !(0..=MAX_MIGRATION_REVERT_HOURS).contains(&self.migration_revert_hours) {
            return Err(format!("migrationRevertHours must be from 0 to {MAX_MIGRATION_REVERT_HOURS}"));
        }
        Ok(())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            deprovision_days: 120,
            term_months: 12,
            order_dedup_seconds: 86_400,
            nce_cancellation_days: 7,
            migration_minutes: 10,
            migration_revert_hours: 72,
        }
    }
}

/// Everything the mock knows. Serialisable as a whole for `/admin/state` snapshots; derived
/// indexes are skipped and rebuilt on restore.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct World {
    pub scenario: String,
    pub settings: Settings,
    now: DateTime<Utc>,
    ids: IdSource,
    /// Shared, and copied only when an admin call changes it: a write's checkpoint is cheap.
    pub catalog: std::sync::Arc<Catalog>,
    /// Shared, as the catalog is: a write's checkpoint copies a pointer, not every name.
    partners: std::sync::Arc<Vec<Partner>>,
    /// Not in a write's checkpoint: a write changes its customers in place and journals what
    /// it changed in each (`journal.rs`), so no copy of their maps is shared while it runs.
    customers: imbl::OrdMap<Uuid, std::sync::Arc<Customer>>,
    /// Customers in the order they were added: the order `GET /customers` pages through.
    customer_order: imbl::Vector<Uuid>,
    /// Each partner's customers in that order; derived, rebuilt on restore.
    #[serde(skip)]
    partner_customers: partner_customers::PartnerCustomers,
    tokens: imbl::OrdMap<String, Token>,
    #[serde(default)]
    authority: signin::Authority,
    /// Behind pointers: growing the vector copies 8 bytes an event instead of the whole event
    /// (at 256k events the copy held the lock 150 ms), and a reader can take the log's tail
    /// out from under the lock and judge it on another thread (the rehearsal does).
    events: Vec<Arc<Event>>,
    /// Where the log was cut from the front (`serve --max-events`), and the judge at the cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_cut: Option<bounded_log::LogCut>,
    /// The most events kept (`None`: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log_limit: Option<usize>,
    #[serde(skip)]
    judge: bounded_log::JudgeCache,
    next_batch: u64,
    /// Pending lifecycle deadlines `(when, customer, subscription)`; an entry is checked
    /// against the subscription when it comes due, so stale entries are harmless.
    #[serde(skip)]
    deadlines: std::collections::BTreeSet<(DateTime<Utc>, Uuid, Uuid)>,
    /// Order requests by `partner/MS-RequestId`: `(customer, order, when)`, for deduplication.
    #[serde(default)]
    order_requests: imbl::OrdMap<std::sync::Arc<str>, (Uuid, Uuid, DateTime<Utc>)>,
    /// The same keys oldest first, so expired ones leave from the front, a few per order,
    /// instead of in a sweep of the whole map; derived, rebuilt on restore.
    #[serde(skip)]
    order_request_queue: std::collections::VecDeque<(DateTime<Utc>, std::sync::Arc<str>)>,
    #[serde(default)]
    faults: faults::FaultState,
    /// NCE migrations by id (their clock deadlines share `deadlines`, keyed by migration id).
    #[serde(default)]
    migrations: imbl::OrdMap<Uuid, migrations::Migration>,
    #[serde(default)]
    schedules: imbl::OrdMap<Uuid, schedules::Schedule>,
    /// NCE transitions, oldest first.
    #[serde(default)]
    transitions: imbl::Vector<transitions::Transition>,
    /// Whether a write runs under [`World::begin_write`]. The log is not cut meanwhile, so
    /// rolling back is truncating it (and the log may pass its bound by one write's events).
    #[serde(skip)]
    writing: bool,
    /// The customers the write in progress has journaled changes in ([`World::tenant_mut`]),
    /// and those it added (with what their id held before): what a roll-back undoes.
    #[serde(skip)]
    touched: Vec<Uuid>,
    #[serde(skip)]
    added: Vec<(Uuid, Option<Arc<Customer>>)>,
    /// What the write in progress changed in `order_requests` (each key's old entry), which
    /// the checkpoint leaves out for the same reason as the customers.
    #[serde(skip)]
    order_requests_undo: Vec<(Arc<str>, Option<journal::OrderRequest>)>,
    /// [`World::arm_panic`]: events left before an injected panic.
    #[serde(skip)]
    panic_after: Option<u64>,
}

/// One batch of events in the making: everything one request, clock step or admin action did.
#[derive(Debug, Clone)]
pub struct Batch {
    pub id: u64,
    pub cause: std::sync::Arc<Cause>,
    pub actor: Actor,
}

impl World {
    /// An empty world: no partners, no customers, the built-in catalog.
    pub fn empty(now: DateTime<Utc>, seed: u64) -> Self {
        World {
            scenario: "empty".to_string(),
            settings: Settings::default(),
            now,
            ids: IdSource::new(seed),
            catalog: std::sync::Arc::new(Catalog::builtin()),
            partners: std::sync::Arc::default(),
            customers: imbl::OrdMap::new(),
            customer_order: imbl::Vector::new(),
            partner_customers: partner_customers::PartnerCustomers::default(),
            tokens: imbl::OrdMap::new(),
            authority: signin::Authority::default(),
            events: Vec::new(),
            log_cut: None,
            log_limit: None,
            judge: bounded_log::JudgeCache::default(),
            next_batch: 1,
            deadlines: std::collections::BTreeSet::new(),
            order_requests: imbl::OrdMap::new(),
            order_request_queue: std::collections::VecDeque::new(),
            faults: faults::FaultState::default(),
            migrations: imbl::OrdMap::new(),
            schedules: imbl::OrdMap::new(),
            transitions: imbl::Vector::new(),
            writing: false,
            touched: Vec::new(),
            added: Vec::new(),
            order_requests_undo: Vec::new(),
            panic_after: None,
        }
    }

    /// Rebuild what `/admin/state` does not carry (after deserialising a snapshot).
    pub fn rebuild_indexes(&mut self) {
        self.release_stale_holds();
        let ids: Vec<Uuid> = self.customers.keys().copied().collect();
        for id in &ids {
            if let Some(c) = self.tenant_mut(*id) {
                c.rebuild_derived();
            }
        }
        self.partner_customers = partner_customers::PartnerCustomers::of(self.all_customers());
        self.rebuild_queues();
    }

    /// A hold belongs to a migration still processing; any other (a hand-edited snapshot)
    /// would keep seats in service forever.
    fn release_stale_holds(&mut self) {
        let processing: std::collections::BTreeSet<Uuid> = self
            .migrations
            .values()
            .filter(|m| m.status == migrations::MigrationStatus::Processing)
            .map(|m| m.id)
            .collect();
        let stale: Vec<(Uuid, Uuid)> = self
            .customers
            .values()
            .flat_map(|c| c.subscriptions.values().map(move |s| (c.id, s)))
            .filter(|(_, s)| s.migration.is_some_and(|m| !processing.contains(&m)))
            .map(|(c, s)| (c, s.id))
            .collect();
        for (c, s) in stale {
            if let Some(sub) = self.tenant_mut(c).and_then(|c| c.subscription_mut(s)) {
                sub.migration = None;
            }
        }
    }

    /// The deadline queue and the order-dedup queue, from the state: what a roll-back has to
    /// rebuild besides the customers' own derived counts (their journals rebuild those).
    pub(crate) fn rebuild_queues(&mut self) {
        self.deadlines.clear();
        let keys: Vec<(Uuid, Uuid)> =
            self.customers.values().flat_map(|c| c.subscriptions.keys().map(move |s| (c.id, *s))).collect();
        for (c, s) in keys {
            self.schedule(c, s);
        }
        let mut queue: Vec<(DateTime<Utc>, std::sync::Arc<str>)> =
            self.order_requests.iter().map(|(k, (_, _, at))| (*at, k.clone())).collect();
        queue.sort();
        self.order_request_queue = queue.into_iter().collect();
        let prospects: Vec<Uuid> = self.customers.values().filter(|c| c.accepts.is_some()).map(|c| c.id).collect();
        for c in prospects {
            self.schedule_acceptance(c);
        }
        let migrations: Vec<Uuid> = self.migrations.keys().copied().collect();
        for m in migrations {
            self.schedule_migration(m);
        }
        let schedules: Vec<Uuid> = self.schedules.keys().copied().collect();
        for s in schedules {
            self.schedule_firing(s);
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    pub fn seed(&self) -> u64 {
        self.ids.seed()
    }

    /// The `MS-RequestId`s of orders the world remembers (for deduplication).
    pub fn order_request_ids(&self) -> impl Iterator<Item = &str> {
        self.order_requests.keys().map(|k| k.split_once('/').map_or(&**k, |(_, id)| id))
    }

    pub fn events(&self) -> &[Arc<Event>] {
        &self.events
    }

    pub fn events_after(&self, seq: u64) -> &[Arc<Event>] {
        let start = self.events.partition_point(|e| e.seq <= seq);
        &self.events[start..]
    }

    pub fn partners(&self) -> &[Partner] {
        &self.partners
    }

    pub fn partner(&self, id: Uuid) -> Option<&Partner> {
        self.partners.iter().find(|p| p.id == id)
    }

    /// A token that still works now (an expired one is as good as none).
    pub fn token(&self, token: &str) -> Option<&Token> {
        self.tokens.get(token).filter(|t| t.works_at(self.now))
    }

    /// The tokens as they are now, to be asked without the world at hand ([`Tokens::get`]
    /// answers as [`World::token`] does). Cheap: the map is persistent, so this copies a root.
    pub fn tokens(&self) -> Tokens {
        Tokens { tokens: self.tokens.clone(), now: self.now }
    }

    pub fn all_customers(&self) -> impl Iterator<Item = &Customer> {
        self.customer_order.iter().filter_map(|id| self.customers.get(id).map(|c| &**c))
    }

    pub fn customer_any(&self, id: Uuid) -> Option<&Customer> {
        self.customers.get(&id).map(|c| &**c)
    }

    /// Start a batch. Its number is only taken by its first event, so a refused request
    /// leaves the counter (and so the whole state) untouched.
    pub fn open_batch(&mut self, cause: Cause, actor: Actor) -> Batch {
        Batch { id: self.next_batch, cause: std::sync::Arc::new(cause), actor }
    }

    /// Append one event. Called only from inside a mutation, after its checks passed, so a
    /// refused request leaves no trace in the log.
    pub(crate) fn log(&mut self, batch: &Batch, subject: Subject, kind: EventKind) {
        if self.events.last().is_some_and(|e| e.batch != batch.id) {
            self.bound_log();
        }
        let seq = self.next_seq();
        self.next_batch = self.next_batch.max(batch.id + 1);
        self.events.push(Arc::new(Event {
            seq,
            at: self.now,
            batch: batch.id,
            cause: batch.cause.clone(),
            actor: batch.actor,
            customer: subject.customer,
            user: subject.user,
            subscription: subject.subscription,
            sku: subject.sku,
            kind,
        }));
        self.trip_armed_panic();
    }

    /// A customer this partner may act for: unknown ids and other partners' customers are
    /// both "not found", as Partner Center answers.
    pub fn customer_of(&self, partner: Uuid, id: Uuid) -> Result<&Customer> {
        match self.customers.get(&id) {
            Some(c) if c.is_customer_of(partner) => Ok(&**c),
            _ => Err(ModelError::CustomerNotFound(id)),
        }
    }

    fn customer_mut(&mut self, id: Uuid) -> Result<&mut Customer> {
        self.tenant_mut(id).ok_or(ModelError::CustomerNotFound(id))
    }

    /// The one way to change a customer. Within a write, its journal starts recording at
    /// this first touch (what the write changes there is undone if it panics).
    fn tenant_mut(&mut self, id: Uuid) -> Option<&mut Customer> {
        let c = self.customers.get_mut(&id).map(std::sync::Arc::make_mut)?;
        if self.writing && c.begin_journal() {
            self.touched.push(id);
        }
        Some(c)
    }

    fn default_partner(&self) -> Result<Uuid> {
        self.partners.first().map(|p| p.id).ok_or(ModelError::NoPartners)
    }
}
