//! `skuswap`: the one command-line front door (today: `serve`; the migration commands land
//! with the engine).

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "skuswap",
    version,
    about = "Move Microsoft partners' customers off retired SKUs without a single user losing a license, and rehearse it offline first.",
    long_about = None
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
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("skuswap: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            addr,
            scenario,
            seed,
        } => {
            let world = skuswap_scenarios::serve::world_for(&scenario, seed)?;
            if !addr.ip().is_loopback() {
                eprintln!(
                    "skuswap: warning: {addr} is not a loopback address; the /admin API has no authentication"
                );
            }
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(skuswap_scenarios::serve::serve(
                addr,
                world,
                |s| {
                    println!("Partner Center mock listening on {}", s.url);
                    println!("  scenario: {}   virtual now: {}", s.scenario, s.now);
                    println!("  token:    {}", s.token);
                    println!();
                    println!("Try:");
                    println!(
                        "  curl -s -H 'Authorization: Bearer {}' {}/v1/customers",
                        s.token, s.url
                    );
                    println!("  curl -s {}/admin/invariants", s.url);
                    println!("Stop with Ctrl-C.");
                },
                async {
                    let _ = tokio::signal::ctrl_c().await;
                },
            ))?;
            Ok(())
        }
    }
}
