//! The Partner Center dashboard, mocked: the article's manual procedure (add subscriptions,
//! manage a user's licenses, suspend the old subscription) as server-rendered pages over the
//! same model and rules as the REST API, with a clock control and the judge's red banner.
//!
//! Plain HTML forms (no script, no CDN): every page works with the keyboard and every URL is
//! bookmarkable. Actions go through the same `World` methods as the REST handlers, as requests
//! of the first partner (the one "signed in"), so they appear in the audit log like API calls
//! and anything the API would refuse is refused here with Partner Center's error text.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;
use uuid::Uuid;

use super::error::PcError;
use super::extract::RequestIds;
use crate::Mock;
use crate::invariants;
use crate::model::{
    Actor, Channel, Customer, OrderLineRequest, Subscription, SubscriptionChanges, SubscriptionStatus, World,
};

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1b1b1b;background:#f5f5f5}
header{background:#243a5e;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.5rem;align-items:center;flex-wrap:wrap}
header a{color:#fff} header .who{margin-left:auto;font-size:.9rem}
main{max-width:1040px;margin:1rem auto;padding:0 1rem}
section{background:#fff;border:1px solid #ddd;border-radius:4px;padding:1rem;margin-bottom:1rem}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
.banner{background:#b00020;color:#fff;padding:.8rem 1.2rem;font-weight:600}
.ok{background:#e6f4ea;color:#1a7f37;padding:.5rem 1.2rem}
.error{background:#fde7e9;border:1px solid #b00020;color:#b00020;padding:.6rem;border-radius:4px;margin:.5rem 0}
.confirm{background:#e6f4ea;border:1px solid #1a7f37;padding:.6rem;border-radius:4px}
.muted{color:#666} a:focus,button:focus,input:focus,select:focus{outline:3px solid #ffb900;outline-offset:1px}
button{background:#0067b8;color:#fff;border:0;padding:.45rem 1rem;border-radius:2px;cursor:pointer;font-size:1rem}
label{display:block;margin:.4rem 0}
"#;

/// The partner the dashboard acts as: the first one of the world.
fn signed_in(w: &World) -> Result<(Uuid, String), PcError> {
    w.partners()
        .first()
        .map(|p| (p.id, p.name.clone()))
        .ok_or_else(|| PcError::invalid_input("The mock has no partner: load a scenario first (POST /admin/scenario)."))
}

fn date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// What Partner Center's subscription list says under a subscription's name.
pub fn status_line(s: &Subscription, deprovision_days: i64) -> String {
    let gone = s.deprovision_at(deprovision_days).map(date).unwrap_or_default();
    match s.status {
        SubscriptionStatus::Active if s.auto_renew_enabled => format!("Auto renews on {}", date(s.commitment_end_date)),
        SubscriptionStatus::Active => format!("Expires on {}", date(s.commitment_end_date)),
        SubscriptionStatus::Suspended => format!("Suspended; de-provisioned on {gone}"),
        SubscriptionStatus::Expired => format!("Expired on {}; de-provisioned on {gone}", date(s.commitment_end_date)),
        SubscriptionStatus::Deleted => "De-provisioned".to_string(),
    }
}

fn channel(s: &Subscription, w: &World, partner: Uuid) -> String {
    match s.channel {
        Channel::Csp(p) if p == partner => "CSP (you)".to_string(),
        Channel::Csp(p) => format!("CSP ({})", w.partner(p).map_or("another partner", |p| p.name.as_str())),
        Channel::Open => "Open (volume licensing)".to_string(),
        Channel::Direct => "Direct".to_string(),
    }
}

/// The frame of every page: navigation, the virtual date, the clock, and the judge's banner.
fn page(w: &World, title: &str, body: Markup) -> Markup {
    let verdict = invariants::check(w.events());
    let partner = w.partners().first().map(|p| p.name.clone()).unwrap_or_default();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · Partner Center (mock)" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { "Partner Center (mock)" }
                    a href="/" { "Dashboard" }
                    a href="/customers" { "Customers" }
                    a href="/audit" { "Audit log" }
                    span class="who" { "Signed in as " (partner) " · " span id="virtual-date" { (w.now().format("%Y-%m-%d %H:%M UTC")) } }
                }
                @if verdict.ok {
                    div class="ok" id="invariants" role="status" { "Every licensed user still has an effective license." }
                } @else {
                    div class="banner" id="invariants" role="alert" {
                        (verdict.violations.len()) " violation(s): "
                        @if let Some(v) = verdict.violations.first() { (v.message) }
                        " " a href="/audit" style="color:#fff" { "See the audit log" }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

fn html_page(markup: Markup) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response()
}

/// A page answered with an error status (a refused form keeps Partner Center's status).
fn with_status(status: StatusCode, mut r: Response) -> Response {
    *r.status_mut() = status;
    r
}

fn html_error(status: StatusCode, w: &World, message: &str) -> Response {
    with_status(status, html_page(page(w, "Not found", html! { p class="error" { (message) } })))
}

/// A SKU's product name, for display.
fn sku_name(w: &World, sku: &Uuid) -> String {
    w.catalog.by_sku(*sku).map_or_else(|| sku.to_string(), |o| o.name.clone())
}

fn clock_form() -> Markup {
    html! {
        form method="post" action="/clock" {
            label { "Move the virtual clock forward by "
                input type="number" name="days" min="1" max="3650" value="1" required aria-label="days";
                " day(s) " button type="submit" { "Advance" } }
        }
    }
}

/// GET /
pub async fn dashboard(State(m): State<Mock>) -> Response {
    m.read(|w| {
        let Ok((partner, name)) = signed_in(w) else {
            return html_page(page(w, "Dashboard", html! { p class="error" { "No partner: load a scenario first." } }));
        };
        let customers: Vec<&Customer> = w.all_customers().filter(|c| c.is_customer_of(partner)).collect();
        let prospects = w.all_customers().filter(|c| !c.is_customer_of(partner)).count();
        let expiring: Vec<(&Customer, &Subscription)> = customers
            .iter()
            .flat_map(|c| c.subscriptions_in_order().into_iter().map(move |s| (*c, s)))
            .filter(|(_, s)| s.status == SubscriptionStatus::Active && !s.auto_renew_enabled)
            .collect();
        html_page(page(
            w,
            "Dashboard",
            html! {
                section {
                    p { "Partner: " strong { (name) } " · scenario " code { (w.scenario) } }
                    p { (customers.len()) " customer(s), " (prospects) " other tenant(s) not yet your customers." }
                    (clock_form())
                }
                section {
                    h2 { "Subscriptions that will not renew" }
                    @if expiring.is_empty() { p class="muted" { "None." } }
                    table {
                        thead { tr { th { "Customer" } th { "Subscription" } th { "Status" } } }
                        tbody {
                            @for (c, s) in &expiring {
                                tr {
                                    td { a href={ "/customers/" (c.id) } { (c.company_name) } }
                                    td { a href={ "/customers/" (c.id) "/subscriptions/" (s.id) } { (s.offer_name) } }
                                    td { (status_line(s, w.settings.deprovision_days)) }
                                }
                            }
                        }
                    }
                }
            },
        ))
    })
}

#[derive(Deserialize)]
pub struct ClockForm {
    days: String,
}

/// POST /clock: days forward, then back where the user was.
pub async fn clock(State(m): State<Mock>, headers: HeaderMap, Form(f): Form<ClockForm>) -> Response {
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.find("://").map(|i| &r[i + 3..]).and_then(|rest| rest.find('/').map(|j| rest[j..].to_string())))
        .filter(|p| p.starts_with('/') && !p.starts_with("//"))
        .unwrap_or_else(|| "/".to_string());
    let days = f.days.trim().parse::<i64>().ok().filter(|d| (1..=3650).contains(d));
    let Some(days) = days else {
        return m.read(|w| {
            let body = html! { p class="error" { "Days must be a whole number from 1 to 3650." } (clock_form()) };
            with_status(StatusCode::BAD_REQUEST, html_page(page(w, "Clock", body)))
        });
    };
    m.with(|w| {
        let to = w.now() + Duration::days(days);
        let _ = w.advance_to(to);
    });
    Redirect::to(&back).into_response()
}

#[derive(Deserialize)]
pub struct Search {
    #[serde(default)]
    q: String,
}

/// GET /customers?q=
pub async fn customers(State(m): State<Mock>, Query(s): Query<Search>) -> Response {
    m.read(|w| {
        let q = s.q.trim().to_lowercase();
        let partner = signed_in(w).map(|p| p.0).ok();
        let rows: Vec<&Customer> = w
            .all_customers()
            .filter(|c| q.is_empty() || c.company_name.to_lowercase().contains(&q) || c.domain.to_lowercase().contains(&q))
            .collect();
        html_page(page(
            w,
            "Customers",
            html! {
                section {
                    form method="get" action="/customers" role="search" {
                        label { "Search customers " input type="search" name="q" value=(s.q) aria-label="Search customers"; " " button type="submit" { "Search" } }
                    }
                    table {
                        thead { tr { th { "Company" } th { "Domain" } th { "Relationship" } th { "Subscriptions" } } }
                        tbody {
                            @for c in &rows {
                                tr {
                                    td { a href={ "/customers/" (c.id) } { (c.company_name) } }
                                    td { (c.domain) }
                                    td { @if partner.is_some_and(|p| c.is_customer_of(p)) { "Customer" } @else { "Not yet your customer" } }
                                    td { (c.subscriptions.len()) }
                                }
                            }
                        }
                    }
                    @if rows.is_empty() { p class="muted" { "No customer matches." } }
                }
            },
        ))
    })
}

fn parse_id(s: &str) -> Option<Uuid> {
    s.parse().ok()
}

/// GET /customers/{id}
pub async fn customer(State(m): State<Mock>, Path(cid): Path<String>) -> Response {
    m.read(|w| {
        let Some(c) = parse_id(&cid).and_then(|id| w.customer_any(id)) else {
            return html_error(StatusCode::NOT_FOUND, w, "No such customer.");
        };
        let Ok((partner, _)) = signed_in(w) else {
            return html_error(StatusCode::NOT_FOUND, w, "No partner.");
        };
        let mine = c.is_customer_of(partner);
        html_page(page(
            w,
            &c.company_name,
            html! {
                @if !mine {
                    section {
                        p class="error" { (c.company_name) " is not your customer yet: you can neither buy for it nor manage its users." }
                        p { "Send its global admin your invitation link: " a id="invitation" href=(w.relationship_request_url(partner)) { (w.relationship_request_url(partner)) } }
                    }
                }
                section {
                    h2 { "Subscriptions" }
                    @if mine { p { a href={ "/customers/" (c.id) "/add-subscriptions" } { "Add subscriptions" } } }
                    table {
                        thead { tr { th { "Subscription" } th { "Licenses" } th { "Status" } th { "Channel" } } }
                        tbody {
                            @for s in c.subscriptions_in_order() {
                                tr data-subscription=(s.id) {
                                    td { a href={ "/customers/" (c.id) "/subscriptions/" (s.id) } { (s.offer_name) } }
                                    td { (s.quantity) }
                                    td { (status_line(s, w.settings.deprovision_days)) }
                                    td { (channel(s, w, partner)) }
                                }
                            }
                        }
                    }
                }
                section {
                    h2 { "Users and licenses" }
                    table {
                        thead { tr { th { "User" } th { "Licenses" } th {} } }
                        tbody {
                            @for u in c.users_in_order() {
                                tr data-user=(u.user_principal_name) {
                                    td { (u.display_name()) br; span class="muted" { (u.user_principal_name) } }
                                    td {
                                        @if u.licenses.is_empty() { span class="muted" { "No license" } }
                                        @for l in &u.licenses { (sku_name(w, l)) br; }
                                    }
                                    td { @if mine { a href={ "/customers/" (c.id) "/users/" (u.id) "/licenses" } { "Manage licenses" } } }
                                }
                            }
                        }
                    }
                }
            },
        ))
    })
}

fn add_form(w: &World, c: &Customer, error: Option<&str>) -> Markup {
    let now = w.now();
    html! {
        @if let Some(e) = error { p class="error" role="alert" { (e) } }
        section {
            form method="post" action={ "/customers/" (c.id) "/add-subscriptions" } {
                label { "Offer "
                    select name="offer" required aria-label="Offer" {
                        @for o in w.catalog.offers().filter(|o| o.is_available_for_purchase(now)) {
                            option value=(o.id) { (o.name) }
                        }
                    }
                }
                label { "Number of licenses " input type="number" name="quantity" min="1" value="1" required aria-label="Number of licenses"; }
                button type="submit" { "Submit" }
            }
        }
    }
}

/// GET /customers/{id}/add-subscriptions
pub async fn add_subscriptions(State(m): State<Mock>, Path(cid): Path<String>) -> Response {
    m.read(|w| match parse_id(&cid).and_then(|id| w.customer_any(id)) {
        Some(c) => html_page(page(w, &format!("Add subscriptions: {}", c.company_name), add_form(w, c, None))),
        None => html_error(StatusCode::NOT_FOUND, w, "No such customer."),
    })
}

#[derive(Deserialize)]
pub struct AddForm {
    offer: String,
    quantity: String,
}

/// POST /customers/{id}/add-subscriptions: an order, as `POST /v1/customers/{id}/orders`.
pub async fn place_order(
    State(m): State<Mock>,
    ids: RequestIds,
    Path(cid): Path<String>,
    Form(f): Form<AddForm>,
) -> Response {
    m.with(|w| {
        let Some(id) = parse_id(&cid).filter(|id| w.customer_any(*id).is_some()) else {
            return html_error(StatusCode::NOT_FOUND, w, "No such customer.");
        };
        let result = signed_in(w).and_then(|(partner, _)| {
            let quantity = f
                .quantity
                .trim()
                .parse::<i64>()
                .map_err(|_| PcError::invalid_input("The number of licenses must be a whole number."))?;
            let line = OrderLineRequest {
                line_item_number: 0,
                offer_id: f.offer.clone(),
                quantity,
                friendly_name: None,
                partner_id_on_record: None,
            };
            let batch = w.open_batch(ids.cause("createOrder"), Actor::Partner(partner));
            w.create_order(&batch, partner, id, &[line]).map_err(PcError::from)
        });
        match result {
            Ok(_) => Redirect::to(&format!("/customers/{id}")).into_response(),
            Err(e) => {
                let Some(c) = w.customer_any(id) else {
                    return html_error(StatusCode::NOT_FOUND, w, "No such customer.");
                };
                let title = format!("Add subscriptions: {}", c.company_name);
                with_status(e.status, html_page(page(w, &title, add_form(w, c, Some(&e.description)))))
            }
        }
    })
}

fn licenses_form(w: &World, c: &Customer, user: Uuid, error: Option<&str>) -> Markup {
    let partner = signed_in(w).map(|p| p.0).unwrap_or_default();
    let skus = w.subscribed_skus(partner, c.id).unwrap_or_default();
    let held: Vec<Uuid> = c.users.get(&user).map(|u| u.licenses.clone()).unwrap_or_default();
    let name = c.users.get(&user).map(|u| u.user_principal_name.clone()).unwrap_or_default();
    html! {
        @if let Some(e) = error { p class="error" role="alert" { (e) } }
        section {
            p { "Licenses of " strong { (name) } ". Clear a license to remove it, tick one to assign it; Submit applies both in one change." }
            form method="post" action={ "/customers/" (c.id) "/users/" (user) "/licenses" } {
                @for s in &skus {
                    label {
                        input type="checkbox" name="sku" value=(s.sku_id) checked[held.contains(&s.sku_id)];
                        " " (s.name) " "
                        span class="muted" { "(" (s.active_units.saturating_sub(s.consumed_units)) " of " (s.active_units) " available)" }
                    }
                }
                input type="hidden" name="sku" value="";
                button type="submit" { "Submit" }
            }
        }
    }
}

/// GET /customers/{id}/users/{user}/licenses
pub async fn manage_licenses(State(m): State<Mock>, Path((cid, uid)): Path<(String, String)>) -> Response {
    m.read(|w| {
        let c = parse_id(&cid).and_then(|id| w.customer_any(id));
        match (c, parse_id(&uid)) {
            (Some(c), Some(u)) if c.users.contains_key(&u) => {
                html_page(page(w, &format!("Manage licenses: {}", c.company_name), licenses_form(w, c, u, None)))
            }
            _ => html_error(StatusCode::NOT_FOUND, w, "No such user."),
        }
    })
}

/// POST /customers/{id}/users/{user}/licenses: one license update, as `licenseupdates`.
pub async fn update_licenses(
    State(m): State<Mock>,
    ids: RequestIds,
    Path((cid, uid)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    // Repeated `sku` fields (one per ticked box): read as pairs, every one kept.
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let ticked: Vec<Uuid> =
        pairs.iter().filter(|(k, _)| k == "sku").filter_map(|(_, v)| v.parse::<Uuid>().ok()).collect();
    m.with(|w| {
        let (Some(cid), Some(uid)) = (parse_id(&cid), parse_id(&uid)) else {
            return html_error(StatusCode::NOT_FOUND, w, "No such user.");
        };
        let Some(held) = w.customer_any(cid).and_then(|c| c.users.get(&uid)).map(|u| u.licenses.clone()) else {
            return html_error(StatusCode::NOT_FOUND, w, "No such user.");
        };
        let assign: Vec<Uuid> = ticked.iter().copied().filter(|s| !held.contains(s)).collect();
        let remove: Vec<Uuid> = held.iter().copied().filter(|s| !ticked.contains(s)).collect();
        let result = if assign.is_empty() && remove.is_empty() {
            Ok(())
        } else {
            signed_in(w).and_then(|(partner, _)| {
                let batch = w.open_batch(ids.cause("updateLicenses"), Actor::Partner(partner));
                w.update_licenses(&batch, partner, cid, uid, &assign, &remove).map_err(PcError::from)
            })
        };
        let Some(c) = w.customer_any(cid) else { return html_error(StatusCode::NOT_FOUND, w, "No such customer.") };
        let upn = c.users.get(&uid).map(|u| u.user_principal_name.clone()).unwrap_or_default();
        match result {
            Ok(()) => html_page(page(
                w,
                "Licenses updated",
                html! {
                    section class="confirm" role="status" id="confirmation" {
                        p { "Your changes to " strong { (upn) } " were saved." }
                        @if assign.is_empty() && remove.is_empty() { p { "Nothing changed." } }
                        @for s in &assign { p { "Assigned: " (sku_name(w, s)) } }
                        @for s in &remove { p { "Removed: " (sku_name(w, s)) } }
                    }
                    p { a href={ "/customers/" (cid) } { "Back to " (c.company_name) } }
                },
            )),
            Err(e) => {
                let title = format!("Manage licenses: {}", c.company_name);
                with_status(e.status, html_page(page(w, &title, licenses_form(w, c, uid, Some(&e.description)))))
            }
        }
    })
}

fn subscription_body(w: &World, c: &Customer, s: &Subscription, error: Option<&str>, saved: bool) -> Markup {
    let partner = signed_in(w).map(|p| p.0).unwrap_or_default();
    html! {
        @if let Some(e) = error { p class="error" role="alert" { (e) } }
        @if saved { p class="confirm" role="status" { "Saved." } }
        section {
            table {
                tr { th { "Customer" } td { a href={ "/customers/" (c.id) } { (c.company_name) } } }
                tr { th { "Offer" } td { (s.offer_name) } }
                tr { th { "Licenses" } td { (s.quantity) } }
                tr { th { "Channel" } td { (channel(s, w, partner)) } }
                tr { th { "Status" } td id="status-line" { (status_line(s, w.settings.deprovision_days)) } }
                tr { th { "Term ends" } td { (date(s.commitment_end_date)) } }
                @if let Some(t) = s.deprovision_at(w.settings.deprovision_days) {
                    tr { th { "De-provisioned on" } td id="deprovision-date" { (date(t)) } }
                }
            }
        }
        section {
            form method="post" action={ "/customers/" (c.id) "/subscriptions/" (s.id) } {
                label { "Status "
                    select name="status" aria-label="Status" {
                        option value="active" selected[s.status == SubscriptionStatus::Active] { "Active" }
                        option value="suspended" selected[s.status == SubscriptionStatus::Suspended] { "Suspended" }
                    }
                }
                button type="submit" { "Submit" }
            }
        }
    }
}

/// GET /customers/{id}/subscriptions/{sid}
pub async fn subscription(State(m): State<Mock>, Path((cid, sid)): Path<(String, String)>) -> Response {
    m.read(|w| {
        let c = parse_id(&cid).and_then(|id| w.customer_any(id));
        let s = c.zip(parse_id(&sid)).and_then(|(c, sid)| c.subscriptions.get(&sid).map(|s| (c, s)));
        match s {
            Some((c, s)) => html_page(page(w, &s.offer_name, subscription_body(w, c, s, None, false))),
            None => html_error(StatusCode::NOT_FOUND, w, "No such subscription."),
        }
    })
}

#[derive(Deserialize)]
pub struct StatusForm {
    status: String,
}

/// POST /customers/{id}/subscriptions/{sid}: a status change, as PATCH on the subscription.
pub async fn change_status(
    State(m): State<Mock>,
    ids: RequestIds,
    Path((cid, sid)): Path<(String, String)>,
    Form(f): Form<StatusForm>,
) -> Response {
    m.with(|w| {
        let (Some(cid), Some(sid)) = (parse_id(&cid), parse_id(&sid)) else {
            return html_error(StatusCode::NOT_FOUND, w, "No such subscription.");
        };
        let result = signed_in(w).and_then(|(partner, _)| {
            let status =
                SubscriptionStatus::parse_wire(&f.status).ok_or_else(|| PcError::unknown_enum("status", &f.status))?;
            let changes = SubscriptionChanges {
                status: Some(status),
                quantity: None,
                friendly_name: None,
                auto_renew_enabled: None,
            };
            let batch = w.open_batch(ids.cause("updateSubscription"), Actor::Partner(partner));
            w.update_subscription(&batch, partner, cid, sid, None, &changes).map_err(PcError::from)
        });
        let Some((c, s)) = w.customer_any(cid).and_then(|c| c.subscriptions.get(&sid).map(|s| (c, s))) else {
            return html_error(StatusCode::NOT_FOUND, w, "No such subscription.");
        };
        match result {
            Ok(()) => html_page(page(w, &s.offer_name, subscription_body(w, c, s, None, true))),
            Err(e) => with_status(
                e.status,
                html_page(page(w, &s.offer_name, subscription_body(w, c, s, Some(&e.description), false))),
            ),
        }
    })
}

#[derive(Deserialize)]
pub struct AuditFilter {
    #[serde(default)]
    customer: String,
    #[serde(default)]
    kind: String,
}

/// GET /audit?customer=&kind=
pub async fn audit(State(m): State<Mock>, Query(f): Query<AuditFilter>) -> Response {
    m.read(|w| {
        let customer = parse_id(f.customer.trim());
        let kind = f.kind.trim().to_lowercase();
        let rows: Vec<String> = w
            .events()
            .iter()
            .rev()
            .filter(|e| customer.is_none_or(|c| e.customer == Some(c)))
            .filter(|e| kind.is_empty() || e.kind.name().to_lowercase().contains(&kind))
            .take(500)
            .map(ToString::to_string)
            .collect();
        html_page(page(
            w,
            "Audit log",
            html! {
                section {
                    form method="get" action="/audit" {
                        label { "Customer " select name="customer" aria-label="Customer" {
                            option value="" { "All" }
                            @for c in w.all_customers() { option value=(c.id) selected[customer == Some(c.id)] { (c.company_name) } }
                        } }
                        label { "Event kind contains " input type="text" name="kind" value=(f.kind) aria-label="Event kind"; }
                        button type="submit" { "Filter" }
                    }
                    p class="muted" { "Newest first; at most 500 lines." }
                    pre style="white-space:pre-wrap;font-size:.85rem" { @for r in &rows { (r) "\n" } }
                }
            },
        ))
    })
}
