//! `skuswap serve`: load a scenario, mint a ready token, and serve the mock on a socket until
//! Ctrl-C.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;

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

/// Build the world for `--scenario NAME|FILE` and `--seed`.
pub fn world_for(spec: &str, seed: Option<u64>) -> Result<World, ServeError> {
    let path = Path::new(spec);
    let scenario = if path.is_file() || spec.ends_with(".json") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServeError::Scenario(format!("cannot read scenario file {spec}: {e}")))?;
        mock_server::builtin::parse(&text)
            .map_err(|e| ServeError::Scenario(format!("{spec}: {e}")))?
    } else {
        match mock_server::builtin::scenario(spec) {
            Some(s) => {
                s.map_err(|e| ServeError::Scenario(format!("built-in scenario {spec}: {e}")))?
            }
            None => {
                return Err(ServeError::Scenario(format!(
                    "unknown scenario {spec:?}: give a built-in name ({}) or a path to a scenario .json file",
                    mock_server::builtin::names().join(", ")
                )));
            }
        }
    };
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
    let token = world
        .issue_token(None, TokenMode::AppUser)
        .map_err(|e| ServeError::Scenario(e.to_string()))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| ServeError::Bind(addr, e))?;
    let local = listener.local_addr().map_err(ServeError::Io)?;
    let started = Started {
        url: format!("http://{local}"),
        token,
        scenario: world.scenario.clone(),
        now: world.now().to_rfc3339(),
    };
    let app = mock_server::app(Mock::new(world));
    on_start(&started);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServeError::Io)
}
