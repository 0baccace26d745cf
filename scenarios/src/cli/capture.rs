//! `skuswap capture`: a read-only capture of a partner's own book (GETs only, at `--rate`,
//! resumable), written as a scenario document or as the bulk migration tool's CSV; see
//! `crate::capture` for what is read and how it is pseudonymised.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, SubsecRound, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use skuswap_migrator::client::{InProcess, Incoming, Outgoing, RestClient, RetryPolicy, Transport, TransportError};

use super::target::{Reached, Target, reach};
use super::{EXIT_INCOMPLETE, EXIT_OK};
use crate::capture::{self, CapturedCustomer, Pseudonyms, Reader, Rename, bam};

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// A scenario document (`rehearse FILE`, `serve --scenario FILE`, `POST /admin/scenario`).
    Scenario,
    /// Microsoft's bulk migration tool's `subscriptions.csv`.
    BamCsv,
}

/// `skuswap capture`'s arguments.
#[derive(clap::Args, Debug)]
pub struct CaptureArgs {
    #[command(flatten)]
    pub target: Target,
    /// Where to write the capture.
    #[arg(long, default_value = "book.json")]
    pub out: PathBuf,
    /// What to write.
    #[arg(long, value_enum, default_value = "scenario")]
    pub format: CaptureFormat,
    /// Replace company names, domains, user names, principal names and every tenant, user and
    /// subscription id with stable pseudonyms (HMAC-SHA256 under --key-file's key).
    #[arg(long)]
    pub pseudonymise: bool,
    /// The pseudonymisation key; made (random, readable by you only) when absent. The same key
    /// gives the same pseudonyms. Keep it: it never leaves this machine.
    #[arg(long, value_name = "FILE", default_value = "skuswap-capture.key")]
    pub key_file: PathBuf,
    /// Requests per minute at most (Partner Center documents 500).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: u32,
    /// Continue an interrupted capture of the same source into the same --out.
    #[arg(long)]
    pub resume: bool,
    /// The scenario's name.
    #[arg(long, default_value = "capture")]
    pub name: String,
}

/// A transport that sends only GETs, no faster than its rate.
pub struct Paced<T> {
    inner: T,
    interval: Duration,
    next: tokio::sync::Mutex<tokio::time::Instant>,
}

impl<T> Paced<T> {
    pub fn new(inner: T, per_minute: u32) -> Self {
        let interval = Duration::from_secs(60) / per_minute.max(1);
        Paced { inner, interval, next: tokio::sync::Mutex::new(tokio::time::Instant::now()) }
    }
}

impl<T: Transport> Transport for Paced<T> {
    async fn send(&self, req: Outgoing) -> Result<Incoming, TransportError> {
        if req.method != http::Method::GET {
            return Err(TransportError::Rejected(format!("capture sends only GETs, not {} {}", req.method, req.path)));
        }
        {
            // One request per interval on average; no sleep when the slot has already come
            // (a timer cannot wait less than a millisecond).
            let mut next = self.next.lock().await;
            let now = tokio::time::Instant::now();
            if *next > now {
                tokio::time::sleep_until(*next).await;
            }
            *next = (*next).max(now) + self.interval;
        }
        self.inner.send(req).await
    }
}

/// The first line of the resume file: what the capture is of.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Header {
    source: String,
    start: DateTime<Utc>,
    key: Option<String>,
}

/// Run `skuswap capture`.
pub async fn run(a: &CaptureArgs) -> anyhow::Result<u8> {
    let pseudonyms = match a.pseudonymise {
        true => {
            let (p, made) = Pseudonyms::from_key_file(&a.key_file)?;
            if made {
                eprintln!(
                    "skuswap: made a new key in {} (keep it to get the same pseudonyms again)",
                    a.key_file.display()
                );
            }
            Some(p)
        }
        false => None,
    };
    let policy = RetryPolicy { seed: a.target.seed, ..RetryPolicy::default() };
    match reach(&a.target).await? {
        Reached::Mock { app, token, now } => {
            let pc = RestClient::new(Paced::new(InProcess::new(app), a.rate), token, policy);
            let source = format!("an embedded mock of {}", a.target.mock.as_deref().unwrap_or_default());
            capture_with(&pc, a, pseudonyms.as_ref(), &source, now).await
        }
        Reached::Http { http, credentials, mock_now } => {
            let pc = RestClient::with_credentials(Paced::new(http, a.rate), credentials, policy);
            let now = mock_now.unwrap_or_else(|| Utc::now().trunc_subsecs(0));
            capture_with(&pc, a, pseudonyms.as_ref(), &a.target.base_url, now).await
        }
    }
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_os_string();
    name.push(".partial");
    PathBuf::from(name)
}

