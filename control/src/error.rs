//! What can go wrong with a runtime change or the store behind it. Every variant names
//! the route, tenant, entry or value at fault, so the admin API can answer 400/404/409
//! with a message an on-call engineer can act on.

use std::path::PathBuf;

use thiserror::Error;

use crate::identity::Identity;

/// An error from the control plane: a refused change, or the database failing.
#[derive(Debug, Error)]
pub enum ControlError {
    /// The change names a route that routes.yaml does not define (a 404 at the edge).
    #[error("unknown route {0:?}")]
    UnknownRoute(String),
    /// A percentage that is not 0 to 100 with at most two decimals.
    #[error("route {route:?}: {message}")]
    InvalidPercent {
        /// The route the change was for.
        route: String,
        /// What is wrong with the value, from the routes.yaml rule.
        message: String,
    },
    /// A tenant id that is not 1 to 128 characters of `[A-Za-z0-9._-]`.
    #[error("route {route:?}: tenant {tenant:?} is invalid: {reason}")]
    InvalidTenant {
        /// The route the change was for.
        route: String,
        /// The id as sent (cut to 140 characters).
        tenant: String,
        /// Which part of the rule it breaks.
        reason: &'static str,
    },
    /// A schedule that cannot run, or a schedule command that does not fit the route's
    /// current schedule (pausing a route without one, resuming one that is not paused).
    #[error("route {route:?}: schedule: {message}")]
    Schedule {
        /// The route the change was for.
        route: String,
        /// What is wrong.
        message: String,
    },
    /// A ramp command that does not fit the route's ramp (none, paused already, ...).
    #[error("route {route:?}: ramp: {message}")]
    Ramp {
        /// The route the change was for.
        route: String,
        /// What is wrong.
        message: String,
    },
    /// An advance or a start of a ramp lost to another change (another instance advanced
    /// first, or a ramp is already there): nothing recorded.
    #[error("route {route:?}: ramp: {message}")]
    RampMoved {
        /// The route the change was for.
        route: String,
        /// What the store found instead.
        message: String,
    },
    /// `revert` named an audit entry that does not exist.
    #[error("no audit entry {0}")]
    NoSuchEntry(i64),
    /// `revert` was asked to undo an entry that a later entry already reverted.
    #[error("audit entry {id} was already reverted by entry {by}")]
    AlreadyReverted {
        /// The entry asked for.
        id: i64,
        /// The entry that reverted it.
        by: i64,
    },
    /// `revert` would silently undo later changes: the flags the entry touched no longer
    /// hold the values it left. Revert the later entries first, newest first.
    #[error("cannot revert entry {id}: {subject} changed since{}; revert the later entries first, newest first", changed_by.map(|by| format!(" (by entry {by})")).unwrap_or_default())]
    RevertConflict {
        /// The entry asked for.
        id: i64,
        /// The route, or `global`, whose flags moved on.
        subject: String,
        /// The newest later entry for that subject, if any.
        changed_by: Option<i64>,
    },
    /// The rollback guard tripped on a route whose kill switch is on already: nothing to
    /// record (another instance, or a human, sent the route to legacy first).
    #[error("route {0:?}: the kill switch is on already")]
    AlreadyKilled(String),
    /// The change would leave every flag as it is (a kill switch already on, the percent
    /// the route already has): nothing is recorded, so the audit log holds only changes.
    #[error("nothing to change: the flags are already so")]
    Unchanged,
    /// The URL is neither `sqlite:` nor `postgres:`/`postgresql:` (held without its
    /// credentials).
    #[error("unsupported store URL {0:?}: expected sqlite://FILE or postgres://...")]
    UnsupportedUrl(String),
    /// Connecting to the store failed. Both fields are without credentials: a driver's
    /// message may quote the URL, so it is scrubbed (`strangler_flags::store_url::scrub`).
    #[error("connecting to the store {store}: {message}")]
    Connect {
        /// The store URL without credentials.
        store: String,
        /// What the driver said, scrubbed.
        message: String,
    },
    /// The SQLite store's file cannot take a change that a restart would see: removed,
    /// replaced, or read-only (see `store/sqlite_file.rs`). Nothing was recorded.
    #[error("store file {}: {problem}", path.display())]
    StoreFile {
        /// The file as `store:` names it.
        path: PathBuf,
        /// What is wrong with it.
        problem: FileProblem,
    },
    /// A stored value that does not read back (a row written by hand or by a newer
    /// version): bad JSON, a percentage above 100, an unknown side.
    #[error("corrupt stored {what}: {message}")]
    Corrupt {
        /// Which column of which row.
        what: String,
        /// What is wrong with it.
        message: String,
    },
    /// Applying the embedded migrations failed.
    #[error("migrating the store: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database refused or failed a statement; the transaction was rolled back.
    #[error("store: {0}")]
    Database(#[from] sqlx::Error),
}

/// What is wrong with the SQLite store's file under a running process.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FileProblem {
    /// Nothing is at the path any more; the process still holds the deleted file, and what
    /// it wrote there would be gone at the next restart.
    #[error("removed under this process (it opened {opened}); changes are refused until the file is back or the process restarts")]
    Removed {
        /// The file opened.
        opened: Identity,
    },
    /// Another file is at the path; it is never adopted without a restart.
    #[error("replaced under this process (it opened {opened}, the path now names {now}); changes are refused until the file is back or the process restarts")]
    Replaced {
        /// The file opened.
        opened: Identity,
        /// The file at the path now.
        now: Identity,
    },
    /// The path cannot be examined (a directory without permission, an I/O error).
    #[error("cannot be examined: {0}")]
    Unreadable(String),
    /// The process may not write the file (permissions, immutable, a read-only mount).
    #[error("read-only ({0}); changes cannot be recorded until it is writable again")]
    ReadOnly(String),
}

impl ControlError {
    /// True when the store answers reads but refuses to record changes because its file
    /// is read-only.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            ControlError::StoreFile {
                problem: FileProblem::ReadOnly(_),
                ..
            }
        )
    }
}
