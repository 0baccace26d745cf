//! License assignments and seat pools: `licenseupdates`, `subscribedskus`, and the one rule of
//! what makes a license *effective*.
//!
//! **The effective-license rule** (written here once; README repeats it): a user's license for
//! SKU S in a tenant is effective iff the tenant has at least one *active* seat of S and no
//! more users hold S than there are active seats (`0 < consumed <= active`). Seats of
//! suspended, expired or de-provisioned subscriptions are not active, with one exception: a
//! legacy subscription suspended by the start of an NCE migration keeps its seats in service
//! for its users until the migration completes (the NCE seats take over in the same step) or
//! fails (see `migrations`). When a pool is
//! over-assigned every holder's license stops being effective, because Azure AD does not say
//! which users keep service.

use uuid::Uuid;

use super::{Batch, Customer, EventKind, ModelError, Result, Subject, SubscriptionStatus, UserState, World};

/// See the module doc: the single statement of the effective-license rule.
pub fn is_effective(active_units: u32, consumed_units: u32) -> bool {
    active_units > 0 && consumed_units <= active_units
}

/// A tenant-wide view of one SKU's seats, whatever channel sold them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribedSku {
    pub sku_id: Uuid,
    pub sku_part_number: String,
    pub name: String,
    /// Seats of active subscriptions.
    pub active_units: u32,
    /// Seats of suspended subscriptions (not assignable, can be reactivated).
    pub suspended_units: u32,
    /// Seats of expired subscriptions (grace before de-provisioning; not assignable).
    pub warning_units: u32,
    pub consumed_units: u32,
}

impl SubscribedSku {
    /// `totalUnits`: every seat bought and not yet de-provisioned (active, suspended, warning).
    pub fn total_units(&self) -> u32 {
        self.active_units.saturating_add(self.suspended_units).saturating_add(self.warning_units)
    }

    /// `availableUnits`: the seats that can be assigned now, active ones not in use (never
    /// negative: an over-assigned pool has none).
    pub fn available_units(&self) -> i64 {
        (i64::from(self.active_units) - i64::from(self.consumed_units)).max(0)
    }

    pub fn capability_status(&self) -> &'static str {
        if self.active_units > 0 {
            "Enabled"
        } else if self.warning_units > 0 {
            "Warning"
        } else if self.suspended_units > 0 {
            "Suspended"
        } else {
            "Deleted"
        }
    }
}

/// Seats per status for one SKU of one tenant.
pub(crate) fn seats(customer: &Customer, sku: Uuid) -> (u32, u32, u32) {
    let (mut active, mut suspended, mut warning) = (0u32, 0u32, 0u32);
    for s in customer.subscriptions_of_sku(sku) {
        match s.status {
            _ if s.seats_in_service() => active = active.saturating_add(s.quantity),
            SubscriptionStatus::Active => {}
            SubscriptionStatus::Suspended => suspended = suspended.saturating_add(s.quantity),
            SubscriptionStatus::Expired => warning = warning.saturating_add(s.quantity),
            SubscriptionStatus::Deleted => {}
        }
    }
    (active, suspended, warning)
}

impl World {
    /// Is this user's license for `sku` effective right now? (See the module doc.)
    pub fn license_is_effective(&self, customer: &Customer, sku: Uuid) -> bool {
        let (active, _, _) = seats(customer, sku);
        is_effective(active, customer.consumed_units(sku))
    }

    /// `GET /customers/{id}/subscribedskus`: every SKU with seats or holders, in SKU order.
    pub fn subscribed_skus(&self, partner: Uuid, customer: Uuid) -> Result<Vec<SubscribedSku>> {
        let c = self.customer_of(partner, customer)?;
        let mut skus: Vec<Uuid> = c
            .subscriptions
            .values()
            .filter(|s| s.status != SubscriptionStatus::Deleted)
            .map(|s| s.sku_id)
            .chain(c.consumed.iter().filter(|(_, n)| **n > 0).map(|(s, _)| *s))
            .collect();
        skus.sort_unstable();
        skus.dedup();
        Ok(skus
            .into_iter()
            .map(|sku| {
                let (active_units, suspended_units, warning_units) = seats(c, sku);
                let offer = self.catalog.by_sku(sku);
                SubscribedSku {
                    sku_id: sku,
                    sku_part_number: offer.map(|o| o.sku_part_number.clone()).unwrap_or_default(),
                    name: offer.map(|o| o.name.clone()).unwrap_or_default(),
                    active_units,
                    suspended_units,
                    warning_units,
                    consumed_units: c.consumed_units(sku),
                }
            })
            .collect())
    }

