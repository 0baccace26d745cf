//! Subscription PATCH: suspend, reactivate, quantity, nickname, auto-renew; full bodies with
//! read-only echoes; ETags; only the selling partner may change a subscription.

use skuswap_tests::{Harness, TestResult, article::*};

fn path(customer: &str, sub: &str) -> String {
    format!("/v1/customers/{customer}/subscriptions/{sub}")
}

#[tokio::test]
async fn suspend_then_reactivate_with_etags() -> TestResult {
    let h = Harness::article()?;
    let p = path(WINGTIP, WINGTIP_AX_TASK);
    let before = h.get(&p).await.body;
    let etag = before["attributes"]["etag"].as_str().ok_or("no etag")?.to_string();
    let mut body = before.clone();
    body["status"] = "suspended".into();
    let r = h.patch(&p, &body.to_string(), &[("If-Match", &etag)]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "suspended");
    assert_ne!(r.body["attributes"]["etag"], etag.as_str());
    // The old ETag is now stale: 400 / 2055, nothing changes.
    body["status"] = "active".into();
    let r = h.patch(&p, &body.to_string(), &[("If-Match", &etag)]).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, Some(2055)));
    assert_eq!(h.get(&p).await.body["status"], "suspended");
    // Reactivate with the fresh one.
    let fresh = h.get(&p).await.body;
    let tag = fresh["attributes"]["etag"].as_str().ok_or("no etag")?.to_string();
    let mut body = fresh.clone();
    body["status"] = "active".into();
    let r = h.patch(&p, &body.to_string(), &[("If-Match", &tag)]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "active");
    Ok(())
}

/// Partner Center reads property names case-insensitively: a PascalCase PATCH changes what a
/// camelCase one would, and a stale `Attributes.Etag` in it is refused the same way.
#[tokio::test]
async fn pascal_case_patch_bodies_are_read_like_camel_case() -> TestResult {
    let h = Harness::article()?;
    let p = path(WINGTIP, WINGTIP_AX);
    let before = h.get(&p).await.body;
    let stale = before["attributes"]["etag"].as_str().ok_or("no etag")?.to_string();
    let seats = before["quantity"].as_u64().ok_or("no quantity")? + 1;
    let r = h.patch(&p, &format!(r#"{{"Quantity":{seats},"FriendlyName":"Renamed"}}"#), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["quantity"].as_u64(), r.body["friendlyName"].as_str()), (Some(seats), Some("Renamed")));
    let body = serde_json::json!({"quantity": seats + 1, "Attributes": {"Etag": stale}});
    let r = h.patch(&p, &body.to_string(), &[]).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, Some(2055)), "{}", r.text);
    assert_eq!(h.get(&p).await.body["quantity"].as_u64(), Some(seats));
    Ok(())
}

#[tokio::test]
async fn read_only_echoes_are_ignored_and_change_nothing() -> TestResult {
    let h = Harness::article()?;
    let p = path(WINGTIP, WINGTIP_AX);
    let mut body = h.get(&p).await.body;
    let etag = body["attributes"]["etag"].clone();
    body["offerName"] = "Renamed by a confused client".into();
    body["commitmentEndDate"] = "2030-01-01T00:00:00Z".into();
    body["id"] = "00000000-0000-0000-0000-000000000000".into();
    let before = h.mock.read(|w| w.events().len());
    let r = h.patch(&p, &body.to_string(), &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["offerName"], "Microsoft Dynamics AX Enterprise");
    assert_eq!(r.body["attributes"]["etag"], etag);
    assert_eq!(h.mock.read(|w| w.events().len()), before);
    Ok(())
}

