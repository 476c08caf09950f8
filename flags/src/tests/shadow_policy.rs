//! The `shadow:` block: defaults, units, and validation errors that name the bad value.

use std::time::Duration;

use serde::Deserialize;

use crate::shadow_policy::{ArrayPolicy, CompiledPolicy, PolicyError, ShadowPolicy};

/// A route's YAML with only its `shadow:` block, as routes.yaml nests it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Route {
    shadow: ShadowPolicy,
}

/// Parses and compiles a `shadow:` block given as the YAML under the key.
fn try_policy(yaml: &str) -> Result<CompiledPolicy, PolicyError> {
    let indented: String = yaml.lines().map(|line| format!("  {line}\n")).collect();
    let route: Route = serde_yaml::from_str(&format!("shadow:\n{indented}")).expect("valid YAML");
    route.shadow.compile()
}

/// Like [`try_policy`], for policies the test expects to be valid.
fn policy(yaml: &str) -> CompiledPolicy {
    try_policy(yaml).expect("valid policy")
}

#[test]
fn the_documented_example_compiles() {
    let compiled = policy(
        r#"sample: 10
methods: [GET, HEAD]
ignore: ["/generated_at", "/items/*/etag", "header:date"]
arrays: { "/items": { key: id }, "/tags": unordered }
noise: 5
max_body: 1MiB
timeout: 2s
tolerance: 0.001
headers: [content-type]"#,
    );
    assert_eq!(compiled.sample.hundredths(), 1_000);
    assert_eq!(compiled.noise.hundredths(), 500);
    assert_eq!(compiled.max_body, 1 << 20);
    assert_eq!(compiled.timeout, Duration::from_secs(2));
    assert_eq!(compiled.tolerance, 0.001);
    assert_eq!(
        compiled.array_policy("/items"),
        &ArrayPolicy::Keyed { key: "id".into() }
    );
    assert_eq!(compiled.array_policy("/tags"), &ArrayPolicy::Unordered);
    assert_eq!(compiled.array_policy("/other"), &ArrayPolicy::Ordered);
}

#[test]
fn an_empty_block_shadows_every_read_and_no_write() {
    let compiled = policy("{}");
    assert_eq!(compiled.sample.hundredths(), 10_000);
    assert!(compiled.allows_method("GET") && compiled.allows_method("HEAD"));
    assert!(!compiled.allows_method("POST"));
    assert_eq!(compiled.headers, ["content-type"]);
}

#[test]
fn a_write_method_is_shadowed_only_when_listed() {
    assert!(policy("methods: [GET, POST]").allows_method("POST"));
}

#[test]
fn an_unknown_key_is_rejected() {
    let yaml = "shadow:\n  sample: 10\n  ignroe: [\"/a\"]\n";
    let error = serde_yaml::from_str::<Route>(yaml).err().expect("rejected");
    assert!(error.to_string().contains("ignroe"), "{error}");
}

#[test]
fn an_unknown_array_policy_is_rejected() {
    let yaml = "shadow:\n  arrays: { \"/a\": sorted }\n";
    let error = serde_yaml::from_str::<Route>(yaml).err().expect("rejected");
    assert!(error.to_string().contains("sorted"), "{error}");
    let yaml = "shadow:\n  arrays: { \"/a\": { field: id } }\n";
    assert!(serde_yaml::from_str::<Route>(yaml).is_err());
}

#[test]
fn a_percentage_finer_than_a_hundredth_names_the_value() {
    let error = try_policy("sample: 10.005").expect_err("rejected");
    assert_eq!(
        error,
        PolicyError::Percent {
            field: "sample",
            value: 10.005
        }
    );
    assert!(error.to_string().contains("10.005"));
    assert_eq!(policy("sample: 0.01").sample.hundredths(), 1);
    assert!(try_policy("noise: 101").is_err());
}

#[test]
fn sizes_take_b_kib_or_mib() {
    assert_eq!(policy("max_body: 512B").max_body, 512);
    assert_eq!(policy("max_body: 64KiB").max_body, 64 << 10);
    let error = try_policy("max_body: 1MB").expect_err("rejected");
    assert_eq!(
        error,
        PolicyError::Size {
            value: "1MB".into()
        }
    );
}

#[test]
fn invalid_values_are_named_in_the_error() {
    let cases = [
        ("timeout: 2 seconds", "2 seconds"),
        ("methods: [get]", "get"),
        ("ignore: [items]", "items"),
        ("ignore: [\"/a~2\"]", "/a~2"),
        ("ignore: [\"header:bad name\"]", "bad name"),
        ("arrays: { items: unordered }", "items"),
        ("tolerance: -1", "-1"),
        ("headers: [\"x y\"]", "x y"),
    ];
    for (yaml, named) in cases {
        let error = try_policy(yaml)
            .err()
            .unwrap_or_else(|| panic!("{yaml} accepted"));
        assert!(error.to_string().contains(named), "{yaml}: {error}");
    }
}

#[test]
fn array_policies_are_found_under_their_collapsed_pointer() {
    let compiled = policy("arrays: { \"/orders/17/lines\": unordered }");
    assert_eq!(
        compiled.array_policy("/orders/*/lines"),
        &ArrayPolicy::Unordered
    );
}

#[test]
fn noise_both_sides_is_off_by_default_and_needs_noise_probes() {
    assert!(!policy("{}").noise_both_sides);
    assert!(policy("noise_both_sides: true").noise_both_sides);
    assert_eq!(
        try_policy("noise: 0\nnoise_both_sides: true").unwrap_err(),
        PolicyError::NoiseBothSides
    );
}

#[test]
fn case_insensitive_keys_are_pointers_below_the_root() {
    let compiled = policy("case_insensitive_keys: [\"/headers\", \"/items/*/meta\"]");
    assert!(compiled.case_insensitive_keys.matches_pointer("/headers"));
    assert!(compiled
        .case_insensitive_keys
        .matches_pointer("/items/3/meta/x"));
    assert!(!compiled.case_insensitive_keys.matches_pointer("/items/3"));
    for bad in ["\"headers\"", "\"\"", "\"header:x-a\""] {
        let error = try_policy(&format!("case_insensitive_keys: [{bad}]")).unwrap_err();
        assert!(
            matches!(error, PolicyError::CaseInsensitiveKeys { .. }),
            "{bad}: {error}"
        );
    }
}
