//! The automatic rollback guard: what the request path records for guarded routes, and
//! the per-route state `/admin/guards` reports. The evaluator that trips a route lives in
//! [`crate::resilience::guard_watch`].
//!
//! Only requests decided for the new side are measured ([`Outcome::of`]): a 5xx, no
//! answer, an upstream error or timeout, and a failed connect (legacy then answers, but the
//! new side failed) are errors; a request the client abandoned is not counted at all, and
//! an upgraded connection (WebSocket) counts without a latency. The
//! windows ([`RouteWindow`]) belong to the routes.yaml snapshot they were built for and
//! are looked up by route index, no name lookup on the request path; a reload that keeps
//! a route's `guard:` as it was keeps its window, and a request decided on a snapshot the
//! guard has not picked up yet (at most a second after a reload) is not counted.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use serde::Serialize;
use strangler_flags::guard::Breach;
use strangler_flags::Snapshot;
use time::OffsetDateTime;

use crate::resilience::guard_window::RouteWindow;
use strangler_flags::resilience::Diversion;

/// What a guarded route's guard is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardState {
    /// Measuring the new side; trips on a breach.
    Watching,
    /// Tripped: the kill switch is on and recorded; waits for a human to clear it.
    Tripped,
    /// Tripped, but the flag store has not recorded it yet: the route goes to legacy in
    /// this process only, and the store write is retried.
    Pending,
    /// The kill switch is on, not by this guard: nothing reaches the new side to measure.
    Killed,
}

impl GuardState {
    /// The value of the `strangler_guard_state` gauge.
    pub fn gauge(self) -> f64 {
        match self {
            GuardState::Watching => 0.0,
            GuardState::Tripped => 1.0,
            GuardState::Pending => 2.0,
            GuardState::Killed => 3.0,
        }
    }
}

/// A trip this instance made.
#[derive(Debug, Clone, Serialize)]
pub struct Trip {
    /// When the breach was seen.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The figures and thresholds.
    pub breach: Breach,
    /// The audit entry that recorded it; none while pending, or when another instance (or
    /// a human) had turned the kill switch on first.
    pub entry: Option<i64>,
}

/// The evaluator's view of one route.
#[derive(Debug, Clone)]
pub struct Watch {
    /// What the guard is doing.
    pub state: GuardState,
    /// The last trip of this instance, if any.
    pub last_trip: Option<Trip>,
}

/// The windows of one routes.yaml snapshot, by route index (None: no `guard:`).
pub(crate) struct Table {
    pub(crate) file: Arc<Snapshot>,
    pub(crate) windows: Vec<Option<Arc<RouteWindow>>>,
}

/// The guards of one instance.
pub struct Guards {
    /// Seconds of the windows count from here.
    clock: Instant,
    /// The windows of the snapshot the evaluator last saw.
    table: ArcSwap<Table>,
    /// The evaluator's state by route name (held only between awaits, never across).
    watches: Mutex<BTreeMap<Box<str>, Watch>>,
}

/// How one request to the new side ended, as the guard counts it.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    failed: bool,
    /// None for a failed connect: legacy answered, its latency says nothing of the new side.
    latency: Option<Duration>,
}

impl Outcome {
    /// Whether the new side failed the request.
    pub fn failed(self) -> bool {
        self.failed
    }

    /// The new side's latency, none for a failed connect or an upgrade.
    pub fn latency(self) -> Option<Duration> {
        self.latency
    }

    /// The outcome of a request decided for the new side; None when the client went away
    /// before the answer (not the new side's doing) or the service's breaker was open (the
    /// new side was not asked; the breaker already keeps its traffic on legacy). A request
    /// legacy answered because the new service failed to connect, answered a `fallback.on`
    /// status, timed out or lost the connection is a failure of the new side, without a latency of its own.
    pub fn of(
        status: u16,
        error: Option<&pingora::Error>,
        diverted: Option<Diversion>,
        elapsed: Duration,
    ) -> Option<Outcome> {
        match diverted {
            Some(Diversion::BreakerOpen) => return None,
            Some(
                Diversion::Connect
                | Diversion::Status
                | Diversion::Timeout
                | Diversion::ConnectionLost,
            ) => {
                return Some(Outcome {
                    failed: true,
                    latency: None,
                })
            }
            None => {}
        }
        let source = error.map(|e| e.esource());
        if source == Some(&pingora::ErrorSource::Downstream) {
            return None;
        }
        Some(Outcome {
            failed: source.is_some() || status >= 500 || status == 0,
            // An upgraded connection's duration is the conversation's, not a latency.
            latency: (status != 101).then_some(elapsed),
        })
    }
}

