//! `skuswap`: the one command-line front door. This file only sets the allocator up, parses
//! the command line and hands each subcommand to its file under `src/cli/`.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use skuswap_scenarios::cli::{EXIT_ERROR, capture, migrate, rehearse, scenarios, serve};

// glibc's malloc slows down as a rehearsal's heap grows past a few GiB (100,000 customers:
// 14 GiB, a sixth of the time in `_int_malloc`); mimalloc keeps the cost per request flat.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (mimalloc.h, v3: after `deprecated_eager_commit_delay`,
/// 14, and before `use_numa_nodes`, 16; the Rust bindings leave it out).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// Its default in mimalloc v3's options.c, milliseconds: if the option read is not this, the
/// numbering has moved (or the environment set it) and nothing is set.
const PURGE_DELAY_DEFAULT: std::os::raw::c_long = 1_000;

/// mimalloc v3's `mi_option_generic_collect` (mimalloc.h: after `guarded_sample_seed`, 33),
/// and its default in options.c, allocations.
const GENERIC_COLLECT: libmimalloc_sys::mi_option_t = 34;
const GENERIC_COLLECT_DEFAULT: std::os::raw::c_long = 10_000;
/// The largest value mimalloc accepts (`mi_option_get_clamp` in page.c).
const GENERIC_COLLECT_REHEARSAL: std::os::raw::c_long = 1_000_000;

/// Tune the allocator for this run, before any other thread exists. Each setting is left
/// alone if its environment variable (under its name or its old one) was set by hand.
///
/// - Freed memory is kept instead of handed back to the OS a second after it empties. A
///   rehearsal frees and reuses memory in waves (a discovery's snapshot, then the run's
///   growth); on the 2-core VMs this runs on, faulting handed-back memory in again was the top
///   of a 10,000-customer rehearsal's profile (`clear_page_erms`), and keeping it cut the
///   system time and up to a second of the run for at most 79 MiB more at the peak.
/// - A rehearsal's thread heaps are collected every million slow-path allocations, not every
///   10,000: each collection walks every page that heap holds, and at 100,000 customers it
///   was the one symbol whose share of the apply phase grew with the book (0.5% of the samples
///   at 10,000 customers, 4.8% at 100,000; README, "Benchmark"). `serve`'s heap is small and
///   keeps the default.
///
/// Transparent huge pages are turned off for every command by [`run_on_small_pages`].
#[allow(unsafe_code)]
fn tune_allocator(rehearsal: bool) {
    let by_hand = |names: &[&str]| names.iter().any(|v| std::env::var_os(v).is_some());
    let keep_freed = !by_hand(&["MIMALLOC_PURGE_DELAY", "MIMALLOC_RESET_DELAY"]);
    let collect_less = rehearsal && !by_hand(&["MIMALLOC_GENERIC_COLLECT"]);
    use libmimalloc_sys::{mi_option_get, mi_option_set};
    // SAFETY: each call reads or writes one entry of mimalloc's static option table; this runs
    // in `main` before any other thread exists (`mi_option_set` is not thread-safe).
    unsafe {
        if keep_freed && mi_option_get(PURGE_DELAY) == PURGE_DELAY_DEFAULT {
            mi_option_set(PURGE_DELAY, -1);
        }
        if collect_less && mi_option_get(GENERIC_COLLECT) == GENERIC_COLLECT_DEFAULT {
            mi_option_set(GENERIC_COLLECT, GENERIC_COLLECT_REHEARSAL);
        }
    }
}

