//! The scenario document (what `POST /admin/scenario` and `skuswap serve --scenario` take) and
//! how a world is built from it. The document describes the world as it is at `start`: which
//! partners exist, which customers they have, which subscriptions (and through which channel)
//! each customer holds, and which users hold which licenses.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Months, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{
    Actor, Cause, Channel, Customer, EventKind, ModelError, Offer, Order, OrderLine, Partner, Result, Settings,
    Subject, Subscription, SubscriptionStatus, User, UserState, World, nce::requested_term, tenants::PendingAcceptance,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The virtual time the world starts at.
    pub start: DateTime<Utc>,
    /// Seed for generated ids; `--seed` overrides it.
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub settings: Settings,
    /// Offers added to (or replacing, by id) the built-in catalog.
    #[serde(default)]
    pub offers: Vec<Offer>,
    pub partners: Vec<ScenarioPartner>,
    #[serde(default)]
    pub customers: Vec<ScenarioCustomer>,
    /// A fault plan in force from the start (see README, "Faults").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<super::faults::FaultPlan>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioPartner {
    #[serde(default)]
    pub id: Option<Uuid>,
    pub name: String,
    pub mpn_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ScenarioRelationship {
    /// Already the partner's customer.
    #[default]
    Reseller,
    /// Not (yet) the partner's customer: must be invited and accept first.
    Prospect,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioCustomer {
    #[serde(default)]
    pub id: Option<Uuid>,
    pub company_name: String,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default = "default_country")]
    pub country: String,
    #[serde(default)]
    pub relationship: ScenarioRelationship,
    /// Whose customer (or prospect) this is; default: the first partner.
    #[serde(default)]
    pub partner: Option<Uuid>,
    /// For prospects: accept the partner's invitation this many days after `start`.
    #[serde(default)]
    pub accepts_after_days: Option<i64>,
    #[serde(default)]
    pub subscriptions: Vec<ScenarioSubscription>,
    #[serde(default)]
    pub users: Vec<ScenarioUser>,
}

