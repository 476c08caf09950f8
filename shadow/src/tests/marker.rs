//! The mirror marker is never a difference (issue #14, item 3): an answer that echoes the
//! request's headers shows `x-strangler-shadow` only on the shadow side (and on a noise
//! probe's), so the diff leaves it out of both answers by construction.

use serde_json::json;
use strangler_flags::shadow_policy::CompiledPolicy;

use super::json;
use crate::{diff, Captured};

#[test]
fn marker_an_echoed_marker_key_in_any_spelling_is_no_difference() {
    for key in [
        "x-strangler-shadow",
        "X-Strangler-Shadow",
        "HTTP_X_STRANGLER_SHADOW",
    ] {
        let primary = json(json!({"headers": {"accept": "a"}}));
        let shadow = json(json!({"headers": {"accept": "a", key: "1"}}));
        let found = diff(&primary, &shadow, &CompiledPolicy::default());
        assert!(found.differences.is_empty(), "{key}: {found:?}");
    }
}

#[test]
fn marker_a_key_that_only_contains_the_name_is_still_compared() {
    let primary = json(json!({"my-x-strangler-shadow": 1}));
    let shadow = json(json!({"my-x-strangler-shadow": 2}));
    assert_eq!(
        diff(&primary, &shadow, &CompiledPolicy::default())
            .differences
            .len(),
        1
    );
}

#[test]
fn marker_an_echoed_marker_pair_in_an_array_of_headers_is_no_difference() {
    let primary = json(json!({"headers": [["accept", "a"]]}));
    let shadow = json(json!({"headers": [["accept", "a"], ["X-Strangler-Shadow", "1"]]}));
    assert!(diff(&primary, &shadow, &CompiledPolicy::default()).is_empty());
}

#[test]
fn marker_an_echoed_marker_line_in_a_text_body_is_no_difference() {
    let text = |body: &str| Captured::new(200, [("content-type", "text/plain")], body.to_owned());
    let primary = text("GET / HTTP/1.1\naccept: a\ndone");
    let shadow = text("GET / HTTP/1.1\naccept: a\nX-Strangler-Shadow: 1\ndone");
    assert!(diff(&primary, &shadow, &CompiledPolicy::default()).is_empty());
}
