//! The durable journal (SQLite): the plan being applied, and for every step its intent
//! (written before the call, with the `MS-RequestId` it will use) and its outcome (written
//! after). A step left "intended" is one whose outcome is unknown: on resume the engine reads
//! the server before repeating it. One journal holds one migration.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

use crate::plan::{Plan, StepKind};

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {reason}")]
    Sqlite { path: String, reason: rusqlite::Error },
    #[error(
        "journal {path} belongs to another migration (plan {journal_plan}, this plan is {plan}): finish it, or pass --journal with a new file"
    )]
    OtherMigration { path: String, journal_plan: String, plan: String },
    #[error("journal {path}: its stored plan is unreadable: {detail}")]
    Corrupt { path: String, detail: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    /// About to be sent (or sent, answer unknown).
    Intended,
    Done,
    Failed,
}

impl StepState {
    fn as_str(self) -> &'static str {
        match self {
            StepState::Intended => "intended",
            StepState::Done => "done",
            StepState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> StepState {
        match s {
            "done" => StepState::Done,
            "failed" => StepState::Failed,
            _ => StepState::Intended,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    pub customer: String,
    pub index: usize,
    pub kind: String,
    pub request_id: String,
    pub state: StepState,
    /// What happened: the subscription bought, or the error.
    pub outcome: String,
    pub attempts: u32,
}

pub struct Journal {
    path: PathBuf,
    store: Store,
}

/// Where the records live: a SQLite file (durable across crashes), or memory (rehearsals,
/// where the process is the whole world and a crash is simulated in-process).
enum Store {
    Sqlite(Mutex<Connection>),
    Memory(Mutex<Memory>),
}

#[derive(Default)]
struct Memory {
    /// Shared with the engine applying it: a rehearsal's plan is large (a step per user), and
    /// one copy is enough.
    plan: Option<Arc<Plan>>,
    /// Each customer's steps by index, the customer's id held once: a rehearsal journals a
    /// step per user, and a record per step with its own copies of the id took twice the room.
    steps: std::collections::BTreeMap<String, Vec<Option<Entry>>>,
}

/// A step's record in memory, without the customer and index its place gives.
struct Entry {
    kind: StepKind,
    request_id: Box<str>,
    state: StepState,
    outcome: Box<str>,
    attempts: u32,
}

impl Memory {
    fn entry(&self, customer: &str, index: usize) -> Option<&Entry> {
        self.steps.get(customer)?.get(index)?.as_ref()
    }

    fn record(customer: &str, index: usize, e: &Entry) -> StepRecord {
        StepRecord {
            customer: customer.to_string(),
            index,
            kind: e.kind.as_str().to_string(),
            request_id: e.request_id.to_string(),
            state: e.state,
            outcome: e.outcome.to_string(),
            attempts: e.attempts,
        }
    }
}

impl Journal {
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        let shown = path.display().to_string();
        let err = |reason| JournalError::Sqlite { path: shown.clone(), reason };
        let conn = Connection::open(path).map_err(err)?;
        // WAL + NORMAL: each step's record survives a process crash without an fsync per row.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS migration (plan_id TEXT PRIMARY KEY, plan TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS step (
                 customer TEXT NOT NULL, idx INTEGER NOT NULL, kind TEXT NOT NULL,
                 request_id TEXT NOT NULL, state TEXT NOT NULL, outcome TEXT NOT NULL DEFAULT '',
                 attempts INTEGER NOT NULL DEFAULT 0,
                 PRIMARY KEY (customer, idx));",
        )
        .map_err(err)?;
        Ok(Journal { path: path.to_path_buf(), store: Store::Sqlite(Mutex::new(conn)) })
    }

    /// A journal that lives only as long as this process.
    pub fn in_memory() -> Self {
        Journal { path: PathBuf::from("(memory)"), store: Store::Memory(Mutex::new(Memory::default())) }
    }

    fn memory(&self) -> Option<std::sync::MutexGuard<'_, Memory>> {
        match &self.store {
            Store::Memory(m) => Some(m.lock().unwrap_or_else(|p| p.into_inner())),
            Store::Sqlite(_) => None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, reason: rusqlite::Error) -> JournalError {
        JournalError::Sqlite { path: self.path.display().to_string(), reason }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        match &self.store {
            Store::Sqlite(c) => c.lock().unwrap_or_else(|p| p.into_inner()),
            // Every caller below takes the memory branch first.
            Store::Memory(_) => unreachable!("memory journals never reach SQLite"),
        }
    }

    /// Record the plan, or check that the journal already holds this same plan.
    pub fn begin(&self, plan: &Plan) -> Result<(), JournalError> {
        self.begin_with(plan, || Arc::new(plan.clone()))
    }

    /// [`Journal::begin`] without a copy of the plan where the journal is in memory.
    pub fn begin_shared(&self, plan: &Arc<Plan>) -> Result<(), JournalError> {
        self.begin_with(plan, || plan.clone())
    }

    /// Begin `plan`; `keep` gives the plan an in-memory journal holds (a file journal stores
    /// its text and needs no copy).
    fn begin_with(&self, plan: &Plan, keep: impl FnOnce() -> Arc<Plan>) -> Result<(), JournalError> {
        let existing = self.shared_plan()?;
        match existing {
            Some(p) if p.id != plan.id => Err(JournalError::OtherMigration {
                path: self.path.display().to_string(),
                journal_plan: p.id.clone(),
                plan: plan.id.clone(),
            }),
            Some(_) => Ok(()),
            None if self.memory().is_some() => {
                if let Some(mut m) = self.memory() {
                    m.plan = Some(keep());
                }
                Ok(())
            }
            None => {
                let text = serde_json::to_string(plan).map_err(|e| JournalError::Corrupt {
                    path: self.path.display().to_string(),
                    detail: e.to_string(),
                })?;
                self.lock()
                    .execute("INSERT INTO migration (plan_id, plan) VALUES (?1, ?2)", params![plan.id, text])
                    .map_err(|e| self.err(e))?;
                Ok(())
            }
        }
    }

