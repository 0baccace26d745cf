//! The admin API under `/admin` (not part of Partner Center): seed tenants, mint tokens, move
//! the virtual clock, export the audit log, snapshot and restore, and judge the log.
//! No authentication: it is a local development tool and must only listen on loopback.

use axum::Json;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::PcError;
use super::extract::{PcJson, PcQuery, RawBody, guid, parse_body};
use super::wire::date;
use crate::Mock;
use crate::model::signin::{MAX_TOKEN_LIFETIME, MIN_TOKEN_LIFETIME};
use crate::model::{Actor, Cause, TokenMode, World};

type Reply = Result<Response, PcError>;

/// The epoch of an empty world: the day legacy renewals ended.
pub fn default_epoch() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_498_867_200, 0).unwrap_or_default()
}

fn summary(w: &World) -> Value {
    let customers = w.all_customers().count();
    let users: usize = w.all_customers().map(|c| c.users.len()).sum();
    let subscriptions: usize = w.all_customers().map(|c| c.subscriptions.len()).sum();
    json!({
        "scenario": w.scenario,
        "seed": w.seed(),
        "now": date(w.now()),
        "partners": w.partners().iter().map(|p| json!({"id": p.id, "name": p.name, "mpnId": p.mpn_id})).collect::<Vec<_>>(),
        "customers": customers,
        "users": users,
        "subscriptions": subscriptions,
        "offers": w.catalog.len(),
    })
}

pub async fn reset(State(m): State<Mock>) -> Reply {
    let w = World::empty(default_epoch(), 0);
    let s = summary(&w);
    m.replace(w);
    Ok(Json(s).into_response())
}

/// Build a world from a scenario: a name the hosting binary ships, or a full scenario
/// document.
pub fn load_scenario(m: &Mock, spec: &Value, seed: Option<u64>) -> Result<World, PcError> {
    let named = spec.get("partners").is_none() && spec.get("name").is_some_and(Value::is_string);
    if let Some(field) =
        spec.as_object().and_then(|o| o.keys().find(|k| named && !["name", "seed"].contains(&k.as_str())))
    {
        return Err(PcError::invalid_input(format!(
            "Unknown field {field:?}: a named scenario takes only \"name\" and \"seed\" (a whole document needs \"partners\")."
        )));
    }
    let scenario = match spec.get("name").and_then(Value::as_str) {
        Some(name) if spec.get("partners").is_none() => m
            .scenarios()
            .resolve(name, seed)
            .ok_or_else(|| {
                PcError::invalid_input(format!(
                    "Unknown scenario {name:?}; built-in: {}.",
                    m.scenarios().names().join(", ")
                ))
            })?
            .map_err(PcError::invalid_input)?,
        _ => serde_json::from_str(&spec.to_string())
            .map_err(|e| PcError::invalid_input(format!("invalid scenario document: {e}")))?,
    };
    if let Some(plan) = &scenario.faults {
        super::operations::check_fault_operations(plan)
            .map_err(|e| PcError::invalid_input(format!("Invalid scenario: faults: {e}")))?;
    }
    Ok(World::from_scenario(&scenario, seed)?)
}

/// POST /admin/scenario: `{"name": "article", "seed": 7}` or a whole scenario document.
pub async fn scenario(State(m): State<Mock>, RawBody(body): RawBody) -> Reply {
    let spec: Value = serde_json::from_slice(&body)
        .map_err(|e| PcError::invalid_input(format!("The scenario is not valid JSON: {e}")))?;
    let seed = match spec.get("seed") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| PcError::invalid_input("seed must be a whole number >= 0."))?),
    };
    let seed_only = spec.as_object().is_some_and(|o| o.keys().all(|k| k == "name" || k == "seed"));
    let doc = if seed_only { json!({ "name": spec.get("name") }) } else { spec.clone() };
    let world = load_scenario(&m, &doc, if seed_only { seed } else { None })?;
    let s = summary(&world);
    m.replace(world);
    Ok(Json(s).into_response())
}

