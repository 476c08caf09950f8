//! The `strangler` binary's offline commands: `check` validates files like `nginx -t`
//! (exit 0, or 1 with every error as `file:line:col: message`), and `explain` says where a
//! request would go and why, as text or JSON, without sending anything.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::scratch::Scratch;

const GOOD: &str = r#"listen: 127.0.0.1:8080
admin: 127.0.0.1:9180
legacy: http://127.0.0.1:3000
services:
  billing: http://127.0.0.1:3001
tenant:
  sources: [ { header: X-Tenant-Id }, { subdomain: .shop.example.com }, { path: "/t/{tenant}/**" } ]
  default: legacy
routes:
  - name: invoices
    match: { path: "/api/invoices/**", methods: [GET, POST] }
    service: billing
    cohort: billing-wave-1
    rollout: { percent: 25, tenants: { qa-internal: new, bigcorp: legacy } }
"#;

const UNKNOWN_KEY: &str = r#"listen: 127.0.0.1:8080
legacy: http://127.0.0.1:3000
services:
  billing: http://127.0.0.1:3001
routes:
  - name: invoices
    match:
      path: /api/invoices/**
    service: billing
    rollout:
      percnt: 25
"#;

const SEMANTIC_ERRORS: &str = r#"listen: 127.0.0.1:8080
legacy: http://127.0.0.1:3000
services:
  billing: http://127.0.0.1:3001
routes:
  - name: invoices
    match:
      path: /api/invoices/**
    service: biling
    rollout:
      percent: 150
"#;

fn strangler(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strangler"))
        .args(args)
        .output()
        .expect("running strangler")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `file:line:col` of the first occurrence of `needle` in `yaml` (1-based, like the errors).
fn location(file: &Path, yaml: &str, needle: &str) -> String {
    let (index, line) = yaml
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(needle))
        .expect("needle in yaml");
    let column = line.find(needle).expect("needle in line") + 1;
    format!("{}:{}:{column}", file.display(), index + 1)
}

/// Asserts `stderr` has a line starting with the location of `needle` and mentioning `about`.
fn assert_reported(stderr: &str, file: &Path, yaml: &str, needle: &str, about: &str) {
    let at = format!("{}: ", location(file, yaml, needle));
    let line = stderr.lines().find(|l| l.starts_with(&at));
    let line = line.unwrap_or_else(|| panic!("no error at {at:?} in:\n{stderr}"));
    assert!(line.contains(about), "{line:?} should mention {about:?}");
}

#[test]
fn check_accepts_a_valid_file() {
    let scratch = Scratch::new();
    let file = scratch.write("routes.yaml", GOOD);
    let output = strangler(&["check", file.to_str().expect("utf-8 path")]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn check_reports_an_unknown_key_at_its_line_and_column() {
    let scratch = Scratch::new();
    let file = scratch.write("typo.yaml", UNKNOWN_KEY);
    let output = strangler(&["check", file.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(1));
    assert_reported(
        &text(&output.stderr),
        &file,
        UNKNOWN_KEY,
        "percnt",
        "percnt",
    );
}

#[test]
fn check_reports_every_semantic_error_with_its_location() {
    let scratch = Scratch::new();
    let file = scratch.write("bad.yaml", SEMANTIC_ERRORS);
    let output = strangler(&["check", file.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert_reported(&stderr, &file, SEMANTIC_ERRORS, "biling", "biling");
    assert_reported(&stderr, &file, SEMANTIC_ERRORS, "150", "150");
}

/// Five mistakes of five kinds: a misspelt key, a wrong type, an unknown side, a percent
/// out of range and an undefined service.
const FIVE_MISTAKES: &str = r#"listen: 127.0.0.1:8080
threads: two
legacy: http://127.0.0.1:3000
services:
  billing: http://127.0.0.1:3001
tenant:
  default: neww
routes:
  - name: invoices
    macth: { path: "/api/invoices/**" }
    service: billing
  - name: users
    match: { path: "/api/users/**" }
    service: billing
    rollout: { percent: 120 }
  - name: search
    match: { path: "/api/search/**" }
    service: serch
"#;

#[test]
fn check_reports_every_mistake_at_once_sorted_by_line() {
    let scratch = Scratch::new();
    let file = scratch.write("five.yaml", FIVE_MISTAKES);
    let output = strangler(&["check", file.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    for (needle, about) in [
        ("two", "two"),
        ("neww", "neww"),
        ("macth", "macth"),
        ("120", "120"),
        ("serch", "serch"),
    ] {
        assert_reported(&stderr, &file, FIVE_MISTAKES, needle, about);
    }
    let lines: Vec<usize> = stderr
        .lines()
        .filter_map(|line| line.split(':').nth(1)?.parse().ok())
        .collect();
    assert_eq!(lines, [2, 7, 10, 15, 18], "{stderr}");
}

/// A relative SQLite store is looked for beside routes.yaml; one that an earlier release
/// put in the working directory is still used there, with a warning saying to move it.
#[test]
fn a_store_left_in_the_working_directory_is_still_used_with_a_warning() {
    let (config_dir, working_dir) = (Scratch::new(), Scratch::new());
    let file = config_dir.write("routes.yaml", &format!("{GOOD}store: sqlite://flags.db\n"));
    let check = |dir: &Path| {
        Command::new(env!("CARGO_BIN_EXE_strangler"))
            .args(["check"])
            .arg(&file)
            .current_dir(dir)
            .output()
            .expect("running strangler check")
    };
    let fresh = check(working_dir.path());
    assert!(fresh.status.success());
    assert!(
        !text(&fresh.stderr).contains("flags.db"),
        "nothing to say: {}",
        text(&fresh.stderr)
    );
    working_dir.write("flags.db", "");
    let upgraded = check(working_dir.path());
    assert!(upgraded.status.success(), "a warning, not an error");
    let stderr = text(&upgraded.stderr);
    assert!(
        stderr.contains("flags.db is now looked for beside routes.yaml"),
        "{stderr}"
    );
}

#[test]
fn check_warns_about_a_deprecated_key_at_its_location_and_passes() {
    let yaml = GOOD.replace(
        "admin: 127.0.0.1:9180\n",
        "admin: 127.0.0.1:9180\nconnect_timeout: 1s\n",
    );
    let scratch = Scratch::new();
    let file = scratch.write("routes.yaml", &yaml);
    let output = strangler(&["check", file.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(0));
    assert!(text(&output.stdout).contains(": ok (1 routes)"));
    let stderr = text(&output.stderr);
    let about = "warning: connect_timeout is deprecated: use timeouts.connect";
    assert_reported(&stderr, &file, &yaml, "connect_timeout", about);
}

#[test]
fn check_of_several_files_fails_if_any_fails_and_reports_each() {
    let scratch = Scratch::new();
    let good = scratch.write("good.yaml", GOOD);
    let typo = scratch.write("typo.yaml", UNKNOWN_KEY);
    let bad = scratch.write("bad.yaml", SEMANTIC_ERRORS);
    let paths = [&good, &typo, &bad].map(|p| p.to_str().expect("utf-8 path").to_string());
    let output = strangler(&["check", &paths[0], &paths[1], &paths[2]]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert_reported(&stderr, &typo, UNKNOWN_KEY, "percnt", "percnt");
    assert_reported(&stderr, &bad, SEMANTIC_ERRORS, "biling", "biling");
    assert_reported(&stderr, &bad, SEMANTIC_ERRORS, "150", "150");
    assert!(
        !stderr.contains(&paths[0]),
        "the good file has no errors:\n{stderr}"
    );
}

/// Runs `strangler explain --config GOOD` with `args`; returns stdout.
fn explain(args: &[&str]) -> String {
    explain_with(GOOD, args)
}

/// Runs `strangler explain` with `args` on a routes.yaml holding `yaml`; returns stdout.
fn explain_with(yaml: &str, args: &[&str]) -> String {
    let scratch = Scratch::new();
    let file = scratch.write("routes.yaml", yaml);
    let mut all = vec!["explain", "--config", file.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    let output = strangler(&all);
    assert!(
        output.status.success(),
        "explain {args:?} failed: {}",
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// The `key:` lines of explain's text output.
fn field<'t>(out: &'t str, key: &str) -> &'t str {
    let prefix = format!("{key}:");
    let line = out
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {key}: in\n{out}"));
    line[prefix.len()..].trim()
}

#[test]
fn explain_text_for_an_override_tenant() {
    let out = explain(&[
        "--method",
        "GET",
        "--path",
        "/api/invoices/7",
        "--tenant",
        "qa-internal",
    ]);
    assert_eq!(field(&out, "route"), "invoices");
    assert!(field(&out, "tenant").starts_with("qa-internal"), "{out}");
    assert_eq!(field(&out, "side"), "new");
    assert!(field(&out, "upstream").starts_with("billing"), "{out}");
    assert_eq!(field(&out, "reason"), "tenant-override");
}

#[test]
fn explain_json_for_a_percent_tenant_shows_its_bucket() {
    let out = explain(&["--path", "/api/invoices/7", "--tenant", "acme", "--json"]);
    let answer: Value = serde_json::from_str(&out).expect("explain --json prints JSON");
    let bucket = strangler_flags::bucket("billing-wave-1", "acme");
    let (side, upstream, addr) = if bucket < 2500 {
        ("new", "billing", "127.0.0.1:3001")
    } else {
        ("legacy", "legacy", "127.0.0.1:3000")
    };
    assert_eq!(answer["route"], "invoices");
    assert_eq!(answer["tenant"], "acme");
    assert_eq!(answer["tenant_source"], "header");
    assert_eq!(answer["side"], side);
    assert_eq!(answer["upstream"], upstream);
    assert_eq!(answer["upstream_addr"], addr);
    assert_eq!(answer["reason"], "percent");
    let detail = answer["detail"].as_str().expect("detail");
    assert!(detail.contains(&format!("bucket {bucket}")), "{detail}");
}

#[test]
fn explain_shows_the_path_it_matched_on() {
    let out = explain(&[
        "--path",
        "/api;jsessionid=1/invoices/%37",
        "--tenant",
        "acme",
    ]);
    assert_eq!(field(&out, "path"), "/api/invoices/7");
    assert_eq!(field(&out, "route"), "invoices");
}

#[test]
fn explain_under_case_insensitive_paths_says_the_path_matched_regardless_of_case() {
    let yaml = GOOD.replace("routes:\n", "paths: { case: insensitive }\nroutes:\n");
    let args = ["--path", "/API/Invoices/7", "--tenant", "qa-internal"];
    let out = explain_with(&yaml, &args);
    assert_eq!(
        field(&out, "path"),
        "/API/Invoices/7 (matched case-insensitively)"
    );
    assert_eq!(field(&out, "route"), "invoices");
    let json: Value =
        serde_json::from_str(&explain_with(&yaml, &[&args[..], &["--json"]].concat()))
            .expect("JSON");
    assert_eq!(json["path_case"], "insensitive");
    assert_eq!(field(&explain(&args), "route"), "- (no route matched)");
}

#[test]
fn check_locates_a_paths_case_that_is_not_sensitive_or_insensitive() {
    let scratch = Scratch::new();
    let yaml = GOOD.replace("routes:\n", "paths:\n  case: Insensitive\nroutes:\n");
    let file = scratch.write("routes.yaml", &yaml);
    let output = strangler(&["check", file.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert_reported(
        &stderr,
        &file,
        &yaml,
        "Insensitive",
        "unknown variant `Insensitive`",
    );
}

#[test]
fn explain_for_an_unmatched_path_says_no_route() {
    let out = explain(&["--path", "/shop/cart", "--tenant", "acme"]);
    assert_eq!(field(&out, "side"), "legacy");
    assert_eq!(field(&out, "reason"), "no-route");
    assert!(field(&out, "upstream").starts_with("legacy"), "{out}");
    let json: Value =
        serde_json::from_str(&explain(&["--path", "/shop/cart", "--json"])).expect("JSON");
    assert_eq!(json["route"], Value::Null);
    assert_eq!(
        (&json["side"], &json["reason"]),
        (&Value::from("legacy"), &Value::from("no-route"))
    );
}

#[test]
fn explain_finds_the_tenant_in_the_host() {
    let out = explain(&[
        "--path",
        "/api/invoices/7",
        "--host",
        "bigcorp.shop.example.com",
        "--json",
    ]);
    let answer: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        (&answer["tenant"], &answer["tenant_source"]),
        (&Value::from("bigcorp"), &Value::from("subdomain"))
    );
    assert_eq!(
        (&answer["side"], &answer["reason"]),
        (&Value::from("legacy"), &Value::from("tenant-override"))
    );
}

/// `noise_both_sides: true` asks a side twice only when the route probes for noise.
const BOTH_SIDES_WITHOUT_NOISE: &str = r#"listen: 127.0.0.1:8080
legacy: http://127.0.0.1:3000
services:
  billing: http://127.0.0.1:3001
routes:
  - name: invoices
    match: { path: "/api/invoices/**" }
    service: billing
    shadow: { noise: 0, noise_both_sides: true }
  - name: users
    match: { path: "/api/users/**" }
    service: billing
    shadow: { noise_both_side: true }
"#;

#[test]
fn check_validates_noise_both_sides_at_its_location() {
    let scratch = Scratch::new();
    let file = scratch.write("bad.yaml", BOTH_SIDES_WITHOUT_NOISE);
    let output = strangler(&["check", file.to_str().expect("utf-8 path")]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    let yaml = BOTH_SIDES_WITHOUT_NOISE;
    assert_reported(&stderr, &file, yaml, "{ noise: 0", "noise_both_sides");
    assert_reported(&stderr, &file, yaml, "noise_both_side:", "noise_both_side");
}
