//! The offer catalog: which offers exist, which are retired, which replace which, and how
//! offers group into product families (the unit the licensing invariant is judged in).
//!
//! Built in: the retired Dynamics AX and Dynamics CRM Online offers with every Dynamics 365
//! successor from the source article's mapping tables, Office 365 E4 (retired) with E3, and
//! the new-commerce items that legacy Office 365 and Dynamics 365 offers migrate to (an NCE
//! item licenses the same SKU as its legacy offer where Microsoft kept it, so the seats of a
//! migrated subscription serve the same assignments).
//! Offer and SKU ids are name-based GUIDs, stable across seeds. A scenario may add or replace
//! offers (the catalog is data).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ids::named;
use super::nce::{BillingCycle, NceItem, Term, TermDuration};

/// One purchasable (or formerly purchasable) legacy offer. Each offer provisions exactly one
/// SKU, whose id is what `licenseupdates` and `subscribedskus` speak of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    /// Short stable handle used by scenario files (`ax-enterprise`); not on the wire.
    pub key: String,
    /// Partner Center offer id (upper-case GUID, as legacy offers are).
    pub id: String,
    pub name: String,
    pub description: String,
    /// Licensing family: a retired SKU and its successors share one, so the invariant
    /// "a licensed user stays licensed" can be judged across a swap.
    pub family: std::sync::Arc<str>,
    pub sku_id: Uuid,
    pub sku_part_number: String,
    pub minimum_quantity: u32,
    pub maximum_quantity: u32,
    #[serde(default)]
    pub is_add_on: bool,
    /// For add-ons: offer ids of which the customer needs an active subscription.
    #[serde(default)]
    pub prerequisite_offers: Vec<String>,
    /// Offer ids that replace this one (successors in the article's mapping tables).
    #[serde(default)]
    pub upgrade_target_offers: Vec<String>,
    /// Offer ids the legacy upgrades API (`…/subscriptions/{id}/upgrades`) can move a
    /// subscription to; none for Dynamics AX and CRM Online (hence the manual procedure).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upgrade_paths: Vec<String>,
    /// For a new-commerce item: its product, SKU and availability ids and the terms it sells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nce: Option<super::nce::NceItem>,
    /// For a legacy offer: the NCE item (offer id) a migration to new commerce buys; none for
    /// Dynamics AX and CRM Online (code 5, "not yet available in New Commerce").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nce_successor: Option<String>,
    /// For an NCE item: the items an NCE transition may move a subscription to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transition_targets: Vec<String>,
    /// From this instant the offer can no longer be bought.
    #[serde(default)]
    pub retired_on: Option<DateTime<Utc>>,
    /// Before this instant it cannot be bought yet (new commerce opened in January 2022).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_from: Option<DateTime<Utc>>,
    /// From this instant subscriptions to this offer no longer renew (autoRenew is ignored).
    #[serde(default)]
    pub renewals_end_on: Option<DateTime<Utc>>,
    pub category: String,
}

impl Offer {
    /// What a subscription of this offer shows as `offerId`: the legacy offer id, or an NCE
    /// item's catalog item id (`product:sku:availability`).
    pub fn subscription_offer_id(&self) -> String {
        self.nce.as_ref().map_or_else(|| self.id.clone(), |n| n.catalog_item_id())
    }

    pub fn is_available_for_purchase(&self, now: DateTime<Utc>) -> bool {
        self.retired_on.is_none_or(|t| now < t) && self.available_from.is_none_or(|t| now >= t)
    }

    pub fn can_renew(&self, at: DateTime<Utc>) -> bool {
        self.renewals_end_on.is_none_or(|t| at < t) && self.retired_on.is_none_or(|t| at < t)
    }

    /// Does this offer's retirement mean it cannot be auto-renewed at all from `now` on?
    pub fn is_auto_renewable(&self, now: DateTime<Utc>) -> bool {
        self.can_renew(now)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Keyed by offer id, upper-case; lookups normalise case because legacy ids appear in
    /// both cases in Microsoft's own examples.
    offers: BTreeMap<String, Offer>,
}

impl Catalog {
    pub fn new(offers: impl IntoIterator<Item = Offer>) -> Self {
        let mut c = Catalog::default();
        for o in offers {
            c.insert(o);
        }
        c
    }

