//! A table of malformed requests. Each must get a 4xx with Partner Center's error body, never a
//! 500, never a panic, and must leave the state (and its audit log) exactly as it was.

use axum::http::Method;
use skuswap_tests::{Harness, TestResult, article::*};

#[tokio::test]
async fn malformed_requests_get_the_error_body_and_change_nothing() -> TestResult {
    let h = Harness::article()?;
    let user = h.holders(WINGTIP, "ax-enterprise")[0].clone();
    let orders = format!("/v1/customers/{WINGTIP}/orders");
    let sub = format!("/v1/customers/{WINGTIP}/subscriptions/{WINGTIP_AX}");
    let lic = format!("/v1/customers/{WINGTIP}/users/{user}/licenseupdates");
    let offer = h.offer_id("d365-sales");
    let huge = format!(
        r#"{{"lineItems":[{{"lineItemNumber":0,"offerId":"{offer}","quantity":1,"friendlyName":"{}"}}]}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    #[rustfmt::skip]
    let table: Vec<(Method, String, Option<String>, u16, u64)> = vec![
        (Method::POST, orders.clone(), Some("{not json".into()), 400, 800_002),
        (Method::POST, orders.clone(), Some("".into()), 400, 800_002),
        (Method::POST, orders.clone(), Some("[]".into()), 400, 800_002),
        (Method::POST, orders.clone(), Some(r#"{"lineItems":"all of them"}"#.into()), 400, 800_002),
        (Method::POST, orders.clone(), Some(format!(r#"{{"lineItems":[{{"lineItemNumber":0,"offerId":"{offer}","quantity":"ten"}}]}}"#)), 400, 800_002),
        (Method::POST, orders.clone(), Some(format!(r#"{{"lineItems":[{{"lineItemNumber":0,"offerId":"{offer}","quantity":1.5}}]}}"#)), 400, 800_002),
        (Method::POST, orders.clone(), Some(format!(r#"{{"lineItems":[{{"lineItemNumber":0,"offerId":"{offer}","quantity":99999999999999999999999}}]}}"#)), 400, 800_002),
        (Method::POST, orders.clone(), Some(format!(r#"{{"lineItems":[{{"lineItemNumber":0,"offerId":"{offer}"}}]}}"#)), 400, 800_002),
        (Method::POST, orders.clone(), Some(huge), 400, 800_002),
        (Method::POST, "/v1/customers/not-a-guid/orders".into(), Some(r#"{"lineItems":[]}"#.into()), 400, 800_002),
        (Method::GET, "/v1/customers/12345".into(), None, 400, 800_002),
        (Method::GET, format!("/v1/customers/{WINGTIP}/subscriptions/xyz"), None, 400, 800_002),
        (Method::GET, format!("/v1/customers/{WINGTIP}/orders/xyz"), None, 400, 800_002),
        (Method::GET, format!("/v1/customers/{WINGTIP}/users/xyz/licenses"), None, 400, 800_002),
        (Method::GET, format!("/v1/customers/{WINGTIP}/subscriptions?order_id=nope"), None, 400, 800_002),
        (Method::PATCH, sub.clone(), Some(r#"{"status":"paused"}"#.into()), 400, 900_126),
        (Method::PATCH, sub.clone(), Some(r#"{"status":7}"#.into()), 400, 800_002),
        (Method::PATCH, sub.clone(), Some(r#"{"quantity":-5}"#.into()), 400, 2002),
        (Method::PATCH, sub.clone(), Some(r#"{"quantity":4294967296}"#.into()), 400, 2002),
        (Method::PATCH, sub.clone(), Some(r#"{"autoRenewEnabled":"yes"}"#.into()), 400, 800_002),
        (Method::PATCH, sub.clone(), Some("null".into()), 400, 800_002),
        (Method::POST, lic.clone(), Some(r#"{"licensesToAssign":{"skuId":"x"}}"#.into()), 400, 800_002),
        (Method::POST, lic.clone(), Some(r#"{"licensesToRemove":[42]}"#.into()), 400, 800_002),
        (Method::GET, "/v1/offers".into(), None, 400, 800_002),
        (Method::GET, "/v1/offers?country=USA".into(), None, 400, 800_002),
        (Method::GET, "/v1/offers/NOPE?country=US".into(), None, 404, 1000),
        (Method::GET, "/v1/nothing-here".into(), None, 404, 1000),
        (Method::DELETE, "/v1/customers".into(), None, 405, 405),
        (Method::POST, "/admin/scenario".into(), Some(r#"{"name":"atlantis"}"#.into()), 400, 800_002),
        (Method::POST, "/admin/clock/advance".into(), Some(r#"{"days":"many"}"#.into()), 400, 800_002),
        (Method::GET, "/admin/events?after=minus-one".into(), None, 400, 800_002),
        (Method::PUT, "/admin/state".into(), Some(r#"{"scenario":"half a world"}"#.into()), 400, 800_002),
        (Method::POST, format!("/admin/customers/{WINGTIP}/accept-relationship"), Some(r#"{"partnerId":"zzz"}"#.into()), 400, 800_002),
    ];
    let before = h.mock.read(serde_json::to_string)?;
    for (method, path, body, status, code) in table {
        let r = h.send(method.clone(), &path, body.as_deref(), &[]).await;
        let shown = body.as_deref().map(|b| &b[..b.len().min(80)]).unwrap_or("");
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (status, Some(code)),
            "{method} {path} {shown}: {}",
            &r.text[..r.text.len().min(300)]
        );
        assert_eq!(r.body["source"], "PartnerFD", "{method} {path}");
        assert!(r.body["description"].as_str().is_some_and(|d| !d.is_empty() && d.len() <= 1024));
        assert!(r.body["data"].is_array());
    }
    let after = h.mock.read(serde_json::to_string)?;
    assert!(before == after, "a refused request changed the state");
    Ok(())
}
