//! Virtual-time pacing: the mock's clock moves with the work. Each request costs time at the
//! configured rate (500 a minute), and every wait the client makes (`Retry-After`, back-off)
//! moves the clock instead of sleeping, so an end date that falls mid-migration passes exactly
//! where it would for real.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use mock_server::Mock;
use mock_server::model::World;
use skuswap_migrator::apply::{CustomerOutcome, Progress};
use skuswap_migrator::client::{PartnerCenter, Pause};
use skuswap_migrator::migrate::Hooks;
use skuswap_migrator::plan::Step;

use super::{Client, Meanwhile};

/// What `Retry-After: 60` costs on virtual time: the clock moves a minute, no wall time passes.
pub struct VirtualPause {
    mock: Mock,
    waited_ms: AtomicU64,
    /// False for an engine that does not wait: the clock stands still.
    waits: bool,
}

impl VirtualPause {
    pub fn new(mock: Mock, waits: bool) -> Self {
        VirtualPause { mock, waited_ms: AtomicU64::new(0), waits }
    }

    /// Milliseconds of virtual time spent waiting so far.
    pub fn waited_ms(&self) -> u64 {
        self.waited_ms.load(Ordering::Relaxed)
    }
}

impl Pause for VirtualPause {
    fn pause(&self, wait: std::time::Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        if !self.waits {
            return Box::pin(tokio::task::yield_now());
        }
        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX / 4);
        self.waited_ms.fetch_add(ms, Ordering::Relaxed);
        self.mock.with(|w| {
            let to = w.now() + millis(ms);
            let _ = w.advance_to(to);
        });
        Box::pin(tokio::task::yield_now())
    }
}

fn millis(ms: u64) -> Duration {
    Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX / 4))
}

/// The virtual time `requests` cost at `rate` per minute.
pub fn cost(requests: u64, rate: u32) -> Duration {
    millis(requests.saturating_mul(60_000) / u64::from(rate.max(1)))
}

/// When the engine first acted for each customer, and when it finished it (virtual time).
pub type Reached = Arc<Mutex<BTreeMap<String, (DateTime<Utc>, Option<DateTime<Utc>>)>>>;

/// Where the clock stood when the plan was made: later time is counted from here.
#[derive(Clone, Copy)]
struct Base {
    time: DateTime<Utc>,
    requests: u64,
    waited_ms: u64,
}

/// One wave's pacing: moves the mock's clock as requests are spent and waits are made, and
/// notes when each customer was reached and finished.
pub struct Pacer {
    mock: Mock,
    pc: Arc<Client>,
    pause: Arc<VirtualPause>,
    reached: Reached,
    meanwhile: Option<Meanwhile>,
    steps: AtomicU64,
    rate: u32,
    /// The wave's start, and the requests and waits before its discovery.
    start: Base,
    base: Mutex<Base>,
}

impl Pacer {
    pub fn new(
        mock: Mock,
        pc: Arc<Client>,
        pause: Arc<VirtualPause>,
        reached: Reached,
        meanwhile: Option<Meanwhile>,
        rate: u32,
    ) -> Self {
        let start = Base { time: mock.read(World::now), requests: pc.requests_sent(), waited_ms: pause.waited_ms() };
        Pacer { mock, pc, pause, reached, meanwhile, steps: AtomicU64::new(0), rate, start, base: Mutex::new(start) }
    }

    fn base(&self) -> Base {
        *self.base.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Discovery is over: move the clock by what it cost (waits during discovery may already
    /// have moved it further) and count later time from there.
    pub fn plan_now(&self) -> DateTime<Utc> {
        let spent = self.pc.requests_sent() - self.start.requests;
        let now = self.mock.with(|w| {
            let t = (self.start.time + cost(spent, self.rate)).max(w.now());
            let _ = w.advance_to(t);
            t
        });
        *self.base.lock().unwrap_or_else(|p| p.into_inner()) =
            Base { time: now, requests: self.pc.requests_sent(), waited_ms: self.pause.waited_ms() };
        now
    }

    pub fn wave_start(&self) -> DateTime<Utc> {
        self.start.time
    }

    /// Requests discovery made (0 until the plan is made).
    pub fn discovery_requests(&self) -> u64 {
        self.base().requests - self.start.requests
    }

    /// Requests spent since the plan was made.
    pub fn apply_requests(&self) -> u64 {
        self.pc.requests_sent() - self.base().requests
    }

    /// Virtual time the wave took: its requests at the rate, plus every wait.
    pub fn migration_time(&self) -> Duration {
        cost(self.discovery_requests() + self.apply_requests(), self.rate)
            + millis(self.pause.waited_ms().saturating_sub(self.start.waited_ms))
    }

    pub fn planned_at(&self) -> DateTime<Utc> {
        self.base().time
    }

    pub fn catch_up(&self) {
        let base = self.base();
        let spent = self.pc.requests_sent().saturating_sub(base.requests);
        let waited = self.pause.waited_ms().saturating_sub(base.waited_ms);
        let t = base.time + cost(spent, self.rate) + millis(waited);
        self.mock.with(|w| {
            if t > w.now() {
                let _ = w.advance_to(t);
            }
        });
    }
}

impl Progress for Pacer {
    fn step(&self, customer: &str, _step: &Step) {
        self.catch_up();
        if let Some(f) = &self.meanwhile {
            let n = self.steps.fetch_add(1, Ordering::Relaxed);
            self.mock.with(|w| f(w, n));
        }
        let now = self.mock.read(World::now);
        let mut r = self.reached.lock().unwrap_or_else(|p| p.into_inner());
        r.entry(customer.to_string()).or_insert((now, None));
    }

    fn customer_finished(&self, outcome: &CustomerOutcome) {
        if outcome.complete {
            let now = self.mock.read(World::now);
            let mut r = self.reached.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(entry) = r.get_mut(&outcome.customer_id) {
                entry.1 = Some(now);
            }
        }
    }
}

impl Hooks for Pacer {
    fn planning_instant(&self) -> DateTime<Utc> {
        self.plan_now()
    }
}
