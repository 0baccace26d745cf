//! The migration commands (`plan`, `apply`, `verify`, `status`, `rollback`): their arguments,
//! progress and exit codes around the engine's one entry point (`skuswap_migrator::migrate`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use skuswap_migrator::apply::{ApplyOptions, CustomerOutcome, Progress};
use skuswap_migrator::client::PartnerCenter;
use skuswap_migrator::discover::DiscoverOptions;
use skuswap_migrator::journal::Journal;
use skuswap_migrator::migrate::{Hooks, Migrate, migrate, plan_migration};
use skuswap_migrator::plan::{Plan, Step};
use skuswap_migrator::report::report;
use skuswap_migrator::rollback::rollback;
use skuswap_migrator::verify::verify;

use super::target::{Connected, Planning, Target, connect};
use super::{EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK};

/// `skuswap plan`.
#[derive(clap::Args, Debug, Clone)]
pub struct PlanArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(flatten)]
    pub planning: Planning,
    /// Where to write the plan (JSON, stable order, diffable).
    #[arg(long, default_value = "skuswap-plan.json")]
    pub out: PathBuf,
    /// Print the plan as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `skuswap apply`.
#[derive(clap::Args, Debug, Clone)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(flatten)]
    pub planning: Planning,
    /// A plan written by `skuswap plan`.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// The journal (SQLite) that makes the run resumable.
    #[arg(long, default_value = "skuswap-journal.db")]
    pub journal: PathBuf,
    /// Customers migrated at once (steps within a customer always run in order).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Show what would be done, change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `skuswap verify`.
#[derive(clap::Args, Debug, Clone)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub target: Target,
    /// The plan to verify (default: the journal's).
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    #[arg(long, default_value = "skuswap-journal.db")]
    pub journal: PathBuf,
}

/// How `skuswap status` prints.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Markdown,
}

/// `skuswap status`.
#[derive(clap::Args, Debug, Clone)]
pub struct StatusArgs {
    #[arg(long, default_value = "skuswap-journal.db")]
    pub journal: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `skuswap rollback`.
#[derive(clap::Args, Debug, Clone)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, default_value = "skuswap-journal.db")]
    pub journal: PathBuf,
    /// The customer's tenant id.
    #[arg(long)]
    pub customer: String,
}

/// The command line's hooks into the engine: progress bars on a terminal, plain lines
/// elsewhere; the planning instant; the check of a saved plan.
struct Terminal {
    bar: Option<ProgressBar>,
    discovering: Option<ProgressBar>,
    now: DateTime<Utc>,
    saved: Option<(Plan, PathBuf)>,
}

impl Terminal {
    fn new(now: DateTime<Utc>, saved: Option<(Plan, PathBuf)>) -> Self {
        let discovering = std::io::stderr().is_terminal().then(|| bar(0, "discovering"));
        Terminal { bar: None, discovering, now, saved }
    }
}

impl Progress for Terminal {
    fn planned(&self, plan: &Plan) {
        if let Some(b) = &self.bar {
            b.set_length(plan.customers.iter().map(|c| c.steps.len() as u64).sum());
        }
    }

    fn step(&self, _customer: &str, step: &Step) {
        if let Some(b) = &self.bar {
            b.inc(1);
            b.set_message(step.kind().as_str());
        }
    }

    fn customer_finished(&self, o: &CustomerOutcome) {
        let line = match &o.error {
            None => format!("{}: done ({} steps)", o.name, o.steps),
            Some(e) => format!("{}: stopped after {}/{} steps: {e}", o.name, o.steps_done, o.steps),
        };
        match &self.bar {
            Some(b) => b.println(line),
            None => println!("{line}"),
        }
    }
}

impl Hooks for Terminal {
    fn discovering(&self, done: usize, total: usize) {
        if let Some(b) = &self.discovering {
            b.set_length(total as u64);
            b.set_position(done as u64);
            if done == total {
                b.finish_and_clear();
            }
        }
    }

    fn planning_instant(&self) -> DateTime<Utc> {
        self.now
    }

