//! Noise cancellation, the one verdict per comparison and the per-route report: simulated
//! traffic where some fields vary on every call of the same side, and some differ only
//! between the sides, judged as the proxy judges it and counted as the report counts it.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use strangler_flags::shadow_policy::{CompiledPolicy, NoiseThresholds};

use super::{json, policy};
use crate::{
    diff, noise_paths, Comparison, Diff, RouteEvidence, RouteReport, SkipReason, Verdict,
    MIN_PROBES,
};

/// A tiny deterministic generator, so the simulated traffic is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 16
    }

    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a as u32,
            (a >> 32) as u16,
            b as u16,
            (b >> 16) as u16,
            b >> 32 & 0xffff_ffff_ffff
        )
    }
}

/// A comparison of route `invoices` whose diff is `diff` and whose primary probe, if
/// any, differed at `noise`.
pub(super) fn comparison_of(diff: &Diff, noise: Option<BTreeSet<String>>) -> Comparison {
    Comparison {
        id: 0,
        at_ms: 0,
        route: "invoices".into(),
        tenant: None,
        method: "GET".into(),
        path: "/".into(),
        upstream_path: None,
        primary_side: "legacy".into(),
        verdict: Verdict::Match,
        skip: diff.skipped,
        error: None,
        primary_status: Some(200),
        shadow_status: Some(200),
        primary_ms: None,
        shadow_ms: None,
        differences: Comparison::differences_of(diff, &Default::default()),
        noise,
        shadow_noise: None,
    }
}

/// Judges `comparisons` as the proxy would (every one probing for noise) and reports them.
fn judged(comparisons: Vec<Comparison>) -> (Vec<Comparison>, RouteReport) {
    let mut evidence = RouteEvidence::default();
    let judged: Vec<Comparison> = comparisons
        .into_iter()
        .map(|mut c| {
            evidence.judge(&mut c, true, &NoiseThresholds::default());
            c
        })
        .collect();
    let report = crate::report(&judged, &[]).routes.remove(0);
    (judged, report)
}

/// Simulates `requests` comparisons, the first ten and then every tenth also calling the
/// primary again; `answer(rng, is_shadow)` builds one answer.
fn simulate(
    requests: usize,
    compiled: &CompiledPolicy,
    answer: impl Fn(&mut Lcg, bool) -> Value,
) -> RouteReport {
    let mut rng = Lcg(7);
    let mut comparisons = Vec::new();
    for request in 0..requests {
        let primary = json(answer(&mut rng, false));
        let shadow = json(answer(&mut rng, true));
        let compared = diff(&primary, &shadow, compiled);
        let noise = (request < 10 || request % 10 == 0).then(|| {
            let again = json(answer(&mut rng, false));
            noise_paths(&primary, &again, compiled)
        });
        comparisons.push(comparison_of(&compared, noise));
    }
    judged(comparisons).1
}

fn paths<T>(entries: &[T], path: impl Fn(&T) -> &str) -> Vec<&str> {
    entries.iter().map(path).collect()
}

#[test]
fn a_field_random_on_every_call_is_noise_not_a_difference() {
    let report = simulate(
        200,
        &CompiledPolicy::default(),
        |rng, _| json!({"request_id": rng.uuid(), "total": 10}),
    );
    assert!(report.differences.is_empty(), "{report:?}");
    assert_eq!(paths(&report.noise, |n| &n.path), ["/request_id"]);
    assert_eq!(report.noise[0].count, 200);
    assert_eq!(
        (report.compared, report.matched, report.mismatched),
        (200, 200, 0)
    );
    assert_eq!(report.match_rate, Some(1.0));
}

#[test]
fn a_real_difference_next_to_noise_is_still_reported() {
    let report = simulate(200, &CompiledPolicy::default(), |rng, shadow| {
        let currency = if shadow { "eur" } else { "EUR" };
        json!({"request_id": rng.uuid(), "currency": currency})
    });
    assert_eq!(paths(&report.differences, |d| &d.path), ["/currency"]);
    assert_eq!(report.differences[0].count, 200);
    assert_eq!(paths(&report.noise, |n| &n.path), ["/request_id"]);
    assert_eq!(
        (report.matched, report.unsettled, report.mismatched),
        (0, MIN_PROBES - 1, 201 - MIN_PROBES),
        "a mismatch needs {MIN_PROBES} probes of evidence"
    );
}

#[test]
fn a_difference_in_some_requests_counts_only_those_as_mismatched() {
    let report = simulate(200, &CompiledPolicy::default(), |rng, shadow| {
        let broken = shadow && rng.next() % 4 == 0;
        json!({"total": if broken { 11 } else { 10 }})
    });
    assert_eq!(paths(&report.differences, |d| &d.path), ["/total"]);
    assert_eq!(
        report.mismatched + report.unsettled,
        report.differences[0].count
    );
    assert_eq!(report.matched + report.mismatched + report.unsettled, 200);
    assert!((30..70).contains(&report.mismatched), "{report:?}");
}

#[test]
fn an_ignored_field_is_neither_a_difference_nor_noise() {
    let compiled = policy("ignore: [\"/request_id\"]");
    let report = simulate(200, &compiled, |rng, _| json!({"request_id": rng.uuid()}));
    assert!(
        report.differences.is_empty() && report.noise.is_empty(),
        "{report:?}"
    );
    assert_eq!(report.matched, 200);
}

