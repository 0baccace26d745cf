//! Handlers for the Partner Center routes: parse, call the model under the lock, render.
//! No rule lives here; each handler only translates between HTTP and [`crate::model`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::error::PcError;
use super::extract::{Caller, DelegatedCaller, IfMatch, MS_CONTINUATION_TOKEN, PcJson, PcQuery, RequestIds, guid};
use super::operations::Operation;
use super::order_shape::OrderShape;
use super::subscription_shape::SubscriptionShape;
use super::user_shape::{Collection, LicenseShape, LicenseUpdateShape, SubscribedSkuShape, UserShape};
use super::{paging, wire};
use crate::Mock;
use crate::model::{OrderLineRequest, SubscriptionChanges, SubscriptionStatus, UserState};

type Reply = Result<Response, PcError>;

fn ok(v: Value) -> Reply {
    Ok(Json(v).into_response())
}

/// A 201 with `Location` naming the new resource (under `/v1`).
fn created_at(v: impl serde::Serialize, location: String) -> Reply {
    let mut resp = (StatusCode::CREATED, super::wire::json_answer(&v, 1024)).into_response();
    if let Ok(l) = axum::http::HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, l);
    }
    Ok(resp)
}

/// A subscription with its ETag also as a header, as clients that send `If-Match` read it.
fn subscription_reply(sub: &crate::model::Subscription) -> Reply {
    // An NCE subscription's shape runs to 1.7 KiB, a legacy one's to 1.2.
    let mut resp = super::wire::json_answer(&SubscriptionShape(sub), 2048);
    if let Ok(tag) = axum::http::HeaderValue::from_str(&sub.etag()) {
        resp.headers_mut().insert(header::ETAG, tag);
    }
    Ok(resp)
}

/// Largest `size` a page may ask for; Partner Center's own tool asks for 500.
const MAX_PAGE: usize = 1000;
const DEFAULT_PAGE: usize = 100;

/// A seek-based page request: its `size`, and the continuation token of `seekOperation=next`
/// (opened against the list once the world is at hand: see [`super::paging`]).
struct PageRequest {
    size: usize,
    token: Option<String>,
}

impl PageRequest {
    /// Where the page starts: `items` is every item in order with whether the list shows it.
    fn start(&self, seed: u64, kind: &str, items: impl Iterator<Item = (Uuid, bool)>) -> Result<usize, PcError> {
        self.start_at(seed, kind, |cursor| cursor.resume_among(items))
    }

    /// The same, with the cursor resolved by `resume` (a list that can find its place by index).
    fn start_at(&self, seed: u64, kind: &str, resume: impl FnOnce(&paging::Cursor) -> usize) -> Result<usize, PcError> {
        let Some(token) = &self.token else { return Ok(0) };
        let cursor = paging::open(seed, kind, token).ok_or_else(|| {
            PcError::invalid_input(format!("The continuation token {token:?} is not valid for this list."))
        })?;
        Ok(resume(&cursor))
    }
}

/// Parsed from `size`, `seekOperation` and the `MS-ContinuationToken` header.
fn page_request(q: &PcQuery, headers: &HeaderMap) -> Result<PageRequest, PcError> {
    let size = match q.get("size") {
        None | Some("") | Some("0") => DEFAULT_PAGE,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n <= MAX_PAGE => n,
            _ => {
                return Err(PcError::invalid_input(format!(
                    "size must be a whole number from 0 to {MAX_PAGE}, not {s:?}."
                )));
            }
        },
    };
    let seek = q.get("seekoperation").map(str::to_ascii_lowercase);
    let token = match seek.as_deref() {
        None => None,
        Some("next") => Some(
            headers
                .get(MS_CONTINUATION_TOKEN)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| PcError::invalid_input("seekOperation=next needs the MS-ContinuationToken header."))?
                .to_string(),
        ),
        Some(other) => return Err(PcError::unknown_enum("seekOperation", other)),
    };
    Ok(PageRequest { size, token })
}

/// Past the last page Partner Center answers 400 / 2000, which clients treat as the end.
fn past_end() -> PcError {
    PcError::new(
        StatusCode::BAD_REQUEST,
        2000,
        "There are no more items: the continuation token is past the end of the list.",
    )
}

/// The next page's link and token, if items remain after `offset + page.len()`.
fn next_link(
    path: &str,
    size: usize,
    (seed, kind): (u64, &str),
    offset: usize,
    page: &[Uuid],
    total: usize,
) -> Option<(String, String)> {
    let next = offset + page.len();
    let after = *page.last()?;
    (next < total).then(|| {
        (
            format!("{path}?size={size}&seekOperation=Next"),
            paging::seal(seed, kind, &paging::Cursor { offset: next, after }),
        )
    })
}