#[tokio::test]
async fn patch_rules_answer_with_partner_center_codes() -> TestResult {
    let h = Harness::article()?;
    let p = path(WINGTIP, WINGTIP_AX_TASK);
    let patch = |field: &str, value: serde_json::Value| {
        let mut b = serde_json::json!({});
        b[field] = value;
        b.to_string()
    };
    // Quantity outside the offer's bounds.
    for q in [0, -1, 10_001] {
        let r = h.patch(&p, &patch("quantity", q.into()), &[]).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, Some(2002)), "quantity {q}");
    }
    // Quantity and nickname change.
    let r = h.patch(&p, r#"{"quantity":7,"friendlyName":"AX task seats"}"#, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!((r.body["quantity"].as_u64(), r.body["friendlyName"].as_str()), (Some(7), Some("AX task seats")));
    // Auto-renew cannot be switched on for a retired offer.
    let r = h.patch(&p, &patch("autoRenewEnabled", true.into()), &[]).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, Some(800_093)));
    // A suspended subscription accepts only a status change.
    assert_eq!(h.set_status(WINGTIP, WINGTIP_AX_TASK, "suspended").await.status, 200);
    let r = h.patch(&p, &patch("quantity", 6.into()), &[]).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, Some(800_091)));
    // Unknown status string; known but unreachable status.
    let r = h.patch(&p, &patch("status", "paused".into()), &[]).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, Some(900_126)));
    let r = h.patch(&p, &patch("status", "expired".into()), &[]).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, Some(800_096)));
    // After de-provisioning: 2011.
    assert_eq!(h.advance_days(120).await.status, 200);
    assert_eq!(h.get(&p).await.body["status"], "deleted");
    let r = h.patch(&p, &patch("status", "active".into()), &[]).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, Some(2011)));
    Ok(())
}

