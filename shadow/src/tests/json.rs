//! Structural JSON comparison: kinds, paths, ignore rules, tolerance, status and headers.

use serde_json::json;

use super::{at, diff_json, json, only, policy, summary};
use strangler_flags::shadow_policy::CompiledPolicy;

use crate::{diff, Captured};

#[test]
fn identical_responses_give_an_empty_diff() {
    let body = json!({"id": 7, "items": [{"price": 1.5}], "tags": ["a"], "note": null});
    let result = diff_json(body.clone(), body);
    assert!(result.is_empty(), "{result:?}");
    assert_eq!(result.signature(), "");
}

#[test]
fn equivalent_json_with_other_key_order_and_spacing_is_equal() {
    let a = Captured::new(
        200,
        [("content-type", "application/json")],
        r#"{"a":1,"b":[1,2]}"#,
    );
    let b = Captured::new(
        200,
        [("content-type", "application/json")],
        "{ \"b\": [1, 2],\n \"a\": 1.0 }",
    );
    assert!(diff(&a, &b, &CompiledPolicy::default()).is_empty());
}

#[test]
fn a_changed_field_is_value_changed_at_its_pointer() {
    let result = diff_json(json!({"currency": "EUR"}), json!({"currency": "eur"}));
    assert_eq!(only(&result), at("/currency", "/currency", "value-changed"));
    let example = &result.differences[0].example;
    assert_eq!(example.primary.as_deref(), Some("\"EUR\""));
    assert_eq!(example.shadow.as_deref(), Some("\"eur\""));
}

#[test]
fn a_field_absent_from_the_shadow_is_missing() {
    let result = diff_json(json!({"a": 1, "b": {"c": 2}}), json!({"a": 1}));
    assert_eq!(only(&result), at("/b", "/b", "missing"));
}

#[test]
fn a_field_only_the_shadow_has_is_extra() {
    let result = diff_json(json!({"a": 1}), json!({"a": 1, "debug": true}));
    assert_eq!(only(&result), at("/debug", "/debug", "extra"));
}

#[test]
fn a_number_become_string_is_type_changed() {
    let result = diff_json(json!({"total": 12}), json!({"total": "12"}));
    assert_eq!(only(&result), at("/total", "/total", "type-changed"));
    let result = diff_json(json!({"total": null}), json!({"total": 0}));
    assert_eq!(only(&result), at("/total", "/total", "type-changed"));
}

#[test]
fn a_whole_body_of_another_type_is_reported_at_body() {
    let result = diff_json(json!({"a": 1}), json!([1]));
    assert_eq!(only(&result), at("body", "body", "type-changed"));
}