// ---- customers -------------------------------------------------------------------------

/// GET /v1/customers: the partner's customers, seek-paged.
pub async fn list_customers(State(m): State<Mock>, caller: Caller, q: PcQuery, headers: HeaderMap) -> Reply {
    let page = page_request(&q, &headers)?;
    // Bound to the partner: another reseller's token does not open this partner's list.
    let kind = format!("customers.{}", caller.partner.simple());
    m.read(|w| {
        // The last customer shown is found by index; one that is no longer this partner's
        // (a replaced world) by walking the list, as for users.
        let offset =
            page.start_at(w.seed(), &kind, |cursor| match w.customer_position(caller.partner, cursor.after) {
                Some(at) => at + 1,
                None => cursor.resume_among(w.all_customers().map(|c| (c.id, c.is_customer_of(caller.partner)))),
            })?;
        let (shown, total) = w.customers_page(caller.partner, offset, page.size);
        if offset > 0 && offset >= total {
            return Err(past_end());
        }
        let ids: Vec<Uuid> = shown.iter().map(|c| c.id).collect();
        let items = shown.iter().map(|c| wire::customer_item(c, caller.partner)).collect::<Vec<_>>();
        let next = next_link("/customers", page.size, (w.seed(), &kind), offset, &ids, total);
        ok(wire::seek_page(items, format!("/customers?size={}", page.size), next))
    })
}

pub async fn get_customer(State(m): State<Mock>, caller: Caller, Path(cid): Path<String>) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    m.read(|w| ok(wire::customer(w.customer_of(caller.partner, cid)?, caller.partner)))
}

/// GET /v1/customers/relationshiprequests: the invitation link for prospects.
pub async fn relationship_request(State(m): State<Mock>, DelegatedCaller(caller): DelegatedCaller) -> Reply {
    let url = m.read(|w| w.relationship_request_url(caller.partner));
    ok(serde_json::json!({ "url": url, "attributes": { "objectType": "RelationshipRequest" } }))
}

// ---- offers ----------------------------------------------------------------------------

fn market(q: &PcQuery, headers: &HeaderMap) -> Result<(String, String), PcError> {
    let country = q
        .get("country")
        .filter(|c| c.len() == 2 && c.chars().all(|ch| ch.is_ascii_alphabetic()))
        .ok_or_else(|| PcError::invalid_input("The country query parameter (two-letter ISO code) is required."))?
        .to_ascii_uppercase();
    let locale = headers.get("x-locale").and_then(|v| v.to_str().ok()).unwrap_or("en-US").to_string();
    Ok((country, locale))
}

pub async fn list_offers(State(m): State<Mock>, _caller: Caller, q: PcQuery, headers: HeaderMap) -> Reply {
    let (country, locale) = market(&q, &headers)?;
    let number = |name: &str, default: usize| -> Result<usize, PcError> {
        q.get(name).map_or(Ok(default), |s| {
            s.parse::<usize>().map_err(|_| PcError::invalid_input(format!("{name} must be a whole number, not {s:?}.")))
        })
    };
    let offset = number("offset", 0)?;
    let size = number("size", MAX_PAGE)?.min(MAX_PAGE);
    m.read(|w| {
        let items: Vec<Value> = w
            .catalog
            .legacy_offers()
            .skip(offset)
            .take(size)
            .map(|o| wire::offer(o, w.now(), &country, &locale))
            .collect();
        ok(wire::collection(items, format!("/offers?country={country}")))
    })
}

pub async fn get_offer(
    State(m): State<Mock>,
    _caller: Caller,
    Path(id): Path<String>,
    q: PcQuery,
    headers: HeaderMap,
) -> Reply {
    let (country, locale) = market(&q, &headers)?;
    m.read(|w| match w.catalog.offer(&id).filter(|o| o.nce.is_none()) {
        Some(o) => ok(wire::offer(o, w.now(), &country, &locale)),
        None => Err(PcError::not_found(format!("Offer {id} was not found."))),
    })
}

// ---- orders ----------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderBody {
    line_items: Vec<LineItemBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineItemBody {
    line_item_number: i64,
    offer_id: String,
    quantity: i64,
    #[serde(default)]
    friendly_name: Option<String>,
    #[serde(default)]
    partner_id_on_record: Option<String>,
    #[serde(default)]
    term_duration: Option<String>,
    #[serde(default)]
    billing_cycle: Option<String>,
}

