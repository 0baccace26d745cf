//! Legacy subscription upgrades over HTTP: `GET` and `POST …/subscriptions/{id}/upgrades`,
//! their JSON shapes (`Upgrade`, `UpgradeResult`), translated to and from the model's.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::error::PcError;
use super::extract::{Caller, PcJson, RequestIds, guid};
use super::operations::Operation;
use super::wire::{self, obj};
use crate::Mock;
use crate::model::World;
use crate::model::upgrades::{LicenseError, Upgrade, UpgradeError, UpgradeRequest, UpgradeResult, UpgradeType};

type Reply = Result<Response, PcError>;

fn errors(errors: &[UpgradeError]) -> Value {
    Value::Array(
        errors
            .iter()
            .map(|e| {
                obj([
                    ("code", e.code.as_str().into()),
                    ("description", e.description.clone().into()),
                    ("additionalDetails", e.additional_details.clone().map_or(Value::Null, Value::from)),
                    ("attributes", obj([("objectType", "UpgradeError".into())])),
                ])
            })
            .collect(),
    )
}

fn upgrade(w: &World, u: &Upgrade) -> Value {
    obj([
        ("targetOffer", u.target.as_ref().map_or(Value::Null, |o| wire::offer(o, w.now(), "US", "en-US"))),
        ("upgradeType", u.upgrade_type.as_str().into()),
        ("isEligible", u.is_eligible.into()),
        ("quantity", u.quantity.into()),
        ("upgradeErrors", errors(&u.errors)),
        ("attributes", obj([("objectType", "Upgrade".into())])),
    ])
}

fn license_error(e: &LicenseError) -> Value {
    obj([
        ("userObjectId", e.user.to_string().into()),
        ("name", e.name.clone().into()),
        ("email", e.email.clone().into()),
        (
            "errors",
            Value::Array(vec![obj([
                ("code", 60012.into()),
                ("description", e.reason.clone().into()),
                ("source", "PartnerFD".into()),
            ])]),
        ),
    ])
}

fn result(r: &UpgradeResult) -> Value {
    obj([
        ("sourceSubscriptionId", r.source.to_string().into()),
        ("targetSubscriptionId", r.target.map_or(Value::Null, |t| t.to_string().into())),
        ("upgradeType", r.upgrade_type.as_str().into()),
        ("upgradeErrors", errors(&r.errors)),
        ("licenseErrors", Value::Array(r.license_errors.iter().map(license_error).collect())),
        ("attributes", obj([("objectType", "UpgradeResult".into())])),
    ])
}

/// `GET /customers/{c}/subscriptions/{s}/upgrades`.
pub async fn list_upgrades(State(m): State<Mock>, caller: Caller, Path((cid, sid)): Path<(String, String)>) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let sid = guid("subscription id", &sid)?;
    m.read(|w| {
        let items: Vec<Value> =
            w.upgrades(caller.partner, caller.mode, cid, sid)?.iter().map(|u| upgrade(w, u)).collect();
        let uri = format!("/customers/{cid}/subscriptions/{sid}/upgrades");
        Ok(Json(wire::collection(items, uri)).into_response())
    })
}

/// The POST body: one item of the GET, as the SDK sends it back.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeBody {
    target_offer: Option<TargetOffer>,
    upgrade_type: Option<String>,
    #[serde(default)]
    quantity: Option<i64>,
}

#[derive(Deserialize)]
pub struct TargetOffer {
    id: Option<String>,
}

/// `POST /customers/{c}/subscriptions/{s}/upgrades` (the SDK posts to the source).
pub async fn create_upgrade(
    State(m): State<Mock>,
    caller: Caller,
    ids: RequestIds,
    Path((cid, sid)): Path<(String, String)>,
    PcJson(body): PcJson<UpgradeBody>,
) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let sid = guid("subscription id", &sid)?;
    let target = body
        .target_offer
        .and_then(|t| t.id)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| PcError::invalid_input("targetOffer.id is required (an item of GET …/upgrades)."))?;
    let kind = body.upgrade_type.ok_or_else(|| PcError::invalid_input("upgradeType is required."))?;
    let upgrade_type = UpgradeType::parse(&kind).ok_or_else(|| {
        PcError::unknown_enum("upgradeType (none, upgrade_only, upgrade_with_license_transfer)", &kind)
    })?;
    let req = UpgradeRequest { target_offer: target, upgrade_type, quantity: body.quantity };
    m.with(|w| {
        let batch = w.open_batch(ids.cause(Operation::CreateUpgrade), caller.actor());
        let r = w.upgrade(&batch, (caller.partner, caller.mode), cid, sid, &req)?;
        Ok(Json(result(&r)).into_response())
    })
}
