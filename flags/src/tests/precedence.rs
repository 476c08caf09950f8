//! Route precedence: which of several matching routes wins, and which sets of routes are
//! refused because none could win.

use super::{load, load_errors, matched, route, with_routes, FakeRequest};
use crate::{Reason, Side};

#[test]
fn literal_segment_beats_parameter() {
    let snapshot = load(&with_routes(&[
        route("by-kind", "path: \"/api/{kind}/{id}\""),
        route("invoices", "path: \"/api/invoices/{id}\""),
    ]));
    assert_eq!(
        matched(&snapshot, &FakeRequest::get("/api/invoices/7")).as_deref(),
        Some("invoices")
    );
    assert_eq!(
        matched(&snapshot, &FakeRequest::get("/api/orders/7")).as_deref(),
        Some("by-kind")
    );
}

#[test]
fn parameter_beats_globstar() {
    let snapshot = load(&with_routes(&[
        route("rest", "path: \"/api/**\""),
        route("one", "path: \"/api/{id}\""),
    ]));
    assert_eq!(
        matched(&snapshot, &FakeRequest::get("/api/7")).as_deref(),
        Some("one")
    );
    assert_eq!(
        matched(&snapshot, &FakeRequest::get("/api/7/x")).as_deref(),
        Some("rest")
    );
}

#[test]
fn exact_pattern_beats_globstar_with_the_same_segments() {
    let snapshot = load(&with_routes(&[
        route("tree", "path: \"/api/invoices/**\""),
        route("list", "path: /api/invoices"),
    ]));
    assert_eq!(
        matched(&snapshot, &FakeRequest::get("/api/invoices")).as_deref(),
        Some("list")
    );
    assert_eq!(
        matched(&snapshot, &FakeRequest::get("/api/invoices/1")).as_deref(),
        Some("tree")
    );
}

#[test]
fn longer_beats_shorter() {
    let snapshot = load(&with_routes(&[
        route("api", "path: \"/api/**\""),
        route("v1", "path: \"/api/v1/**\""),
    ]));
    assert_eq!(
        matched(&snapshot, &FakeRequest::get("/api/v1/x")).as_deref(),
        Some("v1")
    );
    assert_eq!(
        matched(&snapshot, &FakeRequest::get("/api/v2/x")).as_deref(),
        Some("api")
    );
}

#[test]
fn route_with_host_beats_route_without() {
    let snapshot = load(&with_routes(&[
        route("any-host", "path: /api"),
        route("eu", "path: /api, host: \"*.eu.example.com\""),
    ]));
    let eu = FakeRequest::get("/api").host("shop.eu.example.com:8080");
    assert_eq!(matched(&snapshot, &eu).as_deref(), Some("eu"));
    assert_eq!(
        snapshot.route("eu").unwrap().host(),
        Some("*.eu.example.com")
    );
    let us = FakeRequest::get("/api").host("shop.us.example.com");
    assert_eq!(matched(&snapshot, &us).as_deref(), Some("any-host"));
}

#[test]
fn route_with_methods_beats_route_without() {
    let snapshot = load(&with_routes(&[
        route("any-method", "path: /api"),
        route("writes", "path: /api, methods: [POST, put]"),
    ]));
    assert_eq!(
        matched(&snapshot, &FakeRequest::new("PUT", "/api")).as_deref(),
        Some("writes")
    );
    assert_eq!(
        matched(&snapshot, &FakeRequest::get("/api")).as_deref(),
        Some("any-method")
    );
}

#[test]
fn a_route_whose_methods_exclude_the_request_does_not_match() {
    let snapshot = load(&with_routes(&[route(
        "writes",
        "path: /api, methods: [POST]",
    )]));
    assert_eq!(matched(&snapshot, &FakeRequest::get("/api")), None);
}

#[test]
fn a_route_that_serves_get_also_serves_head() {
    let snapshot = load(&with_routes(&[route(
        "reads",
        "path: /api, methods: [GET]",
    )]));
    assert_eq!(
        matched(&snapshot, &FakeRequest::new("HEAD", "/api")).as_deref(),
        Some("reads")
    );
}

#[test]
fn globstar_matches_zero_segments() {
    let snapshot = load(&with_routes(&[route("api", "path: \"/api/**\"")]));
    assert_eq!(
        matched(&snapshot, &FakeRequest::get("/api")).as_deref(),
        Some("api")
    );
    assert_eq!(matched(&snapshot, &FakeRequest::get("/apix")), None);
}

/// `//` no longer fails a literal match: it is collapsed first (see `paths.rs`).
#[test]
fn a_trailing_slash_fails_an_exact_match() {
    let snapshot = load(&with_routes(&[route("list", "path: /api/invoices")]));
    assert_eq!(
        matched(&snapshot, &FakeRequest::get("/api/invoices/")),
        None
    );
}

#[test]
fn unmatched_request_goes_to_legacy() {
    let snapshot = load(&with_routes(&[route("api", "path: \"/api/**\"")]));
    let req = FakeRequest::get("/home").tenant("acme");
    let decision = snapshot.decide(&req).unwrap();
    assert!(decision.route.is_none());
    assert_eq!(
        (decision.side, decision.reason),
        (Side::Legacy, Reason::NoRoute)
    );
    assert_eq!(
        snapshot.upstream(decision.side, decision.route).addr.port(),
        3000
    );
}

#[test]
fn equally_specific_overlapping_routes_are_rejected_naming_both() {
    let errors = load_errors(&with_routes(&[
        route("left", "path: \"/api/{a}/x\""),
        route("right", "path: \"/api/y/{b}\""),
    ]));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("routes.yaml:11:35: routes \"left\" (routes.yaml:10:34) and \"right\" (routes.yaml:11:35) are equally specific"), "{}", errors[0]);
}

#[test]
fn equally_specific_routes_with_disjoint_methods_are_accepted() {
    let snapshot = load(&with_routes(&[
        route("reads", "path: \"/api/{id}\", methods: [GET]"),
        route("writes", "path: \"/api/{key}\", methods: [POST]"),
    ]));
    assert_eq!(
        matched(&snapshot, &FakeRequest::new("POST", "/api/1")).as_deref(),
        Some("writes")
    );
}

#[test]
fn equally_specific_routes_with_different_hosts_are_accepted() {
    let snapshot = load(&with_routes(&[
        route("eu", "path: /api, host: eu.example.com"),
        route("us", "path: /api, host: us.example.com"),
    ]));
    let us = FakeRequest::get("/api").host("US.example.com");
    assert_eq!(matched(&snapshot, &us).as_deref(), Some("us"));
}

#[test]
fn the_trie_finds_the_best_route_among_a_thousand() {
    let routes: Vec<String> = (0..1_000)
        .map(|i| route(&format!("r{i}"), &format!("path: \"/svc{i}/{{id}}/**\"")))
        .chain([route("pdf", "path: \"/svc500/{id}/pdf\"")])
        .collect();
    let snapshot = load(&with_routes(&routes));
    assert_eq!(
        matched(&snapshot, &FakeRequest::get("/svc500/9/pdf")).as_deref(),
        Some("pdf")
    );
    assert_eq!(
        matched(&snapshot, &FakeRequest::get("/svc500/9/csv")).as_deref(),
        Some("r500")
    );
    assert_eq!(matched(&snapshot, &FakeRequest::get("/svc1000/9")), None);
}
