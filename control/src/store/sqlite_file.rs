//! The SQLite store's file, watched under a running process. A connection keeps working
//! on the file it opened even when that file is deleted or replaced (a cleanup job, a
//! volume remounted), so without a check every change would be acknowledged and then lost
//! at the next restart. [`SqliteFile`] remembers the file's identity (device and inode) at
//! connect, and every operation checks the path still names that file; a change also
//! checks the file is writable (`access(2)`, which honours permissions, the immutable
//! attribute and read-only mounts the way the database's own `open` does), before it
//! starts and, for its identity, again after it committed.
//!
//! Healthy again means the same file is back at the path (renamed back, the volume
//! mounted again) or writable again; a different file at the path is never adopted: the
//! process keeps refusing until it is restarted, so it never switches silently to another
//! (say, an empty) database. Connections opened while the file was read-only stay
//! read-only in SQLite; they are recycled ([`SqliteFile::is_stale`]) once it is writable.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{ControlError, FileProblem};
use crate::identity::Identity;

/// The store's file and what is known about it.
#[derive(Debug)]
pub(crate) struct SqliteFile {
    path: PathBuf,
    opened: Identity,
    /// The clock [`SqliteFile::is_stale`] measures connection ages against.
    epoch: Instant,
    /// Connections made before this many nanoseconds after `epoch` are closed when next
    /// taken from the pool (they may have opened the file read-only).
    fresh_after: AtomicU64,
    /// Set while the file is read-only, so its return to writable is noticed once.
    read_only: AtomicBool,
}

impl SqliteFile {
    /// The file at `path` as it is now; `None` when there is no file to watch (an
    /// in-memory database) or it cannot be read.
    pub(crate) fn opened(path: &Path) -> Option<SqliteFile> {
        let metadata = std::fs::metadata(path).ok()?;
        Some(SqliteFile {
            path: path.to_owned(),
            opened: Identity::of(&metadata),
            epoch: Instant::now(),
            fresh_after: AtomicU64::new(0),
            read_only: AtomicBool::new(false),
        })
    }

    /// Fails unless the path still names the file opened.
    pub(crate) fn check_identity(&self) -> Result<(), ControlError> {
        let problem = match std::fs::metadata(&self.path) {
            Ok(metadata) if Identity::of(&metadata) == self.opened => return Ok(()),
            Ok(metadata) => FileProblem::Replaced {
                opened: self.opened,
                now: Identity::of(&metadata),
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => FileProblem::Removed {
                opened: self.opened,
            },
            Err(error) => FileProblem::Unreadable(error.to_string()),
        };
        Err(self.error(problem))
    }

    /// Fails unless the path still names the file opened and this process may write it.
    /// When it turns writable again, the connections made meanwhile are marked stale.
    pub(crate) fn check_writable(&self) -> Result<(), ControlError> {
        self.check_identity()?;
        let access = nix::unistd::access(&self.path, nix::unistd::AccessFlags::W_OK);
        match access {
            Ok(()) => {
                if self.read_only.swap(false, Ordering::Relaxed) {
                    self.recycle_connections();
                }
                Ok(())
            }
            Err(errno) => Err(self.read_only_now(errno.desc().to_owned())),
        }
    }

    /// The database refused a write as read-only (`reason`): the connection that did may
    /// have opened the file read-only, so every connection made until now is recycled.
    pub(crate) fn read_only_now(&self, reason: String) -> ControlError {
        self.read_only.store(true, Ordering::Relaxed);
        self.recycle_connections();
        self.error(FileProblem::ReadOnly(reason))
    }

    /// True for a pooled connection `age` old that predates the last recycling.
    pub(crate) fn is_stale(&self, age: Duration) -> bool {
        let now = self.epoch.elapsed();
        let made = now.saturating_sub(age).as_nanos() as u64;
        made < self.fresh_after.load(Ordering::Relaxed)
    }

    fn recycle_connections(&self) {
        let now = self.epoch.elapsed().as_nanos() as u64;
        self.fresh_after.fetch_max(now, Ordering::Relaxed);
    }

    fn error(&self, problem: FileProblem) -> ControlError {
        ControlError::StoreFile {
            path: self.path.clone(),
            problem,
        }
    }
}

/// True for SQLite's `SQLITE_READONLY` and its extended codes (a read-only file, a
/// connection opened read-only, a database moved under it).
pub(crate) fn is_read_only(error: &sqlx::Error) -> bool {
    let code = match error {
        sqlx::Error::Database(db) => db.code(),
        _ => None,
    };
    code.and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| code & 0xff == 8)
}
