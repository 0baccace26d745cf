//! The new-commerce part of a customer's plan: which legacy subscriptions the server migrates
//! (bases, their add-ons in the bundle), which it would not and why, and how the plan table
//! lists them.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::{Blocked, Plan, Step};
use crate::client::SubscriptionStatus;
use crate::discover::CustomerState;
use crate::mapping::Mapping;

/// Under `nce-migration`, seats of the row's SKU bought through another channel are nobody's
/// to migrate: their users are left as they are, and the plan says so.
pub(super) fn other_channel_left(c: &CustomerState, sku: &crate::client::SubscribedSku) -> Option<Blocked> {
    let name = &sku.product_sku.name;
    let sold: i64 = c
        .subscriptions
        .iter()
        .filter(|s| s.offer_name.eq_ignore_ascii_case(name) && !matches!(s.status, SubscriptionStatus::Deleted))
        .map(|s| i64::from(s.quantity))
        .sum();
    let other = sku.active_units + sku.suspended_units + sku.warning_units - sold;
    (other > 0).then(|| Blocked {
        subscription_id: String::new(),
        offer_name: name.clone(),
        reason: format!(
            "{other} seat(s) bought through another channel: nce-migration does not move their users (manual or auto would)"
        ),
        fallback: None,
    })
}

/// The server-side part of a customer's plan.
pub(super) struct ServerPaths {
    pub steps: Vec<Step>,
    pub blocked: Vec<Blocked>,
    /// Subscriptions (bases and add-ons) migrated by the server.
    pub subscriptions: BTreeSet<String>,
    /// Offer names (lower case) whose subscriptions of this customer all migrate: the manual
    /// path leaves their SKUs alone.
    pub offers: BTreeSet<String>,
}

/// Per migrating row: eligible bases become `Migrate` steps (their add-ons with them); the
/// others are blocked, with the server's reasons, and under `auto` fall back to manual.
pub(super) fn plan_migrations(c: &CustomerState, mapping: &Mapping) -> ServerPaths {
    let mut out =
        ServerPaths { steps: Vec::new(), blocked: Vec::new(), subscriptions: BTreeSet::new(), offers: BTreeSet::new() };
    let mut partly: BTreeSet<String> = BTreeSet::new();
    for s in crate::discover::migration_candidates(&c.subscriptions, mapping) {
        let Some(row) = mapping.migration_row_for(&s.offer_id, &s.offer_name) else { continue };
        let e = c.eligibility.iter().find(|e| e.current_subscription_id.eq_ignore_ascii_case(&s.id));
        match e {
            Some(e) if e.is_eligible => {
                let add_ons: Vec<String> =
                    e.add_on_migrations.iter().map(|a| a.current_subscription_id.clone()).collect();
                out.subscriptions.insert(s.id.clone());
                out.subscriptions.extend(add_ons.iter().cloned());
                // Add-ons are left out by id only: the same add-on offer may sit under a base
                // that does not migrate.
                out.offers.insert(s.offer_name.to_lowercase());
                out.steps.push(Step::Migrate {
                    subscription_id: s.id.clone(),
                    offer_name: s.offer_name.clone(),
                    add_ons,
                    term_duration: row.term_duration.clone(),
                    billing_cycle: row.billing_cycle.clone(),
                    purchase_full_term: row.purchase_full_term,
                });
            }
            _ => {
                let fallback = (row.strategy == crate::mapping::Strategy::Auto && Mapping::manual_applies(row))
                    .then(|| "manual".to_string());
                partly.insert(s.offer_name.to_lowercase());
                out.blocked.push(Blocked {
                    subscription_id: s.id.clone(),
                    offer_name: s.offer_name.clone(),
                    reason: e.map_or_else(|| "not validated".to_string(), |e| e.reason()),
                    fallback,
                });
            }
        }
    }
    // Add-ons follow their base: one whose base does not migrate stays, unless its own row
    // can take the manual path (then that path takes it, with its base).
    for s in
        c.subscriptions.iter().filter(|s| s.status == SubscriptionStatus::Active && s.parent_subscription_id.is_some())
    {
        let Some(row) = mapping.migration_row_for(&s.offer_id, &s.offer_name) else { continue };
        if out.subscriptions.contains(&s.id) || Mapping::manual_applies(row) || !crate::discover::is_legacy(s) {
            continue;
        }
        partly.insert(s.offer_name.to_lowercase());
        out.blocked.push(Blocked {
            subscription_id: s.id.clone(),
            offer_name: s.offer_name.clone(),
            reason: "its base subscription does not migrate to new commerce, so neither does this add-on".into(),
            fallback: None,
        });
    }
    // An offer some of whose subscriptions go manually goes manually as a whole: the manual
    // path moves every holder of its SKU, so a migration beside it would buy the seats twice.
    let manual: BTreeSet<String> =
        out.blocked.iter().filter(|b| b.fallback.is_some()).map(|b| b.offer_name.to_lowercase()).collect();
    let dropped: Vec<String> = out
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Migrate { offer_name, subscription_id, .. } if manual.contains(&offer_name.to_lowercase()) => {
                Some(subscription_id.clone())
            }
            _ => None,
        })
        .collect();
    out.steps.retain(|s| !matches!(s, Step::Migrate { subscription_id, .. } if dropped.contains(subscription_id)));
    for id in &dropped {
        out.subscriptions.remove(id);
        if let Some(e) = c.eligibility.iter().find(|e| e.current_subscription_id.eq_ignore_ascii_case(id)) {
            for a in &e.add_on_migrations {
                out.subscriptions.remove(&a.current_subscription_id);
            }
        }
        if let Some(sub) = c.subscriptions.iter().find(|s| &s.id == id) {
            out.blocked.push(Blocked {
                subscription_id: id.clone(),
                offer_name: sub.offer_name.clone(),
                reason:
                    "eligible, but another subscription of the same offer goes the manual way, so this one does too"
                        .into(),
                fallback: Some("manual".into()),
            });
        }
    }
    // An offer some of whose subscriptions stay (or go manually) is not the server's alone.
    out.offers.retain(|o| !partly.contains(o));
    out
}

