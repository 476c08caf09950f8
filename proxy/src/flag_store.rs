//! The proxy's side of the runtime flag store: connect at start, keep the overrides in sync
//! (a change through any instance sharing the store is honoured here within a poll), and
//! apply changes made through this instance's admin API.
//!
//! Polling costs one `SELECT` of the store's version every [`POLL`]; the overrides are read
//! only when the version moved. Schedules are functions of the clock, so while any route has
//! one the overrides are folded again every poll (publishing only when a percentage moved).
//! If the store is unreachable the proxy keeps serving the last overrides it read, logs once
//! per outage, and picks up again when the store is back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use strangler_control::{AuditEntry, Change, ControlError, Overrides, Store};
use tokio::sync::watch;

use crate::live::LiveConfig;

/// How often the store's version is checked.
pub const POLL: Duration = Duration::from_millis(250);
/// How long start-up waits for the store before serving on routes.yaml alone.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connected flag store and the configuration it feeds.
pub struct FlagStore {
    store: Store,
    live: Arc<LiveConfig>,
    /// Set while the store is failing, so an outage is logged once, not every poll.
    failing: AtomicBool,
}

impl FlagStore {
    /// Connects (running migrations) and folds the stored overrides into `live`.
    pub async fn connect(url: &str, live: Arc<LiveConfig>) -> Result<FlagStore, ControlError> {
        let store = Store::connect(url).await?;
        let flags = FlagStore {
            store,
            live,
            failing: AtomicBool::new(false),
        };
        flags.sync().await?;
        Ok(flags)
    }

    /// Reads the overrides if the store's version moved (or a schedule may have) and folds
    /// them in. Returns the overrides now applied.
    pub async fn sync(&self) -> Result<Arc<Overrides>, ControlError> {
        let applied = self.live.overrides();
        let version = self.store.version().await?;
        if version == applied.version && applied.routes.values().all(|r| r.schedule.is_none()) {
            return Ok(applied);
        }
        let overrides = if version == applied.version {
            Overrides::clone(&applied)
        } else {
            self.store.overrides().await?
        };
        self.live.apply_overrides(overrides);
        Ok(self.live.overrides())
    }

    /// Applies one change for `actor` (audited, one transaction) and folds it in at once.
    pub async fn apply(
        &self,
        change: Change,
        actor: &str,
        comment: Option<&str>,
    ) -> Result<AuditEntry, ControlError> {
        let file = self.live.current().file.clone();
        let known = move |route: &str| file.route(route).is_some();
        let entry = self.store.apply(change, actor, comment, &known).await?;
        self.sync().await?;
        Ok(entry)
    }

    /// Reverts audit entry `id` for `actor` and folds the result in.
    pub async fn revert(
        &self,
        id: i64,
        actor: &str,
        comment: Option<&str>,
    ) -> Result<AuditEntry, ControlError> {
        let entry = self.store.revert(id, actor, comment).await?;
        self.sync().await?;
        Ok(entry)
    }

    /// The newest audit entries, optionally of one route.
    pub async fn audit(
        &self,
        route: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, ControlError> {
        self.store.audit(route, limit).await
    }

    /// Polls until `shutdown` turns true.
    pub async fn poll(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            match self.sync().await {
                Ok(_) if self.failing.swap(false, Ordering::Relaxed) => {
                    tracing::info!(target: "strangler::flags", "flag store reachable again");
                }
                Ok(_) => {}
                Err(error) if !self.failing.swap(true, Ordering::Relaxed) => {
                    tracing::error!(target: "strangler::flags", %error, "flag store unreachable; serving the last flags read");
                }
                Err(_) => {}
            }
        }
    }
}