fn default_country() -> String {
    "US".to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ScenarioChannel {
    #[default]
    Csp,
    Open,
    Direct,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioSubscription {
    #[serde(default)]
    pub id: Option<Uuid>,
    /// Offer id or catalog key (`ax-enterprise`).
    pub offer: String,
    pub quantity: u32,
    #[serde(default)]
    pub channel: ScenarioChannel,
    /// For `csp`: the selling partner; default: the customer's partner.
    #[serde(default)]
    pub sold_by: Option<Uuid>,
    #[serde(default)]
    pub start_date: Option<DateTime<Utc>>,
    pub commitment_end_date: DateTime<Utc>,
    /// Default: whether the offer may still renew at `start`.
    #[serde(default)]
    pub auto_renew_enabled: Option<bool>,
    #[serde(default)]
    pub status: Option<SubscriptionStatus>,
    #[serde(default)]
    pub friendly_name: Option<String>,
    #[serde(default)]
    pub is_trial: bool,
    /// For add-ons: the id of the base subscription in the same customer.
    #[serde(default)]
    pub parent: Option<Uuid>,
    /// A promotion applied to it (promotions block an NCE migration, code 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_id: Option<String>,
    /// For an NCE item: `termDuration` and `billingCycle` (default: the item's first term).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_cycle: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioUser {
    #[serde(default)]
    pub id: Option<Uuid>,
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub usage_location: Option<String>,
    /// Offer ids or catalog keys; the user holds each offer's SKU.
    #[serde(default)]
    pub licenses: Vec<String>,
}

fn invalid(msg: impl Into<String>) -> ModelError {
    ModelError::InvalidScenario(msg.into())
}

fn slug(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase()
}

impl World {
    /// Build a world from a scenario. Every reference is checked first; a bad document gives
    /// an error naming the customer and field, never a half-built world.
    pub fn from_scenario(scenario: &Scenario, seed: Option<u64>) -> Result<World> {
        let seed = seed.or(scenario.seed).unwrap_or(0);
        let mut w = World::empty(scenario.start, seed);
        w.scenario = scenario.name.clone();
        w.settings = scenario.settings.clone();
        w.settings.validate().map_err(|e| invalid(format!("settings: {e}")))?;
        if let Some(plan) = &scenario.faults {
            w.set_fault_plan(Some(plan.clone())).map_err(|e| invalid(format!("faults: {e}")))?;
        }
        let catalog = std::sync::Arc::make_mut(&mut w.catalog);
        for o in &scenario.offers {
            catalog.insert(o.clone());
        }
        if scenario.partners.is_empty() {
            return Err(invalid("partners: at least one partner is needed"));
        }
        let batch = w.open_batch(Cause::Scenario { name: scenario.name.clone() }, Actor::Admin);
        w.log(&batch, Subject::default(), EventKind::ScenarioLoaded { name: scenario.name.clone(), seed });
        let mut seen = BTreeSet::new();
        for p in &scenario.partners {
            let id = p.id.unwrap_or_else(|| w.ids.next_uuid());
            if !seen.insert(id) {
                return Err(invalid(format!("partners: duplicate id {id}")));
            }
            w.add_partner(&batch, Partner { id, name: p.name.clone(), mpn_id: p.mpn_id.clone() });
        }
        let first_partner = w.default_partner()?;
        for (ci, sc) in scenario.customers.iter().enumerate() {
            let at = |field: &str| format!("customers[{ci}] ({}): {field}", sc.company_name);
            let partner = sc.partner.unwrap_or(first_partner);
            if w.partner(partner).is_none() {
                return Err(invalid(at(&format!("partner {partner} is not in partners"))));
            }
            let id = sc.id.unwrap_or_else(|| w.ids.next_uuid());
            if !seen.insert(id) {
                return Err(invalid(at(&format!("duplicate id {id}"))));
            }
            let accepts = match (sc.relationship, sc.accepts_after_days) {
                (ScenarioRelationship::Prospect, Some(d)) if d >= 0 => {
                    Some(PendingAcceptance { partner, at: scenario.start + Duration::days(d) })
                }
                (_, Some(_)) => {
                    return Err(invalid(at("acceptsAfterDays needs relationship \"prospect\" and days >= 0")));
                }
                _ => None,
            };
            let customer = Customer {
                id,
                commerce_id: w.ids.next_uuid(),
                company_name: sc.company_name.clone(),
                domain: sc.domain.clone().unwrap_or_else(|| format!("{}.onmicrosoft.com", slug(&sc.company_name))),
                country: sc.country.clone(),
                resellers: match sc.relationship {
                    ScenarioRelationship::Reseller => vec![partner],
                    ScenarioRelationship::Prospect => Vec::new(),
                },
                accepts,
                subscriptions: Default::default(),
                orders: Default::default(),
                users: Default::default(),
                user_order: imbl::Vector::new(),
                consumed: Default::default(),
                by_sku: Default::default(),
                journal: Default::default(),
            };
            let domain = customer.domain.clone();
            w.insert_customer(&batch, customer);

            for (si, ss) in sc.subscriptions.iter().enumerate() {
                let at = |field: &str| at(&format!("subscriptions[{si}].{field}"));
                let offer = w
                    .catalog
                    .resolve(&ss.offer)
                    .cloned()
                    .ok_or_else(|| invalid(at(&format!("offer: unknown offer {:?}", ss.offer))))?;
                let sid = ss.id.unwrap_or_else(|| w.ids.next_uuid());
                if !seen.insert(sid) {
                    return Err(invalid(at(&format!("id: duplicate id {sid}"))));
                }
                if ss.quantity == 0 {
                    return Err(invalid(at("quantity: must be at least 1")));
                }
                let status = ss.status.unwrap_or(SubscriptionStatus::Active);
                if status == SubscriptionStatus::Active && ss.commitment_end_date <= scenario.start {
                    return Err(invalid(at(
                        "commitmentEndDate: an active subscription must end after `start` (give status \"expired\" for one that already ended)",
                    )));
                }
                let channel = match ss.channel {
                    ScenarioChannel::Csp => {
                        let seller = ss.sold_by.unwrap_or(partner);
                        if w.partner(seller).is_none() {
                            return Err(invalid(at(&format!("soldBy: partner {seller} is not in partners"))));
                        }
                        Channel::Csp(seller)
                    }
                    ScenarioChannel::Open => Channel::Open,
                    ScenarioChannel::Direct => Channel::Direct,
                };
                if let Some(parent) = ss.parent {
                    let ok = w.customers.get(&id).is_some_and(|c| c.subscriptions.contains_key(&parent));
                    if !ok {
                        return Err(invalid(at(&format!(
                            "parent: {parent} is not an earlier subscription of this customer"
                        ))));
                    }
                }
                let start_date = ss.start_date.unwrap_or_else(|| {
                    ss.commitment_end_date
                        .checked_sub_months(Months::new(w.settings.term_months))
                        .unwrap_or(ss.commitment_end_date)
                });
                let sub = Subscription {
                    id: sid,
                    customer: id,
                    offer_id: offer.subscription_offer_id(),
                    sku_id: offer.sku_id,
                    offer_name: offer.name.clone(),
                    friendly_name: ss.friendly_name.clone().unwrap_or_else(|| offer.name.clone()),
                    quantity: ss.quantity,
                    status,
                    auto_renew_enabled: ss.auto_renew_enabled.unwrap_or_else(|| offer.can_renew(scenario.start)),
                    channel,
                    creation_date: start_date,
                    effective_start_date: start_date,
                    commitment_end_date: ss.commitment_end_date,
                    inactive_since: (status != SubscriptionStatus::Active).then_some(scenario.start),
                    parent_subscription_id: ss.parent,
                    order_id: None,
                    partner_id_on_record: String::new(),
                    is_trial: ss.is_trial,
                    revision: 1,
                    nce: None,
                    migration: None,
                    promotion_id: ss.promotion_id.clone(),
                };
                let sub = match &offer.nce {
                    None if ss.term_duration.is_some() || ss.billing_cycle.is_some() => {
                        return Err(invalid(at("termDuration: only new-commerce items have terms")));
                    }
                    None => sub,
                    Some(_) => {
                        let term = requested_term(&offer, ss.term_duration.as_deref(), ss.billing_cycle.as_deref())
                            .map_err(|e| invalid(at(&format!("termDuration: {e}"))))?;
                        let end = sub.commitment_end_date;
                        Subscription {
                            commitment_end_date: end,
                            ..sub.with_nce_terms(Some(term), start_date, w.settings.nce_cancellation_days)
                        }
                    }
                };
                let order = seeded_order(&sub);
                let sub = Subscription { order_id: order.as_ref().map(|o| o.id), ..sub };
                w.insert_subscription(&batch, sub, &offer.family);
                if let (Some(order), Some(c)) = (order, w.tenant_mut(id)) {
                    c.put_order(std::sync::Arc::new(order));
                }
            }

            for (ui, su) in sc.users.iter().enumerate() {
                let at = |field: &str| at(&format!("users[{ui}].{field}"));
                let uid = su.id.unwrap_or_else(|| w.ids.next_uuid());
                if !seen.insert(uid) {
                    return Err(invalid(at(&format!("id: duplicate id {uid}"))));
                }
                let mut licenses = Vec::new();
                for l in &su.licenses {
                    let offer =
                        w.catalog.resolve(l).ok_or_else(|| invalid(at(&format!("licenses: unknown offer {l:?}"))))?;
                    let held = w
                        .customers
                        .get(&id)
                        .is_some_and(|c| c.subscriptions.values().any(|s| s.sku_id == offer.sku_id));
                    if !held {
                        return Err(invalid(at(&format!(
                            "licenses: the customer has no subscription of {l:?} to take this seat from"
                        ))));
                    }
                    if !licenses.contains(&offer.sku_id) {
                        licenses.push(offer.sku_id);
                    }
                }
                let upn = su
                    .user_principal_name
                    .clone()
                    .unwrap_or_else(|| format!("{}.{}@{domain}", slug(&su.first_name), slug(&su.last_name)));
                let user = User {
                    id: uid,
                    user_principal_name: upn,
                    first_name: su.first_name.clone(),
                    last_name: su.last_name.clone(),
                    usage_location: su.usage_location.clone().unwrap_or_else(|| sc.country.clone()),
                    state: UserState::Active,
                    licenses,
                    deleted_at: None,
                    released: Vec::new(),
                };
                w.insert_user(&batch, id, user)?;
            }
        }
        Ok(w)
    }
}

/// The order a scenario's CSP subscription was bought with (one each, as legacy ones were
/// bought over the years), its id derived from the subscription's so that seeding draws no id
/// and every other id of the scenario stays what it was.
fn seeded_order(sub: &Subscription) -> Option<Order> {
    let Channel::Csp(seller) = sub.channel else { return None };
    let mut x = sub.id.as_u128() ^ 0x0dde_5eed_0dde_5eed_0dde_5eed_0dde_5eed;
    let mut mix = |shift: u32| {
        x = (x ^ (x >> shift)).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
    };
    mix(67);
    mix(59);
    let id = uuid::Builder::from_random_bytes(x.to_le_bytes()).into_uuid();
    let line = OrderLine {
        line_item_number: 0,
        offer_id: sub.offer_id.clone(),
        quantity: sub.quantity,
        friendly_name: sub.friendly_name.clone(),
        subscription_id: sub.id,
        partner_id_on_record: sub.partner_id_on_record.clone(),
    };
    Some(Order {
        id,
        customer: sub.customer,
        partner: seller,
        creation_date: sub.creation_date,
        line_items: vec![line],
    })
}
