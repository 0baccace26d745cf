//! `skuswap rehearse` on the command line: pick the tenants (named, file or CSV), rehearse,
//! write the report, tell the story, exit with a code scripts can trust.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use chrono::{Timelike, Utc};
use mock_server::model::faults::FaultPlan;
use skuswap_migrator::mapping::{Mapping, Strategy};

use super::{EXIT_INCOMPLETE, EXIT_OK};
use crate::rehearsal::{Correct, Options, rehearse_owned, render, shards};

/// `skuswap rehearse`.
#[derive(clap::Args, Debug, Clone)]
pub struct RehearseArgs {
    /// A named scenario (`skuswap scenarios list`) or a scenario .json file.
    #[arg(default_value = "article")]
    pub scenario: String,
    /// Seed for the generated tenants and ids (default: the scenario's own).
    #[arg(long)]
    pub seed: Option<u64>,
    /// For generated scenarios: how many customers.
    #[arg(long)]
    pub customers: Option<usize>,
    /// Rehearse tenants shaped like your own book of business (CSV, names invented).
    #[arg(long, value_name = "FILE")]
    pub from_csv: Option<PathBuf>,
    /// Where to write the HTML report.
    #[arg(long, default_value = "skuswap-report.html")]
    pub report: PathBuf,
    /// Print a JSON summary instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Sign in through the mock's authority (refresh-token flow) with access tokens that last
    /// this many virtual seconds (30 to 86400), renewed as the migration runs.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(30..=86_400))]
    pub token_lifetime: Option<u32>,
    /// Requests per minute against Partner Center (its documented limit is 500).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: u32,
    /// Mapping file (TOML) replacing the built-in table.
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// One path for every mapping row: manual (buy, swap, suspend), nce-migration (Partner
    /// Center migrates each legacy subscription to new commerce), auto (nce-migration where the
    /// server says eligible, else manual), upgrade (the legacy upgrades API, licenses moved) or
    /// transition (NCE subscriptions to their first eligible target, licenses moved). The
    /// server-side ones also take every other subscription they could move.
    #[arg(long, value_name = "STRATEGY", value_parser = parse_strategy)]
    pub strategy: Option<Strategy>,
    /// Make the mock misbehave: a preset (limits, light, heavy, storm) or a fault-plan
    /// .json file (format in README, "Faults"). Rate limits, 5xx, lost answers, duplicate
    /// deliveries; the report shows what was met and the virtual time it cost.
    #[arg(long, value_name = "PRESET|FILE")]
    pub faults: Option<String>,
    /// Seed of a preset's draws (default: the rehearsal's seed).
    #[arg(long)]
    pub fault_seed: Option<u64>,
    /// Deal the customers into N worlds rehearsed side by side on their own threads, each
    /// with 1/N of the rate (1 to 64). Default: 2 for a book of 2,000 customers or more
    /// without faults, else 1. The report depends on N, never on the machine: same seed and
    /// N, same report. Not with --faults.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub shards: Option<u16>,
}

/// `--strategy`: the paths the engine carries out.
pub fn parse_strategy(s: &str) -> Result<Strategy, String> {
    match Strategy::parse(s) {
        Some(x) => Ok(x),
        None => Err(format!("unknown strategy {s:?}: use manual, nce-migration, auto, upgrade or transition")),
    }
}

/// A preset name or a fault-plan file.
pub fn fault_plan(spec: &str, seed: u64) -> anyhow::Result<FaultPlan> {
    if let Some(plan) = FaultPlan::preset(spec, seed) {
        return Ok(plan);
    }
    let path = Path::new(spec);
    if !path.is_file() && !spec.ends_with(".json") {
        return Err(anyhow!(
            "unknown fault preset {spec:?}: give one of {} or a fault-plan .json file",
            FaultPlan::presets().join(", ")
        ));
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read fault plan {spec}"))?;
    let plan: FaultPlan = serde_json::from_str(&text).with_context(|| format!("{spec}: not a fault plan"))?;
    plan.validate().map_err(|e| anyhow!("{spec}: {e}"))?;
    mock_server::http::operations::check_fault_operations(&plan).map_err(|e| anyhow!("{spec}: {e}"))?;
    Ok(plan)
}

/// Run `skuswap rehearse`.
pub async fn run(a: &RehearseArgs) -> anyhow::Result<u8> {
    let mapping = match &a.mapping {
        Some(f) => Mapping::from_file(f)?,
        None => Mapping::builtin(),
    };
    let mapping = match a.strategy {
        Some(s) => mapping.with_strategy(s),
        None => mapping,
    };
    let scenario = match &a.from_csv {
        Some(f) => {
            let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
            // A CSV book is rehearsed from today (midnight UTC): its end dates are real ones.
            let now = Utc::now();
            let today = now
                .with_hour(0)
                .and_then(|t| t.with_minute(0))
                .and_then(|t| t.with_second(0))
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or(now);
            let file = f.display().to_string();
            if crate::capture::bam::is_bam(&text) {
                let (rows, left) = crate::capture::bam::to_import_csv(&text, &file, today)?;
                eprintln!(
                    "{file}: the bulk migration tool's subscriptions.csv; every seat taken as assigned; left out: {} row(s) of offers not retired, {} of unknown products",
                    left.not_retired,
                    left.unknown_product.len()
                );
                crate::csv_import::from_csv(&rows, &file, a.seed.unwrap_or(0), today)?
            } else {
                crate::csv_import::from_csv(&text, &file, a.seed.unwrap_or(0), today)?
            }
        }
        None => crate::named::resolve(&a.scenario, a.seed, a.customers).map_err(|e| anyhow!(e))?,
    };
    let faults = match &a.faults {
        Some(spec) => Some(fault_plan(spec, a.fault_seed.or(a.seed).or(scenario.seed).unwrap_or(0))?),
        None => scenario.faults.clone(),
    };
    let mut opts = Options {
        rate: a.rate,
        mapping,
        seed: a.seed,
        faults,
        meanwhile: None,
        reapply: false,
        token_lifetime: a.token_lifetime,
        shards: 1,
    };
    opts.shards = a.shards.map_or_else(|| shards::suggested(&scenario, &opts, &Correct), usize::from);
    if !a.json {
        let shards = opts.shards;
        let worlds = if shards > 1 { format!(", in {shards} worlds side by side") } else { String::new() };
        eprintln!("rehearsing {} ({} customers{worlds})…", scenario.name, scenario.customers.len());
    }
    let r = rehearse_owned(scenario, &opts).await?;
    std::fs::write(&a.report, render::html::render(&r))
        .with_context(|| format!("cannot write the report to {}", a.report.display()))?;
    if a.json {
        println!("{}", render::json::render(&r, &a.report)?);
    } else {
        print!("{}", r.summary(Some(&a.report)));
    }
    let code = if r.passed() { EXIT_OK } else { EXIT_INCOMPLETE };
    // The process ends here, and the OS takes its memory back at once: handing a large
    // report's every plan step back to the allocator first took 0.13 s of the main thread at
    // 10,000 customers (README, "Benchmark").
    std::mem::forget(r);
    Ok(code)
}
