//! The control plane's store, in SQLite (one file, the default) or PostgreSQL (a fleet
//! sharing one database): one [`Database`] (the pool and the migrations, [`database`])
//! with three views, the flag store ([`Store`], here: the runtime overrides and their audit
//! log), the diff store ([`diffs`]: shadow comparisons and samples) and the readiness
//! rollup ([`Rollups`]).
//!
//! Every flag change is one transaction that bumps the version, reads the touched flags,
//! writes the new ones and the audit entry: all of it lands or none of it does. Instances
//! poll [`Store::version`] (one integer) and call [`Store::overrides`] only when it moved.

mod audit_log;
mod claims;
mod database;
pub mod diffs;
mod feed;
mod flags;
mod ramp_evidence;
mod rollups;
mod sqlite_file;

use sqlx::{AnyConnection, AnyPool};
use time::OffsetDateTime;

pub use self::database::{Database, SharedDatabase};
pub use self::feed::{ChangeFeed, CHANNEL};
pub use self::rollups::Rollups;

use self::database::Backend;

use std::sync::Arc;

use self::audit_log::Draft;
use self::sqlite_file::SqliteFile;
use crate::audit::{AuditEntry, FlagState};
use crate::change::{Change, Subject};
use crate::error::ControlError;
use crate::overrides::{Overrides, RouteSetBy};

/// The flag store, a view of the [`Database`] pool ([`Database::flags`]); cheap to clone,
/// share it between tasks.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The URL connected to, for the change feed's own connection.
    url: String,
    /// The SQLite file, checked before every operation; `None` for PostgreSQL.
    file: Option<Arc<SqliteFile>>,
}

/// What one change transaction writes, once the touched subject is known.
enum Plan {
    /// Apply the change to the subject's current flags.
    Apply,
    /// Restore an entry's `before`, provided the flags still are its `after`.
    Restore(Box<AuditEntry>),
}

impl Store {
    /// A feed of change notifications (PostgreSQL), or `None` for SQLite, which has none.
    pub async fn changes(&self) -> Result<Option<ChangeFeed>, ControlError> {
        match self.backend {
            Backend::Postgres => Ok(Some(ChangeFeed::connect(&self.url).await?)),
            Backend::Sqlite => Ok(None),
        }
    }

    /// The version: moves with every change, never goes back. Cheap enough to poll. Fails
    /// when the SQLite file was removed or replaced under this process.
    pub async fn version(&self) -> Result<i64, ControlError> {
        self.check_identity()?;
        flags::version(&mut *self.pool.acquire().await?).await
    }

    /// Whether a change could be recorded now: for SQLite, the file opened is still at its
    /// path and writable ([`ControlError::StoreFile`] says why not); PostgreSQL, always.
    pub fn writable(&self) -> Result<(), ControlError> {
        self.file
            .as_ref()
            .map_or(Ok(()), |file| file.check_writable())
    }

    /// Fails when the SQLite file was removed or replaced under this process.
    fn check_identity(&self) -> Result<(), ControlError> {
        self.file
            .as_ref()
            .map_or(Ok(()), |file| file.check_identity())
    }

    /// Every override, read as one consistent snapshot with its version.
    pub async fn overrides(&self) -> Result<Overrides, ControlError> {
        self.check_identity()?;
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            let sql = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY";
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        let overrides = flags::load_all(&mut tx).await?;
        tx.commit().await?;
        Ok(overrides)
    }

