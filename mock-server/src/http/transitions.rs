//! NCE transitions over HTTP: `transitionEligibilities`, `POST` and `GET …/transitions`, with
//! their JSON shapes translated to and from the model's.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::error::PcError;
use super::extract::{Caller, PcJson, PcQuery, RequestIds, guid};
use super::operations::Operation;
use super::wire::{self, date, obj};
use crate::Mock;
use crate::model::transitions::{
    Transition, TransitionEligibility, TransitionError, TransitionRequest, TransitionType,
};

type Reply = Result<Response, PcError>;

/// The customer and subscription of a `…/subscriptions/{s}/…` path.
fn path_ids(cid: &str, sid: &str) -> Result<(uuid::Uuid, uuid::Uuid), PcError> {
    Ok((guid("customer tenant id", cid)?, guid("subscription id", sid)?))
}

fn errors(errors: &[TransitionError]) -> Value {
    Value::Array(
        errors
            .iter()
            .map(|e| obj([("code", (e.code as i64).into()), ("description", e.description.clone().into())]))
            .collect(),
    )
}

fn item(e: &TransitionEligibility) -> Value {
    let item_id = e.target.nce.as_ref().map_or_else(|| e.target.id.clone(), |n| n.catalog_item_id());
    let eligibilities: Vec<Value> = e
        .eligibilities
        .iter()
        .map(|(t, errs)| {
            obj([
                ("isEligible", errs.is_empty().into()),
                ("transitionType", t.as_str().into()),
                ("errors", errors(errs)),
            ])
        })
        .collect();
    let existing: Vec<Value> = e
        .subscription_eligibilities
        .iter()
        .map(|s| {
            obj([
                ("isEligible", s.errors.is_empty().into()),
                ("subscriptionId", s.subscription_id.to_string().into()),
                ("subscriptionFriendlyName", s.friendly_name.clone().into()),
                ("subscriptionTermDuration", s.term.term_duration.as_str().into()),
                ("subscriptionBillingCycle", s.term.billing_cycle.as_str().into()),
                ("errors", errors(&s.errors)),
            ])
        })
        .collect();
    obj([
        ("catalogItemId", item_id.into()),
        ("title", e.target.name.clone().into()),
        ("description", e.target.description.clone().into()),
        ("quantity", e.quantity.into()),
        ("eligibilities", Value::Array(eligibilities)),
        ("subscriptionEligibilities", Value::Array(existing)),
    ])
}

fn transition(t: &Transition) -> Value {
    let events: Vec<Value> = t
        .events()
        .into_iter()
        .map(|name| obj([("name", name.into()), ("status", "Completed".into()), ("timestamp", date(t.created).into())]))
        .collect();
    obj([
        ("id", t.id.to_string().into()),
        ("operationId", t.id.to_string().into()),
        ("fromCatalogItemId", t.from_catalog_item_id.clone().into()),
        ("toCatalogItemId", t.to_catalog_item_id.clone().into()),
        ("fromSubscriptionId", t.from_subscription_id.to_string().into()),
        ("toSubscriptionId", t.to_subscription_id.map_or(Value::Null, |s| s.to_string().into())),
        ("quantity", t.quantity.into()),
        ("termDuration", t.term.term_duration.as_str().into()),
        ("billingCycle", t.term.billing_cycle.as_str().into()),
        ("transitionType", t.transition_type.as_str().into()),
        ("status", "Completed".into()),
        ("creationDate", date(t.created).into()),
        ("events", Value::Array(events)),
        ("attributes", obj([("objectType", "Transition".into())])),
    ])
}

/// `GET /customers/{c}/subscriptions/{s}/transitionEligibilities?eligibilityType=immediate|scheduled`.
pub async fn eligibilities(
    State(m): State<Mock>,
    caller: Caller,
    Path((cid, sid)): Path<(String, String)>,
    q: PcQuery,
) -> Reply {
    let (cid, sid) = path_ids(&cid, &sid)?;
    let scheduled = match q.get("eligibilitytype").map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("immediate") => false,
        Some("scheduled") => true,
        Some(other) => return Err(PcError::unknown_enum("eligibilityType (immediate, scheduled)", other)),
    };
    m.read(|w| {
        let items: Vec<Value> =
            w.transition_eligibilities(caller.partner, cid, sid, scheduled)?.iter().map(item).collect();
        let uri = format!("/customers/{cid}/subscriptions/{sid}/transitionEligibilities");
        Ok(Json(wire::collection(items, uri)).into_response())
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransitionBody {
    to_catalog_item_id: Option<String>,
    to_subscription_id: Option<String>,
    quantity: Option<i64>,
    transition_type: Option<String>,
    from_subscription_id: Option<String>,
}

/// `POST /customers/{c}/subscriptions/{s}/transitions`.
pub async fn create(
    State(m): State<Mock>,
    caller: Caller,
    ids: RequestIds,
    Path((cid, sid)): Path<(String, String)>,
    PcJson(body): PcJson<TransitionBody>,
) -> Reply {
    let (cid, sid) = path_ids(&cid, &sid)?;
    let to = body
        .to_catalog_item_id
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| PcError::invalid_input("toCatalogItemId is required."))?;
    let quantity = body.quantity.ok_or_else(|| PcError::invalid_input("quantity is required."))?;
    let kind = body.transition_type.ok_or_else(|| PcError::invalid_input("transitionType is required."))?;
    let transition_type = TransitionType::parse(&kind).ok_or_else(|| {
        PcError::unknown_enum("transitionType (transition_only, transition_with_license_transfer)", &kind)
    })?;
    if let Some(from) = body.from_subscription_id.filter(|s| !s.trim().is_empty())
        && guid("fromSubscriptionId", &from)? != sid
    {
        return Err(PcError::invalid_input("fromSubscriptionId must be the subscription in the path."));
    }
    let to_subscription_id = match body.to_subscription_id.filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(t) => Some(guid("toSubscriptionId", &t)?),
    };
    let req = TransitionRequest { to_catalog_item_id: to, to_subscription_id, quantity, transition_type };
    m.with(|w| {
        let batch = w.open_batch(ids.cause(Operation::CreateTransition), caller.actor());
        let id = w.transition(&batch, caller.partner, cid, sid, &req)?;
        let done = w.transitions_of(caller.partner, cid, sid)?.into_iter().find(|t| t.id == id).map(transition);
        Ok(Json(done.unwrap_or(Value::Null)).into_response())
    })
}

/// `GET /customers/{c}/subscriptions/{s}/transitions[?operationId=]`.
pub async fn list(
    State(m): State<Mock>,
    caller: Caller,
    Path((cid, sid)): Path<(String, String)>,
    q: PcQuery,
) -> Reply {
    let (cid, sid) = path_ids(&cid, &sid)?;
    let op = q.get("operationid").filter(|s| !s.is_empty()).map(|s| guid("operationId", s)).transpose()?;
    m.read(|w| {
        let items: Vec<Value> = w
            .transitions_of(caller.partner, cid, sid)?
            .into_iter()
            .filter(|t| op.is_none_or(|o| t.id == o))
            .map(transition)
            .collect();
        let uri = format!("/customers/{cid}/subscriptions/{sid}/transitions");
        Ok(Json(wire::collection(items, uri)).into_response())
    })
}
