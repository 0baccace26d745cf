//! A large book rehearsed on every core: its customers dealt into worlds of their own, each
//! world rehearsed on its own thread with its share of the rate, and the parts merged into
//! the one report of the whole book.
//!
//! Customers are independent: nothing one tenant does changes another's licenses. What they
//! share is the partner's budget, and that is split: each world gets its share of the
//! requests per minute, so the book takes the virtual time it would in one world, and a
//! customer is reached about when it would be there (the deal is round-robin). The 100
//! migration creates in 5 minutes are shared too: each world spaces its creates N times as
//! far apart, and the limit is judged over every world's creates together. A fault
//! plan's limits and draws, what customers' admins do meanwhile, and racing engines are the
//! whole book's, so those rehearsals are not sharded.
//!
//! Same seed and shard count, same report byte for byte: the deal, each world's seed and the
//! merge depend on the inputs only, never on which thread finishes first.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail};
use chrono::{DateTime, Utc};
use mock_server::invariants::SeriesPoint;
use mock_server::model::Scenario;
use skuswap_migrator::apply::ApplyOutcome;
use skuswap_migrator::plan::Plan;

use super::report::{self, MigrationTimes, Rehearsal, SeatRow, Timeline, Wave};
use super::runner::{Part, rehearse_part};
use super::verdict::{self, Verdict};
use super::{Engine, Options};

/// From this many customers `skuswap rehearse` deals the book into [`SUGGESTED`] worlds by
/// default; a smaller book is quicker than two threads' start-up and is told as one story.
pub const SHARD_FROM_CUSTOMERS: usize = 2_000;
/// Worlds a large book is dealt into by default: this machine's kind has two cores. It is a
/// constant, not the core count, so a report does not depend on the machine it ran on.
pub const SUGGESTED: usize = 2;
/// Worlds at most (`--shards`).
pub const MAX_SHARDS: usize = 64;

/// The shards `skuswap rehearse` uses when `--shards` is not given: [`SUGGESTED`] for a large
/// book that can be sharded, else 1 (a default never turns into a refusal).
pub fn suggested<E: Engine>(scenario: &Scenario, opts: &Options, engine: &E) -> usize {
    let sharded = Options { shards: SUGGESTED, ..opts.clone() };
    if scenario.customers.len() < SHARD_FROM_CUSTOMERS || refusal(scenario, &sharded, engine).is_some() {
        1
    } else {
        SUGGESTED
    }
}

/// Why `scenario` cannot be dealt into `opts.shards` worlds by `engine`, if it cannot.
pub fn refusal<E: Engine>(scenario: &Scenario, opts: &Options, engine: &E) -> Option<String> {
    let k = opts.shards;
    if k > MAX_SHARDS {
        return Some(format!("at most {MAX_SHARDS} shards"));
    }
    if opts.faults.is_some() || scenario.faults.is_some() {
        return Some("a fault plan's rate limits and draws are the whole partner's; run it with --shards 1".into());
    }
    if opts.meanwhile.is_some() {
        return Some("what customers' admins do meanwhile is written against one world".into());
    }
    if engine.racers() > 1 {
        return Some("racing engines share one world".into());
    }
    if !engine.shardable() {
        return Some("this engine keeps state of its own that several worlds would share".into());
    }
    if scenario.partners.iter().any(|p| p.id.is_none()) {
        return Some("every partner needs a fixed id (each world would draw its own)".into());
    }
    if scenario.customers.len() < k {
        return Some(format!("the book has {} customer(s)", scenario.customers.len()));
    }
    if u64::from(opts.rate) < k as u64 {
        return Some(format!("the rate ({} a minute) cannot be split {k} ways", opts.rate));
    }
    None
}

