//! How the proxy's worker threads run requests: `threads:` (how many), `work_stealing:`
//! (whether an idle worker takes tasks queued on a busy one) and `alt_timer:` (tokio's
//! alternative timer on work-stealing workers).
//!
//! All three are read at start only, like the listeners: the workers exist before the first
//! request and a reload does not rebuild them (it warns that a change waits for the next
//! restart or upgrade). docs/performance.md has what each setting measured.

use super::problems::Problems;
use crate::Surroundings;

/// The validated `threads:`, `work_stealing:` and `alt_timer:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workers {
    /// `threads:`; `None` lets the proxy use one per core.
    pub threads: Option<usize>,
    /// `work_stealing:`: `true` is one tokio runtime whose workers share their queues,
    /// `false` a runtime per worker, every connection kept on the worker it was given
    /// (Pingora's `NoSteal`). `None`: see [`Workers::steals`].
    pub work_stealing: Option<bool>,
    /// `alt_timer:`, default false: tokio's alternative timer, which needs a build with
    /// `--cfg tokio_unstable` (a file asking for it in any other build does not load).
    pub alt_timer: bool,
}

impl Workers {
    /// Whether the workers steal work, `threads` being how many there are: as set, else
    /// only when there are two or more (or the alternative timer, which needs stealing, is
    /// on). One worker has nobody to steal from, and its single-threaded runtime measured
    /// 0.95× the CPU per request and 0.75× the p99 of a one-worker stealing runtime
    /// (docs/performance.md, "The worker runtime"); with two workers stealing measured the
    /// same CPU and a lower p99, so it stays on there.
    pub fn steals(&self, threads: usize) -> bool {
        self.work_stealing.unwrap_or(threads > 1 || self.alt_timer)
    }
}

/// Checks the three keys together: a zero thread count, an alternative timer on workers
/// that do not steal (Pingora would ignore it) or in a build without one are mistakes, so
/// a reload or `strangler check` refuses what a start would.
pub(super) fn validate(
    threads: Option<usize>,
    work_stealing: Option<bool>,
    alt_timer: Option<bool>,
    surroundings: &dyn Surroundings,
    problems: &mut Problems,
) -> Workers {
    if threads == Some(0) {
        problems.at_value("threads", "threads must be at least 1");
    }
    let alt_timer = alt_timer.unwrap_or(false);
    if alt_timer && work_stealing == Some(false) {
        problems.at_value(
            "alt_timer",
            "alt_timer applies to work-stealing workers only: set work_stealing: true or drop alt_timer",
        );
    } else if alt_timer && !surroundings.alt_timer_available() {
        problems.at_value(
            "alt_timer",
            "alt_timer: true needs a strangler built with RUSTFLAGS=\"--cfg tokio_unstable\"; this one was not (drop alt_timer, or rebuild)",
        );
    }
    Workers {
        threads,
        work_stealing,
        alt_timer,
    }
}
