//! The source article's migration through the API (buy, swap every user in one call each,
//! suspend, advance 121 days) keeps every user licensed; the broken variants a hurried script
//! might do are each caught by `/admin/invariants`, naming the user, event and request.

use skuswap_tests::{Harness, TestResult, article::*};

async fn buy_and_swap(h: &Harness) -> TestResult {
    let r = h.buy(WINGTIP, "d365-unified-operations", 20).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let users = h.holders(WINGTIP, "ax-enterprise");
    assert_eq!(users.len(), 6);
    for u in &users {
        let r = h.swap(WINGTIP, u, "ax-enterprise", "d365-unified-operations").await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    Ok(())
}

#[tokio::test]
async fn the_article_walkthrough_keeps_every_user_licensed() -> TestResult {
    let h = Harness::article()?;
    buy_and_swap(&h).await?;
    let r = h.set_status(WINGTIP, WINGTIP_AX, "suspended").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "suspended");
    let r = h.advance_days(121).await;
    assert_eq!(r.status, 200);
    let sub = h.get(&format!("/v1/customers/{WINGTIP}/subscriptions/{WINGTIP_AX}")).await;
    assert_eq!(sub.body["status"], "deleted");
    assert_eq!(h.holders(WINGTIP, "d365-unified-operations").len(), 6);
    assert!(h.holders(WINGTIP, "ax-enterprise").is_empty());
    let verdict = h.invariants().await;
    assert_eq!(verdict["ok"], true, "{verdict:#}");
    Ok(())
}

#[tokio::test]
async fn remove_then_assign_in_two_calls_is_reported_per_user() -> TestResult {
    let h = Harness::article()?;
    assert_eq!(h.buy(WINGTIP, "d365-unified-operations", 20).await.status, 201);
    let users = h.holders(WINGTIP, "ax-enterprise");
    let (old, new) = (h.sku_id("ax-enterprise"), h.sku_id("d365-unified-operations"));
    for u in &users {
        let path = format!("/v1/customers/{WINGTIP}/users/{u}/licenseupdates");
        let r = h
            .send(
                axum::http::Method::POST,
                &path,
                Some(&format!(r#"{{"licensesToRemove":["{old}"]}}"#)),
                &[("MS-RequestId", "11111111-2222-4333-8444-555555555555")],
            )
            .await;
        assert_eq!(r.status, 201);
        assert_eq!(h.post(&path, &format!(r#"{{"licensesToAssign":[{{"skuId":"{new}"}}]}}"#)).await.status, 201);
    }
    let verdict = h.invariants().await;
    assert_eq!(verdict["ok"], false);
    let violations = verdict["violations"].as_array().cloned().unwrap_or_default();
    assert_eq!(violations.len(), users.len(), "{verdict:#}");
    let v = &violations[0];
    assert_eq!(v["kind"], "user_unlicensed");
    assert_eq!(v["user"], users[0].as_str());
    assert_eq!(v["family"], "dynamics");
    assert_eq!(v["cause"]["type"], "request");
    assert_eq!(v["cause"]["operation"], "updateLicenses");
    assert_eq!(v["cause"]["requestId"], "11111111-2222-4333-8444-555555555555");
    // The event named is the removal itself.
    let seq = v["event"].as_u64().unwrap_or_default();
    let events = h.get(&format!("/admin/events?after={}", seq - 1)).await.body;
    assert_eq!(events["events"][0]["kind"]["type"], "licenseRemoved");
    assert_eq!(events["events"][0]["user"], users[0].as_str());
    Ok(())
}

#[tokio::test]
async fn suspending_before_the_swaps_is_reported_as_unlicensed_and_over_assigned() -> TestResult {
    let h = Harness::article()?;
    assert_eq!(h.buy(WINGTIP, "d365-unified-operations", 20).await.status, 201);
    assert_eq!(h.set_status(WINGTIP, WINGTIP_AX, "suspended").await.status, 200);
    let verdict = h.invariants().await;
    let violations = verdict["violations"].as_array().cloned().unwrap_or_default();
    let unlicensed = violations.iter().filter(|v| v["kind"] == "user_unlicensed").count();
    let over = violations.iter().filter(|v| v["kind"] == "seats_over_assigned").count();
    assert_eq!((unlicensed, over), (6, 1), "{verdict:#}");
    assert!(violations.iter().all(|v| v["cause"]["operation"] == "updateSubscription"));
    Ok(())
}

#[tokio::test]
async fn letting_the_end_date_pass_unmigrated_is_reported_at_the_clock_step() -> TestResult {
    let h = Harness::article()?;
    // Tailspin's CRM Online subscriptions end on 2017-11-30; nobody migrates them.
    assert_eq!(h.post("/admin/clock/advance", r#"{"to":"2017-12-01T00:00:00Z"}"#).await.status, 200);
    let verdict = h.invariants().await;
    let violations = verdict["violations"].as_array().cloned().unwrap_or_default();
    assert_eq!(violations.len(), 7, "{verdict:#}");
    assert!(violations.iter().all(|v| v["customer"] == TAILSPIN && v["cause"]["type"] == "clockStep"));
    assert!(violations.iter().all(|v| v["at"] == "2017-11-30T00:00:00Z"));
    Ok(())
}

#[tokio::test]
async fn deleting_a_user_is_not_a_licensing_violation() -> TestResult {
    let h = Harness::article()?;
    let user = h.holders(WINGTIP, "ax-enterprise")[0].clone();
    let r = h.send(axum::http::Method::DELETE, &format!("/v1/customers/{WINGTIP}/users/{user}"), None, &[]).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(h.invariants().await["ok"], true);
    Ok(())
}
