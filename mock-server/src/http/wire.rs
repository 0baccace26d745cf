//! Partner Center's JSON shapes (camelCase out), rendered from model values. Field names,
//! enum strings and `attributes.objectType` follow `shared/docs/partner-center-api.md`.
//! Link URIs are relative and omit `/v1`, as the real service's do.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::model::{Customer, Offer};

/// A date as Partner Center writes it (RFC 3339 in UTC to the millisecond: `…T09:00:00.000Z`).
/// Written digit by digit: every subscription answer carries three, and chrono's general
/// formatter cost more than the rest of the subscription's shape.
pub fn date(t: DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let (year, millis) = (t.year(), t.timestamp_subsec_millis());
    // Outside four-digit years (signed, wider) and in a leap second: chrono's rules.
    let (Ok(year), true) = (u32::try_from(year), millis < 1000) else {
        return t.to_rfc3339_opts(SecondsFormat::Millis, true);
    };
    if year > 9999 {
        return t.to_rfc3339_opts(SecondsFormat::Millis, true);
    }
    let mut out = String::with_capacity(24);
    let mut digits = |n: u32, width: u32, then: char| {
        for i in (0..width).rev() {
            out.push(char::from(b'0' + u8::try_from(n / 10u32.pow(i) % 10).unwrap_or(0)));
        }
        out.push(then);
    };
    digits(year, 4, '-');
    digits(t.month(), 2, '-');
    digits(t.day(), 2, 'T');
    digits(t.hour(), 2, ':');
    digits(t.minute(), 2, ':');
    digits(t.second(), 2, '.');
    digits(millis, 3, 'Z');
    out
}

/// A JSON answer rendered into one buffer of about its size (`capacity`): axum's `Json`
/// starts at 128 bytes and doubles, four copies on the way to a subscription's 1.2 KiB.
pub fn json_answer(value: &impl serde::Serialize, capacity: usize) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut body = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => super::error::PcError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            800_003,
            format!("The answer could not be rendered: {e}"),
        )
        .into_response(),
    }
}

/// An object from fields, moving every value in (serde_json's `json!` would copy nested
/// values, which dominates the cost of large collections).
pub fn obj<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<String, Value>>())
}

fn s(v: impl ToString) -> Value {
    Value::String(v.to_string())
}

pub fn link(uri: String) -> Value {
    obj([("uri", Value::String(uri)), ("method", s("GET")), ("headers", Value::Array(Vec::new()))])
}

fn attributes(object_type: &str) -> Value {
    obj([("objectType", s(object_type))])
}

/// A plain (non-seek) collection.
pub fn collection(items: Vec<Value>, self_uri: String) -> Value {
    obj([
        ("totalCount", items.len().into()),
        ("items", Value::Array(items)),
        ("links", obj([("self", link(self_uri))])),
        ("attributes", attributes("Collection")),
    ])
}

/// A seek-based page: `continuationToken` and a `links.next` carrying it as a header.
pub fn seek_page(items: Vec<Value>, self_uri: String, next: Option<(String, String)>) -> Value {
    let mut body = collection(items, self_uri);
    if let Some((next_uri, token)) = next {
        body["links"]["next"] = obj([
            ("uri", Value::String(next_uri)),
            ("method", s("GET")),
            ("headers", Value::Array(vec![obj([("key", s("MS-ContinuationToken")), ("value", s(&token))])])),
        ]);
        body["continuationToken"] = Value::String(token);
    }
    body
}

/// A scenario carries a customer's country only: the rest of an address is null.
fn address(c: &Customer) -> Value {
    obj([
        ("country", s(&c.country)),
        ("region", Value::Null),
        ("city", Value::Null),
        ("addressLine1", Value::Null),
        ("postalCode", Value::Null),
        ("firstName", Value::Null),
        ("lastName", Value::Null),
        ("phoneNumber", Value::Null),
    ])
}

/// An opaque, stable ETag for a resource that never changes in the mock (orders, profiles).
pub(super) fn fixed_etag(id: uuid::Uuid) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("W/\"{h:016x}\"")
}