#[test]
fn a_path_too_rare_to_tell_from_chance_is_not_a_difference() {
    let equal = diff(
        &json(json!({"a": 1})),
        &json(json!({"a": 1})),
        &CompiledPolicy::default(),
    );
    let once = diff(
        &json(json!({"a": 1})),
        &json(json!({"a": 2})),
        &CompiledPolicy::default(),
    );
    let mut comparisons: Vec<Comparison> = (0..999)
        .map(|i| comparison_of(&equal, (i < 10).then(BTreeSet::new)))
        .collect();
    comparisons.push(comparison_of(&once, None));
    let (_, report) = judged(comparisons);
    assert!(report.differences.is_empty());
    assert_eq!((report.matched, report.mismatched), (1_000, 0));
    assert_eq!(report.noise_only, 1);
}

#[test]
fn the_noise_estimate_scales_to_all_comparisons() {
    let thresholds = NoiseThresholds::default();
    // Differed in 100 of 200 comparisons and 5 of 20 noise samples: noise explains 50.
    assert!(thresholds.is_real_difference(100, crate::noise::noise_estimate(5, 20, 200), 200));
    // Differed in 100 of 200 and 9 of 20: noise explains 90, only 10 % above it.
    assert!(!thresholds.is_real_difference(100, crate::noise::noise_estimate(9, 20, 200), 200));
}

#[test]
fn noise_paths_are_collapsed() {
    let a = json(json!({"items": [{"at": 1}], "n": 1}));
    let b = json(json!({"items": [{"at": 2}], "n": 1}));
    let expected: BTreeSet<String> = ["/items/*/at".to_owned()].into();
    assert_eq!(noise_paths(&a, &b, &CompiledPolicy::default()), expected);
}

#[test]
fn skips_and_errors_are_counted_apart_from_comparisons() {
    let big = crate::Captured::new(200, [("content-type", "text/plain")], "x".repeat(2_048));
    let skipped = comparison_of(&diff(&big, &big, &policy("max_body: 1KiB")), None);
    let mut skipped = skipped;
    skipped.mark_skipped(SkipReason::BodyTooLarge);
    let mut failed = comparison_of(&Diff::default(), None);
    failed.mark_failed(Verdict::ShadowError, "timeout".into());
    let report = crate::report(&[skipped, failed], &[]).routes.remove(0);
    assert_eq!(
        (report.compared, report.errors, report.match_rate),
        (0, 1, None)
    );
    assert_eq!(report.skip_reasons.get(&SkipReason::BodyTooLarge), Some(&1));
    assert_eq!(report.skipped, 1);
}

#[test]
fn the_report_serializes_with_the_contract_field_names() {
    let compared = diff(
        &json(json!({"c": "EUR"})),
        &json(json!({"c": "eur"})),
        &CompiledPolicy::default(),
    );
    let mut evidence = RouteEvidence::default();
    let mut mismatch = comparison_of(&compared, None);
    evidence.judge(&mut mismatch, false, &NoiseThresholds::default());
    let value = serde_json::to_value(crate::report(&[mismatch], &[])).expect("serializes");
    let expected = json!({"routes": [{
        "route": "invoices", "compared": 1, "matched": 0, "mismatched": 1, "noise_only": 0,
        "unsettled": 0, "skipped": 0, "skip_reasons": {}, "errors": 0,
        "outcomes": {"mismatch": 1}, "match_rate": 0.0, "noise_probes": 0,
        "shadow_noise_probes": 0,
        "differences": [{"path": "/c", "kind": "value-changed", "count": 1,
                         "example": {"primary": "EUR", "shadow": "eur"}}],
        "findings": [{"kind": "value-changed", "path": "/c", "paths": 1, "count": 1,
                      "examples": [{"path": "/c", "primary": "EUR", "shadow": "eur"}]}],
        "noise": []
    }]});
    assert_eq!(value, expected);
}

#[test]
fn counted_matches_and_skips_report_as_the_rows_they_replace() {
    let mut skipped = comparison_of(&Diff::default(), None);
    skipped.mark_skipped(SkipReason::Overloaded);
    let matched = comparison_of(&Diff::default(), None);
    assert!(matched.countable() && skipped.countable());
    let rows = [matched.clone(), matched.clone(), matched, skipped];
    let counted = [
        crate::Counted {
            route: "invoices".into(),
            verdict: Verdict::Match,
            skip: None,
            count: 3,
        },
        crate::Counted {
            route: "invoices".into(),
            verdict: Verdict::Skipped,
            skip: Some(SkipReason::Overloaded),
            count: 1,
        },
    ];
    assert_eq!(crate::report(&rows, &[]), crate::report(&[], &counted));
}

#[test]
fn a_comparison_with_a_difference_a_probe_or_an_error_is_not_countable() {
    let differing = diff(
        &json(json!({"c": "EUR"})),
        &json(json!({"c": "eur"})),
        &CompiledPolicy::default(),
    );
    let mut skipped_with_differences = comparison_of(&differing, None);
    skipped_with_differences.mark_skipped(SkipReason::BodyTooLarge);
    let probed = comparison_of(&Diff::default(), Some(BTreeSet::new()));
    let mut failed = comparison_of(&Diff::default(), None);
    failed.mark_failed(Verdict::ShadowError, "timeout".into());
    for comparison in [skipped_with_differences, probed, failed] {
        assert!(!comparison.countable(), "{comparison:?}");
    }
}
