//! A route's `rollout.ramp:` as written ([`RawRamp`], also the body of the admin API's
//! `PUT /admin/routes/{route}/ramp`) and its validation into a [`RampPlan`]: located at
//! the key's value in routes.yaml, or one message per problem for the admin API.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::ramp::{Gates, RampPlan, MAX_STEPS};
use crate::rollout::percent_to_basis_points;

use super::guard::{max_p95, RawPercent};
use super::parse_duration;
use super::problems::Problems;

/// `gates.min_requests` when absent.
const DEFAULT_MIN_REQUESTS: u64 = 50;
/// `gates.min_comparisons` when absent.
const DEFAULT_MIN_COMPARISONS: u64 = 50;

/// `rollout.ramp:` a gated ramp. The route climbs `steps` in order, staying at least
/// `every` at each, and a step advances only when its time is up and every gate holds on
/// the evidence gathered at that step; otherwise the ramp waits (`GET /admin/routes` shows
/// `waiting: <gate> <figure> against <limit>`). A hard gate (error rate or p95 over its
/// limit with `min_requests` requests) trips the route: kill switch on, ramp paused,
/// audited with the figures. The percent only moves forward: steps at or below where the
/// route stands are skipped.
///
/// ```yaml
/// ramp:
///   steps: [5, 10, 25, 50, 100]
///   every: 30m
///   gates: { max_error_rate: 1%, max_p95: 400ms, min_requests: 500, min_match_rate: 99.5%, min_comparisons: 200 }
/// ```
///
/// The ramp's state (step, since when) lives in the flag store: the first instance to load
/// the file starts it there, and `strangler flags ramp/pause/resume/advance` act on it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRamp {
    /// `steps:` the percentages, strictly ascending, each above 0 and at most 100.
    pub steps: Vec<f64>,
    /// `every:` the least time at each step, whole seconds from `1s` (`30s`, `30m`, `1h`).
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub every: String,
    /// `gates:` what a step must show before the next. Default: `min_requests: 50` only.
    #[serde(default)]
    pub gates: RawGates,
}

/// `rollout.ramp.gates:`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGates {
    /// `max_error_rate:` the highest error rate of the new side at the step (`1%`); over
    /// it with `min_requests` requests, the route trips.
    pub max_error_rate: Option<RawPercent>,
    /// `max_p95:` the highest p95 of the new side at the step (`400ms`), above 0 and at
    /// most 30s; over it with `min_requests` requests, the route trips.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub max_p95: Option<String>,
    /// `min_requests:` requests to the new side at the step before it may advance. Default 50.
    pub min_requests: Option<u64>,
    /// `min_match_rate:` the lowest shadow match rate at the step (`99.5%`), judged only on
    /// a shadowed route.
    pub min_match_rate: Option<RawPercent>,
    /// `min_comparisons:` shadow comparisons at the step before the match rate counts.
    /// Default 50.
    pub min_comparisons: Option<u64>,
}

impl RawRamp {
    /// The plan, or every problem as `(key under the ramp, message)`.
    pub fn compile(&self) -> Result<RampPlan, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let steps = self.steps(&mut problems);
        let every = every(&self.every).map_err(|m| problems.push(("every".into(), m)));
        let gates = self.gates.compile(&mut problems);
        match (steps, every, problems.is_empty()) {
            (Some(steps), Ok(every_seconds), true) => Ok(RampPlan {
                steps,
                every_seconds,
                gates,
            }),
            _ => Err(problems),
        }
    }

    fn steps(&self, problems: &mut Vec<(String, String)>) -> Option<Vec<u16>> {
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            problems.push(("steps".into(), format!("needs 1 to {MAX_STEPS} steps")));
            return None;
        }
        let mut steps = Vec::with_capacity(self.steps.len());
        for (index, percent) in self.steps.iter().enumerate() {
            let key = format!("steps[{index}]");
            match percent_to_basis_points(*percent) {
                Ok(0) => problems.push((key, "a step must be above 0".into())),
                Ok(bp) if steps.last().is_some_and(|last| *last >= bp) => {
                    problems.push((key, "steps must be strictly ascending".into()))
                }
                Ok(bp) => steps.push(bp),
                Err(message) => problems.push((key, message)),
            }
        }
        (steps.len() == self.steps.len()).then_some(steps)
    }
}

