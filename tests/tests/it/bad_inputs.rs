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
    let sized = |bytes: usize| {
        format!(
            r#"{{"lineItems":[{{"lineItemNumber":0,"offerId":"{offer}","quantity":1,"friendlyName":"{}"}}]}}"#,
            "x".repeat(bytes)
        )
    };
    let huge = sized(2 * 1024 * 1024);
    // Over README's 1 MiB but under axum's default 2 MiB: refused all the same.
    let over = sized(1024 * 1024 + 512 * 1024);
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
        (Method::POST, orders.clone(), Some(over), 400, 800_002),
        (Method::POST, "/v1/customers/not-a-guid/orders".into(), Some(r#"{"lineItems":[]}"#.into()), 400, 800_002),
        (Method::GET, "/v1/customers/12345".into(), None, 400, 800_002),
        (Method::GET, "/v1/customers/%FF%FE/subscriptions".into(), None, 400, 800_002),
        (Method::GET, "/admin/customers/%C3%28".into(), None, 400, 800_002),
        (Method::GET, format!("/v1/customers/{WINGTIP}/subscriptions/xyz"), None, 400, 800_002),
        (Method::GET, format!("/v1/customers/{WINGTIP}/orders/xyz"), None, 400, 800_002),
        (Method::GET, format!("/v1/customers/{WINGTIP}/users/xyz/licenses"), None, 400, 800_002),
        (Method::GET, format!("/v1/customers/{WINGTIP}/subscriptions?order_id=nope"), None, 400, 800_002),
        (Method::PATCH, sub.clone(), Some(r#"{"status":"paused"}"#.into()), 400, 900_126),
        (Method::PATCH, sub.clone(), Some(r#"{"status":7}"#.into()), 400, 800_002),
        (Method::PATCH, sub.clone(), Some(r#"{"quantity":-5}"#.into()), 400, 2002),
        (Method::PATCH, sub.clone(), Some(r#"{"quantity":4294967296}"#.into()), 400, 2002),
        (Method::PATCH, sub.clone(), Some(r#"{"autoRenewEnabled":"yes"}"#.into()), 400, 800_002),
        (Method::PATCH, sub.clone(), Some(r#"{"Quantity":"ten"}"#.into()), 400, 800_002),
        (Method::PATCH, sub.clone(), Some(r#"{"quantity":1} trailing"#.into()), 400, 800_002),
        (Method::PATCH, sub.clone(), Some("null".into()), 400, 800_002),
        // An array is not an object, even one serde could read by position.
        (Method::PATCH, sub.clone(), Some(r#"["suspended"]"#.into()), 400, 800_002),
        (Method::PATCH, sub.clone(), Some(" \n [\"Suspended\"]".into()), 400, 800_002),
        (Method::POST, lic.clone(), Some(r#"[[{"skuId":"x"}],[]]"#.into()), 400, 800_002),
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

/// An `MS-RequestId` the size of a small file is refused, not stored and echoed.
#[tokio::test]
async fn oversized_request_ids_are_refused() -> TestResult {
    let h = Harness::article()?;
    let before = h.mock.read(serde_json::to_string)?;
    // Over the id bound (128), and over the bound of all headers (64 KiB): 400, then 431.
    for (size, status) in [(4 * 1024, 400), (420 * 1024, 431)] {
        let long = "r".repeat(size);
        for header in ["ms-requestid", "ms-correlationid"] {
            let r = h.send(Method::GET, "/v1/customers", None, &[(header, long.as_str())]).await;
            assert_eq!((r.status.as_u16(), r.code()), (status, Some(800_002)), "{header} of {size}");
            assert!(!r.text.contains(&long[..200]), "{header} echoed");
        }
    }
    let r = h.get(&format!("/v1/customers?filter={}", "x".repeat(17 * 1024))).await;
    assert_eq!((r.status.as_u16(), r.code()), (414, Some(800_002)), "{}", &r.text[..r.text.len().min(200)]);
    let guid = "a".repeat(128);
    assert_eq!(
        h.send(Method::GET, "/v1/customers", None, &[("ms-requestid", guid.as_str())]).await.status.as_u16(),
        200
    );
    assert!(h.mock.read(serde_json::to_string)? == before);
    Ok(())
}

/// Ids the server mints for requests without `MS-RequestId` go on past a restored snapshot's:
/// an order sent after a restart is bought, not answered with an old one.
#[tokio::test]
async fn minted_request_ids_do_not_repeat_after_a_restart() -> TestResult {
    let h = Harness::article()?;
    let offer = h.offer_id("d365-sales");
    let order = format!(r#"{{"lineItems":[{{"lineItemNumber":0,"offerId":"{offer}","quantity":1}}]}}"#);
    let path = format!("/v1/customers/{WINGTIP}/orders");
    let first = h.send(Method::POST, &path, Some(&order), &[]).await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.text);
    let snapshot = h.get("/admin/state").await.text;
    // A new process: a fresh mock, the snapshot put back.
    let restarted = Harness::article()?;
    assert_eq!(restarted.send(Method::PUT, "/admin/state", Some(&snapshot), &[]).await.status.as_u16(), 200);
    // The snapshot's tokens came with it.
    let auth = format!("Bearer {}", h.token);
    let second = restarted.send(Method::POST, &path, Some(&order), &[("authorization", auth.as_str())]).await;
    assert_eq!(second.status.as_u16(), 201, "{}", second.text);
    assert_ne!(second.body["id"], first.body["id"], "answered with the order from before the restart");
    assert_ne!(second.headers.get("ms-requestid"), first.headers.get("ms-requestid"));
    Ok(())
}

#[tokio::test]
async fn a_path_with_an_empty_segment_names_no_resource() -> TestResult {
    let h = Harness::article()?;
    let real = format!("/v1/customers/{WINGTIP}/subscriptions");
    assert_eq!(h.get(&real).await.status, 200);
    let doubled = format!("/v1/customers//{WINGTIP}/subscriptions");
    for path in ["/v1//customers", "//v1/customers", "/v1/customers//", doubled.as_str(), "/admin//clock"] {
        let r = h.send(Method::GET, path, None, &[("MS-RequestId", "empty-segment")]).await;
        assert_eq!((r.status.as_u16(), r.code()), (404, Some(1000)), "{path}: {}", r.text);
        assert_eq!(r.headers["ms-requestid"], "empty-segment", "{path}");
    }
    Ok(())
}