/// The synchronous server-side paths: a legacy upgrade or an NCE transition to the row's first
/// successor the server offers as eligible with license transfer; the others are blocked.
pub(super) fn plan_synchronous(c: &CustomerState, mapping: &Mapping, out: &mut ServerPaths) {
    use crate::client::{TRANSITION_WITH_LICENSES, UPGRADE_WITH_LICENSES};
    use crate::mapping::Strategy;
    wrong_kind(c, mapping, out);
    // The row's targets in order; none (a `*` row, or an empty list): the first eligible.
    let wanted = |s: &crate::client::Subscription, strategy| {
        let row = mapping.row_for(&s.offer_id, &s.offer_name).or_else(|| mapping.every_row(strategy));
        let names = row.map(|r| r.to.clone()).unwrap_or_default();
        if names.is_empty() { vec![String::new()] } else { names }
    };
    let named = |wanted: &str, name: &str, id: &str| {
        wanted.is_empty() || name.eq_ignore_ascii_case(wanted) || id.eq_ignore_ascii_case(wanted)
    };
    for s in crate::discover::path_candidates(&c.subscriptions, mapping, Strategy::Upgrade) {
        let options = c.upgrades.iter().find(|(id, _)| *id == s.id).map(|(_, o)| o.as_slice()).unwrap_or_default();
        let pick = wanted(s, Strategy::Upgrade).iter().find_map(|name| {
            options.iter().find(|u| {
                u.is_eligible
                    && u.upgrade_type == UPGRADE_WITH_LICENSES
                    && u.target_offer.as_ref().is_some_and(|t| named(name, &t.name, &t.id))
            })
        });
        match pick.and_then(|u| u.target_offer.clone().map(|t| (t, u.quantity))) {
            Some((t, quantity)) => {
                out.subscriptions.insert(s.id.clone());
                out.offers.insert(s.offer_name.to_lowercase());
                out.steps.push(Step::Upgrade {
                    subscription_id: s.id.clone(),
                    offer_name: s.offer_name.clone(),
                    target_offer_id: t.id,
                    target_name: t.name,
                    quantity: quantity.max(s.quantity),
                });
            }
            None => out
                .blocked
                .push(refused(s, options.iter().flat_map(|u| &u.upgrade_errors).map(|e| e.description.clone()))),
        }
    }
    for s in crate::discover::path_candidates(&c.subscriptions, mapping, Strategy::Transition) {
        let options = c.transitions.iter().find(|(id, _)| *id == s.id).map(|(_, o)| o.as_slice()).unwrap_or_default();
        let pick = wanted(s, Strategy::Transition).iter().find_map(|name| {
            options.iter().find(|o| {
                named(name, &o.title, &o.catalog_item_id)
                    && o.eligibilities.iter().any(|e| e.is_eligible && e.transition_type == TRANSITION_WITH_LICENSES)
            })
        });
        match pick {
            Some(o) => {
                out.subscriptions.insert(s.id.clone());
                out.offers.insert(s.offer_name.to_lowercase());
                out.steps.push(Step::Transition {
                    subscription_id: s.id.clone(),
                    offer_name: s.offer_name.clone(),
                    to_catalog_item_id: o.catalog_item_id.clone(),
                    to_name: o.title.clone(),
                    quantity: s.quantity,
                });
            }
            None => {
                let why = options
                    .iter()
                    .flat_map(|o| &o.eligibilities)
                    .flat_map(|e| &e.errors)
                    .map(|e| e.description.clone());
                out.blocked.push(refused(s, why));
            }
        }
    }
}

