//! PATCH on a subscription: suspend, reactivate, quantity, nickname, auto-renew, each change
//! with its rules (legacy and NCE), all checked before any is applied.

use uuid::Uuid;

use super::subscriptions::WireStatus;
use super::{Batch, EventKind, ModelError, Result, Subject, SubscriptionChanges, SubscriptionStatus, World};

impl World {
    /// `PATCH /customers/{c}/subscriptions/{s}`: suspend, reactivate, quantity, nickname,
    /// auto-renew. Every change is checked before any is applied.
    pub fn update_subscription(
        &mut self,
        batch: &Batch,
        partner: Uuid,
        customer: Uuid,
        id: Uuid,
        if_match: Option<&str>,
        changes: &SubscriptionChanges,
    ) -> Result<()> {
        let c = self.customer_of(partner, customer)?;
        let sub = match c.subscriptions.get(&id) {
            Some(s) if s.sold_by(partner) => s,
            _ => return Err(ModelError::SubscriptionNotFound(id)),
        };
        if if_match.is_some_and(|tag| tag != "*" && tag != sub.etag()) {
            return Err(ModelError::StaleEtag);
        }
        let offer = self.catalog.offer(&sub.offer_id);
        let family = offer.map(|o| o.family.clone()).unwrap_or_default();
        let status = match changes.status {
            None => None,
            Some(WireStatus::Known(s)) if s == sub.status => None,
            Some(WireStatus::Known(to)) => Some(to),
            Some(WireStatus::Unreachable) => {
                return Err(ModelError::StatusChangeNotAllowed { id, from: sub.status.as_str(), to: "that status" });
            }
        };
        // A status change is the one change such a PATCH makes: the docs send the full resource
        // with one property changed, so other fields that differ are echoes of an older read
        // (ignored, for a suspension and a reactivation alike).
        let alone = status.is_some();
        let quantity = changes.quantity.filter(|q| !alone && *q != i64::from(sub.quantity));
        let name = changes.friendly_name.clone().filter(|n| !alone && *n != sub.friendly_name);
        let renew = changes.auto_renew_enabled.filter(|r| !alone && *r != sub.auto_renew_enabled);
        if status.is_none() && quantity.is_none() && name.is_none() && renew.is_none() {
            return Ok(());
        }
        if sub.status == SubscriptionStatus::Deleted {
            return Err(ModelError::SubscriptionDeleted(id));
        }
        if sub.migration.is_some() {
            return Err(ModelError::MigrationInProgress(id));
        }
        if let Some(to) = status {
            match (sub.status, to) {
                (SubscriptionStatus::Active, SubscriptionStatus::Suspended) => {}
                (SubscriptionStatus::Suspended, SubscriptionStatus::Active) if self.migrated(id) => {
                    return Err(ModelError::StatusChangeNotAllowed {
                        id,
                        from: "suspended",
                        to: "active (it was migrated to new commerce)",
                    });
                }
                (SubscriptionStatus::Suspended, SubscriptionStatus::Active) => {
                    // Legacy subscriptions reactivate only within their term.
                    if self.now >= sub.commitment_end_date {
                        return Err(ModelError::StatusChangeNotAllowed {
                            id,
                            from: "suspended",
                            to: "active (term has ended)",
                        });
                    }
                    if let Some(parent) = sub.parent_subscription_id {
                        let parent_active =
                            c.subscriptions.get(&parent).is_some_and(|p| p.status == SubscriptionStatus::Active);
                        if !parent_active {
                            return Err(ModelError::ParentNotActive(parent));
                        }
                    }
                }
                (from, to) => {
                    return Err(ModelError::StatusChangeNotAllowed { id, from: from.as_str(), to: to.as_str() });
                }
            }
        }
        // A suspended subscription accepts only a status change (800091), whatever else the
        // body says; reactivation in the same request makes the others legal.
        let active_after = status.map_or(sub.status, |s| s) == SubscriptionStatus::Active;
        if (quantity.is_some() || renew.is_some()) && !active_after {
            return Err(ModelError::SubscriptionSuspended(id));
        }
        let quantity = match quantity {
            None => None,
            Some(q) => {
                let (min, max) = offer.map_or((1, 10_000), |o| (o.minimum_quantity, o.maximum_quantity));
                match u32::try_from(q).ok().filter(|q| (min..=max).contains(q)) {
                    Some(q) => Some(q),
                    None => {
                        return Err(ModelError::QuantityOutOfRange {
                            offer: sub.offer_id.clone(),
                            quantity: q,
                            min,
                            max,
                        });
                    }
                }
            }
        };
        if let Some(q) = quantity.filter(|q| *q < sub.quantity && sub.status == SubscriptionStatus::Active) {
            // Seats in use stay: the pool may not shrink below its holders.
            let (active, _, _) = super::licenses::seats(c, sub.sku_id);
            let left = active - (sub.quantity - q);
            let in_use = c.consumed_units(sub.sku_id);
            if in_use > left {
                return Err(ModelError::SeatsInUse { id, quantity: q, in_use, left });
            }
        }
        let window_closed = sub.nce.as_ref().is_some_and(|n| self.now >= n.cancellation_allowed_until);
        if quantity.is_some_and(|q| q < sub.quantity) && window_closed {
            return Err(ModelError::SeatReductionNotAllowed(id));
        }
        if renew == Some(true) && !offer.is_some_and(|o| o.can_renew(self.now)) {
            return Err(ModelError::AutoRenewNotAllowed(id));
        }

        let now = self.now;
        let subject =
            Subject { customer: Some(customer), subscription: Some(id), sku: Some(sub.sku_id), ..Subject::default() };
        let from_quantity = sub.quantity;
        let Some(sub) = self.tenant_mut(customer).and_then(|c| c.subscription_mut(id)) else {
            return Err(ModelError::SubscriptionNotFound(id));
        };
        sub.revision += 1;
        let mut events = Vec::new();
        if let Some(to) = status {
            sub.status = to;
            if to == SubscriptionStatus::Suspended {
                sub.inactive_since = Some(now);
                events.push(EventKind::SubscriptionSuspended { family: family.clone() });
            } else {
                sub.inactive_since = None;
                events.push(EventKind::SubscriptionReactivated { family: family.clone() });
            }
        }
        if let Some(q) = quantity {
            sub.quantity = q;
            events.push(EventKind::QuantityChanged { family: family.clone(), from: from_quantity, to: q });
        }
        if let Some(n) = name {
            sub.friendly_name = n.clone();
            events.push(EventKind::FriendlyNameChanged { name: n });
        }
        if let Some(r) = renew {
            sub.auto_renew_enabled = r;
            events.push(EventKind::AutoRenewChanged { enabled: r });
        }
        for kind in events {
            self.log(batch, subject, kind);
        }
        self.schedule(customer, id);
        Ok(())
    }
}
