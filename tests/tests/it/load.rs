//! A bounded load over a real loopback socket: 32 connections mixing license swaps, reads,
//! orders and `/admin/events` pages against a generated book with a long audit log. Holds
//! when no answer is a server error, the judge is satisfied afterwards, and no call held the
//! world's lock for 100 ms (so `/admin/events`, or anything else, stalled no other call that
//! long).
//!
//! Size: `SKUSWAP_LOAD_SECONDS` (default 3; CI runs 20) and `SKUSWAP_LOAD_CUSTOMERS` (default
//! 1,000). The figures are printed; the bounds asserted are correctness, not speed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mock_server::Mock;
use mock_server::model::{TokenMode, World};
use skuswap_scenarios::generate::{Knobs, generate};

const CONNECTIONS: usize = 32;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A user on a retired SKU and where the built-in mapping moves them.
#[derive(Clone)]
struct Swap {
    customer: String,
    user: String,
    from_sku: String,
    to_sku: String,
    to_offer: String,
}

fn swaps(w: &World) -> Vec<Swap> {
    let mapping = skuswap_migrator::mapping::Mapping::builtin();
    let offer = |name: &str| w.catalog.resolve(name).or_else(|| w.catalog.offers().find(|o| o.name == name));
    let mut out = Vec::new();
    for c in w.all_customers() {
        for row in &mapping.rows {
            let (Some(from), Some(to)) = (offer(&row.from), row.to.first().and_then(|t| offer(t))) else {
                continue;
            };
            for u in c.users_in_order().filter(|u| u.holds(from.sku_id)) {
                out.push(Swap {
                    customer: c.id.to_string(),
                    user: u.id.to_string(),
                    from_sku: from.sku_id.to_string(),
                    to_sku: to.sku_id.to_string(),
                    to_offer: to.id.clone(),
                });
            }
        }
    }
    out
}

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    server_errors: AtomicU64,
    /// Per kind (read, order, swap, events): latencies in µs.
    latencies: std::sync::Mutex<[Vec<u64>; 4]>,
}

fn quantile(v: &mut [u64], q: f64) -> u64 {
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v.get(i).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_connections_mixing_writes_reads_and_event_pages() -> TestResult {
    let (seconds, customers) = (env("SKUSWAP_LOAD_SECONDS", 3), env("SKUSWAP_LOAD_CUSTOMERS", 1000));
    let knobs = Knobs { customers: usize::try_from(customers)?, ..Knobs::default() };
    let mut world = World::from_scenario(&generate("load", &knobs, 7)?, None)?;
    let token = mock_server::mint_token(&mut world, None, TokenMode::AppUser, None)?;
    let (plan, events) = (swaps(&world), world.events().len());
    assert!(plan.len() > 100, "too few users to swap: {}", plan.len());
    let mock = Mock::new(world);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = mock_server::app(mock.clone());
    let server = tokio::spawn(skuswap_scenarios::cli::connection::serve_plain(listener, app, std::future::pending()));
    skuswap_migrator::client::transport::install_crypto();
    let client = reqwest::Client::builder().pool_max_idle_per_host(CONNECTIONS).build()?;
    let (tally, plan) = (Arc::new(Tally::default()), Arc::new(plan));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for worker in 0..CONNECTIONS {
        let (client, base, token, tally, plan) =
            (client.clone(), base.clone(), token.clone(), tally.clone(), plan.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = worker;
            while Instant::now() < deadline {
                i = i.wrapping_mul(2_654_435_761).wrapping_add(worker + 1) % (1 << 30);
                let s = &plan[i % plan.len()];
                // Two connections page the log; the rest mix reads, swaps and orders.
                let kind = if worker < 2 { 3 } else { [0, 0, 0, 2, 2, 1][i % 6] };
                let req = match kind {
                    0 if i % 2 == 0 => client.get(format!("{base}/v1/customers/{}/subscribedskus", s.customer)),
                    0 => client.get(format!("{base}/v1/customers/{}/users/{}/licenses", s.customer, s.user)),
                    1 => client.post(format!("{base}/v1/customers/{}/orders", s.customer)).json(&serde_json::json!(
                        {"lineItems": [{"lineItemNumber": 0, "offerId": s.to_offer, "quantity": 1}]}
                    )),
                    2 => client
                        .post(format!("{base}/v1/customers/{}/users/{}/licenseupdates", s.customer, s.user))
                        .json(&serde_json::json!({
                            "licensesToAssign": [{"skuId": s.to_sku, "excludedPlans": null}],
                            "licensesToRemove": [s.from_sku],
                        })),
                    _ => client.get(format!("{base}/admin/events?after={}&limit=10000", (i * 37) % events.max(1))),
                };
                let started = Instant::now();
                let status = match req.bearer_auth(&token).send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let _ = r.bytes().await;
                        status
                    }
                    Err(_) => 599,
                };
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                tally.requests.fetch_add(1, Ordering::Relaxed);
                if status >= 500 {
                    tally.server_errors.fetch_add(1, Ordering::Relaxed);
                }
                if let Ok(mut l) = tally.latencies.lock() {
                    l[kind].push(micros);
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    // Before the judge: its fold of the whole log is not part of the load.
    let holds = mock.lock_holds();
    let verdict: serde_json::Value = client.get(format!("{base}/admin/invariants")).send().await?.json().await?;
    server.abort();
    let mut lat = tally.latencies.lock().map_err(|_| "poisoned")?.clone();
    let requests = tally.requests.load(Ordering::Relaxed);
    println!(
        "load: {CONNECTIONS} connections, {seconds} s, {customers} customers, {events} events at start: {requests} requests ({:.0}/s)",
        requests as f64 / seconds as f64
    );
    for (k, name) in ["reads", "orders", "swaps", "event pages"].iter().enumerate() {
        let n = lat[k].len();
        println!("  {name}: {n}, p50 {} µs, p99 {} µs", quantile(&mut lat[k], 0.5), quantile(&mut lat[k], 0.99));
    }
    println!("  lock holds: {holds:?}");
    assert_eq!(tally.server_errors.load(Ordering::Relaxed), 0, "server errors under load");
    assert_eq!(verdict["ok"], true, "the judge after the load: {verdict}");
    assert!(lat[1].len() + lat[2].len() > 0 && !lat[3].is_empty(), "the mix did not run");
    assert!(
        holds.longest_micros < 100_000,
        "a call held the lock {} µs: others stalled that long",
        holds.longest_micros
    );
    Ok(())
}

type TestResult = Result<(), Box<dyn std::error::Error>>;