    pub fn insert(&mut self, offer: Offer) {
        self.offers.insert(offer.id.to_ascii_uppercase(), offer);
    }

    /// By offer id; an NCE catalog item id (`product:sku:availability`) finds its item when
    /// the availability is the item's.
    pub fn offer(&self, id: &str) -> Option<&Offer> {
        let upper = id.trim().to_ascii_uppercase();
        if let Some(o) = self.offers.get(&upper) {
            return Some(o);
        }
        let (item, availability) = upper.rsplit_once(':')?;
        self.offers
            .get(item)
            .filter(|o| o.nce.as_ref().is_some_and(|n| n.availability_id.eq_ignore_ascii_case(availability)))
    }

    /// By id or by scenario key.
    pub fn resolve(&self, id_or_key: &str) -> Option<&Offer> {
        self.offer(id_or_key).or_else(|| self.offers.values().find(|o| o.key == id_or_key))
    }

    pub fn by_sku(&self, sku: Uuid) -> Option<&Offer> {
        self.offers.values().find(|o| o.sku_id == sku)
    }

    pub fn offers(&self) -> impl Iterator<Item = &Offer> {
        self.offers.values()
    }

    /// The legacy offers: what `GET /offers` lists (NCE items are products, not offers).
    pub fn legacy_offers(&self) -> impl Iterator<Item = &Offer> {
        self.offers.values().filter(|o| o.nce.is_none())
    }

    pub fn len(&self) -> usize {
        self.offers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offers.is_empty()
    }