impl Guards {
    /// The guards of the routes of `file`.
    pub fn new(file: &Arc<Snapshot>) -> Guards {
        let table = Table::build(file, None);
        let guards = Guards {
            clock: Instant::now(),
            table: ArcSwap::from_pointee(table),
            watches: Mutex::default(),
        };
        guards.sync_watches();
        guards
    }

    /// Records one request decided for the new side of route `route` on the routes.yaml
    /// snapshot `file`. Lock-free; does nothing for an unguarded route.
    pub fn record(&self, file: &Arc<Snapshot>, route: Option<usize>, outcome: Option<Outcome>) {
        let (Some(index), Some(outcome)) = (route, outcome) else {
            return;
        };
        let table = self.table.load();
        if !Arc::ptr_eq(&table.file, file) {
            return;
        }
        if let Some(Some(window)) = table.windows.get(index) {
            let latency = outcome.latency.map(|l| l.as_millis() as u64);
            window.record(self.now(), outcome.failed, latency);
        }
    }

    /// The current second of the windows' clock.
    pub(crate) fn now(&self) -> u64 {
        self.clock.elapsed().as_secs()
    }

    /// The windows in use.
    pub(crate) fn table(&self) -> Arc<Table> {
        self.table.load_full()
    }

    /// Switches to the windows of `file` when it is not the snapshot in use; a route whose
    /// `guard:` is unchanged keeps its window (and the evaluator its state).
    pub(crate) fn follow(&self, file: &Arc<Snapshot>) {
        let old = self.table.load_full();
        if Arc::ptr_eq(&old.file, file) {
            return;
        }
        self.table.store(Arc::new(Table::build(file, Some(&old))));
        self.sync_watches();
    }

    /// Marks `route` tripped at `at` by `breach`, not recorded yet; false when the route
    /// has no guard.
    pub(crate) fn set_pending(&self, route: &str, at: OffsetDateTime, breach: Breach) -> bool {
        let mut watches = self.watches();
        let Some(watch) = watches.get_mut(route) else {
            return false;
        };
        watch.state = GuardState::Pending;
        watch.last_trip = Some(Trip {
            at,
            breach,
            entry: None,
        });
        true
    }

    /// The evaluator's state, by route name.
    pub(crate) fn watches(&self) -> MutexGuard<'_, BTreeMap<Box<str>, Watch>> {
        self.watches.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A watch for every guarded route of the table, none for the others.
    fn sync_watches(&self) {
        let table = self.table.load();
        let guarded: Vec<&str> = guarded(&table).map(|(name, _)| name).collect();
        let mut watches = self.watches();
        watches.retain(|name, _| guarded.contains(&&**name));
        for name in guarded {
            watches.entry(name.into()).or_insert(Watch {
                state: GuardState::Watching,
                last_trip: None,
            });
        }
    }

    /// What `/admin/guards` shows: each guarded route's state, thresholds, live figures
    /// and last trip.
    pub fn report(&self) -> serde_json::Value {
        let table = self.table();
        let now = self.now();
        let watches = self.watches();
        let routes: Vec<_> = guarded(&table)
            .map(|(name, window)| {
                let policy = window.policy();
                let watch = watches.get(name);
                serde_json::json!({
                    "route": name,
                    "state": watch.map(|w| w.state),
                    "limits": policy.limits(),
                    "figures": policy.figures(&window.counts(now)),
                    "last_trip": watch.and_then(|w| w.last_trip.as_ref()),
                })
            })
            .collect();
        serde_json::json!({ "guards": routes })
    }
}

/// The guarded routes of `table`: name and window.
pub(crate) fn guarded(table: &Table) -> impl Iterator<Item = (&str, &Arc<RouteWindow>)> {
    let routes = table.file.routes().iter();
    routes
        .zip(&table.windows)
        .filter_map(|(route, window)| Some((route.name(), window.as_ref()?)))
}

