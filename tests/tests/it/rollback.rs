//! A write that panics halfway leaves nothing behind: a panic armed in the model after the
//! k-th event of a real write (so some of its changes are made) is answered 500 in Partner
//! Center's shape, and the world is byte for byte what it was; the same write then succeeds
//! exactly as it does on a twin that never panicked. Then the same with the model test's random
//! writes, a panic armed in some of them (`SKUSWAP_ROLLBACK_CASES`).

use axum::http::Method;
use serde_json::Value;
use skuswap_tests::{Harness, Reply, TestResult, article::*};

/// The writes tried, each logging several events (and so changing several things).
#[derive(Debug, Clone, Copy)]
enum Write {
    /// Assign one SKU and remove another for one user, in one call.
    Swap,
    /// An order: a subscription created, seats counted.
    Order,
    /// The clock past renewals, expiries and de-provisioning: many batches in one call.
    Advance,
    /// A legacy upgrade with license transfer: a target bought, eight users moved, the
    /// source suspended.
    Upgrade,
}

const WRITES: [Write; 4] = [Write::Swap, Write::Order, Write::Advance, Write::Upgrade];

const FABRIKAM: &str = "6a0f3e21-4b7c-4d2e-9f18-3c5a7e9b1d01";
const FABRIKAM_E1: &str = "e1e1e1e1-0001-4a1b-8c2d-000000000001";

/// The world a write is tried in: the article's with seats to swap into, or for an upgrade
/// the scenario built for them.
async fn world(write: Write) -> Result<Harness, Box<dyn std::error::Error>> {
    if let Write::Upgrade = write {
        return Harness::builtin("o365-upgrade", None);
    }
    let h = Harness::article()?;
    let r = h.buy(WINGTIP, "d365-unified-operations", 20).await;
    assert_eq!(r.status, 201, "{}", r.text);
    Ok(h)
}

/// Every write under one fixed request id, so a retry after a panic is the same request as
/// the twin's (ids the server mints go on counting, as they should).
async fn send(h: &Harness, write: Write) -> Reply {
    let id: &[(&str, &str)] = &[("ms-requestid", "3a1c0e6e-0000-4000-8000-00000000a011")];
    match write {
        Write::Swap => {
            let user = h.holders(WINGTIP, "ax-enterprise").first().cloned().unwrap_or_default();
            let body = format!(
                r#"{{"licensesToAssign":[{{"skuId":"{}"}}],"licensesToRemove":["{}"]}}"#,
                h.sku_id("d365-unified-operations"),
                h.sku_id("ax-enterprise")
            );
            let path = format!("/v1/customers/{WINGTIP}/users/{user}/licenseupdates");
            h.send(Method::POST, &path, Some(&body), id).await
        }
        Write::Order => {
            let body = format!(
                r#"{{"lineItems":[{{"lineItemNumber":0,"offerId":"{}","quantity":3}}]}}"#,
                h.offer_id("d365-sales")
            );
            h.send(Method::POST, &format!("/v1/customers/{WINGTIP}/orders"), Some(&body), id).await
        }
        Write::Advance => h.advance_days(800).await,
        Write::Upgrade => {
            let path = format!("/v1/customers/{FABRIKAM}/subscriptions/{FABRIKAM_E1}/upgrades");
            let item = h.get(&path).await.body["items"][0].to_string();
            h.send(Method::POST, &path, Some(&item), id).await
        }
    }
}

/// Where two long texts first differ, with a little context (a whole state is too long to print).
fn first_difference(a: &str, b: &str) -> Option<String> {
    let at =
        a.bytes().zip(b.bytes()).position(|(x, y)| x != y).or((a.len() != b.len()).then(|| a.len().min(b.len())))?;
    let from = at.saturating_sub(120);
    let show = |s: &str| s.get(from..(at + 120).min(s.len())).unwrap_or_default().to_string();
    Some(format!("at byte {at}:\n  {}\n  {}", show(a), show(b)))
}

/// Everything `/admin/state` carries, as text (what a restore would bring back).
async fn state(h: &Harness) -> String {
    let r = h.get("/admin/state").await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.text
}

/// The state without its bearer tokens, which are random per harness.
async fn state_but_tokens(h: &Harness) -> Value {
    let mut s = state_value(h).await;
    if let Some(o) = s.as_object_mut() {
        o.remove("tokens");
    }
    s
}