    /// The built-in catalog (see the module doc).
    pub fn builtin() -> Self {
        let ax_retired = Utc.with_ymd_and_hms(2016, 11, 1, 0, 0, 0).single();
        let legacy_renewals_end = Utc.with_ymd_and_hms(2017, 7, 1, 0, 0, 0).single();
        let e4_retired = Utc.with_ymd_and_hms(2017, 7, 1, 0, 0, 0).single();
        // key, name, family, sku part number, min, max, add-on, prerequisites, successors, retired, category
        type Row<'a> =
            (&'a str, &'a str, &'a str, &'a str, u32, u32, bool, &'a [&'a str], &'a [&'a str], bool, &'a str);
        #[rustfmt::skip]
        let rows: &[Row] = &[
            ("ax-enterprise", "Microsoft Dynamics AX Enterprise", "dynamics", "DYN_AX_ENTERPRISE", 20, 10000, false, &[], &["d365-unified-operations", "d365-plan"], true, "Dynamics AX"),
            ("ax-task", "Microsoft Dynamics AX Task", "dynamics", "DYN_AX_TASK", 1, 10000, false, &[], &["d365-activity"], true, "Dynamics AX"),
            ("ax-self-serve", "Microsoft Dynamics AX Self Serve", "dynamics", "DYN_AX_SELF_SERVE", 1, 10000, false, &[], &["d365-team-members"], true, "Dynamics AX"),
            ("ax-device", "Microsoft Dynamics AX Device", "dynamics", "DYN_AX_DEVICE", 1, 10000, false, &[], &["d365-operations-device"], true, "Dynamics AX"),
            ("crm-enterprise", "Microsoft Dynamics CRM Online Enterprise", "dynamics", "CRMENTERPRISE", 1, 10000, false, &[], &["d365-customer-engagement"], true, "Dynamics CRM Online"),
            ("crm-professional", "Microsoft Dynamics CRM Online Professional", "dynamics", "CRMSTANDARD", 1, 10000, false, &[], &["d365-customer-engagement", "d365-sales", "d365-customer-service"], true, "Dynamics CRM Online"),
            ("crm-basic", "Microsoft Dynamics CRM Online Basic", "dynamics", "CRMPLAN2", 1, 10000, false, &[], &["d365-team-members", "d365-sales", "d365-customer-service", "d365-customer-engagement"], true, "Dynamics CRM Online"),
            ("crm-essential", "Microsoft Dynamics CRM Online Essential", "dynamics", "CRMPLAN1", 1, 10000, false, &[], &["d365-team-members"], true, "Dynamics CRM Online"),
            ("crm-field-service", "Field Service Add-On for Microsoft Dynamics CRM Online", "dynamics", "CRM_FIELD_SERVICE_ADDON", 1, 10000, true, &["crm-professional", "crm-enterprise"], &["d365-customer-engagement", "d365-field-service"], true, "Dynamics CRM Online"),
            ("crm-project-service", "Project Service Automation Add-On for Microsoft Dynamics CRM Online", "dynamics", "CRM_PSA_ADDON", 1, 10000, true, &["crm-professional", "crm-enterprise"], &["d365-customer-engagement", "d365-project-service"], true, "Dynamics CRM Online"),
            ("d365-unified-operations", "Dynamics 365 for Unified Operations plan", "dynamics", "DYN365_ENTERPRISE_UNIFIED_OPERATIONS", 20, 10000, false, &[], &[], false, "Dynamics 365"),
            ("d365-plan", "Dynamics 365 Plan", "dynamics", "DYN365_ENTERPRISE_PLAN1", 1, 10000, false, &[], &[], false, "Dynamics 365"),
            ("d365-activity", "Dynamics 365 for Activity", "dynamics", "DYN365_ACTIVITY", 1, 10000, false, &[], &[], false, "Dynamics 365"),
            ("d365-team-members", "Dynamics 365 for Team Members", "dynamics", "DYN365_TEAM_MEMBERS", 1, 10000, false, &[], &[], false, "Dynamics 365"),
            ("d365-operations-device", "Dynamics 365 for Operations Device", "dynamics", "DYN365_OPERATIONS_DEVICE", 1, 10000, false, &[], &[], false, "Dynamics 365"),
            ("d365-customer-engagement", "Dynamics 365 Enterprise Customer Engagement plan", "dynamics", "DYN365_ENTERPRISE_CUSTOMER_ENGAGEMENT", 1, 10000, false, &[], &[], false, "Dynamics 365"),
            ("d365-sales", "Dynamics 365 for Sales", "dynamics", "DYN365_ENTERPRISE_SALES", 1, 10000, false, &[], &[], false, "Dynamics 365"),
            ("d365-customer-service", "Dynamics 365 for Customer Service", "dynamics", "DYN365_ENTERPRISE_CUSTOMER_SERVICE", 1, 10000, false, &[], &[], false, "Dynamics 365"),
            ("d365-field-service", "Dynamics 365 for Field Service", "dynamics", "DYN365_ENTERPRISE_FIELD_SERVICE", 1, 10000, false, &[], &[], false, "Dynamics 365"),
            ("d365-project-service", "Dynamics 365 for Project Service Automation", "dynamics", "DYN365_ENTERPRISE_PROJECT_SERVICE", 1, 10000, false, &[], &[], false, "Dynamics 365"),
            ("o365-e4", "Office 365 Enterprise E4", "office365", "ENTERPRISEWITHSCAL", 1, 10000, false, &[], &["o365-e3"], true, "Office 365"),
            ("o365-e3", "Office 365 Enterprise E3", "office365", "ENTERPRISEPACK", 1, 10000, false, &[], &[], false, "Office 365"),
            ("o365-e1", "Office 365 Enterprise E1", "office365", "STANDARDPACK", 1, 10000, false, &[], &[], false, "Office 365"),
            ("o365-audio-conferencing", "Audio Conferencing", "audio-conferencing", "MCOMEETADV", 1, 10000, true, &["o365-e1", "o365-e3", "o365-e4"], &[], false, "Office 365"),
        ];
        // Microsoft's own example of a legacy upgrade path: Office 365 E1 to E3.
        let paths: &[(&str, &[&str])] = &[("o365-e1", &["o365-e3"])];
        // Legacy offers and the new-commerce item a migration to NCE buys for them.
        let successors: &[(&str, &str)] = &[
            ("o365-e1", "nce-o365-e1"),
            ("o365-e3", "nce-o365-e3"),
            ("o365-e4", "nce-o365-e3"),
            ("o365-audio-conferencing", "nce-audio-conferencing"),
            ("d365-sales", "nce-d365-sales"),
            ("d365-customer-service", "nce-d365-customer-service"),
            ("d365-team-members", "nce-d365-team-members"),
            ("d365-field-service", "nce-d365-field-service"),
            ("d365-unified-operations", "nce-d365-unified-operations"),
        ];
        let id_of = |key: &str| match nce_rows().iter().find(|r| r.0 == key) {
            Some(r) => format!("{}:0001", r.4),
            None => named(&format!("offer:{key}")).to_string().to_ascii_uppercase(),
        };
        let legacy = rows.iter().map(|&(key, name, family, part, min, max, add_on, pre, next, retired, category)| {
            let (retired_on, renewals_end_on) = match (retired, family) {
                (false, _) => (None, None),
                (true, "office365") => (e4_retired, e4_retired),
                (true, _) => (ax_retired, legacy_renewals_end),
            };
            Offer {
                key: key.to_string(),
                id: id_of(key),
                name: name.to_string(),
                description: format!("{name} (per-user licence, annual commitment, billed monthly)."),
                family: family.into(),
                sku_id: named(&format!("sku:{key}")),
                sku_part_number: part.to_string(),
                minimum_quantity: min,
                maximum_quantity: max,
                is_add_on: add_on,
                prerequisite_offers: pre.iter().map(|k| id_of(k)).collect(),
                upgrade_target_offers: next.iter().map(|k| id_of(k)).collect(),
                upgrade_paths: paths
                    .iter()
                    .find(|(from, _)| *from == key)
                    .map(|(_, to)| to.iter().map(|k| id_of(k)).collect())
                    .unwrap_or_default(),
                nce: None,
                nce_successor: successors.iter().find(|(from, _)| *from == key).map(|(_, to)| id_of(to)),
                transition_targets: Vec::new(),
                available_from: None,
                retired_on,
                renewals_end_on,
                category: category.to_string(),
            }
        });
        let sku_parts: Vec<(&str, &str)> = rows.iter().map(|r| (r.0, r.3)).collect();
        let nce = nce_offers(&sku_parts, &id_of);
        Catalog::new(legacy.collect::<Vec<_>>().into_iter().chain(nce))
    }
}