impl Table {
    /// A window for every guarded route of `file`, reusing those of `old` whose route has
    /// the same name and the same policy.
    fn build(file: &Arc<Snapshot>, old: Option<&Table>) -> Table {
        let windows = file
            .routes()
            .iter()
            .map(|route| {
                let policy = route.guard()?;
                let kept = old.and_then(|old| {
                    guarded(old)
                        .find(|(name, window)| *name == route.name() && window.policy() == policy)
                        .map(|(_, window)| window.clone())
                });
                Some(kept.unwrap_or_else(|| Arc::new(RouteWindow::new(policy.clone()))))
            })
            .collect();
        Table {
            file: file.clone(),
            windows,
        }
    }
}

#[cfg(test)]
mod tests {
    use pingora::{Error, ErrorType};

    use super::*;

    const MS: Duration = Duration::from_millis(12);

    fn snapshot(guard: &str) -> Arc<Snapshot> {
        let text = format!(
            "listen: 127.0.0.1:0\nlegacy: http://127.0.0.1:3000\nservices: {{ billing: \
             http://127.0.0.1:3001 }}\nroutes:\n  - name: invoices\n    match: {{ path: /a }}\n    \
             service: billing\n    guard: {guard}\n  - name: plain\n    match: {{ path: /b }}\n    \
             service: billing\n"
        );
        Arc::new(
            Snapshot::parse(&text, "routes.yaml", &crate::live::routes_file::Machine)
                .unwrap_or_else(|e| panic!("{e}")),
        )
    }

    #[test]
    fn a_5xx_an_upstream_error_and_a_failed_connect_are_errors_a_client_abort_is_not_counted() {
        let failed = |o: Option<Outcome>| o.map(|o| (o.failed, o.latency.is_some()));
        assert_eq!(
            failed(Outcome::of(200, None, None, MS)),
            Some((false, true))
        );
        assert_eq!(failed(Outcome::of(503, None, None, MS)), Some((true, true)));
        let timeout = Error::new_up(ErrorType::ReadTimedout);
        assert_eq!(
            failed(Outcome::of(200, Some(&timeout), None, MS)),
            Some((true, true))
        );
        assert_eq!(
            failed(Outcome::of(200, None, Some(Diversion::Connect), MS)),
            Some((true, false))
        );
        assert_eq!(
            failed(Outcome::of(200, None, Some(Diversion::Status), MS)),
            Some((true, false)),
            "legacy's answer after a status fallback is the new side's failure"
        );
        assert_eq!(
            failed(Outcome::of(200, None, Some(Diversion::BreakerOpen), MS)),
            None
        );
        assert_eq!(
            failed(Outcome::of(101, None, None, MS)),
            Some((false, false))
        );
        let gone = Error::new_down(ErrorType::ConnectionClosed);
        assert_eq!(failed(Outcome::of(0, Some(&gone), None, MS)), None);
    }

    #[test]
    fn only_guarded_routes_of_the_current_file_are_recorded() {
        let file = snapshot("{ max_error_rate: 5%, window: 10s }");
        let guards = Guards::new(&file);
        let outcome = Outcome::of(500, None, None, MS);
        guards.record(&file, Some(0), outcome);
        guards.record(&file, Some(1), outcome);
        guards.record(&snapshot("{ max_error_rate: 5% }"), Some(0), outcome);
        let table = guards.table();
        let windows: Vec<_> = guarded(&table).collect();
        assert_eq!(windows.len(), 1);
        assert_eq!(windows[0].1.counts(guards.now()).requests, 1);
    }

    #[test]
    fn a_reload_keeps_the_window_of_an_unchanged_guard_and_replaces_a_changed_one() {
        let file = snapshot("{ max_error_rate: 5%, window: 10s }");
        let guards = Guards::new(&file);
        guards.record(&file, Some(0), Outcome::of(500, None, None, MS));
        let same = snapshot("{ max_error_rate: 5%, window: 10s }");
        guards.follow(&same);
        let requests = |guards: &Guards| {
            let table = guards.table();
            let (_, window) = guarded(&table).next().expect("a guarded route");
            window.counts(guards.now()).requests
        };
        assert_eq!(requests(&guards), 1, "kept");
        guards.follow(&snapshot("{ max_error_rate: 1%, window: 10s }"));
        assert_eq!(requests(&guards), 0, "a new policy, a new window");
        assert_eq!(guards.watches().len(), 1);
    }
}
