//! Gated ramps on the proxy's side: the evidence each ramped route gathers at its step
//! ([`counter`], filled by the request path), the evaluator that judges it and moves the
//! ramp on ([`watch`], a background task on the control runtime with an injectable
//! [`Clock`]), and what `GET /admin/routes/{route}/ramp`, `GET /admin/routes` and the
//! console show of each ramp ([`Ramps::status`]).
//!
//! The ramp's state (step, since, paused) is the flag store's; this module holds only
//! this instance's counts of the current step and the last verdict. Evidence is shared by
//! the fleet through the store (`ramp_evidence`, see `strangler_control::Store::
//! publish_evidence`): every instance publishes its counts every tick and judges the sum.
//!
//! May import [`crate::live`] and [`crate::resilience::guard`]; the request path calls in.

pub mod counter;
pub mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use strangler_control::Ramp;
use strangler_flags::Snapshot;
use time::OffsetDateTime;

use self::counter::StepCounter;
use crate::resilience::guard::Outcome;

/// How often the evaluator judges every ramp by default.
pub const TICK: Duration = Duration::from_secs(1);
/// The actor of the ramp's audit entries.
pub const ACTOR: &str = "ramp";

/// Where the evaluator reads the time: the wall clock, or a test's fake one.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> OffsetDateTime;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// The evaluator's clock and pace, settable by an embedder (tests: a fake clock, a short
/// tick).
#[derive(Clone)]
pub struct RampTiming {
    /// Where "now" comes from.
    pub clock: Arc<dyn Clock>,
    /// How often every ramp is judged and its evidence published.
    pub tick: Duration,
}

impl Default for RampTiming {
    fn default() -> RampTiming {
        RampTiming {
            clock: Arc::new(SystemClock),
            tick: TICK,
        }
    }
}

/// The counters of one routes.yaml snapshot, by route index (None: no ramp).
struct Table {
    file: Arc<Snapshot>,
    counters: Vec<Option<Arc<StepCounter>>>,
}

/// The ramps of one instance.
pub struct Ramps {
    table: ArcSwap<Table>,
    /// The last verdict per ramped route, as JSON for the admin API.
    statuses: Mutex<BTreeMap<String, serde_json::Value>>,
    /// This instance's name in `ramp_evidence`.
    instance: String,
    /// The `ramp-waiting` notices this instance has tried to claim (one try each).
    noticed: Mutex<BTreeSet<String>>,
    timing: RampTiming,
}

impl Ramps {
    /// No ramps yet, for the routes of `file`.
    pub fn new(file: &Arc<Snapshot>, timing: RampTiming) -> Ramps {
        let started = OffsetDateTime::now_utc().unix_timestamp_nanos();
        Ramps {
            table: ArcSwap::from_pointee(Table {
                file: file.clone(),
                counters: vec![None; file.routes().len()],
            }),
            statuses: Mutex::default(),
            instance: format!("{}-{started:x}", std::process::id()),
            noticed: Mutex::default(),
            timing,
        }
    }

    /// Counts one request decided for the new side of route `route` on `file`. Lock-free;
    /// nothing for a route without a ramp or a snapshot the evaluator has not seen yet.
    pub fn record(&self, file: &Arc<Snapshot>, route: Option<usize>, outcome: Option<Outcome>) {
        let (Some(index), Some(outcome)) = (route, outcome) else {
            return;
        };
        let table = self.table.load();
        if !Arc::ptr_eq(&table.file, file) {
            return;
        }
        if let Some(Some(counter)) = table.counters.get(index) {
            let latency = outcome.latency().map(|l| l.as_millis() as u64);
            counter.record(outcome.failed(), latency);
        }
    }

    /// Keeps a counter for the current step of every ramp in `ramps` (by route name) on
    /// `file`: the same counter while the step and plan are unchanged, a new one when the
    /// step moved.
    pub(crate) fn follow(&self, file: &Arc<Snapshot>, ramps: &BTreeMap<&str, &Ramp>) {
        let old = self.table.load_full();
        let same_file = Arc::ptr_eq(&old.file, file);
        let counters: Vec<_> = file
            .routes()
            .iter()
            .map(|route| {
                let ramp = ramps.get(route.name())?;
                let kept = old
                    .counters
                    .get(route.index())
                    .filter(|_| same_file)
                    .cloned()
                    .flatten()
                    .filter(|c| c.since_ms == ramp.since_ms() && c.plan == ramp.plan);
                Some(kept.unwrap_or_else(|| {
                    Arc::new(StepCounter::new(ramp.plan.clone(), ramp.since_ms()))
                }))
            })
            .collect();
        let unchanged = same_file
            && counters.len() == old.counters.len()
            && counters
                .iter()
                .zip(&old.counters)
                .all(|(a, b)| match (a, b) {
                    (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                    (None, None) => true,
                    _ => false,
                });
        if !unchanged {
            self.table.store(Arc::new(Table {
                file: file.clone(),
                counters,
            }));
        }
    }

    /// This instance's counter of route `name`'s current step.
    pub(crate) fn counter(&self, name: &str) -> Option<Arc<StepCounter>> {
        let table = self.table.load();
        let index = table.file.routes().iter().position(|r| r.name() == name)?;
        table.counters.get(index).cloned().flatten()
    }

    /// Records what the evaluator last found for route `name` (None: it has no ramp).
    pub(crate) fn set_status(&self, name: &str, status: Option<serde_json::Value>) {
        let mut statuses = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        match status {
            Some(status) => statuses.insert(name.to_owned(), status),
            None => statuses.remove(name),
        };
    }

    /// The ramp of route `name` as the evaluator last judged it: step, percent, since,
    /// state (`waiting`, `paused`, `killed`, `done`), the waiting reason and the evidence.
    pub fn status(&self, name: &str) -> Option<serde_json::Value> {
        let statuses = self.statuses.lock().unwrap_or_else(|p| p.into_inner());
        statuses.get(name).cloned()
    }

    /// The clock and pace of the evaluator.
    pub fn timing(&self) -> &RampTiming {
        &self.timing
    }

    /// True the first time `id` is asked about: a `ramp-waiting` notice to claim.
    pub(crate) fn first_notice(&self, id: &str) -> bool {
        let mut noticed = self.noticed.lock().unwrap_or_else(|p| p.into_inner());
        noticed.insert(id.to_owned())
    }

    /// This instance's name in the shared evidence.
    pub(crate) fn instance(&self) -> &str {
        &self.instance
    }
}
