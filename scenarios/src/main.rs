//! `skuswap`: the one command-line front door: `serve` the mock, and `plan`, `apply`,
//! `verify`, `status`, `rollback` a migration against it or against Partner Center.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use skuswap_scenarios::migrate::{self, ApplyArgs, EXIT_ERROR, Planning, Target};

// glibc's malloc slows down as a rehearsal's heap grows past a few GiB (100,000 customers:
// 14 GiB, a sixth of the time in `_int_malloc`); mimalloc keeps the cost per request flat.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "skuswap",
    version,
    about = "Move Microsoft partners' customers off retired SKUs without a single user losing a license, and rehearse it offline first.",
    after_help = "Exit codes: 0 done; 1 migration incomplete or verify found problems; 2 bad input, unreachable server or refused token (nothing changed); 130 stopped by Ctrl-C (run again to resume)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a mock Partner Center (REST API v1 plus an /admin API) on loopback.
    ///
    /// Prints its URL and a ready app+user bearer token. The mock starts with the `article`
    /// scenario (the source article's customers) unless told otherwise. Same scenario and
    /// seed, same ids and same responses.
    Serve {
        /// Address to listen on. The admin API has no authentication: keep it on loopback.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// A built-in scenario name (article) or a path to a scenario .json file.
        #[arg(long, default_value = "article")]
        scenario: String,
        /// Seed for generated ids (default: the scenario's own seed).
        #[arg(long)]
        seed: Option<u64>,
        /// For a generated scenario: how many customers.
        #[arg(long)]
        customers: Option<usize>,
    },
    /// Discover customers with retired subscriptions and plan their migration; nothing changes.
    ///
    /// Prints what will be bought, how many users move, what will be suspended, what each
    /// customer must do, and who is at risk of missing their end date; writes the plan file.
    Plan {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        planning: Planning,
        /// Where to write the plan (JSON, stable order, diffable).
        #[arg(long, default_value = "skuswap-plan.json")]
        out: PathBuf,
        /// Print the plan as JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Carry a migration out: buy, swap every user in one call each, suspend the old subscription.
    ///
    /// Without --plan it plans and applies in one go. With --plan it refuses, naming the
    /// difference, if the server no longer matches the plan. Every step is journaled; stop it
    /// at any moment (Ctrl-C, crash, lost network) and run the same command to resume without
    /// buying anything twice.
    Apply {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        planning: Planning,
        /// A plan written by `skuswap plan`.
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
        /// The journal (SQLite) that makes the run resumable.
        #[arg(long, default_value = "skuswap-journal.db")]
        journal: PathBuf,
        /// Customers migrated at once (steps within a customer always run in order).
        #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
        concurrency: u16,
        /// Show what would be done, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Re-read the server and prove the end state of a plan.
    Verify {
        #[command(flatten)]
        target: Target,
        /// The plan to verify (default: the journal's).
        #[arg(long, value_name = "FILE")]
        plan: Option<PathBuf>,
        #[arg(long, default_value = "skuswap-journal.db")]
        journal: PathBuf,
    },
    /// Report a migration's progress from its journal (no network).
    Status {
        #[arg(long, default_value = "skuswap-journal.db")]
        journal: PathBuf,
        /// table, json or markdown.
        #[arg(long, default_value = "table", value_parser = ["table", "json", "markdown"])]
        format: String,
    },
    /// Rehearse a whole migration on an in-process mock, on virtual time, and write a report.
    ///
    /// Fills the mock with the scenario's tenants, runs discover, plan and apply (the virtual
    /// clock moves with the requests at --rate), runs the clock past every end date and the
    /// de-provisioning window, and judges the mock's audit log. Writes a self-contained HTML
    /// report. Exit 0 when every invariant held (losses on customers the plan flagged at risk,
    /// or that never accepted the invitation, are expected and reported), 1 otherwise.
    Rehearse {
        /// A named scenario (`skuswap scenarios list`) or a scenario .json file.
        #[arg(default_value = "article")]
        scenario: String,
        /// Seed for the generated tenants and ids (default: the scenario's own).
        #[arg(long)]
        seed: Option<u64>,
        /// For generated scenarios: how many customers.
        #[arg(long)]
        customers: Option<usize>,
        /// Rehearse tenants shaped like your own book of business (CSV, names invented).
        #[arg(long, value_name = "FILE")]
        from_csv: Option<PathBuf>,
        /// Where to write the HTML report.
        #[arg(long, default_value = "skuswap-report.html")]
        report: PathBuf,
        /// Print a JSON summary instead of the table.
        #[arg(long)]
        json: bool,
        /// Requests per minute against Partner Center (its documented limit is 500).
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
        rate: u32,
        /// Mapping file (TOML) replacing the built-in table.
        #[arg(long, value_name = "FILE")]
        mapping: Option<PathBuf>,
        /// Make the mock misbehave: a preset (limits, light, heavy, storm) or a fault-plan
        /// .json file (format in README, "Faults"). Rate limits, 5xx, lost answers, duplicate
        /// deliveries; the report shows what was met and the virtual time it cost.
        #[arg(long, value_name = "PRESET|FILE")]
        faults: Option<String>,
        /// Seed of a preset's draws (default: the rehearsal's seed).
        #[arg(long)]
        fault_seed: Option<u64>,
    },
    /// List the named scenarios, one line each (`skuswap scenarios list`; `list` is optional).
    Scenarios {
        #[arg(value_parser = ["list"], hide_possible_values = false)]
        action: Option<String>,
        /// Print each whole description instead of its first sentence.
        #[arg(long)]
        long: bool,
    },
    /// Undo one customer's migration inside the de-provisioning window.
    ///
    /// Reactivates the old subscriptions and swaps every moved user back in one call each.
    /// Refused, with nothing changed, once an old subscription has been de-provisioned.
    Rollback {
        #[command(flatten)]
        target: Target,
        #[arg(long, default_value = "skuswap-journal.db")]
        journal: PathBuf,
        /// The customer's tenant id.
        #[arg(long)]
        customer: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("skuswap: error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    match cli.command {
        Command::Serve { addr, scenario, seed, customers } => {
            let world = skuswap_scenarios::serve::world_with(&scenario, seed, customers)?;
            if !addr.ip().is_loopback() {
                eprintln!("skuswap: warning: {addr} is not a loopback address; the /admin API has no authentication");
            }
            runtime.block_on(skuswap_scenarios::serve::serve(
                addr,
                world,
                |s| {
                    println!("Partner Center mock listening on {}", s.url);
                    println!("  scenario: {}   virtual now: {}", s.scenario, s.now);
                    println!("  token:    {}", s.token);
                    println!();
                    println!("Try:");
                    println!("  curl -s -H 'Authorization: Bearer {}' {}/v1/customers", s.token, s.url);
                    println!("  curl -s {}/admin/invariants", s.url);
                    println!("Stop with Ctrl-C.");
                },
                async {
                    let _ = tokio::signal::ctrl_c().await;
                },
            ))?;
            Ok(0)
        }
        Command::Plan { target, planning, out, json } => {
            runtime.block_on(migrate::cmd_plan(&target, &planning, &out, json))
        }
        Command::Apply { target, planning, plan, journal, concurrency, dry_run } => {
            runtime.block_on(migrate::cmd_apply(
                &target,
                &planning,
                ApplyArgs {
                    plan_file: plan.as_deref(),
                    journal: &journal,
                    concurrency: usize::from(concurrency),
                    dry_run,
                },
            ))
        }
        Command::Verify { target, plan, journal } => {
            runtime.block_on(migrate::cmd_verify(&target, plan.as_deref(), &journal))
        }
        Command::Status { journal, format } => migrate::cmd_status(&journal, &format),
        Command::Rehearse { scenario, seed, customers, from_csv, report, json, rate, mapping, faults, fault_seed } => {
            let args = skuswap_scenarios::cli::RehearseArgs {
                scenario: &scenario,
                seed,
                customers,
                from_csv: from_csv.as_deref(),
                report: &report,
                json,
                rate,
                mapping: mapping.as_deref(),
                faults: faults.as_deref(),
                fault_seed,
            };
            // The mock runs inside the client's own calls (no sockets): one thread does the
            // work without handing the world's lock back and forth between workers.
            let local = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            drop(runtime);
            local.block_on(skuswap_scenarios::cli::rehearse(args))
        }
        Command::Scenarios { action: _, long } => {
            for (name, description) in skuswap_scenarios::named::list() {
                let line = if long {
                    description.as_str()
                } else {
                    description
                        .split_once(": ")
                        .or_else(|| description.split_once(". "))
                        .map_or(description.as_str(), |(first, _)| first)
                };
                println!("{name:<16} {line}");
            }
            Ok(0)
        }
        Command::Rollback { target, journal, customer } => {
            runtime.block_on(migrate::cmd_rollback(&target, &journal, &customer))
        }
    }
}