pub async fn create_order(
    State(m): State<Mock>,
    caller: Caller,
    ids: RequestIds,
    Path(cid): Path<String>,
    PcJson(body): PcJson<OrderBody>,
) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let lines: Vec<OrderLineRequest> = body
        .line_items
        .into_iter()
        .map(|l| OrderLineRequest {
            line_item_number: l.line_item_number,
            offer_id: l.offer_id,
            quantity: l.quantity,
            friendly_name: l.friendly_name,
            partner_id_on_record: l.partner_id_on_record,
            term_duration: l.term_duration,
            billing_cycle: l.billing_cycle,
        })
        .collect();
    let order = m.with(|w| {
        let batch = w.open_batch(ids.cause(Operation::CreateOrder), caller.actor());
        let id = w.create_order_once(&batch, caller.partner, cid, &lines, &ids.request_id)?;
        w.order_of(caller.partner, cid, id).cloned()
    })?;
    created_at(OrderShape(&order), format!("/v1/customers/{cid}/orders/{}", order.id))
}

pub async fn list_orders(State(m): State<Mock>, caller: Caller, Path(cid): Path<String>) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    m.read(|w| {
        let items = w.orders_of(caller.partner, cid)?.into_iter().map(OrderShape).collect();
        Ok(Json(Collection { items, self_uri: format!("/customers/{cid}/orders"), next: None }).into_response())
    })
}

pub async fn get_order(State(m): State<Mock>, caller: Caller, Path((cid, oid)): Path<(String, String)>) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let oid = guid("order id", &oid)?;
    m.read(|w| Ok(Json(OrderShape(w.order_of(caller.partner, cid, oid)?)).into_response()))
}

// ---- subscriptions ---------------------------------------------------------------------

pub async fn list_subscriptions(State(m): State<Mock>, caller: Caller, Path(cid): Path<String>, q: PcQuery) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let order = q.get("order_id").map(|o| guid("order id", o)).transpose()?;
    let mpn = q.get("mpn_id").map(str::to_string);
    let subs: Vec<crate::model::Subscription> = m.read(|w| {
        Ok::<_, crate::model::ModelError>(
            w.subscriptions_of(caller.partner, cid)?
                .into_iter()
                .filter(|s| order.is_none_or(|o| s.order_id == Some(o)))
                .filter(|s| mpn.as_ref().is_none_or(|p| s.partner_id_on_record == *p))
                .cloned()
                .collect(),
        )
    })?;
    let items = subs.iter().map(SubscriptionShape).collect();
    Ok(Json(Collection { items, self_uri: format!("/customers/{cid}/subscriptions"), next: None }).into_response())
}

pub async fn get_subscription(
    State(m): State<Mock>,
    caller: Caller,
    Path((cid, sid)): Path<(String, String)>,
) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let sid = guid("subscription id", &sid)?;
    // Copied out under the lock, rendered after it: the lock is held for a lookup only.
    let sub = m.read(|w| w.subscription_of(caller.partner, cid, sid).cloned())?;
    subscription_reply(&sub)
}

/// The PATCH body: the full subscription as fetched; only these fields are writable, the
/// rest are read-only echoes and ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionBody {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    quantity: Option<i64>,
    #[serde(default)]
    friendly_name: Option<String>,
    #[serde(default)]
    auto_renew_enabled: Option<bool>,
    #[serde(default)]
    attributes: Option<BodyAttributes>,
}

#[derive(Deserialize)]
pub struct BodyAttributes {
    #[serde(default)]
    etag: Option<String>,
}

pub async fn update_subscription(
    State(m): State<Mock>,
    caller: Caller,
    ids: RequestIds,
    IfMatch(if_match): IfMatch,
    Path((cid, sid)): Path<(String, String)>,
    PcJson(body): PcJson<SubscriptionBody>,
) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let sid = guid("subscription id", &sid)?;
    let status = match body.status.as_deref() {
        None => None,
        Some(s) => Some(SubscriptionStatus::parse_wire(s).ok_or_else(|| PcError::unknown_enum("status", s))?),
    };
    let changes = SubscriptionChanges {
        status,
        quantity: body.quantity,
        friendly_name: body.friendly_name,
        auto_renew_enabled: body.auto_renew_enabled,
    };
    // The body's `attributes.etag` counts as `If-Match` when the header is absent: a full body
    // from an older read is stale either way.
    let if_match = if_match.or_else(|| body.attributes.and_then(|a| a.etag).filter(|e| !e.is_empty()));
    let sub = m.with(|w| {
        let batch = w.open_batch(ids.cause(Operation::UpdateSubscription), caller.actor());
        w.update_subscription(&batch, caller.partner, cid, sid, if_match.as_deref(), &changes)?;
        w.subscription_of(caller.partner, cid, sid).cloned()
    })?;
    subscription_reply(&sub)
}

// ---- users and licenses (app+user only) ------------------------------------------------

