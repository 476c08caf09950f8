//! One verdict per comparison (issue #14, item 1): [`RouteEvidence::judge`] decides it once
//! with the route's noise evidence, and the report counts stored verdicts without deciding
//! again, so what the metric counted is what the report says.

use std::collections::BTreeSet;

use serde_json::json;
use strangler_flags::shadow_policy::{CompiledPolicy, NoiseThresholds};

use super::json;
use super::noise::comparison_of;
use crate::{diff, Comparison, RouteEvidence, Verdict, MIN_PROBES};

/// A comparison whose shadow differs from the primary at `/id` (a fresh id per call) and,
/// when `broken`, at `/currency`; probed when `probe`, the probe seeing `/id` differ.
fn request(call: u64, broken: bool, probe: bool) -> Comparison {
    let primary = json(json!({"id": call, "currency": "EUR"}));
    let currency = if broken { "eur" } else { "EUR" };
    let shadow = json(json!({"id": call + 1_000, "currency": currency}));
    let noise = probe.then(|| BTreeSet::from(["/id".to_owned()]));
    comparison_of(&diff(&primary, &shadow, &CompiledPolicy::default()), noise)
}

fn judge(evidence: &mut RouteEvidence, mut comparison: Comparison, probing: bool) -> Comparison {
    evidence.judge(&mut comparison, probing, &NoiseThresholds::default());
    comparison
}

#[test]
fn one_verdict_a_field_that_changes_per_call_is_noise_only_from_the_first_probe() {
    let mut evidence = RouteEvidence::default();
    let first = judge(&mut evidence, request(1, false, true), true);
    assert_eq!(first.verdict, Verdict::NoiseOnly);
    assert!(first.differences.iter().all(|d| d.noise), "{first:?}");
    let unprobed = judge(&mut evidence, request(2, false, false), true);
    assert_eq!(
        unprobed.verdict,
        Verdict::NoiseOnly,
        "the route's evidence decides"
    );
}

#[test]
fn one_verdict_a_difference_before_ten_probes_is_unsettled_then_a_mismatch() {
    let mut evidence = RouteEvidence::default();
    let verdicts: Vec<Verdict> = (0..MIN_PROBES + 2)
        .map(|call| judge(&mut evidence, request(call, true, true), true).verdict)
        .collect();
    let unsettled = verdicts
        .iter()
        .filter(|v| **v == Verdict::Unsettled)
        .count() as u64;
    assert_eq!(unsettled, MIN_PROBES - 1, "{verdicts:?}");
    assert!(verdicts[MIN_PROBES as usize - 1..]
        .iter()
        .all(|v| *v == Verdict::Mismatch));
}

#[test]
fn one_verdict_a_route_that_does_not_probe_judges_every_difference_a_mismatch() {
    let mut evidence = RouteEvidence::default();
    let judged = judge(&mut evidence, request(1, false, false), false);
    assert_eq!(judged.verdict, Verdict::Mismatch);
    assert!(judged.differences.iter().all(|d| !d.noise));
}

#[test]
fn one_verdict_the_paths_of_a_mismatch_keep_their_noise_flags() {
    let mut evidence = RouteEvidence::default();
    for call in 0..MIN_PROBES {
        judge(&mut evidence, request(call, true, true), true);
    }
    let judged = judge(&mut evidence, request(99, true, false), true);
    assert_eq!(judged.verdict, Verdict::Mismatch);
    let noise: Vec<(&str, bool)> = judged
        .differences
        .iter()
        .map(|d| (d.collapsed.as_str(), d.noise))
        .collect();
    assert_eq!(noise, [("/currency", false), ("/id", true)]);
}

#[test]
fn one_verdict_the_report_counts_stored_verdicts_and_never_decides_again() {
    // Stored as a mismatch by a proxy with no noise evidence; later evidence would call
    // /id noise, but the report counts what was decided and counted then.
    let mut evidence = RouteEvidence::default();
    let early = judge(&mut evidence, request(1, false, false), false);
    let mut stored = vec![early];
    let mut later = RouteEvidence::default();
    stored.push(judge(&mut later, request(2, false, true), true));
    let report = crate::report(&stored, &[]).routes.remove(0);
    assert_eq!((report.mismatched, report.noise_only), (1, 1));
    assert_eq!(
        report.outcomes,
        [(Verdict::Mismatch, 1), (Verdict::NoiseOnly, 1)].into()
    );
    assert_eq!(report.differences[0].path, "/id");
    assert_eq!(report.differences[0].count, 1, "the one mismatch");
}

#[test]
fn noise_evidence_the_first_ten_requests_and_each_new_signature_are_probed() {
    let mut evidence = RouteEvidence::default();
    let equal = comparison_of(&crate::Diff::default(), None);
    for _ in 0..MIN_PROBES {
        assert!(evidence.wants_probe(""), "{} probes", evidence.probes());
        let mut probed = equal.clone();
        probed.noise = Some(BTreeSet::new());
        judge(&mut evidence, probed, true);
    }
    assert!(
        !evidence.wants_probe(""),
        "a known signature, enough probes"
    );
    assert!(evidence.wants_probe("/id"), "a new signature");
    judge(&mut evidence, request(1, false, true), true);
    assert!(!evidence.wants_probe("/id"));
}

#[test]
fn noise_evidence_a_shadow_sides_own_volatility_is_noise_when_both_sides_are_probed() {
    // The primary answers the same twice; the shadow's /id changes on every call.
    let primary_only = |evidence: &mut RouteEvidence| {
        let mut c = request(1, false, true);
        c.noise = Some(BTreeSet::new());
        judge(evidence, c, true)
    };
    let both_sides = |evidence: &mut RouteEvidence| {
        let mut c = primary_only(&mut RouteEvidence::default());
        c.shadow_noise = Some(BTreeSet::from(["/id".to_owned()]));
        judge(evidence, c, true)
    };
    let (mut one, mut two) = (RouteEvidence::default(), RouteEvidence::default());
    for _ in 0..MIN_PROBES {
        primary_only(&mut one);
        both_sides(&mut two);
    }
    assert_eq!(primary_only(&mut one).verdict, Verdict::Mismatch);
    assert_eq!(both_sides(&mut two).verdict, Verdict::NoiseOnly);
}
