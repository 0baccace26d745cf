//! The offer catalog: which offers exist, which are retired, which replace which, and how
//! offers group into product families (the unit the licensing invariant is judged in).
//!
//! Built in: the retired Dynamics AX and Dynamics CRM Online offers with every Dynamics 365
//! successor from the source article's mapping tables, and Office 365 E4 (retired) with E3.
//! Offer and SKU ids are name-based GUIDs, stable across seeds. A scenario may add or replace
//! offers (the catalog is data).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ids::named;

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
    pub family: String,
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
    /// From this instant the offer can no longer be bought.
    #[serde(default)]
    pub retired_on: Option<DateTime<Utc>>,
    /// From this instant subscriptions to this offer no longer renew (autoRenew is ignored).
    #[serde(default)]
    pub renewals_end_on: Option<DateTime<Utc>>,
    pub category: String,
}

impl Offer {
    pub fn is_available_for_purchase(&self, now: DateTime<Utc>) -> bool {
        self.retired_on.is_none_or(|t| now < t)
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

    pub fn offer(&self, id: &str) -> Option<&Offer> {
        self.offers.get(&id.to_ascii_uppercase())
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
        ];
        // Microsoft's own example of a legacy upgrade path: Office 365 E1 to E3.
        let paths: &[(&str, &[&str])] = &[("o365-e1", &["o365-e3"])];
        let id_of = |key: &str| named(&format!("offer:{key}")).to_string().to_ascii_uppercase();
        Catalog::new(rows.iter().map(|&(key, name, family, part, min, max, add_on, pre, next, retired, category)| {
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
                family: family.to_string(),
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
                retired_on,
                renewals_end_on,
                category: category.to_string(),
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_successors_and_prerequisites_resolve() {
        let c = Catalog::builtin();
        assert_eq!(c.len(), 23);
        for o in c.offers() {
            for t in o.upgrade_target_offers.iter().chain(&o.prerequisite_offers) {
                let target = c.offer(t);
                assert!(target.is_some(), "{} names unknown offer {t}", o.key);
                assert_eq!(target.map(|t| t.family.as_str()), Some(o.family.as_str()));
            }
        }
        let ax = c.resolve("ax-enterprise").map(|o| o.upgrade_target_offers.len());
        assert_eq!(ax, Some(2));
    }
}
