//! Partner Center's JSON shapes (camelCase out), rendered from model values. Field names,
//! enum strings and `attributes.objectType` follow `shared/docs/partner-center-api.md`.
//! Link URIs are relative and omit `/v1`, as the real service's do.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::model::{Customer, Offer, Order, SubscribedSku, Subscription, SubscriptionStatus, User, UserState, World};

pub fn date(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn link(uri: String) -> Value {
    json!({ "uri": uri, "method": "GET", "headers": [] })
}

fn attributes(object_type: &str) -> Value {
    json!({ "objectType": object_type })
}

/// A plain (non-seek) collection.
pub fn collection(items: Vec<Value>, self_uri: String) -> Value {
    json!({
        "totalCount": items.len(),
        "items": items,
        "links": { "self": link(self_uri) },
        "attributes": attributes("Collection"),
    })
}

/// A seek-based page: `continuationToken` and a `links.next` carrying it as a header.
pub fn seek_page(items: Vec<Value>, self_uri: String, next: Option<(String, String)>) -> Value {
    let mut body = json!({
        "totalCount": items.len(),
        "items": items,
        "links": { "self": link(self_uri) },
        "attributes": attributes("Collection"),
    });
    if let Some((next_uri, token)) = next {
        body["links"]["next"] = json!({
            "uri": next_uri,
            "method": "GET",
            "headers": [{ "key": "MS-ContinuationToken", "value": token }],
        });
        body["continuationToken"] = Value::String(token);
    }
    body
}

fn company_profile(c: &Customer) -> Value {
    json!({
        "tenantId": c.id,
        "domain": c.domain,
        "companyName": c.company_name,
        "links": { "self": link(format!("/customers/{}/profiles/company", c.id)) },
        "attributes": attributes("CustomerCompanyProfile"),
    })
}

fn relationship(c: &Customer, partner: uuid::Uuid) -> &'static str {
    if c.is_customer_of(partner) { "reseller" } else { "none" }
}

/// A customer as a list item (only these fields appear in lists).
pub fn customer_item(c: &Customer, partner: uuid::Uuid) -> Value {
    json!({
        "id": c.id,
        "companyProfile": company_profile(c),
        "relationshipToPartner": relationship(c, partner),
        "links": { "self": link(format!("/customers/{}", c.id)) },
        "attributes": attributes("Customer"),
    })
}

pub fn customer(c: &Customer, partner: uuid::Uuid) -> Value {
    json!({
        "id": c.id,
        "commerceId": c.commerce_id,
        "companyProfile": company_profile(c),
        "billingProfile": {
            "id": c.commerce_id,
            "companyName": c.company_name,
            "culture": "en-US",
            "language": "en",
            "defaultAddress": { "country": c.country },
            "attributes": { "objectType": "CustomerBillingProfile" },
        },
        "relationshipToPartner": relationship(c, partner),
        "allowDelegatedAccess": true,
        "customDomains": [c.domain],
        "links": { "self": link(format!("/customers/{}", c.id)) },
        "attributes": attributes("Customer"),
    })
}

pub fn offer(o: &Offer, now: DateTime<Utc>, country: &str, locale: &str) -> Value {
    let has_add_ons = false;
    json!({
        "id": o.id,
        "name": o.name,
        "description": o.description,
        "minimumQuantity": o.minimum_quantity,
        "maximumQuantity": o.maximum_quantity,
        "rank": 0,
        "uri": format!("/offers/{}", o.id),
        "locale": locale,
        "country": country,
        "category": {
            "id": o.category.to_ascii_lowercase().replace(' ', "-"),
            "name": o.category,
            "rank": 0,
            "locale": locale,
            "country": country,
            "attributes": attributes("OfferCategory"),
        },
        "limitUnitOfMeasure": "None",
        "limit": 0,
        "prerequisiteOffers": o.prerequisite_offers,
        "isAddOn": o.is_add_on,
        "hasAddOns": has_add_ons,
        "isAvailableForPurchase": o.is_available_for_purchase(now),
        "billing": "license",
        "supportedBillingCycles": ["monthly", "annual"],
        "isAutoRenewable": o.is_auto_renewable(now),
        "upgradeTargetOffers": o.upgrade_target_offers,
        "conversionTargetOffers": [],
        "isTrial": false,
        "product": { "id": o.key, "name": o.name, "unit": "Licenses" },
        "unitType": "Licenses",
        "salesGroupId": o.family,
        "links": {
            "learnMore": link(format!("https://docs.microsoft.com/partner-center/offers/{}", o.key)),
            "self": link(format!("/offers/{}?country={country}", o.id)),
        },
        "attributes": attributes("Offer"),
    })
}

