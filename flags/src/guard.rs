//! The rollback guard's policy and its verdict: a route's `guard:` compiled
//! ([`GuardPolicy`]), the counts of one window of the new side's requests
//! ([`WindowCounts`]), and whether they breach it ([`GuardPolicy::evaluate`]).
//!
//! Pure arithmetic, no clock and no atomics: the proxy keeps the window (per-second buckets
//! it fills on the request path) and asks this module once a second. The p95 comes from a
//! fixed latency histogram whose bounds include the route's own `max_p95`, so "p95 above
//! `max_p95`" is decided exactly even though the figure shown is a bucket bound.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The latency histogram's bounds in milliseconds, before the route's `max_p95` is added.
/// The last one is also the figure shown for a p95 above every bound.
const STANDARD_BOUNDS_MS: [u32; 19] = [
    5, 10, 25, 50, 75, 100, 150, 200, 300, 400, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000,
    10_000, 60_000,
];
/// Latency buckets of a window: the bounds (standard ones plus `max_p95`) and the overflow.
pub const LATENCY_BUCKETS: usize = STANDARD_BOUNDS_MS.len() + 2;
/// The longest `max_p95`: below the last bound, so an overflow always reads as above it.
pub const MAX_P95_LIMIT: Duration = Duration::from_secs(30);
/// The longest `window`: a bucket per second is kept for the whole window.
pub const MAX_WINDOW: Duration = Duration::from_secs(600);

/// A route's compiled `guard:`; see `config::guard::RawGuard` for what each key means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardPolicy {
    /// `max_error_rate` in basis points (5 % is 500), if set.
    pub max_error_rate: Option<u16>,
    /// `max_p95` in whole milliseconds, if set.
    pub max_p95_ms: Option<u32>,
    /// `window` in whole seconds, 1 to 600.
    pub window_seconds: u32,
    /// `min_requests`, at least 1.
    pub min_requests: u64,
    /// Upper bounds (ms) of the latency buckets, ascending, `max_p95_ms` among them;
    /// [`LATENCY_BUCKETS`] - 1 of them when `max_p95` is set and not a standard bound.
    bounds: Vec<u32>,
}

/// What one window of the new side's requests amounts to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowCounts {
    /// Requests the new side was asked to serve.
    pub requests: u64,
    /// Of those, the ones that failed: 5xx, no answer, an upstream error, a failed connect.
    pub errors: u64,
    /// Requests by latency bucket (see [`GuardPolicy::bucket`]); failed connects have none.
    pub latency: [u64; LATENCY_BUCKETS],
}

/// The figures of a window as shown in `/admin/guards`, the audit entry and the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Requests in the window.
    pub requests: u64,
    /// Failed requests in the window.
    pub errors: u64,
    /// `errors / requests` in percent, two decimals (0 without requests).
    pub error_rate: f64,
    /// The p95 latency as the upper bound of its bucket, in ms; none without latencies.
    pub p95_ms: Option<u32>,
}

/// The thresholds a breach was measured against, as routes.yaml set them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// `max_error_rate` in percent.
    pub max_error_rate: Option<f64>,
    /// `max_p95` in ms.
    pub max_p95_ms: Option<u32>,
    /// `window` in seconds.
    pub window_seconds: u32,
    /// `min_requests`.
    pub min_requests: u64,
}

/// Which threshold a window went over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exceeded {
    /// The error rate was above `max_error_rate`.
    ErrorRate,
    /// The p95 was above `max_p95`.
    P95,
}

/// A window that breached the policy: what tripped it, the figures and the limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breach {
    /// The thresholds exceeded, error rate first.
    pub exceeded: Vec<Exceeded>,
    /// The window's figures.
    pub figures: Figures,
    /// The policy's thresholds.
    pub limits: Limits,
}