pub async fn list_users(
    State(m): State<Mock>,
    DelegatedCaller(caller): DelegatedCaller,
    Path(cid): Path<String>,
    q: PcQuery,
    headers: HeaderMap,
) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let kind = format!("users.{}", cid.simple());
    let page = page_request(&q, &headers)?;
    m.read(|w| {
        let c = w.customer_of(caller.partner, cid)?;
        let active: Vec<_> = c.users_in_order().filter(|u| u.state == UserState::Active).collect();
        let offset = page.start(w.seed(), &kind, c.users_in_order().map(|u| (u.id, u.state == UserState::Active)))?;
        let total = active.len();
        if offset > 0 && offset >= total {
            return Err(past_end());
        }
        let shown: Vec<_> = active.iter().skip(offset).take(page.size).collect();
        let ids: Vec<Uuid> = shown.iter().map(|u| u.id).collect();
        let items = shown.iter().map(|u| UserShape { customer: c.id, user: u }).collect();
        let path = format!("/customers/{cid}/users");
        let next = next_link(&path, page.size, (w.seed(), &kind), offset, &ids, total);
        Ok(Json(Collection { items, self_uri: format!("{path}?size={}", page.size), next }).into_response())
    })
}

pub async fn get_user(
    State(m): State<Mock>,
    DelegatedCaller(caller): DelegatedCaller,
    Path((cid, uid)): Path<(String, String)>,
) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let uid = guid("user id", &uid)?;
    m.read(|w| {
        let c = w.customer_of(caller.partner, cid)?;
        Ok(Json(UserShape { customer: c.id, user: w.user_of(caller.partner, cid, uid)? }).into_response())
    })
}

pub async fn delete_user(
    State(m): State<Mock>,
    DelegatedCaller(caller): DelegatedCaller,
    ids: RequestIds,
    Path((cid, uid)): Path<(String, String)>,
) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let uid = guid("user id", &uid)?;
    m.with(|w| {
        let batch = w.open_batch(ids.cause(Operation::DeleteUser), caller.actor());
        w.delete_user(&batch, caller.partner, cid, uid)?;
        Ok(StatusCode::NO_CONTENT.into_response())
    })
}

pub async fn user_licenses(
    State(m): State<Mock>,
    DelegatedCaller(caller): DelegatedCaller,
    Path((cid, uid)): Path<(String, String)>,
) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let uid = guid("user id", &uid)?;
    m.read(|w| {
        let c = w.customer_of(caller.partner, cid)?;
        let u = w.user_of(caller.partner, cid, uid)?;
        let items = u.licenses.iter().map(|sku| LicenseShape { world: w, customer: c, sku: *sku }).collect();
        let self_uri = format!("/customers/{cid}/users/{uid}/licenses");
        Ok(Json(Collection { items, self_uri, next: None }).into_response())
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseUpdateBody {
    #[serde(default)]
    licenses_to_assign: Option<Vec<AssignmentBody>>,
    #[serde(default)]
    licenses_to_remove: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssignmentBody {
    sku_id: String,
    #[serde(default)]
    excluded_plans: Option<Vec<String>>,
}

/// POST .../licenseupdates: assign and remove in one call, atomically.
pub async fn update_licenses(
    State(m): State<Mock>,
    DelegatedCaller(caller): DelegatedCaller,
    ids: RequestIds,
    Path((cid, uid)): Path<(String, String)>,
    PcJson(body): PcJson<LicenseUpdateBody>,
) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    let uid = guid("user id", &uid)?;
    let assignments = body.licenses_to_assign.unwrap_or_default();
    let assign: Vec<Uuid> = assignments.iter().map(|a| guid("skuId", &a.sku_id)).collect::<Result<_, _>>()?;
    let removals = body.licenses_to_remove.unwrap_or_default();
    let remove: Vec<Uuid> = removals.iter().map(|s| guid("skuId", s)).collect::<Result<_, _>>()?;
    m.with(|w| {
        let batch = w.open_batch(ids.cause(Operation::UpdateLicenses), caller.actor());
        w.update_licenses(&batch, caller.partner, cid, uid, &assign, &remove)
    })?;
    let assigned: Vec<_> =
        assign.iter().zip(&assignments).map(|(sku, a)| (*sku, a.excluded_plans.as_deref())).collect();
    Ok((StatusCode::CREATED, Json(LicenseUpdateShape { assigned: &assigned, removed: &remove })).into_response())
}

pub async fn subscribed_skus(
    State(m): State<Mock>,
    DelegatedCaller(caller): DelegatedCaller,
    Path(cid): Path<String>,
) -> Reply {
    let cid = guid("customer tenant id", &cid)?;
    m.read(|w| {
        let skus = w.subscribed_skus(caller.partner, cid)?;
        let items = skus.iter().map(|sku| SubscribedSkuShape { world: w, sku }).collect();
        Ok(Json(Collection { items, self_uri: format!("/customers/{cid}/subscribedskus"), next: None }).into_response())
    })
}
