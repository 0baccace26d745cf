//! Legacy subscription upgrades (`…/subscriptions/{id}/upgrades`) on the `o365-upgrade`
//! scenario: the shapes pinned, each modelled `upgradeErrors` code provoked, the license
//! transfer judged (nobody without a license, the source suspended after), `upgrade_only`
//! leaving the source active, too few seats reported per user, bad bodies refused unchanged.

use axum::http::Method;
use insta::assert_json_snapshot;
use serde_json::{Value, json};
use skuswap_tests::{Harness, TestResult};

const FABRIKAM: &str = "6a0f3e21-4b7c-4d2e-9f18-3c5a7e9b1d01";
const FABRIKAM_E1: &str = "e1e1e1e1-0001-4a1b-8c2d-000000000001";
const LITWARE: &str = "6a0f3e21-4b7c-4d2e-9f18-3c5a7e9b1d02";
const LITWARE_E1: &str = "e1e1e1e1-0002-4a1b-8c2d-000000000001";
const PROSEWARE: &str = "6a0f3e21-4b7c-4d2e-9f18-3c5a7e9b1d03";
const PROSEWARE_E1: &str = "e1e1e1e1-0003-4a1b-8c2d-000000000001";
const TAILWIND: &str = "6a0f3e21-4b7c-4d2e-9f18-3c5a7e9b1d04";
const TAILWIND_AX: &str = "e1e1e1e1-0004-4a1b-8c2d-000000000001";

fn path(customer: &str, sub: &str) -> String {
    format!("/v1/customers/{customer}/subscriptions/{sub}/upgrades")
}

