//! A report a person can read (issue #14, item 5): the same transformation at sibling
//! paths is one finding with a count and examples, example values are JSON values, the
//! signatures are counted, `case_insensitive_keys` and header-name case are no difference.

use serde_json::{json, Value};
use strangler_flags::shadow_policy::{CompiledPolicy, NoiseThresholds};

use super::noise::comparison_of;
use super::{json, policy};
use crate::{diff, Captured, RouteEvidence, RouteReport};

/// The report of `times` comparisons of `primary` and `shadow` under `compiled`, judged
/// by a route that does not probe for noise.
fn report_of(
    primary: Value,
    shadow: Value,
    compiled: &CompiledPolicy,
    times: usize,
) -> RouteReport {
    let mut evidence = RouteEvidence::default();
    let compared = diff(&json(primary), &json(shadow), compiled);
    let comparisons: Vec<_> = (0..times)
        .map(|_| {
            let mut c = comparison_of(&compared, None);
            evidence.judge(&mut c, false, &NoiseThresholds::default());
            c
        })
        .collect();
    crate::report(&comparisons, &[]).routes.remove(0)
}

fn kinds(report: &RouteReport) -> Vec<(&str, &str, u64, u64)> {
    let findings = report.findings.iter();
    findings
        .map(|f| (f.kind.as_str(), f.path.as_str(), f.paths, f.count))
        .collect()
}

#[test]
fn readable_report_lower_cased_keys_are_one_key_case_finding_with_examples() {
    let primary =
        json!({"customerId": 1, "orderId": 2, "lineCount": 3, "Total": 4, "currency": "EUR"});
    let shadow =
        json!({"customerid": 1, "orderid": 2, "linecount": 3, "total": 4, "currency": "eur"});
    let report = report_of(primary, shadow, &CompiledPolicy::default(), 4);
    assert_eq!(
        report.differences.len(),
        9,
        "a missing and an extra path per key"
    );
    assert_eq!(
        kinds(&report),
        [
            ("key-case", "/", 4, 4),
            ("value-changed", "/currency", 1, 4)
        ]
    );
    let examples = &report.findings[0].examples;
    assert_eq!(examples.len(), 3, "three examples of four");
    assert_eq!(examples[0].path, "/Total → total");
}

#[test]
fn readable_report_snake_case_keys_become_camel_case_as_one_renamed_finding() {
    let primary = json!({"items": [{"unit_price": 1, "line_total": 2, "sku": "a"}]});
    let shadow = json!({"items": [{"unitPrice": 1, "lineTotal": 2, "sku": "a"}]});
    let report = report_of(primary, shadow, &CompiledPolicy::default(), 2);
    assert_eq!(kinds(&report), [("renamed", "/items/*", 2, 2)]);
}

#[test]
fn readable_report_a_lone_key_renamed_with_its_value_is_renamed() {
    let report = report_of(
        json!({"amount": 10, "id": 1}),
        json!({"total": 10, "id": 1}),
        &CompiledPolicy::default(),
        1,
    );
    assert_eq!(kinds(&report), [("renamed", "/", 1, 1)]);
    assert_eq!(report.findings[0].examples[0].path, "/amount → total");
}

#[test]
fn readable_report_one_type_change_at_sibling_paths_is_one_finding() {
    let report = report_of(
        json!({"price": 1, "tax": 2, "total": 3, "note": "x"}),
        json!({"price": "1", "tax": "2", "total": "3", "note": 5}),
        &CompiledPolicy::default(),
        3,
    );
    assert_eq!(
        kinds(&report),
        [
            ("type-changed number → string", "/", 3, 3),
            ("type-changed", "/note", 1, 3)
        ]
    );
}

#[test]
fn readable_report_example_values_are_json_values_not_json_in_strings() {
    let report = report_of(
        json!({"currency": "EUR", "n": 1}),
        json!({"currency": "eur", "n": 1.5}),
        &CompiledPolicy::default(),
        1,
    );
    let value = serde_json::to_value(&report).expect("serializes");
    let example = |path: &str| {
        let all = value["differences"].as_array().unwrap();
        all.iter().find(|d| d["path"] == path).unwrap()["example"].clone()
    };
    assert_eq!(
        example("/currency"),
        json!({"primary": "EUR", "shadow": "eur"})
    );
    assert_eq!(example("/n"), json!({"primary": 1, "shadow": 1.5}));
    let n = value["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/n");
    assert_eq!(n.unwrap()["examples"][0]["primary"], json!(1));
}

#[test]
fn readable_report_signatures_are_counted() {
    let report = report_of(
        json!({"a": 1}),
        json!({"a": 2}),
        &CompiledPolicy::default(),
        3,
    );
    assert_eq!(report.signatures.len(), 1);
    assert_eq!(
        (
            report.signatures[0].signature.as_str(),
            report.signatures[0].count
        ),
        ("/a", 3)
    );
}

#[test]
fn case_insensitive_keys_ignore_key_case_under_their_pointer_only() {
    let compiled = policy("case_insensitive_keys: [\"/headers\"]");
    let primary = json!({"headers": {"Content-Type": "a", "X-Id": {"Inner": 1}}, "Top": 1});
    let shadow = json!({"headers": {"content-type": "a", "x-id": {"inner": 1}}, "top": 1});
    let differences = diff(&json(primary), &json(shadow), &compiled).differences;
    let paths: Vec<&str> = differences.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(paths, ["/Top", "/top"], "only outside /headers");
    let changed = diff(
        &json(json!({"headers": {"Accept": "a"}})),
        &json(json!({"headers": {"accept": "b"}})),
        &compiled,
    );
    assert_eq!(
        changed.differences[0].path, "/headers/Accept",
        "values still compared"
    );
}

#[test]
fn header_name_case_is_never_a_difference() {
    let compiled = policy("headers: [Content-Type, ETag]\nignore: [\"header:X-Date\"]");
    let primary = Captured {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "text/plain".into()),
            ("etag".into(), "1".into()),
        ],
        body: "a".into(),
    };
    let shadow = Captured {
        status: 200,
        headers: vec![
            ("content-type".into(), "text/plain".into()),
            ("ETAG".into(), "1".into()),
        ],
        body: "a".into(),
    };
    assert!(diff(&primary, &shadow, &compiled).is_empty());
}

#[test]
fn readable_report_keys_only_one_side_has_are_one_finding_from_three_on() {
    let report = report_of(
        json!({"slideshow": {"title": "t", "date": "d"}}),
        json!({"title": "t", "date": "d", "author": "a"}),
        &CompiledPolicy::default(),
        2,
    );
    assert_eq!(
        kinds(&report),
        [("extra", "/", 3, 2), ("missing", "/slideshow", 1, 2)]
    );
}
