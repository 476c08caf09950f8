//! What can go wrong with a runtime change or the store behind it. Every variant names
//! the route, tenant, entry or value at fault, so the admin API can answer 400/404/409
//! with a message an on-call engineer can act on.

use thiserror::Error;

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
    #[error("cannot revert entry {id}: {subject} changed since (by entry {changed_by:?})")]
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
    /// The URL is neither `sqlite:` nor `postgres:`/`postgresql:`.
    #[error("unsupported store URL {0:?}: expected sqlite://FILE or postgres://...")]
    UnsupportedUrl(String),
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