pub fn subscription(s: &Subscription) -> Value {
    let mut v = json!({
        "id": s.id,
        "entitlementId": s.id,
        "offerId": s.offer_id,
        "offerName": s.offer_name,
        "friendlyName": s.friendly_name,
        "quantity": s.quantity,
        "unitType": "Licenses",
        "hasPurchasableAddons": false,
        "creationDate": date(s.creation_date),
        "effectiveStartDate": date(s.effective_start_date),
        "commitmentEndDate": date(s.commitment_end_date),
        "status": s.status.as_str(),
        "autoRenewEnabled": s.auto_renew_enabled,
        "isTrial": s.is_trial,
        "billingType": "license",
        "billingCycle": "monthly",
        "termDuration": "P1Y",
        "isMicrosoftProduct": true,
        "partnerId": s.partner_id_on_record,
        "contractType": "subscription",
        "publisherName": "Microsoft Corporation",
        "suspensionReasons": if s.status == SubscriptionStatus::Suspended { json!(["PartnerInitiated"]) } else { json!([]) },
        "actions": if s.status == SubscriptionStatus::Active { json!(["edit", "cancel"]) } else { json!([]) },
        "links": {
            "offer": link(format!("/offers/{}?country=US", s.offer_id)),
            "self": link(format!("/customers/{}/subscriptions/{}", s.customer, s.id)),
        },
        "attributes": { "etag": s.etag(), "objectType": "Subscription" },
    });
    if let Some(p) = s.parent_subscription_id {
        v["parentSubscriptionId"] = json!(p);
        v["links"]["parentSubscription"] = link(format!("/customers/{}/subscriptions/{p}", s.customer));
    }
    if let Some(o) = s.order_id {
        v["orderId"] = json!(o);
    }
    v
}

pub fn order(o: &Order) -> Value {
    let lines: Vec<Value> = o
        .line_items
        .iter()
        .map(|l| {
            json!({
                "lineItemNumber": l.line_item_number,
                "offerId": l.offer_id,
                "subscriptionId": l.subscription_id,
                "friendlyName": l.friendly_name,
                "quantity": l.quantity,
                "partnerIdOnRecord": l.partner_id_on_record,
                "links": {
                    "subscription": link(format!("/customers/{}/subscriptions/{}", o.customer, l.subscription_id)),
                },
            })
        })
        .collect();
    json!({
        "id": o.id,
        "referenceCustomerId": o.customer,
        "billingCycle": "monthly",
        "lineItems": lines,
        "creationDate": date(o.creation_date),
        "status": "completed",
        "currencyCode": "USD",
        "currencySymbol": "$",
        "transactionType": "UserPurchase",
        "links": { "self": link(format!("/customers/{}/orders/{}", o.customer, o.id)) },
        "attributes": attributes("Order"),
    })
}

pub fn user(c: &Customer, u: &User) -> Value {
    let mut v = json!({
        "id": u.id,
        "userPrincipalName": u.user_principal_name,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "displayName": u.display_name(),
        "usageLocation": u.usage_location,
        "userDomainType": "none",
        "state": match u.state { UserState::Active => "active", UserState::Inactive => "inactive" },
        "links": { "self": link(format!("/customers/{}/users/{}", c.id, u.id)) },
        "attributes": attributes("CustomerUser"),
    });
    if u.state == UserState::Inactive {
        v["softDeletionTime"] = Value::Null;
    }
    v
}

fn product_sku(w: &World, sku: uuid::Uuid) -> Value {
    let offer = w.catalog.by_sku(sku);
    json!({
        "id": sku,
        "name": offer.map(|o| o.name.as_str()).unwrap_or(""),
        "skuPartNumber": offer.map(|o| o.sku_part_number.as_str()).unwrap_or(""),
        "targetType": "User",
        "licenseGroupId": "group1",
    })
}

fn service_plans(w: &World, sku: uuid::Uuid, status: &str) -> Value {
    let offer = w.catalog.by_sku(sku);
    let part = offer.map(|o| o.sku_part_number.as_str()).unwrap_or("");
    json!([{
        "displayName": offer.map(|o| o.name.as_str()).unwrap_or(""),
        "serviceName": part,
        "id": crate::model::ids::named(&format!("plan:{sku}")),
        "capabilityStatus": status,
        "targetType": "User",
    }])
}

pub fn license(w: &World, c: &Customer, sku: uuid::Uuid) -> Value {
    let status = if w.license_is_effective(c, sku) { "Enabled" } else { "Suspended" };
    json!({
        "servicePlans": service_plans(w, sku, status),
        "productSku": product_sku(w, sku),
        "attributes": attributes("License"),
    })
}

pub fn subscribed_sku(w: &World, s: &SubscribedSku) -> Value {
    json!({
        "availableUnits": s.available_units(),
        "activeUnits": s.active_units,
        "consumedUnits": s.consumed_units,
        "suspendedUnits": s.suspended_units,
        "totalUnits": s.total_units(),
        "warningUnits": s.warning_units,
        "productSku": product_sku(w, s.sku_id),
        "servicePlans": service_plans(w, s.sku_id, "Enabled"),
        "capabilityStatus": s.capability_status(),
        "attributes": attributes("SubscribedSku"),
    })
}
