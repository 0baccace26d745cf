//! The audit log's memory bound and the judge that keeps up with it: with a limit set
//! (`serve --max-events`), the oldest events are dropped at a batch boundary once the log
//! outgrows it, after the judge has folded them, so the verdict stays the whole log's and a
//! marker says what was cut.

use serde::{Deserialize, Serialize};

use super::World;
use crate::invariants::{Judge, Verdict};

/// The smallest bound accepted: below it a cut would happen every few requests.
pub const MIN_LOG_LIMIT: usize = 1_000;

/// Where the log was cut from the front.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogCut {
    /// Events dropped so far.
    pub dropped: u64,
    /// The last dropped event's sequence number: every event from the next on is kept.
    pub through: u64,
    /// The judge's fold of everything dropped (so the verdict still covers it).
    judge: Judge,
}

/// The judge's running fold over a world's log, so a verdict costs only the events since
/// the last one. Behind a mutex because verdicts are read through `&World`; it is only ever
/// taken under the world's own lock, so it is never contended.
#[derive(Debug, Default)]
pub(crate) struct JudgeCache(std::sync::Mutex<Option<Judge>>);

impl JudgeCache {
    /// The last event the running judge folded (0: none yet).
    pub(crate) fn folded_through(&self) -> u64 {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map_or(0, Judge::through)
    }
}

impl Clone for JudgeCache {
    fn clone(&self) -> Self {
        JudgeCache(std::sync::Mutex::new(self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()))
    }
}

impl World {
    /// The judge's verdict on the whole log (the dropped part included).
    pub fn verdict(&self) -> Verdict {
        self.with_judge(|j| j.verdict())
    }

    /// How many violations the judge found, and the first one's message: what a banner shows,
    /// without copying every violation.
    pub fn verdict_glance(&self) -> (usize, Option<String>) {
        self.with_judge(|j| (j.violations().len(), j.violations().first().map(|v| v.message.clone())))
    }

    fn with_judge<R>(&self, f: impl FnOnce(&mut Judge) -> R) -> R {
        let mut cache = self.judge.0.lock().unwrap_or_else(|p| p.into_inner());
        // Out of the cache while it folds: a panic mid-fold leaves no half-fed judge behind
        // (the next verdict folds afresh).
        let mut judge =
            cache.take().unwrap_or_else(|| self.log_cut.as_ref().map(|c| c.judge.clone()).unwrap_or_default());
        judge.feed(&self.events);
        let out = f(&mut judge);
        *cache = Some(judge);
        out
    }

    /// Where the log was cut, if it was.
    pub fn log_cut(&self) -> Option<&LogCut> {
        self.log_cut.as_ref()
    }

    /// Refuse a snapshot whose log bound is too small (a restored world is not re-checked by
    /// [`World::set_log_limit`]).
    pub fn check_log_limit(&self) -> Result<(), String> {
        match self.log_limit {
            Some(l) if l < MIN_LOG_LIMIT => Err(format!("logLimit: at least {MIN_LOG_LIMIT} events, not {l}")),
            _ => Ok(()),
        }
    }

    /// Bound the log to `limit` events (`None`: unbounded), or refuse a bound too small.
    pub fn set_log_limit(&mut self, limit: Option<usize>) -> Result<(), String> {
        if limit.is_some_and(|l| l < MIN_LOG_LIMIT) {
            return Err(format!("the log limit must be at least {MIN_LOG_LIMIT} events"));
        }
        self.log_limit = limit;
        self.bound_log();
        Ok(())
    }

    /// Past the limit, drop the oldest events down to half of it (so cuts are rare), after
    /// the judge folded them. Called before a new batch's first event and at the end of a
    /// write (under [`World::begin_write`] only there: a write's own events are not cut until
    /// it ends, so it can be undone): every batch in the log is complete then, so the judge
    /// never folds half a batch.
    pub(crate) fn bound_log(&mut self) {
        let Some(limit) = self.log_limit.filter(|_| !self.writing) else { return };
        if self.events.len() <= limit {
            return;
        }
        let keep_from = self.events.len() - (limit / 2).max(1);
        // Never split a batch: keep the whole batch the first kept event belongs to.
        let batch = self.events[keep_from].batch;
        let start = self.events[..keep_from].iter().rposition(|e| e.batch != batch).map_or(0, |i| i + 1);
        if start == 0 {
            return;
        }
        // The running judge has folded all of it first, so the verdict keeps what goes.
        self.with_judge(|_| ());
        let through = self.events[start - 1].seq;
        let dropped = self.log_cut.as_ref().map_or(0, |c| c.dropped) + start as u64;
        // The checkpoint is the judge's state after the dropped events only: fold them alone.
        let mut checkpoint = self.log_cut.as_ref().map(|c| c.judge.clone()).unwrap_or_default();
        checkpoint.feed(&self.events[..start]);
        self.events.drain(..start);
        self.log_cut = Some(LogCut { dropped, through, judge: checkpoint });
    }

    /// The next event's sequence number (the log may have been cut to nothing).
    pub(crate) fn next_seq(&self) -> u64 {
        self.events.last().map(|e| e.seq).or(self.log_cut.as_ref().map(|c| c.through)).map_or(1, |s| s + 1)
    }
}