    fn accept(&self, fresh: Plan) -> Result<Plan, String> {
        let Some((saved, file)) = &self.saved else { return Ok(fresh) };
        match first_difference(saved, &fresh) {
            Some(diff) => Err(format!(
                "the plan file {} no longer matches the server: {diff}. Nothing was changed; run `skuswap plan` again",
                file.display()
            )),
            None => Ok(saved.clone()),
        }
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let b = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    b.set_style(style);
    b.set_prefix(what.to_string());
    b
}

fn how<'a>(mapping: &'a skuswap_migrator::mapping::Mapping, p: &Planning, apply: ApplyOptions) -> Migrate<'a> {
    Migrate { mapping, discovery: DiscoverOptions::default(), requests_per_minute: p.rate, apply }
}

pub async fn plan(a: &PlanArgs) -> anyhow::Result<u8> {
    let c = connect(&a.target).await?;
    let mapping = a.planning.mapping()?;
    let hooks = Terminal::new(c.planning_now(&a.planning), None);
    let plan = plan_migration(c.pc.as_ref(), &how(&mapping, &a.planning, ApplyOptions::default()), &hooks).await?;
    let text = serde_json::to_string_pretty(&plan)?;
    std::fs::write(&a.out, format!("{text}\n"))
        .with_context(|| format!("cannot write the plan to {}", a.out.display()))?;
    if a.json {
        println!("{text}");
    } else {
        print!("{}", plan.table());
        eprintln!("plan written to {} ({} requests made)", a.out.display(), c.pc.requests_sent());
    }
    Ok(EXIT_OK)
}

/// Name the first difference between a saved plan and the server as it is now.
pub fn first_difference(saved: &Plan, fresh: &Plan) -> Option<String> {
    for s in &saved.customers {
        let Some(f) = fresh.customers.iter().find(|f| f.customer_id == s.customer_id) else {
            return Some(format!("customer {} ({}) no longer needs migrating", s.name, s.customer_id));
        };
        if s.steps.len() != f.steps.len() {
            return Some(format!("customer {}: {} steps planned, {} needed now", s.name, s.steps.len(), f.steps.len()));
        }
        if let Some((i, (a, b))) = s.steps.iter().zip(&f.steps).enumerate().find(|(_, (a, b))| a != b) {
            return Some(format!("customer {}: step {} was {a:?}, is now {b:?}", s.name, i + 1));
        }
        if s.actions != f.actions {
            return Some(format!("customer {}: customer actions changed", s.name));
        }
    }
    fresh
        .customers
        .iter()
        .find(|f| !saved.customers.iter().any(|s| s.customer_id == f.customer_id))
        .map(|f| format!("customer {} ({}) is new since the plan was made", f.name, f.customer_id))
}

