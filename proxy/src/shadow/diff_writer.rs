//! The diff store's writer: takes the shadow runtime's records in batches (one
//! transaction per batch, at most every [`FLUSH`]) and prunes by age and row count every
//! [`PRUNE`]. It runs on the control runtime, beside the admin listener that reads the
//! same store.
//!
//! A store that is down or slow costs comparisons, never traffic: until it connects
//! (retried with backoff) and whenever a batch fails, the records are dropped and counted
//! in `strangler_shadow_store_dropped_total{reason}`, and the failure is logged once per
//! outage.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strangler_control::diffs::{DiffStore, Record, StoreError};
use strangler_control::{ControlError, SharedDatabase};
use strangler_flags::shadow_policy::DiffSettings;
use strangler_flags::store_url::without_credentials;
use tokio::sync::{mpsc, watch};

/// Longest wait before a batch is written.
const FLUSH: Duration = Duration::from_millis(200);
/// How often a filling batch takes in what arrived: the writer wakes this often, not once
/// per record (a wake-up per record cost 5 µs per shadowed request, issue #20); the
/// shadow runtime's queue of 8,192 records fills between two only past 400,000 a second.
const TOP_UP: Duration = Duration::from_millis(20);
/// Largest batch.
const BATCH: usize = 256;
/// How often old comparisons are deleted.
const PRUNE: Duration = Duration::from_secs(60);
/// Longest a batch may take to write before it is dropped (a lock wait, a slow disk).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The store the writer connected, for the admin API's reports (empty until connected).
pub type SharedStore = Arc<OnceLock<DiffStore>>;

/// How long start-up waits for the diff store before leaving it to the writer's retries.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects at start (or takes the flag store's connection), within [`CONNECT_TIMEOUT`];
/// `None` leaves it to [`run`]'s retries.
pub async fn connect_at_start(
    database: &SharedDatabase,
    settings: &DiffSettings,
) -> Option<DiffStore> {
    let store = without_credentials(database.url());
    let connecting = diff_store(database, settings);
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(store)) => Some(store),
        Ok(Err(error)) => {
            tracing::error!(target: "strangler::shadow", %store, %error, "diff store unavailable at start; retrying, comparisons are dropped meanwhile");
            None
        }
        Err(_) => {
            tracing::error!(target: "strangler::shadow", %store, "diff store did not answer in time; retrying, comparisons are dropped meanwhile");
            None
        }
    }
}

/// The diff store on the process's one database, connecting it if no one has yet.
async fn diff_store(
    database: &SharedDatabase,
    settings: &DiffSettings,
) -> Result<DiffStore, ControlError> {
    let connected = database.get().await?;
    Ok(connected.diffs(settings.samples_per_signature))
}

/// Writes `records` to `store` (connecting to `database` first, retrying, if it is
/// `None`) until `shutdown`.
pub async fn run(
    database: SharedDatabase,
    store: Option<DiffStore>,
    settings: Arc<DiffSettings>,
    mut records: mpsc::Receiver<Record>,
    shared: SharedStore,
    shutdown: watch::Receiver<bool>,
) {
    let stopped = stopped(shutdown);
    tokio::pin!(stopped);
    let store = match store {
        Some(store) => store,
        None => tokio::select! {
            store = connect(&database, &settings, &mut records) => store,
            _ = &mut stopped => return,
        },
    };
    let _ = shared.set(store.clone());
    let mut writer = Writer {
        store,
        settings,
        failing: false,
    };
    let mut prune = tokio::time::interval(PRUNE);
    loop {
        let mut batch = Vec::with_capacity(BATCH);
        tokio::select! {
            count = records.recv_many(&mut batch, BATCH) => {
                if count == 0 {
                    return;
                }
                writer.write(&mut batch, &mut records).await;
            }
            _ = prune.tick() => writer.prune().await,
            _ = &mut stopped => return,
        }
    }
}

/// Resolves once `shutdown` turns true (or its sender is gone).
async fn stopped(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Connects, dropping (and counting) records meanwhile.
async fn connect(
    database: &SharedDatabase,
    settings: &DiffSettings,
    records: &mut mpsc::Receiver<Record>,
) -> DiffStore {
    let store = without_credentials(database.url());
    let mut backoff = Duration::from_millis(250);
    let mut logged = false;
    loop {
        match diff_store(database, settings).await {
            Ok(store) => return store,
            Err(error) if !logged => {
                tracing::error!(target: "strangler::shadow", %store, %error, "diff store unavailable; comparisons are dropped until it connects");
                logged = true;
            }
            Err(_) => {}
        }
        let deadline = tokio::time::sleep(backoff);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                Some(_) = records.recv() => crate::telemetry::metrics::record_diff_dropped("store-down"),
            }
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

struct Writer {
    store: DiffStore,
    settings: Arc<DiffSettings>,
    /// Set while writes fail, so an outage is logged once.
    failing: bool,
}

impl Writer {
    /// Waits up to [`FLUSH`] for the batch to fill, taking in what arrived every
    /// [`TOP_UP`], then writes it.
    async fn write(&mut self, batch: &mut Vec<Record>, records: &mut mpsc::Receiver<Record>) {
        let deadline = tokio::time::Instant::now() + FLUSH;
        while batch.len() < BATCH && top_up(batch, records) {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break;
            }
            tokio::time::sleep(TOP_UP.min(deadline - now)).await;
        }
        let written = tokio::time::timeout(WRITE_TIMEOUT, self.store.insert(batch)).await;
        match written.unwrap_or_else(|_| Err(StoreError::Timeout(WRITE_TIMEOUT))) {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::info!(target: "strangler::shadow", "diff store writable again");
            }
            Ok(()) => {}
            Err(error) => {
                for _ in batch.iter() {
                    crate::telemetry::metrics::record_diff_dropped("store-error");
                }
                if !std::mem::replace(&mut self.failing, true) {
                    tracing::error!(target: "strangler::shadow", %error, "diff store write failed; comparisons are dropped");
                }
            }
        }
    }

    async fn prune(&self) {
        let (age, rows) = (self.settings.max_age, self.settings.max_rows);
        let now = now_ms();
        match self.store.prune(now, age, rows).await {
            Ok(0) => {}
            Ok(deleted) => {
                tracing::info!(target: "strangler::shadow", deleted, "old comparisons pruned")
            }
            Err(error) => {
                tracing::warn!(target: "strangler::shadow", %error, "pruning the diff store failed")
            }
        }
    }
}

/// Moves the records waiting in `records` into `batch`, up to [`BATCH`], without waiting;
/// `false` once the senders are gone and nothing is left.
fn top_up(batch: &mut Vec<Record>, records: &mut mpsc::Receiver<Record>) -> bool {
    while batch.len() < BATCH {
        match records.try_recv() {
            Ok(record) => batch.push(record),
            Err(mpsc::error::TryRecvError::Empty) => return true,
            Err(mpsc::error::TryRecvError::Disconnected) => return false,
        }
    }
    true
}

/// Milliseconds since the Unix epoch: the clock the diff store keeps comparisons by.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
