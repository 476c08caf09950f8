//! The rollup's flusher: every [`FLUSH`] it takes the counts the request path and the
//! shadow runtime added since the last flush and adds them to the store's row of the
//! current hour, in one transaction; every [`PRUNE`] it deletes rows older than the
//! retention. It runs on the control runtime; the instance flushes once more after
//! draining at shutdown ([`Flusher::flush`]).
//!
//! A store that is down costs nothing but freshness: the counts are given back to the
//! tallies and go with the next flush (attributed to that flush's hour).

use std::sync::Arc;
use std::time::Duration;

use strangler_control::readiness::RETENTION_DAYS;
use strangler_control::{ControlError, SharedDatabase};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::telemetry::rollup::Rollup;

/// How often the counts are flushed.
pub const FLUSH: Duration = Duration::from_secs(60);
/// How often rows past the retention are deleted.
const PRUNE: Duration = Duration::from_secs(3600);
/// Longest a flush may take at shutdown.
pub const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);

/// Flushes one instance's tallies to the store.
pub struct Flusher {
    database: SharedDatabase,
    rollup: Arc<Rollup>,
}

impl Flusher {
    /// A flusher of `rollup` into `database`'s rollup.
    pub fn new(database: SharedDatabase, rollup: Arc<Rollup>) -> Flusher {
        Flusher { database, rollup }
    }

    /// The store the report reads.
    pub fn database(&self) -> &SharedDatabase {
        &self.database
    }

    /// Adds the counts since the last flush to the current hour's rows; on failure they
    /// are kept for the next flush.
    pub async fn flush(&self) -> Result<(), ControlError> {
        let taken = self.rollup.take();
        if taken.is_empty() {
            return Ok(());
        }
        let counts: Vec<(&str, _)> = taken.iter().map(|(r, c)| (&**r, *c)).collect();
        let written = match self.database.get().await {
            Ok(database) => {
                database
                    .rollups()
                    .add(OffsetDateTime::now_utc(), &counts)
                    .await
            }
            Err(error) => Err(error),
        };
        if written.is_err() {
            self.rollup.give_back(&taken);
        }
        written
    }

    /// Flushes every [`FLUSH`] and prunes every [`PRUNE`] until `shutdown`.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let stopped = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        tokio::pin!(stopped);
        let mut flush = tokio::time::interval(FLUSH);
        let mut prune = tokio::time::interval(PRUNE);
        flush.tick().await;
        let mut failing = false;
        loop {
            tokio::select! {
                _ = flush.tick() => failing = self.report(self.flush().await, failing),
                _ = prune.tick() => self.prune().await,
                _ = &mut stopped => return,
            }
        }
    }

    /// Logs the first failure of an outage and the recovery; returns whether it fails.
    fn report(&self, flushed: Result<(), ControlError>, failing: bool) -> bool {
        match flushed {
            Err(error) if !failing => {
                tracing::error!(target: "strangler::readiness", %error, "readiness rollup not flushed; the counts are kept for the next flush");
                true
            }
            Err(_) => true,
            Ok(()) if failing => {
                tracing::info!(target: "strangler::readiness", "readiness rollup flushed again");
                false
            }
            Ok(()) => false,
        }
    }

    async fn prune(&self) {
        let Ok(database) = self.database.get().await else {
            return;
        };
        let cutoff = OffsetDateTime::now_utc() - time::Duration::days(i64::from(RETENTION_DAYS));
        if let Err(error) = database.rollups().prune(cutoff).await {
            tracing::warn!(target: "strangler::readiness", %error, "readiness rollup not pruned");
        }
    }
}