    pub fn plan(&self) -> Result<Option<Plan>, JournalError> {
        Ok(self.shared_plan()?.map(Arc::unwrap_or_clone))
    }

    /// The journal's plan; where the journal is in memory, the plan it was begun with.
    pub fn shared_plan(&self) -> Result<Option<Arc<Plan>>, JournalError> {
        if let Some(m) = self.memory() {
            return Ok(m.plan.clone());
        }
        let text: Option<String> = self
            .lock()
            .query_row("SELECT plan FROM migration LIMIT 1", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        text.map(|t| {
            serde_json::from_str(&t)
                .map(Arc::new)
                .map_err(|e| JournalError::Corrupt { path: self.path.display().to_string(), detail: e.to_string() })
        })
        .transpose()
    }

    pub fn step(&self, customer: &str, index: usize) -> Result<Option<StepRecord>, JournalError> {
        if let Some(m) = self.memory() {
            return Ok(m.entry(customer, index).map(|e| Memory::record(customer, index, e)));
        }
        let idx = i64::try_from(index).unwrap_or(i64::MAX);
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT customer, idx, kind, request_id, state, outcome, attempts FROM step WHERE customer = ?1 AND idx = ?2",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_row(params![customer, idx], row_to_record).optional().map_err(|e| self.err(e))
    }

    /// Written before the call.
    pub fn intend(&self, customer: &str, index: usize, kind: StepKind, request_id: &str) -> Result<(), JournalError> {
        if let Some(mut m) = self.memory() {
            if !m.steps.contains_key(customer) {
                // The id is copied once a customer, not once a step.
                m.steps.insert(customer.to_string(), Vec::new());
            }
            let Some(steps) = m.steps.get_mut(customer) else { return Ok(()) };
            if steps.len() <= index {
                steps.resize_with(index + 1, || None);
            }
            let r = steps[index].get_or_insert_with(|| Entry {
                kind,
                request_id: request_id.into(),
                state: StepState::Intended,
                outcome: "".into(),
                attempts: 0,
            });
            r.state = StepState::Intended;
            r.attempts = r.attempts.saturating_add(1);
            return Ok(());
        }
        let kind = kind.as_str();
        let idx = i64::try_from(index).unwrap_or(i64::MAX);
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "INSERT INTO step (customer, idx, kind, request_id, state, attempts) VALUES (?1, ?2, ?3, ?4, 'intended', 1)
                 ON CONFLICT (customer, idx) DO UPDATE SET state = 'intended', attempts = attempts + 1",
            )
            .map_err(|e| self.err(e))?;
        stmt.execute(params![customer, idx, kind, request_id]).map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Written after the call.
    pub fn finish(&self, customer: &str, index: usize, state: StepState, outcome: &str) -> Result<(), JournalError> {
        if let Some(mut m) = self.memory() {
            if let Some(r) = m.steps.get_mut(customer).and_then(|s| s.get_mut(index)).and_then(Option::as_mut) {
                r.state = state;
                r.outcome = outcome.into();
            }
            return Ok(());
        }
        let idx = i64::try_from(index).unwrap_or(i64::MAX);
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("UPDATE step SET state = ?3, outcome = ?4 WHERE customer = ?1 AND idx = ?2")
            .map_err(|e| self.err(e))?;
        stmt.execute(params![customer, idx, state.as_str(), outcome]).map_err(|e| self.err(e))?;
        Ok(())
    }

    /// How many of a customer's steps are done.
    pub fn done_count(&self, customer: &str) -> Result<usize, JournalError> {
        if let Some(m) = self.memory() {
            let steps = m.steps.get(customer).map_or(&[][..], Vec::as_slice);
            return Ok(steps.iter().flatten().filter(|e| e.state == StepState::Done).count());
        }
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT COUNT(*) FROM step WHERE customer = ?1 AND state = 'done'")
            .map_err(|e| self.err(e))?;
        let n: i64 = stmt.query_row(params![customer], |r| r.get(0)).map_err(|e| self.err(e))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Every recorded step, in customer and step order.
    pub fn records(&self) -> Result<Vec<StepRecord>, JournalError> {
        if let Some(m) = self.memory() {
            return Ok(m
                .steps
                .iter()
                .flat_map(|(c, steps)| {
                    steps.iter().enumerate().filter_map(move |(i, e)| e.as_ref().map(|e| Memory::record(c, i, e)))
                })
                .collect());
        }
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT customer, idx, kind, request_id, state, outcome, attempts FROM step ORDER BY customer, idx",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], row_to_record).map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}

fn row_to_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<StepRecord> {
    let idx: i64 = r.get(1)?;
    let state: String = r.get(4)?;
    let attempts: i64 = r.get(6)?;
    Ok(StepRecord {
        customer: r.get(0)?,
        index: usize::try_from(idx).unwrap_or(0),
        kind: r.get(2)?,
        request_id: r.get(3)?,
        state: StepState::parse(&state),
        outcome: r.get(5)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
    })
}
