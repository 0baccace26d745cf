//! The dashboard's license page: manage one user's licenses, applied as one license update.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use uuid::Uuid;

use super::{Me, Session, html_error, html_page, my_customer, page, parse_id, sku_name, with_status};
use crate::Mock;
use crate::http::error::PcError;
use crate::http::extract::RequestIds;
use crate::http::operations::Operation;
use crate::model::{Actor, Customer, World};

fn licenses_form(w: &World, me: &Me, c: &Customer, user: Uuid, error: Option<&str>) -> Markup {
    let skus = w.subscribed_skus(me.id, c.id).unwrap_or_default();
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
pub async fn manage_licenses(
    State(m): State<Mock>,
    session: Session,
    Path((cid, uid)): Path<(String, String)>,
) -> Response {
    m.read(|w| {
        let (me, c) = match my_customer(w, session, &cid) {
            Ok(found) => found,
            Err(page) => return *page,
        };
        match parse_id(&uid) {
            Some(u) if c.users.contains_key(&u) => {
                let title = format!("Manage licenses: {}", c.company_name);
                html_page(page(w, Some(&me), &title, licenses_form(w, &me, c, u, None)))
            }
            _ => html_error(StatusCode::NOT_FOUND, w, Some(&me), "No such user."),
        }
    })
}

/// POST /customers/{id}/users/{user}/licenses: one license update, as `licenseupdates`.
pub async fn update_licenses(
    State(m): State<Mock>,
    session: Session,
    ids: RequestIds,
    Path((cid, uid)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // Repeated `sku` fields (one per ticked box, and the form's empty marker so that unticking
    // every box still says so): a body without them is not this form, and removes nothing.
    let ticked = ticked_skus(&headers, &body);
    m.with(|w| {
        let Some(ticked) = ticked else {
            return html_error(StatusCode::BAD_REQUEST, w, None, "That is not the license form: nothing was changed.");
        };
        let (me, cid) = match my_customer(w, session, &cid) {
            Ok((me, c)) => (me, c.id),
            Err(page) => return *page,
        };
        let held = parse_id(&uid)
            .and_then(|u| w.customer_of(me.id, cid).ok()?.users.get(&u).map(|u| (u.id, u.licenses.clone())));
        let Some((uid, held)) = held else {
            return html_error(StatusCode::NOT_FOUND, w, Some(&me), "No such user.");
        };
        let assign: Vec<Uuid> = ticked.iter().copied().filter(|s| !held.contains(s)).collect();
        let remove: Vec<Uuid> = held.iter().copied().filter(|s| !ticked.contains(s)).collect();
        let result = if assign.is_empty() && remove.is_empty() {
            Ok(())
        } else {
            let batch = w.open_batch(ids.cause(Operation::UpdateLicenses), Actor::Partner(me.id));
            w.update_licenses(&batch, me.id, cid, uid, &assign, &remove).map_err(PcError::from)
        };
        let Ok(c) = w.customer_of(me.id, cid) else {
            return html_error(StatusCode::NOT_FOUND, w, Some(&me), "No such customer.");
        };
        let upn = c.users.get(&uid).map(|u| u.user_principal_name.clone()).unwrap_or_default();
        match result {
            Ok(()) => html_page(page(
                w,
                Some(&me),
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
                let form = licenses_form(w, &me, c, uid, Some(&e.description));
                with_status(e.status, html_page(page(w, Some(&me), &title, form)))
            }
        }
    })
}

/// The SKUs ticked on the license form, or `None` when the body is not that form (another
/// content type, not urlencoded, no `sku` field at all, or a value that is not a GUID).
fn ticked_skus(headers: &axum::http::HeaderMap, body: &[u8]) -> Option<Vec<Uuid>> {
    let form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !form {
        return None;
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).ok()?;
    let skus: Vec<&str> = pairs.iter().filter(|(k, _)| k == "sku").map(|(_, v)| v.as_str()).collect();
    if skus.is_empty() {
        return None;
    }
    skus.iter().filter(|v| !v.is_empty()).map(|v| v.parse::<Uuid>().ok()).collect()
}
