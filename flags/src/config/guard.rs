//! A route's `guard:` as written ([`RawGuard`], the routes.yaml reference for its keys)
//! and its validation into a [`GuardPolicy`], every problem located at its key's value.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::guard::{GuardPolicy, MAX_P95_LIMIT, MAX_WINDOW};
use crate::rollout::percent_to_basis_points;

use super::parse_duration;
use super::problems::Problems;

/// `window` when absent.
const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
/// `min_requests` when absent.
const DEFAULT_MIN_REQUESTS: u64 = 50;

/// A route's `guard:`, the automatic rollback: when the route's new side fails or slows
/// down, the proxy turns the route's kill switch on (every request to legacy), pauses its
/// ramp schedule, and records why in the audit log with the actor `guard`. It never
/// turns the kill switch off again: a human does (`DELETE /admin/routes/{route}/kill`).
///
/// ```yaml
/// guard: { max_error_rate: 5%, max_p95: 800ms, window: 60s, min_requests: 50 }
/// ```
///
/// Only requests decided for the new side count: a 5xx, no answer, an upstream error or
/// timeout, or a failed connect (which legacy then serves) is an error. At least one of
/// `max_error_rate` and `max_p95` is required.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGuard {
    /// `max_error_rate:` the highest share of failed requests in the window that is
    /// tolerated, `5%` or `5` (0 to 100, at most two decimals); above it, the guard trips.
    pub max_error_rate: Option<RawPercent>,
    /// `max_p95:` the highest tolerated 95th percentile latency of the window, a duration
    /// (`800ms`, `2s`), above 0 and at most 30s; above it, the guard trips.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub max_p95: Option<String>,
    /// `window:` how far back the guard looks, whole seconds from `1s` to `10m`.
    /// Default `60s`.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub window: Option<String>,
    /// `min_requests:` the guard judges nothing until the window holds this many requests
    /// to the new side, so three failures of the first four requests do not roll a route
    /// back. At least 1. Default 50.
    pub min_requests: Option<u64>,
}