impl GuardPolicy {
    /// A policy; the caller (`config::guard`) has checked the ranges.
    pub fn new(
        max_error_rate: Option<u16>,
        max_p95_ms: Option<u32>,
        window_seconds: u32,
        min_requests: u64,
    ) -> GuardPolicy {
        let mut bounds = STANDARD_BOUNDS_MS.to_vec();
        if let Some(limit) = max_p95_ms {
            bounds.push(limit);
        }
        bounds.sort_unstable();
        bounds.dedup();
        GuardPolicy {
            max_error_rate,
            max_p95_ms,
            window_seconds,
            min_requests,
            bounds,
        }
    }

    /// The latency bucket of a request that took `latency_ms`: the first bound at or above
    /// it, or the overflow bucket after the last bound.
    pub fn bucket(&self, latency_ms: u64) -> usize {
        self.bounds
            .partition_point(|&bound| u64::from(bound) < latency_ms)
    }

    /// The window's figures.
    pub fn figures(&self, counts: &WindowCounts) -> Figures {
        let rate = match counts.requests {
            0 => 0.0,
            n => (counts.errors as f64 * 10_000.0 / n as f64).round() / 100.0,
        };
        Figures {
            requests: counts.requests,
            errors: counts.errors,
            error_rate: rate,
            p95_ms: self.p95(counts),
        }
    }

    /// The thresholds, in routes.yaml units.
    pub fn limits(&self) -> Limits {
        Limits {
            max_error_rate: self.max_error_rate.map(|bp| f64::from(bp) / 100.0),
            max_p95_ms: self.max_p95_ms,
            window_seconds: self.window_seconds,
            min_requests: self.min_requests,
        }
    }

    /// A breach when the window has at least `min_requests` and its error rate is above
    /// `max_error_rate` or its p95 above `max_p95`; `None` otherwise.
    pub fn evaluate(&self, counts: &WindowCounts) -> Option<Breach> {
        if counts.requests < self.min_requests {
            return None;
        }
        let mut exceeded = Vec::new();
        let over_rate = |bp: u16| counts.errors * 10_000 > u64::from(bp) * counts.requests;
        if self.max_error_rate.is_some_and(over_rate) {
            exceeded.push(Exceeded::ErrorRate);
        }
        let p95 = self.p95(counts);
        if matches!((p95, self.max_p95_ms), (Some(p95), Some(max)) if p95 > max) {
            exceeded.push(Exceeded::P95);
        }
        (!exceeded.is_empty()).then(|| Breach {
            exceeded,
            figures: self.figures(counts),
            limits: self.limits(),
        })
    }

    /// The upper bound of the bucket holding the 95th percentile (nearest rank); the last
    /// bound for the overflow bucket.
    fn p95(&self, counts: &WindowCounts) -> Option<u32> {
        let total: u64 = counts.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (total * 95).div_ceil(100);
        let mut seen = 0;
        let bucket = counts.latency.iter().position(|&n| {
            seen += n;
            seen >= rank
        })?;
        let last = self.bounds.len() - 1;
        Some(self.bounds[bucket.min(last)])
    }
}

impl Breach {
    /// One line for the audit comment and the log: `error rate 100.00% > 5.00% (40 of 40
    /// requests in 10s); p95 12ms (max 800ms)`.
    pub fn summary(&self) -> String {
        let (f, l) = (&self.figures, &self.limits);
        let rate = match l.max_error_rate {
            Some(max) => format!("error rate {:.2}% (max {max:.2}%)", f.error_rate),
            None => format!("error rate {:.2}%", f.error_rate),
        };
        let p95 = match (f.p95_ms, l.max_p95_ms) {
            (Some(p95), Some(max)) => format!("p95 {p95}ms (max {max}ms)"),
            (Some(p95), None) => format!("p95 {p95}ms"),
            (None, _) => "p95 -".to_owned(),
        };
        let exceeded: Vec<&str> = self.exceeded.iter().map(|e| e.code()).collect();
        format!(
            "guard tripped on {}: {rate}, {p95}; {} errors of {} requests in {}s (min_requests {})",
            exceeded.join(" and "),
            f.errors,
            f.requests,
            l.window_seconds,
            l.min_requests
        )
    }
}

