//! `paths.case`: whether a route's literal segments match a request path regardless of
//! ASCII case. Sensitive by default; insensitive for a monolith that serves `/API/x` as
//! `/api/x`, where a case-sensitive match would let that spelling reach legacy's copy of a
//! migrated route. Precedence between routes is the same under either.

use super::{decide, load, load_errors, matched, route, with_routes, FakeRequest, BASE};
use crate::{Reason, Snapshot};

/// `routes` under `paths: { case: insensitive }`.
fn insensitive(routes: &[String]) -> Snapshot {
    load(&insensitive_yaml(routes))
}

fn insensitive_yaml(routes: &[String]) -> String {
    with_routes(routes).replacen(BASE, &format!("{BASE}paths: {{ case: insensitive }}\n"), 1)
}

fn matches(snapshot: &Snapshot, path: &str) -> Option<String> {
    matched(snapshot, &FakeRequest::get(path))
}

#[test]
fn paths_are_case_sensitive_by_default() {
    let snapshot = load(&with_routes(&[route("api", "path: \"/api/**\"")]));
    assert_eq!(matches(&snapshot, "/api/x").as_deref(), Some("api"));
    assert_eq!(matches(&snapshot, "/API/x"), None, "another resource");
    let explicit = with_routes(&[route("api", "path: \"/api/**\"")]).replacen(
        BASE,
        &format!("{BASE}paths: {{ case: sensitive }}\n"),
        1,
    );
    assert_eq!(matches(&load(&explicit), "/Api/x"), None);
}

#[test]
fn case_insensitive_paths_cannot_dodge_a_route_by_changing_case() {
    let snapshot = insensitive(&[route("api", "path: \"/api/invoices/**\"")]);
    for path in [
        "/API/invoices/7",
        "/Api/INVOICES",
        "/api/InVoIcEs/7/pdf",
        "/%41PI/invoices",
    ] {
        assert_eq!(matches(&snapshot, path).as_deref(), Some("api"), "{path}");
    }
    assert_eq!(matches(&snapshot, "/apis/invoices"), None);
}

#[test]
fn case_insensitive_patterns_written_in_uppercase_match_any_case() {
    let snapshot = insensitive(&[route("legacy-style", "path: /Api/Invoices")]);
    for path in ["/api/invoices", "/API/INVOICES", "/Api/Invoices"] {
        assert_eq!(
            matches(&snapshot, path).as_deref(),
            Some("legacy-style"),
            "{path}"
        );
    }
}

#[test]
fn case_insensitive_literal_segment_still_beats_parameter() {
    let snapshot = insensitive(&[
        route("by-kind", "path: \"/api/{kind}/{id}\""),
        route("invoices", "path: \"/api/invoices/{id}\""),
    ]);
    assert_eq!(
        matches(&snapshot, "/API/Invoices/7").as_deref(),
        Some("invoices")
    );
    assert_eq!(
        matches(&snapshot, "/API/Orders/7").as_deref(),
        Some("by-kind")
    );
}

#[test]
fn case_insensitive_longer_beats_shorter_and_exact_beats_globstar() {
    let snapshot = insensitive(&[
        route("api", "path: \"/api/**\""),
        route("v1", "path: \"/api/v1/**\""),
        route("list", "path: /api/v1/invoices"),
    ]);
    assert_eq!(
        matches(&snapshot, "/API/V1/Invoices").as_deref(),
        Some("list")
    );
    assert_eq!(matches(&snapshot, "/API/V1/Orders").as_deref(), Some("v1"));
    assert_eq!(matches(&snapshot, "/API/V2").as_deref(), Some("api"));
}

#[test]
fn case_insensitive_patterns_that_differ_only_in_case_are_refused_as_overlapping() {
    let routes = [
        route("lower", "path: /api/invoices"),
        route("upper", "path: /API/Invoices"),
    ];
    assert_eq!(
        matches(&load(&with_routes(&routes)), "/API/Invoices").as_deref(),
        Some("upper")
    );
    let errors = load_errors(&insensitive_yaml(&routes));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains("equally specific"), "{}", errors[0]);
}

#[test]
fn case_insensitive_segments_longer_than_the_fold_buffer_match_too() {
    let long = "segment".repeat(12);
    let snapshot = insensitive(&[route("long", &format!("path: /a/{long}"))]);
    let shouted = format!("/A/{}", long.to_ascii_uppercase());
    assert_eq!(matches(&snapshot, &shouted).as_deref(), Some("long"));
    assert_eq!(matches(&snapshot, &format!("/a/{long}x")), None);
}

#[test]
fn case_insensitive_escapes_match_in_any_hex_case_and_keep_their_meaning() {
    let snapshot = insensitive(&[route("colon", "path: /a%3Ab")]);
    assert_eq!(matches(&snapshot, "/A%3aB").as_deref(), Some("colon"));
    assert_eq!(
        matches(&snapshot, "/A:B"),
        None,
        "an escape is not its character"
    );
}

#[test]
fn case_insensitive_path_tenant_source_matches_any_case_and_keeps_the_tenant_as_sent() {
    let yaml = insensitive_yaml(&[route("all", "path: \"/**\"")])
        .replace("- header: X-Tenant-Id", "- path: \"/t/{tenant}/**\"");
    let snapshot = load(&yaml);
    let req = FakeRequest::get("/T/Acme/x");
    let decision = decide(&snapshot, &req);
    assert_eq!(decision.tenant.as_deref(), Some("Acme"));
    assert!(matches!(decision.reason, Reason::Percent { .. }));
}

#[test]
fn a_path_case_that_is_not_sensitive_or_insensitive_is_located() {
    let yaml = with_routes(&[route("api", "path: \"/api/**\"")]).replacen(
        BASE,
        &format!("{BASE}paths:\n  case: upper\n"),
        1,
    );
    let errors = load_errors(&yaml);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].starts_with("routes.yaml:10:9: "), "{}", errors[0]);
    assert!(
        errors[0].contains("unknown variant `upper`, expected `sensitive` or `insensitive`"),
        "{}",
        errors[0]
    );
}