/// The built-in NCE items, from [`nce_rows`]; `sku_parts` are the legacy `(key, SKU part
/// number)` pairs an item may license.
fn nce_offers(sku_parts: &[(&str, &str)], id_of: &dyn Fn(&str) -> String) -> Vec<Offer> {
    nce_rows()
        .iter()
        .map(|&(key, name, family, sku_of, product, availability, targets, category)| {
            let (sku_id, part) = match sku_parts.iter().find(|r| r.0 == sku_of) {
                Some(r) => (named(&format!("sku:{sku_of}")), r.1.to_string()),
                None => (named(&format!("sku:{key}")), sku_of.to_string()),
            };
            let monthly = |t| Term { term_duration: t, billing_cycle: BillingCycle::Monthly };
            let annual = |t| Term { term_duration: t, billing_cycle: BillingCycle::Annual };
            Offer {
                key: key.to_string(),
                id: format!("{product}:0001"),
                name: name.to_string(),
                description: format!("{name} (new commerce: monthly, annual or three-year term)."),
                family: family.into(),
                sku_id,
                sku_part_number: part,
                minimum_quantity: 1,
                maximum_quantity: 10_000,
                is_add_on: false,
                prerequisite_offers: Vec::new(),
                upgrade_target_offers: Vec::new(),
                upgrade_paths: Vec::new(),
                nce: Some(NceItem {
                    product_id: product.to_string(),
                    sku_code: "0001".to_string(),
                    availability_id: availability.to_string(),
                    terms: vec![
                        monthly(TermDuration::P1Y),
                        annual(TermDuration::P1Y),
                        monthly(TermDuration::P1M),
                        annual(TermDuration::P3Y),
                    ],
                }),
                nce_successor: None,
                transition_targets: targets.iter().map(|k| id_of(k)).collect(),
                // Seat-based new-commerce offers and migrations opened on 2022-01-10.
                available_from: Utc.with_ymd_and_hms(2022, 1, 10, 0, 0, 0).single(),
                retired_on: None,
                renewals_end_on: None,
                category: category.to_string(),
            }
        })
        .collect()
}

