//! Readiness: which parts of the monolith can go. Pure: a route's hourly rollups (requests
//! each side served, fallbacks, shadow comparisons and matches, summed over a fleet by the
//! store), its routes.yaml values, the runtime overrides and the audit log go in; the
//! route's figures and a verdict with its reasons come out ([`assess`]), the same for
//! `strangler report`, `GET /admin/readiness` and the console.
//!
//! The verdict, first rule that applies (`docs/readiness.md` explains each):
//!
//! 1. `blocked (kill switch on)`: the route's or the global kill switch is on.
//! 2. `not started`: at 0 %, no tenant pinned to the new side, no request served by it in
//!    the period.
//! 3. `blocked (rolled back ...)`: a rollback (guard trip, kill switch, percent lowered)
//!    in the period.
//! 4. `blocked (shadow match rate ...)`: shadow comparisons in the period matched less
//!    than [`MIN_MATCH_RATE`].
//! 5. At 100 %: `blocked (fallbacks ...)` with fallbacks to legacy in the period; `ready to
//!    finish ramp` while tenants are pinned to legacy; `legacy path removable` once every
//!    request went to the new side for the whole period; else `ramping`.
//! 6. Below 100 %: `ready to finish ramp` from [`READY_PERCENT`] on with new-side traffic
//!    and no fallback in the period; else `ramping`.
//!
//! The period is routes.yaml's `readiness.removable_after` (14 days by default).

mod assess;
mod history;
#[cfg(test)]
mod tests;

use serde::Serialize;
use time::OffsetDateTime;

pub use assess::{assess, RouteInput};

/// Below this share of matching shadow comparisons in the period a route is blocked.
pub const MIN_MATCH_RATE: f64 = 0.99;
/// From this percentage on, a clean route below 100 % is ready to finish its ramp.
pub const READY_PERCENT: f64 = 50.0;
/// A route neither at 0 % nor at 100 % whose flags have not changed for this many days is
/// stale: a ramp someone forgot.
pub const STALE_AFTER_DAYS: u32 = 30;
/// How long the store keeps rollup rows (and how far back the report reads the audit log).
pub const RETENTION_DAYS: u32 = 90;

/// What one route's requests amounted to in some span of time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Requests the new service answered.
    pub served_new: u64,
    /// Requests legacy answered, fallbacks included.
    pub served_legacy: u64,
    /// Requests decided for the new side that legacy answered (a subset of
    /// `served_legacy`): connect, status, timeout and lost-connection fallbacks, an open
    /// breaker.
    pub fallbacks: u64,
    /// Shadow comparisons with a verdict (match, noise-only, mismatch, unsettled), as the
    /// shadow report counts them; skipped and failed calls are not comparisons.
    pub comparisons: u64,
    /// Comparisons that matched (match or noise-only).
    pub matches: u64,
}

impl Counts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &Counts) {
        self.served_new += other.served_new;
        self.served_legacy += other.served_legacy;
        self.fallbacks += other.fallbacks;
        self.comparisons += other.comparisons;
        self.matches += other.matches;
    }

    /// True when nothing was counted.
    pub fn is_empty(&self) -> bool {
        *self == Counts::default()
    }

    /// Requests decided for legacy (served by legacy, not as a fallback).
    pub fn decided_legacy(&self) -> u64 {
        self.served_legacy.saturating_sub(self.fallbacks)
    }
}

/// One row of the rollup: a route's counts in one hour, as the store sums them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HourCounts {
    /// The route.
    pub route: String,
    /// The hour's start.
    #[serde(with = "time::serde::rfc3339")]
    pub hour: OffsetDateTime,
    /// What the route's requests amounted to in that hour.
    pub counts: Counts,
}

/// The start of the hour `at` falls in, as the rollup keys it.
pub fn hour_of(at: OffsetDateTime) -> OffsetDateTime {
    let seconds = at.unix_timestamp();
    let start = seconds - seconds.rem_euclid(3600);
    OffsetDateTime::from_unix_timestamp(start).unwrap_or(at)
}

/// What the report says about a route's readiness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "why", rename_all = "kebab-case")]
pub enum Verdict {
    /// Nothing goes to the new side yet.
    NotStarted,
    /// On the way; nothing blocks it, it is not ready either.
    Ramping,
    /// Something stands in the way; it says what.
    Blocked(String),
    /// The evidence says the ramp can go to 100 % (or its last pinned tenants move).
    ReadyToFinishRamp,
    /// The new side has served everything long enough: legacy's code for it can go.
    LegacyPathRemovable,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::NotStarted => f.write_str("not started"),
            Verdict::Ramping => f.write_str("ramping"),
            Verdict::Blocked(why) => write!(f, "blocked ({why})"),
            Verdict::ReadyToFinishRamp => f.write_str("ready to finish ramp"),
            Verdict::LegacyPathRemovable => f.write_str("legacy path removable"),
        }
    }
}

/// The share of requests served by the new side over the last 1, 7 and 30 days; `None`
/// where the route had no request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Shares {
    /// Over the last day.
    pub day: Option<f64>,
    /// Over the last 7 days.
    pub week: Option<f64>,
    /// Over the last 30 days.
    pub month: Option<f64>,
}

/// The last rollback of a route found in the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rollback {
    /// The audit entry.
    pub entry: i64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What: `guard trip`, `kill switch`, `global kill switch`, `percent lowered 50 % -> 10 %`.
    pub what: String,
}

/// One route's readiness: its figures, verdict and reasons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteReadiness {
    /// The route.
    pub route: String,
    /// The rollout percentage now (effective: schedule, override or file).
    pub percent: f64,
    /// Whether a kill switch sends the route to legacy now.
    pub killed: bool,
    /// Share of requests the new side served.
    pub share_new: Shares,
    /// Requests over the period.
    pub requests: u64,
    /// Whole days every request of the route was decided for the new side (at 100 %,
    /// no tenant pinned to legacy); `None` unless it is at 100 % with traffic on record.
    pub days_at_full: Option<u32>,
    /// Whole days since the last rollback; `None` when the audit log kept has none.
    pub days_since_rollback: Option<u32>,
    /// The last rollback, if any.
    pub last_rollback: Option<Rollback>,
    /// The period the verdict judges, in days (`readiness.removable_after`).
    pub period_days: u32,
    /// Fallbacks to legacy over the period.
    pub fallbacks: u64,
    /// Shadow comparisons over the period.
    pub comparisons: u64,
    /// Share of those that matched; `None` without comparisons.
    pub match_rate: Option<f64>,
    /// Tenants pinned to legacy (routes.yaml or runtime), sorted.
    pub legacy_tenants: Vec<String>,
    /// The verdict.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// The verdict as people read it: `blocked (kill switch on)`.
    pub verdict_text: String,
    /// Why, one line each.
    pub reasons: Vec<String>,
    /// Days since the route's flags last changed, when that makes them stale (neither 0 %
    /// nor 100 %, unchanged for [`STALE_AFTER_DAYS`] or more).
    pub stale_days: Option<u32>,
}
