//! NCE transitions and the NCE lifecycle on the `nce-transition` scenario: eligibilities and
//! a transition's shape pinned; in place, partial and into an existing subscription, each
//! judged; `transition_only` in place reported by the judge; every modelled error provoked;
//! seat reductions only inside the cancellation window; NCE orders with their terms.

use insta::assert_json_snapshot;
use serde_json::{Value, json};
use skuswap_tests::{Harness, TestResult};

const ALPINE: &str = "7a0e0000-0000-4000-8000-000000000001";
const ALPINE_E1: &str = "7a0e0001-0000-4000-9000-000000000001";
const BELLOWS: &str = "7a0e0000-0000-4000-8000-000000000002";
const BELLOWS_E3: &str = "7a0e0002-0000-4000-9000-000000000001";
const BELLOWS_M365: &str = "7a0e0002-0000-4000-9000-000000000002";
const COHO: &str = "7a0e0000-0000-4000-8000-000000000003";
const COHO_E1: &str = "7a0e0003-0000-4000-9000-000000000001";
const COHO_E3: &str = "7a0e0003-0000-4000-9000-000000000002";
const DATUM: &str = "7a0e0000-0000-4000-8000-000000000004";
const DATUM_E1: &str = "7a0e0004-0000-4000-9000-000000000001";
const NCE_E3: &str = "CFQ7TTC0LF8Q:0001:CFQ7TTC0LF8W";
const NCE_M365_E3: &str = "CFQ7TTC0LFLX:0001:CFQ7TTC0LFM0";

fn scenario() -> Result<Harness, Box<dyn std::error::Error>> {
    Harness::builtin("nce-transition", None)
}

fn sub_path(customer: &str, sub: &str) -> String {
    format!("/v1/customers/{customer}/subscriptions/{sub}")
}

fn codes(errors: &Value) -> Vec<i64> {
    errors.as_array().into_iter().flatten().filter_map(|e| e["code"].as_i64()).collect()
}

async fn transition(h: &Harness, customer: &str, sub: &str, body: Value) -> skuswap_tests::Reply {
    h.post(&format!("{}/transitions", sub_path(customer, sub)), &body.to_string()).await
}

#[tokio::test]
async fn eligibilities_list_each_target_and_transition_type() -> TestResult {
    let h = scenario()?;
    let r = h.get(&format!("{}/transitionEligibilities?eligibilityType=immediate", sub_path(ALPINE, ALPINE_E1))).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    assert_json_snapshot!("transition_eligibilities", r.body);
    let item = &r.body["items"][0];
    assert_eq!(item["catalogItemId"], NCE_E3);
    let types: Vec<(&str, bool)> = item["eligibilities"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e["transitionType"].as_str()?, e["isEligible"].as_bool()?)))
        .collect();
    assert_eq!(types, [("transition_only", true), ("transition_with_license_transfer", true)]);
    let r = h.get(&format!("{}/transitionEligibilities?eligibilityType=sometime", sub_path(ALPINE, ALPINE_E1))).await;
    assert_eq!(r.status.as_u16(), 400);
    Ok(())
}

#[tokio::test]
async fn a_whole_transition_with_licenses_converts_in_place_and_nobody_is_unlicensed() -> TestResult {
    let h = scenario()?;
    let body = json!({"toCatalogItemId": NCE_E3, "quantity": 25, "transitionType": "transition_with_license_transfer"});
    let r = transition(&h, ALPINE, ALPINE_E1, body).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    assert_json_snapshot!("transition_created", r.body);
    assert!(r.body["toSubscriptionId"].is_null(), "in place: the subscription does not change");
    let sub = h.get(&sub_path(ALPINE, ALPINE_E1)).await.body;
    assert_eq!((sub["offerId"].as_str(), sub["quantity"].as_i64()), (Some(NCE_E3), Some(25)), "{sub}");
    assert_eq!((h.holders(ALPINE, "nce-o365-e1").len(), h.holders(ALPINE, "nce-o365-e3").len()), (0, 20));
    let verdict = h.invariants().await;
    assert_eq!(verdict["ok"], true, "{verdict}");
    let listed = h.get(&format!("{}/transitions", sub_path(ALPINE, ALPINE_E1))).await.body;
    assert_eq!(listed["totalCount"], 1);
    let names: Vec<&str> =
        listed["items"][0]["events"].as_array().into_iter().flatten().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(names, ["Conversion", "LicenseReassignment"]);
    Ok(())
}

#[tokio::test]
async fn a_transition_without_licenses_in_place_is_reported_by_the_judge() -> TestResult {
    let h = scenario()?;
    let body = json!({"toCatalogItemId": NCE_E3, "quantity": 25, "transitionType": "transition_only"});
    assert_eq!(transition(&h, ALPINE, ALPINE_E1, body).await.status.as_u16(), 200);
    let verdict = h.invariants().await;
    let lost =
        verdict["violations"].as_array().into_iter().flatten().filter(|v| v["kind"] == "user_unlicensed").count();
    assert_eq!(lost, 20, "{verdict}");
    Ok(())
}

