//! Read-only connections for queries, so reading never waits for the writer (WAL lets
//! readers see the last committed state while a write is in progress).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Two readers: the UI reads a chat list and a page of history at the same time.
const READERS: usize = 2;

#[derive(Clone)]
pub struct Readers {
    pool: Arc<Mutex<Vec<Connection>>>,
    path: PathBuf,
}

impl Readers {
    pub fn open(path: &Path) -> Result<Self> {
        let mut pool = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            pool.push(super::open(path, true)?);
        }
        Ok(Readers {
            pool: Arc::new(Mutex::new(pool)),
            path: path.into(),
        })
    }

    /// Runs `f` on a reader connection on the blocking thread pool.
    pub async fn with<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.with_blocking(f))
            .await
            .map_err(|_| Error::Shutdown)?
    }

    pub fn with_blocking<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.pool.lock().map_err(|_| Error::Shutdown)?.pop();
        let conn = match conn {
            Some(c) => c,
            None => super::open(&self.path, true)?,
        };
        let res = f(&conn);
        if let Ok(mut pool) = self.pool.lock() {
            if pool.len() < READERS {
                pool.push(conn);
            }
        }
        res
    }
}