/// Rehearse `scenario` dealt into `opts.shards` worlds, one thread each, and merge them. The
/// calling thread waits for them (a rehearsal's runtime has nothing else to run meanwhile).
/// An owned book is freed as soon as every world has dealt its share (a tenth of a large
/// rehearsal's peak), on this thread, which allocated it: by mimalloc's design a block freed
/// from another thread waits in a list its owner collects only when it next allocates, and
/// this thread allocates next to nothing until the worlds are done.
pub(super) fn rehearse<E: Engine>(
    scenario: Cow<'_, Scenario>,
    opts: &Options,
    engine: &E,
) -> anyhow::Result<Rehearsal> {
    if let Some(why) = refusal(&scenario, opts, engine) {
        bail!("cannot rehearse {} in {} shards: {why}", scenario.name, opts.shards);
    }
    let wall = Instant::now();
    let k = opts.shards;
    let seed = opts.seed.or(scenario.seed).unwrap_or(0);
    let side_by_side = u32::try_from(k).unwrap_or(u32::MAX);
    let heading =
        Heading { name: scenario.name.clone(), description: scenario.description.clone(), start: scenario.start };
    let book = Arc::new(scenario);
    // Each world drops its sender once it has dealt its share: the channel closes when all have.
    let (dealt, all_dealt) = std::sync::mpsc::channel::<()>();
    let parts = std::thread::scope(|scope| -> anyhow::Result<Vec<Part>> {
        let mut running = Vec::with_capacity(k);
        for i in 0..k {
            let share = Options {
                rate: rate_share(opts.rate, k, i),
                seed: Some(shard_seed(seed, i)),
                shards: 1,
                ..opts.clone()
            };
            let (whole, dealt) = (Arc::clone(&book), dealt.clone());
            let thread = std::thread::Builder::new().name(format!("shard {i}")).spawn_scoped(scope, move || {
                // Dealt on the world's own thread, so the memory the book frees once the
                // world is built goes back to the allocator's heap that world grows in.
                let share_of_book = deal(&whole, k, i);
                drop((whole, dealt));
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                runtime.block_on(rehearse_part(Cow::Owned(share_of_book), &share, engine, side_by_side))
            })?;
            running.push(thread);
        }
        drop(dealt);
        // Err once every sender is gone: every world has dealt (or failed before it could).
        let _ = all_dealt.recv();
        drop(book);
        // Every world is joined before any result is looked at: a world that failed early
        // does not leave another's panic to the scope.
        let ended: Vec<_> = running.into_iter().map(std::thread::ScopedJoinHandle::join).collect();
        ended
            .into_iter()
            .enumerate()
            .map(|(i, t)| t.map_err(|_| anyhow!("shard {i} panicked"))?.map_err(|e| e.context(format!("shard {i}"))))
            .collect()
    })?;
    Ok(merge(heading, opts.rate, seed, parts, wall.elapsed().as_secs_f64()))
}

/// What the merged report says of the book it came from.
struct Heading {
    name: String,
    description: String,
    start: DateTime<Utc>,
}

/// Shard `i` of `k`: every `k`th customer from the `i`th, with the whole catalog and partners.
fn deal(scenario: &Scenario, k: usize, i: usize) -> Scenario {
    Scenario {
        name: scenario.name.clone(),
        description: scenario.description.clone(),
        start: scenario.start,
        seed: scenario.seed,
        settings: scenario.settings.clone(),
        offers: scenario.offers.clone(),
        partners: scenario.partners.clone(),
        customers: scenario.customers.iter().skip(i).step_by(k).cloned().collect(),
        faults: None,
    }
}

/// Shard `i`'s requests per minute: `rate` split `k` ways, the remainder to the first ones.
fn rate_share(rate: u32, k: usize, i: usize) -> u32 {
    let (k, i) = (u32::try_from(k).unwrap_or(u32::MAX), u32::try_from(i).unwrap_or(u32::MAX));
    rate / k + u32::from(i < rate % k)
}

