//! Claims of notifications that every instance of a fleet could send (a ramp step that
//! waits on a gate is seen by all of them): the first instance to insert the notice's id
//! sends it; the others find it taken.

use time::OffsetDateTime;

use super::Store;
use crate::error::ControlError;

impl Store {
    /// True when this call took `id` (send the notice), false when another took it first.
    pub async fn claim_notice(&self, id: &str, at: OffsetDateTime) -> Result<bool, ControlError> {
        self.writable()?;
        let at_ms = (at.unix_timestamp_nanos() / 1_000_000) as i64;
        let sql = "INSERT INTO notification_claim (id, at_ms) VALUES ($1, $2) \
                   ON CONFLICT (id) DO NOTHING";
        let done = sqlx::query(sql)
            .bind(id)
            .bind(at_ms)
            .execute(&mut *self.pool.acquire().await?)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
