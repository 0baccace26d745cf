//! Undo for a write that panics halfway: the world as it was before the write, restored so no
//! half change survives.
//!
//! Every method checks before it changes, but a bug can still panic after the first change
//! (an index, an overflow, a broken invariant). A checkpoint is cheap because the world's
//! large collections are persistent (`imbl`): copying one copies a root pointer, and the write
//! then copies only the paths it changes. Four are not copied:
//! - the customers: a copy sharing a tenant's maps would make the write copy every path it
//!   changes in them (most of a POST's cost on a large tenant); each customer a write touches
//!   journals its changes instead (`journal.rs`), undone here;
//! - the order-dedup map, which every order with a request id grows (for the same reason; its
//!   changes are journaled there too);
//! - the audit log: it is only appended to while a write runs (cuts wait for the write's end),
//!   so undoing it is truncating;
//! - the derived queues (deadlines, the dedup queue): plain collections, rebuilt after a
//!   roll-back rather than copied on every write (the partners' customer lists are
//!   persistent, so they are copied with the rest).

use super::World;

/// What [`World::roll_back`] returns to.
#[must_use = "a checkpoint not rolled back to or dropped after `end_write` undoes nothing"]
pub struct Checkpoint {
    world: World,
    /// How many events the log held, and the first sequence number the write may take.
    events: usize,
    first_seq: u64,
}

impl World {
    /// Start a write. Until [`World::end_write`] the log is not cut, so a roll-back only has
    /// to drop the events this write appended.
    pub fn begin_write(&mut self) -> Checkpoint {
        // A checkpoint dropped without `end_write` left its journals recording: end them, or
        // those customers would never be journaled afresh.
        self.end_journals();
        self.writing = true;
        Checkpoint { world: self.copy_for_checkpoint(), events: self.events.len(), first_seq: self.next_seq() }
    }

    /// The write finished: its journals are dropped, and the log may be cut again (a cut
    /// waits for a batch boundary, and the end of a write is one).
    pub fn end_write(&mut self) {
        self.writing = false;
        self.end_journals();
        self.bound_log();
    }

    /// Forget what the last write changed: its customers stop journaling, and the dedup
    /// window's journal is dropped.
    fn end_journals(&mut self) {
        for id in std::mem::take(&mut self.touched) {
            if let Some(c) = self.customers.get_mut(&id).map(std::sync::Arc::make_mut) {
                c.end_journal();
            }
        }
        self.added.clear();
        self.order_requests_undo.clear();
    }

    /// Undo everything since `checkpoint` (taken by [`World::begin_write`] on this world).
    pub fn roll_back(&mut self, checkpoint: Checkpoint) {
        let customers = self.undo_customers();
        self.roll_back_order_requests();
        let order_requests = std::mem::take(&mut self.order_requests);
        let mut events = std::mem::take(&mut self.events);
        events.truncate(checkpoint.events);
        // Never cut during a write, so the cut is the checkpoint's.
        let log_cut = self.log_cut.take();
        // The judge's running fold is kept unless it has folded some of the undone events
        // (refolding a long log would hold the lock).
        let judge = std::mem::take(&mut self.judge);
        *self = checkpoint.world;
        self.customers = customers;
        self.order_requests = order_requests;
        self.events = events;
        self.log_cut = log_cut;
        if judge.folded_through() < checkpoint.first_seq {
            self.judge = judge;
        }
        // The derived queues the checkpoint left out (a write touches them on almost every
        // call, and copying them would cost every write what only a panic needs).
        self.rebuild_queues();
    }

    /// The customers as they were before the write: each touched one's journal undone, each
    /// added one taken out again (or what its id held put back).
    fn undo_customers(&mut self) -> imbl::OrdMap<uuid::Uuid, std::sync::Arc<super::Customer>> {
        let mut customers = std::mem::take(&mut self.customers);
        for id in std::mem::take(&mut self.touched).into_iter().rev() {
            if let Some(c) = customers.get_mut(&id).map(std::sync::Arc::make_mut) {
                c.roll_back_journal();
            }
        }
        for (id, old) in std::mem::take(&mut self.added).into_iter().rev() {
            match old {
                Some(c) => customers.insert(id, c),
                None => customers.remove(&id),
            };
        }
        customers
    }

    /// For tests of [`World::roll_back`]: panic right after the `events`-th event logged from
    /// now, in the middle of whatever write logs it (0: disarm). A checkpoint never carries
    /// it, so the world a panic rolls back to is disarmed.
    pub fn arm_panic(&mut self, events: u64) {
        self.panic_after = (events > 0).then_some(events);
    }

    /// Called by `log` after each event.
    pub(crate) fn trip_armed_panic(&mut self) {
        let Some(left) = self.panic_after.as_mut() else { return };
        *left -= 1;
        if *left == 0 {
            self.panic_after = None;
            panic!("the armed panic, after the event {}", self.next_seq() - 1);
        }
    }

