//! Verify: re-read the server and prove the end state a plan promised: every moved user holds
//! the successor and not the retired SKU, every old subscription this partner sold is
//! suspended (or de-provisioned), every subscription planned for new commerce has a completed
//! migration, and no successor pool has more holders than active seats.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::client::{ClientError, PartnerCenter};
use crate::plan::{Plan, Step};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub customer_id: String,
    pub customer: String,
    pub problem: String,
}

pub async fn verify<P: PartnerCenter>(pc: &P, plan: &Plan) -> Result<Vec<Finding>, ClientError> {
    let mut findings = Vec::new();
    for c in plan.customers.iter().filter(|c| !c.steps.is_empty()) {
        let mut say = |problem: String| {
            findings.push(Finding { customer_id: c.customer_id.clone(), customer: c.name.clone(), problem })
        };
        let skus = pc.subscribed_skus(&c.customer_id).await?;
        let by_name: BTreeMap<String, &crate::client::SubscribedSku> =
            skus.iter().map(|s| (s.product_sku.name.to_lowercase(), s)).collect();
        let mut successors = BTreeSet::new();
        for step in &c.steps {
            match step {
                Step::Swap { user_id, user_principal_name, assign, remove } => {
                    let held: Vec<String> = pc
                        .user_licenses(&c.customer_id, user_id)
                        .await?
                        .into_iter()
                        .map(|l| l.product_sku.id)
                        .collect();
                    for name in assign {
                        successors.insert(name.to_lowercase());
                        let ok = by_name.get(&name.to_lowercase()).is_some_and(|s| held.contains(&s.product_sku.id));
                        if !ok {
                            say(format!("{user_principal_name} does not hold {name}"));
                        }
                    }
                    for id in remove.iter().filter(|r| held.contains(r)) {
                        say(format!("{user_principal_name} still holds retired SKU {id}"));
                    }
                }
                Step::Suspend { subscription_id, offer_name } => {
                    let s = pc.subscription(&c.customer_id, subscription_id).await?.subscription;
                    if !s.status.is_inactive() {
                        say(format!("{offer_name} subscription {subscription_id} is {}, not suspended", s.status));
                    }
                }
                Step::Migrate { subscription_id, offer_name, .. } => {
                    let all = pc.migrations_of(subscription_id).await?;
                    if !all.iter().any(|m| m.is_completed()) {
                        say(format!(
                            "{offer_name} subscription {subscription_id} has no completed migration to new commerce"
                        ));
                    }
                }
                Step::Upgrade { subscription_id, offer_name, target_name, .. } => {
                    let s = pc.subscription(&c.customer_id, subscription_id).await?.subscription;
                    if !s.status.is_inactive() {
                        say(format!(
                            "{offer_name} subscription {subscription_id} is {}: not upgraded to {target_name}",
                            s.status
                        ));
                    }
                }
                Step::Transition { subscription_id, offer_name, to_catalog_item_id, to_name, .. } => {
                    let s = pc.subscription(&c.customer_id, subscription_id).await?.subscription;
                    if !s.offer_id.eq_ignore_ascii_case(to_catalog_item_id) {
                        say(format!("{offer_name} subscription {subscription_id} was not transitioned to {to_name}"));
                    }
                }
                Step::Buy { .. } => {}
            }
        }
        for name in successors {
            if let Some(s) = by_name.get(&name).filter(|s| s.consumed_units > s.active_units) {
                say(format!(
                    "{}: {} users hold it but only {} seats are active",
                    s.product_sku.name, s.consumed_units, s.active_units
                ));
            }
        }
    }
    Ok(findings)
}