#[tokio::test]
async fn a_write_that_panics_halfway_changes_nothing() -> TestResult {
    for write in WRITES {
        let twin = world(write).await?;
        let before = twin.mock.read(|w| w.events().len());
        let done = send(&twin, write).await;
        assert!(done.status.is_success(), "{write:?}: {}", done.text);
        let logged = twin.mock.read(|w| w.events().len()) - before;
        assert!(logged >= 2, "{write:?} logs {logged} events: too few to panic halfway");

        let h = world(write).await?;
        let untouched = state(&h).await;
        for k in 1..=logged as u64 {
            h.mock.with(|w| w.arm_panic(k));
            let r = send(&h, write).await;
            assert_eq!(
                (r.status.as_u16(), r.code()),
                (500, Some(800_003)),
                "{write:?}, panic after event {k}: {}",
                r.text
            );
            let diff = first_difference(&state(&h).await, &untouched);
            assert!(diff.is_none(), "{write:?}: a panic after event {k} of {logged} left a change {diff:?}");
        }
        // Nothing half-done lingers where the state does not look (derived indexes, id
        // counters): the write now answers and ends exactly as on the twin.
        let r = send(&h, write).await;
        let diff = first_difference(&r.text, &done.text);
        assert!(r.status == done.status && diff.is_none(), "{write:?} after its panics: {} {diff:?}", r.status);
        let diff =
            first_difference(&state_but_tokens(&h).await.to_string(), &state_but_tokens(&twin).await.to_string());
        assert!(diff.is_none(), "{write:?}: unlike its twin {diff:?}");
        assert_eq!(h.invariants().await, twin.invariants().await, "{write:?}: the judge disagrees with the twin's");
    }
    Ok(())
}

/// Orders (two events each) until the log is within `headroom` events of `bound`.
async fn fill_log(h: &Harness, bound: usize, headroom: usize) -> TestResult {
    while h.mock.read(|w| w.events().len()) + headroom < bound {
        let r = h.buy(WINGTIP, "d365-sales", 1).await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    Ok(())
}

#[tokio::test]
async fn a_write_that_panics_past_the_log_bound_cuts_nothing() -> TestResult {
    const BOUND: usize = 1_000;
    // An advance that crosses the bound at a batch boundary well before its last event: were
    // the log cut there, the cut would survive the panic and the state would differ.
    let (twin, h) = (world(Write::Advance).await?, world(Write::Advance).await?);
    for w in [&twin, &h] {
        fill_log(w, BOUND, 5).await?;
    }
    h.mock.bound_log(BOUND)?;
    let before = twin.mock.read(|w| w.events().len());
    assert_eq!(send(&twin, Write::Advance).await.status, 200);
    let logged = twin.mock.read(|w| w.events().len()) - before;
    let batches = twin
        .mock
        .read(|w| w.events()[before..].iter().map(|e| e.batch).collect::<std::collections::BTreeSet<_>>().len());
    assert!(
        logged > 10 && batches > 2,
        "the advance logs {logged} events in {batches} batches: too few to cross the bound"
    );

    let untouched = state(&h).await;
    h.mock.with(|w| w.arm_panic(logged as u64 - 1));
    assert_eq!(send(&h, Write::Advance).await.status, 500);
    let diff = first_difference(&state(&h).await, &untouched);
    assert!(diff.is_none(), "a panic past the bound left a change (a cut?) {diff:?}");
    // Unarmed, the same write ends with the cut the bound asks for, judged as the twin is.
    assert_eq!(send(&h, Write::Advance).await.status, 200);
    let (len, cut) = h.mock.read(|w| (w.events().len(), w.log_cut().map(|c| c.dropped)));
    assert!(cut.is_some_and(|d| d > 0) && len <= BOUND, "{len} events kept, cut {cut:?}");
    assert_eq!(h.invariants().await, twin.invariants().await);
    Ok(())
}

/// A deadline that panics while a wall-clock-following clock catches up (before a request)
/// is rolled back, the clock stops following, and the request is answered as if it had not.
#[tokio::test]
async fn a_clock_that_panics_catching_up_stops_following_and_fails_no_request() -> TestResult {
    let h = world(Write::Advance).await?;
    let before = h.get("/admin/clock").await.body;
    // About thirty years of virtual time per real second: a renewal or expiry comes due at once.
    h.mock.follow_wall_clock(Some(1_000_000_000));
    h.mock.with(|w| w.arm_panic(1));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let r = h.get("/admin/clock").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, before, "the step that panicked was not undone");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(h.get("/admin/clock").await.body, before, "the clock still follows the wall clock");
    assert_eq!(h.advance_days(1).await.status, 200, "the admin API no longer moves the clock");
    Ok(())
}

