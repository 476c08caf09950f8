//! The live configuration: the compiled routes.yaml snapshot the request path reads, and the
//! one place that replaces it.
//!
//! Readers call [`LiveConfig::current`], a lock-free `ArcSwap` load; a request keeps the `Arc`
//! it started with, so a reload never changes the rules under an in-flight request. A reload
//! parses, validates and compiles a whole new snapshot first and swaps it in only when every
//! step succeeded: on any error the old snapshot keeps serving.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use serde::Serialize;
use strangler_flags::{ConfigErrors, Snapshot};

use crate::telemetry::RouteMetrics;

/// Identifies one loaded snapshot: a counter that grows with every successful reload of
/// changed content, and the hash of the file's content (equal files, equal hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Revision {
    /// 1 for the snapshot loaded at start, then +1 for each reload that changed something.
    pub counter: u64,
    /// FNV-1a 64 of the file content, printed as 16 hex digits.
    #[serde(serialize_with = "hex_hash")]
    pub hash: u64,
}

fn hex_hash<S: serde::Serializer>(hash: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{hash:016x}"))
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{:016x}", self.counter, self.hash)
    }
}

/// A compiled snapshot together with what the proxy derived from it once, at load time.
pub struct Loaded {
    /// Which load this is.
    pub revision: Revision,
    /// The routing rules: route table, tenants, rollout.
    pub snapshot: Snapshot,
    /// Metric handles registered once per route, so the request path does no label lookups.
    pub metrics: RouteMetrics,
    /// When this snapshot started serving.
    pub loaded_at: SystemTime,
}

/// The outcome of a reload that did not fail.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ReloadOutcome {
    /// The revision now serving.
    pub revision: Revision,
    /// False when the file's content was identical to what was serving (nothing swapped).
    pub changed: bool,
}

/// Owns the current snapshot and the file it came from.
pub struct LiveConfig {
    /// The routes.yaml path as the operator gave it (reloads read it again).
    path: PathBuf,
    /// The snapshot requests read.
    current: ArcSwap<Loaded>,
    /// Next revision counter.
    counter: AtomicU64,
    /// Serialises reloads (watcher, SIGHUP and admin may fire together); readers never take it.
    reloading: Mutex<()>,
}

impl LiveConfig {
    /// Loads the file for the first time; an error here means the proxy does not start.
    pub fn load(path: &Path) -> Result<LiveConfig, ConfigErrors> {
        let snapshot = Snapshot::load(path)?;
        let loaded = Loaded::new(snapshot, 1);
        crate::telemetry::record_revision(loaded.revision.counter);
        Ok(LiveConfig {
            path: path.to_path_buf(),
            current: ArcSwap::from_pointee(loaded),
            counter: AtomicU64::new(2),
            reloading: Mutex::new(()),
        })
    }

    /// The snapshot serving now. Lock-free; keep the `Arc` for the whole request.
    pub fn current(&self) -> Arc<Loaded> {
        self.current.load_full()
    }

    /// The routes.yaml path this configuration reloads from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads, validates and compiles the file again and swaps it in if it changed.
    ///
    /// `trigger` (watch, sighup, admin) only goes to the log. On error the old snapshot keeps
    /// serving, the error is logged with its location and counted.
    pub fn reload(&self, trigger: &'static str) -> Result<ReloadOutcome, ConfigErrors> {
        let _serial = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let snapshot = match Snapshot::load(&self.path) {
            Ok(snapshot) => snapshot,
            Err(errors) => {
                crate::telemetry::record_reload("error");
                tracing::error!(target: "strangler::reload", trigger, errors = %errors, "reload rejected; the previous configuration keeps serving");
                return Err(errors);
            }
        };
        let old = self.current();
        if snapshot.content_hash() == old.revision.hash {
            crate::telemetry::record_reload("unchanged");
            return Ok(ReloadOutcome {
                revision: old.revision,
                changed: false,
            });
        }
        warn_about_restart_only_keys(&old.snapshot, &snapshot);
        let loaded = Loaded::new(snapshot, self.counter.fetch_add(1, Ordering::Relaxed));
        let revision = loaded.revision;
        self.current.store(Arc::new(loaded));
        crate::telemetry::record_reload("ok");
        crate::telemetry::record_revision(revision.counter);
        tracing::info!(target: "strangler::reload", trigger, %revision, "configuration reloaded");
        Ok(ReloadOutcome {
            revision,
            changed: true,
        })
    }
}

impl Loaded {
    fn new(snapshot: Snapshot, counter: u64) -> Loaded {
        Loaded {
            revision: Revision {
                counter,
                hash: snapshot.content_hash(),
            },
            metrics: RouteMetrics::register(&snapshot),
            snapshot,
            loaded_at: SystemTime::now(),
        }
    }
}

/// Listeners and threads are bound once at start; say so instead of pretending to apply them.
fn warn_about_restart_only_keys(old: &Snapshot, new: &Snapshot) {
    if old.listen() != new.listen() || old.admin() != new.admin() || old.threads() != new.threads()
    {
        tracing::warn!(
            target: "strangler::reload",
            "listen, admin and threads take effect on the next restart; the rest is applied now"
        );
    }
}
