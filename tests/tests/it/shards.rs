//! Sharded rehearsals: a book dealt into worlds run side by side must tell the story one
//! world tells (the same customers, seats, licenses at the end, every wave), the same way
//! every time, and refuse what cannot be split.

use std::collections::BTreeMap;

use skuswap_scenarios::named;
use skuswap_scenarios::rehearsal::{Client, Engine, Options, Rehearsal, rehearse, rehearse_owned, rehearse_with};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// An engine that does not say it may serve several worlds at once.
struct Stateful;

impl Engine for Stateful {
    type Pc = Client;
    fn client(&self, pc: std::sync::Arc<Client>) -> std::sync::Arc<Client> {
        pc
    }
}

fn options(shards: usize) -> Options {
    Options { shards, ..skuswap_tests::rehearsal_options() }
}

/// Half the book prospects who accept over the following 20 days (so there are waves) or
/// never do (their losses are expected).
fn book(customers: usize) -> Result<mock_server::model::Scenario, String> {
    named::resolve("prospects", Some(11), Some(customers))
}

/// Every customer a wave planned steps for, over every wave (sorted; a customer migrated
/// twice would show twice).
fn migrated(r: &Rehearsal) -> Vec<String> {
    let mut ids: Vec<String> = r
        .waves
        .iter()
        .flat_map(|w| w.plan.customers.iter().filter(|c| !c.steps.is_empty()).map(|c| c.customer_id.clone()))
        .collect();
    ids.sort();
    ids
}

fn seats(r: &Rehearsal) -> BTreeMap<String, (u64, u64)> {
    r.seats.iter().map(|s| (s.product.clone(), (s.bought, s.retired))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_book_in_two_worlds_tells_the_story_of_one() -> TestResult {
    let scenario = book(160)?;
    let one = rehearse(&scenario, &options(1)).await?;
    let two = rehearse(&scenario, &options(2)).await?;
    assert!(one.passed() && two.passed(), "one world: {:?}\ntwo: {:?}", one.verdict.unexpected, two.verdict.unexpected);
    assert_eq!((two.shards, one.shards), (2, 1));
    assert_eq!(
        (two.customers, two.users, two.subscriptions),
        (one.customers, one.users, one.subscriptions),
        "every customer is dealt to exactly one world"
    );
    assert!(one.waves.len() >= 2, "the book needs prospects accepting later: {} wave(s)", one.waves.len());
    // Each world runs a wave when its next prospect accepts: the merged waves may be more
    // (two acceptances one world saw at once), but every customer is migrated once.
    assert!(two.waves.len() >= one.waves.len(), "{} waves against {}", two.waves.len(), one.waves.len());
    let (a, b) = (migrated(&one), migrated(&two));
    assert!(a == b, "one world migrated {} customers, two worlds {}", a.len(), b.len());
    assert!(a.windows(2).all(|p| p[0] != p[1]), "a customer was migrated twice");
    assert_eq!(seats(&two), seats(&one), "the same seats bought and retired");
    assert_eq!(two.timelines.len(), one.timelines.len());
    let last = |r: &Rehearsal| r.series.last().map(|p| p.licensed.clone()).unwrap_or_default();
    assert_eq!(last(&two), last(&one), "the same users licensed at the end");
    assert!(!last(&two).is_empty(), "the chart charts something");
    // The merged plan is the whole book's: at the whole rate, in deadline order.
    for w in &two.waves {
        assert_eq!(w.plan.requests_per_minute, 500);
        let keys: Vec<_> = w.plan.customers.iter().map(|c| (c.deadline.is_none(), c.deadline)).collect();
        assert!(keys.windows(2).all(|p| p[0] <= p[1]), "wave at {} is out of deadline order", w.at);
        assert_eq!(w.outcome.customers.len(), w.plan.customers.len());
    }
    // Side by side in virtual time at half the rate each: about as long as one world.
    let ratio = two.migration_minutes / one.migration_minutes.max(1e-9);
    assert!((0.8..1.25).contains(&ratio), "{} against {} minutes", two.migration_minutes, one.migration_minutes);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_in_the_same_shards_is_the_same_report() -> TestResult {
    let scenario = book(90)?;
    let report = |mut r: Rehearsal| -> Result<String, serde_json::Error> {
        r.wall_seconds = 0.0;
        serde_json::to_string(&r)
    };
    let a = report(rehearse(&scenario, &options(3)).await?)?;
    let second = rehearse(&scenario, &options(3)).await?;
    let html = skuswap_scenarios::rehearsal::render::html::render(&second);
    let b = report(second)?;
    assert!(a == b, "two runs of seed 11 in 3 shards differ");
    assert!(html.contains("3 worlds rehearsed side by side"));
    // The command line's way: the book handed over, and freed once its worlds have it.
    let owned = report(rehearse_owned(scenario, &options(3)).await?)?;
    assert!(a == owned, "a book handed over in 3 shards tells another story than one lent");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_whole_book_shares_is_not_sharded() -> TestResult {
    let scenario = book(40)?;
    let faults = mock_server::model::faults::FaultPlan::preset("light", 3).ok_or("no light preset")?;
    let cases = [
        (Options { faults: Some(faults), ..options(2) }, "fault plan"),
        (Options { rate: 1, ..options(2) }, "cannot be split"),
        (options(65), "at most 64"),
    ];
    for (opts, why) in cases {
        let e = match rehearse(&scenario, &opts).await {
            Ok(_) => return Err(format!("{why}: rehearsed anyway").into()),
            Err(e) => format!("{e:#}"),
        };
        assert!(e.contains(why), "{why}: {e}");
    }
    let meanwhile: skuswap_scenarios::rehearsal::Meanwhile = std::sync::Arc::new(|_, _| {});
    let e = rehearse(&scenario, &Options { meanwhile: Some(meanwhile), ..options(2) }).await.err();
    assert!(e.is_some_and(|e| e.to_string().contains("meanwhile")));
    let mut unnamed = scenario.clone();
    unnamed.partners[0].id = None;
    let e = rehearse(&unnamed, &options(2)).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("fixed id"), "{e}");
    let e = rehearse_with(&scenario, &options(2), &Stateful).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("state of its own"), "{e}");
    let tiny = book(1)?;
    let e = rehearse(&tiny, &options(2)).await.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("1 customer(s)"), "{e}");
    Ok(())
}
