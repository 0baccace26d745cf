//! The virtual clock: renewals, expiries, de-provisioning and prospects accepting an
//! invitation, each processed in order at its exact virtual time as the clock advances,
//! never lazily on the next read.

use chrono::{DateTime, Months, Utc};
use uuid::Uuid;

use super::{
    Actor, Batch, Cause, EventKind, ModelError, Result, Subject, SubscriptionStatus, UserState, World, licenses::seats,
};

/// What one advance of the clock did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Lifecycle steps processed (each is its own batch in the audit log).
    pub steps: usize,
}

impl World {
    /// Queue the subscription's next deadline (stale entries are skipped when they come due).
    pub(crate) fn schedule(&mut self, customer: Uuid, subscription: Uuid) {
        let at = self
            .customers
            .get(&customer)
            .and_then(|c| c.subscriptions.get(&subscription))
            .and_then(|s| s.next_deadline(self.settings.deprovision_days));
        if let Some(at) = at {
            self.deadlines.insert((at, customer, subscription));
        }
    }

    /// Queue a prospect's acceptance; the nil subscription id marks an acceptance entry.
    pub(crate) fn schedule_acceptance(&mut self, customer: Uuid) {
        if let Some(a) = self.customers.get(&customer).and_then(|c| c.accepts.as_ref()) {
            self.deadlines.insert((a.at, customer, Uuid::nil()));
        }
    }

    /// Move the clock to `to`, processing every deadline on the way in time order.
    pub fn advance_to(&mut self, to: DateTime<Utc>) -> Result<Advance> {
        self.advance(to, true)
    }

    /// Move the clock as the wall clock moved (`serve --clock realtime`): deadlines come due
    /// as in [`World::advance_to`], but a step in which nothing came due is not logged, so a
    /// clock that ticks every second does not fill the audit log.
    pub fn tick_to(&mut self, to: DateTime<Utc>) -> Result<Advance> {
        self.advance(to, false)
    }

    fn advance(&mut self, to: DateTime<Utc>, always_logged: bool) -> Result<Advance> {
        if to < self.now {
            return Err(ModelError::ClockBackwards { now: self.now.to_rfc3339(), to: to.to_rfc3339() });
        }
        let from = self.now;
        let mut steps = 0;
        while let Some(&(at, customer, subscription)) = self.deadlines.first() {
            if at > to {
                break;
            }
            self.deadlines.pop_first();
            self.now = self.now.max(at);
            // One queue for every kind of deadline; ids are unique across kinds.
            let done = if subscription.is_nil() {
                self.process_acceptance(customer, at)
            } else if self.migrations.contains_key(&subscription) {
                self.process_migration(subscription, at)
            } else if self.schedules.contains_key(&subscription) {
                self.fire_schedule(subscription, at)
            } else {
                self.process_deadline(customer, subscription, at)
            };
            steps += usize::from(done);
        }
        self.now = to;
        if always_logged || steps > 0 {
            let batch = self.open_batch(Cause::Admin { operation: "advanceClock".into() }, Actor::Admin);
            self.log(&batch, Subject::default(), EventKind::ClockAdvanced { from, to });
        }
        Ok(Advance { from, to, steps })
    }

    fn process_acceptance(&mut self, customer: Uuid, at: DateTime<Utc>) -> bool {
        let Some(pending) = self.customers.get(&customer).and_then(|c| c.accepts.clone()) else {
            return false;
        };
        if pending.at != at {
            return false;
        }
        let batch = self.open_batch(Cause::ClockStep, Actor::Customer(customer));
        self.accept_relationship(&batch, customer, pending.partner).is_ok()
    }

    /// One deadline for one subscription: renew, expire, or de-provision. Returns whether the
    /// entry was still current.
    fn process_deadline(&mut self, customer: Uuid, id: Uuid, at: DateTime<Utc>) -> bool {
        let days = self.settings.deprovision_days;
        let Some(sub) = self.customers.get(&customer).and_then(|c| c.subscriptions.get(&id)) else {
            return false;
        };
        if sub.next_deadline(days) != Some(at) {
            return false;
        }
        // Borrowed through the catalog's handle, not copied (every string and list of the offer).
        let catalog = std::sync::Arc::clone(&self.catalog);
        let offer = catalog.offer(&sub.offer_id);
        let family = offer.as_ref().map(|o| o.family.clone()).unwrap_or_default();
        let renews = sub.status == SubscriptionStatus::Active
            && sub.auto_renew_enabled
            && !sub.is_trial
            && offer.as_ref().is_some_and(|o| o.can_renew(at));
        let subject =
            Subject { customer: Some(customer), subscription: Some(id), sku: Some(sub.sku_id), ..Subject::default() };
        let (status, sku) = (sub.status, sub.sku_id);
        let term = Months::new(sub.nce.as_ref().map_or(self.settings.term_months, |n| n.term.term_duration.months()));
        let cancellation = chrono::Duration::days(self.settings.nce_cancellation_days);
        let batch = self.open_batch(Cause::ClockStep, Actor::Service);
        let Some(sub) = self.tenant_mut(customer).and_then(|c| c.subscription_mut(id)) else {
            return false;
        };
        sub.revision += 1;
        let kind = match status {
            SubscriptionStatus::Active if renews => {
                sub.commitment_end_date = sub.commitment_end_date.checked_add_months(term).unwrap_or(at);
                if let Some(n) = sub.nce.as_mut() {
                    // A renewal opens a new cancellation window.
                    n.cancellation_allowed_until = at.checked_add_signed(cancellation).unwrap_or(at);
                }
                EventKind::SubscriptionRenewed { family, until: sub.commitment_end_date }
            }
            SubscriptionStatus::Active => {
                sub.status = SubscriptionStatus::Expired;
                sub.auto_renew_enabled = false;
                sub.inactive_since = Some(at);
                EventKind::SubscriptionExpired { family }
            }
            from => {
                sub.status = SubscriptionStatus::Deleted;
                EventKind::SubscriptionDeprovisioned { family, from }
            }
        };
        let deprovisioned = matches!(kind, EventKind::SubscriptionDeprovisioned { .. });
        self.log(&batch, subject, kind);
        if deprovisioned {
            self.release_excess_assignments(&batch, customer, sku);
        }
        self.schedule(customer, id);
        true
    }

    /// After a de-provisioning, assignments beyond the seats that still exist (in any status
    /// short of deleted) are removed, first-created users last, so a correctly migrated tenant
    /// loses nothing and an unmigrated one loses exactly the de-provisioned seats.
    fn release_excess_assignments(&mut self, batch: &Batch, customer: Uuid, sku: Uuid) {
        let Some(c) = self.customers.get(&customer) else {
            return;
        };
        let (active, suspended, warning) = seats(c, sku);
        let capacity = active.saturating_add(suspended).saturating_add(warning);
        let consumed = c.consumed_units(sku);
        if consumed <= capacity {
            return;
        }
        let excess = (consumed - capacity) as usize;
        let holders: Vec<Uuid> =
            c.users_in_order().filter(|u| u.state == UserState::Active && u.holds(sku)).map(|u| u.id).collect();
        for user in holders.into_iter().rev().take(excess) {
            self.revoke(batch, customer, user, sku);
        }
    }
}