/// A percentage written `5%` or `5`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawPercent {
    /// `5`, `2.5`.
    Number(#[schemars(range(min = 0, max = 100))] f64),
    /// `5%`, `2.5%`.
    Text(#[schemars(pattern(crate::shadow_policy::PERCENT_PATTERN))] String),
}

/// Validates `guard:` of the route whose node path is `at` (`routes[0]`).
pub(super) fn validate(
    at: &str,
    name: &str,
    raw: &RawGuard,
    problems: &mut Problems<'_>,
) -> Option<GuardPolicy> {
    let key = |field: &str| format!("{at}.guard.{field}");
    let mut report = |field: &str, message: String| {
        problems.at_value(
            &key(field),
            format!("route {name:?}: guard.{field}: {message}"),
        )
    };
    let rate = raw.max_error_rate.as_ref().map(|raw| {
        error_rate(raw)
            .map_err(|m| report("max_error_rate", m))
            .ok()
    });
    let p95 = raw
        .max_p95
        .as_deref()
        .map(|text| max_p95(text).map_err(|m| report("max_p95", m)).ok());
    let window = window(raw.window.as_deref()).map_err(|m| report("window", m));
    if raw.min_requests == Some(0) {
        report("min_requests", "must be at least 1".into());
    }
    if raw.max_error_rate.is_none() && raw.max_p95.is_none() {
        let message = format!("route {name:?}: guard needs max_error_rate, max_p95 or both");
        problems.at_key(&format!("{at}.guard"), message);
        return None;
    }
    let min_requests = raw.min_requests.unwrap_or(DEFAULT_MIN_REQUESTS);
    (min_requests > 0).then_some(())?;
    Some(GuardPolicy::new(
        rate.unwrap_or(Some(None))?,
        p95.unwrap_or(Some(None))?,
        window.ok()?,
        min_requests,
    ))
}

impl RawPercent {
    /// Basis points of `5%` or `5`; the error says what is wrong.
    pub(super) fn basis_points(&self) -> Result<u16, String> {
        let percent = match self {
            RawPercent::Number(percent) => *percent,
            RawPercent::Text(text) => text
                .strip_suffix('%')
                .and_then(|number| number.trim().parse().ok())
                .ok_or_else(|| format!("{text:?} is not a percentage such as 5% or 2.5"))?,
        };
        percent_to_basis_points(percent)
    }
}

/// Basis points of `5%` or `5`.
fn error_rate(raw: &RawPercent) -> Result<Option<u16>, String> {
    raw.basis_points().map(Some)
}

/// Whole milliseconds, above 0 and at most [`MAX_P95_LIMIT`] (also a ramp gate's).
pub(super) fn max_p95(text: &str) -> Result<Option<u32>, String> {
    let limit = parse_duration(text)?;
    if limit.is_zero() || limit > MAX_P95_LIMIT {
        return Err(format!("{text:?} must be above 0 and at most 30s"));
    }
    Ok(u32::try_from(limit.as_millis()).ok())
}

/// Whole seconds from 1 to [`MAX_WINDOW`]; [`DEFAULT_WINDOW`] when absent.
fn window(text: Option<&str>) -> Result<u32, String> {
    let window = text.map_or(Ok(DEFAULT_WINDOW), parse_duration)?;
    let whole = window.subsec_nanos() == 0;
    if !whole || window < Duration::from_secs(1) || window > MAX_WINDOW {
        let text = text.unwrap_or_default();
        return Err(format!("{text:?} must be whole seconds from 1s to 10m"));
    }
    Ok(window.as_secs() as u32)
}

#[cfg(test)]
mod tests {
    use crate::tests::{load, load_errors, BASE};

    /// A route at line 10 whose `guard:` block starts on line 14, one key per line.
    fn with_guard(lines: &str) -> String {
        format!(
            "{BASE}routes:\n  - name: invoices\n    match: {{ path: \"/api/invoices/**\" }}\n    \
             service: billing\n    guard:\n{lines}"
        )
    }

    #[test]
    fn a_guard_compiles_with_percent_text_durations_and_defaults() {
        let snapshot = load(&with_guard(
            "      max_error_rate: 2.5%\n      max_p95: 1s\n",
        ));
        let guard = snapshot.routes()[0].guard().expect("guard");
        assert_eq!(guard.max_error_rate, Some(250));
        assert_eq!(guard.max_p95_ms, Some(1_000));
        assert_eq!((guard.window_seconds, guard.min_requests), (60, 50));
        let snapshot = load(&with_guard("      max_error_rate: 5\n      window: 2m\n"));
        let guard = snapshot.routes()[0].guard().expect("guard");
        assert_eq!((guard.max_error_rate, guard.max_p95_ms), (Some(500), None));
        assert_eq!(guard.window_seconds, 120);
    }

    #[test]
    fn a_bad_error_rate_is_located_at_its_value() {
        let errors = load_errors(&with_guard("      max_error_rate: five%\n"));
        assert_eq!(
            errors,
            [
                "routes.yaml:14:23: route \"invoices\": guard.max_error_rate: \"five%\" is not a \
              percentage such as 5% or 2.5"
            ]
        );
        let errors = load_errors(&with_guard("      max_error_rate: 120\n"));
        assert!(errors[0].starts_with("routes.yaml:14:23: "), "{errors:?}");
    }

    #[test]
    fn a_window_under_a_second_or_in_fractions_is_refused_where_it_is_written() {
        for window in ["800ms", "1500ms", "0s", "11m"] {
            let errors = load_errors(&with_guard(&format!(
                "      max_p95: 800ms\n      window: {window}\n"
            )));
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert!(
                errors[0].starts_with("routes.yaml:15:15: route \"invoices\": guard.window: "),
                "{errors:?}"
            );
        }
    }

    #[test]
    fn a_bad_p95_and_zero_min_requests_are_both_reported() {
        let errors = load_errors(&with_guard("      max_p95: 31s\n      min_requests: 0\n"));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("routes.yaml:14:16: "), "{errors:?}");
        assert!(errors[0].contains("guard.max_p95"), "{errors:?}");
        assert_eq!(
            errors[1],
            "routes.yaml:15:21: route \"invoices\": guard.min_requests: must be at least 1"
        );
    }

    #[test]
    fn a_guard_without_any_threshold_is_refused_at_its_key() {
        let errors = load_errors(&with_guard("      window: 60s\n"));
        assert_eq!(
            errors,
            ["routes.yaml:13:5: route \"invoices\": guard needs max_error_rate, max_p95 or both"]
        );
    }

    #[test]
    fn an_unknown_guard_key_is_located() {
        let errors = load_errors(&with_guard("      max_errors: 5%\n"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("routes.yaml:14:7: "), "{errors:?}");
        assert!(
            errors[0].contains("unknown field `max_errors`"),
            "{errors:?}"
        );
    }
}
