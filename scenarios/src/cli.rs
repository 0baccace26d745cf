//! `skuswap rehearse` on the command line: pick the tenants (named, file or CSV), rehearse,
//! write the report, tell the story, exit with a code scripts can trust.

use std::path::Path;

use anyhow::{Context, anyhow};
use chrono::{Timelike, Utc};
use mock_server::model::faults::FaultPlan;
use serde_json::json;
use skuswap_migrator::mapping::Mapping;

use crate::migrate::{EXIT_INCOMPLETE, EXIT_OK};
use crate::rehearse::{Options, rehearse as run};

pub struct RehearseArgs<'a> {
    pub scenario: &'a str,
    pub seed: Option<u64>,
    pub customers: Option<usize>,
    pub from_csv: Option<&'a Path>,
    pub report: &'a Path,
    pub json: bool,
    pub rate: u32,
    pub mapping: Option<&'a Path>,
    pub faults: Option<&'a str>,
    pub fault_seed: Option<u64>,
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
    Ok(plan)
}

pub async fn rehearse(a: RehearseArgs<'_>) -> anyhow::Result<u8> {
    let mapping = match a.mapping {
        Some(f) => Mapping::from_file(f)?,
        None => Mapping::builtin(),
    };
    let scenario = match a.from_csv {
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
            crate::csv_import::from_csv(&text, &f.display().to_string(), a.seed.unwrap_or(0), today)?
        }
        None => crate::named::resolve(a.scenario, a.seed, a.customers).map_err(|e| anyhow!(e))?,
    };
    let faults = match a.faults {
        Some(spec) => Some(fault_plan(spec, a.fault_seed.or(a.seed).or(scenario.seed).unwrap_or(0))?),
        None => scenario.faults.clone(),
    };
    if !a.json {
        eprintln!("rehearsing {} ({} customers)…", scenario.name, scenario.customers.len());
    }
    let r = run(&scenario, &Options { rate: a.rate, mapping, seed: a.seed, faults, meanwhile: None, reapply: false })
        .await?;
    std::fs::write(a.report, crate::html::render(&r))
        .with_context(|| format!("cannot write the report to {}", a.report.display()))?;
    if a.json {
        let summary = json!({
            "scenario": r.scenario,
            "seed": r.seed,
            "customers": r.customers,
            "users": r.users,
            "requests": r.requests,
            "migrationMinutes": r.migration_minutes,
            "wallSeconds": r.wall_seconds,
            "atRisk": r.at_risk,
            "customerActions": r.actions.len(),
            "passed": r.passed(),
            "unexpected": r.unexpected.iter().take(20).collect::<Vec<_>>(),
            "expected": r.expected.len(),
            "incomplete": r.incomplete,
            "doublePurchases": r.double_purchases,
            "faults": r.faults,
            "report": a.report.display().to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", r.summary(Some(a.report)));
    }
    Ok(if r.passed() { EXIT_OK } else { EXIT_INCOMPLETE })
}
