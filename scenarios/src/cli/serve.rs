//! `skuswap serve`: load a scenario, mint a ready token, and serve the mock on a socket (HTTP,
//! or HTTPS with `--tls`) until Ctrl-C. Also builds the worlds an embedded `--mock` and a
//! rehearsal start from.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::persist::{self, Persist, PersistError};
use super::tls::{self, Tls, TlsError};

use mock_server::model::{TokenMode, World};
/// Errors a user can cause: each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Scenario(String),
    #[error("cannot listen on {0}: {1} (is another server running? try --addr 127.0.0.1:0)")]
    Bind(SocketAddr, std::io::Error),
    #[error("server error: {0}")]
    Io(std::io::Error),
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("{0}")]
    State(#[from] PersistError),
}

/// `skuswap serve`'s arguments.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on. `/admin` and the dashboard answer loopback Hosts only, unless
    /// --admin-token-file is set.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// A named scenario (`skuswap scenarios list`) or a path to a scenario .json file.
    #[arg(long, default_value = "article")]
    pub scenario: String,
    /// Seed for generated ids (default: the scenario's own seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// For a generated scenario: how many customers.
    #[arg(long)]
    pub customers: Option<usize>,
    /// Serve HTTPS with a certificate made at start, signed by a CA made at start whose
    /// certificate is written to --tls-dir (clients pass it as --ca-cert).
    #[arg(long)]
    pub tls: bool,
    /// Serve HTTPS with your own certificate chain (PEM; needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Where --tls writes the CA certificate (default: a new directory of this run's own in
    /// the system temp directory).
    #[arg(long, value_name = "DIR")]
    pub tls_dir: Option<PathBuf>,
    /// Keep the whole state in FILE: loaded at start when it exists (then --scenario is not
    /// read), saved atomically every --save-every seconds while it changes, and on Ctrl-C.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// The virtual clock: `manual` (moved only by the admin API: plans, snapshots and README
    /// outputs stay reproducible, hence the default), `realtime` (it follows the wall clock
    /// from the scenario's start, so a client that waits out `Retry-After` for real is never
    /// early), or `scaled:N` (N virtual seconds per real one). Admin jumps add to it.
    #[arg(long, default_value = "manual", value_parser = parse_clock)]
    pub clock: ClockArg,
    /// Seconds between saves of --state (at most this much is lost to a SIGKILL).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub save_every: u64,
    /// A file holding the admin token (at least 32 characters; its first line is read). With
    /// it, `/admin` and the dashboard also answer a Host that is not loopback when the request
    /// carries `Authorization: Bearer <admin token>` (serving a team from a container).
    /// Without it they answer loopback Hosts only. A file, not the token itself, so the secret
    /// never shows in `ps` or a shell history.
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Keep at most N audit-log events in memory (at least 1000): past it the oldest are
    /// dropped down to N/2, after the judge has folded them (the verdict still covers the
    /// whole log), and `/admin/events` says what was cut. Default: keep every event.
    #[arg(long, value_name = "N")]
    pub max_events: Option<usize>,
}

/// The shortest admin token accepted: guessing it must be hopeless.
const MIN_ADMIN_TOKEN: usize = 32;

/// The admin token in `path`: its first line, trimmed.
pub fn read_admin_token(path: &std::path::Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read the admin token file {}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or_default().trim().to_string();
    if token.chars().count() < MIN_ADMIN_TOKEN || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        anyhow::bail!(
            "the admin token in {} must be one line of at least {MIN_ADMIN_TOKEN} characters without spaces",
            path.display()
        );
    }
    Ok(token)
}

/// `--clock`: virtual seconds per real second, or none (manual).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockArg(pub Option<u32>);

fn parse_clock(s: &str) -> Result<ClockArg, String> {
    match s {
        "manual" => Ok(ClockArg(None)),
        "realtime" => Ok(ClockArg(Some(1))),
        _ => s
            .strip_prefix("scaled:")
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| (1..=86_400).contains(n))
            .map(|n| ClockArg(Some(n)))
            .ok_or_else(|| format!("{s:?}: give manual, realtime, or scaled:N with N from 1 to 86400")),
    }
}

/// How `serve` speaks.
pub enum Scheme {
    Http,
    Https(Tls),
}

impl ServeArgs {
    fn scheme(&self) -> Result<Scheme, ServeError> {
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            return Ok(Scheme::Https(tls::from_files(cert, key)?));
        }
        if !self.tls {
            return Ok(Scheme::Http);
        }
        let dir = match &self.tls_dir {
            Some(d) => d.clone(),
            None => tls::private_dir()?,
        };
        let mut hosts = vec!["localhost".to_string(), "127.0.0.1".to_string(), "::1".to_string()];
        if !self.addr.ip().is_unspecified() && !hosts.contains(&self.addr.ip().to_string()) {
            hosts.push(self.addr.ip().to_string());
        }
        Ok(Scheme::Https(tls::made_at_start(&dir, &hosts)?))
    }
}

