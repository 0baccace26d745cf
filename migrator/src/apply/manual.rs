//! The manual path's steps (the article's): buy the successor, swap a user in one call, make
//! room before a suspension, sweep after the last step, suspend; each behind `reconcile`.

use std::collections::{BTreeMap, BTreeSet};

use super::{Retry, StepError, Truth, UNCLEAR_ONLY, reconcile, step_request_id};
use crate::client::{
    ClientError, FetchedSubscription, NewLine, PartnerCenter, SubscribedSku, SubscriptionStatus, UserState,
};
use crate::plan::{CustomerPlan, Step};

pub(super) async fn buy<P: PartnerCenter>(
    pc: &P,
    cid: &str,
    offer_id: &str,
    quantity: u32,
    tag: &str,
    request_id: &str,
) -> Result<String, StepError> {
    let mine = |subs: &[crate::client::Subscription]| {
        subs.iter().find(|s| s.friendly_name == tag && s.offer_id.eq_ignore_ascii_case(offer_id)).map(|s| s.id.clone())
    };
    let line =
        NewLine { line_item_number: 0, offer_id: offer_id.to_string(), quantity, friendly_name: tag.to_string() };
    let (line, mine) = (&line, &mine);
    // Read before (re-)buying: a lost answer, a crash or a duplicate delivery may already have
    // bought it. The purchase tag in the friendly name is how we recognise ours.
    let read = |_| async move {
        Ok::<Truth<_>, StepError>(match mine(&pc.subscriptions(cid).await?) {
            Some(id) => Truth::Done(format!("subscription {id} (found, not bought again)")),
            None => Truth::Act(()),
        })
    };
    let act = move |()| async move {
        let order = pc.create_order(cid, std::slice::from_ref(line), request_id).await?;
        Ok::<_, ClientError>(match order.line_items.first().and_then(|l| l.subscription_id.clone()) {
            Some(id) => Ok(format!("subscription {id}")),
            None => match mine(&pc.subscriptions(cid).await?) {
                Some(id) => Ok(format!("subscription {id}")),
                None => Err(StepError::Unknown(format!("order {} is still provisioning", order.id))),
            },
        })
    };
    reconcile(pc, UNCLEAR_ONLY, read, act).await
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn swap<P: PartnerCenter>(
    pc: &P,
    cid: &str,
    user: &str,
    assign: &[String],
    remove: &[String],
    skus: &BTreeMap<String, String>,
    resuming: bool,
    request_id: &str,
) -> Result<String, StepError> {
    let mut assign_ids = Vec::with_capacity(assign.len());
    for name in assign {
        match skus.get(&name.to_lowercase()) {
            Some(id) => assign_ids.push(id.clone()),
            None => {
                return Err(StepError::Failed(format!(
                    "successor SKU {name:?} is not in the tenant's subscribed SKUs"
                )));
            }
        }
    }
    swap_ids(pc, cid, user, &assign_ids, remove, resuming, request_id).await
}

/// One user's swap by SKU ids, in one license update, reconciled: after an unclear answer
/// (or when resuming) the user's licenses are read before trying again.
async fn swap_ids<P: PartnerCenter>(
    pc: &P,
    cid: &str,
    user: &str,
    assign_ids: &[String],
    remove: &[String],
    resuming: bool,
    request_id: &str,
) -> Result<String, StepError> {
    let read = |attempt| async move {
        if !resuming && attempt == 0 {
            return Ok::<Truth<()>, StepError>(Truth::Act(()));
        }
        let held: Vec<String> = pc.user_licenses(cid, user).await?.into_iter().map(|l| l.product_sku.id).collect();
        let swapped = assign_ids.iter().all(|a| held.contains(a)) && !remove.iter().any(|r| held.contains(r));
        Ok::<Truth<_>, StepError>(if swapped { Truth::Done("already swapped".to_string()) } else { Truth::Act(()) })
    };
    let act = move |()| async move {
        pc.update_licenses(cid, user, assign_ids, remove, request_id).await?;
        Ok::<_, ClientError>(Ok(format!("assigned {}, removed {}", assign_ids.join(","), remove.join(","))))
    };
    reconcile(pc, UNCLEAR_ONLY, read, act).await
}

/// Before a suspension: anyone licensed since the plan was made (a customer admin, meanwhile)
/// would be left without a seat. Move them the way the plan moves their colleagues, if a
/// successor seat is free; otherwise refuse to suspend and say why.
pub(super) async fn make_room<P: PartnerCenter>(
    pc: &P,
    plan_id: &str,
    c: &CustomerPlan,
    index: usize,
    sid: &str,
    offer_name: &str,
) -> Result<(), StepError> {
    let cid = c.customer_id.as_str();
    let current = pc.subscription(cid, sid).await?;
    if current.subscription.status != SubscriptionStatus::Active {
        return Ok(());
    }
    let skus = pc.subscribed_skus(cid).await?;
    let Some(old) = skus.iter().find(|s| s.product_sku.name.eq_ignore_ascii_case(offer_name)) else {
        return Ok(());
    };
    let remaining = old.active_units - i64::from(current.subscription.quantity);
    if old.consumed_units <= remaining {
        return Ok(());
    }
    let excess = old.consumed_units - remaining.max(0);
    move_stragglers(pc, plan_id, c, index, old, &skus, excess, &format!("suspending {offer_name}")).await
}

/// After the last step: the last chance to move anyone licensed on a retired SKU since the plan
/// was made (on another channel's subscription, which the engine never suspends, or on seats
/// left after a suspension). One read when there is nobody to move.
pub(super) async fn sweep<P: PartnerCenter>(pc: &P, plan_id: &str, c: &CustomerPlan) -> Result<(), StepError> {
    let retired: BTreeSet<&String> = c
        .steps
        .iter()
        .flat_map(|s| match s {
            Step::Swap { remove, .. } => remove.iter().collect::<Vec<_>>(),
            _ => Vec::new(),
        })
        .collect();
    if retired.is_empty() {
        return Ok(());
    }
    let skus = pc.subscribed_skus(&c.customer_id).await?;
    for old in skus.iter().filter(|s| retired.contains(&s.product_sku.id) && s.consumed_units > 0) {
        let context = format!("finishing with {}", old.product_sku.name);
        move_stragglers(pc, plan_id, c, c.steps.len(), old, &skus, old.consumed_units, &context).await?;
    }
    Ok(())
}

/// Move up to `excess` users still holding `old` the way the plan moves their colleagues,
/// adding a successor seat where none is free; refuse, saying why, when the plan has no
/// successor for `old`.
#[allow(clippy::too_many_arguments)]
async fn move_stragglers<P: PartnerCenter>(
    pc: &P,
    plan_id: &str,
    c: &CustomerPlan,
    index: usize,
    old: &SubscribedSku,
    skus: &[SubscribedSku],
    excess: i64,
    context: &str,
) -> Result<(), StepError> {
    let cid = c.customer_id.as_str();
    let offer_name = &old.product_sku.name;
    let successors: Option<&Vec<String>> = c.steps.iter().find_map(|s| match s {
        Step::Swap { assign, remove, .. } if remove.contains(&old.product_sku.id) => Some(assign),
        _ => None,
    });
    let mut stragglers = Vec::new();
    for user in pc.users(cid).await?.into_iter().filter(|u| u.state == UserState::Active) {
        let held = pc.user_licenses(cid, &user.id).await?;
        if held.iter().any(|l| l.product_sku.id == old.product_sku.id) {
            stragglers.push(user);
        }
    }
    let Some(successors) = successors else {
        return Err(StepError::Failed(format!(
            "{} user(s) still hold {offer_name} and the plan moves nobody off it ({context}): run `skuswap plan` again",
            stragglers.len()
        )));
    };
    let mut free: BTreeMap<String, i64> =
        skus.iter().map(|s| (s.product_sku.name.to_lowercase(), s.available_units)).collect();
    for user in stragglers.iter().take(usize::try_from(excess.max(1)).unwrap_or(1)) {
        let mut assign = Vec::new();
        for name in successors {
            let Some(sku) = skus.iter().find(|s| s.product_sku.name.eq_ignore_ascii_case(name)) else {
                return Err(StepError::Failed(format!(
                    "successor SKU {name:?} is not in the tenant's subscribed SKUs"
                )));
            };
            let left = free.entry(name.to_lowercase()).or_insert(0);
            if *left < 1 {
                let request_id = step_request_id(plan_id, cid, index, &format!("seat|{}|{name}", user.id));
                add_seat(pc, c, name, &request_id).await.map_err(|e| match e {
                    StepError::Failed(why) => StepError::Failed(format!(
                        "{} was licensed for {offer_name} after the plan was made and no {name} seat is free ({why}); stopped before {context}",
                        user.user_principal_name
                    )),
                    other => other,
                })?;
                *left += 1;
            }
            *left -= 1;
            assign.push(sku.product_sku.id.clone());
        }
        let request_id = step_request_id(plan_id, cid, index, &format!("straggler|{}", user.id));
        swap_ids(pc, cid, &user.id, &assign, std::slice::from_ref(&old.product_sku.id), false, &request_id).await?;
    }
    Ok(())
}

/// One more seat on the successor subscription this migration bought (or, when it reused
/// seats, on an active one of the same product), for a user found at suspension time.
async fn add_seat<P: PartnerCenter>(pc: &P, c: &CustomerPlan, name: &str, request_id: &str) -> Result<(), StepError> {
    let cid = c.customer_id.as_str();
    let tag = c.steps.iter().find_map(|s| match s {
        Step::Buy { offer_name, tag, .. } if offer_name.eq_ignore_ascii_case(name) => Some(tag.as_str()),
        _ => None,
    });
    let subs = pc.subscriptions(cid).await?;
    let target = subs
        .iter()
        .find(|s| s.status == SubscriptionStatus::Active && tag.is_some_and(|t| s.friendly_name == t))
        .or_else(|| {
            subs.iter().find(|s| s.status == SubscriptionStatus::Active && s.offer_name.eq_ignore_ascii_case(name))
        });
    let Some(target) = target else {
        return Err(StepError::Failed(format!("no active {name} subscription to add a seat to")));
    };
    let wanted = pc.subscription(cid, &target.id).await?.subscription.quantity + 1;
    let read = |_| async move {
        let current = pc.subscription(cid, &target.id).await?;
        Ok::<Truth<_>, StepError>(if current.subscription.quantity >= wanted {
            Truth::Done(String::new())
        } else {
            Truth::Act(current)
        })
    };
    let act = move |current: FetchedSubscription| async move {
        pc.set_subscription_quantity(cid, &current, wanted, request_id).await?;
        Ok::<_, ClientError>(Ok(String::new()))
    };
    reconcile(pc, Retry { stale: true, exhausted_is_failure: false }, read, act).await.map(|_| ()).map_err(
        |e| match e {
            StepError::Unknown(_) => StepError::Unknown(format!("adding a {name} seat: no clear answer")),
            other => other,
        },
    )
}

pub(super) async fn suspend<P: PartnerCenter>(
    pc: &P,
    cid: &str,
    sid: &str,
    request_id: &str,
) -> Result<String, StepError> {
    let read = |_| async move {
        let current = pc.subscription(cid, sid).await?;
        Ok::<Truth<_>, StepError>(if current.subscription.status.is_inactive() {
            Truth::Done(format!("already {}", current.subscription.status))
        } else {
            Truth::Act(current)
        })
    };
    // A stale ETag (someone, or our own lost attempt, changed it) or an unclear answer: read it
    // again and decide afresh.
    let act = move |current: FetchedSubscription| async move {
        let s = pc.set_subscription_status(cid, &current, &SubscriptionStatus::Suspended, request_id).await?;
        Ok::<_, ClientError>(Ok(format!("status {}", s.status)))
    };
    reconcile(pc, Retry { stale: true, exhausted_is_failure: true }, read, act).await.map_err(|e| match e {
        StepError::Failed(last) => StepError::Failed(format!("subscription {sid} could not be suspended: {last}")),
        other => other,
    })
}
