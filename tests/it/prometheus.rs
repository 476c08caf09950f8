//! The metrics as Prometheus and its tools see them: `promtool check metrics` has nothing
//! to say about a live `/metrics` page of the demo's routes.yaml; every family the README
//! lists is there from the start, with a series for each configured route and service and
//! only labels of closed sets; and the alerting rules of `deploy/prometheus` pass
//! `promtool check rules` and their unit tests.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::support::demo::{readme_section, repo, Demo};

/// Every label name the proxy may export; none takes a tenant, a path or an address.
const LABELS: &[&str] = &[
    "route",
    "side",
    "status_class",
    "reason",
    "by",
    "result",
    "outcome",
    "service",
    "store",
    "version",
    "revision",
    "le",
    "event",
];

/// `promtool ARGS` with `stdin`, or a panic saying how to get promtool.
fn promtool(args: &[&str], stdin: &str) -> Output {
    let child = Command::new("promtool")
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = child.unwrap_or_else(|e| {
        panic!(
            "promtool is missing ({e}): install Debian's `prometheus` package \
             (apt-get install prometheus; ./test does it through scripts/setup.sh)"
        )
    });
    let mut input = child.stdin.take().expect("piped stdin");
    input
        .write_all(stdin.as_bytes())
        .expect("writing to promtool");
    drop(input);
    child.wait_with_output().expect("promtool's output")
}

fn said(output: &Output) -> String {
    let out = String::from_utf8_lossy(&output.stdout);
    format!("{out}{}", String::from_utf8_lossy(&output.stderr))
}

/// The metric names in the README's Observability section.
fn readme_families() -> BTreeSet<String> {
    let section = readme_section("## Observability");
    let section = section
        .split("Access log:")
        .next()
        .expect("metrics paragraph");
    section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| quoted.starts_with("strangler_"))
        .map(|quoted| quoted.split('{').next().unwrap_or(quoted).to_owned())
        .collect()
}

/// Whether `page` has a series of `name` whose labels include every pair of `labels`.
fn has_series(page: &str, name: &str, labels: &[(&str, &str)]) -> bool {
    page.lines().any(|line| {
        let Some(rest) = line.strip_prefix(name) else {
            return false;
        };
        (rest.starts_with('{') || rest.starts_with(' '))
            && labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
    })
}

/// The label names used on `page`.
fn label_names(page: &str) -> BTreeSet<String> {
    let series = page.lines().filter(|line| !line.starts_with('#'));
    let sets = series.filter_map(|line| Some(line.split_once('{')?.1.rsplit_once('}')?.0));
    sets.flat_map(|set| {
        set.split("\",")
            .map(|pair| pair.split('=').next().unwrap_or("").to_owned())
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn promtool_check_metrics_has_nothing_to_say_about_a_live_metrics_page() {
    let demo = Demo::start().await;
    assert_eq!(demo.get("/api/invoices/7", Some("qa-internal")).await, 200);
    assert_eq!(demo.get("/api/invoices/7", Some("bigcorp")).await, 200);
    assert_eq!(demo.get("/api/tickets", None).await, 200);
    assert_eq!(demo.get("/api/%zz", None).await, 400);
    let page = demo.metrics().await;
    let output = promtool(&["check", "metrics"], &page);
    assert!(output.status.success(), "{}\n{page}", said(&output));
    assert_eq!(
        said(&output),
        "",
        "promtool check metrics said something about:\n{page}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_family_the_readme_lists_is_exported_from_start_with_every_route_and_service() {
    let demo = Demo::start().await;
    let page = demo.metrics().await;
    let families = readme_families();
    assert!(families.len() > 20, "{families:?}");
    for family in &families {
        assert!(
            page.contains(&format!("# HELP {family} ")),
            "no HELP for {family}:\n{page}"
        );
        let histogram = format!("{family}_count");
        let present = has_series(&page, family, &[]) || has_series(&page, &histogram, &[]);
        assert!(present, "no series of {family}:\n{page}");
    }
    for route in ["invoices", "invoice-pdf", "-"] {
        for family in [
            "strangler_requests_total",
            "strangler_fallbacks_total",
            "strangler_rate_limited_total",
        ] {
            assert!(
                has_series(&page, family, &[("route", route)]),
                "{family} {route}:\n{page}"
            );
        }
    }
    let invoices = [("route", "invoices")];
    for family in [
        "strangler_guard_state",
        "strangler_shadow_total",
        "strangler_shadow_latency_seconds_count",
    ] {
        assert!(has_series(&page, family, &invoices), "{family}:\n{page}");
    }
    let billing = [("service", "billing")];
    assert!(
        has_series(&page, "strangler_breaker_state", &billing),
        "{page}"
    );
    assert!(
        has_series(&page, "strangler_health_check_total", &billing),
        "{page}"
    );
    let unexpected: Vec<String> = label_names(&page)
        .into_iter()
        .filter(|name| !LABELS.contains(&name.as_str()))
        .collect();
    assert!(unexpected.is_empty(), "labels {unexpected:?}:\n{page}");
}

#[test]
fn the_alerting_rules_pass_promtool_check_rules_and_their_unit_tests() {
    let rules = "deploy/prometheus/strangler.rules.yml";
    let check = promtool(&["check", "rules", rules], "");
    assert!(check.status.success(), "{}", said(&check));
    assert!(
        said(&check).contains("SUCCESS: 7 rules found"),
        "{}",
        said(&check)
    );
    let tests = promtool(
        &[
            "test",
            "rules",
            "deploy/prometheus/strangler.rules.test.yml",
        ],
        "",
    );
    assert!(tests.status.success(), "{}", said(&tests));
}