/// Customers already captured by an interrupted run (and the start instant it used).
fn resumed(path: &Path, header: &Header) -> anyhow::Result<(DateTime<Utc>, Vec<CapturedCustomer>)> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("--resume: no interrupted capture at {} (run without --resume)", path.display()))?;
    let mut lines = std::io::BufReader::new(file).lines();
    let first = lines.next().transpose()?.ok_or_else(|| anyhow!("{}: empty", path.display()))?;
    let found: Header = serde_json::from_str(&first).with_context(|| format!("{}: not a capture", path.display()))?;
    if found.source != header.source || found.key != header.key {
        bail!(
            "--resume: {} is a capture of {} with {} key; this one is of {}",
            path.display(),
            found.source,
            if found.key == header.key { "the same" } else { "another" },
            header.source
        );
    }
    let mut done = Vec::new();
    for line in lines {
        let line = line?;
        // A line cut off by the interruption is read again.
        if let Ok(c) = serde_json::from_str::<CapturedCustomer>(&line) {
            done.push(c);
        }
    }
    Ok((found.start, done))
}

/// The command's watch: a progress bar, and each customer appended to the resume file.
struct Journal {
    file: std::fs::File,
    bar: ProgressBar,
    resumed: u64,
}

impl capture::Watch for Journal {
    fn listed(&mut self, customers: usize) {
        self.bar.set_length(customers as u64);
        self.bar.set_position(self.resumed);
    }

    fn captured(&mut self, customer: &CapturedCustomer) -> std::io::Result<()> {
        writeln!(self.file, "{}", serde_json::to_string(customer)?)?;
        self.bar.inc(1);
        Ok(())
    }
}

async fn capture_with<R: Reader>(
    pc: &R,
    a: &CaptureArgs,
    pseudonyms: Option<&Pseudonyms>,
    source: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    let partial = partial_path(&a.out);
    let mut header = Header { source: source.to_string(), start: now, key: pseudonyms.map(Pseudonyms::fingerprint) };
    let mut done = Vec::new();
    if a.resume {
        (header.start, done) = resumed(&partial, &header)?;
        eprintln!("skuswap: resuming: {} customer(s) already captured", done.len());
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(a.resume)
        .truncate(!a.resume)
        .open(&partial)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    if !a.resume {
        writeln!(file, "{}", serde_json::to_string(&header)?)?;
    }
    let mut journal = Journal { file, bar: progress(0), resumed: done.len() as u64 };
    let book = capture::book(pc, header.start, &Rename(pseudonyms), done, &mut journal).await?;
    journal.bar.finish_and_clear();
    let summary = Summary::of(&book.customers);
    let description = format!(
        "Captured from {source} at {}: {} customers{}",
        header.start.to_rfc3339(),
        book.customers.len(),
        if pseudonyms.is_some() { ", pseudonymised" } else { "" }
    );
    let scenario = book.scenario(&a.name, description);
    let text = match a.format {
        CaptureFormat::Scenario => serde_json::to_string_pretty(&scenario)?,
        CaptureFormat::BamCsv => bam::to_bam_csv(&scenario)?,
    };
    std::fs::write(&a.out, text).with_context(|| format!("cannot write {}", a.out.display()))?;
    let _ = std::fs::remove_file(&partial);
    eprintln!("{}", summary.text(&a.out, scenario.offers.len(), started.elapsed()));
    Ok(if summary.unreadable.is_empty() { EXIT_OK } else { EXIT_INCOMPLETE })
}

fn progress(len: u64) -> ProgressBar {
    let b = ProgressBar::new(len);
    let style = ProgressStyle::with_template("capture [{bar:30}] {pos}/{len} customers {per_sec} eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    b.set_style(style);
    b
}

/// What was read and what could not be.
struct Summary {
    customers: usize,
    subscriptions: usize,
    other_channel_seats: u32,
    users: usize,
    users_skipped: u32,
    licenses: usize,
    unreadable: Vec<String>,
}

impl Summary {
    fn of(done: &[CapturedCustomer]) -> Self {
        Summary {
            customers: done.len(),
            subscriptions: done.iter().map(|c| c.customer.subscriptions.len()).sum(),
            other_channel_seats: done.iter().map(|c| c.other_channel_seats).sum(),
            users: done.iter().map(|c| c.customer.users.len()).sum(),
            users_skipped: done.iter().map(|c| c.users_skipped).sum(),
            licenses: done.iter().flat_map(|c| &c.customer.users).map(|u| u.licenses.len()).sum(),
            unreadable: done.iter().flat_map(|c| c.unreadable.clone()).collect(),
        }
    }

    fn text(&self, out: &Path, extra_offers: usize, took: Duration) -> String {
        let mut t = format!(
            "captured {} customer(s), {} subscription(s) ({} seat(s) of other channels rebuilt), {} user(s) ({} not active, left out), {} license(s), {} catalog entr(ies) beyond the built-in catalog in {:.1} s; written to {}",
            self.customers,
            self.subscriptions,
            self.other_channel_seats,
            self.users,
            self.users_skipped,
            self.licenses,
            extra_offers,
            took.as_secs_f64(),
            out.display()
        );
        if !self.unreadable.is_empty() {
            t.push_str(&format!("\ncould not read ({}):", self.unreadable.len()));
            for u in self.unreadable.iter().take(20) {
                t.push_str(&format!("\n  {u}"));
            }
        }
        t
    }
}