    /// Checks and applies one change as `actor`, recording it in the audit log; returns
    /// the entry. `known_route` says which route names routes.yaml defines. On any error
    /// nothing is written: no override, no entry, the version unchanged.
    pub async fn apply(
        &self,
        change: Change,
        actor: &str,
        comment: Option<&str>,
        known_route: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<AuditEntry, ControlError> {
        self.apply_at(
            change,
            actor,
            comment,
            known_route,
            OffsetDateTime::now_utc(),
        )
        .await
    }

    /// [`Store::apply`] at the caller's `now` rather than the clock's: the ramp evaluator
    /// records the steps it advances at its own (in tests, a fake) clock, which also
    /// measures how long each step has run.
    pub async fn apply_at(
        &self,
        change: Change,
        actor: &str,
        comment: Option<&str>,
        known_route: &(dyn Fn(&str) -> bool + Sync),
        now: OffsetDateTime,
    ) -> Result<AuditEntry, ControlError> {
        change.validate(known_route)?;
        self.commit(change, actor, comment, now).await
    }

    /// The newest `limit` audit entries, newest first, optionally about one route only.
    pub async fn audit(
        &self,
        route: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, ControlError> {
        self.check_identity()?;
        audit_log::list(&mut *self.pool.acquire().await?, route, limit).await
    }

    /// Every audit entry committed at or after `since`, of every route and global, oldest
    /// first: what the readiness report reads its rollbacks and last changes from.
    pub async fn audit_since(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<AuditEntry>, ControlError> {
        self.check_identity()?;
        audit_log::since(&mut *self.pool.acquire().await?, since).await
    }

    /// Undoes entry `id`: restores its `before` for the flags it touched, as a new entry
    /// whose `reverts` is `id`. Refused if those flags changed since (revert the newer
    /// entries first) or if the entry was already reverted.
    pub async fn revert(
        &self,
        id: i64,
        actor: &str,
        comment: Option<&str>,
    ) -> Result<AuditEntry, ControlError> {
        let now = OffsetDateTime::now_utc();
        self.commit(Change::Revert { entry: id }, actor, comment, now)
            .await
    }

    /// The change transaction, on a store that can record it: refused at once when the
    /// SQLite file is gone, replaced or read-only, and reported failed when the file was
    /// removed or replaced while it ran (it then went to a file no restart reads).
    async fn commit(
        &self,
        change: Change,
        actor: &str,
        comment: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<AuditEntry, ControlError> {
        self.writable()?;
        let entry = self
            .transaction(change, actor, comment, now)
            .await
            .map_err(|error| self.read_only_or(error))?;
        self.check_identity()?;
        Ok(entry)
    }

    /// `error`, or [`ControlError::StoreFile`] when SQLite refused a write as read-only.
    fn read_only_or(&self, error: ControlError) -> ControlError {
        match (&error, &self.file) {
            (ControlError::Database(db), Some(file)) if sqlite_file::is_read_only(db) => {
                file.read_only_now(db.to_string())
            }
            _ => error,
        }
    }

    /// Bump, read, compute, record, write, commit.
    async fn transaction(
        &self,
        change: Change,
        actor: &str,
        comment: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<AuditEntry, ControlError> {
        let mut tx = self.pool.begin().await?;
        let version = flags::bump_version(&mut tx).await?;
        let (route, plan) = match change.subject() {
            Subject::Route(route) => (Some(route.to_owned()), Plan::Apply),
            Subject::Global => (None, Plan::Apply),
            Subject::Entry(id) => {
                let entry = revertible(&mut tx, id).await?;
                (entry.route.clone(), Plan::Restore(Box::new(entry)))
            }
        };
        let (before, set_by) = load(&mut tx, route.as_deref()).await?;
        let after = next_state(&mut tx, &change, &plan, &before, now).await?;
        if matches!(plan, Plan::Apply) && after == before {
            // Dropping the transaction rolls the version bump back: nothing happened.
            return Err(ControlError::Unchanged);
        }
        let draft = Draft {
            at: now,
            actor,
            route: route.as_deref(),
            change: &change,
            before: &before,
            after: &after,
            comment,
            reverts: match &plan {
                Plan::Restore(entry) => Some(entry.id),
                Plan::Apply => None,
            },
        };
        let entry = audit_log::insert(&mut tx, draft).await?;
        write(&mut tx, route.as_deref(), &before, &after, set_by, entry.id).await?;
        if self.backend == Backend::Postgres {
            feed::notify(&mut tx, version).await?;
        }
        tx.commit().await?;
        Ok(entry)
    }
}

/// Names the backend only: the URL carries the password.
impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// The entry `id`, if it may be reverted: it exists and nothing reverted it yet.
async fn revertible(conn: &mut AnyConnection, id: i64) -> Result<AuditEntry, ControlError> {
    let entry = audit_log::get(conn, id).await?;
    match entry.reverted_by {
        Some(by) => Err(ControlError::AlreadyReverted { id, by }),
        None => Ok(entry),
    }
}

/// The flags of a route (or the global ones, for None) and their sources.
async fn load(
    conn: &mut AnyConnection,
    route: Option<&str>,
) -> Result<(FlagState, RouteSetBy), ControlError> {
    match route {
        Some(route) => {
            let (overrides, set_by) = flags::load_route(conn, route).await?;
            Ok((FlagState::Route(overrides), set_by))
        }
        None => {
            let (kill, killed_by) = flags::load_global(conn).await?;
            let set_by = RouteSetBy {
                killed: killed_by,
                ..RouteSetBy::default()
            };
            Ok((FlagState::Global { kill }, set_by))
        }
    }
}

/// What the flags become: the change applied, or the reverted entry's `before`.
async fn next_state(
    conn: &mut AnyConnection,
    change: &Change,
    plan: &Plan,
    before: &FlagState,
    now: OffsetDateTime,
) -> Result<FlagState, ControlError> {
    match (plan, before) {
        (Plan::Restore(entry), _) if *before != entry.after => {
            let route = entry.route.as_deref();
            Err(ControlError::RevertConflict {
                id: entry.id,
                subject: route.unwrap_or("global").to_owned(),
                changed_by: audit_log::newest_after(conn, entry.id, route).await?,
            })
        }
        (Plan::Restore(entry), _) => Ok(entry.before.clone()),
        (Plan::Apply, FlagState::Route(overrides)) => {
            let mut after = overrides.clone();
            change.apply_to(&mut after, now)?;
            Ok(FlagState::Route(after))
        }
        (Plan::Apply, FlagState::Global { kill }) => Ok(FlagState::Global {
            kill: match change {
                Change::KillAll => true,
                Change::UnkillAll => false,
                _ => *kill,
            },
        }),
    }
}

/// Writes the new flags with entry `id` as the source of every value that moved.
async fn write(
    conn: &mut AnyConnection,
    route: Option<&str>,
    before: &FlagState,
    after: &FlagState,
    mut set_by: RouteSetBy,
    id: i64,
) -> Result<(), ControlError> {
    match (route, before, after) {
        (Some(route), FlagState::Route(before), FlagState::Route(after)) => {
            set_by.record(before, after, id);
            flags::write_route(conn, route, before, after, &set_by).await
        }
        (_, FlagState::Global { kill: was }, FlagState::Global { kill }) => {
            let killed_by = match (was, kill) {
                (_, false) => None,
                (false, true) => Some(id),
                (true, true) => set_by.killed,
            };
            flags::write_global(conn, *kill, killed_by).await
        }
        _ => Err(ControlError::Corrupt {
            what: format!("audit entry for {}", route.unwrap_or("global")),
            message: "its before and after are of different subjects".into(),
        }),
    }
}
