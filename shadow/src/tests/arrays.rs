//! Array policies: ordered (default), unordered and keyed.

use serde_json::json;

use super::{at, diff_json, json, only, policy, summary};
use crate::diff;

#[test]
fn an_ordered_array_of_another_length_is_array_length() {
    let result = diff_json(
        json!({"tags": ["a", "b"]}),
        json!({"tags": ["a", "b", "c"]}),
    );
    assert_eq!(only(&result), at("/tags", "/tags", "array-length"));
}

#[test]
fn an_ordered_array_also_reports_its_changed_positions() {
    let result = diff_json(json!({"t": [1, 2]}), json!({"t": [1, 5, 6]}));
    let expected = [
        at("/t/1", "/t/*", "value-changed"),
        at("/t", "/t", "array-length"),
    ];
    assert_eq!(summary(&result), expected);
}

#[test]
fn the_same_elements_in_another_order_are_order_only() {
    let result = diff_json(
        json!({"t": [{"a": 1}, {"a": 2}, 3]}),
        json!({"t": [3, {"a": 2}, {"a": 1}]}),
    );
    assert_eq!(only(&result), at("/t", "/t", "order-only"));
}

#[test]
fn keyed_elements_in_another_order_are_equal() {
    let compiled = policy("arrays: { \"/items\": { key: id } }");
    let a = json!({"items": [{"id": 1, "price": 5}, {"id": "b", "price": 6}]});
    let b = json!({"items": [{"id": "b", "price": 6}, {"id": 1, "price": 5}]});
    assert!(diff(&json(a), &json(b), &compiled).is_empty());
}

#[test]
fn a_changed_keyed_element_is_reported_under_its_id() {
    let compiled = policy("arrays: { \"/items\": { key: id } }");
    let a = json!({"items": [{"id": "sku-1", "price": 5}, {"id": "sku-2", "price": 6}]});
    let b = json!({"items": [{"id": "sku-2", "price": 7}, {"id": "sku-1", "price": 5}]});
    let result = diff(&json(a), &json(b), &compiled);
    assert_eq!(
        only(&result),
        at("/items/sku-2/price", "/items/*/price", "value-changed")
    );
}

#[test]
fn keyed_elements_only_one_side_has_are_missing_or_extra() {
    let compiled = policy("arrays: { \"/items\": { key: id } }");
    let a = json!({"items": [{"id": 1}, {"id": 2}]});
    let b = json!({"items": [{"id": 2}, {"id": 3}]});
    let result = diff(&json(a), &json(b), &compiled);
    let expected = [
        at("/items/1", "/items/*", "missing"),
        at("/items/3", "/items/*", "extra"),
    ];
    assert_eq!(summary(&result), expected);
}

#[test]
fn unordered_arrays_compare_as_multisets() {
    let compiled = policy("arrays: { \"/tags\": unordered }");
    let same = diff(
        &json(json!({"tags": ["a", "b", "a"]})),
        &json(json!({"tags": ["a", "a", "b"]})),
        &compiled,
    );
    assert!(same.is_empty(), "{same:?}");
    let a = json!({"tags": ["a", "b", "a"]});
    let b = json!({"tags": ["b", "a", "c"]});
    let result = diff(&json(a), &json(b), &compiled);
    let expected = [
        at("/tags/2", "/tags/*", "missing"),
        at("/tags/2", "/tags/*", "extra"),
    ];
    assert_eq!(summary(&result), expected);
}

#[test]
fn unordered_elements_ignore_their_ignored_fields() {
    let compiled = policy("arrays: { \"/rows\": unordered }\nignore: [\"/rows/*/etag\"]");
    let a = json!({"rows": [{"n": 1, "etag": "x"}, {"n": 2, "etag": "y"}]});
    let b = json!({"rows": [{"n": 2, "etag": "z"}, {"n": 1, "etag": "w"}]});
    assert!(diff(&json(a), &json(b), &compiled).is_empty());
}

#[test]
fn a_policy_with_a_wildcard_applies_to_every_parent() {
    let compiled = policy("arrays: { \"/orders/*/lines\": unordered }");
    let a = json!({"orders": [{"lines": [1, 2]}, {"lines": [3, 4]}]});
    let b = json!({"orders": [{"lines": [2, 1]}, {"lines": [4, 3]}]});
    assert!(diff(&json(a), &json(b), &compiled).is_empty());
}
