//! The Partner Center dashboard, mocked: the article's manual procedure (add subscriptions,
//! manage a user's licenses, suspend the old subscription) as server-rendered pages over the
//! same model and rules as the REST API, with a clock control and the judge's red banner.
//!
//! Plain HTML forms (no script, no CDN): every page works with the keyboard and every URL is
//! bookmarkable. Reads and actions go through the same partner-scoped `World` methods as the
//! REST handlers, as the signed-in partner (the scenario's first, or the one picked with the
//! switcher, kept in a cookie): a partner sees only its own customers and the subscriptions it
//! sold, as the API shows them. Actions appear in the audit log like API calls, and anything
//! the API would refuse is refused here with Partner Center's error text.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;
use uuid::Uuid;

mod audit;
mod customers;
mod licenses;
mod subscriptions;

pub use audit::audit;
pub use customers::{add_subscriptions, customer, customers, place_order};
pub use licenses::{manage_licenses, update_licenses};
pub use subscriptions::{change_status, subscription};

use super::error::PcError;
use crate::Mock;
use crate::model::{Channel, Customer, Subscription, SubscriptionStatus, World};

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

/// The cookie that remembers which partner is signed in.
const PARTNER_COOKIE: &str = "skuswap-partner";

/// The partner the browser asked to be signed in as (from its cookie), if any.
#[derive(Debug, Clone, Copy, Default)]
pub struct Session(Option<Uuid>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let partner = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == PARTNER_COOKIE)
            .and_then(|(_, v)| v.parse().ok());
        Ok(Session(partner))
    }
}

/// Who the dashboard acts as.
#[derive(Debug, Clone)]
pub(super) struct Me {
    pub(super) id: Uuid,
    pub(super) name: String,
}

impl Session {
    /// The session's partner if it still exists, else the world's first.
    fn me(self, w: &World) -> Result<Me, PcError> {
        self.0
            .and_then(|id| w.partner(id))
            .or_else(|| w.partners().first())
            .map(|p| Me { id: p.id, name: p.name.clone() })
            .ok_or_else(|| {
                PcError::invalid_input("The mock has no partner: load a scenario first (POST /admin/scenario).")
            })
    }
}

#[derive(Deserialize)]
pub struct SignInForm {
    partner: String,
}

