//! A subscription's JSON written straight from the model. It is the hottest shape (every GET
//! and PATCH of one, every listing, every rehearsal's discovery), and a `serde_json::Value`
//! of it cost 27 keys allocated and hashed into maps before a byte was written.
//!
//! The field order is the wire's contract (clients diff it, snapshots pin it): the legacy
//! fields, then `orderId`, then what an NCE subscription adds; an NCE subscription's links
//! name its product, SKU and availability instead of its offer.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::wire::date;
use crate::model::nce::NceTerms;
use crate::model::{Subscription, SubscriptionStatus};

/// `Subscription` as Partner Center renders it.
pub struct SubscriptionShape<'a>(pub &'a Subscription);

impl Serialize for SubscriptionShape<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let sub = self.0;
        let n = sub.nce.as_ref();
        let mut m = ser.serialize_map(None)?;
        m.serialize_entry("id", &sub.id)?;
        m.serialize_entry("entitlementId", &sub.id)?;
        m.serialize_entry("offerId", &sub.offer_id)?;
        m.serialize_entry("offerName", &sub.offer_name)?;
        m.serialize_entry("friendlyName", &sub.friendly_name)?;
        m.serialize_entry("quantity", &sub.quantity)?;
        m.serialize_entry("unitType", "Licenses")?;
        m.serialize_entry("hasPurchasableAddons", &false)?;
        m.serialize_entry("creationDate", &date(sub.creation_date))?;
        m.serialize_entry("effectiveStartDate", &date(sub.effective_start_date))?;
        m.serialize_entry("commitmentEndDate", &date(sub.commitment_end_date))?;
        m.serialize_entry("status", sub.status.as_str())?;
        m.serialize_entry("autoRenewEnabled", &sub.auto_renew_enabled)?;
        m.serialize_entry("isTrial", &sub.is_trial)?;
        m.serialize_entry("billingType", "license")?;
        match n {
            Some(n) => m.serialize_entry("billingCycle", &n.term.billing_cycle.as_str().to_ascii_lowercase())?,
            None => m.serialize_entry("billingCycle", "monthly")?,
        }
        m.serialize_entry("termDuration", n.map_or("P1Y", |n| n.term.term_duration.as_str()))?;
        m.serialize_entry("isMicrosoftProduct", &true)?;
        // Null when there is no reseller of record, as the docs show.
        m.serialize_entry("partnerId", &Some(&sub.partner_id_on_record).filter(|p| !p.is_empty()))?;
        m.serialize_entry("parentSubscriptionId", &sub.parent_subscription_id)?;
        m.serialize_entry("contractType", "subscription")?;
        m.serialize_entry("publisherName", "Microsoft Corporation")?;
        let suspended: &[&str] = if sub.status == SubscriptionStatus::Suspended { &["PartnerInitiated"] } else { &[] };
        m.serialize_entry("suspensionReasons", suspended)?;
        let actions: &[&str] = if sub.status == SubscriptionStatus::Active { &["edit", "cancel"] } else { &[] };
        m.serialize_entry("actions", actions)?;
        m.serialize_entry("links", &Links(sub))?;
        m.serialize_entry("attributes", &Pairs(&[("etag", &sub.etag()), ("objectType", "Subscription")]))?;
        if let Some(o) = sub.order_id {
            m.serialize_entry("orderId", &o)?;
        }
        if let Some(n) = n {
            nce_fields(&mut m, n)?;
        }
        m.end()
    }
}

/// What an NCE subscription shows beyond a legacy one.
fn nce_fields<M: SerializeMap>(m: &mut M, n: &NceTerms) -> Result<(), M::Error> {
    let until = date(n.cancellation_allowed_until);
    m.serialize_entry("renewalTermDuration", n.term.term_duration.as_str())?;
    m.serialize_entry("productType", &Pairs(&[("id", "OnlineServicesNCE"), ("displayName", "OnlineServicesNCE")]))?;
    m.serialize_entry("cancellationAllowedUntilDate", &until)?;
    m.serialize_entry("refundOptions", &[Pairs(&[("type", "Full"), ("expiresAt", &until)])])?;
    m.serialize_entry("migratedFromSubscriptionId", &n.migrated_from)?;
    m.serialize_entry("scheduledNextTermInstructions", &None::<()>)
}

/// The links: a legacy subscription's offer and itself (and its base, for an add-on); an NCE
/// one's self first, then its product, SKU and availability (`offerId` is
/// `{productId}:{skuId}:{availabilityId}`).
struct Links<'a>(&'a Subscription);

impl Serialize for Links<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let sub = self.0;
        let own = format!("/customers/{}/subscriptions/{}", sub.customer, sub.id);
        let parent = sub.parent_subscription_id.map(|p| format!("/customers/{}/subscriptions/{p}", sub.customer));
        let mut m = ser.serialize_map(None)?;
        if sub.nce.is_none() {
            m.serialize_entry("offer", &Link(&format!("/offers/{}?country=US", sub.offer_id)))?;
            m.serialize_entry("self", &Link(&own))?;
            if let Some(p) = &parent {
                m.serialize_entry("parentSubscription", &Link(p))?;
            }
            return m.end();
        }
        // The base's link (if any) where the offer's was, then self, as the shape has always
        // been rendered (the offer's link swapped out for the last one).
        if let Some(p) = &parent {
            m.serialize_entry("parentSubscription", &Link(p))?;
        }
        m.serialize_entry("self", &Link(&own))?;
        let mut parts = sub.offer_id.splitn(3, ':');
        let (product, sku, availability) =
            (parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
        m.serialize_entry("product", &Link(&format!("/products/{product}?country=US")))?;
        m.serialize_entry("sku", &Link(&format!("/products/{product}/skus/{sku}?country=US")))?;
        let availability = format!("/products/{product}/skus/{sku}/availabilities/{availability}?country=US");
        m.serialize_entry("availability", &Link(&availability))?;
        m.end()
    }
}

/// `{"uri": …, "method": "GET", "headers": []}`, as `wire::link`.
pub(super) struct Link<'a>(pub(super) &'a str);

impl Serialize for Link<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(3))?;
        m.serialize_entry("uri", self.0)?;
        m.serialize_entry("method", "GET")?;
        m.serialize_entry("headers", &[] as &[()])?;
        m.end()
    }
}

/// A small object of string fields, in order.
pub(super) struct Pairs<'a>(pub(super) &'a [(&'a str, &'a str)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}
