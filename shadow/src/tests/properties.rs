//! Properties over arbitrary JSON: a document never differs from itself (re-serialized,
//! so the structural comparison runs rather than the equal-bytes shortcut), and any pair
//! of documents is diffed without panicking, under the default policy and under one with
//! unordered, keyed and ignored paths and a tolerance.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::{json, policy};
use strangler_flags::shadow_policy::CompiledPolicy;

use crate::{diff, Captured};

/// The same document pretty-printed: other bytes, same value.
fn pretty(value: &Value) -> Captured {
    let text = serde_json::to_string_pretty(value).expect("serializes");
    Captured::new(200, [("content-type", "application/json")], text)
}

/// Arbitrary JSON up to a few levels deep, with keys drawn from a small set so that two
/// independent documents share fields often enough to be compared below the root.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-z~/]{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map("(id|tags|a|b~|c/d|[0-9]{1,3})", inner, 0..6)
                .prop_map(|map| Value::Object(Map::from_iter(map))),
        ]
    })
}

fn policies() -> [CompiledPolicy; 2] {
    let keyed = "arrays: { \"\": unordered, \"/tags\": { key: id }, \"/a\": unordered }\nignore: [\"/b~0\"]\ntolerance: 0.5";
    [CompiledPolicy::default(), policy(keyed)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_document_never_differs_from_itself(value in arbitrary_json()) {
        for compiled in policies() {
            let result = diff(&json(value.clone()), &pretty(&value), &compiled);
            prop_assert!(result.is_empty(), "{:?}", result);
        }
    }

    #[test]
    fn any_two_documents_diff_without_panicking_and_exactly_when_unequal(a in arbitrary_json(), b in arbitrary_json()) {
        let [exact, relaxed] = policies();
        let result = diff(&json(a.clone()), &pretty(&b), &exact);
        prop_assert_eq!(result.is_empty(), a == b, "{:?}", result);
        let result = diff(&json(a.clone()), &pretty(&b), &relaxed);
        prop_assert!(result.differences.iter().all(|d| d.path == "body" || d.path.starts_with('/')));
    }
}
