//! The shared handle the HTTP layer holds: a cheap clone around one `std::sync::Mutex<World>`.
//!
//! A std mutex (not tokio's) because every critical section is short and synchronous: handlers
//! lock, call the model, copy out what they render, and unlock before any `.await`. Holding it
//! across an await point would stall the runtime; the closure-only API makes that impossible.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use uuid::Uuid;

use crate::model::{ModelError, Scenario, Token, TokenMode, Tokens, World};

/// The named scenarios the hosting binary ships (the mock ships none of its own: scenario
/// files belong to the `scenarios` crate), listed by `GET /admin/scenarios` and loaded by
/// `POST /admin/scenario {"name": ...}`.
pub trait ScenarioLibrary: Send + Sync {
    fn names(&self) -> Vec<String>;
    /// `None` when the name is not one of [`ScenarioLibrary::names`].
    fn resolve(&self, name: &str, seed: Option<u64>) -> Option<Result<Scenario, String>>;
}

/// No named scenarios: only whole scenario documents can be loaded.
pub struct NoScenarios;

impl ScenarioLibrary for NoScenarios {
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
    fn resolve(&self, _: &str, _: Option<u64>) -> Option<Result<Scenario, String>> {
        None
    }
}

#[derive(Clone)]
pub struct Mock {
    inner: Arc<Shared>,
}

struct Shared {
    world: Mutex<World>,
    /// How the virtual clock follows the wall clock (`None`: it moves only when told).
    clock: Mutex<Option<Following>>,
    /// Whether `clock` is set: read on every request without taking its lock.
    following: AtomicBool,
    /// Counts requests that came without `MS-RequestId`, to mint deterministic ones.
    requests: AtomicU64,
    library: Arc<dyn ScenarioLibrary>,
    /// `serve --admin-token-file`: a bearer token that lets `/admin` and the dashboard be
    /// reached under a Host that is not loopback (set once, before serving).
    admin_token: std::sync::OnceLock<String>,
    /// What every request asks before its handler runs, kept outside the lock (refreshed at
    /// the end of every write, under it): the virtual now (ms since the epoch) for `Date`, and
    /// whether a fault plan is in force. Saves each request two lock round trips.
    now_millis: std::sync::atomic::AtomicI64,
    faults_on: AtomicBool,
    /// The world's tokens as of the last write, for the bearer check every request makes:
    /// asked here, that check never waits behind a long write (a POST holding the world).
    tokens: std::sync::RwLock<Tokens>,
    /// The last `Date` header made, and the virtual second it is for.
    date: std::sync::RwLock<Option<(i64, axum::http::HeaderValue)>>,
    /// `serve --max-events`: the log bound every world served gets, loaded ones included.
    log_limit: std::sync::OnceLock<usize>,
    /// How long each critical section held the world: the stall it imposed on every other
    /// call waiting for the lock.
    holds: Holds,
}

/// A log2 histogram of lock hold times, in microseconds (bucket `i` counts holds below `2^i`
/// µs), and the longest one. Lock-free, so measuring never adds a stall of its own.
#[derive(Default)]
struct Holds {
    buckets: [AtomicU64; 32],
    longest_ns: AtomicU64,
}

impl Holds {
    fn record(&self, held: std::time::Duration) {
        let ns = u64::try_from(held.as_nanos()).unwrap_or(u64::MAX);
        let micros = ns / 1000;
        let bucket = usize::try_from(u64::BITS - micros.leading_zeros()).unwrap_or(31).min(31);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.longest_ns.fetch_max(ns, Ordering::Relaxed);
    }
}

/// What the lock-hold histogram says (see [`Mock::lock_holds`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldReport {
    pub count: u64,
    /// Upper bounds (µs, a power of two) under which half and 99% of the holds fell.
    pub p50_under_micros: u64,
    pub p99_under_micros: u64,
    pub longest_micros: u64,
}

impl Mock {
    pub fn new(world: World) -> Self {
        Self::with_library(world, Arc::new(NoScenarios))
    }