/// World `i`'s seed: the rehearsal's for the first, a mix of it for the others, so ids the
/// worlds draw do not repeat across them.
fn shard_seed(seed: u64, i: usize) -> u64 {
    if i == 0 {
        return seed;
    }
    // splitmix64's finaliser over the seed and the shard number.
    let mut z = seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The parts as the report of the whole book.
fn merge(book: Heading, rate: u32, seed: u64, mut parts: Vec<Part>, wall_seconds: f64) -> Rehearsal {
    let waves = merge_waves(&mut parts, rate);
    let times = MigrationTimes {
        completed_minutes: parts.iter().flat_map(|p| p.migration_times.completed_minutes.iter().copied()).collect(),
        failed: parts.iter().map(|p| p.migration_times.failed).sum(),
    };
    let breaches = verdict::rate_breaches(parts.iter().flat_map(|p| p.migration_starts.iter().copied()));
    let (at_risk, actions) = report::at_risk_and_actions(&waves);
    let new_commerce = report::new_commerce(&waves, &times);
    let shards = parts.len();
    let r: Vec<Rehearsal> = parts.into_iter().map(|p| p.rehearsal).collect();
    let sum = |f: fn(&Rehearsal) -> usize| r.iter().map(f).sum::<usize>();
    Rehearsal {
        scenario: book.name,
        description: book.description,
        seed,
        rate,
        customers: sum(|r| r.customers),
        users: sum(|r| r.users),
        subscriptions: sum(|r| r.subscriptions),
        start: r.iter().map(|r| r.start).min().unwrap_or(book.start),
        end: r.iter().map(|r| r.end).max().unwrap_or(book.start),
        requests: r.iter().map(|r| r.requests).sum(),
        wall_seconds,
        // The worlds ran side by side in virtual time: the book took as long as the longest.
        migration_minutes: r.iter().map(|r| r.migration_minutes).fold(0.0, f64::max),
        verdict: merge_verdicts(r.iter().map(|r| &r.verdict), breaches),
        series: merge_series(r.iter().map(|r| r.series.as_slice())),
        timelines: merge_timelines(r.iter().flat_map(|r| r.timelines.iter().cloned())),
        seats: merge_seats(r.iter().flat_map(|r| &r.seats)),
        at_risk,
        actions,
        waves,
        faults: None,
        resumed_runs: r.iter().map(|r| r.resumed_runs).sum(),
        token_renewals: r.iter().map(|r| r.token_renewals).sum(),
        new_commerce,
        shards,
    }
}

/// Waves started by the same thing (the first read, or the same acceptance instant) in every
/// world, as one wave each, in the order a single world would have run them.
fn merge_waves(parts: &mut [Part], rate: u32) -> Vec<Wave> {
    let mut by_trigger: BTreeMap<Option<DateTime<Utc>>, Vec<Wave>> = BTreeMap::new();
    for p in parts.iter_mut() {
        for (wave, trigger) in std::mem::take(&mut p.rehearsal.waves).into_iter().zip(&p.triggers) {
            by_trigger.entry(*trigger).or_default().push(wave);
        }
    }
    by_trigger.into_values().filter_map(|waves| join_waves(waves, rate)).collect()
}

fn join_waves(waves: Vec<Wave>, rate: u32) -> Option<Wave> {
    let at = waves.iter().map(|w| w.at).min()?;
    let discovery_requests = waves.iter().map(|w| w.discovery_requests).sum();
    let apply_requests = waves.iter().map(|w| w.apply_requests).sum();
    let stopped = waves.iter().any(|w| w.outcome.stopped);
    let (plans, outcomes): (Vec<Plan>, Vec<ApplyOutcome>) = waves.into_iter().map(|w| (w.plan, w.outcome)).unzip();
    let plan = Plan::join(plans, rate);
    let place: BTreeMap<&str, usize> =
        plan.customers.iter().enumerate().map(|(i, c)| (c.customer_id.as_str(), i)).collect();
    let mut customers: Vec<_> = outcomes.into_iter().flat_map(|o| o.customers).collect();
    customers.sort_by_key(|c| place.get(c.customer_id.as_str()).copied().unwrap_or(usize::MAX));
    Some(Wave {
        at,
        planned_at: plan.planned_at,
        outcome: ApplyOutcome { customers, stopped },
        plan,
        discovery_requests,
        apply_requests,
    })
}

/// Every world's verdict as one; the migration-rate limit judged over all their creates.
fn merge_verdicts<'a>(verdicts: impl Iterator<Item = &'a Verdict>, limit_breaches: Vec<String>) -> Verdict {
    let mut out = Verdict { judge_ok: true, limit_breaches, ..Verdict::default() };
    for v in verdicts {
        out.judge_ok &= v.judge_ok;
        out.unexpected.extend(v.unexpected.iter().cloned());
        out.expected.extend(v.expected.iter().cloned());
        out.incomplete.extend(v.incomplete.iter().cloned());
        out.double_purchases.extend(v.double_purchases.iter().cloned());
        out.leftovers.extend(v.leftovers.iter().cloned());
        out.reapplied_changes.extend(v.reapplied_changes.iter().cloned());
        if out.log_excerpt.is_empty() {
            out.log_excerpt.clone_from(&v.log_excerpt);
        }
    }
    out
}

