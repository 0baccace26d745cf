//! Undo for a write's changes to customers, kept in each customer it touches: the old value
//! of every subscription, order and user the write replaces (or that it was absent), and
//! the customer's own fields as they were.
//!
//! The checkpoint (`checkpoint.rs`) copies the rest of the world's roots, but not the
//! customers: a copy sharing a tenant's persistent maps would make every change to them copy
//! its path (a POST on a tenant of 100,000 subscriptions: five levels in three maps, most of
//! the write's cost). With this journal the write changes the maps in place, and a roll-back
//! puts back what the journal holds, then rebuilds the derived indexes (`consumed`,
//! `by_sku`) from the restored maps. The journal records only while a write runs: the world
//! turns it on at a customer's first `World::tenant_mut` of the write and off at its end.
//! The order-dedup map (`World::order_requests`, one entry per order with a request id) is
//! left out of the checkpoint for the same reason, and journaled here too. A tidy test keeps
//! every change to these maps inside this file.

use std::sync::Arc;

use uuid::Uuid;

use super::tenants::PendingAcceptance;
use super::{Customer, Order, Subscription, User, World};

/// What one write changed in one customer, to be undone in reverse order.
#[derive(Debug, Default)]
pub struct Journal {
    /// Recording: a write has touched this customer and not yet ended.
    on: bool,
    /// The customer's own fields as the write found them.
    fields: Option<Box<Fields>>,
    undo: Vec<Undo>,
}

/// A journal belongs to the write in progress: a copy of a customer starts without one, and
/// two customers compare equal whatever their journals hold.
impl Clone for Journal {
    fn clone(&self) -> Self {
        Journal::default()
    }
}

impl PartialEq for Journal {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Journal {}

/// One entry's value before the write replaced it (`None`: it was not there).
#[derive(Debug)]
enum Undo {
    Subscription(Uuid, Option<Arc<Subscription>>),
    Order(Uuid, Option<Arc<Order>>),
    User(Uuid, Option<Arc<User>>),
}

/// A customer's fields other than its journaled maps and derived indexes.
#[derive(Debug)]
struct Fields {
    id: Uuid,
    commerce_id: Uuid,
    company_name: String,
    domain: String,
    country: String,
    resellers: Vec<Uuid>,
    accepts: Option<PendingAcceptance>,
    user_order: imbl::Vector<Uuid>,
}

impl Fields {
    /// Destructured, so a field added to `Customer` must be named here.
    fn of(c: &Customer) -> Fields {
        let Customer {
            id,
            commerce_id,
            company_name,
            domain,
            country,
            resellers,
            accepts,
            subscriptions: _,
            orders: _,
            users: _,
            user_order,
            consumed: _,
            by_sku: _,
            journal: _,
        } = c;
        Fields {
            id: *id,
            commerce_id: *commerce_id,
            company_name: company_name.clone(),
            domain: domain.clone(),
            country: country.clone(),
            resellers: resellers.clone(),
            accepts: accepts.clone(),
            user_order: user_order.clone(),
        }
    }

    fn restore(self, c: &mut Customer) {
        c.id = self.id;
        c.commerce_id = self.commerce_id;
        c.company_name = self.company_name;
        c.domain = self.domain;
        c.country = self.country;
        c.resellers = self.resellers;
        c.accepts = self.accepts;
        c.user_order = self.user_order;
    }
}

impl Customer {
    /// Start recording (a write's first touch of this customer): `false` if it already was.
    pub(crate) fn begin_journal(&mut self) -> bool {
        if self.journal.on {
            return false;
        }
        self.journal = Journal { on: true, fields: Some(Box::new(Fields::of(self))), undo: Vec::new() };
        true
    }

    /// The write finished: forget what it changed.
    pub(crate) fn end_journal(&mut self) {
        self.journal = Journal::default();
    }

