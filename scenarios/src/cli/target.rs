//! Where Partner Center is and how to plan against it: the flags every migration command
//! shares, and the connection they make (HTTP to `--base-url`, or an embedded `--mock`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};
use skuswap_migrator::client::{Http, InProcess, RestClient, RetryPolicy};
use skuswap_migrator::mapping::Mapping;

use super::client::AnyClient;

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

impl Planning {
    pub fn mapping(&self) -> anyhow::Result<Mapping> {
        match &self.mapping {
            Some(f) => Ok(Mapping::from_file(f)?),
            None => Ok(Mapping::builtin()),
        }
    }
}

pub struct Connected {
    pub pc: Arc<AnyClient>,
    /// The mock's virtual time, when the target is a mock.
    pub mock_now: Option<DateTime<Utc>>,
}

impl Connected {
    /// The instant to plan from: `--now`, else the mock's virtual clock, else the wall clock.
    pub fn planning_now(&self, p: &Planning) -> DateTime<Utc> {
        p.now.or(self.mock_now).unwrap_or_else(Utc::now)
    }
}

pub async fn connect(t: &Target) -> anyhow::Result<Connected> {
    let policy = RetryPolicy { seed: t.seed, ..RetryPolicy::default() };
    if let Some(spec) = &t.mock {
        let mut world = super::serve::world_with(spec, Some(t.seed).filter(|s| *s != 0), t.customers)?;
        let token = world.issue_token(None, mock_server::model::TokenMode::AppUser).map_err(|e| anyhow!("{e}"))?;
        let now = world.now();
        let app = mock_server::app(crate::named::mock(world));
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
