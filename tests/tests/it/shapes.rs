//! Snapshots (insta) of every route's success shape for the article scenario, so a change to
//! Partner Center's JSON shape is a reviewed diff. Ids are deterministic from the scenario's
//! seed, so nothing needs redacting. Regenerate with `INSTA_UPDATE=always cargo test`.

use axum::http::Method;
use insta::assert_json_snapshot;
use skuswap_tests::{Harness, TestResult, article::*};

#[tokio::test]
async fn customer_routes() -> TestResult {
    let h = Harness::article()?;
    assert_json_snapshot!("customers_list", h.get("/v1/customers?size=2").await.body);
    assert_json_snapshot!("customer", h.get(&format!("/v1/customers/{WINGTIP}")).await.body);
    assert_json_snapshot!("relationship_request", h.get("/v1/customers/relationshiprequests").await.body);
    Ok(())
}

#[tokio::test]
async fn offer_routes() -> TestResult {
    let h = Harness::article()?;
    let list = h.get("/v1/offers?country=US").await.body;
    let names: Vec<_> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            format!(
                "{} | {} | available={} | successors={}",
                o["id"].as_str().unwrap_or(""),
                o["name"].as_str().unwrap_or(""),
                o["isAvailableForPurchase"],
                o["upgradeTargetOffers"].as_array().map_or(0, Vec::len)
            )
        })
        .collect();
    assert_json_snapshot!("offers_catalog", names);
    let ax = h.offer_id("ax-enterprise");
    assert_json_snapshot!("offer", h.get(&format!("/v1/offers/{ax}?country=US")).await.body);
    Ok(())
}

#[tokio::test]
async fn subscription_and_order_routes() -> TestResult {
    let h = Harness::article()?;
    assert_json_snapshot!("subscriptions_list", h.get(&format!("/v1/customers/{TAILSPIN}/subscriptions")).await.body);
    let order = h.buy(WINGTIP, "d365-unified-operations", 20).await;
    assert_eq!(order.status, 201);
    assert_json_snapshot!("order_created", order.body);
    let oid = order.body["id"].as_str().unwrap_or_default();
    assert_json_snapshot!("orders_list", h.get(&format!("/v1/customers/{WINGTIP}/orders")).await.body);
    assert_json_snapshot!("order", h.get(&format!("/v1/customers/{WINGTIP}/orders/{oid}")).await.body);
    let suspended = h.set_status(WINGTIP, WINGTIP_AX, "suspended").await;
    assert_json_snapshot!("subscription_suspended", suspended.body);
    Ok(())
}

#[tokio::test]
async fn user_and_license_routes() -> TestResult {
    let h = Harness::article()?;
    assert_json_snapshot!("users_page", h.get(&format!("/v1/customers/{TAILSPIN}/users?size=2")).await.body);
    let user = h.holders(TAILSPIN, "crm-field-service")[0].clone();
    assert_json_snapshot!("user", h.get(&format!("/v1/customers/{TAILSPIN}/users/{user}")).await.body);
    assert_json_snapshot!(
        "user_licenses",
        h.get(&format!("/v1/customers/{TAILSPIN}/users/{user}/licenses")).await.body
    );
    assert_json_snapshot!("subscribed_skus", h.get(&format!("/v1/customers/{TAILSPIN}/subscribedskus")).await.body);
    assert_eq!(h.buy(TAILSPIN, "d365-customer-engagement", 10).await.status, 201);
    let swap = h.swap(TAILSPIN, &user, "crm-professional", "d365-customer-engagement").await;
    assert_json_snapshot!("license_update", swap.body);
    Ok(())
}

#[tokio::test]
async fn error_and_admin_shapes() -> TestResult {
    let h = Harness::article()?;
    let user = h.holders(WINGTIP, "ax-enterprise")[0].clone();
    let r = h.swap(WINGTIP, &user, "ax-enterprise", "d365-plan").await;
    assert_json_snapshot!("error_out_of_licenses", r.body);
    let r = h.send(Method::GET, "/v1/customers", None, &[("authorization", "Bearer expired")]).await;
    assert_json_snapshot!("error_access_denied", r.body);
    assert_json_snapshot!("admin_clock", h.get("/admin/clock").await.body);
    assert_json_snapshot!("admin_advance", h.advance_days(150).await.body);
    assert_json_snapshot!("admin_invariants_after_expiry", h.invariants().await);
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// The wire's hand-written date is chrono's RFC 3339 to the millisecond, for every instant
    /// chrono can hold (four-digit years written digit by digit, the rest left to chrono).
    #[test]
    fn a_wire_date_is_chrono_s_rfc3339(
        secs in -8_334_601_228_800i64..=8_210_298_412_799i64,
        nanos in 0u32..1_000_000_000,
        common in proptest::bool::ANY,
    ) {
        // Most draws inside the years clients see (1900 to 2200), the rest anywhere.
        let secs = if common { secs.rem_euclid(9_467_280_000) - 2_208_988_800 } else { secs };
        let t = chrono::DateTime::from_timestamp(secs, nanos).ok_or_else(|| proptest::test_runner::TestCaseError::reject("out of range"))?;
        proptest::prop_assert_eq!(
            mock_server::http::wire::date(t),
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        );
    }
}