fn codes(item: &Value) -> Vec<String> {
    item["upgradeErrors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["code"].as_str().map(str::to_string))
        .collect()
}

fn events(h: &Harness) -> usize {
    h.mock.read(|w| w.events().len())
}

#[tokio::test]
async fn the_example_path_is_eligible_with_license_transfer() -> TestResult {
    let h = Harness::builtin("o365-upgrade", None)?;
    let r = h.get(&path(FABRIKAM, FABRIKAM_E1)).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    assert_json_snapshot!("upgrades_eligible", r.body);
    let item = &r.body["items"][0];
    assert_eq!(
        (item["isEligible"].as_bool(), item["upgradeType"].as_str()),
        (Some(true), Some("upgrade_with_license_transfer"))
    );
    assert_eq!(item["targetOffer"]["name"], "Office 365 Enterprise E3");
    assert_eq!(item["quantity"], 10);
    // App-only: eligible, but the licenses cannot move with it.
    let app = h.token_for(None, "app").await;
    let auth = format!("Bearer {app}");
    let r = h.send(Method::GET, &path(FABRIKAM, FABRIKAM_E1), None, &[("authorization", &auth)]).await;
    assert_eq!(r.body["items"][0]["upgradeType"], "upgrade_only");
    Ok(())
}

#[tokio::test]
async fn every_modelled_upgrade_error_is_provoked() -> TestResult {
    let h = Harness::builtin("o365-upgrade", None)?;
    let no_path = h.get(&path(TAILWIND, TAILWIND_AX)).await;
    assert_json_snapshot!("upgrades_no_path", no_path.body);
    assert_eq!(codes(&no_path.body["items"][0]), ["subscription_does_not_have_any_upgrade_paths"]);
    assert!(no_path.body["items"][0]["targetOffer"].is_null());
    assert_eq!(codes(&h.get(&path(LITWARE, LITWARE_E1)).await.body["items"][0]), ["conflicting_service_types"]);
    let suspended = h.get(&path(PROSEWARE, PROSEWARE_E1)).await;
    assert_eq!(codes(&suspended.body["items"][0]), ["subscription_status_not_active"]);
    assert_eq!(suspended.body["items"][0]["upgradeErrors"][0]["additionalDetails"], "suspended");
    // A POST of an ineligible upgrade answers its errors and changes nothing.
    let before = events(&h);
    let item = h.get(&path(LITWARE, LITWARE_E1)).await.body["items"][0].clone();
    let mut body = item.clone();
    body["upgradeType"] = json!("upgrade_with_license_transfer");
    let r = h.post(&path(LITWARE, LITWARE_E1), &body.to_string()).await;
    assert_eq!((r.status.as_u16(), codes(&r.body)), (200, vec!["conflicting_service_types".to_string()]), "{}", r.text);
    assert!(r.body["targetSubscriptionId"].is_null());
    // A target that is not an upgrade path of the offer.
    let eligible = h.get(&path(FABRIKAM, FABRIKAM_E1)).await.body["items"][0].clone();
    let mut wrong = eligible.clone();
    wrong["targetOffer"]["id"] = json!("0000DEAD-0000-0000-0000-000000000000");
    let r = h.post(&path(FABRIKAM, FABRIKAM_E1), &wrong.to_string()).await;
    assert_eq!(codes(&r.body), ["subscription_target_offer_not_found"]);
    // License transfer with an app-only token.
    let app = h.token_for(None, "app").await;
    let auth = format!("Bearer {app}");
    let r = h
        .send(Method::POST, &path(FABRIKAM, FABRIKAM_E1), Some(&eligible.to_string()), &[("authorization", &auth)])
        .await;
    assert_eq!(codes(&r.body), ["user_context_required"]);
    // No path at all, asked anyway.
    let r = h.post(&path(TAILWIND, TAILWIND_AX), &eligible.to_string()).await;
    assert_eq!(codes(&r.body), ["subscription_does_not_have_any_upgrade_paths"]);
    assert_eq!(events(&h), before + 1, "only the app-only token was minted");
    Ok(())
}

#[tokio::test]
async fn add_ons_block_the_upgrade_of_their_base() -> TestResult {
    // A scenario whose CRM Professional offer is given an upgrade path, with an add-on on it.
    let mut scenario = skuswap_scenarios::named::resolve("article", None, None)?;
    let catalog = mock_server::model::Catalog::builtin();
    let mut crm = catalog.resolve("crm-professional").cloned().ok_or("no CRM Professional")?;
    crm.upgrade_paths = vec![catalog.resolve("d365-customer-engagement").map(|o| o.id.clone()).ok_or("no D365")?];
    scenario.offers.push(crm);
    let h = Harness::from_world(mock_server::model::World::from_scenario(&scenario, None)?)?;
    let item =
        &h.get(&path(skuswap_tests::article::TAILSPIN, skuswap_tests::article::TAILSPIN_CRM)).await.body["items"][0];
    assert_eq!(codes(item), ["subscription_add_ons_present"], "{item}");
    Ok(())
}

#[tokio::test]
async fn an_upgrade_with_license_transfer_moves_everyone_then_suspends_the_source() -> TestResult {
    let h = Harness::builtin("o365-upgrade", None)?;
    let holders = h.holders(FABRIKAM, "o365-e1");
    assert_eq!(holders.len(), 8);
    let item = h.get(&path(FABRIKAM, FABRIKAM_E1)).await.body["items"][0].clone();
    let r = h.post(&path(FABRIKAM, FABRIKAM_E1), &item.to_string()).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    let target = r.body["targetSubscriptionId"].as_str().ok_or("no target")?.to_string();
    let mut shape = r.body.clone();
    shape["targetSubscriptionId"] = json!("[target]");
    assert_json_snapshot!("upgrade_result", shape);
    assert_eq!(h.holders(FABRIKAM, "o365-e3"), holders, "every E1 holder holds E3");
    assert!(h.holders(FABRIKAM, "o365-e1").is_empty());
    let source = h.get(&format!("/v1/customers/{FABRIKAM}/subscriptions/{FABRIKAM_E1}")).await.body;
    assert_eq!(source["status"], "suspended");
    let new = h.get(&format!("/v1/customers/{FABRIKAM}/subscriptions/{target}")).await.body;
    assert_eq!(
        (new["offerName"].as_str(), new["quantity"].as_u64(), new["status"].as_str()),
        (Some("Office 365 Enterprise E3"), Some(10), Some("active"))
    );
    assert_eq!(h.invariants().await["ok"], true, "{:#}", h.invariants().await);
    let upgraded = h.mock.read(|w| w.events().iter().filter(|e| e.kind.name() == "SubscriptionUpgraded").count());
    assert_eq!(upgraded, 1);
    // Asked again (a retry after a lost answer): the source is no longer active.
    let again = h.post(&path(FABRIKAM, FABRIKAM_E1), &item.to_string()).await;
    assert!(codes(&again.body).contains(&"subscription_status_not_active".to_string()), "{}", again.text);
    assert!(again.body["targetSubscriptionId"].is_null());
    // And through the source's de-provisioning (before Tailwind's AX term ends, which this
    // test does not migrate) nobody loses a license.
    h.advance_days(121).await;
    let source = h.get(&format!("/v1/customers/{FABRIKAM}/subscriptions/{FABRIKAM_E1}")).await.body;
    assert_eq!(source["status"], "deleted");
    assert_eq!(h.invariants().await["ok"], true);
    Ok(())
}

#[tokio::test]
async fn too_few_seats_leave_the_rest_licensed_and_the_source_active() -> TestResult {
    let h = Harness::builtin("o365-upgrade", None)?;
    let mut item = h.get(&path(FABRIKAM, FABRIKAM_E1)).await.body["items"][0].clone();
    item["quantity"] = json!(5);
    let r = h.post(&path(FABRIKAM, FABRIKAM_E1), &item.to_string()).await;
    assert_eq!(r.body["licenseErrors"].as_array().map(Vec::len), Some(3), "{}", r.text);
    assert!(r.body["licenseErrors"][0]["userObjectId"].is_string());
    assert_eq!(h.holders(FABRIKAM, "o365-e3").len(), 5);
    assert_eq!(h.holders(FABRIKAM, "o365-e1").len(), 3);
    let source = h.get(&format!("/v1/customers/{FABRIKAM}/subscriptions/{FABRIKAM_E1}")).await.body;
    assert_eq!(source["status"], "active", "users still depend on it");
    assert_eq!(h.invariants().await["ok"], true);
    Ok(())
}

#[tokio::test]
async fn upgrade_only_buys_the_target_and_leaves_users_and_source_alone() -> TestResult {
    let h = Harness::builtin("o365-upgrade", None)?;
    let mut item = h.get(&path(FABRIKAM, FABRIKAM_E1)).await.body["items"][0].clone();
    item["upgradeType"] = json!("upgrade_only");
    let r = h.post(&path(FABRIKAM, FABRIKAM_E1), &item.to_string()).await;
    assert!(r.body["targetSubscriptionId"].is_string(), "{}", r.text);
    assert_eq!(h.holders(FABRIKAM, "o365-e1").len(), 8);
    assert!(h.holders(FABRIKAM, "o365-e3").is_empty());
    let source = h.get(&format!("/v1/customers/{FABRIKAM}/subscriptions/{FABRIKAM_E1}")).await.body;
    assert_eq!(source["status"], "active");
    assert_eq!(h.invariants().await["ok"], true);
    Ok(())
}

#[tokio::test]
async fn malformed_upgrade_bodies_are_400_and_change_nothing() -> TestResult {
    let h = Harness::builtin("o365-upgrade", None)?;
    let item = h.get(&path(FABRIKAM, FABRIKAM_E1)).await.body["items"][0].clone();
    let before = events(&h);
    let mut sideways = item.clone();
    sideways["upgradeType"] = json!("sideways");
    let mut none = item.clone();
    none["upgradeType"] = json!("none");
    let mut huge = item.clone();
    huge["quantity"] = json!(1_000_000);
    let mut no_target = item.clone();
    no_target["targetOffer"] = Value::Null;
    for (what, body) in [("sideways", sideways), ("none", none), ("huge", huge), ("no target", no_target)] {
        let r = h.post(&path(FABRIKAM, FABRIKAM_E1), &body.to_string()).await;
        assert_eq!(r.status.as_u16(), 400, "{what}: {}", r.text);
        assert!(r.body["description"].as_str().is_some_and(|d| !d.is_empty()), "{what}: {}", r.text);
    }
    let r = h.post(&path(FABRIKAM, FABRIKAM_E1), "[]").await;
    assert_eq!(r.status.as_u16(), 400);
    assert_eq!(events(&h), before, "a refused upgrade changed the mock");
    Ok(())
}
