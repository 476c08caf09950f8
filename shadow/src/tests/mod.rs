//! Unit tests of the shadow contract, one module per capability, each test named after
//! the rule it pins. Responses are built in memory; policies are parsed from the YAML a
//! route would carry.

mod arrays;
mod bodies;
mod findings;
mod json;
mod marker;
mod noise;
mod properties;
mod verdicts;

use serde::Deserialize;
use serde_json::Value;
use strangler_flags::shadow_policy::{CompiledPolicy, ShadowPolicy};

use crate::{diff, Captured, Diff};

/// A route's YAML with only its `shadow:` block, as routes.yaml nests it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Route {
    shadow: ShadowPolicy,
}

/// Parses and compiles a `shadow:` block given as the YAML under the key; the policy
/// must be valid (its validation is tested in the flags crate, which owns it).
fn policy(yaml: &str) -> CompiledPolicy {
    let indented: String = yaml.lines().map(|line| format!("  {line}\n")).collect();
    let route: Route = serde_yaml::from_str(&format!("shadow:\n{indented}")).expect("valid YAML");
    route.shadow.compile().expect("valid policy")
}

/// A 200 JSON answer with this body.
fn json(body: Value) -> Captured {
    Captured::new(
        200,
        [("Content-Type", "application/json")],
        body.to_string(),
    )
}

/// Diffs two JSON bodies under the default policy.
fn diff_json(a: Value, b: Value) -> Diff {
    diff(&json(a), &json(b), &CompiledPolicy::default())
}

/// The (path, collapsed, kind) of each difference, for compact assertions.
fn summary(diff: &Diff) -> Vec<(String, String, String)> {
    diff.differences
        .iter()
        .map(|d| {
            let kind = serde_json::to_value(d.kind).expect("kind serializes");
            (
                d.path.clone(),
                d.collapsed.clone(),
                kind.as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// `summary` of a diff that must have exactly one difference.
fn only(diff: &Diff) -> (String, String, String) {
    let mut all = summary(diff);
    assert_eq!(all.len(), 1, "expected one difference, got {all:?}");
    all.remove(0)
}

/// Shorthand for an expected `(path, collapsed, kind)`.
fn at(path: &str, collapsed: &str, kind: &str) -> (String, String, String) {
    (path.to_owned(), collapsed.to_owned(), kind.to_owned())
}
