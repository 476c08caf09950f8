//! The flag store's health as this instance sees it, for `/readyz`, `/admin/config`, the
//! logs and two gauges: whether the store answers, and which flag version is applied.
//!
//! - `connected`: the last call to the store succeeded.
//! - `degraded`: the store stopped answering; the instance serves the last flags it has
//!   (read from the store before the outage, or from the cache file at start) since `since`.
//! - `absent`: the store has not answered since start and there was no usable cache: the
//!   instance serves routes.yaml alone.
//! - `read_only`: the store answers reads (the flags stay in sync) but cannot record a
//!   change (its SQLite file is read-only): flag changes and guard trips are refused (503)
//!   until it is writable again, which the next poll notices by itself.
//!
//! `degraded` also covers a SQLite file removed or replaced under the process (the error
//! says which); that state ends only when the same file is back at its path, or with a
//! restart (see `strangler_control`'s `store/sqlite_file.rs`). Each state change is logged
//! once, whatever the number of polls that see it.
//!
//! None of these makes the instance unready: it decides requests correctly on the flags it
//! has, and taking a fleet out of a load balancer because its database blinked would turn a
//! control-plane outage into a data-plane one. `/readyz` stays 200 and says which it is.
//!
//! The gauges carry a `store` label (the URL without credentials): one store per process in
//! production, and distinct series for the several instances a test process runs.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{json, Value};
use strangler_flags::config::notify::Event;
use time::OffsetDateTime;

use crate::telemetry::notify::{Notice, Notifier};

/// The store's state, as reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreState {
    /// The last call succeeded.
    Connected,
    /// Unreachable; the last flags read keep serving.
    Degraded,
    /// Unreachable since start, nothing cached: routes.yaml alone.
    Absent,
    /// Reads work, changes cannot be recorded (the file is read-only).
    ReadOnly,
}

/// Where the flags applied now came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagsSource {
    /// Read from the store by this process.
    Store,
    /// Read from the cache file at start.
    Cache,
    /// None: routes.yaml alone.
    None,
}

/// What `/readyz` and `/admin/config` show.
#[derive(Clone, Debug)]
struct Status {
    state: StoreState,
    /// When `state` began.
    since: OffsetDateTime,
    /// Why the store is not connected.
    error: Option<String>,
    source: FlagsSource,
    /// When the flags applied were last read from the store (by this process or, for the
    /// cache, by the one that wrote it).
    read_at: Option<OffsetDateTime>,
    version: i64,
}

/// The health of one instance's flag store.
pub struct StoreHealth {
    /// The store URL without credentials: the gauges' label and the logs' `store`.
    store: String,
    status: Mutex<Status>,
    /// Where `store-down` and `store-up` go.
    notifier: Arc<Notifier>,
}

impl StoreHealth {
    /// Health before the first attempt to connect: absent, nothing applied.
    pub fn new(store: String, notifier: Arc<Notifier>) -> StoreHealth {
        let health = StoreHealth {
            store,
            notifier,
            status: Mutex::new(Status {
                state: StoreState::Absent,
                since: OffsetDateTime::now_utc(),
                error: None,
                source: FlagsSource::None,
                read_at: None,
                version: 0,
            }),
        };
        health.publish(&health.status());
        health
    }

    /// The store answered; `version` is the flag version applied now.
    pub fn connected(&self, version: i64) {
        let was = self.answered(StoreState::Connected, None, version);
        if was != StoreState::Connected {
            tracing::info!(target: "strangler::flags", store = %self.store, version, "flag store connected; flags read from it");
        }
        if was == StoreState::Degraded {
            let summary = format!(
                "flag store {} answers again (flags version {version})",
                self.store
            );
            let details = json!({ "store": self.store, "version": version });
            let notice = Notice::about_instance(Event::StoreUp, summary, details);
            self.notifier.send(notice);
        }
    }

    /// The store failed: an outage starts now unless one is already under way (then only
    /// the error is updated, and nothing is logged again).
    pub fn failed(&self, error: &str) {
        let was = self.update(|status| {
            let was = status.state;
            if matches!(was, StoreState::Connected | StoreState::ReadOnly) {
                status.state = StoreState::Degraded;
                status.since = OffsetDateTime::now_utc();
            }
            status.error = Some(error.to_owned());
            was
        });
        if matches!(was, StoreState::Connected | StoreState::ReadOnly) {
            tracing::error!(target: "strangler::flags", store = %self.store, %error, "flag store unreachable; serving the last flags read from it until it is back");
            let summary = format!(
                "flag store {} unreachable: {error}; serving the last flags read",
                self.store
            );
            let details = json!({ "store": self.store, "error": error });
            let notice = Notice::about_instance(Event::StoreDown, summary, details);
            self.notifier.send(notice);
        }
    }