pub async fn scenarios(State(m): State<Mock>) -> Reply {
    Ok(Json(json!({ "builtin": m.scenarios().names() })).into_response())
}

pub async fn get_state(State(m): State<Mock>) -> Reply {
    let body = m.read(serde_json::to_vec).map_err(|e| {
        PcError::new(StatusCode::INTERNAL_SERVER_ERROR, 800_003, format!("state could not be serialised: {e}"))
    })?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// PUT /admin/state: restore a snapshot taken with GET (byte-for-byte round trip).
pub async fn put_state(State(m): State<Mock>, RawBody(body): RawBody) -> Reply {
    let mut w: World = serde_json::from_slice(&body)
        .map_err(|e| PcError::invalid_input(format!("The state snapshot is not valid: {e}")))?;
    w.settings
        .validate()
        .map_err(|e| PcError::invalid_input(format!("The state snapshot is not valid: settings: {e}.")))?;
    w.check_log_limit().map_err(|e| PcError::invalid_input(format!("The state snapshot is not valid: {e}.")))?;
    w.rebuild_indexes();
    let s = summary(&w);
    m.replace(w);
    Ok(Json(s).into_response())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenBody {
    #[serde(default)]
    partner_id: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    /// Seconds on the virtual clock (default: never expires).
    #[serde(default)]
    lifetime_seconds: Option<u32>,
}

pub async fn tokens(State(m): State<Mock>, RawBody(body): RawBody) -> Reply {
    let req: TokenBody =
        if body.iter().all(u8::is_ascii_whitespace) { TokenBody::default() } else { parse_body(&body)? };
    let partner = req.partner_id.as_deref().map(|p| guid("partnerId", p)).transpose()?;
    let mode = match req.mode.as_deref() {
        None | Some("app+user") => TokenMode::AppUser,
        Some("app") => TokenMode::App,
        Some(other) => {
            return Err(PcError::unknown_enum("mode (\"app\" or \"app+user\")", other));
        }
    };
    let (token, partner) = m.with(|w| {
        let lifetime = req.lifetime_seconds;
        if lifetime.is_some_and(|s| !(MIN_TOKEN_LIFETIME..=MAX_TOKEN_LIFETIME).contains(&s)) {
            return Err(PcError::invalid_input(format!(
                "lifetimeSeconds must be between {MIN_TOKEN_LIFETIME} and {MAX_TOKEN_LIFETIME}."
            )));
        }
        let t = crate::mint_token(w, partner, mode, lifetime)?;
        let p = w.token(&t).map(|t| t.partner);
        Ok::<_, PcError>((t, p))
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "accessToken": token, "tokenType": "Bearer", "partnerId": partner, "mode": mode.as_str() })),
    )
        .into_response())
}