/// Run `skuswap serve` until Ctrl-C.
pub async fn run(a: &ServeArgs) -> anyhow::Result<u8> {
    let saved = match &a.state {
        Some(path) => persist::load(path)?,
        None => None,
    };
    if let (Some(w), Some(path)) = (&saved, &a.state) {
        eprintln!(
            "skuswap: state restored from {} ({} events, scenario {})",
            path.display(),
            w.events().len(),
            w.scenario
        );
    }
    let world = match saved {
        Some(w) => w,
        None => world_with(&a.scenario, a.seed, a.customers)?,
    };
    if let Some(n) = a.max_events.filter(|n| *n < mock_server::model::bounded_log::MIN_LOG_LIMIT) {
        anyhow::bail!("--max-events {n}: at least {} events", mock_server::model::bounded_log::MIN_LOG_LIMIT);
    }
    let scheme = a.scheme()?;
    let persist = a.state.clone().map(|path| Persist { path, every: std::time::Duration::from_secs(a.save_every) });
    let admin_token = a.admin_token_file.as_deref().map(read_admin_token).transpose()?;
    if !a.addr.ip().is_loopback() && admin_token.is_none() {
        eprintln!(
            "skuswap: warning: {} is not a loopback address; /admin and the dashboard answer only requests naming a loopback host (set --admin-token-file to reach them from elsewhere)",
            a.addr
        );
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let serving = Serving { scheme, persist, clock: a.clock.0, admin_token, max_events: a.max_events };
    serve(a.addr, world, serving, print_started, shutdown).await?;
    Ok(super::EXIT_OK)
}

fn print_started(s: &Started) {
    println!("Partner Center mock listening on {}", s.url);
    println!("  scenario: {}   virtual now: {}", s.scenario, s.now);
    println!("  token:    {}", s.token);
    let ca = match &s.ca_file {
        Some(f) => {
            println!("  CA certificate: {}   (clients: --ca-cert {})", f.display(), f.display());
            format!(" --cacert {}", f.display())
        }
        None => String::new(),
    };
    println!();
    println!("Try:");
    println!("  curl -s{ca} -H 'Authorization: Bearer {}' {}/v1/customers", s.token, s.url);
    println!("  curl -s{ca} {}/admin/invariants", s.url);
    println!("Stop with Ctrl-C.");
}

/// Build the world for `--scenario NAME|FILE`, `--seed` and `--customers`.
pub fn world_with(spec: &str, seed: Option<u64>, customers: Option<usize>) -> Result<World, ServeError> {
    let scenario = crate::named::resolve(spec, seed, customers).map_err(ServeError::Scenario)?;
    World::from_scenario(&scenario, seed).map_err(|e| ServeError::Scenario(format!("{spec}: {e}")))
}

/// What a started server tells its user.
pub struct Started {
    pub url: String,
    /// The CA certificate `--tls` made, for clients to trust.
    pub ca_file: Option<PathBuf>,
    pub token: String,
    pub scenario: String,
    pub now: String,
}

/// How to serve: the scheme, where the state is kept (if anywhere), and the clock's speed
/// (virtual seconds per real one; `None`: manual).
pub struct Serving {
    pub scheme: Scheme,
    pub persist: Option<Persist>,
    pub clock: Option<u32>,
    /// `--admin-token-file`'s token.
    pub admin_token: Option<String>,
    /// `--max-events`.
    pub max_events: Option<usize>,
}

/// Serve `world` on `addr` until `shutdown` resolves; `on_start` is told the URL and token.
pub async fn serve(
    addr: SocketAddr,
    mut world: World,
    serving: Serving,
    on_start: impl FnOnce(&Started),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let Serving { scheme, persist, clock, admin_token, max_events } = serving;
    let token = mock_server::mint_token(&mut world, None, TokenMode::AppUser, None)
        .map_err(|e| ServeError::Scenario(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| ServeError::Bind(addr, e))?;
    let local = listener.local_addr().map_err(ServeError::Io)?;
    let (url, ca_file) = match &scheme {
        Scheme::Http => (format!("http://{local}"), None),
        Scheme::Https(t) => (format!("https://{}", https_host(local)), t.ca_file.clone()),
    };
    let started = Started { url, ca_file, token, scenario: world.scenario.clone(), now: world.now().to_rfc3339() };
    let mock = crate::named::mock(world);
    if let Some(t) = admin_token {
        mock.require_admin_token(t);
    }
    if let Some(n) = max_events {
        mock.bound_log(n).map_err(ServeError::Scenario)?;
    }
    let app = mock_server::app(mock.clone());
    let saver = persist.clone().map(|p| persist::keep(mock.clone(), p));
    mock.follow_wall_clock(clock);
    // Deadlines come due while nobody calls (each request also brings the clock up to date).
    let ticker = clock.map(|_| {
        let mock = mock.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                mock.catch_up();
            }
        })
    });
    on_start(&started);
    let served = match scheme {
        Scheme::Http => super::connection::serve_plain(listener, app, shutdown).await.map_err(ServeError::Io),
        Scheme::Https(t) => tls::serve(listener, t.config, app, shutdown).await.map_err(ServeError::Io),
    };
    for task in [saver, ticker].into_iter().flatten() {
        task.abort();
    }
    if let Some(p) = &persist {
        persist::save(&mock, &p.path)?;
    }
    served
}

/// The host clients should name: the certificate is made for `localhost` and the loopback
/// addresses, so a wildcard bind is reached as `localhost`.
fn https_host(local: SocketAddr) -> String {
    if local.ip().is_unspecified() { format!("localhost:{}", local.port()) } else { local.to_string() }
}
