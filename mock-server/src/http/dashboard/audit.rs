//! The dashboard's audit log: the events of the signed-in partner's customers, filtered.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

use super::{Session, html_error, html_page, page, parse_id};
use crate::Mock;
use crate::model::Customer;

#[derive(Deserialize)]
pub struct AuditFilter {
    #[serde(default)]
    customer: String,
    #[serde(default)]
    kind: String,
}

/// GET /audit?customer=&kind=: the events of the signed-in partner's customers, and those of
/// no customer (clock, scenario, tokens).
pub async fn audit(State(m): State<Mock>, session: Session, Query(f): Query<AuditFilter>) -> Response {
    m.read(|w| {
        let Ok(me) = session.me(w) else { return html_error(StatusCode::NOT_FOUND, w, None, "No partner.") };
        let mine: Vec<&Customer> = w.customers_page(me.id, 0, usize::MAX).0;
        let visible = |c: Option<Uuid>| c.is_none_or(|c| mine.iter().any(|m| m.id == c));
        let customer = parse_id(f.customer.trim()).filter(|c| visible(Some(*c)));
        let kind = f.kind.trim().to_lowercase();
        let rows: Vec<String> = w
            .events()
            .iter()
            .rev()
            .filter(|e| visible(e.customer))
            .filter(|e| customer.is_none_or(|c| e.customer == Some(c)))
            .filter(|e| kind.is_empty() || e.kind.name().to_lowercase().contains(&kind))
            .take(500)
            .map(ToString::to_string)
            .collect();
        html_page(page(
            w,
            Some(&me),
            "Audit log",
            html! {
                section {
                    form method="get" action="/audit" {
                        label { "Customer " select name="customer" aria-label="Customer" {
                            option value="" { "All" }
                            @for c in &mine { option value=(c.id) selected[customer == Some(c.id)] { (c.company_name) } }
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