fn company_profile(c: &Customer) -> Value {
    obj([
        ("tenantId", s(c.id)),
        ("domain", s(&c.domain)),
        ("companyName", s(&c.company_name)),
        ("address", address(c)),
        ("email", s(format!("admin@{}", c.domain))),
        ("links", obj([("self", link(format!("/customers/{}/profiles/company", c.id)))])),
        ("attributes", attributes("CustomerCompanyProfile")),
    ])
}

fn relationship(c: &Customer, partner: uuid::Uuid) -> &'static str {
    if c.is_customer_of(partner) { "reseller" } else { "none" }
}

/// A customer as a list item (only these fields appear in lists).
pub fn customer_item(c: &Customer, partner: uuid::Uuid) -> Value {
    obj([
        ("id", s(c.id)),
        ("companyProfile", company_profile(c)),
        ("relationshipToPartner", s(relationship(c, partner))),
        ("links", obj([("self", link(format!("/customers/{}", c.id)))])),
        ("attributes", attributes("Customer")),
    ])
}

pub fn customer(c: &Customer, partner: uuid::Uuid) -> Value {
    obj([
        ("id", s(c.id)),
        ("commerceId", s(c.commerce_id)),
        ("companyProfile", company_profile(c)),
        (
            "billingProfile",
            obj([
                ("id", s(c.commerce_id)),
                ("firstName", Value::Null),
                ("lastName", Value::Null),
                ("email", s(format!("billing@{}", c.domain))),
                ("companyName", s(&c.company_name)),
                ("culture", s("en-US")),
                ("language", s("en")),
                ("defaultAddress", address(c)),
                ("links", obj([("self", link(format!("/customers/{}/profiles/billing", c.id)))])),
                (
                    "attributes",
                    obj([
                        ("etag", Value::String(fixed_etag(c.commerce_id))),
                        ("objectType", s("CustomerBillingProfile")),
                    ]),
                ),
            ]),
        ),
        ("relationshipToPartner", s(relationship(c, partner))),
        ("allowDelegatedAccess", true.into()),
        ("customDomains", Value::Array(vec![s(&c.domain)])),
        ("links", obj([("self", link(format!("/customers/{}", c.id)))])),
        ("attributes", attributes("Customer")),
    ])
}

fn strings(items: &[String]) -> Value {
    Value::Array(items.iter().map(s).collect())
}

pub fn offer(o: &Offer, now: DateTime<Utc>, country: &str, locale: &str) -> Value {
    obj([
        ("id", s(&o.id)),
        ("name", s(&o.name)),
        ("description", s(&o.description)),
        ("minimumQuantity", o.minimum_quantity.into()),
        ("maximumQuantity", o.maximum_quantity.into()),
        ("rank", 0.into()),
        ("uri", s(format!("/offers/{}", o.id))),
        ("locale", s(locale)),
        ("country", s(country)),
        (
            "category",
            obj([
                ("id", s(o.category.to_ascii_lowercase().replace(' ', "-"))),
                ("name", s(&o.category)),
                ("rank", 0.into()),
                ("locale", s(locale)),
                ("country", s(country)),
                ("attributes", attributes("OfferCategory")),
            ]),
        ),
        ("limitUnitOfMeasure", s("None")),
        ("limit", 0.into()),
        ("prerequisiteOffers", strings(&o.prerequisite_offers)),
        ("isAddOn", o.is_add_on.into()),
        ("hasAddOns", false.into()),
        ("isAvailableForPurchase", o.is_available_for_purchase(now).into()),
        ("billing", s("license")),
        ("supportedBillingCycles", Value::Array(vec![s("monthly"), s("annual")])),
        ("isAutoRenewable", o.is_auto_renewable(now).into()),
        ("upgradeTargetOffers", strings(&o.upgrade_target_offers)),
        ("conversionTargetOffers", Value::Array(Vec::new())),
        ("isTrial", false.into()),
        ("product", obj([("id", s(&o.key)), ("name", s(&o.name)), ("unit", s("Licenses"))])),
        ("unitType", s("Licenses")),
        ("salesGroupId", s(&o.family)),
        (
            "links",
            obj([
                ("learnMore", link(format!("https://docs.microsoft.com/partner-center/offers/{}", o.key))),
                ("self", link(format!("/offers/{}?country={country}", o.id))),
            ]),
        ),
        ("attributes", attributes("Offer")),
    ])
}
