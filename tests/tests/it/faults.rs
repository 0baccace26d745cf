//! Faults, throttling and idempotency: each effect and each trigger against the mock alone
//! (status, headers, body, audit event, nothing changed where nothing may change, determinism
//! from the seed), `MS-RequestId` deduplication of orders, then the engine under every preset
//! and every single effect, judged from the audit log.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use mock_server::model::faults::FaultPlan;
use serde_json::{Value, json};
use skuswap_migrator::mapping::Mapping;
use skuswap_scenarios::named;
use skuswap_scenarios::rehearsal::{Options, Rehearsal, rehearse};
use skuswap_tests::article::*;
use skuswap_tests::{Harness, Reply, TestResult};
use tower::ServiceExt;

fn count(h: &Harness, kind: &str) -> usize {
    h.mock.read(|w| w.events().iter().filter(|e| e.kind.name() == kind).count())
}

fn subscriptions(h: &Harness, customer: &str) -> usize {
    h.mock.read(|w| customer.parse().ok().and_then(|id| w.customer_any(id)).map_or(0, |c| c.subscriptions.len()))
}

async fn put_plan(h: &Harness, plan: Value) -> Reply {
    h.send(Method::PUT, "/admin/faults", Some(&plan.to_string()), &[]).await
}

/// One rule on `operations` with `trigger` and `effect`; no rate limits.
fn one_rule(operations: &[&str], trigger: Value, effect: Value) -> Value {
    json!({ "seed": 1, "rules": [{ "operations": operations, "trigger": trigger, "effect": effect }] })
}

fn order_body(h: &Harness) -> String {
    format!(
        r#"{{"lineItems":[{{"lineItemNumber":0,"offerId":"{}","quantity":20}}]}}"#,
        h.offer_id("d365-unified-operations")
    )
}

async fn order(h: &Harness, request_id: &str) -> Reply {
    let path = format!("/v1/customers/{WINGTIP}/orders");
    h.send(Method::POST, &path, Some(&order_body(h)), &[("MS-RequestId", request_id)]).await
}

