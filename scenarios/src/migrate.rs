//! The migration commands (`plan`, `apply`, `verify`, `status`, `rollback`): argument
//! handling, progress and exit codes around the engine library.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use skuswap_migrator::apply::{ApplyOptions, CustomerOutcome, Progress, apply};
use skuswap_migrator::client::{Http, InProcess, PartnerCenter, RestClient, RetryPolicy};
use skuswap_migrator::discover::discover;
use skuswap_migrator::journal::Journal;
use skuswap_migrator::mapping::Mapping;
use skuswap_migrator::plan::{Plan, Policy, Step, plan};
use skuswap_migrator::report::report;
use skuswap_migrator::rollback::rollback;
use skuswap_migrator::verify::verify;

use crate::client::AnyClient;

/// Exit codes scripts can trust.
pub const EXIT_OK: u8 = 0;
/// The migration is incomplete, or verify found problems.
pub const EXIT_INCOMPLETE: u8 = 1;
/// Bad input, unreachable server, refused token: nothing was changed by this command.
pub const EXIT_ERROR: u8 = 2;
/// Stopped by Ctrl-C; run `skuswap apply` again to resume.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Where Partner Center is.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// Partner Center base URL: `skuswap serve`'s, or https://api.partnercenter.microsoft.com.
    #[arg(long, env = "PARTNER_CENTER_URL", default_value = "http://127.0.0.1:8080")]
    pub base_url: String,
    /// A file holding the bearer token (otherwise PARTNER_CENTER_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Use an embedded in-process mock loaded with this scenario (name or .json file) instead
    /// of --base-url. Its state lives only as long as this command.
    #[arg(long, value_name = "SCENARIO")]
    pub mock: Option<String>,
    /// Seed for retry jitter (and for the embedded mock's ids).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// For a generated --mock scenario: how many customers.
    #[arg(long, requires = "mock")]
    pub customers: Option<usize>,
}

/// How to plan.
#[derive(clap::Args, Debug, Clone)]
pub struct Planning {
    /// Mapping file (TOML) replacing the built-in retired -> successor table.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Requests per minute the deadline estimate assumes (Partner Center documents 500).
    #[arg(long, default_value_t = 500)]
    pub rate: u32,
    /// The moment to plan from (RFC 3339). Default: the mock's virtual clock on a loopback or
    /// embedded mock, else now.
    #[arg(long)]
    pub now: Option<DateTime<Utc>>,
}

pub struct Connected {
    pub pc: Arc<AnyClient>,
    /// The mock's virtual time, when the target is a mock.
    pub mock_now: Option<DateTime<Utc>>,
}

pub async fn connect(t: &Target) -> anyhow::Result<Connected> {
    let policy = RetryPolicy { seed: t.seed, ..RetryPolicy::default() };
    if let Some(spec) = &t.mock {
        let mut world = crate::serve::world_with(spec, Some(t.seed).filter(|s| *s != 0), t.customers)?;
        let token = world.issue_token(None, mock_server::model::TokenMode::AppUser).map_err(|e| anyhow!("{e}"))?;
        let now = world.now();
        let app = mock_server::app(mock_server::Mock::new(world));
        let pc = RestClient::new(InProcess::new(app), token, policy);
        return Ok(Connected { pc: Arc::new(AnyClient::InProcess(pc)), mock_now: Some(now) });
    }
    let token = match &t.token_file {
        Some(f) => std::fs::read_to_string(f)
            .with_context(|| format!("cannot read the token file {}", f.display()))?
            .trim()
            .to_string(),
        None => std::env::var("PARTNER_CENTER_TOKEN").unwrap_or_default().trim().to_string(),
    };
    if token.is_empty() {
        bail!(
            "no token: pass --token-file FILE or set PARTNER_CENTER_TOKEN (`skuswap serve` prints one), or use --mock SCENARIO"
        );
    }
    let http = Http::new(&t.base_url).map_err(|e| anyhow!("{e}"))?;
    let mock_now = mock_clock(&t.base_url).await;
    Ok(Connected { pc: Arc::new(AnyClient::Http(RestClient::new(http, token, policy))), mock_now })
}

