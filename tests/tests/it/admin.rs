//! The admin API: scenarios by name or document, snapshots that round-trip byte for byte,
//! determinism from the seed, the event log, reset, and relationship acceptance.

use axum::http::Method;
use skuswap_tests::{Harness, TestResult, article::*};

#[tokio::test]
async fn state_round_trips_byte_for_byte_and_continues_identically() -> TestResult {
    let h = Harness::article()?;
    assert_eq!(h.buy(WINGTIP, "d365-unified-operations", 20).await.status, 201);
    h.set_status(WINGTIP, WINGTIP_AX_TASK, "suspended").await;
    let snapshot = h.get("/admin/state").await.text;
    // Continue in the original...
    let tok = format!("Bearer {}", h.token);
    let body =
        format!(r#"{{"lineItems":[{{"lineItemNumber":0,"offerId":"{}","quantity":3}}]}}"#, h.offer_id("d365-sales"));
    let headers = [("authorization", tok.as_str()), ("MS-RequestId", "6f1d2c3b-4a59-4687-9a1b-2c3d4e5f6a7b")];
    let orders = format!("/v1/customers/{TAILSPIN}/orders");
    let a = h.send(Method::POST, &orders, Some(&body), &headers).await;
    let a_after = h.advance_days(200).await;
    // ...and in a restored copy (PUT into a fresh server).
    let other = Harness::builtin("article", Some(99))?;
    let r = other.send(Method::PUT, "/admin/state", Some(&snapshot), &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(other.get("/admin/state").await.text, snapshot);
    let b = other.send(Method::POST, &orders, Some(&body), &headers).await;
    let b_after = other.advance_days(200).await;
    assert_eq!(a.body, b.body, "the restored world must hand out the same ids");
    assert_eq!(a_after.body, b_after.body);
    assert_eq!(h.get("/admin/state").await.text, other.get("/admin/state").await.text);
    Ok(())
}

#[tokio::test]
async fn the_same_seed_gives_the_same_answers_and_another_seed_other_ids() -> TestResult {
    async fn run(seed: u64) -> Result<Vec<String>, Box<dyn std::error::Error>> {
        let h = Harness::builtin("article", Some(seed))?;
        let mut out = vec![h.get(&format!("/v1/customers/{WINGTIP}/users")).await.text];
        out.push(h.buy(WINGTIP, "d365-unified-operations", 20).await.text);
        out.push(h.get("/admin/events").await.text);
        Ok(out)
    }
    assert_eq!(run(5).await?, run(5).await?);
    let (a, b) = (run(5).await?, run(6).await?);
    assert_ne!(a[0], b[0], "user ids come from the seed");
    assert_ne!(a[1], b[1], "order ids come from the seed");
    Ok(())
}

#[tokio::test]
async fn scenarios_load_by_name_or_document_and_errors_name_the_field() -> TestResult {
    let h = Harness::article()?;
    let r = h.post("/admin/scenario", r#"{"name":"article","seed":11}"#).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["seed"], 11);
    assert_eq!(r.body["customers"], 4);
    assert_eq!(r.body["users"], 26);
    let doc = r#"{"name":"tiny","start":"2017-07-03T00:00:00Z","partners":[{"name":"P","mpnId":"1"}],
      "customers":[{"companyName":"Solo Ltd","subscriptions":[{"offer":"o365-e4","quantity":2,"commitmentEndDate":"2017-12-01T00:00:00Z"}],
      "users":[{"firstName":"Ann","lastName":"Lee","licenses":["o365-e4"]}]}]}"#;
    let r = h.post("/admin/scenario", doc).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["scenario"], "tiny");
    let token = h.post("/admin/tokens", "{}").await.body["accessToken"].as_str().unwrap_or_default().to_string();
    let auth = format!("Bearer {token}");
    let r = h.send(Method::GET, "/v1/customers", None, &[("authorization", &auth)]).await;
    assert_eq!(r.body["items"][0]["companyProfile"]["companyName"], "Solo Ltd");
    assert_eq!(r.body["items"][0]["companyProfile"]["domain"], "sololtd.onmicrosoft.com");
    let bad = doc.replace(r#""licenses":["o365-e4"]"#, r#""licenses":["o365-e3"]"#);
    let r = h.post("/admin/scenario", &bad).await;
    assert_eq!(r.status, 400);
    let d = r.body["description"].as_str().unwrap_or_default();
    assert!(d.contains("customers[0] (Solo Ltd): users[0].licenses"), "{d}");
    let bad = doc.replace("commitmentEndDate", "commitmentEnd");
    let r = h.post("/admin/scenario", &bad).await;
    assert_eq!(r.status, 400);
    assert!(r.body["description"].as_str().unwrap_or_default().contains("commitmentEnd"), "{}", r.text);
    // The failed loads left the tiny world in place.
    assert_eq!(h.get("/admin/state").await.body["scenario"], "tiny");
    assert_eq!(h.get("/admin/scenarios").await.body["builtin"][0], "article");
    Ok(())
}

#[tokio::test]
async fn reset_empties_the_world() -> TestResult {
    let h = Harness::article()?;
    let r = h.post("/admin/reset", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["customers"], 0);
    let r = h.get("/v1/customers").await;
    assert_eq!(r.status, 401, "old tokens are gone with the world");
    let r = h.post("/admin/tokens", "").await;
    assert_eq!(r.status, 400, "no partner to mint a token for: {}", r.text);
    Ok(())
}

#[tokio::test]
async fn events_page_by_sequence_and_render_as_text() -> TestResult {
    let h = Harness::article()?;
    let all = h.get("/admin/events").await.body["events"].as_array().cloned().unwrap_or_default();
    assert!(all.len() > 40);
    let first = &all[0];
    assert_eq!(first["seq"], 1);
    assert_eq!(first["kind"]["type"], "scenarioLoaded");
    let tail = h.get("/admin/events?after=40").await.body["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(tail.len(), all.len() - 40);
    assert_eq!(tail[0]["seq"], 41);
    let text = h.get("/admin/events?format=text&after=0").await.text;
    assert!(
        text.lines().next().is_some_and(|l| l.starts_with("#1 2017-07-03T09:00:00Z b1 admin ScenarioLoaded")),
        "{text}"
    );
    Ok(())
}

/// The log comes in bounded pages (`limit`, then `next` / `Next-After`): walking them gives
/// the whole log once, in order; a bad limit is 400.
#[tokio::test]
async fn events_come_in_bounded_pages() -> TestResult {
    let h = Harness::article()?;
    let all = h.get("/admin/events").await.body["events"].as_array().cloned().unwrap_or_default();
    assert!(h.get("/admin/events").await.body["next"].is_null(), "a short log is one page");
    let (mut after, mut walked) = (0u64, Vec::new());
    loop {
        let r = h.get(&format!("/admin/events?after={after}&limit=7")).await;
        let page = r.body["events"].as_array().cloned().unwrap_or_default();
        assert!(page.len() <= 7);
        walked.extend(page);
        match r.body["next"].as_u64() {
            Some(n) => {
                assert_eq!(r.headers.get("next-after").and_then(|v| v.to_str().ok()), Some(n.to_string().as_str()));
                after = n;
            }
            None => break,
        }
    }
    assert_eq!(walked, all);
    let text = h.get("/admin/events?format=text&limit=3").await;
    assert_eq!(text.text.lines().count(), 3);
    assert_eq!(text.headers.get("next-after").and_then(|v| v.to_str().ok()), Some("3"));
    for bad in ["limit=0", "limit=100001", "limit=lots"] {
        assert_eq!(h.get(&format!("/admin/events?{bad}")).await.status.as_u16(), 400, "{bad}");
    }
    Ok(())
}

#[tokio::test]
async fn a_customer_accepts_the_partners_invitation_through_the_admin_api() -> TestResult {
    let h = Harness::article()?;
    let r = h.get("/v1/customers/relationshiprequests").await;
    assert!(r.body["url"].as_str().unwrap_or_default().contains(PARTNER), "{}", r.text);
    let r = h
        .post(
            &format!("/admin/customers/{ADVENTURE_WORKS}/accept-relationship"),
            &format!(r#"{{"partnerId":"{PARTNER}"}}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = h.get(&format!("/v1/customers/{ADVENTURE_WORKS}")).await;
    assert_eq!(r.status, 200);
    // Contoso does not see Fabrikam's subscription, but sees its seats.
    assert_eq!(h.get(&format!("/v1/customers/{ADVENTURE_WORKS}/subscriptions")).await.body["totalCount"], 0);
    let skus = h.get(&format!("/v1/customers/{ADVENTURE_WORKS}/subscribedskus")).await;
    assert_eq!(skus.body["items"][0]["activeUnits"], 20);
    // Twice is a conflict.
    let r = h.post(&format!("/admin/customers/{ADVENTURE_WORKS}/accept-relationship"), "").await;
    assert_eq!(r.status, 409);
    Ok(())
}

/// Admin values that used to hang the server (a clock target millennia away, a zero-month
/// term) or panic inside the lock (a dedup window or de-provisioning delay past the calendar)
/// are refused with a 400, and nothing changes.
#[tokio::test]
async fn unbounded_admin_values_are_refused_and_change_nothing() -> TestResult {
    let h = Harness::article()?;
    let before = h.get("/admin/state").await.text;
    let far = h.post("/admin/clock/advance", r#"{"to":"+262142-12-31T23:59:59Z"}"#).await;
    assert_eq!((far.status.as_u16(), far.code()), (400, Some(800_002)), "{}", far.text);
    assert!(far.text.contains("100 years"), "{}", far.text);
    let dedup =
        h.send(Method::PUT, "/admin/faults/dedup", Some(r#"{"orderDedupSeconds": 4611686018427387904}"#), &[]).await;
    assert_eq!(dedup.status.as_u16(), 400, "{}", dedup.text);
    assert_eq!(h.get("/admin/state").await.text, before, "a refused admin call changed the state");

    let mut snapshot: serde_json::Value = serde_json::from_str(&before)?;
    for (field, value) in
        [("termMonths", 0i64), ("deprovisionDays", 4_611_686_018_427_387_904), ("orderDedupSeconds", -1)]
    {
        let mut bad = snapshot.clone();
        bad["settings"][field] = value.into();
        let r = h.send(Method::PUT, "/admin/state", Some(&bad.to_string()), &[]).await;
        assert_eq!(r.status.as_u16(), 400, "{field}={value}: {}", r.text);
        assert!(r.text.contains(field), "{field}: the refusal does not name the field: {}", r.text);
        assert_eq!(h.get("/admin/state").await.text, before, "{field}={value} changed the state");
    }
    // The largest allowed advance still answers, and a valid snapshot still restores.
    snapshot["settings"]["termMonths"] = 1.into();
    let r = h.send(Method::PUT, "/admin/state", Some(&snapshot.to_string()), &[]).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    let r = h.post("/admin/clock/advance", r#"{"days": 36500}"#).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    Ok(())
}

/// An admin body with a field the call does not know is refused (a typo is never taken for
/// the default), naming the field, and changes nothing.
#[tokio::test]
async fn unknown_admin_fields_are_refused_and_change_nothing() -> TestResult {
    let h = Harness::article()?;
    let before = h.get("/admin/state").await.text;
    let calls: [(Method, String, &str, &str); 5] = [
        (Method::POST, "/admin/scenario".into(), r#"{"name":"article","sead":7}"#, "sead"),
        (Method::POST, "/admin/tokens".into(), r#"{"lifetime":60}"#, "lifetime"),
        (Method::POST, format!("/admin/customers/{WINGTIP}/accept-relationship"), r#"{"partner":"x"}"#, "partner"),
        (Method::PUT, "/admin/faults".into(), r#"{"seed":1,"rule":[]}"#, "rule"),
        (Method::POST, "/admin/clock/advance".into(), r#"{"day":1}"#, "day"),
    ];
    for (method, path, body, field) in calls {
        let r = h.send(method, &path, Some(body), &[]).await;
        assert_eq!((r.status.as_u16(), r.code()), (400, Some(800_002)), "{path} {body}: {}", r.text);
        assert!(r.text.contains(field), "{path}: the refusal does not name {field}: {}", r.text);
    }
    let mut doc: serde_json::Value = serde_json::from_str(&before)?;
    doc["settings"]["termMonth"] = 0.into();
    let r = h.send(Method::PUT, "/admin/state", Some(&doc.to_string()), &[]).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.text);
    assert!(r.text.contains("termMonth"), "{}", r.text);
    assert_eq!(h.get("/admin/state").await.text, before, "a refused admin call changed the state");
    Ok(())
}

/// `serve --max-events`: past the bound the oldest events go, the judge's verdict stays the
/// whole log's (a loss before the cut is still reported, across a snapshot round trip too),
/// and `/admin/events` marks the cut.
#[tokio::test]
async fn a_bounded_log_keeps_the_verdict_and_marks_the_cut() -> TestResult {
    let (bounded, whole) = (Harness::article()?, Harness::article()?);
    bounded.mock.bound_log(1000)?;
    let user = bounded.holders(WINGTIP, "ax-enterprise").first().ok_or("no holder")?.clone();
    let sku = bounded.sku_id("ax-enterprise");
    let remove = serde_json::json!({"licensesToAssign": [], "licensesToRemove": [sku]}).to_string();
    for h in [&bounded, &whole] {
        // A loss first, then enough traffic to push it out of the bounded log.
        let r = h.post(&format!("/v1/customers/{WINGTIP}/users/{user}/licenseupdates"), &remove).await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.text);
        for _ in 0..700 {
            assert_eq!(h.buy(WINGTIP, "d365-sales", 1).await.status.as_u16(), 201);
        }
    }
    let kept = bounded.mock.read(|w| w.events().len());
    assert!(kept <= 1000, "{kept} events kept");
    assert!(whole.mock.read(|w| w.events().len()) > 1400);
    let judged = bounded.invariants().await;
    assert_eq!(judged, whole.invariants().await, "the verdict is the whole log's");
    assert_eq!(judged["ok"], false, "the loss before the cut is still reported");
    let page = bounded.get("/admin/events?after=0&limit=5").await.body;
    assert!(page["cut"]["dropped"].as_u64().is_some_and(|d| d >= 400), "{}", page["cut"]);
    let first = page["events"][0]["seq"].as_u64().ok_or("no first event")?;
    assert_eq!(page["cut"]["through"].as_u64(), Some(first - 1), "the marker is where the log starts");
    assert!(bounded.get("/admin/events?after=0&format=text&limit=1").await.text.starts_with("# cut: "));
    // The judge's state at the cut travels with a snapshot.
    let snapshot = bounded.get("/admin/state").await.text;
    let fresh = Harness::article()?;
    assert_eq!(fresh.send(Method::PUT, "/admin/state", Some(&snapshot), &[]).await.status.as_u16(), 200);
    assert_eq!(fresh.invariants().await, judged);
    assert!(bounded.mock.bound_log(10).is_err(), "a bound too small is refused");
    // A snapshot carrying one is refused too, and nothing changes.
    let mut doc: serde_json::Value = serde_json::from_str(&snapshot)?;
    doc["logLimit"] = 1.into();
    let r = fresh.send(Method::PUT, "/admin/state", Some(&doc.to_string()), &[]).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.text);
    assert_eq!(fresh.get("/admin/state").await.text, snapshot, "the snapshot round-trips byte for byte");
    Ok(())
}