    /// `POST /customers/{c}/users/{u}/licenseupdates`: removals and assignments are applied
    /// together or not at all. Removing a license the user does not hold and assigning one
    /// the user already holds are no-ops, so a retried swap succeeds.
    pub fn update_licenses(
        &mut self,
        batch: &Batch,
        partner: Uuid,
        customer: Uuid,
        user: Uuid,
        assign: &[Uuid],
        remove: &[Uuid],
    ) -> Result<()> {
        if assign.is_empty() && remove.is_empty() {
            return Err(ModelError::EmptyLicenseUpdate);
        }
        let mut all: Vec<Uuid> = assign.iter().chain(remove).copied().collect();
        all.sort_unstable();
        if let Some(w) = all.windows(2).find(|w| w[0] == w[1]) {
            return Err(ModelError::DuplicateSku(w[0]));
        }
        let c = self.customer_of(partner, customer)?;
        let u = c.users.get(&user).ok_or(ModelError::UserNotFound(user))?;
        if u.state != UserState::Active {
            return Err(ModelError::UserInactive(user));
        }
        for sku in assign.iter().chain(remove) {
            if self.catalog.by_sku(*sku).is_none() {
                return Err(ModelError::UnknownSku(*sku));
            }
        }
        let to_remove: Vec<Uuid> = remove.iter().copied().filter(|s| u.holds(*s)).collect();
        let to_assign: Vec<Uuid> = assign.iter().copied().filter(|s| !u.holds(*s)).collect();
        for sku in &to_assign {
            // Assignable seats are active seats only; the removals in this same call do not
            // free seats of a different SKU, so each new SKU needs one free active seat.
            let (active, _, _) = seats(c, *sku);
            if c.consumed_units(*sku) >= active {
                return Err(ModelError::OutOfLicenses { customer, sku: *sku });
            }
        }
        for sku in to_assign {
            self.grant(batch, customer, user, sku);
        }
        for sku in to_remove {
            self.revoke(batch, customer, user, sku);
        }
        Ok(())
    }

    fn family_of(&self, sku: Uuid) -> std::sync::Arc<str> {
        self.catalog.by_sku(sku).map(|o| o.family.clone()).unwrap_or_default()
    }

    /// Record one assignment (checks were done by the caller).
    pub(crate) fn grant(&mut self, batch: &Batch, customer: Uuid, user: Uuid, sku: Uuid) {
        let family = self.family_of(sku);
        let Some(c) = self.tenant_mut(customer) else {
            return;
        };
        let Some(u) = c.user_mut(user) else {
            return;
        };
        if u.holds(sku) {
            return;
        }
        u.licenses.push(sku);
        if u.state == UserState::Active {
            *c.consumed.entry(sku).or_insert(0) += 1;
        }
        let subject = Subject { customer: Some(customer), user: Some(user), sku: Some(sku), ..Subject::default() };
        self.log(batch, subject, EventKind::LicenseAssigned { family });
    }

    /// Record one removal.
    pub(crate) fn revoke(&mut self, batch: &Batch, customer: Uuid, user: Uuid, sku: Uuid) {
        let family = self.family_of(sku);
        let Some(c) = self.tenant_mut(customer) else {
            return;
        };
        let Some(u) = c.user_mut(user) else {
            return;
        };
        if !u.holds(sku) {
            return;
        }
        u.licenses.retain(|s| *s != sku);
        if let (UserState::Active, Some(n)) = (u.state, c.consumed.get_mut(&sku)) {
            *n = n.saturating_sub(1);
        }
        let subject = Subject { customer: Some(customer), user: Some(user), sku: Some(sku), ..Subject::default() };
        self.log(batch, subject, EventKind::LicenseRemoved { family });
    }
}
