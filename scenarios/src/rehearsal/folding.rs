//! The judge folds the audit log on the other core while the rehearsal runs, so judging the
//! run costs the critical path only the events of its last moments.
//!
//! The verdict cannot depend on when the fold thread wakes: it only ever takes the log's tail
//! between two writes (under the world's lock, where every batch is whole and no write is half
//! done or about to be rolled back), and the judge folds whole batches in order, so any split
//! into tails folds exactly as the whole log would.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::anyhow;
use mock_server::Mock;
use mock_server::invariants::{Judge, SeriesPoint, Verdict};
use mock_server::model::Event;

/// How long the fold thread waits before it looks for new events again. Only the wall time
/// between looks depends on it, never the result.
const LOOK_AGAIN: Duration = Duration::from_millis(20);

/// The fold in progress on its own thread.
pub struct Folding {
    /// Dropped to say "the log is complete": the thread folds the rest and returns its judge.
    done: Option<mpsc::Sender<()>>,
    /// Set when nobody will read the verdict (the rehearsal failed): the thread stops at once.
    abandoned: Arc<AtomicBool>,
    /// Non-empty tails folded so far (the test checks it really folded in pieces).
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the unit test only"))]
    tails: Arc<AtomicUsize>,
    thread: Option<JoinHandle<Result<Judge, String>>>,
}

impl Folding {
    /// Start folding `mock`'s log (from its first event) on a thread of its own.
    pub fn start(mock: Mock) -> anyhow::Result<Self> {
        let (done, wait) = mpsc::channel::<()>();
        let (abandoned, tails) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let (stop, taken) = (abandoned.clone(), tails.clone());
        let thread = std::thread::Builder::new().name("judge".into()).spawn(move || {
            let mut judge = Judge::charting();
            loop {
                let last = !matches!(wait.recv_timeout(LOOK_AGAIN), Err(RecvTimeoutError::Timeout));
                if stop.load(Ordering::Relaxed) {
                    return Err("abandoned".to_string());
                }
                // Pointers only: the events are folded after the lock is let go.
                let tail: Vec<Arc<Event>> = mock.read(|w| w.events_after(judge.through()).to_vec());
                // A log cut from the front or a world replaced would leave a gap: a verdict
                // from what happened to be folded before it would depend on timing.
                if let Some(first) = tail.first()
                    && first.seq != judge.through() + 1
                {
                    return Err(format!(
                        "the audit log jumped from event #{} to #{} while the judge folded it (cut or replaced)",
                        judge.through(),
                        first.seq
                    ));
                }
                if !tail.is_empty() {
                    judge.feed(&tail);
                    taken.fetch_add(1, Ordering::Relaxed);
                }
                if last {
                    return Ok(judge);
                }
            }
        })?;
        Ok(Folding { done: Some(done), abandoned, tails, thread: Some(thread) })
    }

    /// The log is complete: wait for the fold to reach its end, and the verdict and chart.
    pub fn conclude(mut self) -> anyhow::Result<(Verdict, Vec<SeriesPoint>)> {
        drop(self.done.take());
        let thread = self.thread.take().ok_or_else(|| anyhow!("the judge's fold was already concluded"))?;
        let judge = thread.join().map_err(|_| anyhow!("the judge's fold panicked"))?.map_err(|e| anyhow!(e))?;
        Ok(judge.conclude())
    }
}

impl Drop for Folding {
    /// A rehearsal that fails before its verdict stops the thread without folding the rest.
    fn drop(&mut self) {
        self.abandoned.store(true, Ordering::Relaxed);
        drop(self.done.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use mock_server::invariants;
    use mock_server::model::World;

    use super::*;

    /// Folding tails while the clock runs (expiries, de-provisionings, lost licenses) gives
    /// the verdict and chart of one fold over the finished log.
    #[test]
    fn folding_as_the_log_grows_judges_as_one_fold_at_the_end() -> anyhow::Result<()> {
        let scenario = crate::named::resolve("article", None, None).map_err(|e| anyhow!(e))?;
        let mock = Mock::new(World::from_scenario(&scenario, None).map_err(|e| anyhow!("{e}"))?);
        let folding = Folding::start(mock.clone())?;
        // Daily steps the fold thread takes tails of as they come, then one long step
        // (the end dates and de-provisionings) just before the log is complete.
        for days in std::iter::repeat_n(1, 120).chain([900]) {
            mock.with(|w| {
                let to = w.now() + Duration::days(days);
                w.advance_to(to).map(|_| ())
            })
            .map_err(|e| anyhow!("{days} days: {e}"))?;
            if days == 1 {
                std::thread::sleep(LOOK_AGAIN / 8);
            }
        }
        let tails = folding.tails.load(Ordering::Relaxed);
        assert!(tails > 2, "the fold took {tails} tails: it never folded a growing log");
        let (verdict, series) = folding.conclude()?;
        let (whole, whole_series) = mock.read(|w| invariants::check_with_series(w.events()));
        assert!(!whole.violations.is_empty(), "the clock should take licenses: nothing to compare");
        assert_eq!(verdict, whole);
        assert_eq!(series, whole_series);
        Ok(())
    }
}
