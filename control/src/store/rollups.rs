//! The readiness rollup's table (`route_rollup`): per route and hour, the requests each
//! side served, fallbacks, shadow comparisons and matches. Instances add their counts to
//! the hour's row with one upsert that sums, so a fleet sharing the store writes the
//! fleet's totals and no instance overwrites another. Rows past the retention are pruned.

use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

use super::sqlite_file::{self, SqliteFile};
use crate::error::ControlError;
use crate::readiness::{hour_of, Counts, HourCounts};

const ADD: &str = "INSERT INTO route_rollup (route, hour_ms, served_new, served_legacy, \
     fallbacks, comparisons, matches) VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (route, hour_ms) DO UPDATE SET \
     served_new = route_rollup.served_new + excluded.served_new, \
     served_legacy = route_rollup.served_legacy + excluded.served_legacy, \
     fallbacks = route_rollup.fallbacks + excluded.fallbacks, \
     comparisons = route_rollup.comparisons + excluded.comparisons, \
     matches = route_rollup.matches + excluded.matches";

/// The rollup, a view of the [`Database`](super::Database) pool; cheap to clone.
#[derive(Debug, Clone)]
pub struct Rollups {
    pool: AnyPool,
    /// The SQLite file, checked before every write; `None` for PostgreSQL.
    file: Option<Arc<SqliteFile>>,
}

impl Rollups {
    pub(super) fn new(pool: AnyPool, file: Option<Arc<SqliteFile>>) -> Rollups {
        Rollups { pool, file }
    }

    /// Adds each route's counts to its row of the hour `at` falls in, in one transaction.
    pub async fn add(
        &self,
        at: OffsetDateTime,
        counts: &[(&str, Counts)],
    ) -> Result<(), ControlError> {
        self.writable()?;
        let hour_ms = millis(hour_of(at));
        let mut tx = self.pool.begin().await?;
        for (route, c) in counts.iter().filter(|(_, c)| !c.is_empty()) {
            sqlx::query(ADD)
                .bind(*route)
                .bind(hour_ms)
                .bind(signed(c.served_new))
                .bind(signed(c.served_legacy))
                .bind(signed(c.fallbacks))
                .bind(signed(c.comparisons))
                .bind(signed(c.matches))
                .execute(&mut *tx)
                .await
                .map_err(|error| self.read_only_or(error.into()))?;
        }
        tx.commit()
            .await
            .map_err(|error| self.read_only_or(error.into()))
    }

    /// Every row from the hour `since` falls in on, of every route, oldest first.
    pub async fn since(&self, since: OffsetDateTime) -> Result<Vec<HourCounts>, ControlError> {
        let sql = "SELECT route, hour_ms, served_new, served_legacy, fallbacks, comparisons, \
             matches FROM route_rollup WHERE hour_ms >= $1 ORDER BY hour_ms, route";
        let rows = sqlx::query(sql)
            .bind(millis(hour_of(since)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row).collect()
    }

    /// Deletes the rows of hours that started before `before`; returns how many.
    pub async fn prune(&self, before: OffsetDateTime) -> Result<u64, ControlError> {
        self.writable()?;
        let sql = "DELETE FROM route_rollup WHERE hour_ms < $1";
        let done = sqlx::query(sql)
            .bind(millis(before))
            .execute(&self.pool)
            .await;
        Ok(done
            .map_err(|error| self.read_only_or(error.into()))?
            .rows_affected())
    }

    fn writable(&self) -> Result<(), ControlError> {
        self.file
            .as_ref()
            .map_or(Ok(()), |file| file.check_writable())
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
}

fn row(row: &AnyRow) -> Result<HourCounts, ControlError> {
    let count = |index: usize| -> Result<u64, ControlError> {
        Ok(u64::try_from(row.try_get::<i64, _>(index)?).unwrap_or(0))
    };
    let hour_ms: i64 = row.try_get(1)?;
    let hour = OffsetDateTime::from_unix_timestamp_nanos(i128::from(hour_ms) * 1_000_000).map_err(
        |error| ControlError::Corrupt {
            what: "route_rollup hour_ms".into(),
            message: error.to_string(),
        },
    )?;
    Ok(HourCounts {
        route: row.try_get(0)?,
        hour,
        counts: Counts {
            served_new: count(2)?,
            served_legacy: count(3)?,
            fallbacks: count(4)?,
            comparisons: count(5)?,
            matches: count(6)?,
        },
    })
}

fn millis(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

fn signed(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}
