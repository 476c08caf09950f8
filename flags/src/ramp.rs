//! A gated ramp's plan and its verdict: the steps a route's percentage climbs, the least
//! time at each ([`RampPlan`]), the evidence a step must gather before the next one
//! ([`Gates`]), and what that evidence says ([`RampPlan::judge`]).
//!
//! Pure arithmetic, like [`crate::guard`], whose window counts, p95 histogram and breach it
//! reuses: the hard gates (error rate, p95) are a [`GuardPolicy`] built from the gates, so a
//! ramp step that fails them trips exactly as a guard would, with the same figures. The
//! proxy gathers the evidence per step (its own requests, the fleet's summed through the
//! store, the shadow comparisons of the step) and asks this module.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::guard::{Breach, GuardPolicy, WindowCounts};

/// At most this many steps: a ramp, not a table.
pub const MAX_STEPS: usize = 100;

/// A ramp: `steps` in basis points, ascending; at least `every_seconds` at each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RampPlan {
    /// The percentages in basis points, strictly ascending, each 1 to 10000.
    pub steps: Vec<u16>,
    /// The least time at each step, in seconds (at least 1).
    pub every_seconds: u64,
    /// What a step must show before the next one.
    pub gates: Gates,
}

/// The evidence a step needs, as basis points, milliseconds and counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gates {
    /// The highest error rate of the new side at the step (hard: over it, the route trips).
    pub max_error_rate: Option<u16>,
    /// The highest p95 of the new side at the step, ms (hard: over it, the route trips).
    pub max_p95_ms: Option<u32>,
    /// Requests to the new side at the step before it may advance (and before a hard gate
    /// can trip).
    pub min_requests: u64,
    /// The lowest shadow match rate at the step, basis points; judged on shadowed routes.
    pub min_match_rate: Option<u16>,
    /// Shadow comparisons at the step before the match rate counts.
    pub min_comparisons: u64,
}

/// What a step has gathered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Seconds since the step began.
    pub elapsed_seconds: u64,
    /// The new side's requests, errors and latencies at the step (bucketed by
    /// [`RampPlan::policy`]).
    pub counts: WindowCounts,
    /// Shadow comparisons at the step; None when the route is not shadowed.
    pub shadow: Option<ShadowEvidence>,
}

/// Shadow comparisons at a step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShadowEvidence {
    /// Comparisons judged (skipped ones excluded).
    pub compared: u64,
    /// Of those, the ones that matched (noise only counts as a match).
    pub matched: u64,
}

/// What the evidence says.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Time is up and every gate holds: the next step may start.
    Advance,
    /// Not yet: the first gate that does not hold.
    Wait(Waiting),
    /// A hard gate failed with enough requests: roll the route back.
    Trip(Breach),
}

/// Why a step holds: `<gate> <figure> against <limit>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiting {
    /// The gate: `every`, `min_requests`, `min_comparisons` or `min_match_rate`.
    pub gate: &'static str,
    /// What the step has.
    pub figure: String,
    /// What it needs.
    pub limit: String,
}

impl RampPlan {
    /// The hard gates as a guard policy: its histogram buckets the step's latencies, its
    /// evaluation is the trip.
    pub fn policy(&self) -> GuardPolicy {
        let window = u32::try_from(self.every_seconds).unwrap_or(u32::MAX);
        let gates = &self.gates;
        GuardPolicy::new(
            gates.max_error_rate,
            gates.max_p95_ms,
            window,
            gates.min_requests.max(1),
        )
    }

    /// The step after `step` for a route at `percent_bp`: the first later step above it
    /// (a ramp never lowers a route), None when no step is left.
    pub fn next_step(&self, step: usize, percent_bp: u16) -> Option<usize> {
        (step + 1..self.steps.len()).find(|&i| self.steps[i] > percent_bp)
    }

    /// The verdict on a step's evidence: a hard gate first (it trips even before the
    /// time is up), then the time, then each evidence gate in order.
    pub fn judge(&self, evidence: &Evidence) -> Verdict {
        let policy = self.policy();
        if let Some(breach) = policy.evaluate(&evidence.counts) {
            return Verdict::Trip(breach);
        }
        if evidence.elapsed_seconds < self.every_seconds {
            let (figure, limit) = (evidence.elapsed_seconds, self.every_seconds);
            return Verdict::Wait(Waiting::new("every", seconds(figure), seconds(limit)));
        }
        let requests = evidence.counts.requests;
        if requests < self.gates.min_requests {
            let limit = self.gates.min_requests.to_string();
            return Verdict::Wait(Waiting::new("min_requests", requests.to_string(), limit));
        }
        match (evidence.shadow, self.gates.min_match_rate) {
            (Some(shadow), Some(min_rate)) => self.judge_shadow(shadow, min_rate),
            _ => Verdict::Advance,
        }
    }

