//! One guarded route's sliding window: a ring of per-second buckets of atomic counters
//! (requests, errors, a small fixed latency histogram) that the request path fills and
//! the guard's evaluator sums once a second.
//!
//! Recording takes no lock and allocates nothing: it picks the bucket of the current
//! second, claims it if it still holds an older second (one compare-and-swap, then the
//! counters are zeroed) and increments. A request that lands on a bucket while another
//! thread is zeroing it may be lost; the guard judges shares of tens of requests, so that
//! rare loss does not matter, and no lock sits on the request path.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use strangler_flags::guard::{GuardPolicy, WindowCounts, LATENCY_BUCKETS};

/// The stamp of a bucket that holds no second yet.
const UNUSED: u64 = u64::MAX;

/// The counts of one second.
struct Second {
    /// Which second (since the guard's clock started) the counts belong to.
    stamp: AtomicU64,
    requests: AtomicU32,
    errors: AtomicU32,
    latency: [AtomicU32; LATENCY_BUCKETS],
}

/// The window of one route, for one `guard:` policy.
pub struct RouteWindow {
    policy: Arc<GuardPolicy>,
    /// One bucket per second of the window, indexed by `second % len`.
    seconds: Box<[Second]>,
    /// Seconds before this one are not counted: the window restarts when a kill switch
    /// is cleared.
    since: AtomicU64,
}

impl RouteWindow {
    /// An empty window as long as `policy.window_seconds`.
    pub fn new(policy: Arc<GuardPolicy>) -> RouteWindow {
        let seconds = (0..policy.window_seconds.max(1))
            .map(|_| Second::unused())
            .collect();
        RouteWindow {
            policy,
            seconds,
            since: AtomicU64::new(0),
        }
    }

    /// The policy the window measures for.
    pub fn policy(&self) -> &Arc<GuardPolicy> {
        &self.policy
    }

    /// Counts one request finished in second `now`: whether it failed, and its latency
    /// unless it has none (a failed connect).
    pub fn record(&self, now: u64, failed: bool, latency_ms: Option<u64>) {
        let second = &self.seconds[(now % self.seconds.len() as u64) as usize];
        let stamp = second.stamp.load(Ordering::Acquire);
        if stamp != now
            && second
                .stamp
                .compare_exchange(stamp, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            second.clear();
        }
        second.requests.fetch_add(1, Ordering::Relaxed);
        if failed {
            second.errors.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(ms) = latency_ms {
            second.latency[self.policy.bucket(ms)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The sum of the seconds of the window ending at `now` (included), from the last
    /// restart on.
    pub fn counts(&self, now: u64) -> WindowCounts {
        let len = self.seconds.len() as u64;
        let since = self.since.load(Ordering::Relaxed);
        let mut counts = WindowCounts::default();
        for second in self.seconds.iter() {
            let stamp = second.stamp.load(Ordering::Acquire);
            if stamp == UNUSED || stamp > now || stamp + len <= now || stamp < since {
                continue;
            }
            counts.requests += u64::from(second.requests.load(Ordering::Relaxed));
            counts.errors += u64::from(second.errors.load(Ordering::Relaxed));
            for (sum, count) in counts.latency.iter_mut().zip(&second.latency) {
                *sum += u64::from(count.load(Ordering::Relaxed));
            }
        }
        counts
    }

    /// Forgets everything before second `now`.
    pub fn restart(&self, now: u64) {
        self.since.store(now, Ordering::Relaxed);
    }
}

impl Second {
    fn unused() -> Second {
        Second {
            stamp: AtomicU64::new(UNUSED),
            requests: AtomicU32::new(0),
            errors: AtomicU32::new(0),
            latency: std::array::from_fn(|_| AtomicU32::new(0)),
        }
    }

    fn clear(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.errors.store(0, Ordering::Relaxed);
        for count in &self.latency {
            count.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(seconds: u32) -> RouteWindow {
        RouteWindow::new(Arc::new(GuardPolicy::new(Some(500), Some(800), seconds, 1)))
    }

    #[test]
    fn the_window_sums_its_seconds_and_drops_the_older_ones() {
        let window = window(3);
        window.record(10, true, Some(5));
        window.record(11, false, Some(900));
        window.record(12, false, None);
        let counts = window.counts(12);
        assert_eq!((counts.requests, counts.errors), (3, 1));
        assert_eq!(counts.latency.iter().sum::<u64>(), 2);
        let later = window.counts(13);
        assert_eq!(
            (later.requests, later.errors),
            (2, 0),
            "second 10 left the window"
        );
        assert_eq!(window.counts(20), WindowCounts::default());
    }

    #[test]
    fn a_bucket_reused_for_a_later_second_starts_from_zero() {
        let window = window(2);
        window.record(4, true, Some(5));
        window.record(6, false, Some(5));
        let counts = window.counts(6);
        assert_eq!((counts.requests, counts.errors), (1, 0));
    }

    #[test]
    fn a_restart_forgets_the_seconds_before_it() {
        let window = window(60);
        window.record(5, true, Some(5));
        window.record(6, true, Some(5));
        window.restart(6);
        window.record(6, false, Some(5));
        let counts = window.counts(7);
        assert_eq!((counts.requests, counts.errors), (2, 1));
    }

    #[test]
    fn latencies_land_in_the_policys_buckets() {
        let window = window(5);
        window.record(1, false, Some(800));
        window.record(1, false, Some(801));
        let counts = window.counts(1);
        let policy = window.policy();
        assert_eq!(counts.latency[policy.bucket(800)], 1);
        assert_eq!(counts.latency[policy.bucket(801)], 1);
        assert_ne!(policy.bucket(800), policy.bucket(801));
    }
}
