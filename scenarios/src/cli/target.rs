//! Where Partner Center is and how to plan against it: the flags every migration command
//! shares, and the connection they make (HTTP or HTTPS to `--base-url`, signed in as
//! `signin` says, or an embedded `--mock`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use chrono::{DateTime, Utc};
use skuswap_migrator::client::{Credentials, Http, InProcess, Outgoing, RestClient, RetryPolicy, Transport};
use skuswap_migrator::mapping::Mapping;

use super::client::AnyClient;
use super::signin::SignIn;

/// Where Partner Center is.
#[derive(clap::Args, Debug, Clone)]
pub struct Target {
    /// Partner Center base URL: `skuswap serve`'s, or https://api.partnercenter.microsoft.com.
    #[arg(long, env = "PARTNER_CENTER_URL", default_value = "http://127.0.0.1:8080")]
    pub base_url: String,
    #[command(flatten)]
    pub sign: SignIn,
    /// Also trust the CA certificates in this PEM file (a private CA, or the one
    /// `skuswap serve --tls` writes), for Partner Center and the authority.
    #[arg(long, value_name = "FILE", env = "PARTNER_CENTER_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
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
    /// One path for every mapping row: manual, nce-migration, auto, upgrade or transition (see
    /// `skuswap rehearse --help`); default: each row's own (the built-in table is manual).
    #[arg(long, value_name = "STRATEGY", value_parser = super::rehearse::parse_strategy)]
    pub strategy: Option<skuswap_migrator::mapping::Strategy>,
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
        let mapping = match &self.mapping {
            Some(f) => Mapping::from_file(f)?,
            None => Mapping::builtin(),
        };
        Ok(match self.strategy {
            Some(s) => mapping.with_strategy(s),
            None => mapping,
        })
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
    Ok(match reach(t).await? {
        Reached::Mock { app, token, now } => {
            let pc = RestClient::new(InProcess::new(app), token, policy);
            Connected { pc: Arc::new(AnyClient::InProcess(pc)), mock_now: Some(now) }
        }
        Reached::Http { http, credentials, mock_now } => {
            let pc = RestClient::with_credentials(http, credentials, policy);
            Connected { pc: Arc::new(AnyClient::Http(pc)), mock_now }
        }
    })
}

/// What a client is built from: an embedded mock's router and token, or a transport to
/// `--base-url` and the credentials to sign in with.
pub enum Reached {
    Mock { app: axum::Router, token: String, now: DateTime<Utc> },
    Http { http: Http, credentials: Arc<dyn Credentials>, mock_now: Option<DateTime<Utc>> },
}

/// Build what `t` names, without a client around it (`capture` wraps the transport first).
pub async fn reach(t: &Target) -> anyhow::Result<Reached> {
    if let Some(spec) = &t.mock {
        let mut world = super::serve::world_with(spec, Some(t.seed).filter(|s| *s != 0), t.customers)?;
        let token = mock_server::mint_token(&mut world, None, mock_server::model::TokenMode::AppUser, None)
            .map_err(|e| anyhow!("{e}"))?;
        let now = world.now();
        return Ok(Reached::Mock { app: mock_server::app(crate::named::mock(world)), token, now });
    }
    let ca = match &t.ca_cert {
        Some(f) => Some(std::fs::read(f).with_context(|| format!("cannot read the CA certificate {}", f.display()))?),
        None => None,
    };
    let credentials = t.sign.credentials(ca.as_deref())?;
    let http = Http::trusting(&t.base_url, ca.as_deref()).map_err(|e| anyhow!("--base-url: {e}"))?;
    let mock_now = mock_clock(&t.base_url, &http).await;
    Ok(Reached::Http { http, credentials, mock_now })
}

/// Does `url` name a server on this machine (`localhost`, `127.x.x.x`, `[::1]`)?
pub fn on_this_machine(url: &str) -> bool {
    let url = reqwest::Url::parse(url).ok();
    let host = url.as_ref().and_then(|u| u.host_str()).unwrap_or_default();
    host == "localhost" || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A loopback target may be `skuswap serve`: ask its virtual clock (never the real service).
async fn mock_clock(base_url: &str, http: &Http) -> Option<DateTime<Utc>> {
    if !on_this_machine(base_url) {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Clock {
        now: DateTime<Utc>,
    }
    let ask = Outgoing {
        method: http::Method::GET,
        path: "/admin/clock".into(),
        headers: http::HeaderMap::new(),
        body: None,
    };
    let resp = tokio::time::timeout(std::time::Duration::from_secs(2), http.send(ask)).await.ok()?.ok()?;
    serde_json::from_slice::<Clock>(&resp.body).ok().map(|c| c.now)
}