pub async fn clock(State(m): State<Mock>) -> Reply {
    Ok(Json(json!({ "now": date(m.read(World::now)) })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceBody {
    #[serde(default)]
    days: Option<i64>,
    #[serde(default)]
    hours: Option<i64>,
    #[serde(default)]
    minutes: Option<i64>,
    #[serde(default)]
    seconds: Option<i64>,
    #[serde(default)]
    to: Option<DateTime<Utc>>,
}

/// POST /admin/clock/advance: `{"days": n}`, `{"hours": n}`, `{"minutes": n}`, `{"seconds": n}`
/// or `{"to": RFC 3339}`.
/// How far one clock advance may go.
const MAX_ADVANCE_SECONDS: i64 = 36_500 * 86_400;

pub async fn advance(State(m): State<Mock>, PcJson(body): PcJson<AdvanceBody>) -> Reply {
    let too_far = || PcError::invalid_input("The clock moves forward only, by at most 100 years at a time.");
    let step = |n: i64, per: i64| {
        n.checked_mul(per).filter(|s| (0..=MAX_ADVANCE_SECONDS).contains(s)).map(Duration::seconds).ok_or_else(too_far)
    };
    let advance = m.with(|w| {
        let to = match (body.days, body.hours, body.minutes, body.seconds, body.to) {
            (Some(d), None, None, None, None) => w.now() + step(d, 86_400)?,
            (None, Some(h), None, None, None) => w.now() + step(h, 3_600)?,
            (None, None, Some(m), None, None) => w.now() + step(m, 60)?,
            (None, None, None, Some(s), None) => w.now() + step(s, 1)?,
            // The same cap as the other forms: a target years away would make the lifecycle
            // renew every subscription for each term on the way, under the lock.
            (None, None, None, None, Some(t)) if t - w.now() <= Duration::seconds(MAX_ADVANCE_SECONDS) => t,
            (None, None, None, None, Some(_)) => return Err(too_far()),
            _ => return Err(PcError::invalid_input("Give exactly one of days, hours, minutes, seconds or to.")),
        };
        Ok(w.advance_to(to)?)
    })?;
    Ok(Json(json!({ "from": date(advance.from), "now": date(advance.to), "steps": advance.steps })).into_response())
}

/// GET /admin/events?after=SEQ[&format=text]
/// Events per `/admin/events` page unless `limit` says otherwise, and at most.
pub const EVENTS_PAGE: usize = 10_000;
pub const MAX_EVENTS_PAGE: usize = 100_000;

/// `GET /admin/events?after=SEQ&limit=N[&format=text]`: one page of the log. Only the page is
/// copied under the lock and it is rendered after the lock is released, so a long log never
/// stalls the other calls; `next` (and the `Next-After` header) say where the next page starts.
pub async fn events(State(m): State<Mock>, q: PcQuery) -> Reply {
    let number = |name: &str| -> Result<Option<u64>, PcError> {
        q.get(name)
            .map(|s| {
                s.parse::<u64>()
                    .map_err(|_| PcError::invalid_input(format!("{name} must be a whole number, not {s:?}.")))
            })
            .transpose()
    };
    let after = number("after")?.unwrap_or(0);
    let limit = match number("limit")? {
        None => EVENTS_PAGE,
        Some(n) if (1..=MAX_EVENTS_PAGE as u64).contains(&n) => n as usize,
        Some(n) => {
            return Err(PcError::invalid_input(format!("limit must be between 1 and {MAX_EVENTS_PAGE}, not {n}.")));
        }
    };
    let (page, more, cut) = m.read(|w| {
        let rest = w.events_after(after);
        let cut = w.log_cut().map(|c| (c.dropped, c.through));
        (rest[..rest.len().min(limit)].to_vec(), rest.len() > limit, cut)
    });
    let next = page.last().filter(|_| more).map(|e| e.seq);
    // Asked for events the bound dropped: say so where they would have been.
    let cut = cut.filter(|(_, through)| after < *through);
    let mut resp = if q.get("format") == Some("text") {
        let marker = cut.map(|(dropped, through)| {
            format!("# cut: {dropped} events up to #{through} were dropped (the log is bounded: serve --max-events)\n")
        });
        let text = marker.into_iter().chain(page.iter().map(|e| format!("{e}\n"))).collect::<String>();
        ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
    } else {
        let events = serde_json::to_value(&page)
            .map_err(|e| PcError::new(StatusCode::INTERNAL_SERVER_ERROR, 800_003, e.to_string()))?;
        let cut = cut.map(|(dropped, through)| json!({"dropped": dropped, "through": through}));
        Json(json!({ "events": events, "next": next, "cut": cut })).into_response()
    };
    if let Some(n) = next.and_then(|n| axum::http::HeaderValue::from_str(&n.to_string()).ok()) {
        resp.headers_mut().insert(axum::http::HeaderName::from_static("next-after"), n);
    }
    Ok(resp)
}

/// `GET /admin/locks`: how long calls held the world's lock since start (the stall each
/// imposed on the others): a log2 histogram's p50 and p99 bounds, and the longest.
pub async fn locks(State(m): State<Mock>) -> Reply {
    Ok(Json(m.lock_holds()).into_response())
}

pub async fn invariants(State(m): State<Mock>) -> Reply {
    // The judge keeps a running fold: only the events since the last verdict are folded.
    let verdict = m.read(|w| w.verdict());
    Ok(Json(verdict).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcceptBody {
    #[serde(default)]
    partner_id: Option<String>,
}

/// POST /admin/customers/{id}/accept-relationship: the customer's admin accepts the invitation.
pub async fn accept_relationship(State(m): State<Mock>, Path(cid): Path<String>, RawBody(body): RawBody) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let req: AcceptBody =
        if body.iter().all(u8::is_ascii_whitespace) { AcceptBody { partner_id: None } } else { parse_body(&body)? };
    let partner = req.partner_id.as_deref().map(|p| guid("partnerId", p)).transpose()?;
    m.with(|w| {
        let partner = match partner {
            Some(p) => p,
            None => w
                .partners()
                .first()
                .map(|p| p.id)
                .ok_or_else(|| PcError::invalid_input("No partner: load a scenario first."))?,
        };
        let batch = w.open_batch(Cause::Admin { operation: "acceptRelationship".into() }, Actor::Customer(cid));
        w.accept_relationship(&batch, cid, partner)?;
        Ok::<_, PcError>(())
    })?;
    Ok(Json(json!({ "customerId": cid, "relationshipToPartner": "reseller" })).into_response())
}

fn faults_view(w: &World) -> Value {
    json!({
        "plan": w.fault_plan(),
        "orderDedupSeconds": w.settings.order_dedup_seconds,
        "presets": crate::model::faults::FaultPlan::presets(),
    })
}

/// GET /admin/faults: the plan in force (or null) and the order dedup window.
pub async fn get_faults(State(m): State<Mock>) -> Reply {
    Ok(Json(m.read(faults_view)).into_response())
}

/// PUT /admin/faults: a fault plan document, or `?preset=heavy&seed=7`. A bad plan is refused
/// with the field that is wrong and the plan in force is kept.
pub async fn put_faults(State(m): State<Mock>, q: PcQuery, RawBody(body): RawBody) -> Reply {
    let seed = match q.get("seed") {
        None => 0,
        Some(s) => s.parse::<u64>().map_err(|_| PcError::invalid_input("seed must be a whole number >= 0."))?,
    };
    let plan = match q.get("preset") {
        Some(name) => crate::model::faults::FaultPlan::preset(name, seed).ok_or_else(|| {
            PcError::invalid_input(format!(
                "Unknown fault preset {name:?}; presets: {}.",
                crate::model::faults::FaultPlan::presets().join(", ")
            ))
        })?,
        None => parse_body(&body)?,
    };
    super::operations::check_fault_operations(&plan)
        .map_err(|e| PcError::invalid_input(format!("Invalid fault plan: {e}")))?;
    m.with(|w| w.set_fault_plan(Some(plan)).map(|()| faults_view(w)))
        .map(|v| Json(v).into_response())
        .map_err(|e| PcError::invalid_input(format!("Invalid fault plan: {e}")))
}

/// DELETE /admin/faults: every call passes again (counters dropped).
pub async fn delete_faults(State(m): State<Mock>) -> Reply {
    m.with(|w| w.set_fault_plan(None)).map_err(PcError::invalid_input)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DedupBody {
    order_dedup_seconds: i64,
}

/// PUT /admin/faults/dedup: `{"orderDedupSeconds": 0}` turns `MS-RequestId` deduplication of
/// orders off, so a client's own reconciliation is what stands between it and a double buy.
pub async fn put_dedup(State(m): State<Mock>, PcJson(body): PcJson<DedupBody>) -> Reply {
    let max = crate::model::MAX_ORDER_DEDUP_SECONDS;
    if !(0..=max).contains(&body.order_dedup_seconds) {
        return Err(PcError::invalid_input(format!("orderDedupSeconds must be from 0 to {max}.")));
    }
    Ok(Json(m.with(|w| {
        w.settings.order_dedup_seconds = body.order_dedup_seconds;
        faults_view(w)
    }))
    .into_response())
}