    /// What a checkpoint keeps: a copy of everything but the customers, the order-dedup map,
    /// the log, the judge's cache (a new cache refolds the kept log on its first verdict) and
    /// the derived queues.
    /// Destructured, so a field added to `World` must be named here.
    fn copy_for_checkpoint(&self) -> World {
        let World {
            scenario,
            settings,
            now,
            ids,
            catalog,
            partners,
            customers: _,
            customer_order,
            partner_customers,
            tokens,
            authority,
            events: _,
            log_cut: _,
            log_limit,
            judge: _,
            next_batch,
            deadlines: _,
            order_requests: _,
            order_request_queue: _,
            faults,
            migrations,
            schedules,
            transitions,
            writing: _,
            touched: _,
            added: _,
            order_requests_undo: _,
            panic_after: _,
        } = self;
        World {
            scenario: scenario.clone(),
            settings: settings.clone(),
            now: *now,
            ids: ids.clone(),
            catalog: catalog.clone(),
            partners: partners.clone(),
            customers: imbl::OrdMap::new(),
            customer_order: customer_order.clone(),
            partner_customers: partner_customers.clone(),
            tokens: tokens.clone(),
            authority: authority.clone(),
            events: Vec::new(),
            log_cut: None,
            log_limit: *log_limit,
            judge: super::bounded_log::JudgeCache::default(),
            next_batch: *next_batch,
            deadlines: std::collections::BTreeSet::new(),
            order_requests: imbl::OrdMap::new(),
            order_request_queue: std::collections::VecDeque::new(),
            faults: faults.clone(),
            migrations: migrations.clone(),
            schedules: schedules.clone(),
            transitions: transitions.clone(),
            writing: false,
            touched: Vec::new(),
            added: Vec::new(),
            order_requests_undo: Vec::new(),
            panic_after: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::super::{Actor, Cause, Customer, World};

    fn customer(id: Uuid, name: &str) -> Customer {
        Customer {
            id,
            commerce_id: id,
            company_name: name.to_string(),
            domain: format!("{name}.onmicrosoft.com"),
            country: "US".to_string(),
            resellers: Vec::new(),
            accepts: None,
            subscriptions: Default::default(),
            orders: Default::default(),
            users: Default::default(),
            user_order: Default::default(),
            consumed: Default::default(),
            by_sku: Default::default(),
            journal: Default::default(),
        }
    }

    /// No write adds a customer today (scenarios build whole worlds), but one that did and
    /// then panicked must leave the customers as they were: the new one gone, a replaced
    /// one back, a touched one's fields restored.
    #[test]
    fn a_roll_back_takes_out_the_customers_a_write_added_or_replaced() {
        let (kept, replaced, added) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let mut w = World::empty(chrono::DateTime::UNIX_EPOCH, 7);
        let batch = w.open_batch(Cause::ClockStep, Actor::Service);
        w.insert_customer(&batch, customer(kept, "kept"));
        w.insert_customer(&batch, customer(replaced, "old"));
        let checkpoint = w.begin_write();
        let batch = w.open_batch(Cause::ClockStep, Actor::Service);
        w.insert_customer(&batch, customer(added, "added"));
        w.insert_customer(&batch, customer(replaced, "new"));
        if let Some(c) = w.tenant_mut(kept) {
            c.company_name = "renamed".to_string();
        }
        w.roll_back(checkpoint);
        let names: Vec<(Uuid, &str)> = w.all_customers().map(|c| (c.id, c.company_name.as_str())).collect();
        assert_eq!(names, [(kept, "kept"), (replaced, "old")]);
        assert!(w.customer_any(added).is_none());
    }

    /// The dedup window is not in the checkpoint either: what a write filed or forgot in it
    /// is undone from its journal.
    #[test]
    fn a_roll_back_undoes_the_dedup_windows_changes() {
        let mut w = World::empty(chrono::DateTime::UNIX_EPOCH, 7);
        let entry = |n: u128| (Uuid::from_u128(n), Uuid::from_u128(n + 1), chrono::DateTime::UNIX_EPOCH);
        w.file_order_request("p/kept".into(), Some(entry(1)));
        w.file_order_request("p/forgotten".into(), Some(entry(3)));
        let before: Vec<_> = w.order_request_ids().map(str::to_string).collect();
        let checkpoint = w.begin_write();
        w.file_order_request("p/forgotten".into(), None);
        w.file_order_request("p/new".into(), Some(entry(5)));
        w.file_order_request("p/kept".into(), Some(entry(7)));
        w.roll_back(checkpoint);
        let after: Vec<_> = w.order_request_ids().map(str::to_string).collect();
        assert_eq!(after, before);
        assert_eq!(w.order_requests.get("p/kept"), Some(&entry(1)));
    }
}
