//! The shared handle the HTTP layer holds: a cheap clone around one `std::sync::Mutex<World>`.
//!
//! A std mutex (not tokio's) because every critical section is short and synchronous: handlers
//! lock, call the model, copy out what they render, and unlock before any `.await`. Holding it
//! across an await point would stall the runtime; the closure-only API makes that impossible.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::model::{Scenario, World};

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
    /// Counts requests that came without `MS-RequestId`, to mint deterministic ones.
    requests: AtomicU64,
    library: Arc<dyn ScenarioLibrary>,
}

impl Mock {
    pub fn new(world: World) -> Self {
        Self::with_library(world, Arc::new(NoScenarios))
    }

    /// A mock that knows the named scenarios of `library`.
    pub fn with_library(world: World, library: Arc<dyn ScenarioLibrary>) -> Self {
        Mock { inner: Arc::new(Shared { world: Mutex::new(world), requests: AtomicU64::new(0), library }) }
    }

    pub fn scenarios(&self) -> &dyn ScenarioLibrary {
        self.inner.library.as_ref()
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        // A panic inside the model is caught by the HTTP layer; the world it left is still the
        // best account we have, so keep serving it rather than poisoning every later request.
        self.inner.world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Run `f` with the world locked. The closure cannot await, so the lock is never held
    /// across an await point.
    pub fn with<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut self.lock())
    }

    pub fn read<R>(&self, f: impl FnOnce(&World) -> R) -> R {
        f(&self.lock())
    }

    /// Replace the whole world (scenario load, reset, restore).
    pub fn replace(&self, world: World) {
        *self.lock() = world;
    }

    pub fn next_request_number(&self) -> u64 {
        self.inner.requests.fetch_add(1, Ordering::Relaxed) + 1
    }
}
