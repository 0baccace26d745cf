//! `skuswap serve`: load a scenario, mint a ready token, and serve the mock on a socket until
//! Ctrl-C.

use std::future::Future;
use std::net::SocketAddr;

use mock_server::Mock;
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

/// Build the world for `--scenario NAME|FILE`, `--seed` and `--customers`.
pub fn world_for(spec: &str, seed: Option<u64>) -> Result<World, ServeError> {
    world_with(spec, seed, None)
}

pub fn world_with(spec: &str, seed: Option<u64>, customers: Option<usize>) -> Result<World, ServeError> {
    let scenario = crate::named::resolve(spec, seed, customers).map_err(ServeError::Scenario)?;
    World::from_scenario(&scenario, seed).map_err(|e| ServeError::Scenario(format!("{spec}: {e}")))
}

/// The mock, knowing every named scenario for `POST /admin/scenario`.
pub fn mock(world: World) -> Mock {
    let resolver: mock_server::state::ScenarioResolver = std::sync::Arc::new(|name: &str, seed: Option<u64>| {
        crate::named::names().contains(&name).then(|| crate::named::resolve(name, seed, None))
    });
    Mock::with_resolver(world, resolver)
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
    let app = mock_server::app(mock(world));
    on_start(&started);
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await.map_err(ServeError::Io)
}
