//! Header, cookie and query conditions in `match:`: when each holds, how they rank among
//! routes with the same path, which sets of routes are refused because none could win,
//! and the load errors of each mistake. One test per rule, named after it.

use super::{load, load_errors, matched, route, with_routes, FakeRequest};

/// Two routes on `/api/**`: `base` unconditional, `beta` with the given conditions.
fn beta_over_base(conditions: &str) -> crate::Snapshot {
    load(&with_routes(&[
        route("base", "path: \"/api/**\""),
        route("beta", &format!("path: \"/api/**\", {conditions}")),
    ]))
}

fn route_of(snapshot: &crate::Snapshot, req: FakeRequest) -> Option<String> {
    matched(snapshot, &req)
}

#[test]
fn every_condition_must_hold() {
    let snapshot = beta_over_base("headers: { X-Beta: \"1\" }, cookies: { beta: yes }");
    let both = FakeRequest::get("/api/x")
        .header("x-beta", "1")
        .header("cookie", "beta=yes");
    let header_only = FakeRequest::get("/api/x").header("X-Beta", "1");
    assert_eq!(route_of(&snapshot, both).as_deref(), Some("beta"));
    assert_eq!(route_of(&snapshot, header_only).as_deref(), Some("base"));
}

#[test]
fn more_conditions_beat_fewer_at_the_same_path_rank() {
    let snapshot = load(&with_routes(&[
        route("one", "path: \"/api/**\", headers: { X-Beta: \"*\" }"),
        route(
            "two",
            "path: \"/api/**\", headers: { X-Beta: \"*\" }, query: { api: v2 }",
        ),
    ]));
    let req = |query: &str| {
        FakeRequest::get("/api/x")
            .header("x-beta", "0")
            .query(query)
    };
    assert_eq!(route_of(&snapshot, req("api=v2")).as_deref(), Some("two"));
    assert_eq!(route_of(&snapshot, req("api=v1")).as_deref(), Some("one"));
}

#[test]
fn path_rank_beats_conditions() {
    let snapshot = load(&with_routes(&[
        route("beta", "path: \"/api/**\", headers: { X-Beta: \"1\" }"),
        route("invoices", "path: \"/api/invoices/**\""),
    ]));
    let req = FakeRequest::get("/api/invoices/7").header("x-beta", "1");
    assert_eq!(route_of(&snapshot, req).as_deref(), Some("invoices"));
}

#[test]
fn conditions_beat_host_at_the_same_path_rank() {
    let snapshot = load(&with_routes(&[
        route("eu", "path: \"/api/**\", host: eu.example.com"),
        route("beta", "path: \"/api/**\", cookies: { beta: yes }"),
    ]));
    let req = FakeRequest::get("/api/x")
        .host("eu.example.com")
        .header("cookie", "beta=yes");
    assert_eq!(route_of(&snapshot, req).as_deref(), Some("beta"));
}

#[test]
fn regex_condition_searches_the_value() {
    let snapshot = beta_over_base("headers: { X-App-Version: \"~^(4|5)\\\\.\" }");
    let version = |v: &str| FakeRequest::get("/api/x").header("x-app-version", v);
    assert_eq!(route_of(&snapshot, version("5.1")).as_deref(), Some("beta"));
    assert_eq!(
        route_of(&snapshot, version("3.4.5")).as_deref(),
        Some("base")
    );
}

#[test]
fn present_condition_needs_the_header_only() {
    let snapshot = beta_over_base("headers: { X-Beta: \"*\" }");
    let with = FakeRequest::get("/api/x").header("x-beta", "");
    assert_eq!(route_of(&snapshot, with).as_deref(), Some("beta"));
    assert_eq!(
        route_of(&snapshot, FakeRequest::get("/api/x")).as_deref(),
        Some("base")
    );
}

