//! Orders and subscriptions: buying, suspending, reactivating, changing quantity, and who may
//! do which (only the partner that sold a subscription in CSP may change it).

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Duration, Months, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Batch, Customer, EventKind, ModelError, Offer, Result, Subject, World};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Active,
    Suspended,
    /// Term ended without renewal; seats are in the warning state, no longer assignable.
    Expired,
    /// De-provisioned: seats gone, assignments released.
    Deleted,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::Suspended => "suspended",
            SubscriptionStatus::Expired => "expired",
            SubscriptionStatus::Deleted => "deleted",
        }
    }

    /// Partner Center's enum strings, including the ones the mock never reaches (so that a
    /// valid but unreachable value is refused as a transition, not as a parse error).
    pub fn parse_wire(s: &str) -> Option<WireStatus> {
        Some(match s.to_ascii_lowercase().as_str() {
            "active" => WireStatus::Known(SubscriptionStatus::Active),
            "suspended" => WireStatus::Known(SubscriptionStatus::Suspended),
            "expired" => WireStatus::Known(SubscriptionStatus::Expired),
            "deleted" => WireStatus::Known(SubscriptionStatus::Deleted),
            "none" | "pending" | "disabled" => WireStatus::Unreachable,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireStatus {
    Known(SubscriptionStatus),
    Unreachable,
}

/// Where a subscription was bought. Only `Csp` subscriptions of the calling partner appear in
/// its subscription list; all of them count in the tenant's subscribed SKUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type", content = "partner")]
pub enum Channel {
    /// Sold in CSP by this partner (tenant id).
    Csp(Uuid),
    /// Volume licensing (Open): the customer cancels it through that channel.
    Open,
    /// Bought directly from Microsoft (web direct).
    Direct,
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Csp(p) => write!(f, "csp:{}", &p.simple().to_string()[..8]),
            Channel::Open => f.write_str("open"),
            Channel::Direct => f.write_str("direct"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub id: Uuid,
    pub customer: Uuid,
    pub offer_id: String,
    pub sku_id: Uuid,
    pub offer_name: String,
    pub friendly_name: String,
    pub quantity: u32,
    pub status: SubscriptionStatus,
    pub auto_renew_enabled: bool,
    pub channel: Channel,
    pub creation_date: DateTime<Utc>,
    pub effective_start_date: DateTime<Utc>,
    pub commitment_end_date: DateTime<Utc>,
    /// When the current suspension or expiry began (de-provisioning counts from here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactive_since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_subscription_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<Uuid>,
    /// MPN id of the indirect reseller of record, if any.
    #[serde(default)]
    pub partner_id_on_record: String,
    #[serde(default)]
    pub is_trial: bool,
    /// Bumped on every change; the ETag is derived from it.
    pub revision: u64,
    /// The NCE fields (term, billing, cancellation window); `None` for a legacy subscription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nce: Option<super::nce::NceTerms>,
    /// The NCE migration holding this (suspended) legacy subscription's seats for its users
    /// until it completes or fails: see `migrations` for the hand-over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_id: Option<String>,
}

impl Subscription {
    pub fn etag(&self) -> String {
        // Opaque to clients; stable for a given revision.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.id.as_bytes().iter().chain(self.revision.to_le_bytes().iter()) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("W/\"{:016x}{:04x}\"", h, self.revision)
    }

    /// Make this a new-commerce subscription for `term` starting `at` (no-op for `None`).
    pub fn with_nce_terms(mut self, term: Option<super::nce::Term>, at: DateTime<Utc>, cancellation_days: i64) -> Self {
        if let Some(term) = term {
            self.commitment_end_date = super::nce::NceTerms::term_end(term, at);
            self.nce = Some(super::nce::NceTerms::starting(term, at, cancellation_days));
        }
        self
    }

    /// Are this subscription's seats usable now? Active ones are, and a suspended legacy
    /// subscription whose seats an NCE migration holds for its users.
    pub fn seats_in_service(&self) -> bool {
        self.status == SubscriptionStatus::Active
            || (self.status == SubscriptionStatus::Suspended && self.migration.is_some())
    }

    pub fn sold_by(&self, partner: Uuid) -> bool {
        self.channel == Channel::Csp(partner)
    }

    /// When de-provisioning is due, for a suspended or expired subscription.
    pub fn deprovision_at(&self, deprovision_days: i64) -> Option<DateTime<Utc>> {
        match self.status {
            SubscriptionStatus::Suspended | SubscriptionStatus::Expired => {
                self.inactive_since.map(|t| t + Duration::days(deprovision_days))
            }
            _ => None,
        }
    }

    /// The next lifecycle deadline, if any.
    pub fn next_deadline(&self, deprovision_days: i64) -> Option<DateTime<Utc>> {
        if self.migration.is_some() {
            // Held by a migration: its clock is the migration's; de-provisioning counts on
            // once the hold ends.
            return None;
        }
        match self.status {
            SubscriptionStatus::Active => Some(self.commitment_end_date),
            SubscriptionStatus::Suspended | SubscriptionStatus::Expired => self.deprovision_at(deprovision_days),
            SubscriptionStatus::Deleted => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    pub line_item_number: u32,
    pub offer_id: String,
    pub quantity: u32,
    pub friendly_name: String,
    pub subscription_id: Uuid,
    pub partner_id_on_record: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub id: Uuid,
    pub customer: Uuid,
    pub partner: Uuid,
    pub creation_date: DateTime<Utc>,
    pub line_items: Vec<OrderLine>,
}

/// One requested line of an order, as parsed from the wire (quantity still unchecked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLineRequest {
    pub line_item_number: i64,
    pub offer_id: String,
    pub quantity: i64,
    pub friendly_name: Option<String>,
    pub partner_id_on_record: Option<String>,
    /// For an NCE item (default: the item's first term).
    pub term_duration: Option<String>,
    pub billing_cycle: Option<String>,
}

/// The writable fields of a subscription PATCH. Everything else in the full body a client
/// sends is a read-only echo and is ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionChanges {
    pub status: Option<super::subscriptions::WireStatus>,
    pub quantity: Option<i64>,
    pub friendly_name: Option<String>,
    pub auto_renew_enabled: Option<bool>,
}

impl World {
    /// Subscriptions this partner sold to the customer (other channels are invisible here).
    pub fn subscriptions_of(&self, partner: Uuid, customer: Uuid) -> Result<Vec<&Subscription>> {
        let c = self.customer_of(partner, customer)?;
        Ok(c.subscriptions_in_order().filter(|s| s.sold_by(partner)).collect())
    }

    /// A subscription this partner sold, as the shared handle the world keeps: a reader that
    /// renders it after the lock is released copies the handle, not the subscription.
    pub fn subscription_of(&self, partner: Uuid, customer: Uuid, id: Uuid) -> Result<&Arc<Subscription>> {
        let c = self.customer_of(partner, customer)?;
        match c.subscriptions.get(&id) {
            Some(s) if s.sold_by(partner) => Ok(s),
            _ => Err(ModelError::SubscriptionNotFound(id)),
        }
    }

    pub fn orders_of(&self, partner: Uuid, customer: Uuid) -> Result<Vec<&Order>> {
        let c = self.customer_of(partner, customer)?;
        let mut orders: Vec<&Order> = c.orders.values().filter(|o| o.partner == partner).map(|o| &**o).collect();
        orders.sort_by_key(|o| (o.creation_date, o.id));
        Ok(orders)
    }

    /// An order this partner placed, as the shared handle the world keeps (as
    /// [`World::subscription_of`]).
    pub fn order_of(&self, partner: Uuid, customer: Uuid, id: Uuid) -> Result<&Arc<Order>> {
        let c = self.customer_of(partner, customer)?;
        match c.orders.get(&id) {
            Some(o) if o.partner == partner => Ok(o),
            _ => Err(ModelError::OrderNotFound(id)),
        }
    }

    /// `POST /customers/{id}/orders`: all lines are checked before anything is created.
    /// [`World::create_order`] keyed by the caller's `MS-RequestId`: a repeat within the
    /// dedup window (same customer) answers with the first order and buys nothing.
    pub fn create_order_once(
        &mut self,
        batch: &Batch,
        partner: Uuid,
        customer: Uuid,
        lines: &[OrderLineRequest],
        request_id: &str,
    ) -> Result<Uuid> {
        let window = Duration::seconds(self.settings.order_dedup_seconds.max(0));
        // Remembered per partner: another reseller of the same customer reusing the id gets
        // an order of its own, and never learns the other's.
        let key: std::sync::Arc<str> = format!("{partner}/{request_id}").into();
        if let Some((c, order, at)) = self.order_requests.get(&key).copied()
            && c == customer
            && self.now < at + window
        {
            self.customer_of(partner, customer)?;
            self.log(
                batch,
                Subject { customer: Some(customer), ..Subject::default() },
                EventKind::OrderReplayed { order },
            );
            return Ok(order);
        }
        let order = self.create_order(batch, partner, customer, lines)?;
        if window > Duration::zero() && !request_id.is_empty() {
            let now = self.now;
            while let Some((at, old)) = self.order_request_queue.front()
                && *at + window <= now
            {
                // A key asked again later was re-filed with a newer time: keep that one.
                if self.order_requests.get(old).is_some_and(|(_, _, t)| t == at) {
                    let old = old.clone();
                    self.file_order_request(old, None);
                }
                self.order_request_queue.pop_front();
            }
            self.order_request_queue.push_back((now, key.clone()));
            self.file_order_request(key, Some((customer, order, now)));
        }
        Ok(order)
    }

    pub fn create_order(
        &mut self,
        batch: &Batch,
        partner: Uuid,
        customer: Uuid,
        lines: &[OrderLineRequest],
    ) -> Result<Uuid> {
        let c = match self.customers.get(&customer) {
            None => return Err(ModelError::CustomerNotFound(customer)),
            Some(c) if !c.is_customer_of(partner) => {
                return Err(ModelError::NoRelationship(customer));
            }
            Some(c) => c,
        };
        if lines.is_empty() {
            return Err(ModelError::EmptyOrder);
        }
        let mut numbers: Vec<i64> = lines.iter().map(|l| l.line_item_number).collect();
        numbers.sort_unstable();
        if numbers.iter().enumerate().any(|(i, n)| i64::try_from(i).ok() != Some(*n)) {
            return Err(ModelError::LineItemNumbers(lines.len().saturating_sub(1)));
        }
        // The catalog's handle, so the checked lines can borrow their offers while the world is
        // changed (a copy of each offer copied every string and list of it under the lock).
        let catalog = Arc::clone(&self.catalog);
        let mut checked = Vec::with_capacity(lines.len());
        for line in lines {
            let offer =
                catalog.offer(&line.offer_id).ok_or_else(|| ModelError::OfferNotFound(line.offer_id.clone()))?;
            if !offer.is_available_for_purchase(self.now) {
                return Err(ModelError::OfferNotPurchasable(offer.id.clone()));
            }
            let quantity = u32::try_from(line.quantity)
                .ok()
                .filter(|q| (offer.minimum_quantity..=offer.maximum_quantity).contains(q))
                .ok_or_else(|| ModelError::QuantityOutOfRange {
                    offer: offer.id.clone(),
                    quantity: line.quantity,
                    min: offer.minimum_quantity,
                    max: offer.maximum_quantity,
                })?;
            let parent = if offer.is_add_on {
                match self.earliest_active_base(c, offer) {
                    Some(b) => Some(b.id),
                    None => {
                        return Err(ModelError::MissingBaseSubscription {
                            addon: offer.id.clone(),
                            prerequisites: offer.prerequisite_offers.join(", "),
                        });
                    }
                }
            } else {
                None
            };
            let term = match &offer.nce {
                None => None,
                Some(item) => {
                    let term = super::nce::requested_term(
                        offer,
                        line.term_duration.as_deref(),
                        line.billing_cycle.as_deref(),
                    )?;
                    if !item.sells(term) {
                        return Err(ModelError::InvalidInput(format!(
                            "{} is not sold for a {} term billed {}.",
                            offer.name,
                            term.term_duration.as_str(),
                            term.billing_cycle.as_str()
                        )));
                    }
                    Some(term)
                }
            };
            checked.push((offer, quantity, parent, line, term));
        }

        let order_id = self.ids.next_uuid();
        let now = self.now;
        let mut order_lines = Vec::with_capacity(checked.len());
        for (offer, quantity, parent, line, term) in checked {
            let id = self.ids.next_uuid();
            let friendly_name = line.friendly_name.clone().unwrap_or_else(|| offer.name.clone());
            let partner_id_on_record = line.partner_id_on_record.clone().unwrap_or_default();
            let sub = Subscription {
                friendly_name: friendly_name.clone(),
                parent_subscription_id: parent,
                partner_id_on_record: partner_id_on_record.clone(),
                ..self.bought(id, customer, offer, quantity, partner, order_id).with_nce_terms(
                    term,
                    now,
                    self.settings.nce_cancellation_days,
                )
            };
            order_lines.push(OrderLine {
                line_item_number: u32::try_from(line.line_item_number).unwrap_or(0),
                offer_id: offer.id.clone(),
                quantity,
                friendly_name,
                subscription_id: id,
                partner_id_on_record,
            });
            self.insert_subscription(batch, sub, &offer.family);
        }
        let line_items = order_lines.len();
        let order = Order { id: order_id, customer, partner, creation_date: now, line_items: order_lines };
        self.customer_mut(customer)?.put_order(std::sync::Arc::new(order));
        let subject = Subject { customer: Some(customer), ..Subject::default() };
        self.log(batch, subject, EventKind::OrderPlaced { order: order_id, line_items });
        Ok(order_id)
    }

    /// A subscription of `offer` bought now through `partner` on order `order_id`, for a new
    /// term: what an order line and an upgrade's target both create.
    pub(crate) fn bought(
        &self,
        id: Uuid,
        customer: Uuid,
        offer: &Offer,
        quantity: u32,
        partner: Uuid,
        order_id: Uuid,
    ) -> Subscription {
        let now = self.now;
        Subscription {
            id,
            customer,
            offer_id: offer.subscription_offer_id(),
            sku_id: offer.sku_id,
            offer_name: offer.name.clone(),
            friendly_name: offer.name.clone(),
            quantity,
            status: SubscriptionStatus::Active,
            auto_renew_enabled: offer.can_renew(now),
            channel: Channel::Csp(partner),
            creation_date: now,
            effective_start_date: now,
            commitment_end_date: now.checked_add_months(Months::new(self.settings.term_months)).unwrap_or(now),
            inactive_since: None,
            parent_subscription_id: None,
            order_id: Some(order_id),
            partner_id_on_record: String::new(),
            is_trial: false,
            revision: 1,
            nce: None,
            migration: None,
            promotion_id: None,
        }
        .with_nce_terms(offer.nce.as_ref().map(|n| n.default_term()), now, self.settings.nce_cancellation_days)
    }

    /// The add-on's base: the tenant's earliest active subscription of one of its prerequisite
    /// offers, read from those offers' SKUs in creation order (not the whole tenant's).
    fn earliest_active_base<'a>(&self, c: &'a Customer, add_on: &Offer) -> Option<&'a Subscription> {
        let is_base = |s: &&Subscription| {
            s.status == SubscriptionStatus::Active
                && add_on.prerequisite_offers.iter().any(|p| p.eq_ignore_ascii_case(&s.offer_id))
        };
        let mut skus = Vec::with_capacity(add_on.prerequisite_offers.len());
        for p in &add_on.prerequisite_offers {
            match self.catalog.offer(p) {
                Some(o) => skus.push(o.sku_id),
                // Not in the catalog: nothing says which SKU its subscriptions carry.
                None => return c.subscriptions_in_order().find(is_base),
            }
        }
        skus.sort_unstable();
        skus.dedup();
        skus.into_iter()
            .filter_map(|sku| c.subscriptions_of_sku(sku).find(is_base))
            .min_by_key(|s| (s.creation_date, s.id))
    }

    pub(crate) fn insert_subscription(&mut self, batch: &Batch, sub: Subscription, family: &std::sync::Arc<str>) {
        let subject = Subject {
            customer: Some(sub.customer),
            subscription: Some(sub.id),
            sku: Some(sub.sku_id),
            ..Subject::default()
        };
        let kind = EventKind::SubscriptionCreated(Box::new(super::SubscriptionCreated {
            offer_id: sub.offer_id.clone(),
            family: family.clone(),
            quantity: sub.quantity,
            status: sub.status,
            channel: sub.channel,
            commitment_end_date: sub.commitment_end_date,
        }));
        let (customer, id, sku, created) = (sub.customer, sub.id, sub.sku_id, (sub.creation_date, sub.id));
        if let Some(c) = self.tenant_mut(customer) {
            c.put_subscription(std::sync::Arc::new(sub));
            c.index_sku(created, None, sku);
        }
        self.log(batch, subject, kind);
        self.schedule(customer, id);
    }
}
