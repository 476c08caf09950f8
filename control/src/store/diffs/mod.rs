//! The diff store: every comparison, and a few full samples per signature, in the same
//! database as the flag store (`store:` of routes.yaml: a SQLite file by default,
//! PostgreSQL for a fleet, so every proxy's comparisons land in one report). A view of the
//! [`Database`](super::Database) pool, which connects and migrates (its tables are
//! migrations 1001 on).
//!
//! The proxy writes in batches from a task of its own (one transaction a batch), never
//! from the request path. A comparison with something to tell (a difference, a noise
//! probe, an error) is a row; a plain match or skip is only counted ([`counts`]). Reports
//! read the rows and the counts of a window back and replay them
//! (`strangler_shadow::report`). Retention ([`DiffStore::prune`]) deletes by age and keeps
//! at most a number of comparison rows.

mod counts;
mod rows;

pub use rows::SampleSummary;

use std::time::Duration;

use std::sync::Arc;

use sqlx::AnyPool;
use strangler_shadow::{Comparison, Counted, Sample, SampleSide};
use thiserror::Error;

use super::sqlite_file::{self, SqliteFile};
use crate::error::ControlError;

/// Why the diff store could not do what was asked (connecting is the
/// [`Database`](super::Database)'s, with its errors).
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("diff store: {0}")]
    Database(#[from] sqlx::Error),
    /// A write took longer than its caller allowed.
    #[error("diff store write took longer than {0:?}")]
    Timeout(Duration),
    /// The SQLite store's file was removed, replaced or made read-only under this
    /// process ([`ControlError::StoreFile`]): nothing was written.
    #[error("diff store: {0}")]
    File(Box<ControlError>),
    /// A stored value does not parse back.
    #[error("diff store row {id}: {message}")]
    Corrupt {
        /// The row's id.
        id: i64,
        /// What did not parse.
        message: String,
    },
}

/// One comparison to write, with both answers when a sample should be kept.
#[derive(Debug, Clone)]
pub struct Record {
    /// The comparison.
    pub comparison: Comparison,
    /// Both answers, for a mismatch whose signature may still need samples.
    pub sample: Option<(SampleSide, SampleSide)>,
}

/// The diff store, a view of the database's pool; cheap to clone.
#[derive(Debug, Clone)]
pub struct DiffStore {
    pool: AnyPool,
    /// The SQLite file, checked before every write; `None` for PostgreSQL.
    file: Option<Arc<SqliteFile>>,
    /// Full samples kept per route and signature.
    samples_per_signature: u32,
}

impl DiffStore {
    /// The diff store on `pool`, keeping `samples_per_signature` samples per signature.
    pub(super) fn new(
        pool: AnyPool,
        file: Option<Arc<SqliteFile>>,
        samples_per_signature: u32,
    ) -> DiffStore {
        DiffStore {
            pool,
            file,
            samples_per_signature,
        }
    }

    /// Writes a batch in one transaction: every comparison (the countable ones as sums),
    /// and a sample for those that carry one while their route and signature have fewer
    /// than the limit kept.
    pub async fn insert(&self, batch: &[Record]) -> Result<(), StoreError> {
        self.writable()?;
        self.insert_batch(batch)
            .await
            .map_err(|error| self.read_only_or(error))
    }

    /// Fails unless the SQLite file opened is still at its path and writable.
    fn writable(&self) -> Result<(), StoreError> {
        let checked = self
            .file
            .as_ref()
            .map_or(Ok(()), |file| file.check_writable());
        checked.map_err(|error| StoreError::File(Box::new(error)))
    }

    /// `error`, or [`StoreError::File`] when SQLite refused a write as read-only (the
    /// connections made until then are recycled).
    fn read_only_or(&self, error: StoreError) -> StoreError {
        match (&error, &self.file) {
            (StoreError::Database(db), Some(file)) if sqlite_file::is_read_only(db) => {
                StoreError::File(Box::new(file.read_only_now(db.to_string())))
            }
            _ => error,
        }
    }

    /// The batch in one transaction.
    async fn insert_batch(&self, batch: &[Record]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let (counted, kept): (Vec<&Record>, Vec<&Record>) = batch
            .iter()
            .partition(|r| r.sample.is_none() && r.comparison.countable());
        let sums = counts::sums(counted.iter().map(|r| &r.comparison));
        counts::insert(&mut tx, &sums).await?;
        let (sampled, plain): (Vec<&Record>, Vec<&Record>) =
            kept.into_iter().partition(|record| record.sample.is_some());
        for chunk in plain.chunks(rows::ROWS_PER_INSERT) {
            let comparisons: Vec<&Comparison> = chunk.iter().map(|r| &r.comparison).collect();
            rows::insert_comparisons(&mut tx, &comparisons).await?;
        }
        for record in sampled {
            let id = rows::insert_comparison(&mut tx, &record.comparison).await?;
            if let Some((primary, shadow)) = &record.sample {
                let limit = self.samples_per_signature;
                rows::insert_sample(&mut tx, id, &record.comparison, primary, shadow, limit)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The comparisons at or after `since_ms` (unix milliseconds), oldest first,
    /// optionally of one route only.
    pub async fn comparisons(
        &self,
        route: Option<&str>,
        since_ms: i64,
    ) -> Result<Vec<Comparison>, StoreError> {
        rows::comparisons(&mut *self.pool.acquire().await?, route, since_ms).await
    }

    /// The countable comparisons at or after `since_ms`, summed per route, verdict and
    /// skip reason (each sum placed at its earliest comparison's second), optionally of one
    /// route only. A report adds them to [`DiffStore::comparisons`].
    pub async fn counted(
        &self,
        route: Option<&str>,
        since_ms: i64,
    ) -> Result<Vec<Counted>, StoreError> {
        counts::counted(&mut *self.pool.acquire().await?, route, since_ms).await
    }

    /// The kept sample with this id.
    pub async fn sample(&self, id: i64) -> Result<Option<Sample>, StoreError> {
        rows::sample(&mut *self.pool.acquire().await?, id).await
    }

    /// The samples kept for a route, each with its signature and request, oldest first.
    pub async fn samples(&self, route: &str) -> Result<Vec<SampleSummary>, StoreError> {
        rows::sample_summaries(&mut *self.pool.acquire().await?, route).await
    }

    /// Deletes comparisons older than `max_age` before `now_ms` and all but the newest
    /// `max_rows`, and samples and counts older than `max_age`. Returns the comparison
    /// rows deleted.
    pub async fn prune(
        &self,
        now_ms: i64,
        max_age: Duration,
        max_rows: u64,
    ) -> Result<u64, StoreError> {
        let age = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now_ms.saturating_sub(age);
        self.writable()?;
        let mut conn = self.pool.acquire().await?;
        let pruned = rows::prune(&mut conn, cutoff, max_rows).await;
        let pruned = match pruned {
            Ok(deleted) => counts::prune(&mut conn, cutoff).await.map(|_| deleted),
            Err(error) => Err(error),
        };
        pruned.map_err(|error| self.read_only_or(error))
    }
}
