//! The JSON Schema of routes.yaml as an editor and CI use it: `strangler schema` prints
//! draft 2020-12 with the raw types' doc comments as descriptions, the copy in
//! `docs/routes.schema.json` is its output, every routes.yaml of the repository names that
//! copy in its `yaml-language-server` comment and validates against it, and a set of broken
//! files does not.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::demo::{readme_section, repo};

/// The schema as `strangler schema` prints it.
fn printed_schema() -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_strangler"))
        .arg("schema")
        .output()
        .expect("running strangler schema");
    assert!(output.status.success());
    serde_json::from_slice(&output.stdout).expect("JSON")
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&printed_schema()).expect("a valid draft 2020-12 schema")
}

/// YAML as the JSON value a validator reads.
fn as_json(yaml: &str) -> Value {
    serde_yaml::from_str(yaml).expect("YAML")
}

/// The routes.yaml files of the repository (not under target/ or .git/).
fn routes_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a directory") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if path.is_dir() && !matches!(name, "target" | ".git") {
            routes_files(&path, found);
        } else if name.ends_with("routes.yaml") {
            found.push(path);
        }
    }
}

/// Every error of `yaml` against the schema, one per line.
fn errors(validator: &jsonschema::Validator, yaml: &str) -> String {
    let value = as_json(yaml);
    let lines: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    lines.join("\n")
}

#[test]
fn strangler_schema_prints_draft_2020_12_with_the_doc_comments_and_the_committed_copy_is_it() {
    let schema = printed_schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let listen = schema["properties"]["listen"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(listen.contains("the proxy listener"), "{listen}");
    let grace = &schema["properties"]["shutdown_grace"]["pattern"];
    assert_eq!(*grace, "^[0-9]+(ms|s|m|h|d)$");
    let committed = std::fs::read_to_string(repo().join("docs/routes.schema.json")).expect("copy");
    let committed: Value = serde_json::from_str(&committed).expect("JSON");
    assert!(
        committed == schema,
        "docs/routes.schema.json is stale: strangler schema > docs/routes.schema.json"
    );
}

#[test]
fn every_routes_yaml_in_the_repository_names_the_schema_and_validates() {
    let validator = validator();
    let mut files = Vec::new();
    routes_files(repo(), &mut files);
    assert!(files.len() >= 2, "{files:?}");
    for file in &files {
        let text = std::fs::read_to_string(file).expect("routes.yaml");
        let first = text.lines().next().unwrap_or_default();
        let target = first.strip_prefix("# yaml-language-server: $schema=");
        let target = target.unwrap_or_else(|| panic!("{} has no schema comment", file.display()));
        let resolved = file.parent().expect("a directory").join(target);
        assert_eq!(
            resolved.canonicalize().ok(),
            repo().join("docs/routes.schema.json").canonicalize().ok()
        );
        assert_eq!(errors(&validator, &text), "", "{}", file.display());
    }
}

#[test]
fn the_configs_the_docs_show_validate() {
    let validator = validator();
    let configmap = std::fs::read_to_string(repo().join("deploy/kubernetes/configmap.yaml"))
        .expect("configmap");
    let configmap: serde_yaml::Value = serde_yaml::from_str(&configmap).expect("YAML");
    let fleet = configmap["data"]["routes.yaml"]
        .as_str()
        .expect("routes.yaml");
    assert_eq!(errors(&validator, fleet), "", "the ConfigMap's routes.yaml");
    let section = readme_section("## routes.yaml");
    let example = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|s| s.split("```").next());
    assert_eq!(
        errors(&validator, example.expect("an example")),
        "",
        "the README's example"
    );
}

/// A valid file to break, one key at a time.
const BASE: &str = "listen: 127.0.0.1:8080
legacy: http://127.0.0.1:3000
services:
  billing: { url: http://127.0.0.1:3001, read_timeout: 5s, breaker: { error_rate: 50% } }
tenant: { sources: [ { header: X-Tenant-Id } ], default: legacy }
limits: { max_body: 1MiB }
shutdown_grace: 30s
telemetry: { otlp: { endpoint: http://127.0.0.1:4318, protocol: http/protobuf, sample: 1% } }
routes:
  - name: invoices
    match: { path: /api/invoices/** }
    service: billing
    rollout: { percent: 25, tenants: { acme: new } }
    guard: { max_error_rate: 5%, max_p95: 800ms }
    fallback: { on: [502, timeout] }
";

#[test]
fn broken_files_fail_the_schema() {
    let validator = validator();
    assert_eq!(errors(&validator, BASE), "");
    let broken = [
        ("a misspelt key", "percent: 25", "percnt: 25"),
        ("a percent over 100", "percent: 25", "percent: 250"),
        ("a percent that is text", "percent: 25", "percent: lots"),
        ("an unknown side", "acme: new", "acme: newer"),
        ("a duration without a unit", "shutdown_grace: 30s", "shutdown_grace: 30"),
        ("a duration in words", "read_timeout: 5s", "read_timeout: 5 seconds"),
        ("a size in MB", "max_body: 1MiB", "max_body: 1MB"),
        ("a guard rate without its sign", "max_error_rate: 5%", "max_error_rate: 5 percent"),
        ("a breaker rate over two decimals", "error_rate: 50%", "error_rate: 50.125%"),
        ("a fallback status that is not 5xx", "on: [502, timeout]", "on: [404, timeout]"),
        ("a fallback word", "on: [502, timeout]", "on: [502, slow]"),
        ("a tenant source with two keys", "{ header: X-Tenant-Id }", "{ header: X-Tenant-Id, subdomain: .shop.example.com }"),
        ("a tenant default that is no side", "default: legacy", "default: old"),
        ("a service that is a number", "billing: { url: http://127.0.0.1:3001, read_timeout: 5s, breaker: { error_rate: 50% } }", "billing: 3001"),
        ("no listen", "listen: 127.0.0.1:8080\n", ""),
        ("an OTLP protocol the schema does not know", "protocol: http/protobuf", "protocol: http/json"),
        ("an OTLP sample over two decimals", "sample: 1%", "sample: 1.125%"),
        ("an OTLP section without its endpoint", "endpoint: http://127.0.0.1:4318, ", ""),
        ("a store that is no URL", "shutdown_grace: 30s", "shutdown_grace: 30s\nstore: mysql://db/flags"),
    ];
    for (what, from, to) in broken {
        assert!(BASE.contains(from), "{what}: {from}");
        let text = BASE.replacen(from, to, 1);
        assert!(
            !errors(&validator, &text).is_empty(),
            "{what} passed:\n{text}"
        );
    }
}
