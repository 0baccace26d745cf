//! The virtual clock drives every deadline, processed in order at its exact time: expiry at
//! the end date, renewal for auto-renewing current offers, de-provisioning 120 days after
//! suspension (configurable), prospects accepting an invitation.

use skuswap_tests::{Harness, TestResult, article::*};

fn sub(customer: &str, id: &str) -> String {
    format!("/v1/customers/{customer}/subscriptions/{id}")
}

#[tokio::test]
async fn a_legacy_subscription_expires_at_its_end_date_and_is_deprovisioned_later() -> TestResult {
    let h = Harness::article()?;
    let r = h.post("/admin/clock/advance", r#"{"to":"2017-11-29T23:59:59Z"}"#).await;
    assert_eq!(r.status, 200);
    assert_eq!(h.get(&sub(TAILSPIN, TAILSPIN_CRM)).await.body["status"], "active");
    let r = h.post("/admin/clock/advance", r#"{"hours":1}"#).await;
    assert_eq!(r.body["steps"], 2, "{}", r.text);
    let s = h.get(&sub(TAILSPIN, TAILSPIN_CRM)).await.body;
    assert_eq!(s["status"], "expired");
    // Logged at its exact time, not at the time the clock was moved to.
    let expired =
        h.mock.read(|w| w.events().iter().find(|e| e.kind.name() == "SubscriptionExpired").map(|e| e.at.to_rfc3339()));
    assert_eq!(expired.as_deref(), Some("2017-11-30T00:00:00+00:00"));
    let skus = h.get(&format!("/v1/customers/{TAILSPIN}/subscribedskus")).await;
    let crm = skus.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["productSku"]["skuPartNumber"] == "CRMSTANDARD")
        .cloned()
        .ok_or("no row")?;
    assert_eq!((crm["activeUnits"].as_u64(), crm["warningUnits"].as_u64()), (Some(0), Some(10)));
    assert_eq!(crm["capabilityStatus"], "Warning");
    // 120 days after expiry it is deleted and its assignments released.
    h.advance_days(120).await;
    assert_eq!(h.get(&sub(TAILSPIN, TAILSPIN_CRM)).await.body["status"], "deleted");
    assert!(h.holders(TAILSPIN, "crm-professional").is_empty());
    Ok(())
}

#[tokio::test]
async fn an_auto_renewing_current_offer_renews_for_another_term() -> TestResult {
    let h = Harness::article()?;
    let r = h.buy(WINGTIP, "d365-sales", 3).await;
    let sid = r.body["lineItems"][0]["subscriptionId"].as_str().ok_or("no id")?.to_string();
    let end = h.get(&sub(WINGTIP, &sid)).await.body["commitmentEndDate"].clone();
    assert_eq!(end, "2018-07-03T09:00:00.000Z");
    h.post("/admin/clock/advance", r#"{"to":"2018-07-04T00:00:00Z"}"#).await;
    let s = h.get(&sub(WINGTIP, &sid)).await.body;
    assert_eq!(s["status"], "active");
    assert_eq!(s["commitmentEndDate"], "2019-07-03T09:00:00.000Z");
    // Switched off, it expires at the next end date instead.
    h.patch(&sub(WINGTIP, &sid), r#"{"autoRenewEnabled":false}"#, &[]).await;
    h.post("/admin/clock/advance", r#"{"to":"2019-07-03T09:00:00Z"}"#).await;
    assert_eq!(h.get(&sub(WINGTIP, &sid)).await.body["status"], "expired");
    Ok(())
}

#[tokio::test]
async fn a_suspended_subscription_is_deprovisioned_after_exactly_120_days() -> TestResult {
    let h = Harness::article()?;
    assert_eq!(h.set_status(WINGTIP, WINGTIP_AX_TASK, "suspended").await.status, 200);
    h.advance_days(119).await;
    assert_eq!(h.get(&sub(WINGTIP, WINGTIP_AX_TASK)).await.body["status"], "suspended");
    h.post("/admin/clock/advance", r#"{"hours":23}"#).await;
    assert_eq!(h.get(&sub(WINGTIP, WINGTIP_AX_TASK)).await.body["status"], "suspended");
    h.post("/admin/clock/advance", r#"{"hours":1}"#).await;
    assert_eq!(h.get(&sub(WINGTIP, WINGTIP_AX_TASK)).await.body["status"], "deleted");
    assert!(h.holders(WINGTIP, "ax-task").is_empty(), "de-provisioning releases the assignments");
    Ok(())
}

#[tokio::test]
async fn the_deprovisioning_window_is_a_scenario_setting() -> TestResult {
    let mut scenario = skuswap_scenarios::named::resolve("article", None, None)?;
    scenario.settings.deprovision_days = 90;
    let h = skuswap_tests::Harness::from_world(mock_server::model::World::from_scenario(&scenario, None)?)?;
    h.set_status(WINGTIP, WINGTIP_AX_TASK, "suspended").await;
    h.advance_days(90).await;
    assert_eq!(h.get(&sub(WINGTIP, WINGTIP_AX_TASK)).await.body["status"], "deleted");
    Ok(())
}

#[tokio::test]
async fn reactivation_inside_the_window_cancels_deprovisioning() -> TestResult {
    let h = Harness::article()?;
    h.set_status(WINGTIP, WINGTIP_AX_TASK, "suspended").await;
    h.advance_days(60).await;
    assert_eq!(h.set_status(WINGTIP, WINGTIP_AX_TASK, "active").await.status, 200);
    h.advance_days(61).await;
    assert_eq!(h.get(&sub(WINGTIP, WINGTIP_AX_TASK)).await.body["status"], "active");
    Ok(())
}

#[tokio::test]
async fn a_prospect_accepts_after_the_configured_days() -> TestResult {
    let mut scenario = skuswap_scenarios::named::resolve("article", None, None)?;
    let aw = scenario.customers.iter_mut().find(|c| c.company_name == "Adventure Works").ok_or("no AW")?;
    aw.partner = None;
    aw.relationship = mock_server::model::scenario::ScenarioRelationship::Prospect;
    aw.accepts_after_days = Some(10);
    aw.subscriptions[0].channel = mock_server::model::scenario::ScenarioChannel::Open;
    let h = Harness::from_world(mock_server::model::World::from_scenario(&scenario, None)?)?;
    assert_eq!(h.get(&format!("/v1/customers/{ADVENTURE_WORKS}")).await.status, 404);
    h.advance_days(9).await;
    assert_eq!(h.get(&format!("/v1/customers/{ADVENTURE_WORKS}")).await.status, 404);
    h.advance_days(1).await;
    let r = h.get(&format!("/v1/customers/{ADVENTURE_WORKS}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["relationshipToPartner"], "reseller");
    Ok(())
}

#[tokio::test]
async fn the_clock_never_goes_backwards() -> TestResult {
    let h = Harness::article()?;
    for body in
        [r#"{"to":"2017-01-01T00:00:00Z"}"#, r#"{"days":-1}"#, r#"{"days":1,"hours":1}"#, r#"{}"#, r#"{"weeks":1}"#]
    {
        let r = h.post("/admin/clock/advance", body).await;
        assert_eq!(r.status, 400, "{body}");
    }
    assert_eq!(h.get("/admin/clock").await.body["now"], "2017-07-03T09:00:00.000Z");
    Ok(())
}