/// Licensed users per family over time, summed over the worlds: at every instant any world's
/// count changed, each world's latest count (none before its first point).
fn merge_series<'a>(series: impl Iterator<Item = &'a [SeriesPoint]>) -> Vec<SeriesPoint> {
    let mut changes: Vec<(DateTime<Utc>, usize, &SeriesPoint)> = Vec::new();
    let mut worlds = 0;
    for (i, s) in series.enumerate() {
        changes.extend(s.iter().map(|p| (p.at, i, p)));
        worlds = i + 1;
    }
    changes.sort_by_key(|(at, i, _)| (*at, *i));
    let mut latest: Vec<Option<&SeriesPoint>> = vec![None; worlds];
    let mut out: Vec<SeriesPoint> = Vec::new();
    for (n, &(at, i, p)) in changes.iter().enumerate() {
        latest[i] = Some(p);
        if changes.get(n + 1).is_some_and(|next| next.0 == at) {
            continue;
        }
        let mut licensed: BTreeMap<String, u64> = BTreeMap::new();
        for (family, count) in latest.iter().flatten().flat_map(|p| &p.licensed) {
            *licensed.entry(family.clone()).or_default() += count;
        }
        out.push(SeriesPoint { at, licensed });
    }
    out
}

/// Timelines in the report's order (earliest deadline first), ties by name, then id.
fn merge_timelines(timelines: impl Iterator<Item = Timeline>) -> Vec<Timeline> {
    let mut out: Vec<Timeline> = timelines.collect();
    out.sort_by(|a, b| (report::timeline_order(a), &a.customer_id).cmp(&(report::timeline_order(b), &b.customer_id)));
    out
}

/// Seats per product, summed over the worlds, by product name.
fn merge_seats<'a>(rows: impl Iterator<Item = &'a SeatRow>) -> Vec<SeatRow> {
    let mut by_product: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for row in rows {
        let seats = by_product.entry(row.product.clone()).or_default();
        seats.0 += row.bought;
        seats.1 += row.retired;
    }
    by_product.into_iter().map(|(product, (bought, retired))| SeatRow { product, bought, retired }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(minute: i64, counts: &[(&str, u64)]) -> SeriesPoint {
        SeriesPoint {
            at: DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::minutes(minute),
            licensed: counts.iter().map(|(f, n)| ((*f).to_string(), *n)).collect(),
        }
    }

    #[test]
    fn series_sum_each_worlds_latest_count() {
        let a = [point(0, &[("E3", 10)]), point(2, &[("E3", 8), ("E5", 2)])];
        let b = [point(1, &[("E3", 5)]), point(2, &[("E3", 4)]), point(3, &[("E3", 0), ("E5", 5)])];
        let merged = merge_series([&a[..], &b[..]].into_iter());
        let expect = [
            point(0, &[("E3", 10)]),
            point(1, &[("E3", 15)]),
            point(2, &[("E3", 12), ("E5", 2)]),
            point(3, &[("E3", 8), ("E5", 7)]),
        ];
        assert_eq!(merged, expect);
    }

    #[test]
    fn the_rate_is_split_without_losing_a_request() {
        for (rate, k) in [(500, 2), (500, 3), (7, 7), (1_000, 64)] {
            let shares: Vec<u32> = (0..k).map(|i| rate_share(rate, k, i)).collect();
            assert_eq!(shares.iter().sum::<u32>(), rate, "{rate} split {k} ways: {shares:?}");
            assert!(shares.iter().all(|s| *s >= rate / u32::try_from(k).unwrap_or(1)), "{shares:?}");
        }
        assert_ne!(shard_seed(7, 1), shard_seed(7, 2));
        assert_eq!(shard_seed(7, 0), 7);
    }
}
