//! An order's JSON written straight from the model: every `POST /orders` answers one, and a
//! `serde_json::Value` of it cost a map per object (eleven keys, a line's seven, four links)
//! allocated and hashed before a byte was written. The field order is the one `wire`'s
//! `Value` had (snapshots pin it).

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use super::subscription_shape::{Link, Pairs};
use super::wire::{date, fixed_etag};
use crate::model::{Order, OrderLine};

/// `Order` as Partner Center renders it.
pub struct OrderShape<'a>(pub &'a Order);

impl Serialize for OrderShape<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let o = self.0;
        let mut m = ser.serialize_map(Some(11))?;
        m.serialize_entry("id", &o.id)?;
        m.serialize_entry("referenceCustomerId", &o.customer)?;
        m.serialize_entry("billingCycle", "monthly")?;
        m.serialize_entry("lineItems", &Lines(o))?;
        m.serialize_entry("creationDate", &date(o.creation_date))?;
        m.serialize_entry("status", "completed")?;
        m.serialize_entry("currencyCode", "USD")?;
        m.serialize_entry("currencySymbol", "$")?;
        m.serialize_entry("transactionType", "UserPurchase")?;
        let own = format!("/customers/{}/orders/{}", o.customer, o.id);
        m.serialize_entry("links", &Named("self", &own))?;
        let etag = fixed_etag(o.id);
        m.serialize_entry("attributes", &Pairs(&[("etag", etag.as_str()), ("objectType", "Order")]))?;
        m.end()
    }
}

struct Lines<'a>(&'a Order);

impl Serialize for Lines<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut seq = ser.serialize_seq(Some(self.0.line_items.len()))?;
        for line in &self.0.line_items {
            seq.serialize_element(&Line { order: self.0, line })?;
        }
        seq.end()
    }
}

struct Line<'a> {
    order: &'a Order,
    line: &'a OrderLine,
}

impl Serialize for Line<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let l = self.line;
        let mut m = ser.serialize_map(Some(7))?;
        m.serialize_entry("lineItemNumber", &l.line_item_number)?;
        m.serialize_entry("offerId", &l.offer_id)?;
        m.serialize_entry("subscriptionId", &l.subscription_id)?;
        m.serialize_entry("friendlyName", &l.friendly_name)?;
        m.serialize_entry("quantity", &l.quantity)?;
        m.serialize_entry("partnerIdOnRecord", &Some(&l.partner_id_on_record).filter(|p| !p.is_empty()))?;
        let subscription = format!("/customers/{}/subscriptions/{}", self.order.customer, l.subscription_id);
        m.serialize_entry("links", &Named("subscription", &subscription))?;
        m.end()
    }
}

/// `{name: link}`: an object of one link.
struct Named<'a>(&'a str, &'a str);

impl Serialize for Named<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(1))?;
        m.serialize_entry(self.0, &Link(self.1))?;
        m.end()
    }
}