#[test]
fn cookie_condition_reads_the_cookie_header() {
    let snapshot = beta_over_base("cookies: { beta: yes }");
    let cookie = |c: &str| FakeRequest::get("/api/x").header("cookie", c);
    assert_eq!(
        route_of(&snapshot, cookie("a=1; beta=yes")).as_deref(),
        Some("beta")
    );
    assert_eq!(
        route_of(&snapshot, cookie("beta=no")).as_deref(),
        Some("base")
    );
}

#[test]
fn cookie_header_that_does_not_parse_is_no_cookie() {
    let snapshot = beta_over_base("cookies: { beta: \"*\" }");
    let garbled = FakeRequest::get("/api/x").header("cookie", "beta=yes; ;junk");
    assert_eq!(route_of(&snapshot, garbled).as_deref(), Some("base"));
}

#[test]
fn query_condition_reads_the_query_string_as_sent() {
    let snapshot = beta_over_base("query: { api: v2 }");
    let query = |q: &str| FakeRequest::get("/api/x").query(q);
    assert_eq!(
        route_of(&snapshot, query("x=1&api=v2")).as_deref(),
        Some("beta")
    );
    assert_eq!(
        route_of(&snapshot, query("api=v%32")).as_deref(),
        Some("base")
    );
}

#[test]
fn repeated_query_parameter_only_satisfies_present() {
    let exact = beta_over_base("query: { api: v2 }");
    let present = beta_over_base("query: { api: \"*\" }");
    let twice = || FakeRequest::get("/api/x").query("api=v2&api=v2");
    assert_eq!(route_of(&exact, twice()).as_deref(), Some("base"));
    assert_eq!(route_of(&present, twice()).as_deref(), Some("beta"));
}

#[test]
fn equal_rank_with_possibly_overlapping_conditions_is_refused_naming_both() {
    let errors = load_errors(&with_routes(&[
        route("beta", "path: \"/api/**\", headers: { X-Beta: \"1\" }"),
        route("mobile", "path: \"/api/**\", cookies: { app: \"*\" }"),
    ]));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("routes \"beta\" (routes.yaml:10:34) and \"mobile\" (routes.yaml:11:36) are equally specific"),
        "{}",
        errors[0]
    );
}

#[test]
fn equal_rank_with_a_regex_admitting_the_other_exact_value_is_refused() {
    let errors = load_errors(&with_routes(&[
        route("four", "path: /api, headers: { X-App: \"~^4\" }"),
        route("four-one", "path: /api, headers: { x-app: \"4.1\" }"),
    ]));
    assert_eq!(errors.len(), 1, "{errors:?}");
}

#[test]
fn equal_rank_with_disjoint_exact_values_is_accepted() {
    let snapshot = load(&with_routes(&[
        route("v1", "path: /api, query: { api: v1 }"),
        route("v2", "path: /api, query: { api: v2 }"),
    ]));
    let v2 = FakeRequest::get("/api").query("api=v2");
    assert_eq!(route_of(&snapshot, v2).as_deref(), Some("v2"));
}

#[test]
fn invalid_regex_is_located_at_its_value() {
    let errors = load_errors(&with_routes(&[route(
        "beta",
        "path: /api, headers: { X-App: \"~(4\" }",
    )]));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("routes.yaml:10:58: route \"beta\": invalid regex \"(4\""),
        "{}",
        errors[0]
    );
}

#[test]
fn invalid_condition_names_are_located_at_their_key() {
    let errors = load_errors(&with_routes(&[route(
        "beta",
        "path: /api, headers: { \"X Beta\": \"1\" }, cookies: { \"a;b\": \"1\" }",
    )]));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with(
            "routes.yaml:10:51: route \"beta\": \"X Beta\" is not a valid header name"
        ),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].contains("\"a;b\" is not a valid cookie name"),
        "{}",
        errors[1]
    );
}

#[test]
fn header_named_twice_ignoring_case_is_refused() {
    let errors = load_errors(&with_routes(&[route(
        "beta",
        "path: /api, headers: { X-Beta: \"1\", x-beta: \"2\" }",
    )]));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("header \"x-beta\" is named twice"),
        "{}",
        errors[0]
    );
}
