//! The sliding window of a breaker's error rate: ten buckets that rotate with the clock,
//! each counting the requests and failures of one tenth of the window.
//!
//! Lock-free: a bucket is reset by whoever first sees it in a new period, so an outcome
//! racing that reset may be lost. The rate is an estimate, never a lock on the request path.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Buckets in a window.
const BUCKETS: u64 = 10;

/// Outcomes over the last `window` milliseconds (passed in, so a reload may change it).
#[derive(Default)]
pub struct ErrorWindow {
    buckets: [Bucket; BUCKETS as usize],
}

/// Outcomes of one period of the window.
#[derive(Default)]
struct Bucket {
    /// Which period (ms / bucket length) the counts belong to, plus one; 0 when unused.
    period: AtomicU64,
    total: AtomicU32,
    failed: AtomicU32,
}

impl ErrorWindow {
    /// Counts one outcome at `now_ms` in a window of `window_ms`.
    pub fn record(&self, ok: bool, now_ms: u64, window_ms: u64) {
        let bucket = self.bucket(now_ms, window_ms);
        bucket.total.fetch_add(1, Ordering::Relaxed);
        if !ok {
            bucket.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Requests and failures in the window ending at `now_ms`.
    pub fn counts(&self, now_ms: u64, window_ms: u64) -> (u32, u32) {
        let current = period(now_ms, window_ms) + 1;
        let live = |b: &&Bucket| {
            let period = b.period.load(Ordering::Relaxed);
            period != 0 && period + BUCKETS > current
        };
        self.buckets.iter().filter(live).fold((0, 0), |(t, f), b| {
            let total = b.total.load(Ordering::Relaxed);
            (t + total, f + b.failed.load(Ordering::Relaxed))
        })
    }

    /// Forgets every outcome.
    pub fn clear(&self) {
        for bucket in &self.buckets {
            bucket.period.store(0, Ordering::Relaxed);
        }
    }

    /// The bucket for `now_ms`, reset first if it still holds an older period.
    fn bucket(&self, now_ms: u64, window_ms: u64) -> &Bucket {
        let current = period(now_ms, window_ms) + 1;
        let bucket = &self.buckets[(current % BUCKETS) as usize];
        let seen = bucket.period.load(Ordering::Relaxed);
        let swapped = || {
            let exchange =
                bucket
                    .period
                    .compare_exchange(seen, current, Ordering::AcqRel, Ordering::Relaxed);
            exchange.is_ok()
        };
        if seen != current && swapped() {
            bucket.total.store(0, Ordering::Relaxed);
            bucket.failed.store(0, Ordering::Relaxed);
        }
        bucket
    }
}

/// The period `now_ms` falls in, a tenth of the window each.
fn period(now_ms: u64, window_ms: u64) -> u64 {
    now_ms / (window_ms / BUCKETS).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_forgets_old_outcomes() {
        let window = ErrorWindow::default();
        window.record(false, 0, 10_000);
        window.record(true, 5_000, 10_000);
        assert_eq!(window.counts(5_000, 10_000), (2, 1));
        assert_eq!(window.counts(12_000, 10_000), (1, 0));
        assert_eq!(window.counts(16_000, 10_000), (0, 0));
    }

    #[test]
    fn a_bucket_reused_in_a_later_period_starts_from_zero() {
        let window = ErrorWindow::default();
        window.record(false, 500, 10_000);
        window.record(true, 10_500, 10_000);
        assert_eq!(window.counts(10_500, 10_000), (1, 0));
    }
}
