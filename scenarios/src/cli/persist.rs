//! `skuswap serve --state FILE`: the mock's whole state kept in a file, so a rehearsal
//! environment survives a restart. Loaded at start; saved atomically (a temporary file, then a
//! rename) every interval when something changed, and once more on shutdown. After a SIGKILL
//! at most the last interval is lost.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mock_server::Mock;
use mock_server::model::World;

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot read the state file {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("the state file {0} is not a skuswap state: {1}")]
    Invalid(PathBuf, String),
    #[error("cannot save the state to {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

/// Where and how often to save.
#[derive(Debug, Clone)]
pub struct Persist {
    pub path: PathBuf,
    pub every: Duration,
}

/// The world saved in `path`, or `None` when there is no file yet (a first start).
pub fn load(path: &Path) -> Result<Option<World>, PersistError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(PersistError::Read(path.to_path_buf(), e)),
    };
    let mut world: World =
        serde_json::from_slice(&bytes).map_err(|e| PersistError::Invalid(path.to_path_buf(), e.to_string()))?;
    world.settings.validate().map_err(|e| PersistError::Invalid(path.to_path_buf(), format!("settings: {e}")))?;
    world.check_log_limit().map_err(|e| PersistError::Invalid(path.to_path_buf(), e))?;
    world.rebuild_indexes();
    Ok(Some(world))
}

/// The number of events the world has logged: a save is needed when it moved.
fn mark(mock: &Mock) -> (usize, chrono::DateTime<chrono::Utc>) {
    mock.read(|w| (w.events().len(), w.now()))
}

/// Save the world to `path` atomically. The world is copied under the lock and written out
/// after it is released, so requests are not held up by the disk.
pub fn save(mock: &Mock, path: &Path) -> Result<(), PersistError> {
    let world = mock.read(World::clone);
    let fail = |e| PersistError::Write(path.to_path_buf(), e);
    let bytes = serde_json::to_vec(&world).map_err(|e| fail(std::io::Error::other(e)))?;
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut file = std::fs::File::create(&tmp).map_err(fail)?;
        std::io::Write::write_all(&mut file, &bytes).map_err(fail)?;
        file.sync_all().map_err(fail)?;
    }
    std::fs::rename(&tmp, path).map_err(fail)
}

/// Save every `every` while the world changes; the task ends with the runtime.
pub fn keep(mock: Mock, persist: Persist) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut saved = mark(&mock);
        loop {
            tokio::time::sleep(persist.every).await;
            let now = mark(&mock);
            if now == saved {
                continue;
            }
            // The blocking write runs off the async workers.
            let (m, p) = (mock.clone(), persist.path.clone());
            match tokio::task::spawn_blocking(move || save(&m, &p)).await {
                Ok(Ok(())) => saved = now,
                Ok(Err(e)) => tracing::warn!("{e}"),
                Err(e) => tracing::warn!("saving the state stopped: {e}"),
            }
        }
    })
}