#[test]
fn an_ignored_field_and_everything_below_it_is_not_a_difference() {
    let compiled = policy(r#"ignore: ["/generated_at", "/items/*/etag", "/meta"]"#);
    let a = json!({"generated_at": 1, "meta": {"x": 1}, "items": [{"etag": "a", "n": 1}]});
    let b = json!({"generated_at": 2, "meta": {"x": 2}, "items": [{"etag": "b", "n": 1}]});
    assert!(diff(&json(a), &json(b), &compiled).is_empty());
}

#[test]
fn an_ignore_rule_does_not_hide_its_siblings() {
    let compiled = policy(r#"ignore: ["/items/*/etag"]"#);
    let a = json!({"items": [{"etag": "a", "n": 1}]});
    let b = json!({"items": [{"etag": "b", "n": 2}]});
    let result = diff(&json(a), &json(b), &compiled);
    assert_eq!(
        only(&result),
        at("/items/0/n", "/items/*/n", "value-changed")
    );
}

#[test]
fn numbers_within_the_tolerance_are_equal() {
    let compiled = policy("tolerance: 0.001");
    let close = diff(
        &json(json!({"p": 10.0004})),
        &json(json!({"p": 10.0})),
        &compiled,
    );
    assert!(close.is_empty(), "{close:?}");
    let far = diff(
        &json(json!({"p": 10.01})),
        &json(json!({"p": 10.0})),
        &compiled,
    );
    assert_eq!(only(&far), at("/p", "/p", "value-changed"));
}

#[test]
fn without_tolerance_numbers_must_be_equal() {
    let result = diff_json(json!({"p": 10.0004}), json!({"p": 10.0}));
    assert_eq!(only(&result), at("/p", "/p", "value-changed"));
    assert!(diff_json(json!({"p": 1}), json!({"p": 1.0})).is_empty());
    let big = diff_json(
        json!({"n": 9_007_199_254_740_993_u64}),
        json!({"n": 9_007_199_254_740_992_u64}),
    );
    assert_eq!(only(&big).2, "value-changed");
}

#[test]
fn pointer_segments_escape_tilde_and_slash() {
    let result = diff_json(json!({"a/b": {"m~n": 1}}), json!({"a/b": {"m~n": 2}}));
    assert_eq!(
        only(&result),
        at("/a~1b/m~0n", "/a~1b/m~0n", "value-changed")
    );
}

#[test]
fn an_escaped_ignore_rule_matches_the_key_with_slash() {
    let compiled = policy(r#"ignore: ["/a~1b"]"#);
    let result = diff(
        &json(json!({"a/b": 1})),
        &json(json!({"a/b": 2})),
        &compiled,
    );
    assert!(result.is_empty());
}

#[test]
fn id_like_keys_collapse_to_a_star() {
    let cases = [
        ("42", "/users/*/name"),
        ("3f2b8c1e-7a9d-4e2b-9c1d-0a1b2c3d4e5f", "/users/*/name"),
        ("deadbeefcafef00d1234", "/users/*/name"),
        ("alice", "/users/alice/name"),
        ("cafe", "/users/cafe/name"),
    ];
    for (key, collapsed) in cases {
        let result = diff_json(
            json!({"users": {key: {"name": "a"}}}),
            json!({"users": {key: {"name": "b"}}}),
        );
        let (path, got, _) = only(&result);
        assert_eq!(path, format!("/users/{key}/name"));
        assert_eq!(got, collapsed, "{key}");
    }
}

#[test]
fn array_positions_collapse_to_a_star() {
    let result = diff_json(
        json!({"items": [{"p": 1}, {"p": 2}]}),
        json!({"items": [{"p": 1}, {"p": 3}]}),
    );
    assert_eq!(
        only(&result),
        at("/items/1/p", "/items/*/p", "value-changed")
    );
}

#[test]
fn the_signature_is_the_sorted_distinct_collapsed_paths() {
    let a = json!({"z": 1, "items": [{"p": 1}, {"p": 1}], "a": 1});
    let b = json!({"z": 2, "items": [{"p": 2}, {"p": 2}], "a": 2});
    assert_eq!(diff_json(a, b).signature(), "/a,/items/*/p,/z");
}

#[test]
fn examples_are_cut_to_about_two_hundred_characters() {
    let long = "x".repeat(5_000);
    let result = diff_json(json!({"a": long}), json!({"a": "y"}));
    let primary = result.differences[0]
        .example
        .primary
        .clone()
        .unwrap_or_default();
    assert_eq!(primary.chars().count(), 201);
    assert!(primary.ends_with('…'));
}

#[test]
fn a_status_change_is_reported_at_status() {
    let a = Captured::new(200, [("content-type", "text/plain")], "ok");
    let b = Captured::new(500, [("content-type", "text/plain")], "ok");
    let result = diff(&a, &b, &CompiledPolicy::default());
    assert_eq!(summary(&result), [at("status", "status", "value-changed")]);
}

#[test]
fn only_the_listed_headers_are_compared() {
    let a = Captured::new(
        200,
        [("Content-Type", "text/plain"), ("Date", "1"), ("X-A", "1")],
        "",
    );
    let b = Captured::new(200, [("content-type", "text/html"), ("date", "2")], "");
    let result = diff(
        &a,
        &b,
        &policy("headers: [content-type, x-a, date]\nignore: [\"header:date\"]"),
    );
    let expected = [
        at(
            "header:content-type",
            "header:content-type",
            "value-changed",
        ),
        at("header:x-a", "header:x-a", "missing"),
    ];
    assert_eq!(summary(&result), expected);
}