/// The state, but for what differs between two harnesses by design: bearer tokens (random)
/// and request ids the server mints (a retried request takes a new one), wherever they occur.
fn comparable(mut state: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(o) => {
                o.remove("requestId");
                o.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    if let Some(o) = state.as_object_mut() {
        o.remove("tokens");
        // Keyed by partner and request id: keep what each key remembers, in order.
        if let Some(Value::Object(requests)) = o.remove("orderRequests") {
            let mut kept: Vec<Value> = requests.into_iter().map(|(_, v)| v).collect();
            kept.sort_by_key(|v| v.to_string());
            o.insert("orderRequests".into(), Value::Array(kept));
        }
    }
    strip(&mut state);
    state
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: std::env::var("SKUSWAP_ROLLBACK_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48),
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Random writes of the model test, some with a panic armed after their k-th event: a
    /// write that panicked leaves the state as it was, and retried, it ends the same as on a
    /// twin that never panicked; after every step the two states agree.
    /// Cases: `SKUSWAP_ROLLBACK_CASES` (default 48; 1,000 by hand).
    #[test]
    fn random_writes_that_panic_leave_what_their_twin_has(
        steps in proptest::collection::vec((super::model::op(), proptest::option::of(1u64..5)), 1..20)
    ) {
        use proptest::prelude::{TestCaseError, prop_assert, prop_assert_eq};
        let fail = |e: Box<dyn std::error::Error>| TestCaseError::fail(e.to_string());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| fail(e.into()))?;
        let (h, twin) = (super::model::harness().map_err(fail)?, super::model::harness().map_err(fail)?);
        let offers: Vec<(String, uuid::Uuid)> = h.mock.read(|w| {
            super::model::OFFERS.iter().filter_map(|k| w.catalog.resolve(k).map(|o| (o.id.clone(), o.sku_id))).collect()
        });
        let (mut ids, mut twin_ids) = (Vec::new(), Vec::new());
        for (i, (op, panic_after)) in steps.iter().enumerate() {
            if let Some(k) = panic_after {
                let before = runtime.block_on(state(&h));
                let logged = h.mock.read(|w| w.events().len());
                h.mock.with(|w| w.arm_panic(*k));
                let (_, bought) = runtime.block_on(super::model::send(&h, op, &offers, &ids));
                h.mock.with(|w| w.arm_panic(0));
                let grew = h.mock.read(|w| w.events().len()) - logged;
                prop_assert!((grew as u64) < *k, "step {} {:?}: {} events kept past a panic after event {}", i, op, grew, k);
                if grew == 0 {
                    // Refused, or rolled back: nothing changed, so send it again unarmed.
                    let diff = first_difference(&runtime.block_on(state(&h)), &before);
                    prop_assert!(diff.is_none(), "step {} {:?}: a change survived {:?}", i, op, diff);
                    let (_, again) = runtime.block_on(super::model::send(&h, op, &offers, &ids));
                    ids.extend(again);
                } else {
                    ids.extend(bought);
                }
            } else {
                let (_, bought) = runtime.block_on(super::model::send(&h, op, &offers, &ids));
                ids.extend(bought);
            }
            ids.extend(super::model::migrated(&h, &ids));
            let (_, bought) = runtime.block_on(super::model::send(&twin, op, &offers, &twin_ids));
            twin_ids.extend(bought);
            twin_ids.extend(super::model::migrated(&twin, &twin_ids));
            let (ours, theirs) = runtime.block_on(async { (comparable(state_value(&h).await), comparable(state_value(&twin).await)) });
            let diff = first_difference(&ours.to_string(), &theirs.to_string());
            prop_assert!(diff.is_none(), "step {} {:?} (panic after {:?}): unlike the twin {:?}", i, op, panic_after, diff);
            prop_assert_eq!(&ids, &twin_ids);
        }
    }
}

async fn state_value(h: &Harness) -> Value {
    h.get("/admin/state").await.body
}
