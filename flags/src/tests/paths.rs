//! Request path normalisation as the decision sees it: a client can neither opt out of a
//! route by spelling its path differently nor escape a route with a path the upstream
//! resolves elsewhere.

use super::{decide, load, load_errors, matched, route, with_routes, FakeRequest};
use crate::{RequestError, Snapshot, TenantSourceKind};

fn invoices() -> Snapshot {
    load(&with_routes(&[route(
        "invoices",
        "path: \"/api/invoices/**\"",
    )]))
}

#[test]
fn an_escaped_unreserved_character_cannot_opt_out_of_a_route() {
    let snapshot = invoices();
    for path in [
        "/api/%69nvoices/7",
        "/api/%69%6E%76oices/7",
        "/%61pi/invoices",
    ] {
        let req = FakeRequest::get(path);
        assert_eq!(
            matched(&snapshot, &req).as_deref(),
            Some("invoices"),
            "{path}"
        );
    }
}

#[test]
fn repeated_slashes_cannot_opt_out_of_a_route() {
    let snapshot = invoices();
    for path in ["/api//invoices/7", "//api/invoices", "/api///invoices//7"] {
        let req = FakeRequest::get(path);
        assert_eq!(
            matched(&snapshot, &req).as_deref(),
            Some("invoices"),
            "{path}"
        );
    }
}

#[test]
fn paths_that_could_escape_a_route_are_a_request_error() {
    let snapshot = invoices();
    let escapes = [
        "/api/invoices/..%2f..%2fadmin",
        "/api/invoices/..%2Fadmin",
        "/api/invoices/..%5cadmin",
        "/api/invoices/..\\admin",
        "/api/invoices/%00",
        "/api/invoices/%252e%252e/admin",
        "/api/invoices/..;/admin",
        "/api/invoices/%2e%2e;x/admin",
        "/api/invoices/.;/admin",
        "/api/invoices/%zz",
        "api/invoices",
    ];
    for path in escapes {
        let err = snapshot.decide(&FakeRequest::get(path)).unwrap_err();
        assert!(matches!(err, RequestError::InvalidPath(_)), "{path}: {err}");
    }
}

#[test]
fn an_encoded_separator_is_refused_with_a_message_for_the_client() {
    let err = invoices()
        .decide(&FakeRequest::get("/api/invoices/a%2Fb"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid request path: encoded '/' or '\\' is not allowed in the path"
    );
}

#[test]
fn an_escaped_letter_matches_as_the_letter() {
    let snapshot = load(&with_routes(&[route("upper", "path: /api/A")]));
    assert_eq!(
        matched(&snapshot, &FakeRequest::get("/api/%41")).as_deref(),
        Some("upper")
    );
    assert_eq!(matched(&snapshot, &FakeRequest::get("/api/%61")), None);
}

#[test]
fn other_escapes_are_kept_and_match_in_any_hex_case() {
    let snapshot = load(&with_routes(&[
        route("space", "path: /a%20b"),
        route("colon", "path: /a%3ab"),
    ]));
    let matches = |path| matched(&snapshot, &FakeRequest::get(path));
    assert_eq!(matches("/a%20b").as_deref(), Some("space"));
    assert_eq!(matches("/a%3ab").as_deref(), Some("colon"));
    assert_eq!(matches("/a%3Ab").as_deref(), Some("colon"));
    assert_eq!(
        matches("/a%20B"),
        None,
        "the letter after the escape keeps its case"
    );
    assert_eq!(
        matches("/a:b"),
        None,
        "an escape is not its decoded reserved character"
    );
}

#[test]
fn matrix_parameters_cannot_dodge_a_route() {
    // `/api;jsessionid=1/x` is `/api/x` to a servlet container: it must reach the same
    // route, not fall through to legacy's copy of a migrated endpoint.
    let snapshot = load(&with_routes(&[route("api", "path: \"/api/**\"")]));
    for path in ["/api;jsessionid=1/x", "/api/x;v=2", "/api/;x/y"] {
        let req = FakeRequest::get(path);
        assert_eq!(matched(&snapshot, &req).as_deref(), Some("api"), "{path}");
    }
}

#[test]
fn a_pattern_with_matrix_parameters_is_refused_at_load() {
    let errors = load_errors(&with_routes(&[route("params", "path: \"/a;v=1/**\"")]));
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].contains("matrix parameters"), "{}", errors[0]);
}

fn path_tenants() -> Snapshot {
    let yaml = with_routes(&[route("all", "path: \"/**\"")])
        .replace("- header: X-Tenant-Id", "- path: \"/t/{tenant}/**\"");
    load(&yaml)
}

#[test]
fn path_tenant_source_reads_the_normalised_path() {
    let snapshot = path_tenants();
    for path in ["/t//acme/x", "/%74/acme", "//t/acme"] {
        let req = FakeRequest::get(path);
        let decision = decide(&snapshot, &req);
        assert_eq!(decision.tenant.as_deref(), Some("acme"), "{path}");
        assert_eq!(decision.tenant_source, Some(TenantSourceKind::Path));
    }
}

#[test]
fn percent_encoded_path_tenant_is_a_request_error() {
    let err = path_tenants()
        .decide(&FakeRequest::get("/t/%61cme/x"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            RequestError::InvalidTenant {
                source: TenantSourceKind::Path,
                ..
            }
        ),
        "{err}"
    );
}
