//! The proxy's side of the runtime flag store: connect at start, keep the overrides in sync
//! (a change through any instance sharing the store is honoured here within a poll), apply
//! changes made through this instance's admin API, and live through the store's outages.
//!
//! On PostgreSQL every change is notified (`LISTEN strangler_flags`, see
//! [`strangler_control::ChangeFeed`]) and this instance syncs as soon as it hears of one; the
//! poll stays as the backstop (a feed drops notifications while it reconnects) and is all
//! there is on SQLite. Polling costs one `SELECT` of the store's version every [`POLL`]; the
//! overrides are read only when the version moved. Schedules are functions of the clock, so
//! while any route has one the overrides are folded again every poll (publishing only when a
//! percentage moved).
//!
//! Outages. Every store read that moved the version is also written to the flag cache
//! ([`crate::live::flag_cache`]). An instance that cannot reach the store at start serves
//! routes.yaml with the cached overrides (or alone, without a usable cache), logs it as an
//! error and keeps trying in the background, backing off from [`RETRY_FIRST`] to
//! [`RETRY_MAX`]; the first successful connect reads the store's overrides whole and they
//! replace the cached ones, whatever the versions say. An instance that loses the store later
//! keeps serving the last overrides it read and retries the same way. Meanwhile flag changes
//! through this instance are refused (503): they could not be recorded. Health is reported by
//! [`crate::live::flag_health`]. The rollback guard alone acts during an outage: its trip is
//! held in this process and in the cache ([`crate::live::held_trips`]), folded over every
//! read, until the guard records it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use strangler_control::{AuditEntry, Change, ControlError, Overrides, SharedDatabase, Store};
use strangler_flags::store_url::without_credentials;
use time::OffsetDateTime;
use tokio::sync::{watch, Notify};

use crate::live::config::LiveConfig;
use crate::live::flag_cache::{CacheError, Cached, FlagCache};
use crate::live::flag_health::{StoreHealth, StoreState};
use crate::live::held_trips::{Held, HeldTrip, HeldTrips};

/// How often the store's version is checked.
pub const POLL: Duration = Duration::from_millis(250);
/// How long start-up waits for the store before serving on the cache (or routes.yaml alone),
/// and how long any one attempt to reach it may take before it counts as failed (a
/// half-open connection never errors by itself).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The first wait before trying an unreachable store again; it doubles on every failure.
pub const RETRY_FIRST: Duration = Duration::from_millis(250);
/// The longest wait between two attempts to reach an unreachable store.
pub const RETRY_MAX: Duration = Duration::from_secs(5);
/// How long a poll's read of the version may take before the store counts as down. The
/// version is one integer; a store that cannot give it this fast (a refused connect, which
/// the pool would retry for seconds; a frozen server) is an outage, noticed within a poll
/// and this.
pub const VERSION_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a change made while the store is known down waits for it to answer before it
/// is refused (503): a store that came back answers well within this, one still down gets
/// no more of the caller's time.
pub const WRITE_PROBE: Duration = Duration::from_millis(250);

/// Why a flag operation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum FlagStoreError {
    /// The store has not answered since this instance started.
    #[error("the flag store {store} has not answered since this instance started ({reason}); flag changes are refused until it does")]
    NotConnected {
        /// The store, without credentials.
        store: String,
        /// The last error trying to reach it.
        reason: String,
    },
    /// The store did not answer in time.
    #[error("the flag store did not answer within {0:?}")]
    Timeout(Duration),
    /// The store has been down since `since` and did not answer a short probe: a change
    /// is refused at once rather than after the pool's own wait.
    #[error("the flag store is down since {since} ({reason}); flag changes are refused until it is back")]
    Down {
        /// When the outage began (RFC 3339).
        since: String,
        /// The last error trying to reach it.
        reason: String,
    },
    /// The store refused the change or failed.
    #[error(transparent)]
    Control(#[from] ControlError),
}