/// A loopback target may be `skuswap serve`: ask its virtual clock (never the real service).
async fn mock_clock(base_url: &str) -> Option<DateTime<Utc>> {
    let loopback = ["http://127.", "http://localhost", "http://[::1]"].iter().any(|p| base_url.starts_with(p));
    if !loopback {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Clock {
        now: DateTime<Utc>,
    }
    let url = format!("{}/admin/clock", base_url.trim_end_matches('/'));
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(2)).build().ok()?;
    let resp = client.get(url).send().await.ok()?;
    resp.json::<Clock>().await.ok().map(|c| c.now)
}

fn load_mapping(p: &Planning) -> anyhow::Result<Mapping> {
    match &p.mapping {
        Some(f) => Ok(Mapping::from_file(f)?),
        None => Ok(Mapping::builtin()),
    }
}

fn planning_now(p: &Planning, c: &Connected) -> DateTime<Utc> {
    p.now.or(c.mock_now).unwrap_or_else(Utc::now)
}

async fn discover_and_plan(c: &Connected, p: &Planning) -> anyhow::Result<Plan> {
    let mapping = load_mapping(p)?;
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| bar(0, "discovering"));
    let snapshot = discover(c.pc.as_ref(), &mapping, |done, total| {
        if let Some(b) = &bar {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }
    })
    .await?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let policy = Policy { now: planning_now(p, c), requests_per_minute: p.rate };
    Ok(plan(&snapshot, &mapping, &policy)?)
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let b = ProgressBar::new(len);
    let style = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    b.set_style(style);
    b.set_prefix(what.to_string());
    b
}

