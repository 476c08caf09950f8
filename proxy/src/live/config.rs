//! The live configuration: the compiled routes.yaml snapshot the request path reads, and the
//! one place that replaces it.
//!
//! Readers call [`LiveConfig::current`], a lock-free `ArcSwap` load; a request keeps the `Arc`
//! it started with, so a reload never changes the rules under an in-flight request. A reload
//! parses, validates and compiles a whole new snapshot first and swaps it in only when every
//! step succeeded: on any error the old snapshot keeps serving.
//!
//! Upstream names are resolved when a file is compiled, never on the request path. So an
//! operator's reload (SIGHUP, admin) always compiles, and a DNS move alone is a change;
//! the watcher's reload compiles only edited text, since it fires on every save.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use serde::Serialize;
use strangler_control::Overrides;
use strangler_flags::{content_hash, ConfigErrors, Snapshot, Upstream};

use crate::live::loaded::{Loaded, Revision};
use crate::telemetry::notify::{Notice, Notifier};
use strangler_flags::config::notify::Event;

/// The outcome of a reload that did not fail.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ReloadOutcome {
    /// The revision now serving.
    pub revision: Revision,
    /// False when nothing was swapped: the text was identical to what was serving and (for
    /// an operator's reload, which resolves again) so was every upstream address.
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
    /// The runtime overrides folded into every snapshot published (empty without a store).
    overrides: Mutex<Arc<Overrides>>,
    /// Sends notifications to the `notify:` receivers of the snapshot serving.
    notifier: Arc<Notifier>,
}

impl LiveConfig {
    /// Loads the file for the first time; an error here means the proxy does not start.
    pub fn load(path: &Path) -> Result<LiveConfig, ConfigErrors> {
        let snapshot = crate::live::routes_file::load(path)?;
        log_warnings(&snapshot);
        let loaded = Loaded::new(snapshot, 1);
        crate::telemetry::metrics::record_revision(loaded.revision.counter);
        let notifier = Arc::new(Notifier::default());
        notifier.set_targets(loaded.file.notify());
        Ok(LiveConfig {
            notifier,
            path: path.to_path_buf(),
            current: ArcSwap::from_pointee(loaded),
            counter: AtomicU64::new(2),
            reloading: Mutex::new(()),
            overrides: Mutex::new(Arc::default()),
        })
    }

    /// Folds `overrides` (read from the flag store, or from its cache) over the current
    /// routes.yaml and publishes the result, unless the overrides are the ones folded in now
    /// and decide exactly as the snapshot serving now (a schedule moves with the clock).
    /// Overrides are compared whole, not by version: a cache of another database at the same
    /// version must not survive the store's own state. Returns the revision serving afterwards.
    pub fn apply_overrides(&self, overrides: Overrides) -> Revision {
        let _serial = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let old = self.current();
        let overrides = Arc::new(overrides);
        let previous = std::mem::replace(
            &mut *self.overrides.lock().unwrap_or_else(|p| p.into_inner()),
            overrides.clone(),
        );
        let effective = crate::live::overlay::fold(&old.file, &overrides);
        if previous == overrides && crate::live::overlay::same_flags(&effective, &old.snapshot) {
            return old.revision;
        }
        let counter = self.counter.fetch_add(1, Ordering::Relaxed);
        let loaded = Loaded::publish(
            old.file.clone(),
            effective,
            counter,
            overrides.version,
            Some(&old),
        );
        let revision = loaded.revision;
        self.current.store(Arc::new(loaded));
        crate::telemetry::metrics::record_revision(revision.counter);
        tracing::info!(target: "strangler::flags", %revision, "runtime flags applied");
        revision
    }

    /// The notifier of this instance (its receivers follow the snapshot serving).
    pub fn notifier(&self) -> &Arc<Notifier> {
        &self.notifier
    }

