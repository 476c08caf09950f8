//! The one database of the control plane: this module alone opens the pool and runs the
//! migrations, and hands the pool to the flag store ([`Database::flags`]) and the diff
//! store ([`Database::diffs`]), which are two views of it. One migration set per dialect
//! (`migrations/sqlite`, `migrations/postgres`): the flag store's tables from 0001, the
//! diff store's from 1001, numbered apart because they once ran from two crates and a
//! database already migrated keeps those versions and checksums; the readiness rollup's
//! ([`Database::rollups`]) from 2001.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyConnection, AnyPool, Connection};
use strangler_flags::store_url::{scrub, without_credentials};

use super::diffs::DiffStore;
use super::rollups::Rollups;
use super::sqlite_file::SqliteFile;
use super::Store;
use crate::error::ControlError;

/// How long a call waits for a connection before failing. sqlx waits 30 s by default (and
/// keeps retrying a refused connect meanwhile); an instance must notice an outage, and an
/// admin change must be refused, well before that.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// Connections in the pool: four for the flag store (reads, changes, the guard's trips)
/// and two for the diff store (the writer, a report), as each had its own pool.
const MAX_CONNECTIONS: u32 = 6;

/// Which database the URL names; the SQL is shared, migrations and a few settings are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Backend {
    Sqlite,
    Postgres,
}

/// A connected and migrated database; cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
    /// The URL connected to, for the change feed's own connection.
    url: String,
    /// The SQLite file, watched; `None` for PostgreSQL.
    file: Option<Arc<SqliteFile>>,
}

impl Database {
    /// Connects and runs the embedded migrations. `sqlite://FILE` creates the file if
    /// missing and switches it to WAL (readers never block the writer); the pool's own
    /// connections then open it with `mode=rw`, so a file removed later is an error rather
    /// than a new empty database, and the file is watched ([`SqliteFile`]).
    /// `postgres://user:pass@host/db` (or `postgresql://`) for a fleet. A failed connect
    /// is [`ControlError::Connect`], without the URL's credentials.
    pub async fn connect(url: &str) -> Result<Database, ControlError> {
        install_default_drivers();
        let backend = Backend::of(url)?;
        let (pool, file) = match backend {
            Backend::Sqlite => open_sqlite(url).await?,
            Backend::Postgres => (
                pool_options()
                    .connect(url)
                    .await
                    .map_err(connect_error(url))?,
                None,
            ),
        };
        let migrator = match backend {
            Backend::Sqlite => sqlx::migrate!("migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("migrations/postgres"),
        };
        migrator.run(&pool).await?;
        Ok(Database {
            pool,
            backend,
            url: url.to_owned(),
            file,
        })
    }

    /// The runtime flag store and its audit log, on this pool.
    pub fn flags(&self) -> Store {
        Store {
            pool: self.pool.clone(),
            backend: self.backend,
            url: self.url.clone(),
            file: self.file.clone(),
        }
    }

    /// The readiness rollup, on this pool.
    pub fn rollups(&self) -> Rollups {
        Rollups::new(self.pool.clone(), self.file.clone())
    }

    /// The diff store, keeping at most `samples_per_signature` full samples per route and
    /// signature, on this pool.
    pub fn diffs(&self, samples_per_signature: u32) -> DiffStore {
        DiffStore::new(self.pool.clone(), self.file.clone(), samples_per_signature)
    }
}

fn pool_options() -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
}

/// Creates the file if need be with one connection of its own (`mode=rwc`, WAL), then
/// opens the pool with `mode=rw`; a `mode=` in the URL is kept for both. Pooled
/// connections that predate the file's last read-only spell are closed, not reused.
async fn open_sqlite(url: &str) -> Result<(AnyPool, Option<Arc<SqliteFile>>), ControlError> {
    let with_mode = |mode: &str| match url.contains("mode=") {
        true => url.to_owned(),
        false => format!(
            "{url}{}mode={mode}",
            if url.contains('?') { '&' } else { '?' }
        ),
    };
    let mut first = AnyConnection::connect(&with_mode("rwc"))
        .await
        .map_err(connect_error(url))?;
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&mut first)
        .await?;
    let options = SqliteConnectOptions::from_str(url).map_err(connect_error(url))?;
    let file = SqliteFile::opened(options.get_filename()).map(Arc::new);
    first.close().await?;
    let watched = file.clone();
    let pool = pool_options()
        .before_acquire(move |_, meta| {
            let stale = watched.as_ref().is_some_and(|file| file.is_stale(meta.age));
            Box::pin(async move { Ok(!stale) })
        })
        .connect(&with_mode("rw"))
        .await
        .map_err(connect_error(url))?;
    Ok((pool, file))
}

/// Maps a connect error to [`ControlError::Connect`], scrubbed of `url`'s credentials.
pub(super) fn connect_error(url: &str) -> impl Fn(sqlx::Error) -> ControlError + '_ {
    move |error| ControlError::Connect {
        store: without_credentials(url),
        message: scrub(&error.to_string(), url),
    }
}

/// Names the backend only: the URL carries the password.
impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Backend {
    fn of(url: &str) -> Result<Backend, ControlError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(ControlError::UnsupportedUrl(without_credentials(url))),
        }
    }
}

/// A process's one [`Database`], connected by whichever of its users needs it first (the
/// proxy's flag store follower and diff writer each retry on their own schedule) and then
/// shared by all: one pool however many of them ask. A failed or abandoned attempt leaves
/// the next caller to try again.
#[derive(Clone)]
pub struct SharedDatabase {
    url: Arc<str>,
    connected: Arc<tokio::sync::OnceCell<Database>>,
}

impl SharedDatabase {
    /// Nothing connected yet; the first [`SharedDatabase::get`] connects to `url`.
    pub fn new(url: &str) -> SharedDatabase {
        SharedDatabase {
            url: url.into(),
            connected: Arc::default(),
        }
    }

    /// The URL it connects to (with its credentials: keep it out of logs).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database, connecting (and migrating) first if no one has yet.
    pub async fn get(&self) -> Result<&Database, ControlError> {
        self.connected
            .get_or_try_init(|| Database::connect(&self.url))
            .await
    }
}

/// Names the store without credentials.
impl std::fmt::Debug for SharedDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedDatabase")
            .field("store", &without_credentials(&self.url))
            .finish_non_exhaustive()
    }
}
