//! The synchronous server-side paths: a legacy upgrade with license transfer (the server buys
//! the target, moves the users and suspends the source) and an NCE transition of every seat in
//! place. Each reads the truth first, so a lost answer or a resumed run never repeats one.

use super::{StepError, Truth, UNCLEAR_ONLY, reconcile};
use crate::client::{ClientError, NewTransition, OfferRef, PartnerCenter, TRANSITION_WITH_LICENSES};

/// What an upgrade step is asked to do.
pub(super) struct UpgradeStep<'a> {
    pub customer: &'a str,
    pub subscription: &'a str,
    pub target: OfferRef,
    pub quantity: u32,
}

pub(super) async fn upgrade<P: PartnerCenter>(
    pc: &P,
    step: &UpgradeStep<'_>,
    request_id: &str,
) -> Result<String, StepError> {
    let (cid, sid) = (step.customer, step.subscription);
    // Done when the source is no longer active and a subscription of the target exists.
    let read = |_| async move {
        let source = pc.subscription(cid, sid).await?.subscription;
        let target = pc.subscriptions(cid).await?.into_iter().find(|s| {
            s.offer_id.eq_ignore_ascii_case(&step.target.id) && s.status == crate::client::SubscriptionStatus::Active
        });
        Ok::<Truth<()>, StepError>(match target {
            Some(t) if source.status.is_inactive() => Truth::Done(format!("upgraded to subscription {} (found)", t.id)),
            _ => Truth::Act(()),
        })
    };
    let act = |()| async move {
        let r = pc.upgrade(cid, sid, &step.target, step.quantity, request_id).await?;
        Ok::<_, ClientError>(if let Some(e) = r.upgrade_errors.first() {
            Err(StepError::Failed(format!("the upgrade was refused: {}", e.description)))
        } else if !r.license_errors.is_empty() {
            Err(StepError::Failed(format!(
                "upgraded to subscription {}, but {} user(s) could not move: the source stays active",
                r.target_subscription_id.as_deref().unwrap_or("?"),
                r.license_errors.len()
            )))
        } else {
            Ok(format!("upgraded to subscription {}", r.target_subscription_id.as_deref().unwrap_or("?")))
        })
    };
    reconcile(pc, UNCLEAR_ONLY, read, act).await
}

/// What a transition step is asked to do.
pub(super) struct TransitionStep<'a> {
    pub customer: &'a str,
    pub subscription: &'a str,
    pub to: &'a str,
    pub quantity: u32,
}

pub(super) async fn transition<P: PartnerCenter>(
    pc: &P,
    step: &TransitionStep<'_>,
    request_id: &str,
) -> Result<String, StepError> {
    let (cid, sid) = (step.customer, step.subscription);
    // In place: done when the subscription is the target item.
    let read = |_| async move {
        let s = pc.subscription(cid, sid).await?.subscription;
        Ok::<Truth<()>, StepError>(if s.offer_id.eq_ignore_ascii_case(step.to) {
            Truth::Done(format!("subscription {sid} is {} (found)", step.to))
        } else {
            Truth::Act(())
        })
    };
    let request = NewTransition {
        to_catalog_item_id: step.to.to_string(),
        quantity: step.quantity,
        transition_type: TRANSITION_WITH_LICENSES.to_string(),
    };
    let request = &request;
    let act = |()| async move {
        let t = pc.transition(cid, sid, request, request_id).await?;
        Ok::<_, ClientError>(Ok(format!("transition {} {}", t.id, t.status)))
    };
    reconcile(pc, UNCLEAR_ONLY, read, act).await
}
