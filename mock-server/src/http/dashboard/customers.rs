//! The dashboard's customer pages: the partner's customers, one customer (subscriptions sold,
//! the tenant's licenses, users), and adding subscriptions (an order).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::{Session, channel, html_error, html_page, my_customer, page, sku_name, status_line, with_status};
use crate::Mock;
use crate::http::error::PcError;
use crate::http::extract::RequestIds;
use crate::http::operations::Operation;
use crate::model::{Actor, Customer, OrderLineRequest, World};

#[derive(Deserialize)]
pub struct Search {
    #[serde(default)]
    q: String,
}

/// GET /customers?q=: the signed-in partner's customers.
pub async fn customers(State(m): State<Mock>, session: Session, Query(s): Query<Search>) -> Response {
    m.read(|w| {
        let Ok(me) = session.me(w) else { return html_error(StatusCode::NOT_FOUND, w, None, "No partner.") };
        let q = s.q.trim().to_lowercase();
        let rows: Vec<&Customer> = w
            .customers_page(me.id, 0, usize::MAX)
            .0
            .into_iter()
            .filter(|c| q.is_empty() || c.company_name.to_lowercase().contains(&q) || c.domain.to_lowercase().contains(&q))
            .collect();
        let sold = |c: &Customer| w.subscriptions_of(me.id, c.id).map_or(0, |s| s.len());
        html_page(page(
            w,
            Some(&me),
            "Customers",
            html! {
                section {
                    form method="get" action="/customers" role="search" {
                        label { "Search customers " input type="search" name="q" value=(s.q) aria-label="Search customers"; " " button type="submit" { "Search" } }
                    }
                    table {
                        thead { tr { th { "Company" } th { "Domain" } th { "Subscriptions" } } }
                        tbody {
                            @for c in &rows {
                                tr {
                                    td { a href={ "/customers/" (c.id) } { (c.company_name) } }
                                    td { (c.domain) }
                                    td { (sold(c)) }
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

/// GET /customers/{id}: the subscriptions this partner sold, the tenant's licenses (every
/// channel's seats, as `subscribedskus` shows them), and the users.
pub async fn customer(State(m): State<Mock>, session: Session, Path(cid): Path<String>) -> Response {
    m.read(|w| {
        let (me, c) = match my_customer(w, session, &cid) {
            Ok(found) => found,
            Err(page) => return *page,
        };
        let subscriptions = w.subscriptions_of(me.id, c.id).unwrap_or_default();
        let skus = w.subscribed_skus(me.id, c.id).unwrap_or_default();
        html_page(page(
            w,
            Some(&me),
            &c.company_name,
            html! {
                section {
                    h2 { "Subscriptions" }
                    p { a href={ "/customers/" (c.id) "/add-subscriptions" } { "Add subscriptions" } }
                    table {
                        thead { tr { th { "Subscription" } th { "Licenses" } th { "Status" } th { "Channel" } } }
                        tbody {
                            @for s in &subscriptions {
                                tr data-subscription=(s.id) {
                                    td { a href={ "/customers/" (c.id) "/subscriptions/" (s.id) } { (s.offer_name) } }
                                    td { (s.quantity) }
                                    td { (status_line(s, w.settings.deprovision_days)) }
                                    td { (channel(s, w, me.id)) }
                                }
                            }
                        }
                    }
                }
                section {
                    h2 { "Licenses in the tenant" }
                    p class="muted" { "Every channel's seats (Open, direct, other partners' included), as subscribed SKUs show them." }
                    table {
                        thead { tr { th { "Product" } th { "Active" } th { "Assigned" } th { "Suspended" } th { "In warning" } } }
                        tbody {
                            @for k in &skus {
                                tr data-sku=(k.sku_id) {
                                    td { (k.name) } td { (k.active_units) } td { (k.consumed_units) }
                                    td { (k.suspended_units) } td { (k.warning_units) }
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
                                    td { a href={ "/customers/" (c.id) "/users/" (u.id) "/licenses" } { "Manage licenses" } }
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
pub async fn add_subscriptions(State(m): State<Mock>, session: Session, Path(cid): Path<String>) -> Response {
    m.read(|w| match my_customer(w, session, &cid) {
        Ok((me, c)) => {
            html_page(page(w, Some(&me), &format!("Add subscriptions: {}", c.company_name), add_form(w, c, None)))
        }
        Err(page) => *page,
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
    session: Session,
    ids: RequestIds,
    Path(cid): Path<String>,
    Form(f): Form<AddForm>,
) -> Response {
    m.with(|w| {
        let (me, id) = match my_customer(w, session, &cid) {
            Ok((me, c)) => (me, c.id),
            Err(page) => return *page,
        };
        let quantity = f.quantity.trim().parse::<i64>();
        let result = quantity
            .map_err(|_| PcError::invalid_input("The number of licenses must be a whole number."))
            .and_then(|quantity| {
                let line = OrderLineRequest {
                    line_item_number: 0,
                    offer_id: f.offer.clone(),
                    quantity,
                    friendly_name: None,
                    partner_id_on_record: None,
                    term_duration: None,
                    billing_cycle: None,
                };
                let batch = w.open_batch(ids.cause(Operation::CreateOrder), Actor::Partner(me.id));
                w.create_order(&batch, me.id, id, &[line]).map_err(PcError::from)
            });
        match (result, w.customer_of(me.id, id)) {
            (Ok(_), _) => Redirect::to(&format!("/customers/{id}")).into_response(),
            (Err(e), Ok(c)) => {
                let title = format!("Add subscriptions: {}", c.company_name);
                with_status(e.status, html_page(page(w, Some(&me), &title, add_form(w, c, Some(&e.description)))))
            }
            (Err(_), Err(_)) => html_error(StatusCode::NOT_FOUND, w, Some(&me), "No such customer."),
        }
    })
}