    /// The store answered with flag `version` but cannot record a change (`error` says
    /// why): read-only, logged once when it begins.
    pub fn read_only(&self, version: i64, error: &str) {
        if self.answered(StoreState::ReadOnly, Some(error), version) != StoreState::ReadOnly {
            tracing::error!(target: "strangler::flags", store = %self.store, %error, version, "flag store read-only; flags are read, changes are refused until it is writable");
        }
    }

    /// The store answered with flag `version`, and is now `state` (`error` says what is
    /// wrong, if anything); returns the state before.
    fn answered(&self, state: StoreState, error: Option<&str>, version: i64) -> StoreState {
        let now = OffsetDateTime::now_utc();
        self.update(|status| {
            let was = status.state;
            if was != state {
                status.state = state;
                status.since = now;
            }
            status.error = error.map(str::to_owned);
            status.source = FlagsSource::Store;
            status.read_at = Some(now);
            status.version = version;
            was
        })
    }

    /// The state now, and since when.
    pub fn state(&self) -> (StoreState, OffsetDateTime) {
        let status = self.status();
        (status.state, status.since)
    }

    /// At start, with the store unreachable: the cache's flags serve (degraded), or nothing
    /// does (absent).
    pub fn serving_cache(&self, cached: Option<(i64, OffsetDateTime)>, error: &str) {
        self.update(|status| {
            status.since = OffsetDateTime::now_utc();
            status.error = Some(error.to_owned());
            (status.state, status.source, status.read_at, status.version) = match cached {
                Some((version, read_at)) => (
                    StoreState::Degraded,
                    FlagsSource::Cache,
                    Some(read_at),
                    version,
                ),
                None => (StoreState::Absent, FlagsSource::None, None, 0),
            };
        });
    }

    /// Why the store is not connected, if it is not.
    pub fn error(&self) -> Option<String> {
        self.status().error
    }

    /// The state as JSON, for `/admin/config` and `/admin/routes`.
    pub fn report(&self) -> Value {
        let status = self.status();
        json!({
            "store": self.store,
            "state": status.state,
            "since": rfc3339(status.since),
            "error": status.error,
            "flags_version": status.version,
            "flags_source": status.source,
            "flags_read_at": status.read_at.map(rfc3339),
        })
    }

    /// One line for the `/readyz` body.
    pub fn summary(&self) -> String {
        let status = self.status();
        let since = rfc3339(status.since);
        let version = status.version;
        let error = status.error.as_deref().unwrap_or("unreachable");
        match (status.state, status.source) {
            (StoreState::Connected, _) => format!("flag store connected, flags version {version}"),
            (StoreState::ReadOnly, _) => format!(
                "flag store read-only since {since}: {error}; flags version {version} read, changes refused"
            ),
            (StoreState::Degraded, FlagsSource::Cache) => format!(
                "flag store degraded since {since}: unreachable, serving flags version {version} from the cache"
            ),
            (StoreState::Degraded, _) => format!(
                "flag store degraded since {since}: {error}; serving the last flags read (version {version})"
            ),
            (StoreState::Absent, _) => format!(
                "flag store absent since {since}: unreachable and nothing cached, serving routes.yaml alone"
            ),
        }
    }

    fn status(&self) -> Status {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Changes the status with `change` and publishes the gauges.
    fn update<T>(&self, change: impl FnOnce(&mut Status) -> T) -> T {
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = change(&mut status);
        self.publish(&status);
        outcome
    }

    fn publish(&self, status: &Status) {
        let up = if status.state == StoreState::Connected {
            1.0
        } else {
            0.0
        };
        metrics::gauge!("strangler_flag_store_up", "store" => self.store.clone()).set(up);
        metrics::gauge!("strangler_flag_version", "store" => self.store.clone())
            .set(status.version as f64);
    }
}

/// `2026-12-06T04:50:01Z`: times as the health report, the logs and the reports print them.
pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}