/// The flag store of one instance and the configuration it feeds.
pub struct FlagStore {
    url: String,
    /// The process's one database, shared with the diff writer.
    database: SharedDatabase,
    /// The connection pool, once a connect succeeded (the pool reconnects by itself later).
    store: OnceLock<Store>,
    live: Arc<LiveConfig>,
    cache: Arc<FlagCache>,
    health: StoreHealth,
    /// Serialises syncs, so a slow read of an older version never publishes over a newer one.
    syncing: tokio::sync::Mutex<()>,
    /// True once the overrides applied were read from the store rather than the cache.
    from_store: AtomicBool,
    /// The guard's trips the store has not recorded, folded over every overrides applied.
    held: HeldTrips,
}

impl FlagStore {
    /// Connects to `database` (running migrations) within [`CONNECT_TIMEOUT`] and folds
    /// its overrides into `live`; if it cannot, folds the overrides of `cache` instead and
    /// says so in the log. The guard's trips held in the cache are held again either way.
    /// [`FlagStore::run`] keeps trying.
    pub async fn open(
        database: SharedDatabase,
        cache: FlagCache,
        live: Arc<LiveConfig>,
    ) -> FlagStore {
        let cached = cache.load();
        let held = match &cached {
            Ok(Some(cached)) => cached.held.clone(),
            _ => Held::default(),
        };
        let url = database.url().to_owned();
        let flags = FlagStore {
            health: StoreHealth::new(without_credentials(&url), live.notifier().clone()),
            url,
            database,
            store: OnceLock::new(),
            live,
            cache: Arc::new(cache),
            syncing: tokio::sync::Mutex::new(()),
            from_store: AtomicBool::new(false),
            held: HeldTrips::new(held),
        };
        if let Err(error) = flags.reach().await {
            flags.serve_cache(&error.to_string(), cached);
        }
        flags
    }

    /// The store's health as this instance sees it.
    pub fn health(&self) -> &StoreHealth {
        &self.health
    }