    /// A mock that knows the named scenarios of `library`.
    pub fn with_library(world: World, library: Arc<dyn ScenarioLibrary>) -> Self {
        let requests = AtomicU64::new(minted_floor(&world));
        let (now_millis, faults_on) = glance(&world);
        let tokens = std::sync::RwLock::new(world.tokens());
        Mock {
            inner: Arc::new(Shared {
                world: Mutex::new(world),
                clock: Mutex::new(None),
                following: AtomicBool::new(false),
                requests,
                library,
                admin_token: std::sync::OnceLock::new(),
                holds: Holds::default(),
                now_millis: std::sync::atomic::AtomicI64::new(now_millis),
                faults_on: AtomicBool::new(faults_on),
                tokens,
                date: std::sync::RwLock::new(None),
                log_limit: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Accept `Authorization: Bearer <token>` on `/admin` and the dashboard from any Host
    /// (without it only loopback Hosts are served). Set once; a second call changes nothing.
    pub fn require_admin_token(&self, token: String) {
        let _ = self.inner.admin_token.set(token);
    }

    /// Whether `presented` is the admin token (compared in constant time).
    pub fn is_admin_token(&self, presented: &str) -> bool {
        let Some(expected) = self.inner.admin_token.get() else { return false };
        let (a, b) = (expected.as_bytes(), presented.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    pub fn scenarios(&self) -> &dyn ScenarioLibrary {
        self.inner.library.as_ref()
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        // A write that panics is rolled back before its guard drops (`with`), and a read changes
        // nothing but the judge's running fold (a panic there leaves it to refold on the next
        // verdict at worst), so a poisoned lock still guards a whole world: keep serving it.
        self.inner.world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Run `f` with the world locked. The closure cannot await, so the lock is never held
    /// across an await point.
    ///
    /// A panic inside `f` undoes everything `f` changed before it is passed on (the HTTP
    /// layer answers 500): the world is left exactly as it was, never half changed.
    pub fn with<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut w = self.lock();
        let start = std::time::Instant::now();
        let checkpoint = w.begin_write();
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut w)));
        match &out {
            Ok(_) => w.end_write(),
            Err(_) => w.roll_back(checkpoint),
        }
        self.remember(&w);
        drop(w);
        self.inner.holds.record(start.elapsed());
        out.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    pub fn read<R>(&self, f: impl FnOnce(&World) -> R) -> R {
        let w = self.lock();
        let start = std::time::Instant::now();
        let out = f(&w);
        drop(w);
        self.inner.holds.record(start.elapsed());
        out
    }

    /// Refresh what requests read without the lock (called with the lock held).
    fn remember(&self, w: &World) {
        let (now, faults) = glance(w);
        self.inner.now_millis.store(now, Ordering::Relaxed);
        self.inner.faults_on.store(faults, Ordering::Relaxed);
        let tokens = w.tokens();
        // Most writes change neither the tokens nor the clock: the copy is only replaced
        // (the one moment a reader can wait on it) when it would answer differently.
        if !self.inner.tokens.read().unwrap_or_else(|p| p.into_inner()).same_as(&tokens) {
            *self.inner.tokens.write().unwrap_or_else(|p| p.into_inner()) = tokens;
        }
    }

    /// A bearer token that works now (as [`World::token`] answers it after the last write),
    /// found without the world's lock.
    pub fn token(&self, token: &str) -> Option<Token> {
        self.inner.tokens.read().unwrap_or_else(|p| p.into_inner()).get(token).cloned()
    }

    /// The virtual now as an HTTP date (`Date` on every answer), formatted once per virtual
    /// second rather than once per request.
    pub fn http_date(&self) -> Option<axum::http::HeaderValue> {
        let secs = self.inner.now_millis.load(Ordering::Relaxed).div_euclid(1000);
        if let Some((at, v)) = self.inner.date.read().unwrap_or_else(|p| p.into_inner()).as_ref()
            && *at == secs
        {
            return Some(v.clone());
        }
        let v = crate::http::faults::http_date(chrono::DateTime::from_timestamp(secs, 0)?)?;
        *self.inner.date.write().unwrap_or_else(|p| p.into_inner()) = Some((secs, v.clone()));
        Some(v)
    }

    /// Whether a fault plan is in force, without taking the lock (as of the last write).
    pub fn faults_on(&self) -> bool {
        self.inner.faults_on.load(Ordering::Relaxed)
    }

    /// How long the world's lock was held, over every call since start.
    pub fn lock_holds(&self) -> HoldReport {
        let counts: Vec<u64> = self.inner.holds.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let count: u64 = counts.iter().sum();
        let under = |share: f64| {
            let mut seen = 0u64;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if count > 0 && seen as f64 >= share * count as f64 {
                    return 1u64 << i;
                }
            }
            0
        };
        HoldReport {
            count,
            p50_under_micros: under(0.5),
            p99_under_micros: under(0.99),
            longest_micros: self.inner.holds.longest_ns.load(Ordering::Relaxed) / 1000,
        }
    }

    /// Let the virtual clock follow the wall clock, `speed` virtual seconds per real one
    /// (`None`: manual, moved only by the admin API). Admin jumps still add to it.
    pub fn follow_wall_clock(&self, speed: Option<u32>) {
        let following = speed.map(|speed| Following { speed, last: std::time::Instant::now() });
        self.inner.following.store(following.is_some(), Ordering::Relaxed);
        *self.inner.clock.lock().unwrap_or_else(|p| p.into_inner()) = following;
    }

    /// Bring the virtual clock up to the wall clock (a no-op on a manual clock). Called before
    /// every request, so `Retry-After` and rate-limit windows are measured in the time a
    /// client really waited, and by `serve` every second, so deadlines come due while idle.
    pub fn catch_up(&self) {
        if !self.inner.following.load(Ordering::Relaxed) {
            return;
        }
        let mut clock = self.inner.clock.lock().unwrap_or_else(|p| p.into_inner());
        let Some(following) = clock.as_mut() else { return };
        let now = std::time::Instant::now();
        let elapsed = now.saturating_duration_since(following.last);
        let Ok(step) = chrono::Duration::from_std(elapsed * following.speed) else { return };
        if step < chrono::Duration::milliseconds(1) {
            return;
        }
        following.last = now;
        let stepped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.with(|w| {
                let to = w.now() + step;
                let _ = w.tick_to(to);
            })
        }));
        if stepped.is_err() {
            // The step was rolled back, and the deadline that panicked would panic again on
            // every request (each one catches up first): stop following rather than fail
            // calls that have nothing to do with it. The admin API still moves the clock.
            *clock = None;
            self.inner.following.store(false, Ordering::Relaxed);
            tracing::error!("the virtual clock panicked while catching up; it no longer follows the wall clock");
        }
    }