#[tokio::test]
async fn throttle_answers_429_with_retry_after_and_the_throttling_body() -> TestResult {
    let h = Harness::article()?;
    let r =
        put_plan(&h, one_rule(&["createOrder"], json!("always"), json!({"throttle": {"retryAfterSeconds": 30}}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let before = subscriptions(&h, WINGTIP);
    let r = order(&h, "11111111-0000-4000-8000-000000000001").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("30"));
    assert_eq!(r.body["statusCode"], 429);
    assert_eq!(r.body["message"], "Rate limit is exceeded. Try again in 30 seconds.");
    assert_eq!(subscriptions(&h, WINGTIP), before, "a throttled order bought something");
    assert_eq!(count(&h, "FaultInjected"), 1);
    assert_eq!(count(&h, "OrderPlaced"), 0);
    Ok(())
}

#[tokio::test]
async fn throttle_as_an_http_date_is_measured_from_the_answers_date() -> TestResult {
    let h = Harness::article()?;
    let plan =
        one_rule(&["getCustomer"], json!("always"), json!({"throttle": {"retryAfterSeconds": 45, "httpDate": true}}));
    put_plan(&h, plan).await;
    let r = h.get(&format!("/v1/customers/{WINGTIP}")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let header = |n: &str| -> Result<chrono::DateTime<chrono::FixedOffset>, Box<dyn std::error::Error>> {
        let v = r.headers.get(n).ok_or(format!("no {n}"))?.to_str()?;
        Ok(chrono::DateTime::parse_from_rfc2822(v)?)
    };
    let (retry, date) = (header("retry-after")?, header("date")?);
    assert_eq!((retry - date).num_seconds(), 45);
    let now = h.mock.read(|w| w.now());
    assert_eq!(date.timestamp(), now.timestamp(), "Date must be the virtual now");
    Ok(())
}

/// A path ending in `/` names no route: under a plan that fails every call it still meets
/// its 404, and the plan's counters never see it.
#[tokio::test]
async fn a_path_ending_in_a_slash_is_no_call_for_the_fault_plan() -> TestResult {
    let h = Harness::article()?;
    put_plan(&h, one_rule(&["*"], json!("always"), json!({"error": {"status": 503}}))).await;
    assert_eq!(h.get(&format!("/v1/customers/{WINGTIP}")).await.status, StatusCode::SERVICE_UNAVAILABLE);
    let injected = count(&h, "FaultInjected");
    for path in [format!("/v1/customers/{WINGTIP}/"), format!("/v1/customers/{WINGTIP}/subscriptions/")] {
        let r = h.get(&path).await;
        assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, Some(1000)), "{path}: {}", r.text);
    }
    assert_eq!(count(&h, "FaultInjected"), injected, "a 404 was counted as a call");
    Ok(())
}

#[tokio::test]
async fn server_errors_change_nothing_and_carry_the_error_body() -> TestResult {
    for status in [500u16, 502, 503, 504] {
        let h = Harness::article()?;
        put_plan(&h, one_rule(&["createOrder"], json!("always"), json!({"error": {"status": status}}))).await;
        let r = order(&h, "11111111-0000-4000-8000-000000000002").await;
        assert_eq!(r.status.as_u16(), status);
        assert!(r.body["code"].is_number() && r.body["description"].is_string(), "{}", r.text);
        assert_eq!(subscriptions(&h, WINGTIP), 2);
        assert_eq!(count(&h, "FaultInjected"), 1);
        assert_eq!(count(&h, "OrderPlaced"), 0, "HTTP {status}: the order was applied");
    }
    Ok(())
}

#[tokio::test]
async fn latency_delays_the_answer() -> TestResult {
    let h = Harness::article()?;
    put_plan(&h, one_rule(&["getCustomer"], json!("always"), json!({"latency": {"ms": 60}}))).await;
    let t = std::time::Instant::now();
    let r = h.get(&format!("/v1/customers/{WINGTIP}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(t.elapsed() >= std::time::Duration::from_millis(60), "answered in {:?}", t.elapsed());
    Ok(())
}

async fn raw_order(
    h: &Harness,
    request_id: &str,
) -> Result<(StatusCode, Result<(), String>), Box<dyn std::error::Error>> {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/v1/customers/{WINGTIP}/orders"))
        .header("authorization", format!("Bearer {}", h.token))
        .header("content-type", "application/json")
        .header("MS-RequestId", request_id)
        .body(Body::from(order_body(h)))?;
    let resp = match h.app.clone().oneshot(req).await {
        Ok(r) => r,
        Err(e) => match e {},
    };
    let status = resp.status();
    let body = resp.into_body().collect().await.map(|_| ()).map_err(|e| e.to_string());
    Ok((status, body))
}

#[tokio::test]
async fn a_dropped_connection_gives_no_answer_and_applies_nothing() -> TestResult {
    let h = Harness::article()?;
    put_plan(&h, one_rule(&["createOrder"], json!("always"), json!("drop"))).await;
    let (_, body) = raw_order(&h, "11111111-0000-4000-8000-000000000003").await?;
    assert!(body.is_err(), "the answer arrived whole");
    assert_eq!(count(&h, "OrderPlaced"), 0);
    assert_eq!(count(&h, "FaultInjected"), 1);
    Ok(())
}

#[tokio::test]
async fn a_lost_response_is_applied_and_logged_but_the_client_sees_a_5xx() -> TestResult {
    let h = Harness::article()?;
    put_plan(&h, one_rule(&["createOrder"], json!("always"), json!({"lostResponse": {"status": 504}}))).await;
    let r = order(&h, "11111111-0000-4000-8000-000000000004").await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(count(&h, "OrderPlaced"), 1, "the order was not applied");
    assert_eq!(subscriptions(&h, WINGTIP), 3);
    Ok(())
}

#[tokio::test]
async fn a_duplicate_delivery_is_answered_from_the_request_id_window() -> TestResult {
    let h = Harness::article()?;
    put_plan(&h, one_rule(&["createOrder"], json!("always"), json!("duplicate"))).await;
    let r = order(&h, "11111111-0000-4000-8000-000000000005").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(count(&h, "OrderPlaced"), 1);
    assert_eq!(count(&h, "OrderReplayed"), 1);
    assert_eq!(subscriptions(&h, WINGTIP), 3);
    Ok(())
}

#[tokio::test]
async fn without_deduplication_a_duplicate_delivery_buys_twice() -> TestResult {
    let h = Harness::article()?;
    let r = h.send(Method::PUT, "/admin/faults/dedup", Some(r#"{"orderDedupSeconds":0}"#), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    put_plan(&h, one_rule(&["createOrder"], json!("always"), json!("duplicate"))).await;
    order(&h, "11111111-0000-4000-8000-000000000006").await;
    assert_eq!(count(&h, "OrderPlaced"), 2, "a service that does not deduplicate buys twice");
    Ok(())
}

#[tokio::test]
async fn orders_repeated_with_the_same_request_id_are_bought_once_within_the_window() -> TestResult {
    let h = Harness::article()?;
    let a = order(&h, "22222222-0000-4000-8000-000000000001").await;
    let b = order(&h, "22222222-0000-4000-8000-000000000001").await;
    assert_eq!((a.status, b.status), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(a.body["id"], b.body["id"], "the repeat must answer with the first order");
    assert_eq!(subscriptions(&h, WINGTIP), 3);
    let c = order(&h, "22222222-0000-4000-8000-000000000002").await;
    assert_ne!(a.body["id"], c.body["id"], "a new request id is a new order");
    // Past the window the same id buys again.
    h.advance_days(2).await;
    order(&h, "22222222-0000-4000-8000-000000000001").await;
    assert_eq!(count(&h, "OrderPlaced"), 3);
    assert_eq!(count(&h, "OrderReplayed"), 1);
    Ok(())
}

#[tokio::test]
async fn every_nth_call_is_hit() -> TestResult {
    let h = Harness::article()?;
    put_plan(&h, one_rule(&["getCustomer"], json!({"every": 3}), json!({"error": {"status": 503}}))).await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(h.get(&format!("/v1/customers/{WINGTIP}")).await.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 503, 200, 200, 503, 200]);
    Ok(())
}

async fn pattern(seed: u64) -> Result<Vec<u16>, Box<dyn std::error::Error>> {
    let h = Harness::article()?;
    let mut plan = one_rule(&["getCustomer"], json!({"probability": 0.5}), json!({"error": {"status": 503}}));
    plan["seed"] = json!(seed);
    put_plan(&h, plan).await;
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(h.get(&format!("/v1/customers/{WINGTIP}")).await.status.as_u16());
    }
    Ok(out)
}

#[tokio::test]
async fn probabilities_replay_from_the_plans_seed() -> TestResult {
    let (a, b, c) = (pattern(7).await?, pattern(7).await?, pattern(8).await?);
    assert_eq!(a, b, "seed 7 gave two different storms");
    assert_ne!(a, c, "seeds 7 and 8 gave the same storm");
    let hits = a.iter().filter(|s| **s == 503).count();
    assert!((8..=32).contains(&hits), "{hits} of 40 at p=0.5");
    Ok(())
}

#[tokio::test]
async fn a_window_of_virtual_time_bounds_a_rule() -> TestResult {
    let h = Harness::article()?;
    let now = h.mock.read(|w| w.now());
    let from = now + chrono::Duration::days(1);
    let until = now + chrono::Duration::days(2);
    let trigger = json!({"window": {"from": from, "until": until}});
    put_plan(&h, one_rule(&["getCustomer"], trigger, json!({"error": {"status": 503}}))).await;
    let path = format!("/v1/customers/{WINGTIP}");
    assert_eq!(h.get(&path).await.status, StatusCode::OK);
    h.advance_days(1).await;
    assert_eq!(h.get(&path).await.status, StatusCode::SERVICE_UNAVAILABLE);
    h.advance_days(1).await;
    assert_eq!(h.get(&path).await.status, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn a_rule_fires_at_most_times_and_fairness_ends_a_storm_for_each_request() -> TestResult {
    let h = Harness::article()?;
    let mut plan = one_rule(&["getCustomer"], json!("always"), json!({"error": {"status": 503}}));
    plan["rules"][0]["times"] = json!(3);
    put_plan(&h, plan).await;
    let path = format!("/v1/customers/{WINGTIP}");
    let mut statuses = Vec::new();
    for i in 0..5 {
        let id = format!("33333333-0000-4000-8000-00000000000{i}");
        statuses.push(h.send(Method::GET, &path, None, &[("MS-RequestId", &id)]).await.status.as_u16());
    }
    assert_eq!(statuses, [503, 503, 503, 200, 200]);

    let h = Harness::article()?;
    let mut plan = one_rule(&["getCustomer"], json!("always"), json!({"error": {"status": 503}}));
    plan["fairness"] = json!(2);
    put_plan(&h, plan).await;
    let same = [("MS-RequestId", "44444444-0000-4000-8000-000000000001")];
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(h.send(Method::GET, &path, None, &same).await.status.as_u16());
    }
    assert_eq!(statuses, [503, 503, 200, 503], "after 2 faults the same request passes once");
    Ok(())
}

#[tokio::test]
async fn rate_limits_count_virtual_time_and_catch_an_early_retry() -> TestResult {
    let h = Harness::article()?;
    let plan = json!({"rateLimits": [{"groups": ["customers"], "requests": 3, "windowSeconds": 60}]});
    assert_eq!(put_plan(&h, plan).await.status, StatusCode::OK);
    let path = format!("/v1/customers/{WINGTIP}");
    for i in 0..3 {
        let id = format!("55555555-0000-4000-8000-00000000000{i}");
        assert_eq!(h.send(Method::GET, &path, None, &[("MS-RequestId", &id)]).await.status, StatusCode::OK);
    }
    let id = [("MS-RequestId", "55555555-0000-4000-8000-000000000009")];
    let r = h.send(Method::GET, &path, None, &id).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("60"));
    assert_eq!(count(&h, "Throttled"), 1);
    assert_eq!(h.invariants().await["ok"], true);
    // Retrying at once is a violation the judge reports.
    let r = h.send(Method::GET, &path, None, &id).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let verdict = h.invariants().await;
    assert_eq!(verdict["ok"], false);
    assert_eq!(verdict["violations"][0]["kind"], "early_retry", "{verdict}");
    // After Retry-After, on the virtual clock, it passes and is no violation.
    h.post("/admin/clock/advance", r#"{"seconds":61}"#).await;
    assert_eq!(h.send(Method::GET, &path, None, &id).await.status, StatusCode::OK);
    assert_eq!(h.invariants().await["violations"].as_array().map(Vec::len), Some(1));
    // Other groups are not limited.
    for _ in 0..5 {
        assert_eq!(h.get(&format!("/v1/customers/{WINGTIP}/users")).await.status, StatusCode::OK);
    }
    Ok(())
}

#[tokio::test]
async fn bad_plans_are_refused_and_the_plan_in_force_is_kept() -> TestResult {
    let h = Harness::article()?;
    assert_eq!(h.send(Method::PUT, "/admin/faults?preset=light&seed=3", None, &[]).await.status, StatusCode::OK);
    let before = h.get("/admin/faults").await.body;
    assert_eq!(before["plan"]["seed"], 3);
    let bad = [
        one_rule(&["getCustomer"], json!({"probability": 2.0}), json!("drop")),
        one_rule(&["getCustomer"], json!({"every": 0}), json!("drop")),
        one_rule(&["getCustomer"], json!("always"), json!({"error": {"status": 404}})),
        one_rule(&[], json!("always"), json!("drop")),
        json!({"rateLimits": [{"groups": ["invoices"], "requests": 3}]}),
        json!({"rules": [], "fairness": 0}),
        json!({"rules": [{"operations": ["*"], "trigger": "sometimes", "effect": "drop"}]}),
    ];
    for plan in bad {
        let r = put_plan(&h, plan.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{plan} was accepted");
        assert!(r.body["description"].is_string());
        assert_eq!(h.get("/admin/faults").await.body, before, "{plan} changed the plan in force");
    }
    let r = h.send(Method::PUT, "/admin/faults?preset=hurricane", None, &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(h.send(Method::DELETE, "/admin/faults", None, &[]).await.status, StatusCode::NO_CONTENT);
    assert_eq!(h.get("/admin/faults").await.body["plan"], Value::Null);
    Ok(())
}

#[tokio::test]
async fn a_scenario_may_carry_its_fault_plan() -> TestResult {
    let mut scenario = skuswap_scenarios::named::resolve("article", None, None)?;
    scenario.faults = FaultPlan::preset("heavy", 5);
    let h = Harness::from_world(mock_server::model::World::from_scenario(&scenario, None)?)?;
    assert_eq!(h.get("/admin/faults").await.body["plan"]["seed"], 5);
    Ok(())
}

// ---- the engine under faults -------------------------------------------------------------

async fn rehearse_with(
    name: &str,
    customers: Option<usize>,
    plan: FaultPlan,
) -> Result<Rehearsal, Box<dyn std::error::Error>> {
    let scenario = named::resolve(name, None, customers)?;
    let opts = Options {
        rate: 500,
        mapping: Mapping::builtin(),
        seed: None,
        faults: Some(plan),
        meanwhile: None,
        reapply: false,
        token_lifetime: None,
        shards: 1,
    };
    Ok(rehearse(&scenario, &opts).await?)
}

fn judge(what: &str, r: &Rehearsal) {
    assert!(
        r.passed(),
        "{what} (seed {}): unexpected {:?}; incomplete {:?}; bought twice {:?}\n{}",
        r.seed,
        r.verdict.unexpected.first().map(|v| &v.message),
        r.verdict.incomplete,
        r.verdict.double_purchases,
        r.verdict.log_excerpt.join("\n")
    );
    assert!(r.verdict.unexpected.iter().all(|v| v.kind != mock_server::invariants::ViolationKind::EarlyRetry));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_survives_every_preset() -> TestResult {
    for preset in FaultPlan::presets() {
        for (scenario, customers) in [("article", None), ("deadline-crunch", Some(60)), ("crm-online-mix", Some(30))] {
            for seed in [1, 2] {
                let plan = FaultPlan::preset(preset, seed).ok_or("no preset")?;
                let r = rehearse_with(scenario, customers, plan).await?;
                judge(&format!("{preset} on {scenario} seed {seed}"), &r);
                if preset != "limits" {
                    let met: u64 = r.faults.as_ref().map_or(0, |f| f.injected.values().sum());
                    assert!(met > 0, "{preset} on {scenario}: no fault was met");
                }
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_survives_each_effect_alone_with_and_without_deduplication() -> TestResult {
    let effects = [
        json!({"error": {"status": 503}}),
        json!({"error": {"status": 500}}),
        json!({"throttle": {"retryAfterSeconds": 20}}),
        json!({"throttle": {"retryAfterSeconds": 20, "httpDate": true}}),
        json!({"latency": {"ms": 1}}),
        json!("drop"),
        json!({"lostResponse": {"status": 504}}),
        json!("duplicate"),
    ];
    for effect in effects {
        for ops in [vec!["*"], vec!["createOrder", "updateLicenses", "updateSubscription"]] {
            for dedup in [true, false] {
                // A service that does not deduplicate really does buy twice on a duplicate
                // delivery; no client can prevent that, so that pairing is not asked of the engine.
                if !dedup && effect == json!("duplicate") {
                    continue;
                }
                let plan: FaultPlan = serde_json::from_value(json!({
                    "seed": 9,
                    "rules": [{ "operations": ops, "trigger": {"probability": 0.35}, "effect": effect }],
                }))?;
                let mut scenario = named::resolve("article", None, None)?;
                if !dedup {
                    scenario.settings.order_dedup_seconds = 0;
                }
                let opts = Options {
                    rate: 500,
                    mapping: Mapping::builtin(),
                    seed: None,
                    faults: Some(plan),
                    meanwhile: None,
                    reapply: false,
                    token_lifetime: None,
                    shards: 1,
                };
                let r = rehearse(&scenario, &opts).await?;
                judge(&format!("{effect} on {ops:?}, dedup {dedup}"), &r);
                let purchases: usize = r
                    .waves
                    .iter()
                    .flat_map(|w| &w.plan.customers)
                    .flat_map(|c| &c.steps)
                    .filter(|s| s.kind() == skuswap_migrator::plan::StepKind::Buy)
                    .count();
                let bought = r.seats.iter().filter(|s| s.bought > 0).count();
                assert!(bought <= purchases, "{effect}: more products bought than planned");
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_replays_exactly_from_its_seed() -> TestResult {
    let a = rehearse_with("article", None, FaultPlan::preset("storm", 4).ok_or("no preset")?).await?;
    let b = rehearse_with("article", None, FaultPlan::preset("storm", 4).ok_or("no preset")?).await?;
    judge("storm", &a);
    assert_eq!(a.requests, b.requests, "the same seed must replay the same storm");
    assert_eq!(a.faults.as_ref().map(|f| &f.injected), b.faults.as_ref().map(|f| &f.injected));
    Ok(())
}

/// A fault plan naming an operation that does not exist is refused (it would match nothing and
/// pass every call silently), on `PUT /admin/faults` and in a scenario document alike.
#[tokio::test]
async fn unknown_fault_operations_are_refused() -> TestResult {
    let h = Harness::article()?;
    let before = h.get("/admin/faults").await.body;
    let plan =
        r#"{"rules":[{"operations":["updateSubscriptions"],"trigger":{"every":1},"effect":{"error":{"status":503}}}]}"#;
    let r = h.send(Method::PUT, "/admin/faults", Some(plan), &[]).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.text);
    assert!(r.text.contains("updateSubscriptions") && r.text.contains("updateSubscription"), "{}", r.text);
    assert_eq!(h.get("/admin/faults").await.body, before, "the plan in force changed");
    let mut doc = serde_json::to_value(named::resolve("article", None, None)?)?;
    doc["faults"] = serde_json::from_str(plan)?;
    let r = h.post("/admin/scenario", &doc.to_string()).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.text);
    Ok(())
}

/// Two resellers of one customer sending the same `MS-RequestId`: the second gets an order of
/// its own, not a replay of (and never the id of) the other partner's.
#[tokio::test]
async fn a_request_id_replays_only_the_same_partners_order() -> TestResult {
    let h = Harness::article()?;
    // Adventure Works is Fabrikam's customer; accepting Contoso's invitation makes it both's.
    let r = h.post(&format!("/admin/customers/{ADVENTURE_WORKS}/accept-relationship"), "").await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    let fabrikam = format!("Bearer {}", h.token_for(Some(OTHER_PARTNER), "app+user").await);
    let offer = h.offer_id("d365-sales");
    let order = format!(r#"{{"lineItems":[{{"lineItemNumber":0,"offerId":"{offer}","quantity":1}}]}}"#);
    let path = format!("/v1/customers/{ADVENTURE_WORKS}/orders");
    let same = "5a1e5a1e-0000-4000-8000-000000000001";
    let theirs =
        h.send(Method::POST, &path, Some(&order), &[("authorization", &fabrikam), ("ms-requestid", same)]).await;
    assert_eq!(theirs.status.as_u16(), 201, "{}", theirs.text);
    let replays = |h: &Harness| h.mock.read(|w| w.events().iter().filter(|e| e.kind.name() == "OrderReplayed").count());
    let before = replays(&h);
    let ours = h.send(Method::POST, &path, Some(&order), &[("ms-requestid", same)]).await;
    assert_eq!(ours.status.as_u16(), 201, "{}", ours.text);
    assert_ne!(ours.body["id"], theirs.body["id"], "answered with the other partner's order");
    assert_eq!(replays(&h), before, "a cross-partner replay was logged");
    // The same partner repeating its own request is still a replay.
    let again =
        h.send(Method::POST, &path, Some(&order), &[("authorization", &fabrikam), ("ms-requestid", same)]).await;
    assert_eq!(again.body["id"], theirs.body["id"]);
    Ok(())
}

/// Over a real socket a client that waits out `Retry-After` for real: with the clock following
/// the wall clock (`serve --clock realtime`) it is never judged early and gets through; with
/// the manual clock the same wait is early (the virtual clock did not move) and it stays
/// throttled, which is why `realtime` exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_waits_as_told_is_never_early_on_a_realtime_clock() -> TestResult {
    use skuswap_migrator::client::{Http, PartnerCenter, RestClient};
    async fn run(speed: Option<u32>) -> Result<(Value, bool), Box<dyn std::error::Error>> {
        let h = Harness::article()?;
        h.mock.follow_wall_clock(speed);
        let plan = json!({"rateLimits": [{"groups": ["customers"], "requests": 1, "windowSeconds": 1}]});
        assert_eq!(put_plan(&h, plan).await.status, StatusCode::OK);
        let served = skuswap_tests::engine::serve(&h).await?;
        let policy = skuswap_tests::engine::quick_policy();
        let pc = RestClient::new(Http::new(&served.base_url)?, h.token.clone(), policy);
        pc.customer(WINGTIP).await?;
        let second = pc.customer(WINGTIP).await;
        Ok((h.invariants().await, second.is_ok()))
    }
    let (verdict, through) = run(Some(1)).await?;
    assert_eq!(verdict["ok"], true, "{verdict}");
    assert!(through, "a client that waited as told did not get through");
    let (verdict, through) = run(None).await?;
    assert_eq!(verdict["violations"][0]["kind"], "early_retry", "{verdict}");
    assert!(!through);
    Ok(())
}