/// POST /signin: switch the signed-in partner (a cookie; the world does not change).
pub async fn sign_in(State(m): State<Mock>, Form(f): Form<SignInForm>) -> Response {
    m.read(|w| match f.partner.trim().parse::<Uuid>().ok().and_then(|id| w.partner(id)) {
        Some(p) => {
            let cookie = format!("{PARTNER_COOKIE}={}; Path=/; SameSite=Strict; HttpOnly", p.id);
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        None => html_error(StatusCode::BAD_REQUEST, w, None, "No such partner."),
    })
}

pub(super) fn date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// What Partner Center's subscription list says under a subscription's name.
pub fn status_line(s: &Subscription, deprovision_days: i64) -> String {
    let gone = s.deprovision_at(deprovision_days).map(date).unwrap_or_default();
    if s.migration.is_some() {
        return "Migrating to new commerce; seats kept in service until it completes".to_string();
    }
    match s.status {
        SubscriptionStatus::Active if s.auto_renew_enabled => format!("Auto renews on {}", date(s.commitment_end_date)),
        SubscriptionStatus::Active => format!("Expires on {}", date(s.commitment_end_date)),
        SubscriptionStatus::Suspended => format!("Suspended; de-provisioned on {gone}"),
        SubscriptionStatus::Expired => format!("Expired on {}; de-provisioned on {gone}", date(s.commitment_end_date)),
        SubscriptionStatus::Deleted => "De-provisioned".to_string(),
    }
}

pub(super) fn channel(s: &Subscription, w: &World, partner: Uuid) -> String {
    match s.channel {
        Channel::Csp(p) if p == partner => "CSP (you)".to_string(),
        Channel::Csp(p) => format!("CSP ({})", w.partner(p).map_or("another partner", |p| p.name.as_str())),
        Channel::Open => "Open (volume licensing)".to_string(),
        Channel::Direct => "Direct".to_string(),
    }
}

/// The frame of every page: navigation, who is signed in (and the switcher when the scenario
/// has several partners), the virtual date, and the judge's banner.
pub(super) fn page(w: &World, me: Option<&Me>, title: &str, body: Markup) -> Markup {
    let (violations, first) = w.verdict_glance();
    let partner = me.map(|m| m.name.clone()).unwrap_or_default();
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
                    @if w.partners().len() > 1 {
                        form method="post" action="/signin" id="switch-partner" {
                            label { "Partner "
                                select name="partner" aria-label="Partner" {
                                    @for p in w.partners() { option value=(p.id) selected[me.is_some_and(|m| m.id == p.id)] { (p.name) } }
                                }
                                " " button type="submit" { "Switch" } }
                        }
                    }
                }
                @if violations == 0 {
                    div class="ok" id="invariants" role="status" { "Every licensed user still has an effective license." }
                } @else {
                    div class="banner" id="invariants" role="alert" {
                        (violations) " violation(s): "
                        @if let Some(m) = &first { (m) }
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

pub(super) fn html_page(markup: Markup) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.into_string()).into_response()
}

/// A page answered with an error status (a refused form keeps Partner Center's status).
pub(super) fn with_status(status: StatusCode, mut r: Response) -> Response {
    *r.status_mut() = status;
    r
}

pub(super) fn html_error(status: StatusCode, w: &World, me: Option<&Me>, message: &str) -> Response {
    with_status(status, html_page(page(w, me, "Not found", html! { p class="error" { (message) } })))
}

/// A SKU's product name, for display.
pub(super) fn sku_name(w: &World, sku: &Uuid) -> String {
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
pub async fn dashboard(State(m): State<Mock>, session: Session) -> Response {
    m.read(|w| {
        let Ok(me) = session.me(w) else {
            let body = html! { p class="error" { "No partner: load a scenario first." } };
            return html_page(page(w, None, "Dashboard", body));
        };
        let customers: Vec<&Customer> = w.customers_page(me.id, 0, usize::MAX).0;
        let expiring: Vec<(&Customer, &Subscription)> = customers
            .iter()
            .flat_map(|c| w.subscriptions_of(me.id, c.id).unwrap_or_default().into_iter().map(move |s| (*c, s)))
            .filter(|(_, s)| s.status == SubscriptionStatus::Active && !s.auto_renew_enabled)
            .collect();
        let invitation = w.relationship_request_url(me.id);
        html_page(page(
            w,
            Some(&me),
            "Dashboard",
            html! {
                section {
                    p { "Partner: " strong { (me.name) } " · scenario " code { (w.scenario) } }
                    p { (customers.len()) " customer(s). To add one, send its global admin your invitation link: "
                        a id="invitation" href=(invitation) { (invitation) } }
                    (clock_form())
                }
                (migrations_section(w, me.id))
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

/// Every NCE migration of this partner: in progress first, then the most recent.
fn migrations_section(w: &World, partner: Uuid) -> Markup {
    let mut mine: Vec<&crate::model::migrations::Migration> =
        w.all_migrations().filter(|m| m.partner == partner).collect();
    mine.sort_by_key(|m| {
        (m.status != crate::model::migrations::MigrationStatus::Processing, std::cmp::Reverse(m.started))
    });
    let name = |c: Uuid| w.customer_any(c).map_or_else(|| c.to_string(), |c| c.company_name.clone());
    html! {
        section id="migrations" {
            h2 { "New-commerce migrations" }
            @if mine.is_empty() { p class="muted" { "None." } }
            @else {
                table {
                    thead { tr { th { "Customer" } th { "Legacy subscription" } th { "Status" } th { "Started" } th { "Done or due" } th { "NCE subscription" } } }
                    tbody {
                        @for m in &mine {
                            tr {
                                td { a href={ "/customers/" (m.customer) } { (name(m.customer)) } }
                                td { a href={ "/customers/" (m.customer) "/subscriptions/" (m.current_subscription_id) } { (m.current_subscription_id) } }
                                td class="migration-status" { (m.status.as_str()) @if let Some(e) = &m.error { br; small { (e) } } }
                                td { (date(m.started)) }
                                td { (date(m.completed.unwrap_or(m.due))) }
                                td { @if let Some(n) = m.nce_subscription_id {
                                    a href={ "/customers/" (m.customer) "/subscriptions/" (n) } { (n) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct ClockForm {
    days: String,
}

/// POST /clock: days forward, then back where the user was.
pub async fn clock(State(m): State<Mock>, session: Session, headers: HeaderMap, Form(f): Form<ClockForm>) -> Response {
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
            with_status(StatusCode::BAD_REQUEST, html_page(page(w, session.me(w).ok().as_ref(), "Clock", body)))
        });
    };
    m.with(|w| {
        let to = w.now() + Duration::days(days);
        let _ = w.advance_to(to);
    });
    Redirect::to(&back).into_response()
}

pub(super) fn parse_id(s: &str) -> Option<Uuid> {
    s.parse().ok()
}

/// The signed-in partner and one of its customers, or the page that says why not.
pub(super) fn my_customer<'w>(w: &'w World, session: Session, cid: &str) -> Result<(Me, &'w Customer), Box<Response>> {
    let me = session.me(w).map_err(|_| Box::new(html_error(StatusCode::NOT_FOUND, w, None, "No partner.")))?;
    match parse_id(cid).and_then(|id| w.customer_of(me.id, id).ok()) {
        Some(c) => Ok((me, c)),
        None => Err(Box::new(html_error(StatusCode::NOT_FOUND, w, Some(&me), "No such customer."))),
    }
}