/// `(key, name, family, the legacy offer whose SKU it licenses or a new SKU part number,
/// product id, availability id, transition targets, category)`. Product ids of Office 365 E1
/// and E3 are Microsoft's; the others, and every availability id, only have Microsoft's shape.
type NceRow<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str, &'a str, &'a [&'a str], &'a str);

#[rustfmt::skip]
fn nce_rows() -> &'static [NceRow<'static>] {
    &[
        ("nce-o365-e1", "Office 365 E1", "office365", "o365-e1", "CFQ7TTC0LF8R", "CFQ7TTC0LF8S", &["nce-o365-e3"], "Office 365"),
        ("nce-o365-e3", "Office 365 E3", "office365", "o365-e3", "CFQ7TTC0LF8Q", "CFQ7TTC0LF8W", &["nce-m365-e3"], "Office 365"),
        ("nce-audio-conferencing", "Audio Conferencing", "audio-conferencing", "o365-audio-conferencing", "CFQ7TTC0LF8N", "CFQ7TTC0LF8P", &[], "Office 365"),
        ("nce-m365-e3", "Microsoft 365 E3", "office365", "SPE_E3", "CFQ7TTC0LFLX", "CFQ7TTC0LFM0", &[], "Microsoft 365"),
        ("nce-d365-sales", "Dynamics 365 Sales Enterprise", "dynamics", "d365-sales", "CFQ7TTC0LH2H", "CFQ7TTC0LH2J", &[], "Dynamics 365"),
        ("nce-d365-customer-service", "Dynamics 365 Customer Service Enterprise", "dynamics", "d365-customer-service", "CFQ7TTC0LH4R", "CFQ7TTC0LH4S", &[], "Dynamics 365"),
        ("nce-d365-team-members", "Dynamics 365 Team Members", "dynamics", "d365-team-members", "CFQ7TTC0LH1K", "CFQ7TTC0LH1L", &["nce-d365-sales"], "Dynamics 365"),
        ("nce-d365-field-service", "Dynamics 365 Field Service", "dynamics", "d365-field-service", "CFQ7TTC0LH3N", "CFQ7TTC0LH3P", &[], "Dynamics 365"),
        ("nce-d365-unified-operations", "Dynamics 365 Unified Operations Plan", "dynamics", "d365-unified-operations", "CFQ7TTC0LH5V", "CFQ7TTC0LH5W", &[], "Dynamics 365"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_successors_and_prerequisites_resolve() {
        let c = Catalog::builtin();
        assert_eq!(c.len(), 33);
        for o in c.offers() {
            let nce = o.nce_successor.iter().chain(&o.transition_targets);
            for t in o.upgrade_target_offers.iter().chain(nce) {
                let target = c.offer(t);
                assert!(target.is_some(), "{} names unknown offer {t}", o.key);
                assert_eq!(target.map(|t| &*t.family), Some(&*o.family), "{} -> {t}", o.key);
            }
            for p in &o.prerequisite_offers {
                assert!(c.offer(p).is_some(), "{} needs unknown offer {p}", o.key);
            }
        }
        let ax = c.resolve("ax-enterprise").map(|o| o.upgrade_target_offers.len());
        assert_eq!(ax, Some(2));
    }
}
