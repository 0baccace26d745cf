//! Order creation: purchasable offer, quantity within bounds, add-on needs an active base,
//! reseller relationship; all lines checked before anything is bought.

use chrono::{DateTime, Months, Utc};
use skuswap_tests::{Harness, TestResult, article::*};

fn order(lines: &[(usize, &str, i64)]) -> String {
    let items: Vec<String> = lines
        .iter()
        .map(|(n, offer, q)| format!(r#"{{"lineItemNumber":{n},"offerId":"{offer}","quantity":{q}}}"#))
        .collect();
    format!(r#"{{"lineItems":[{}]}}"#, items.join(","))
}

#[tokio::test]
async fn an_order_creates_active_subscriptions_with_terms_from_the_virtual_clock() -> TestResult {
    let h = Harness::article()?;
    let r = h.buy(WINGTIP, "d365-unified-operations", 20).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["status"], "completed");
    let sid = r.body["lineItems"][0]["subscriptionId"].as_str().ok_or("no subscription id")?;
    let sub = h.get(&format!("/v1/customers/{WINGTIP}/subscriptions/{sid}")).await;
    assert_eq!(sub.body["status"], "active");
    assert_eq!(sub.body["quantity"], 20);
    assert_eq!(sub.body["autoRenewEnabled"], true);
    let now: DateTime<Utc> = "2017-07-03T09:00:00Z".parse()?;
    assert_eq!(sub.body["creationDate"], "2017-07-03T09:00:00.000Z");
    let end = now.checked_add_months(Months::new(12)).ok_or("date")?;
    assert_eq!(sub.body["commitmentEndDate"], end.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    // Listed, and by order id.
    let oid = r.body["id"].as_str().ok_or("no order id")?;
    let by_order = h.get(&format!("/v1/customers/{WINGTIP}/subscriptions?order_id={oid}")).await;
    assert_eq!(by_order.body["totalCount"], 1);
    let orders = h.get(&format!("/v1/customers/{WINGTIP}/orders")).await;
    // Oldest first: the scenario's own orders (one per subscription it came with), then this.
    let listed = orders.body["items"].as_array().ok_or("no items")?;
    assert_eq!(listed.last().map(|o| &o["id"]), Some(&serde_json::Value::from(oid)));
    let one = h.get(&format!("/v1/customers/{WINGTIP}/orders/{oid}")).await;
    assert_eq!(one.body["lineItems"][0]["subscriptionId"], sid);
    // And the new seats are in the tenant's SKUs.
    let skus = h.get(&format!("/v1/customers/{WINGTIP}/subscribedskus")).await;
    let new_sku = h.sku_id("d365-unified-operations");
    let row = skus.body["items"].as_array().into_iter().flatten().find(|s| s["productSku"]["id"] == new_sku.as_str());
    assert_eq!(row.map(|r| r["activeUnits"].clone()), Some(20.into()));
    Ok(())
}

#[tokio::test]
async fn order_rules_refuse_with_partner_center_codes_and_buy_nothing() -> TestResult {
    let h = Harness::article()?;
    let d365 = h.offer_id("d365-sales");
    let uo = h.offer_id("d365-unified-operations");
    let retired = h.offer_id("ax-enterprise");
    let cases: Vec<(String, String, u16, u64)> = vec![
        (WINGTIP.into(), order(&[(0, &retired, 20)]), 403, 2091),
        (WINGTIP.into(), order(&[(0, "6A1C4B5E-0000-0000-0000-000000000000", 1)]), 400, 800_004),
        (WINGTIP.into(), order(&[(0, &uo, 5)]), 400, 2002),
        (WINGTIP.into(), order(&[(0, &d365, 0)]), 400, 2002),
        (WINGTIP.into(), order(&[(0, &d365, -3)]), 400, 2002),
        (WINGTIP.into(), order(&[(0, &d365, 10_001)]), 400, 2002),
        (WINGTIP.into(), order(&[(0, &d365, 1_000_000_000_000)]), 400, 2002),
        (WINGTIP.into(), order(&[(0, &d365, 1), (2, &d365, 1)]), 400, 800_071),
        // The second line is bad: the first must not be bought either.
        (WINGTIP.into(), order(&[(0, &d365, 1), (1, &retired, 20)]), 403, 2091),
        (WINGTIP.into(), r#"{"lineItems":[]}"#.into(), 400, 800_002),
        (ADVENTURE_WORKS.into(), order(&[(0, &d365, 1)]), 403, 20_002),
        ("0b9a7c3e-1111-4222-8333-444455556666".into(), order(&[(0, &d365, 1)]), 404, 60_003),
    ];
    let before = h.mock.read(|w| w.events().len());
    for (customer, body, status, code) in cases {
        let r = h.post(&format!("/v1/customers/{customer}/orders"), &body).await;
        assert_eq!((r.status.as_u16(), r.code()), (status, Some(code)), "{body}: {}", r.text);
        assert_eq!(r.body["source"], "PartnerFD");
    }
    assert_eq!(h.mock.read(|w| w.events().len()), before, "a refused order changed state");
    Ok(())
}

#[tokio::test]
async fn an_add_on_needs_an_active_base_subscription() -> TestResult {
    // A scenario that adds a purchasable add-on to the catalog (the catalog is data).
    let mut scenario = skuswap_scenarios::named::resolve("article", None, None)?;
    let base = scenario_offer("d365-sales")?;
    let mut addon = base.clone();
    addon.key = "d365-sales-insights".into();
    addon.id = "7E1A0C55-2F3B-4C8D-9E6F-0A1B2C3D4E5F".into();
    addon.name = "Dynamics 365 Sales Insights add-on".into();
    addon.sku_id = uuid::Uuid::parse_str("5a0e2f1c-7b3d-4e9a-8c6f-1d2e3f4a5b6c")?;
    addon.is_add_on = true;
    addon.prerequisite_offers = vec![base.id.clone()];
    scenario.offers.push(addon);
    let h = Harness::from_world(mock_server::model::World::from_scenario(&scenario, None)?)?;
    let body = order(&[(0, "7E1A0C55-2F3B-4C8D-9E6F-0A1B2C3D4E5F", 2)]);
    let r = h.post(&format!("/v1/customers/{WINGTIP}/orders"), &body).await;
    assert_eq!((r.status.as_u16(), r.code()), (409, Some(27_009)), "{}", r.text);
    let r = h.buy(WINGTIP, "d365-sales", 3).await;
    assert_eq!(r.status, 201);
    let base_id = r.body["lineItems"][0]["subscriptionId"].clone();
    let r = h.post(&format!("/v1/customers/{WINGTIP}/orders"), &body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let sid = r.body["lineItems"][0]["subscriptionId"].as_str().ok_or("no id")?;
    let sub = h.get(&format!("/v1/customers/{WINGTIP}/subscriptions/{sid}")).await;
    assert_eq!(sub.body["parentSubscriptionId"], base_id);
    Ok(())
}

/// The add-on's base, read from the listing as a client would: the earliest active
/// subscription (creation date, then id) of one of the prerequisite offers.
async fn expected_base(h: &Harness, prerequisites: &[String]) -> Option<String> {
    let list = h.get(&format!("/v1/customers/{WINGTIP}/subscriptions")).await.body;
    let mut bases: Vec<(String, String)> = list["items"]
        .as_array()?
        .iter()
        .filter(|s| s["status"] == "active")
        .filter(|s| prerequisites.iter().any(|p| s["offerId"].as_str().is_some_and(|o| o.eq_ignore_ascii_case(p))))
        .filter_map(|s| Some((s["creationDate"].as_str()?.to_string(), s["id"].as_str()?.to_string())))
        .collect();
    bases.sort();
    bases.into_iter().next().map(|(_, id)| id)
}

#[tokio::test]
async fn an_add_on_joins_the_earliest_active_base_of_any_prerequisite_sku() -> TestResult {
    // Two prerequisites on two SKUs, bases bought on different days, the earliest suspended
    // in turn: the add-on must follow the rule across SKUs, not one SKU's index.
    let mut scenario = skuswap_scenarios::named::resolve("article", None, None)?;
    let (sales, service) = (scenario_offer("d365-sales")?, scenario_offer("d365-customer-service")?);
    let mut addon = sales.clone();
    addon.key = "d365-insights".into();
    addon.id = "7E1A0C55-2F3B-4C8D-9E6F-0A1B2C3D4E5F".into();
    addon.sku_id = uuid::Uuid::parse_str("5a0e2f1c-7b3d-4e9a-8c6f-1d2e3f4a5b6c")?;
    addon.is_add_on = true;
    addon.prerequisite_offers = vec![service.id.clone(), sales.id.clone()];
    let prerequisites = addon.prerequisite_offers.clone();
    scenario.offers.push(addon);
    let h = Harness::from_world(mock_server::model::World::from_scenario(&scenario, None)?)?;
    let mut bought = Vec::new();
    for key in ["d365-sales", "d365-customer-service", "d365-sales"] {
        let r = h.buy(WINGTIP, key, 2).await;
        assert_eq!(r.status, 201, "{}", r.text);
        bought.push(r.body["lineItems"][0]["subscriptionId"].as_str().ok_or("no id")?.to_string());
        h.advance_days(1).await;
    }
    let body = order(&[(0, "7E1A0C55-2F3B-4C8D-9E6F-0A1B2C3D4E5F", 1)]);
    for suspended in [None, Some(0), Some(1)] {
        if let Some(i) = suspended {
            let r = h.set_status(WINGTIP, &bought[i], "suspended").await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        let expected = expected_base(&h, &prerequisites).await.ok_or("no active base")?;
        let r = h.post(&format!("/v1/customers/{WINGTIP}/orders"), &body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let sid = r.body["lineItems"][0]["subscriptionId"].as_str().ok_or("no id")?;
        let sub = h.get(&format!("/v1/customers/{WINGTIP}/subscriptions/{sid}")).await;
        assert_eq!(sub.body["parentSubscriptionId"], expected.as_str(), "after suspending {suspended:?}");
    }
    Ok(())
}

fn scenario_offer(key: &str) -> Result<mock_server::model::Offer, Box<dyn std::error::Error>> {
    Ok(mock_server::model::Catalog::builtin().resolve(key).cloned().ok_or("no offer")?)
}

#[tokio::test]
async fn orders_accept_pascal_case_bodies_as_the_docs_show_them() -> TestResult {
    let h = Harness::article()?;
    let offer = h.offer_id("d365-sales");
    let items = format!(r#"[{{"LineItemNumber":0,"OfferId":"{offer}","Quantity":2,"FriendlyName":"Sales"}}]"#);
    // PascalCase throughout, and PascalCase only below a camelCase top level.
    for top in [["ReferenceCustomerId", "LineItems"], ["referenceCustomerId", "lineItems"]] {
        let body = format!(r#"{{"{}":"{WINGTIP}","{}":{items}}}"#, top[0], top[1]);
        let r = h.post(&format!("/v1/customers/{WINGTIP}/orders"), &body).await;
        assert_eq!(r.status, 201, "{body}: {}", r.text);
        assert_eq!(r.body["lineItems"][0]["friendlyName"], "Sales", "{body}");
        assert_eq!(r.body["lineItems"][0]["quantity"], 2, "{body}");
    }
    Ok(())
}

#[tokio::test]
async fn every_scenario_subscription_of_a_partner_names_the_order_it_came_with() -> TestResult {
    let h = Harness::builtin("crm-online-mix", None)?;
    let customers = h.mock.read(|w| w.all_customers().map(|c| c.id.to_string()).collect::<Vec<_>>());
    let (mut csp, mut seen) = (0, std::collections::BTreeSet::new());
    for c in customers {
        let subs = h.get(&format!("/v1/customers/{c}/subscriptions")).await;
        for s in subs.body["items"].as_array().into_iter().flatten() {
            let Some(order) = s["orderId"].as_str() else { continue };
            csp += 1;
            assert!(seen.insert(order.to_string()), "one order per subscription: {order}");
            let o = h.get(&format!("/v1/customers/{c}/orders/{order}")).await;
            assert_eq!(o.status, 200, "{}", o.text);
            assert_eq!(o.body["lineItems"][0]["subscriptionId"], s["id"]);
            assert_eq!(o.body["lineItems"][0]["quantity"], s["quantity"]);
        }
    }
    assert!(csp >= 40, "crm-online-mix has 40 subscriptions, only {csp} with an order");
    Ok(())
}