    /// The overrides folded into the snapshot serving now.
    pub fn overrides(&self) -> Arc<Overrides> {
        self.overrides
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The snapshot serving now. Lock-free; keep the `Arc` for the whole request.
    pub fn current(&self) -> Arc<Loaded> {
        self.current.load_full()
    }

    /// The routes.yaml path this configuration reloads from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reloads because an operator asked (SIGHUP, `POST /admin/reload`, `trigger` names which).
    ///
    /// The file is compiled even when its text is unchanged: upstream names are resolved
    /// only at load, so this is how a DNS move (`billing.internal` on a new address) is
    /// picked up, and a rotated `jwt:` key file too (key files are read only at load). A new
    /// snapshot is swapped in when the text, any resolved upstream address or the key file
    /// changed. On error the old snapshot keeps serving; the error is logged with
    /// its location and counted.
    pub fn reload(&self, trigger: &'static str) -> Result<ReloadOutcome, ConfigErrors> {
        self.reload_when(trigger, Compile::Always)
    }

    /// Reloads because the file watcher saw the file change. Text identical to what is
    /// serving (a save without edits, a touched file) costs a read and a hash: no compile,
    /// no DNS lookups.
    pub fn reload_edited(&self) -> Result<ReloadOutcome, ConfigErrors> {
        self.reload_when("watch", Compile::IfEdited)
    }

    /// Serialises, runs and accounts for one reload: the metric and the log line.
    fn reload_when(
        &self,
        trigger: &'static str,
        compile: Compile,
    ) -> Result<ReloadOutcome, ConfigErrors> {
        let _serial = self.reloading.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = self.swap_if_changed(trigger, compile);
        match &outcome {
            Ok(outcome) if outcome.changed => {
                let revision = outcome.revision;
                crate::telemetry::metrics::record_reload("ok");
                crate::telemetry::metrics::record_revision(revision.counter);
                tracing::info!(target: "strangler::reload", trigger, %revision, "configuration reloaded");
            }
            Ok(_) => crate::telemetry::metrics::record_reload("unchanged"),
            Err(errors) => {
                crate::telemetry::metrics::record_reload("error");
                tracing::error!(target: "strangler::reload", trigger, errors = %errors, "reload rejected; the previous configuration keeps serving");
                let summary = format!(
                    "reload of {} rejected; the previous configuration keeps serving: {errors}",
                    self.path.display()
                );
                let details =
                    serde_json::json!({ "trigger": trigger, "errors": errors.to_string() });
                self.notifier
                    .send(Notice::about_instance(Event::ReloadError, summary, details));
            }
        }
        outcome
    }

    /// Reads the file, compiles it unless `compile` says the unchanged text is enough, and
    /// publishes the result if the text, an upstream address or the tenant key file differs
    /// from what serves.
    fn swap_if_changed(
        &self,
        trigger: &'static str,
        compile: Compile,
    ) -> Result<ReloadOutcome, ConfigErrors> {
        let text = crate::live::routes_file::read(&self.path)?;
        let old = self.current();
        let edited = content_hash(&text) != old.revision.hash;
        if !edited && compile == Compile::IfEdited {
            return Ok(unchanged(&old));
        }
        let snapshot = crate::live::routes_file::compile(&text, &self.path)?;
        if !edited {
            let moved = moved_upstreams(&old.snapshot, &snapshot);
            let rekeyed = old.snapshot.key_files_hash() != snapshot.key_files_hash();
            if moved.is_empty() && !rekeyed {
                return Ok(unchanged(&old));
            }
            tracing::info!(target: "strangler::reload", trigger, moved = %moved.join(", "), rekeyed, "upstreams resolve to new addresses or tenant keys changed");
        }
        warn_about_restart_only_keys(&old.snapshot, &snapshot);
        if edited {
            log_warnings(&snapshot);
        }
        let file = Arc::new(snapshot);
        let overrides = self.overrides();
        let effective = crate::live::overlay::fold(&file, &overrides);
        let counter = self.counter.fetch_add(1, Ordering::Relaxed);
        // The old snapshot lends its OTLP exporter when `telemetry.otlp` is unchanged (its
        // metric handles are not reused: the file is another).
        let loaded = Loaded::publish(file, effective, counter, overrides.version, Some(&*old));
        let revision = loaded.revision;
        self.notifier.set_targets(loaded.file.notify());
        self.current.store(Arc::new(loaded));
        Ok(ReloadOutcome {
            revision,
            changed: true,
        })
    }
}

/// Whether a reload may skip compiling a file whose text is what is serving.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Compile {
    /// Compile anyway, resolving upstream names again (operator-triggered reloads).
    Always,
    /// Compile only edited text (watcher-triggered reloads).
    IfEdited,
}

