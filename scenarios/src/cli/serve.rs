//! `skuswap serve`: load a scenario, mint a ready token, and serve the mock on a socket until
//! Ctrl-C. Also builds the worlds an embedded `--mock` and a rehearsal start from.

use std::future::Future;
use std::net::SocketAddr;

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
}

/// `skuswap serve`'s arguments.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on. The admin API has no authentication: keep it on loopback.
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
}

/// Run `skuswap serve` until Ctrl-C.
pub async fn run(a: &ServeArgs) -> anyhow::Result<u8> {
    let world = world_with(&a.scenario, a.seed, a.customers)?;
    if !a.addr.ip().is_loopback() {
        eprintln!("skuswap: warning: {} is not a loopback address; the /admin API has no authentication", a.addr);
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    serve(a.addr, world, print_started, shutdown).await?;
    Ok(super::EXIT_OK)
}

fn print_started(s: &Started) {
    println!("Partner Center mock listening on {}", s.url);
    println!("  scenario: {}   virtual now: {}", s.scenario, s.now);
    println!("  token:    {}", s.token);
    println!();
    println!("Try:");
    println!("  curl -s -H 'Authorization: Bearer {}' {}/v1/customers", s.token, s.url);
    println!("  curl -s {}/admin/invariants", s.url);
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
    pub token: String,
    pub scenario: String,
    pub now: String,
}

/// Serve `world` on `addr` until `shutdown` resolves; `on_start` is told the URL and token.
pub async fn serve(
    addr: SocketAddr,
    mut world: World,
    on_start: impl FnOnce(&Started),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let token = world.issue_token(None, TokenMode::AppUser).map_err(|e| ServeError::Scenario(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| ServeError::Bind(addr, e))?;
    let local = listener.local_addr().map_err(ServeError::Io)?;
    let started = Started {
        url: format!("http://{local}"),
        token,
        scenario: world.scenario.clone(),
        now: world.now().to_rfc3339(),
    };
    let app = mock_server::app(crate::named::mock(world));
    on_start(&started);
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await.map_err(ServeError::Io)
}