fn read_plan(f: &Path) -> anyhow::Result<Plan> {
    let text = std::fs::read_to_string(f).with_context(|| format!("cannot read the plan file {}", f.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a skuswap plan", f.display()))
}

pub async fn apply(a: &ApplyArgs) -> anyhow::Result<u8> {
    let c = connect(&a.target).await?;
    let saved = a.plan.as_deref().map(read_plan).transpose()?;
    let journal = Journal::open(&a.journal)?;
    match (journal.plan()?, &saved) {
        (Some(j), Some(s)) if j.id != s.id => bail!(
            "journal {} belongs to another migration (plan {}, the plan file is {}): finish it, or pass --journal with a new file",
            a.journal.display(),
            j.id,
            s.id
        ),
        (Some(j), _) => eprintln!("resuming plan {} from journal {}", j.id, a.journal.display()),
        _ => {}
    }
    // A saved plan is checked against the server as it would be planned at its own instant.
    let now = saved.as_ref().map_or_else(|| c.planning_now(&a.planning), |s| s.planned_at);
    let mut hooks = Terminal::new(now, saved.zip(a.plan.clone()));
    let mapping = a.planning.mapping()?;
    if a.dry_run {
        let plan = match journal.plan()? {
            Some(p) => p,
            None => plan_migration(c.pc.as_ref(), &how(&mapping, &a.planning, ApplyOptions::default()), &hooks).await?,
        };
        print!("{}", plan.table());
        println!("dry run: nothing was changed");
        return Ok(EXIT_OK);
    }
    let stop = stop_on_ctrl_c();
    if std::io::stdout().is_terminal() {
        hooks.bar = Some(bar(0, "applying"));
    }
    let hooks = Arc::new(hooks);
    let options = ApplyOptions { concurrency: usize::from(a.concurrency), stop, side_by_side: 1 };
    let journal = Arc::new(journal);
    let m = migrate(c.pc.clone(), journal.clone(), &how(&mapping, &a.planning, options), hooks.clone()).await?;
    if let Some(b) = &hooks.bar {
        b.finish_and_clear();
    }
    print!("{}", report(&m.plan, &journal.records()?).table());
    eprintln!("{} requests made; journal {}", c.pc.requests_sent(), a.journal.display());
    Ok(if m.outcome.stopped {
        EXIT_INTERRUPTED
    } else if m.outcome.complete() {
        EXIT_OK
    } else {
        EXIT_INCOMPLETE
    })
}

/// Ctrl-C sets the flag; `apply` then stops after the steps in flight.
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping after the steps in flight; run the same command again to resume");
            on_signal.store(true, Ordering::SeqCst);
        }
    });
    stop
}

fn plan_from(plan_file: Option<&Path>, journal: &Path) -> anyhow::Result<Plan> {
    if let Some(f) = plan_file {
        return read_plan(f);
    }
    if !journal.exists() {
        bail!("no plan: pass --plan FILE, or --journal of a migration (no {} here)", journal.display());
    }
    Journal::open(journal)?.plan()?.ok_or_else(|| anyhow!("journal {} holds no migration yet", journal.display()))
}

pub async fn verify_cmd(a: &VerifyArgs) -> anyhow::Result<u8> {
    let plan = plan_from(a.plan.as_deref(), &a.journal)?;
    let c: Connected = connect(&a.target).await?;
    let findings = verify(c.pc.as_ref(), &plan).await?;
    if findings.is_empty() {
        println!(
            "verified: every planned user holds the successor, every old subscription is suspended, no pool is over-assigned"
        );
        return Ok(EXIT_OK);
    }
    for f in &findings {
        println!("{}: {}", f.customer, f.problem);
    }
    println!("{} problem(s)", findings.len());
    Ok(EXIT_INCOMPLETE)
}

pub fn status(a: &StatusArgs) -> anyhow::Result<u8> {
    if !a.journal.exists() {
        bail!("no journal at {}: nothing has been applied yet (or pass --journal)", a.journal.display());
    }
    let j = Journal::open(&a.journal)?;
    let plan = j.plan()?.ok_or_else(|| anyhow!("journal {} holds no migration yet", a.journal.display()))?;
    let rep = report(&plan, &j.records()?);
    match a.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rep)?),
        Format::Markdown => print!("{}", rep.markdown()),
        Format::Table => print!("{}", rep.table()),
    }
    Ok(if rep.all_done() { EXIT_OK } else { EXIT_INCOMPLETE })
}

pub async fn rollback_cmd(a: &RollbackArgs) -> anyhow::Result<u8> {
    if !a.journal.exists() {
        bail!("no journal at {}: nothing to roll back", a.journal.display());
    }
    let j = Journal::open(&a.journal)?;
    let c = connect(&a.target).await?;
    let o = rollback(c.pc.as_ref(), &j, &a.customer).await?;
    println!(
        "rolled back {}: {} subscription(s) reactivated, {} user(s) swapped back; {} purchase(s) left active (cancel them by hand if the customer will not move again)",
        o.customer_id, o.reactivated, o.users_swapped_back, o.purchases_left_active
    );
    if o.migrations_not_undone > 0 {
        println!(
            "  {} migration(s) to new commerce were not undone: new commerce has no way back to legacy",
            o.migrations_not_undone
        );
    }
    Ok(EXIT_OK)
}