    /// Bound the audit log of this world and of every world loaded later to `limit` events.
    pub fn bound_log(&self, limit: usize) -> Result<(), String> {
        self.with(|w| w.set_log_limit(Some(limit)))?;
        let _ = self.inner.log_limit.set(limit);
        Ok(())
    }

    /// Replace the whole world (scenario load, reset, restore).
    pub fn replace(&self, mut world: World) {
        if let Some(limit) = self.inner.log_limit.get() {
            let _ = world.set_log_limit(Some(*limit));
        }
        self.inner.requests.fetch_max(minted_floor(&world), Ordering::Relaxed);
        let mut w = self.lock();
        let old = std::mem::replace(&mut *w, world);
        self.remember(&w);
        drop(w);
        // Freed after the lock is released: a large world takes a while to drop.
        drop(old);
    }

    /// The number of the next server-minted request id: past every one the world has seen,
    /// so a restored snapshot's orders are never answered to a new request.
    pub fn next_request_number(&self) -> u64 {
        self.inner.requests.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// The virtual now (ms) and whether faults are on: what [`Mock::remember`] keeps.
fn glance(w: &World) -> (i64, bool) {
    (w.now().timestamp_millis(), w.fault_plan().is_some())
}

/// A virtual clock following the wall clock.
struct Following {
    /// Virtual seconds per real second.
    speed: u32,
    /// The wall-clock instant the virtual clock last caught up to.
    last: std::time::Instant,
}

/// How a server-minted request id starts; the rest is its number in hex.
pub const MINTED_REQUEST_ID: &str = "00000000-0000-4000-8000-";

/// The highest server-minted request id number among the orders `world` deduplicates by it
/// (the only place an old id answers a new request): minting goes on from there after a
/// restart and a restored snapshot. Bounded by the dedup window, so start-up stays cheap.
fn minted_floor(world: &World) -> u64 {
    let number = |id: &str| id.strip_prefix(MINTED_REQUEST_ID).and_then(|n| u64::from_str_radix(n, 16).ok());
    world.order_request_ids().filter_map(number).max().unwrap_or(0)
}

/// Mint a bearer token for `partner` (default: the first) in `world`: a random secret from the
/// operating system, never derived from the seed, so tokens differ on every start and an old
/// token is never another partner's after a reload. `lifetime` in seconds, on the virtual clock.
pub fn mint_token(
    world: &mut World,
    partner: Option<Uuid>,
    mode: TokenMode,
    lifetime: Option<u32>,
) -> Result<String, ModelError> {
    let secret = crate::http::signin::secret("pcmock")
        .ok_or_else(|| ModelError::InvalidInput("no randomness for a token".into()))?;
    let expires = lifetime.map(|s| world.now() + chrono::Duration::seconds(i64::from(s)));
    world.issue_token(partner, mode, secret, expires)
}