#[tokio::test]
async fn a_partial_transition_buys_a_co_termed_subscription() -> TestResult {
    let h = scenario()?;
    let body = json!({"toCatalogItemId": NCE_E3, "quantity": 10, "transitionType": "transition_with_license_transfer"});
    let r = transition(&h, ALPINE, ALPINE_E1, body).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    let to = r.body["toSubscriptionId"].as_str().ok_or("no new subscription")?.to_string();
    let source = h.get(&sub_path(ALPINE, ALPINE_E1)).await.body;
    let target = h.get(&sub_path(ALPINE, &to)).await.body;
    assert_eq!((source["quantity"].as_i64(), target["quantity"].as_i64()), (Some(15), Some(10)));
    assert_eq!(target["commitmentEndDate"], source["commitmentEndDate"], "co-termed");
    assert_eq!((h.holders(ALPINE, "nce-o365-e1").len(), h.holders(ALPINE, "nce-o365-e3").len()), (10, 10));
    assert_eq!(h.invariants().await["ok"], true);
    Ok(())
}

#[tokio::test]
async fn every_seat_into_an_existing_subscription_cancels_the_source() -> TestResult {
    let h = scenario()?;
    let r = h.get(&format!("{}/transitionEligibilities", sub_path(BELLOWS, BELLOWS_E3))).await;
    let existing = &r.body["items"][0]["subscriptionEligibilities"][0];
    assert_eq!(
        (existing["subscriptionId"].as_str(), existing["isEligible"].as_bool()),
        (Some(BELLOWS_M365), Some(true)),
        "{}",
        r.text
    );
    let body = json!({"toCatalogItemId": NCE_M365_E3, "toSubscriptionId": BELLOWS_M365, "quantity": 10,
        "transitionType": "transition_with_license_transfer"});
    let r = transition(&h, BELLOWS, BELLOWS_E3, body).await;
    assert_eq!((r.status.as_u16(), r.body["toSubscriptionId"].as_str()), (200, Some(BELLOWS_M365)), "{}", r.text);
    assert_eq!(h.get(&sub_path(BELLOWS, BELLOWS_M365)).await.body["quantity"], 15);
    assert_eq!(h.get(&sub_path(BELLOWS, BELLOWS_E3)).await.body["status"], "deleted");
    assert_eq!(h.holders(BELLOWS, "nce-m365-e3").len(), 13);
    assert_eq!(h.invariants().await["ok"], true);
    Ok(())
}

#[tokio::test]
async fn every_modelled_transition_error_is_provoked() -> TestResult {
    let h = scenario()?;
    // 5: an existing target still inside its cancellation window (Coho's monthly E3).
    let r = h.get(&format!("{}/transitionEligibilities", sub_path(COHO, COHO_E1))).await;
    let existing = &r.body["items"][0]["subscriptionEligibilities"][0];
    assert_eq!(existing["subscriptionId"], COHO_E3, "{}", r.text);
    assert!(codes(&existing["errors"]).contains(&5), "{}", r.text);
    // 6 and 7: a monthly E3 bought today as the target of Alpine's annual E1.
    let order = json!({"lineItems": [{"lineItemNumber": 0, "offerId": NCE_E3, "quantity": 1, "termDuration": "P1M", "billingCycle": "Monthly"}]});
    let r = h.post(&format!("/v1/customers/{ALPINE}/orders"), &order.to_string()).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    let r = h.get(&format!("{}/transitionEligibilities", sub_path(ALPINE, ALPINE_E1))).await;
    let errors = codes(&r.body["items"][0]["subscriptionEligibilities"][0]["errors"]);
    assert!(errors.contains(&6) && errors.contains(&7), "{}", r.text);
    // 3: Datum holds E3 through Open: licenses cannot be transferred onto it.
    let r = h.get(&format!("{}/transitionEligibilities", sub_path(DATUM, DATUM_E1))).await;
    let e = &r.body["items"][0]["eligibilities"];
    assert_eq!((codes(&e[0]["errors"]), codes(&e[1]["errors"])), (vec![], vec![3]), "{}", r.text);
    let refused =
        json!({"toCatalogItemId": NCE_E3, "quantity": 5, "transitionType": "transition_with_license_transfer"});
    assert_eq!(transition(&h, DATUM, DATUM_E1, refused).await.code(), Some(800_085));
    // 1: a suspended source; 2: a legacy one (it migrates instead).
    assert_eq!(h.set_status(COHO, COHO_E1, "suspended").await.status.as_u16(), 200);
    let r = h.get(&format!("{}/transitionEligibilities", sub_path(COHO, COHO_E1))).await;
    assert!(codes(&r.body["items"][0]["eligibilities"][0]["errors"]).contains(&1), "{}", r.text);
    let m = Harness::builtin("nce-migration", None)?;
    let r = m
        .get("/v1/customers/5c0e0000-0000-4000-8000-000000000001/subscriptions/5c0e0001-0000-4000-9000-000000000001/transitionEligibilities")
        .await;
    assert_eq!(codes(&r.body["items"][0]["eligibilities"][0]["errors"]), [2], "{}", r.text);
    // Bad requests change nothing.
    let before = h.mock.read(|w| w.events().len());
    for body in [
        json!({"quantity": 1, "transitionType": "transition_only"}),
        json!({"toCatalogItemId": NCE_E3, "transitionType": "transition_only"}),
        json!({"toCatalogItemId": NCE_E3, "quantity": 1}),
        json!({"toCatalogItemId": NCE_E3, "quantity": 1, "transitionType": "sideways"}),
        json!({"toCatalogItemId": NCE_E3, "quantity": 26, "transitionType": "transition_only"}),
        json!({"toCatalogItemId": NCE_M365_E3, "quantity": 1, "transitionType": "transition_only"}),
        json!({"toCatalogItemId": NCE_E3, "quantity": 1, "transitionType": "transition_only", "toSubscriptionId": BELLOWS_M365}),
    ] {
        let r = transition(&h, ALPINE, ALPINE_E1, body.clone()).await;
        assert_eq!(r.status.as_u16(), 400, "{body}: {}", r.text);
    }
    assert_eq!(h.mock.read(|w| w.events().len()), before);
    Ok(())
}

