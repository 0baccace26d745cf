//! Roll a customer back inside the de-provisioning window: reactivate the old subscriptions
//! the migration suspended, then swap every moved user back in one call each. Everything is
//! checked before anything changes; after de-provisioning it is refused. A migration to new
//! commerce cannot be undone (there is no way back to legacy): it is left, and counted.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::apply::step_request_id;
use crate::client::{ClientError, PartnerCenter, SubscriptionStatus};
use crate::journal::{Journal, JournalError, StepState};
use crate::plan::Step;

#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the journal holds no migration: nothing to roll back")]
    NoMigration,
    #[error("customer {0} is not in this migration's plan")]
    UnknownCustomer(String),
    #[error(
        "cannot roll back {customer}: {offer} subscription {subscription} has been de-provisioned (status deleted); its seats are gone. Nothing was changed"
    )]
    Deprovisioned { customer: String, offer: String, subscription: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackOutcome {
    pub customer_id: String,
    pub reactivated: usize,
    pub users_swapped_back: usize,
    /// Successor subscriptions bought by the migration stay active: cancel them by hand if
    /// the customer will not move again.
    pub purchases_left_active: usize,
    /// Migrations to new commerce done by the plan: not undone (new commerce has no way back).
    pub migrations_not_undone: usize,
}

pub async fn rollback<P: PartnerCenter>(
    pc: &P,
    journal: &Journal,
    customer: &str,
) -> Result<RollbackOutcome, RollbackError> {
    let plan = journal.plan()?.ok_or(RollbackError::NoMigration)?;
    let c = plan
        .customers
        .iter()
        .find(|c| c.customer_id.eq_ignore_ascii_case(customer))
        .ok_or_else(|| RollbackError::UnknownCustomer(customer.to_string()))?;
    let cid = c.customer_id.as_str();
    let mut done = Vec::new();
    for (i, step) in c.steps.iter().enumerate() {
        if journal.step(cid, i)?.is_some_and(|r| r.state != StepState::Failed) {
            done.push((i, step));
        }
    }
    // Check first: every suspended subscription must still be reactivatable.
    let mut to_reactivate = Vec::new();
    for (i, step) in &done {
        if let Step::Suspend { subscription_id, offer_name } = step {
            let current = pc.subscription(cid, subscription_id).await?;
            match current.subscription.status {
                SubscriptionStatus::Deleted => {
                    return Err(RollbackError::Deprovisioned {
                        customer: c.name.clone(),
                        offer: offer_name.clone(),
                        subscription: subscription_id.clone(),
                    });
                }
                SubscriptionStatus::Suspended => to_reactivate.push((*i, current)),
                _ => {}
            }
        }
    }
    for (i, current) in &to_reactivate {
        pc.set_subscription_status(
            cid,
            current,
            &SubscriptionStatus::Active,
            &step_request_id(&plan.id, cid, *i, "rollback"),
        )
        .await?;
    }
    let skus: BTreeMap<String, String> = pc
        .subscribed_skus(cid)
        .await?
        .into_iter()
        .map(|s| (s.product_sku.name.to_lowercase(), s.product_sku.id))
        .collect();
    let mut swapped = 0;
    for (i, step) in &done {
        let Step::Swap { user_id, assign, remove, .. } = step else {
            continue;
        };
        let held: Vec<String> = pc.user_licenses(cid, user_id).await?.into_iter().map(|l| l.product_sku.id).collect();
        let give_back: Vec<String> = remove.iter().filter(|r| !held.contains(r)).cloned().collect();
        let take: Vec<String> =
            assign.iter().filter_map(|n| skus.get(&n.to_lowercase()).cloned()).filter(|id| held.contains(id)).collect();
        if give_back.is_empty() && take.is_empty() {
            continue;
        }
        pc.update_licenses(cid, user_id, &give_back, &take, &step_request_id(&plan.id, cid, *i, "rollback")).await?;
        swapped += 1;
    }
    let purchases = done.iter().filter(|(_, s)| matches!(s, Step::Buy { .. })).count();
    let migrations = done
        .iter()
        .filter(|(_, s)| matches!(s, Step::Migrate { .. } | Step::Upgrade { .. } | Step::Transition { .. }))
        .count();
    Ok(RollbackOutcome {
        customer_id: cid.to_string(),
        reactivated: to_reactivate.len(),
        users_swapped_back: swapped,
        purchases_left_active: purchases,
        migrations_not_undone: migrations,
    })
}