/// Run on 4 KiB pages: mimalloc v3 asks for transparent huge pages on its arenas, and on the
/// 2-core VMs this runs on a huge page's first touch costs more than it saves.
///
/// - `serve` answers every call with the world locked, and the call whose allocation first
///   touches a new huge page waits while the kernel zeroes all 2 MiB of it, every other call
///   waiting behind it: about 7 ms (an estimate: 8% of a `POST /orders` load's samples in
///   `clear_page_erms` under `do_huge_pmd_anonymous_page`). On 4 KiB pages the p99 of
///   `POST /orders` fell from 5.7-8.8 ms to 3.4-4.4 ms at the same throughput (four loads
///   each way, alternated; README, "Benchmark of `skuswap serve`").
/// - A rehearsal of 10,000 customers ran in 6.2 s on small pages against 6.9 s on huge ones
///   (medians of four runs each, alternated, each first in half the pairs), in 11.8-14.2
///   against 11.9-15.3 s of CPU (system time 0.8-1.0 s against 3.2-3.4 s in three runs of
///   four) and 965-1,051 against 1,084-1,116 MiB at the peak. At 100,000 customers the two
///   were even: the second run of a pair was the faster, whichever it was (README,
///   "Benchmark").
///
/// Left as it is if `MIMALLOC_ALLOW_THP` was set by hand.
#[allow(unsafe_code)]
fn run_on_small_pages() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return;
    }
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and changes only this process's flag
    // (its later page faults get 4 KiB pages); no memory is handed to the kernel.
    let refused = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } != 0;
    if refused {
        // An old kernel: huge pages stay, and only the tail suffers.
        tracing::debug!("transparent huge pages could not be turned off: {}", std::io::Error::last_os_error());
    }
}

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
    Serve(serve::ServeArgs),
    /// Discover customers with retired subscriptions and plan their migration; nothing changes.
    ///
    /// Prints what will be bought, how many users move, what will be suspended, what each
    /// customer must do, and who is at risk of missing their end date; writes the plan file.
    Plan(migrate::PlanArgs),
    /// Carry a migration out: buy, swap every user in one call each, suspend the old subscription.
    ///
    /// Without --plan it plans and applies in one go. With --plan it refuses, naming the
    /// difference, if the server no longer matches the plan. Every step is journaled; stop it
    /// at any moment (Ctrl-C, crash, lost network) and run the same command to resume without
    /// buying anything twice.
    Apply(migrate::ApplyArgs),
    /// Re-read the server and prove the end state of a plan.
    Verify(migrate::VerifyArgs),
    /// Report a migration's progress from its journal (no network).
    Status(migrate::StatusArgs),
    /// Rehearse a whole migration on an in-process mock, on virtual time, and write a report.
    ///
    /// Fills the mock with the scenario's tenants, runs discover, plan and apply (the virtual
    /// clock moves with the requests at --rate), runs the clock past every end date and the
    /// de-provisioning window, and judges the mock's audit log. Writes a self-contained HTML
    /// report. Exit 0 when every invariant held (losses on customers the plan flagged at risk,
    /// or that never accepted the invitation, are expected and reported), 1 otherwise.
    Rehearse(rehearse::RehearseArgs),
    /// List the named scenarios, one line each (`skuswap scenarios list`; `list` is optional).
    Scenarios(scenarios::ScenariosArgs),
    /// Capture a partner's own book, read-only, as a scenario to rehearse (or the bulk
    /// migration tool's CSV).
    ///
    /// Sends only GETs, at --rate requests a minute (500 by default), with a progress bar;
    /// --pseudonymise replaces names, domains and ids with stable pseudonyms under a key kept
    /// on this machine; --resume continues an interrupted capture. Ends with a summary of what
    /// was read and what could not be (exit 1 when something could not).
    Capture(capture::CaptureArgs),
    /// Undo one customer's migration inside the de-provisioning window.
    ///
    /// Reactivates the old subscriptions and swaps every moved user back in one call each.
    /// Refused, with nothing changed, once an old subscription has been de-provisioned.
    Rollback(migrate::RollbackArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tune_allocator(matches!(cli.command, Command::Rehearse(_)));
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
            // The certificate verifier logs what the error we print already says.
            "warn,rustls_platform_verifier=off".into()
        }))
        .with_writer(std::io::stderr)
        .init();
    run_on_small_pages();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("skuswap: error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    // A rehearsal's mock runs inside the client's own calls (no sockets): one thread does the
    // work without handing the world's lock back and forth between workers.
    let runtime = match &cli.command {
        Command::Rehearse(_) => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        _ => tokio::runtime::Runtime::new(),
    }
    .context("cannot start the async runtime")?;
    match cli.command {
        Command::Serve(a) => runtime.block_on(serve::run(&a)),
        Command::Plan(a) => runtime.block_on(migrate::plan(&a)),
        Command::Apply(a) => runtime.block_on(migrate::apply(&a)),
        Command::Verify(a) => runtime.block_on(migrate::verify_cmd(&a)),
        Command::Status(a) => migrate::status(&a),
        Command::Rehearse(a) => runtime.block_on(rehearse::run(&a)),
        Command::Scenarios(a) => Ok(scenarios::run(&a)),
        Command::Rollback(a) => runtime.block_on(migrate::rollback_cmd(&a)),
        Command::Capture(a) => runtime.block_on(capture::run(&a)),
    }
}
