//! Tenant resolution: each source, their order, and refusal of bad ids and paths.

use super::{decide, load, route, FakeRequest};
use crate::{RequestError, Snapshot, TenantSourceKind};

fn three_sources() -> Snapshot {
    load(&format!(
        "\
listen: 127.0.0.1:8080
legacy: http://127.0.0.1:3000
services: {{ billing: http://127.0.0.1:3001 }}
tenant:
  sources:
    - header: X-Tenant-Id
    - subdomain: .Shop.Example.com
    - path: \"/t/{{tenant}}/**\"
routes:
{}",
        route("all", "path: \"/**\"")
    ))
}

#[test]
fn header_source_reads_the_header_case_insensitively() {
    let snapshot = three_sources();
    let req = FakeRequest::get("/x").header("x-TENANT-id", "acme");
    let decision = decide(&snapshot, &req);
    assert_eq!(decision.tenant.as_deref(), Some("acme"));
    assert_eq!(decision.tenant_source, Some(TenantSourceKind::Header));
    assert_eq!(
        snapshot.tenant_headers().collect::<Vec<_>>(),
        ["x-tenant-id"]
    );
}

#[test]
fn subdomain_source_takes_the_label_before_the_suffix() {
    let snapshot = three_sources();
    let req = FakeRequest::get("/x").host("acme.shop.example.com:8080");
    let decision = decide(&snapshot, &req);
    assert_eq!(decision.tenant.as_deref(), Some("acme"));
    assert_eq!(decision.tenant_source, Some(TenantSourceKind::Subdomain));
}

#[test]
fn subdomain_source_yields_nothing_for_nested_labels() {
    let snapshot = three_sources();
    let req = FakeRequest::get("/x").host("a.b.shop.example.com");
    assert_eq!(decide(&snapshot, &req).tenant, None);
}

#[test]
fn path_source_takes_the_tenant_segment() {
    let snapshot = three_sources();
    let req = FakeRequest::get("/t/acme/invoices");
    let decision = decide(&snapshot, &req);
    assert_eq!(decision.tenant.as_deref(), Some("acme"));
    assert_eq!(decision.tenant_source, Some(TenantSourceKind::Path));
}

#[test]
fn first_source_yielding_a_tenant_wins() {
    let snapshot = three_sources();
    let req = FakeRequest::get("/t/by-path/x")
        .host("by-host.shop.example.com")
        .tenant("by-header");
    assert_eq!(decide(&snapshot, &req).tenant.as_deref(), Some("by-header"));
    let req = FakeRequest::get("/t/by-path/x").host("by-host.shop.example.com");
    assert_eq!(decide(&snapshot, &req).tenant.as_deref(), Some("by-host"));
}

#[test]
fn a_repeated_or_non_utf8_tenant_header_says_so() {
    let snapshot = three_sources();
    for (sentinel, reason) in [
        (crate::REPEATED_HEADER, "the header is repeated"),
        (crate::NOT_UTF8_HEADER, "the header is not UTF-8"),
    ] {
        let err = snapshot
            .decide(&FakeRequest::get("/x").tenant(sentinel))
            .unwrap_err();
        assert_eq!(
            err,
            RequestError::InvalidTenant {
                source: TenantSourceKind::Header,
                reason
            }
        );
    }
}

#[test]
fn invalid_tenant_from_a_source_is_a_request_error() {
    let snapshot = three_sources();
    let err = snapshot
        .decide(&FakeRequest::get("/x").tenant("acme corp"))
        .unwrap_err();
    assert_eq!(
        err,
        RequestError::InvalidTenant {
            source: TenantSourceKind::Header,
            reason: "characters other than [A-Za-z0-9._-]"
        }
    );
    assert_eq!(
        err.to_string(),
        "invalid tenant id from header source: characters other than [A-Za-z0-9._-]"
    );
    let long = "a".repeat(129);
    assert!(snapshot
        .decide(&FakeRequest::get(&format!("/t/{long}/x")))
        .is_err());
}

#[test]
fn dot_segments_in_the_request_path_are_a_request_error() {
    let snapshot = three_sources();
    for path in ["/api/../admin", "/api/%2E%2e/admin", "/api/./x"] {
        let err = snapshot.decide(&FakeRequest::get(path)).unwrap_err();
        assert!(matches!(err, RequestError::InvalidPath(_)), "{path}: {err}");
    }
}

#[test]
fn no_source_yields_no_tenant() {
    let snapshot = three_sources();
    let req = FakeRequest::get("/x").host("example.com");
    let decision = decide(&snapshot, &req);
    assert_eq!((decision.tenant, decision.tenant_source), (None, None));
}