/// The outcome of a reload that keeps `loaded` serving.
fn unchanged(loaded: &Loaded) -> ReloadOutcome {
    ReloadOutcome {
        revision: loaded.revision,
        changed: false,
    }
}

/// What should be fixed in the file though it loaded (deprecated keys), once per load of
/// new text.
fn log_warnings(snapshot: &Snapshot) {
    for warning in snapshot.warnings() {
        tracing::warn!(target: "strangler::reload", %warning, "routes.yaml uses a deprecated key");
    }
}

/// Listeners and workers are set up once at start; say so instead of pretending to apply
/// them.
fn warn_about_restart_only_keys(old: &Snapshot, new: &Snapshot) {
    if old.listen() != new.listen() || old.admin() != new.admin() || old.workers() != new.workers()
    {
        tracing::warn!(
            target: "strangler::reload",
            "listen, admin, threads, work_stealing and alt_timer take effect on the next restart; the rest is applied now"
        );
    }
}

/// The upstreams whose name resolved to another address in `new` than in `old`, each as
/// `name old -> new`. Only meaningful for two compiles of the same text (edited text is a
/// change anyway), so the lists pair up: legacy first, then the services by name.
fn moved_upstreams(old: &Snapshot, new: &Snapshot) -> Vec<String> {
    upstreams(old)
        .zip(upstreams(new))
        .filter(|(was, now)| was != now)
        .map(|(was, now)| format!("{}: {} -> {}", was.name, was.addr, now.addr))
        .collect()
}

/// Legacy, then the services in name order.
fn upstreams(snapshot: &Snapshot) -> impl Iterator<Item = &Upstream> {
    std::iter::once(snapshot.legacy()).chain(snapshot.services())
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    fn routes(legacy: &str) -> String {
        format!("listen: 127.0.0.1:0\nlegacy: http://{legacy}:3001\nroutes: []\n")
    }

    fn legacy_addr(live: &LiveConfig) -> SocketAddr {
        live.current().snapshot.legacy().addr
    }

    /// The state after a DNS move: the file (naming legacy as `now` resolves it) is the text
    /// serving, but the serving snapshot resolved legacy to 127.0.0.1 when it was loaded.
    /// Upstreams here are addresses, so the "move" is simulated by compiling other text.
    fn moved_since_load(test: &str) -> LiveConfig {
        let dir =
            std::env::temp_dir().join(format!("strangler-live-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        let path = dir.join("routes.yaml");
        let text = routes("127.0.0.2");
        std::fs::write(&path, &text).expect("routes.yaml");
        let then = Snapshot::parse(
            &routes("127.0.0.1"),
            "routes.yaml",
            &crate::live::routes_file::Machine,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut loaded = Loaded::new(then, 1);
        loaded.revision.hash = content_hash(&text);
        LiveConfig {
            path,
            current: ArcSwap::from_pointee(loaded),
            counter: AtomicU64::new(2),
            reloading: Mutex::new(()),
            overrides: Mutex::new(Arc::default()),
            notifier: Arc::default(),
        }
    }

    fn remove(live: LiveConfig) {
        let _ = std::fs::remove_dir_all(live.path().parent().expect("scratch directory"));
    }

    #[test]
    fn explicit_reload_reresolves_upstreams_when_the_file_is_unchanged() {
        let live = moved_since_load("explicit");
        let hash = live.current().revision.hash;
        let outcome = live.reload("sighup").expect("reload");
        assert!(outcome.changed, "a moved upstream is a change");
        assert_eq!(
            outcome.revision,
            Revision {
                counter: 2,
                hash,
                flags: 0
            }
        );
        assert_eq!(legacy_addr(&live), "127.0.0.2:3001".parse().unwrap());
        let again = live.reload("admin").expect("reload");
        assert!(!again.changed, "nothing moved since");
        assert_eq!(again.revision.counter, 2);
        remove(live);
    }

    #[test]
    fn watcher_reload_of_unchanged_text_compiles_nothing() {
        let live = moved_since_load("watch");
        let outcome = live.reload_edited().expect("reload");
        assert!(!outcome.changed);
        assert_eq!(outcome.revision.counter, 1);
        let resolved_at_load = "127.0.0.1:3001".parse().unwrap();
        assert_eq!(
            legacy_addr(&live),
            resolved_at_load,
            "no compile, no lookup"
        );
        remove(live);
    }
}
