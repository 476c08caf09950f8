//! Tenant resolution through the real proxy: each source, their order, overrides, the
//! no-tenant default, refusals (400) for ids and paths the proxy will not route, and the
//! forwarded `x-strangler-tenant`, which is always the proxy's decision, never the client's.

use reqwest::header::HOST;
use reqwest::StatusCode;

use crate::support::{raw_http, send, Backend, Config, Proxy, TENANT};

const FORWARDED: &str = "x-strangler-tenant";

/// `invoices` at 0 % with `acme` and `qa-internal` on new and `bigcorp` on legacy, plus the
/// same rule under `/t/{tenant}/`, so the side shows which tenant the proxy resolved.
const ROUTES: &str = r#"
  - name: invoices
    match: { path: "/api/invoices/**" }
    service: billing
    rollout: { percent: 0, tenants: { acme: new, qa-internal: new, bigcorp: legacy } }
  - name: tenant-invoices
    match: { path: "/t/{t}/api/invoices/**" }
    service: billing
    rollout: { percent: 0, tenants: { acme: new } }
"#;

struct Tenanted {
    proxy: Proxy,
    _backends: [Backend; 2],
}

async fn tenanted(tenant_section: Option<&str>, routes: &str) -> Tenanted {
    let backends = [
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    ];
    let mut config = Config::new(&backends[0])
        .service("billing", &backends[1])
        .routes(routes);
    if let Some(section) = tenant_section {
        config = config.tenant(section);
    }
    Tenanted {
        proxy: Proxy::start(&config).await,
        _backends: backends,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_from_header_decides_and_is_forwarded() {
    let t = tenanted(None, ROUTES).await;
    let answer = send(t.proxy.get_as("acme", "/api/invoices/7")).await;
    assert_eq!(answer.backend(), "billing");
    assert_eq!(answer.decided("reason"), Some("tenant-override"));
    assert_eq!(answer.upstream_header(FORWARDED), Some("acme"));
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_from_subdomain_of_the_host_header() {
    let t = tenanted(None, ROUTES).await;
    let answer = send(
        t.proxy
            .get("/api/invoices/7")
            .header(HOST, "acme.shop.example.com"),
    )
    .await;
    assert_eq!(answer.backend(), "billing");
    assert_eq!(answer.upstream_header(FORWARDED), Some("acme"));
    let deeper = send(
        t.proxy
            .get("/api/invoices/7")
            .header(HOST, "x.acme.shop.example.com"),
    )
    .await;
    assert_eq!(
        deeper.backend(),
        "legacy",
        "two labels before the suffix are no tenant"
    );
    assert_eq!(deeper.upstream_header(FORWARDED), None);
}

/// Host names are case-insensitive: `ACME.shop.example.com` is the same customer as
/// `acme.shop.example.com` and must not land in another bucket or miss its override.
#[tokio::test(flavor = "multi_thread")]
async fn subdomain_tenant_ignores_the_case_of_the_host() {
    let t = tenanted(None, ROUTES).await;
    let request = t
        .proxy
        .get("/api/invoices/7")
        .header(HOST, "ACME.Shop.Example.com");
    let answer = send(request).await;
    assert_eq!(
        answer.upstream_header(FORWARDED),
        Some("acme"),
        "{answer:?}"
    );
    assert_eq!(answer.backend(), "billing");
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_from_path_segment() {
    let t = tenanted(None, ROUTES).await;
    let answer = send(t.proxy.get("/t/acme/api/invoices/7")).await;
    assert_eq!(answer.backend(), "billing");
    assert_eq!(answer.decided("route"), Some("tenant-invoices"));
    assert_eq!(answer.upstream_header(FORWARDED), Some("acme"));
    assert_eq!(
        answer.body["path"], "/t/acme/api/invoices/7",
        "the path is forwarded unchanged"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_sources_are_tried_in_order() {
    let t = tenanted(None, ROUTES).await;
    let host = "bigcorp.shop.example.com";
    let header_first = send(
        t.proxy
            .get_as("acme", "/t/globex/api/invoices/7")
            .header(HOST, host),
    )
    .await;
    assert_eq!(header_first.upstream_header(FORWARDED), Some("acme"));
    let subdomain_next = send(t.proxy.get("/t/globex/api/invoices/7").header(HOST, host)).await;
    assert_eq!(subdomain_next.upstream_header(FORWARDED), Some("bigcorp"));
    let path_last = send(
        t.proxy
            .get("/t/globex/api/invoices/7")
            .header(HOST, "www.example.org"),
    )
    .await;
    assert_eq!(path_last.upstream_header(FORWARDED), Some("globex"));
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_override_wins_over_percent() {
    let routes = r#"
  - name: invoices
    match: { path: "/api/invoices/**" }
    service: billing
    rollout: { percent: 100, tenants: { bigcorp: legacy } }
"#;
    let t = tenanted(None, routes).await;
    let bigcorp = send(t.proxy.get_as("bigcorp", "/api/invoices/7")).await;
    assert_eq!(bigcorp.backend(), "legacy");
    assert_eq!(bigcorp.decided("reason"), Some("tenant-override"));
    let acme = send(t.proxy.get_as("acme", "/api/invoices/7")).await;
    assert_eq!(acme.backend(), "billing");
    assert_eq!(
        acme.decided("reason").map(|r| r.starts_with("percent")),
        Some(true),
        "{}",
        acme.decision()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn override_sends_a_tenant_to_new_at_zero_percent() {
    let t = tenanted(None, ROUTES).await;
    assert_eq!(
        send(t.proxy.get_as("qa-internal", "/api/invoices/7"))
            .await
            .backend(),
        "billing"
    );
    let other = send(t.proxy.get_as("globex", "/api/invoices/7")).await;
    assert_eq!(other.backend(), "legacy");
    assert_eq!(other.decided("reason"), Some("default"));
}

#[tokio::test(flavor = "multi_thread")]
async fn request_without_tenant_goes_to_the_default_side() {
    let to_legacy = tenanted(None, ROUTES).await;
    let answer = send(to_legacy.proxy.get("/api/invoices/7")).await;
    assert_eq!(
        (answer.backend(), answer.decided("reason")),
        ("legacy", Some("no-tenant"))
    );
    assert_eq!(answer.upstream_header(FORWARDED), None);

    let to_new = tenanted(
        Some("  sources: [ { header: X-Tenant-Id } ]\n  default: new"),
        ROUTES,
    )
    .await;
    let answer = send(to_new.proxy.get("/api/invoices/7")).await;
    assert_eq!(
        (answer.backend(), answer.decided("reason")),
        ("billing", Some("no-tenant"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_tenant_id_is_refused_with_400() {
    let t = tenanted(None, ROUTES).await;
    for bad in ["acme!", "a/b", "a".repeat(129).as_str()] {
        let answer = send(t.proxy.get_as(bad, "/api/invoices/7")).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "tenant {bad:?}");
        assert_eq!(answer.backend(), "", "no backend may see tenant {bad:?}");
        let error = answer.body["error"].as_str().unwrap_or_default();
        assert!(error.contains("tenant"), "{:?}", answer.body);
    }
    let from_path = send(t.proxy.get("/t/acme!/api/invoices/7")).await;
    assert_eq!(from_path.status, StatusCode::BAD_REQUEST, "{from_path:?}");
    assert_eq!(from_path.header("content-type"), Some("application/json"));
    let longest = "a".repeat(128);
    assert_eq!(
        send(t.proxy.get_as(&longest, "/api/invoices/7"))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dot_segment_paths_are_refused_with_400() {
    let t = tenanted(None, ROUTES).await;
    let addr = t.proxy.running().proxy_addr();
    for target in [
        "/api/invoices/../admin",
        "/api/./invoices/7",
        "/api/invoices/%2e%2e/admin",
        "/api/.%2E/x",
    ] {
        let (status, body) = raw_http::get(addr, target).await;
        assert_eq!(status, 400, "{target}: {body}");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        assert!(json["error"].is_string(), "{target}: {body}");
    }
    let (status, _) = raw_http::get(addr, "/api/invoices/v1.2..3").await;
    assert_eq!(status, 200, "dots inside a segment are fine");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_path_spelled_differently_cannot_opt_out_of_its_route() {
    let t = tenanted(None, ROUTES).await;
    for path in ["/api/%69nvoices/7", "/api//invoices/7"] {
        let answer = send(t.proxy.get_as("acme", path)).await;
        assert_eq!(answer.backend(), "billing", "{path} must stay on its route");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_path_that_could_escape_its_route_is_refused_with_400() {
    let t = tenanted(None, ROUTES).await;
    let addr = t.proxy.running().proxy_addr();
    for target in [
        "/api/invoices/..;/admin",
        "/api/invoices/..%2fadmin",
        "/api/invoices/%252e%252e/x",
    ] {
        let (status, body) = raw_http::get(addr, target).await;
        assert_eq!(status, 400, "{target}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn request_target_that_is_not_a_path_is_refused_with_400() {
    let t = tenanted(None, ROUTES).await;
    let addr = t.proxy.running().proxy_addr();
    let (status, body) = raw_http::get(addr, "api/invoices/../../admin").await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_tenant_header_is_refused_with_400() {
    let t = tenanted(None, ROUTES).await;
    let addr = t.proxy.running().proxy_addr();
    let request = "GET /api/invoices/7 HTTP/1.1\r\nHost: test.local\r\nX-Tenant-Id: acme\r\n\
                   X-Tenant-Id: bigcorp\r\nConnection: close\r\n\r\n";
    let (status, body) = raw_http::exchange(addr, request).await;
    assert_eq!(
        status, 400,
        "the monolith might read the other copy: {body}"
    );
    assert!(body.contains("the header is repeated"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_tenant_is_the_decided_one_not_the_clients() {
    let t = tenanted(None, ROUTES).await;
    let spoofed = t
        .proxy
        .get_as("globex", "/api/invoices/7")
        .header("X-Strangler-Tenant", "acme")
        .header("X-Strangler-Role", "admin");
    let answer = send(spoofed).await;
    assert_eq!(
        answer.backend(),
        "legacy",
        "the spoofed tenant must not pick the side"
    );
    assert_eq!(answer.upstream_header(FORWARDED), Some("globex"));
    assert_eq!(answer.upstream_header("x-strangler-role"), None);
    assert_eq!(
        answer.upstream_header(TENANT),
        Some("globex"),
        "the source header itself is kept"
    );

    let no_tenant = send(t.proxy.get("/api/invoices/7").header(FORWARDED, "acme")).await;
    assert_eq!(no_tenant.upstream_header(FORWARDED), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_forward_header_carries_the_tenant_and_cannot_be_spoofed() {
    let section = "  sources: [ { header: X-Tenant-Id } ]\n  forward_header: X-Customer";
    let t = tenanted(Some(section), ROUTES).await;
    let answer = send(
        t.proxy
            .get_as("globex", "/api/invoices/7")
            .header("x-customer", "acme"),
    )
    .await;
    assert_eq!(answer.upstream_header("x-customer"), Some("globex"));
    let anonymous = send(t.proxy.get("/api/invoices/7").header("x-customer", "acme")).await;
    assert_eq!(anonymous.upstream_header("x-customer"), None);
}