    fn judge_shadow(&self, shadow: ShadowEvidence, min_rate: u16) -> Verdict {
        if shadow.compared < self.gates.min_comparisons.max(1) {
            let limit = self.gates.min_comparisons.max(1).to_string();
            let figure = shadow.compared.to_string();
            return Verdict::Wait(Waiting::new("min_comparisons", figure, limit));
        }
        if shadow.matched * 10_000 < u64::from(min_rate) * shadow.compared {
            let rate = shadow.matched as f64 * 100.0 / shadow.compared as f64;
            let figure = format!("{:.2}%", (rate * 100.0).floor() / 100.0);
            let limit = format!("{:.2}%", f64::from(min_rate) / 100.0);
            return Verdict::Wait(Waiting::new("min_match_rate", figure, limit));
        }
        Verdict::Advance
    }
}

impl Waiting {
    fn new(gate: &'static str, figure: String, limit: String) -> Waiting {
        Waiting {
            gate,
            figure,
            limit,
        }
    }
}

impl fmt::Display for Waiting {
    /// `min_requests 120 against 500`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} against {}", self.gate, self.figure, self.limit)
    }
}

/// `90s` as written in the waiting reason.
fn seconds(seconds: u64) -> String {
    format!("{seconds}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> RampPlan {
        RampPlan {
            steps: vec![500, 1_000, 2_500, 10_000],
            every_seconds: 60,
            gates: Gates {
                max_error_rate: Some(100),
                max_p95_ms: Some(400),
                min_requests: 10,
                min_match_rate: Some(9_950),
                min_comparisons: 20,
            },
        }
    }

    fn evidence(elapsed: u64, requests: u64, errors: u64) -> Evidence {
        let mut counts = WindowCounts {
            requests,
            errors,
            ..WindowCounts::default()
        };
        counts.latency[plan().policy().bucket(20)] = requests;
        Evidence {
            elapsed_seconds: elapsed,
            counts,
            shadow: None,
        }
    }

    fn waiting(verdict: Verdict) -> String {
        match verdict {
            Verdict::Wait(waiting) => waiting.to_string(),
            other => panic!("expected a wait, got {other:?}"),
        }
    }

    #[test]
    fn a_step_waits_for_its_time_then_for_min_requests_then_advances() {
        assert_eq!(
            waiting(plan().judge(&evidence(30, 50, 0))),
            "every 30s against 60s"
        );
        assert_eq!(
            waiting(plan().judge(&evidence(60, 9, 0))),
            "min_requests 9 against 10"
        );
        assert_eq!(plan().judge(&evidence(60, 10, 0)), Verdict::Advance);
    }

    #[test]
    fn a_hard_gate_trips_before_the_time_is_up_but_not_before_min_requests() {
        assert!(matches!(
            plan().judge(&evidence(1, 10, 1)),
            Verdict::Trip(_)
        ));
        assert!(matches!(plan().judge(&evidence(1, 9, 9)), Verdict::Wait(_)));
    }

    #[test]
    fn a_shadowed_step_waits_for_comparisons_and_the_match_rate() {
        let mut step = evidence(60, 10, 0);
        step.shadow = Some(ShadowEvidence {
            compared: 19,
            matched: 19,
        });
        assert_eq!(
            waiting(plan().judge(&step)),
            "min_comparisons 19 against 20"
        );
        step.shadow = Some(ShadowEvidence {
            compared: 200,
            matched: 198,
        });
        assert_eq!(
            waiting(plan().judge(&step)),
            "min_match_rate 99.00% against 99.50%"
        );
        step.shadow = Some(ShadowEvidence {
            compared: 200,
            matched: 199,
        });
        assert_eq!(plan().judge(&step), Verdict::Advance);
    }

    #[test]
    fn the_next_step_skips_steps_at_or_below_where_the_route_stands() {
        assert_eq!(plan().next_step(0, 500), Some(1));
        assert_eq!(plan().next_step(0, 2_500), Some(3));
        assert_eq!(plan().next_step(3, 10_000), None);
    }
}
