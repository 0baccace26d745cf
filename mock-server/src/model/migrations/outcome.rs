//! What the clock does to a migration when it comes due: complete it (buy the NCE
//! subscriptions, move users where the SKU changes, end the hold), fail it (legacy active
//! again, or left suspended in limbo), and revert a limbo.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{MigrationEvent, MigrationEventName, MigrationStatus, Outcome};
use crate::model::{
    Actor, Batch, Cause, EventKind, Order, OrderLine, Subject, Subscription, SubscriptionStatus, World,
};

impl World {
    /// The outcome of a new migration: the fault plan's seeded draws decide a failure (and a
    /// failure's limbo); without a plan, migrations complete.
    pub(crate) fn draw_migration_outcome(&mut self) -> Outcome {
        let Some(m) = self.fault_plan().and_then(|p| p.migrations.clone()) else {
            return Outcome::Complete;
        };
        if self.draw_fault() >= m.failure {
            return Outcome::Complete;
        }
        Outcome::Fail { limbo: self.draw_fault() < m.limbo }
    }

    /// One migration deadline. Returns whether the entry was still current.
    pub(crate) fn process_migration(&mut self, id: Uuid, at: DateTime<Utc>) -> bool {
        let Some(m) = self.migrations.get(&id) else {
            return false;
        };
        if m.next_deadline() != Some(at) {
            return false;
        }
        let (status, outcome) = (m.status, m.outcome);
        let batch = self.open_batch(Cause::ClockStep, Actor::Service);
        match (status, outcome) {
            (MigrationStatus::Processing, Outcome::Complete) => self.complete_migration(&batch, id),
            (MigrationStatus::Processing, Outcome::Fail { limbo }) => self.fail_migration(&batch, id, limbo),
            _ => self.revert_migration(&batch, id),
        }
        self.schedule_migration(id);
        true
    }

    fn complete_migration(&mut self, batch: &Batch, id: Uuid) {
        let Some(m) = self.migrations.get(&id).cloned() else {
            return;
        };
        let now = self.now;
        let order_id = self.ids.next_uuid();
        let mut lines = Vec::new();
        let base =
            self.migrate_one(batch, &m, (m.current_subscription_id, &m.catalog_item_id, m.quantity), (order_id, None));
        if base.is_none() {
            // The base vanished or its item left the catalog: nothing was bought; fail it
            // (legacy active again) rather than call it complete.
            self.fail_migration(batch, id, false);
            return;
        }
        let mut add_on_ids = Vec::new();
        if let Some((sid, line)) = base.clone() {
            lines.push(line);
            for a in &m.add_ons {
                let made = self.migrate_one(
                    batch,
                    &m,
                    (a.current_subscription_id, &a.catalog_item_id, a.quantity),
                    (order_id, Some(sid)),
                );
                add_on_ids.push(made.as_ref().map(|(s, _)| *s));
                if made.is_none() {
                    // Not bought: the add-on goes back to active rather than stay held.
                    self.end_hold(batch, &m, a.current_subscription_id, true);
                }
                lines.extend(made.map(|(_, l)| l));
            }
        }
        for (n, line) in lines.iter_mut().enumerate() {
            line.line_item_number = u32::try_from(n).unwrap_or(0);
        }
        if !lines.is_empty() {
            let order =
                Order { id: order_id, customer: m.customer, partner: m.partner, creation_date: now, line_items: lines };
            let count = order.line_items.len();
            if let Some(c) = self.tenant_mut(m.customer) {
                c.put_order(std::sync::Arc::new(order));
            }
            let subject = Subject { customer: Some(m.customer), ..Subject::default() };
            self.log(batch, subject, EventKind::OrderPlaced { order: order_id, line_items: count });
        }
        let Some(entry) = self.migrations.get_mut(&id) else {
            return;
        };
        entry.status = MigrationStatus::Completed;
        entry.completed = Some(now);
        entry.nce_subscription_id = base.map(|(s, _)| s);
        entry.nce_order_id = Some(order_id);
        for (a, made) in entry.add_ons.iter_mut().zip(add_on_ids) {
            a.nce_subscription_id = made;
        }
        for name in [
            MigrationEventName::NewCommerceSubscriptionCreated,
            MigrationEventName::NewCommerceSubscriptionProvisioned,
            MigrationEventName::MigrationCompleted,
        ] {
            let event = MigrationEvent { id: self.ids.next_uuid(), name, at: now };
            if let Some(entry) = self.migrations.get_mut(&id) {
                entry.events.push(event);
            }
        }
    }