#[tokio::test]
async fn auto_renew_toggles_on_a_current_offer() -> TestResult {
    let h = Harness::article()?;
    let r = h.buy(WINGTIP, "d365-sales", 2).await;
    let sid = r.body["lineItems"][0]["subscriptionId"].as_str().ok_or("no id")?.to_string();
    let p = path(WINGTIP, &sid);
    let r = h.patch(&p, r#"{"autoRenewEnabled":false}"#, &[]).await;
    assert_eq!(r.body["autoRenewEnabled"], false);
    let r = h.patch(&p, r#"{"AutoRenewEnabled":true}"#, &[]).await;
    assert_eq!(r.body["autoRenewEnabled"], true);
    Ok(())
}

#[tokio::test]
async fn other_channels_are_invisible_but_their_seats_show() -> TestResult {
    let h = Harness::article()?;
    // Northwind bought CRM Online through Open: not in Contoso's list, cannot be suspended.
    let list = h.get(&format!("/v1/customers/{NORTHWIND}/subscriptions")).await;
    assert_eq!(list.body["totalCount"], 0);
    let p = path(NORTHWIND, NORTHWIND_OPEN_CRM);
    assert_eq!(h.get(&p).await.code(), Some(20_003));
    let r = h.patch(&p, r#"{"status":"suspended"}"#, &[]).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, Some(20_003)));
    let skus = h.get(&format!("/v1/customers/{NORTHWIND}/subscribedskus")).await;
    assert_eq!(skus.body["items"][0]["productSku"]["skuPartNumber"], "CRMENTERPRISE");
    assert_eq!(skus.body["items"][0]["activeUnits"], 5);
    assert_eq!(skus.body["items"][0]["consumedUnits"], 4);
    let user = h.holders(NORTHWIND, "crm-enterprise")[0].clone();
    let lic = h.get(&format!("/v1/customers/{NORTHWIND}/users/{user}/licenses")).await;
    assert_eq!(lic.body["items"][0]["productSku"]["skuPartNumber"], "CRMENTERPRISE");
    Ok(())
}

#[tokio::test]
async fn reactivating_an_add_on_needs_an_active_parent() -> TestResult {
    let h = Harness::article()?;
    assert_eq!(h.set_status(TAILSPIN, TAILSPIN_FIELD_SERVICE, "suspended").await.status, 200);
    assert_eq!(h.set_status(TAILSPIN, TAILSPIN_CRM, "suspended").await.status, 200);
    let r = h.set_status(TAILSPIN, TAILSPIN_FIELD_SERVICE, "active").await;
    assert_eq!((r.status.as_u16(), r.code()), (409, Some(27_009)), "{}", r.text);
    assert_eq!(h.set_status(TAILSPIN, TAILSPIN_CRM, "active").await.status, 200);
    assert_eq!(h.set_status(TAILSPIN, TAILSPIN_FIELD_SERVICE, "active").await.status, 200);
    Ok(())
}

/// The ETag travels as a header too (on reads and on the PATCH's answer, matching the body's
/// `attributes.etag`), and a new order's 201 names it in `Location`.
#[tokio::test]
async fn etag_and_location_headers_name_what_the_body_says() -> TestResult {
    let h = Harness::article()?;
    let p = path(WINGTIP, WINGTIP_AX_TASK);
    let read = h.get(&p).await;
    let header =
        |r: &skuswap_tests::Reply, name: &str| r.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    assert_eq!(header(&read, "etag").as_deref(), read.body["attributes"]["etag"].as_str());
    let mut body = read.body.clone();
    body["friendlyName"] = serde_json::json!("renamed");
    let etag = header(&read, "etag").ok_or("no ETag header")?;
    let patched = h.patch(&p, &body.to_string(), &[("if-match", etag.as_str())]).await;
    assert_eq!(patched.status.as_u16(), 200, "{}", patched.text);
    assert_eq!(header(&patched, "etag").as_deref(), patched.body["attributes"]["etag"].as_str());
    assert_ne!(header(&patched, "etag"), Some(etag), "the ETag did not change with the resource");
    let offer = h.offer_id("d365-sales");
    let order = format!(r#"{{"lineItems":[{{"lineItemNumber":0,"offerId":"{offer}","quantity":1}}]}}"#);
    let created = h.post(&format!("/v1/customers/{WINGTIP}/orders"), &order).await;
    assert_eq!(created.status.as_u16(), 201);
    let location = header(&created, "location").ok_or("no Location")?;
    assert!(location.ends_with(created.body["id"].as_str().ok_or("no id")?), "{location}");
    assert_eq!(h.get(&location).await.body["id"], created.body["id"]);
    Ok(())
}

/// The full body as Microsoft's samples send it: a status change changes only the status, for a
/// suspension and a reactivation alike, whatever else differs from the stored values; a stale
/// `attributes.etag` in the body counts as `If-Match` when the header is absent.
#[tokio::test]
async fn a_full_body_status_change_changes_only_the_status() -> TestResult {
    let h = Harness::article()?;
    let p = format!("/v1/customers/{WINGTIP}/subscriptions/{WINGTIP_AX_TASK}");
    let read = h.get(&p).await.body;
    let quantity = read["quantity"].clone();
    let mut body = read.clone();
    body["status"] = serde_json::json!("suspended");
    body["quantity"] = serde_json::json!(9);
    body["autoRenewEnabled"] = serde_json::json!(true);
    let r = h.patch(&p, &body.to_string(), &[]).await;
    assert_eq!((r.status.as_u16(), r.body["status"].as_str()), (200, Some("suspended")), "{}", r.text);
    assert_eq!(r.body["quantity"], quantity, "the echoed quantity is not a change");
    let mut body = r.body.clone();
    body["status"] = serde_json::json!("active");
    body["quantity"] = serde_json::json!(9);
    let r = h.patch(&p, &body.to_string(), &[]).await;
    assert_eq!((r.status.as_u16(), r.body["status"].as_str()), (200, Some("active")), "{}", r.text);
    assert_eq!(r.body["quantity"], quantity);
    // The first read's etag is stale now: as a body attribute it is refused like the header.
    let mut stale = read;
    stale["friendlyName"] = serde_json::json!("renamed from an old read");
    let r = h.patch(&p, &stale.to_string(), &[]).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, Some(2055)), "{}", r.text);
    Ok(())
}
