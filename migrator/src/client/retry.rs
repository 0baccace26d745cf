//! How the client retries and waits: the retry policy (attempts, back-off, timeout, jitter
//! seed) and the pause between attempts (real time, or a rehearsal's virtual clock).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Longest wait for one answer; past it the outcome is unknown.
    pub call_timeout: Duration,
    /// Seed of the jitter (and of generated request ids).
    pub seed: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
            call_timeout: Duration::from_secs(30),
            seed: 0,
        }
    }
}

/// How the client waits between attempts. Real time by default; a rehearsal passes one that
/// moves its virtual clock instead, so honouring a 60-second `Retry-After` costs no wall time.
pub trait Pause: Send + Sync {
    fn pause(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Waits on the real clock (tokio's timer).
pub struct RealTime;

impl Pause for RealTime {
    fn pause(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(wait))
    }
}
