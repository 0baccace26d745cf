//! The dashboard's subscription page: its details and a status change (suspend, reactivate),
//! as PATCH on the subscription.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::{Me, Session, channel, date, html_error, html_page, my_customer, page, parse_id, status_line, with_status};
use crate::Mock;
use crate::http::error::PcError;
use crate::http::extract::RequestIds;
use crate::http::operations::Operation;
use crate::model::{Actor, Customer, Subscription, SubscriptionChanges, SubscriptionStatus, World};

fn subscription_body(w: &World, me: &Me, c: &Customer, s: &Subscription, error: Option<&str>, saved: bool) -> Markup {
    html! {
        @if let Some(e) = error { p class="error" role="alert" { (e) } }
        @if saved { p class="confirm" role="status" { "Saved." } }
        section {
            table {
                tr { th { "Customer" } td { a href={ "/customers/" (c.id) } { (c.company_name) } } }
                tr { th { "Offer" } td { (s.offer_name) } }
                tr { th { "Licenses" } td { (s.quantity) } }
                tr { th { "Channel" } td { (channel(s, w, me.id)) } }
                tr { th { "Status" } td id="status-line" { (status_line(s, w.settings.deprovision_days)) } }
                tr { th { "Term ends" } td { (date(s.commitment_end_date)) } }
                tr { th { "Commerce" } td id="commerce" { @match &s.nce {
                    None => "Legacy",
                    Some(n) => { "New commerce · " (n.term.term_duration.as_str()) ", billed "
                        (n.term.billing_cycle.as_str().to_ascii_lowercase()) " · seats reducible until "
                        (date(n.cancellation_allowed_until)) }
                } } }
                @if let Some(from) = s.nce.as_ref().and_then(|n| n.migrated_from) {
                    tr { th { "Migrated from" } td { a href={ "/customers/" (c.id) "/subscriptions/" (from) } { (from) } } }
                }
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

/// The signed-in partner's customer and a subscription it sold, or the page that says why not.
fn my_subscription<'w>(
    w: &'w World,
    session: Session,
    cid: &str,
    sid: &str,
) -> Result<(Me, &'w Customer, &'w Subscription), Box<Response>> {
    let (me, c) = my_customer(w, session, cid)?;
    match parse_id(sid).and_then(|sid| w.subscription_of(me.id, c.id, sid).ok()) {
        Some(s) => Ok((me, c, s)),
        None => Err(Box::new(html_error(StatusCode::NOT_FOUND, w, Some(&me), "No such subscription."))),
    }
}

/// GET /customers/{id}/subscriptions/{sid}
pub async fn subscription(
    State(m): State<Mock>,
    session: Session,
    Path((cid, sid)): Path<(String, String)>,
) -> Response {
    m.read(|w| match my_subscription(w, session, &cid, &sid) {
        Ok((me, c, s)) => html_page(page(w, Some(&me), &s.offer_name, subscription_body(w, &me, c, s, None, false))),
        Err(page) => *page,
    })
}

#[derive(Deserialize)]
pub struct StatusForm {
    status: String,
}

/// POST /customers/{id}/subscriptions/{sid}: a status change, as PATCH on the subscription.
pub async fn change_status(
    State(m): State<Mock>,
    session: Session,
    ids: RequestIds,
    Path((cid, sid)): Path<(String, String)>,
    Form(f): Form<StatusForm>,
) -> Response {
    m.with(|w| {
        let (me, cid, sid) = match my_subscription(w, session, &cid, &sid) {
            Ok((me, c, s)) => (me, c.id, s.id),
            Err(page) => return *page,
        };
        let result = SubscriptionStatus::parse_wire(&f.status)
            .ok_or_else(|| PcError::unknown_enum("status", &f.status))
            .and_then(|status| {
                let changes = SubscriptionChanges {
                    status: Some(status),
                    quantity: None,
                    friendly_name: None,
                    auto_renew_enabled: None,
                };
                let batch = w.open_batch(ids.cause(Operation::UpdateSubscription), Actor::Partner(me.id));
                w.update_subscription(&batch, me.id, cid, sid, None, &changes).map_err(PcError::from)
            });
        let (Ok(c), Ok(s)) = (w.customer_of(me.id, cid), w.subscription_of(me.id, cid, sid)) else {
            return html_error(StatusCode::NOT_FOUND, w, Some(&me), "No such subscription.");
        };
        let (status, body) = match result {
            Ok(()) => (StatusCode::OK, subscription_body(w, &me, c, s, None, true)),
            Err(e) => (e.status, subscription_body(w, &me, c, s, Some(&e.description), false)),
        };
        with_status(status, html_page(page(w, Some(&me), &s.offer_name, body)))
    })
}