    /// Until `shutdown` turns true: syncs when the store notifies a change (PostgreSQL) and
    /// every [`POLL`] as a backstop while the store answers; retries with a doubling wait (at
    /// most [`RETRY_MAX`]) while it does not.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let notified = Arc::new(Notify::new());
        let mut listening = false;
        let mut retry = RETRY_FIRST;
        let mut failing = !self.from_store.load(Ordering::Relaxed);
        loop {
            if let (false, Some(store)) = (listening, self.store.get()) {
                tokio::spawn(follow_changes(store.clone(), notified.clone()));
                listening = true;
            }
            let wait = if failing { retry } else { POLL };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = notified.notified() => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            match self.reach().await {
                Ok(()) => (failing, retry) = (false, RETRY_FIRST),
                Err(error) => {
                    self.health.failed(&error.to_string());
                    retry = if failing {
                        (retry * 2).min(RETRY_MAX)
                    } else {
                        RETRY_FIRST
                    };
                    failing = true;
                }
            }
        }
    }

    /// One bounded attempt: connect if never connected, then sync.
    async fn reach(&self) -> Result<(), FlagStoreError> {
        let attempt = async {
            if self.store.get().is_none() {
                let store = self.database.get().await?.flags();
                let _ = self.store.set(store);
            }
            self.sync().await
        };
        tokio::time::timeout(CONNECT_TIMEOUT, attempt)
            .await
            .unwrap_or(Err(FlagStoreError::Timeout(CONNECT_TIMEOUT)))
    }

    /// Reads the overrides if the store's version moved (or they came from the cache) and
    /// folds them in; while a schedule is set, folds them again for the clock. Writes the
    /// cache after every read.
    async fn sync(&self) -> Result<(), FlagStoreError> {
        let store = self.connected()?;
        let _serial = self.syncing.lock().await;
        let applied = self.live.overrides();
        let version = tokio::time::timeout(VERSION_TIMEOUT, store.version())
            .await
            .map_err(|_| FlagStoreError::Timeout(VERSION_TIMEOUT))??;
        if version != applied.version || !self.from_store.load(Ordering::Relaxed) {
            self.live
                .apply_overrides(self.held.fold(store.overrides().await?));
            self.from_store.store(true, Ordering::Relaxed);
            let now = Some(time::OffsetDateTime::now_utc());
            let overrides = self.live.overrides();
            self.cache
                .store_in_background(overrides, self.held.all(), now);
        } else if applied.routes.values().any(|r| r.schedule.is_some()) {
            self.live.apply_overrides(Overrides::clone(&applied));
        }
        let version = self.live.overrides().version;
        match store.writable() {
            Ok(()) => self.health.connected(version),
            Err(error) if error.is_read_only() => {
                self.health.read_only(version, &error.to_string())
            }
            Err(error) => return Err(error.into()),
        }
        Ok(())
    }

    /// At start, with the store unreachable because of `error`: folds `cached` in if it is
    /// usable, and logs what is served either way.
    fn serve_cache(&self, error: &str, cached: Result<Option<Cached>, CacheError>) {
        let store = without_credentials(&self.url);
        let cache = self.cache.path().display().to_string();
        match cached {
            Ok(Some(cached)) => {
                let version = cached.overrides.version;
                self.live.apply_overrides(self.held.fold(cached.overrides));
                self.health
                    .serving_cache(Some((version, cached.read_at)), error);
                tracing::error!(target: "strangler::flags", %store, %error, %cache, version, read_at = %cached.read_at, "flag store unreachable at start; serving routes.yaml with the cached flags until it answers");
            }
            Ok(None) => {
                self.health.serving_cache(None, error);
                tracing::error!(target: "strangler::flags", %store, %error, %cache, "flag store unreachable at start and no flag cache; serving routes.yaml alone until it answers");
            }
            Err(cache_error) => {
                self.health.serving_cache(None, error);
                tracing::error!(target: "strangler::flags", %store, %error, %cache_error, "flag store unreachable at start and the flag cache is unusable (ignored); serving routes.yaml alone until it answers");
            }
        }
    }

    /// Holds the guard's trip of `route`, which the store could not record: the route's kill
    /// switch goes on in this process (again, should a read have replaced it) and stays on
    /// over every read until [`FlagStore::release`]; the trip is in the cache file when this
    /// returns, so a restart holds it too.
    pub async fn hold(&self, route: &str, trip: HeldTrip) {
        self.held.hold(route, trip);
        // At once, even while a sync waits for a store that does not answer.
        self.fold_held();
        let _serial = self.syncing.lock().await;
        // Again: a sync that read the held trips before this one may have published since.
        self.fold_held();
        let written = self
            .cache
            .store_in_background(self.live.overrides(), self.held.all(), None);
        let _ = written.await;
    }

    /// Publishes the overrides applied now with every held kill switch on (nothing when
    /// they are on already).
    fn fold_held(&self) {
        let overrides = self.held.fold(Overrides::clone(&self.live.overrides()));
        self.live.apply_overrides(overrides);
    }

    /// Stops holding the trip of `route`: the store recorded it, or its kill switch was on
    /// already. The cache forgets it too.
    pub async fn release(&self, route: &str) {
        let _serial = self.syncing.lock().await;
        if self.held.release(route) {
            let written =
                self.cache
                    .store_in_background(self.live.overrides(), self.held.all(), None);
            let _ = written.await;
        }
    }

    /// The guard's trips held now: at start, those of the cache, for the guard to record.
    pub fn held(&self) -> Held {
        self.held.all()
    }

    /// The store, if a connect ever succeeded.
    fn connected(&self) -> Result<&Store, FlagStoreError> {
        self.store
            .get()
            .ok_or_else(|| FlagStoreError::NotConnected {
                store: without_credentials(&self.url),
                reason: self
                    .health
                    .error()
                    .unwrap_or_else(|| "not tried yet".into()),
            })
    }

    /// The store to record a change in. While it is known down (degraded), one probe of
    /// at most [`WRITE_PROBE`] decides: a store that is back answers and the change goes
    /// ahead; otherwise [`FlagStoreError::Down`] at once.
    async fn writer(&self) -> Result<&Store, FlagStoreError> {
        let store = self.connected()?;
        let (state, since) = self.health.state();
        if state != StoreState::Degraded {
            return Ok(store);
        }
        match tokio::time::timeout(WRITE_PROBE, store.version()).await {
            Ok(Ok(_)) => Ok(store),
            Ok(Err(error)) => Err(error.into()),
            Err(_) => Err(FlagStoreError::Down {
                since: since
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                reason: self.health.error().unwrap_or_default(),
            }),
        }
    }

    /// Applies one change for `actor` (audited, one transaction) and folds it in at once
    /// (or, should the store fail right after the commit, at the next poll that reaches it).
    pub async fn apply(
        &self,
        change: Change,
        actor: &str,
        comment: Option<&str>,
    ) -> Result<AuditEntry, FlagStoreError> {
        self.apply_at(change, actor, comment, OffsetDateTime::now_utc())
            .await
    }

    /// [`FlagStore::apply`] recorded at `now` (the ramp evaluator's clock).
    pub async fn apply_at(
        &self,
        change: Change,
        actor: &str,
        comment: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<AuditEntry, FlagStoreError> {
        let file = self.live.current().file.clone();
        let known = move |route: &str| file.route(route).is_some();
        let entry = self
            .writer()
            .await?
            .apply_at(change, actor, comment, &known, now)
            .await?;
        self.fold_committed().await;
        crate::live::notices::from_entry(self.live.notifier(), &entry);
        Ok(entry)
    }

    /// The store, for the ramp evaluator's reads and its evidence; an error until a
    /// connect succeeded.
    pub fn store(&self) -> Result<&Store, FlagStoreError> {
        self.connected()
    }

    /// Reverts audit entry `id` for `actor` and folds the result in.
    pub async fn revert(
        &self,
        id: i64,
        actor: &str,
        comment: Option<&str>,
    ) -> Result<AuditEntry, FlagStoreError> {
        let entry = self.writer().await?.revert(id, actor, comment).await?;
        self.fold_committed().await;
        crate::live::notices::from_entry(self.live.notifier(), &entry);
        Ok(entry)
    }

    /// Folds in a change this instance just committed. A failure is logged, not returned:
    /// the change is recorded, and an error would invite the operator to make it twice.
    async fn fold_committed(&self) {
        if let Err(error) = self.sync().await {
            tracing::warn!(target: "strangler::flags", %error, "change committed but not folded in yet; the next poll that reaches the store will");
        }
    }

    /// The newest audit entries, optionally of one route.
    pub async fn audit(
        &self,
        route: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, FlagStoreError> {
        Ok(self.connected()?.audit(route, limit).await?)
    }
}

/// Wakes `notified` whenever `store` notifies a change (PostgreSQL LISTEN/NOTIFY), and once
/// after every (re)connect of the feed, since changes meanwhile were not notified. A lost feed
/// is made again after [`RETRY_MAX`]; the poll covers the gap. Returns at once for a store
/// without notifications (SQLite). Ends with the runtime.
async fn follow_changes(store: Store, notified: Arc<Notify>) {
    loop {
        match tokio::time::timeout(CONNECT_TIMEOUT, store.changes()).await {
            Ok(Ok(None)) => return,
            Ok(Ok(Some(mut feed))) => {
                notified.notify_one();
                while feed.changed().await.is_ok() {
                    notified.notify_one();
                }
            }
            Ok(Err(_)) | Err(_) => {}
        }
        tokio::time::sleep(RETRY_MAX).await;
    }
}