pub async fn cmd_plan(t: &Target, p: &Planning, out: &Path, json: bool) -> anyhow::Result<u8> {
    let c = connect(t).await?;
    let plan = discover_and_plan(&c, p).await?;
    let text = serde_json::to_string_pretty(&plan)?;
    std::fs::write(out, format!("{text}\n")).with_context(|| format!("cannot write the plan to {}", out.display()))?;
    if json {
        println!("{text}");
    } else {
        print!("{}", plan.table());
        eprintln!("plan written to {} ({} requests made)", out.display(), c.pc.requests_sent());
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

struct Bars {
    bar: Option<ProgressBar>,
}

impl Progress for Bars {
    fn step(&self, _customer: &str, step: &Step) {
        if let Some(b) = &self.bar {
            b.inc(1);
            b.set_message(step.kind());
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

pub struct ApplyArgs<'a> {
    pub plan_file: Option<&'a Path>,
    pub journal: &'a Path,
    pub concurrency: usize,
    pub dry_run: bool,
}

pub async fn cmd_apply(t: &Target, p: &Planning, a: ApplyArgs<'_>) -> anyhow::Result<u8> {
    let c = connect(t).await?;
    let saved = match a.plan_file {
        Some(f) => {
            let text =
                std::fs::read_to_string(f).with_context(|| format!("cannot read the plan file {}", f.display()))?;
            Some(
                serde_json::from_str::<Plan>(&text)
                    .with_context(|| format!("{} is not a skuswap plan", f.display()))?,
            )
        }
        None => None,
    };
    let journal = Journal::open(a.journal)?;
    let plan = match (journal.plan()?, saved) {
        (Some(j), Some(s)) if j.id != s.id => bail!(
            "journal {} belongs to another migration (plan {}, the plan file is {}): finish it, or pass --journal with a new file",
            a.journal.display(),
            j.id,
            s.id
        ),
        (Some(j), _) => {
            eprintln!("resuming plan {} from journal {}", j.id, a.journal.display());
            j
        }
        (None, Some(s)) => {
            let fresh = discover_and_plan(&c, &Planning { now: Some(s.planned_at), ..p.clone() }).await?;
            if let Some(diff) = first_difference(&s, &fresh) {
                bail!(
                    "the plan file {} no longer matches the server: {diff}. Nothing was changed; run `skuswap plan` again",
                    a.plan_file.map(|f| f.display().to_string()).unwrap_or_default()
                );
            }
            s
        }
        (None, None) => discover_and_plan(&c, p).await?,
    };
    if a.dry_run {
        print!("{}", plan.table());
        println!("dry run: nothing was changed");
        return Ok(EXIT_OK);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping after the steps in flight; run the same command again to resume");
            on_signal.store(true, Ordering::SeqCst);
        }
    });
    let total: usize = plan.customers.iter().map(|c| c.steps.len()).sum();
    let tty = std::io::stdout().is_terminal();
    let progress = Arc::new(Bars { bar: tty.then(|| bar(total as u64, "applying")) });
    let options = ApplyOptions { concurrency: a.concurrency, stop };
    let plan = Arc::new(plan);
    let journal = Arc::new(journal);
    let outcome = apply(c.pc.clone(), plan.clone(), journal.clone(), &options, progress.clone()).await?;
    if let Some(b) = &progress.bar {
        b.finish_and_clear();
    }
    let rep = report(&plan, &journal.records()?);
    print!("{}", rep.table());
    eprintln!("{} requests made; journal {}", c.pc.requests_sent(), a.journal.display());
    Ok(if outcome.stopped {
        EXIT_INTERRUPTED
    } else if outcome.complete() {
        EXIT_OK
    } else {
        EXIT_INCOMPLETE
    })
}

fn plan_from(plan_file: Option<&Path>, journal: &Path) -> anyhow::Result<Plan> {
    if let Some(f) = plan_file {
        let text = std::fs::read_to_string(f).with_context(|| format!("cannot read the plan file {}", f.display()))?;
        return serde_json::from_str(&text).with_context(|| format!("{} is not a skuswap plan", f.display()));
    }
    if !journal.exists() {
        bail!("no plan: pass --plan FILE, or --journal of a migration (no {} here)", journal.display());
    }
    Journal::open(journal)?.plan()?.ok_or_else(|| anyhow!("journal {} holds no migration yet", journal.display()))
}

pub async fn cmd_verify(t: &Target, plan_file: Option<&Path>, journal: &Path) -> anyhow::Result<u8> {
    let plan = plan_from(plan_file, journal)?;
    let c = connect(t).await?;
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

pub fn cmd_status(journal: &Path, format: &str) -> anyhow::Result<u8> {
    if !journal.exists() {
        bail!("no journal at {}: nothing has been applied yet (or pass --journal)", journal.display());
    }
    let j = Journal::open(journal)?;
    let plan = j.plan()?.ok_or_else(|| anyhow!("journal {} holds no migration yet", journal.display()))?;
    let rep = report(&plan, &j.records()?);
    match format {
        "json" => println!("{}", serde_json::to_string_pretty(&rep)?),
        "markdown" => print!("{}", rep.markdown()),
        _ => print!("{}", rep.table()),
    }
    Ok(if rep.all_done() { EXIT_OK } else { EXIT_INCOMPLETE })
}

pub async fn cmd_rollback(t: &Target, journal: &Path, customer: &str) -> anyhow::Result<u8> {
    if !journal.exists() {
        bail!("no journal at {}: nothing to roll back", journal.display());
    }
    let j = Journal::open(journal)?;
    let c = connect(t).await?;
    let o = rollback(c.pc.as_ref(), &j, customer).await?;
    println!(
        "rolled back {}: {} subscription(s) reactivated, {} user(s) swapped back; {} purchase(s) left active (cancel them by hand if the customer will not move again)",
        o.customer_id, o.reactivated, o.users_swapped_back, o.purchases_left_active
    );
    Ok(EXIT_OK)
}
