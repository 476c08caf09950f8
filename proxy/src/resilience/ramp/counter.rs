//! One ramped route's counts at its current step: requests to the new side, errors and a
//! latency histogram bucketed by the ramp's gates, filled lock-free by the request path
//! and read by the evaluator, which publishes the totals to the store. A step that ends
//! gets a new counter (see [`super::Ramps::follow`]); the old one is dropped.

use std::sync::atomic::{AtomicU64, Ordering};

use strangler_flags::guard::{GuardPolicy, WindowCounts, LATENCY_BUCKETS};
use strangler_flags::ramp::RampPlan;

/// The counts of one route at one step.
pub struct StepCounter {
    /// The step's start, unix milliseconds: which step these counts belong to.
    pub since_ms: i64,
    /// The plan they are bucketed for.
    pub plan: RampPlan,
    policy: GuardPolicy,
    requests: AtomicU64,
    errors: AtomicU64,
    latency: [AtomicU64; LATENCY_BUCKETS],
}

impl StepCounter {
    /// An empty counter for the step of `plan` that began at `since_ms`.
    pub fn new(plan: RampPlan, since_ms: i64) -> StepCounter {
        StepCounter {
            since_ms,
            policy: plan.policy(),
            plan,
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Counts one request to the new side.
    pub fn record(&self, failed: bool, latency_ms: Option<u64>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(ms) = latency_ms {
            self.latency[self.policy.bucket(ms)].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The totals so far.
    pub fn counts(&self) -> WindowCounts {
        let mut counts = WindowCounts {
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            ..WindowCounts::default()
        };
        for (sum, count) in counts.latency.iter_mut().zip(&self.latency) {
            *sum = count.load(Ordering::Relaxed);
        }
        counts
    }
}