impl Exceeded {
    /// `error-rate` or `p95`, for logs and the summary.
    pub fn code(self) -> &'static str {
        match self {
            Exceeded::ErrorRate => "error-rate",
            Exceeded::P95 => "p95",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> GuardPolicy {
        GuardPolicy::new(Some(500), Some(800), 60, 20)
    }

    fn counts(policy: &GuardPolicy, requests: u64, errors: u64, latency_ms: u64) -> WindowCounts {
        let mut counts = WindowCounts {
            requests,
            errors,
            ..WindowCounts::default()
        };
        counts.latency[policy.bucket(latency_ms)] = requests;
        counts
    }

    #[test]
    fn fewer_than_min_requests_never_breach() {
        let policy = policy();
        assert_eq!(policy.evaluate(&counts(&policy, 19, 19, 5_000)), None);
    }

    #[test]
    fn an_error_rate_above_the_maximum_breaches_and_at_it_does_not() {
        let policy = policy();
        assert_eq!(policy.evaluate(&counts(&policy, 100, 5, 10)), None);
        let breach = policy
            .evaluate(&counts(&policy, 100, 6, 10))
            .expect("breach");
        assert_eq!(breach.exceeded, [Exceeded::ErrorRate]);
        assert_eq!(breach.figures.error_rate, 6.0);
        assert_eq!(breach.limits.max_error_rate, Some(5.0));
    }

    #[test]
    fn the_p95_is_compared_exactly_because_the_limit_is_a_bucket_bound() {
        let policy = policy();
        assert_eq!(policy.evaluate(&counts(&policy, 100, 0, 800)), None);
        let breach = policy
            .evaluate(&counts(&policy, 100, 0, 801))
            .expect("breach");
        assert_eq!(breach.exceeded, [Exceeded::P95]);
        assert_eq!(breach.figures.p95_ms, Some(1_000));
    }

    #[test]
    fn the_p95_is_the_nearest_rank_bucket() {
        let policy = policy();
        let mut counts = counts(&policy, 100, 0, 10);
        counts.latency[policy.bucket(10)] = 95;
        counts.latency[policy.bucket(2_000)] = 5;
        assert_eq!(policy.figures(&counts).p95_ms, Some(10));
        counts.latency[policy.bucket(10)] = 94;
        counts.latency[policy.bucket(2_000)] = 6;
        assert_eq!(policy.figures(&counts).p95_ms, Some(2_000));
    }

    #[test]
    fn a_latency_above_every_bound_reads_as_the_last_bound() {
        let policy = policy();
        let counts = counts(&policy, 30, 0, 90_000);
        assert_eq!(policy.bucket(90_000), LATENCY_BUCKETS - 1);
        assert_eq!(policy.figures(&counts).p95_ms, Some(60_000));
    }

    #[test]
    fn a_threshold_left_out_is_not_checked() {
        let policy = GuardPolicy::new(None, Some(800), 60, 1);
        assert_eq!(policy.evaluate(&counts(&policy, 10, 10, 10)), None);
        let policy = GuardPolicy::new(Some(500), None, 60, 1);
        assert_eq!(policy.evaluate(&counts(&policy, 10, 0, 50_000)), None);
    }

    #[test]
    fn the_summary_names_what_tripped_and_the_figures() {
        let policy = policy();
        let breach = policy
            .evaluate(&counts(&policy, 40, 40, 12))
            .expect("breach");
        assert_eq!(
            breach.summary(),
            "guard tripped on error-rate: error rate 100.00% (max 5.00%), p95 25ms (max 800ms); \
             40 errors of 40 requests in 60s (min_requests 20)"
        );
    }
}