#[tokio::test]
async fn nce_seats_are_reduced_only_inside_the_cancellation_window() -> TestResult {
    let h = scenario()?;
    let change = |customer: &'static str, sub: &'static str, q: i64| {
        let h = &h;
        async move {
            let path = sub_path(customer, sub);
            let mut body = h.get(&path).await.body;
            body["quantity"] = json!(q);
            h.patch(&path, &body.to_string(), &[]).await
        }
    };
    let r = change(ALPINE, ALPINE_E1, 24).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, Some(800_090)), "{}", r.text);
    assert_eq!(change(ALPINE, ALPINE_E1, 30).await.status.as_u16(), 200, "increases are always allowed");
    // Inside the 7-day window a reduction is allowed (above the seats in use: all 6 are held).
    assert_eq!(change(COHO, COHO_E1, 8).await.status.as_u16(), 200);
    assert_eq!(change(COHO, COHO_E1, 7).await.status.as_u16(), 200, "inside the 7-day window");
    assert_eq!(change(COHO, COHO_E1, 5).await.code(), Some(800_095), "never below the seats in use");
    let r = h.get(&sub_path(COHO, COHO_E1)).await.body;
    assert_eq!((r["termDuration"].as_str(), r["billingCycle"].as_str()), (Some("P1M"), Some("monthly")));
    // A monthly term renews for a month and opens a new window.
    h.advance_days(30).await;
    let r = h.get(&sub_path(COHO, COHO_E1)).await.body;
    assert_eq!(r["commitmentEndDate"], "2023-07-08T00:00:00.000Z", "{r}");
    assert_eq!(r["cancellationAllowedUntilDate"], "2023-06-15T00:00:00.000Z", "{r}");
    Ok(())
}

#[tokio::test]
async fn nce_orders_buy_the_term_asked_for_or_refuse_it() -> TestResult {
    let h = scenario()?;
    let order = |term: &str, billing: &str| {
        json!({"lineItems": [{"lineItemNumber": 0, "offerId": NCE_E3, "quantity": 2, "termDuration": term, "billingCycle": billing}]})
            .to_string()
    };
    let r = h.post(&format!("/v1/customers/{COHO}/orders"), &order("P3Y", "Annual")).await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.text);
    let sub = r.body["lineItems"][0]["subscriptionId"].as_str().ok_or("no subscription")?.to_string();
    let s = h.get(&sub_path(COHO, &sub)).await.body;
    assert_eq!(
        (s["termDuration"].as_str(), s["commitmentEndDate"].as_str()),
        (Some("P3Y"), Some("2026-05-10T09:00:00.000Z"))
    );
    for (t, b) in [("P1M", "Annual"), ("P2Y", "Monthly"), ("P1Y", "Weekly")] {
        let r = h.post(&format!("/v1/customers/{COHO}/orders"), &order(t, b)).await;
        assert_eq!(r.status.as_u16(), 400, "{t}/{b}: {}", r.text);
    }
    let r = h.get("/v1/offers/CFQ7TTC0LF8Q:0001?country=US").await;
    assert_eq!(r.status.as_u16(), 404, "NCE items are products, not legacy offers");
    Ok(())
}