/// Subscriptions a named row sends down a synchronous path that cannot take them: a legacy one
/// cannot be transitioned (it migrates first), an NCE one cannot be upgraded (it transitions).
fn wrong_kind(c: &CustomerState, mapping: &Mapping, out: &mut ServerPaths) {
    use crate::mapping::Strategy;
    for s in
        c.subscriptions.iter().filter(|s| s.status == SubscriptionStatus::Active && s.parent_subscription_id.is_none())
    {
        let Some(row) = mapping.row_for(&s.offer_id, &s.offer_name) else { continue };
        let legacy = crate::discover::is_legacy(s);
        let reason = match (row.strategy, legacy) {
            (Strategy::Transition, true) => {
                "a transition moves new-commerce subscriptions only: migrate this legacy one first"
            }
            (Strategy::Upgrade, false) => {
                "the upgrades API moves legacy subscriptions only: transition this new-commerce one"
            }
            _ => continue,
        };
        out.blocked.push(Blocked {
            subscription_id: s.id.clone(),
            offer_name: s.offer_name.clone(),
            reason: reason.into(),
            fallback: None,
        });
    }
}

/// Whatever a named row without a manual path leaves unmoved stays, and the plan says so (an
/// add-on whose base took another way, a subscription no server path took).
pub(super) fn left_unmoved(c: &CustomerState, mapping: &Mapping, out: &mut ServerPaths) {
    for s in c.subscriptions.iter().filter(|s| s.status == SubscriptionStatus::Active) {
        let Some(row) = mapping.row_for(&s.offer_id, &s.offer_name) else { continue };
        let known = out.subscriptions.contains(&s.id) || out.blocked.iter().any(|b| b.subscription_id == s.id);
        if Mapping::manual_applies(row) || known {
            continue;
        }
        out.blocked.push(Blocked {
            subscription_id: s.id.clone(),
            offer_name: s.offer_name.clone(),
            reason: format!("its row's strategy ({}) does not move it", row.strategy.as_str()),
            fallback: None,
        });
    }
}

/// A subscription the server would not move the way its row asks, with the server's reasons.
fn refused(s: &crate::client::Subscription, reasons: impl Iterator<Item = String>) -> Blocked {
    let mut reasons: Vec<String> = reasons.collect();
    reasons.dedup();
    Blocked {
        subscription_id: s.id.clone(),
        offer_name: s.offer_name.clone(),
        reason: if reasons.is_empty() { "no eligible path to the row's successors".into() } else { reasons.join("; ") },
        fallback: None,
    }
}

impl Plan {
    /// Below the table, only when there are any: each migration to new commerce and each
    /// subscription the server would not migrate, with the reason in words.
    pub(super) fn new_commerce_lines(&self, out: &mut String) {
        for c in &self.customers {
            for step in &c.steps {
                if let Step::Migrate { offer_name, add_ons, .. } = step {
                    let with =
                        if add_ons.is_empty() { String::new() } else { format!(" with {} add-on(s)", add_ons.len()) };
                    let _ = writeln!(out, "  {}: migrate {offer_name}{with} to new commerce", c.name);
                }
            }
            for b in &c.blocked {
                let then = b.fallback.as_deref().map_or("stays as it is".to_string(), |f| format!("goes {f}"));
                let _ = writeln!(
                    out,
                    "  {}: {} cannot migrate to new commerce ({}); {then}",
                    c.name, b.offer_name, b.reason
                );
            }
        }
    }
}