    /// Buy the NCE subscription for one legacy subscription of the bundle, move its users if
    /// the SKU changes, and end the hold: one atomic step of the completion.
    fn migrate_one(
        &mut self,
        batch: &Batch,
        m: &super::Migration,
        (legacy_id, item, quantity): (Uuid, &str, u32),
        (order_id, parent): (Uuid, Option<Uuid>),
    ) -> Option<(Uuid, OrderLine)> {
        let legacy = self.customers.get(&m.customer)?.subscriptions.get(&legacy_id)?.clone();
        let offer = self.catalog.offer(item)?.clone();
        let term = m.add_ons.iter().find(|a| a.current_subscription_id == legacy_id).map_or(m.term, |a| a.term);
        let id = self.ids.next_uuid();
        let now = self.now;
        let bought = self.bought(id, m.customer, &offer, quantity, m.partner, order_id);
        let mut sub = Subscription {
            friendly_name: legacy.friendly_name.clone(),
            partner_id_on_record: legacy.partner_id_on_record.clone(),
            parent_subscription_id: parent,
            auto_renew_enabled: true,
            ..bought.with_nce_terms(Some(term), now, self.settings.nce_cancellation_days)
        };
        // Without `purchaseFullTerm` the NCE subscription keeps the legacy term's end (the bulk
        // tool's StartNewTermInNce = false); a custom end date overrides both.
        if !m.purchase_full_term {
            sub.commitment_end_date = m.subscription_end_date.max(now);
        }
        if let Some(end) = m.custom_term_end_date.filter(|_| parent.is_none()) {
            sub.commitment_end_date = end;
        }
        if let Some(n) = sub.nce.as_mut() {
            n.migrated_from = Some(legacy_id);
        }
        let line = OrderLine {
            line_item_number: 0,
            offer_id: offer.nce.as_ref().map_or(offer.id.clone(), |n| n.catalog_item_id()),
            quantity,
            friendly_name: sub.friendly_name.clone(),
            subscription_id: id,
            partner_id_on_record: sub.partner_id_on_record.clone(),
        };
        self.insert_subscription(batch, sub, &offer.family);
        if offer.sku_id != legacy.sku_id {
            self.transfer_licenses(batch, m.customer, &legacy, &offer, quantity);
        }
        self.end_hold(batch, m, legacy_id, false);
        Some((id, line))
    }

    /// End a migration's hold on a legacy subscription (`reactivate`: active again).
    fn end_hold(&mut self, batch: &Batch, m: &super::Migration, legacy_id: Uuid, reactivate: bool) {
        let Some(sub) = self.tenant_mut(m.customer).and_then(|c| c.subscription_mut(legacy_id)) else {
            return;
        };
        if sub.migration != Some(m.id) {
            return;
        }
        sub.migration = None;
        sub.revision += 1;
        if reactivate && sub.status == SubscriptionStatus::Suspended {
            sub.status = SubscriptionStatus::Active;
            sub.inactive_since = None;
        }
        let (sku, offer) = (sub.sku_id, sub.offer_id.clone());
        let family = self.catalog.offer(&offer).map(|o| o.family.clone()).unwrap_or_default();
        let subject =
            Subject { customer: Some(m.customer), subscription: Some(legacy_id), sku: Some(sku), ..Subject::default() };
        let kind = match (m.status, reactivate) {
            (MigrationStatus::Processing, false) if m.outcome == Outcome::Complete => {
                EventKind::MigrationCompleted { migration: m.id, family }
            }
            _ => EventKind::MigrationFailed { migration: m.id, family, reverted: reactivate },
        };
        self.log(batch, subject, kind);
        self.schedule(m.customer, legacy_id);
    }

    fn fail_migration(&mut self, batch: &Batch, id: Uuid, limbo: bool) {
        let Some(m) = self.migrations.get(&id).cloned() else {
            return;
        };
        let now = self.now;
        let subs: Vec<Uuid> = std::iter::once(m.current_subscription_id)
            .chain(m.add_ons.iter().map(|a| a.current_subscription_id))
            .collect();
        for s in subs {
            self.end_hold(batch, &m, s, !limbo);
        }
        let hours = self.settings.migration_revert_hours;
        let event = MigrationEvent { id: self.ids.next_uuid(), name: MigrationEventName::MigrationFailed, at: now };
        let Some(entry) = self.migrations.get_mut(&id) else {
            return;
        };
        entry.status = MigrationStatus::Failed;
        entry.completed = Some(now);
        entry.events.push(event);
        if limbo {
            entry.revert_at = Some(now.checked_add_signed(Duration::hours(hours)).unwrap_or(now));
            entry.error = Some(format!(
                "The migration failed after the legacy subscription was suspended; Microsoft reverts it within {hours} hours, then it may be retried."
            ));
        } else {
            entry.error = Some(
                "The migration failed; the legacy subscription is active again and the migration may be retried."
                    .into(),
            );
        }
    }

    /// Microsoft's revert of a failure in limbo: legacy (and its add-ons) active again, if
    /// their term has not ended meanwhile.
    fn revert_migration(&mut self, batch: &Batch, id: Uuid) {
        let Some(m) = self.migrations.get_mut(&id) else {
            return;
        };
        m.revert_at = None;
        let m = m.clone();
        let now = self.now;
        let subs: Vec<Uuid> = std::iter::once(m.current_subscription_id)
            .chain(m.add_ons.iter().map(|a| a.current_subscription_id))
            .collect();
        for s in subs {
            let Some(sub) = self.tenant_mut(m.customer).and_then(|c| c.subscription_mut(s)) else {
                continue;
            };
            if sub.status != SubscriptionStatus::Suspended || sub.migration.is_some() || now >= sub.commitment_end_date
            {
                continue;
            }
            sub.status = SubscriptionStatus::Active;
            sub.inactive_since = None;
            sub.revision += 1;
            let (sku, offer) = (sub.sku_id, sub.offer_id.clone());
            let family = self.catalog.offer(&offer).map(|o| o.family.clone()).unwrap_or_default();
            let subject =
                Subject { customer: Some(m.customer), subscription: Some(s), sku: Some(sku), ..Subject::default() };
            self.log(batch, subject, EventKind::SubscriptionReactivated { family });
            self.schedule(m.customer, s);
        }
    }
}