    /// Undo everything since [`Customer::begin_journal`], newest first, and stop recording.
    pub(crate) fn roll_back_journal(&mut self) {
        let Journal { fields, undo, .. } = std::mem::take(&mut self.journal);
        for entry in undo.into_iter().rev() {
            match entry {
                Undo::Subscription(id, old) => put_back(&mut self.subscriptions, id, old),
                Undo::Order(id, old) => put_back(&mut self.orders, id, old),
                Undo::User(id, old) => put_back(&mut self.users, id, old),
            }
        }
        if let Some(fields) = fields {
            fields.restore(self);
        }
        self.rebuild_derived();
    }

    /// A subscription to change. Its old value is journaled (a write's roll-back restores it).
    pub(crate) fn subscription_mut(&mut self, id: Uuid) -> Option<&mut Subscription> {
        change(&mut self.subscriptions, &mut self.journal, id, Undo::Subscription)
    }

    /// Add (or replace) a subscription, journaled.
    pub(crate) fn put_subscription(&mut self, sub: Arc<Subscription>) {
        put(&mut self.subscriptions, &mut self.journal, sub.id, sub, Undo::Subscription);
    }

    /// Add (or replace) an order, journaled.
    pub(crate) fn put_order(&mut self, order: Arc<Order>) {
        put(&mut self.orders, &mut self.journal, order.id, order, Undo::Order);
    }

    /// A user to change, journaled.
    pub(crate) fn user_mut(&mut self, id: Uuid) -> Option<&mut User> {
        change(&mut self.users, &mut self.journal, id, Undo::User)
    }

    /// Add (or replace) a user, journaled.
    pub(crate) fn put_user(&mut self, user: Arc<User>) {
        put(&mut self.users, &mut self.journal, user.id, user, Undo::User);
    }
}

/// The entry `id` to change in place, its old value journaled first when recording. Not
/// copied otherwise: a second handle would make `make_mut` copy the value for nothing.
fn change<'a, T: Clone>(
    map: &'a mut imbl::OrdMap<Uuid, Arc<T>>,
    journal: &mut Journal,
    id: Uuid,
    undo: fn(Uuid, Option<Arc<T>>) -> Undo,
) -> Option<&'a mut T> {
    if journal.on {
        let old = map.get(&id)?.clone();
        journal.undo.push(undo(id, Some(old)));
    }
    map.get_mut(&id).map(Arc::make_mut)
}

/// Insert `value` at `id`, journaling what the entry held (or that it was empty).
fn put<T>(
    map: &mut imbl::OrdMap<Uuid, Arc<T>>,
    journal: &mut Journal,
    id: Uuid,
    value: Arc<T>,
    undo: fn(Uuid, Option<Arc<T>>) -> Undo,
) {
    let old = map.insert(id, value);
    if journal.on {
        journal.undo.push(undo(id, old));
    }
}

/// What an order request filed in the dedup window: its customer, its order, and when.
pub(crate) type OrderRequest = (Uuid, Uuid, chrono::DateTime<chrono::Utc>);

impl World {
    /// File (`Some`) or forget (`None`) an order request in the dedup window, journaled
    /// while a write runs (the checkpoint does not hold the map).
    pub(crate) fn file_order_request(&mut self, key: Arc<str>, entry: Option<OrderRequest>) {
        let old = match entry {
            Some(e) => self.order_requests.insert(key.clone(), e),
            None => self.order_requests.remove(&key),
        };
        if self.writing {
            self.order_requests_undo.push((key, old));
        }
    }

    /// Undo the write's changes to the dedup window, newest first.
    pub(crate) fn roll_back_order_requests(&mut self) {
        for (key, old) in std::mem::take(&mut self.order_requests_undo).into_iter().rev() {
            put_back(&mut self.order_requests, key, old);
        }
    }
}

/// Give `key` back the value it held before the write (`None`: none).
fn put_back<K: Ord + Clone, V: Clone>(map: &mut imbl::OrdMap<K, V>, key: K, old: Option<V>) {
    match old {
        Some(v) => {
            map.insert(key, v);
        }
        None => {
            map.remove(&key);
        }
    }
}