impl RawGates {
    fn compile(&self, problems: &mut Vec<(String, String)>) -> Gates {
        let mut percent = |key: &str, raw: &Option<RawPercent>| {
            let bp = raw.as_ref().map(RawPercent::basis_points).transpose();
            bp.unwrap_or_else(|m| {
                problems.push((format!("gates.{key}"), m));
                None
            })
        };
        let max_error_rate = percent("max_error_rate", &self.max_error_rate);
        let min_match_rate = percent("min_match_rate", &self.min_match_rate);
        let max_p95_ms = self.max_p95.as_deref().and_then(|text| {
            max_p95(text)
                .map_err(|m| problems.push(("gates.max_p95".into(), m)))
                .ok()
                .flatten()
        });
        Gates {
            max_error_rate,
            max_p95_ms,
            min_requests: self.min_requests.unwrap_or(DEFAULT_MIN_REQUESTS),
            min_match_rate,
            min_comparisons: self.min_comparisons.unwrap_or(DEFAULT_MIN_COMPARISONS),
        }
    }
}

/// Validates `rollout.ramp` of the route whose node path is `at` (`routes[0]`).
pub(super) fn validate(
    at: &str,
    name: &str,
    raw: &RawRamp,
    problems: &mut Problems<'_>,
) -> Option<RampPlan> {
    raw.compile()
        .map_err(|found| {
            for (key, message) in found {
                let path = format!("{at}.rollout.ramp.{key}");
                problems.at_value(
                    &path,
                    format!("route {name:?}: rollout.ramp.{key}: {message}"),
                );
            }
        })
        .ok()
}

/// Whole seconds, at least one.
fn every(text: &str) -> Result<u64, String> {
    let every = parse_duration(text)?;
    if every.subsec_nanos() != 0 || every < Duration::from_secs(1) {
        return Err(format!("{text:?} must be whole seconds, at least 1s"));
    }
    Ok(every.as_secs())
}

#[cfg(test)]
mod tests {
    use crate::tests::{load, load_errors, BASE};

    /// A route at line 10 whose `rollout.ramp:` keys start on line 15.
    fn with_ramp(lines: &str) -> String {
        format!(
            "{BASE}routes:\n  - name: invoices\n    match: {{ path: \"/api/invoices/**\" }}\n    \
             service: billing\n    rollout:\n      ramp:\n{lines}"
        )
    }

    #[test]
    fn a_ramp_compiles_with_its_gates_and_defaults() {
        let snapshot = load(&with_ramp(
            "        steps: [5, 10, 100]\n        every: 30m\n        gates: { max_error_rate: 1%, min_match_rate: 99.5% }\n",
        ));
        let plan = snapshot.routes()[0].ramp().expect("ramp");
        assert_eq!(plan.steps, [500, 1_000, 10_000]);
        assert_eq!(plan.every_seconds, 1_800);
        assert_eq!(plan.gates.max_error_rate, Some(100));
        assert_eq!(plan.gates.min_match_rate, Some(9_950));
        assert_eq!(
            (plan.gates.min_requests, plan.gates.min_comparisons),
            (50, 50)
        );
    }

    #[test]
    fn a_descending_step_and_a_bad_every_are_located_at_their_values() {
        let errors = load_errors(&with_ramp("        steps: [10, 5]\n        every: 500ms\n"));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(
            errors[0],
            "routes.yaml:15:21: route \"invoices\": rollout.ramp.steps[1]: steps must be \
             strictly ascending"
        );
        assert!(errors[1].starts_with("routes.yaml:16:16: "), "{errors:?}");
    }
}
