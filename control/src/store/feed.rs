//! Change notifications, on PostgreSQL: every change transaction ends with
//! `NOTIFY strangler_flags, '<version>'`, which PostgreSQL delivers to every listening
//! connection when (and only if) the transaction commits. An instance that follows the feed
//! reads a change within milliseconds instead of at its next poll. Notifications sent while
//! a listener was disconnected are lost, so the feed says "look now" and polling stays the
//! backstop. SQLite has no such mechanism: its instances share one file and poll.

use sqlx::postgres::PgListener;
use sqlx::AnyConnection;

use crate::error::ControlError;

/// The channel every change notifies, with the new version as payload.
pub const CHANNEL: &str = "strangler_flags";

/// A connection listening on [`CHANNEL`].
pub struct ChangeFeed {
    listener: PgListener,
}

impl ChangeFeed {
    /// Connects to the PostgreSQL store at `url` and listens.
    pub(super) async fn connect(url: &str) -> Result<ChangeFeed, ControlError> {
        let connect_error = super::database::connect_error(url);
        let mut listener = PgListener::connect(url).await.map_err(connect_error)?;
        listener.listen(CHANNEL).await?;
        Ok(ChangeFeed { listener })
    }

    /// Returns when the store may have changed: a change committed, or the connection was
    /// lost and made again (changes meanwhile were not notified). Read the version then.
    /// An error means the connection is gone for good: drop the feed.
    pub async fn changed(&mut self) -> Result<(), ControlError> {
        self.listener.try_recv().await?;
        Ok(())
    }
}

/// Queues the notification of `version` in the caller's transaction (sent on commit).
pub(super) async fn notify(conn: &mut AnyConnection, version: i64) -> Result<(), ControlError> {
    // NOTIFY takes no bind parameters; the payload is an integer of ours.
    let sql = format!("NOTIFY {CHANNEL}, '{version}'");
    sqlx::query(&sql).execute(conn).await?;
    Ok(())
}
