//! The evidence of gated ramps' steps, shared by a fleet: each instance counts the new
//! side's requests of a ramped route since the step began and upserts its totals as one
//! row (route, step start, instance); the instance deciding an advance sums the step's rows,
//! so `min_requests` and the error rate are judged on the fleet's traffic, not one
//! instance's share. Rows of a route's earlier steps are deleted as its instances publish.

use sqlx::Row;
use strangler_flags::guard::{WindowCounts, LATENCY_BUCKETS};

use super::flags::corrupt;
use super::Store;
use crate::error::ControlError;

impl Store {
    /// Records `instance`'s totals for the step of `route` that began at `since_ms`, and
    /// forgets the route's earlier steps.
    pub async fn publish_evidence(
        &self,
        route: &str,
        since_ms: i64,
        instance: &str,
        counts: &WindowCounts,
        now_ms: i64,
    ) -> Result<(), ControlError> {
        self.writable()?;
        let latency =
            serde_json::to_string(&counts.latency.to_vec()).map_err(corrupt("latency"))?;
        let mut conn = self.pool.acquire().await?;
        let sql = "INSERT INTO ramp_evidence (route, since_ms, instance, requests, errors, \
                   latency, at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                   ON CONFLICT (route, since_ms, instance) DO UPDATE SET \
                   requests = excluded.requests, errors = excluded.errors, \
                   latency = excluded.latency, at_ms = excluded.at_ms";
        sqlx::query(sql)
            .bind(route)
            .bind(since_ms)
            .bind(instance)
            .bind(counts.requests as i64)
            .bind(counts.errors as i64)
            .bind(latency)
            .bind(now_ms)
            .execute(&mut *conn)
            .await?;
        let sql = "DELETE FROM ramp_evidence WHERE route = $1 AND since_ms < $2";
        sqlx::query(sql)
            .bind(route)
            .bind(since_ms)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// The fleet's counts for the step of `route` that began at `since_ms`.
    pub async fn step_evidence(
        &self,
        route: &str,
        since_ms: i64,
    ) -> Result<WindowCounts, ControlError> {
        self.check_identity()?;
        let sql = "SELECT requests, errors, latency FROM ramp_evidence \
                   WHERE route = $1 AND since_ms = $2";
        let rows = sqlx::query(sql)
            .bind(route)
            .bind(since_ms)
            .fetch_all(&mut *self.pool.acquire().await?)
            .await?;
        let mut sum = WindowCounts::default();
        for row in rows {
            sum.requests += row.try_get::<i64, _>(0)?.max(0) as u64;
            sum.errors += row.try_get::<i64, _>(1)?.max(0) as u64;
            let latency: Vec<u64> =
                serde_json::from_str(&row.try_get::<String, _>(2)?).map_err(corrupt("latency"))?;
            for (total, count) in sum
                .latency
                .iter_mut()
                .zip(latency.iter().take(LATENCY_BUCKETS))
            {
                *total += count;
            }
        }
        Ok(sum)
    }
}
