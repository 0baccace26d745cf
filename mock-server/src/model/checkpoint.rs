//! Undo for a write that panics halfway: the world as it was before the write, restored so no
//! half change survives.
//!
//! Every method checks before it changes, but a bug can still panic after the first change
//! (an index, an overflow, a broken invariant). A checkpoint is cheap because every large
//! collection in the world is persistent (`imbl`): copying one copies a root pointer, and the
//! write then copies only the paths it changes. The audit log is the exception: it is only
//! appended to while a write runs (cuts wait for the write's end), so undoing it is truncating;
//! and the derived queues (deadlines, the dedup queue) are plain collections, rebuilt after a
//! roll-back rather than copied on every write (the partners' customer lists are persistent,
//! so they are copied with the rest).

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
        self.writing = true;
        Checkpoint { world: self.copy_but_log(), events: self.events.len(), first_seq: self.next_seq() }
    }

    /// The write finished: the log may be cut again (a cut waits for a batch boundary, and
    /// the end of a write is one).
    pub fn end_write(&mut self) {
        self.writing = false;
        self.bound_log();
    }

    /// Undo everything since `checkpoint` (taken by [`World::begin_write`] on this world).
    pub fn roll_back(&mut self, checkpoint: Checkpoint) {
        let mut events = std::mem::take(&mut self.events);
        events.truncate(checkpoint.events);
        // Never cut during a write, so the cut is the checkpoint's.
        let log_cut = self.log_cut.take();
        // The judge's running fold is kept unless it has folded some of the undone events
        // (refolding a long log would hold the lock).
        let judge = std::mem::take(&mut self.judge);
        *self = checkpoint.world;
        self.events = events;
        self.log_cut = log_cut;
        if judge.folded_through() < checkpoint.first_seq {
            self.judge = judge;
        }
        // The derived queues the checkpoint left out (a write touches them on almost every
        // call, and copying them would cost every write what only a panic needs).
        self.rebuild_queues();
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

    /// A copy of everything but the log, the judge's cache (a new cache refolds the kept log
    /// on its first verdict) and the derived queues. Destructured, so a field added to
    /// `World` must be named here.
    fn copy_but_log(&self) -> World {
        let World {
            scenario,
            settings,
            now,
            ids,
            catalog,
            partners,
            customers,
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
            order_requests,
            order_request_queue: _,
            faults,
            migrations,
            schedules,
            transitions,
            writing: _,
            panic_after: _,
        } = self;
        World {
            scenario: scenario.clone(),
            settings: settings.clone(),
            now: *now,
            ids: ids.clone(),
            catalog: catalog.clone(),
            partners: partners.clone(),
            customers: customers.clone(),
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
            order_requests: order_requests.clone(),
            order_request_queue: std::collections::VecDeque::new(),
            faults: faults.clone(),
            migrations: migrations.clone(),
            schedules: schedules.clone(),
            transitions: transitions.clone(),
            writing: false,
            panic_after: None,
        }
    }
}
