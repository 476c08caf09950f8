//! What the upstream receives and what the client gets back: forwarding headers, request id
//! and trace context added; path, query, status codes and redirects passed through untouched.

use reqwest::header::{HOST, LOCATION};
use reqwest::StatusCode;

use crate::support::{send, Backend, Config, Proxy};

async fn proxy_to_echo() -> (Proxy, Backend) {
    let legacy = Backend::echo("legacy").await;
    (Proxy::start(&Config::new(&legacy)).await, legacy)
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarding_headers_are_added_for_the_upstream() {
    let (proxy, _legacy) = proxy_to_echo().await;
    let answer = send(proxy.get("/home").header(HOST, "www.example.org")).await;
    assert_eq!(answer.upstream_header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(answer.upstream_header("x-forwarded-proto"), Some("http"));
    assert_eq!(
        answer.upstream_header("x-forwarded-host"),
        Some("www.example.org")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn client_cannot_forge_forwarded_proto_or_host_and_for_is_extended() {
    let (proxy, _legacy) = proxy_to_echo().await;
    let request = proxy
        .get("/home")
        .header(HOST, "internal:8080")
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "www.example.org");
    let answer = send(request).await;
    assert_eq!(
        answer.upstream_header("x-forwarded-for"),
        Some("203.0.113.7, 127.0.0.1")
    );
    assert_eq!(answer.upstream_header("x-forwarded-proto"), Some("http"));
    assert_eq!(
        answer.upstream_header("x-forwarded-host"),
        Some("internal:8080")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn valid_traceparent_keeps_its_trace_id() {
    let (proxy, _legacy) = proxy_to_echo().await;
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let answer = send(proxy.get("/home").header("traceparent", incoming)).await;
    let forwarded = answer
        .upstream_header("traceparent")
        .expect("a traceparent upstream");
    let parts: Vec<&str> = forwarded.split('-').collect();
    assert_eq!(parts.len(), 4, "{forwarded}");
    assert_eq!(
        (parts[0], parts[1], parts[3]),
        ("00", "4bf92f3577b34da6a3ce929d0e0e4736", "01")
    );
    assert_eq!(parts[2].len(), 16, "{forwarded}");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_or_malformed_traceparent_starts_a_new_trace() {
    let (proxy, _legacy) = proxy_to_echo().await;
    for request in [
        proxy.get("/home"),
        proxy.get("/home").header("traceparent", "00-zz-bad-01"),
    ] {
        let answer = send(request).await;
        let forwarded = answer
            .upstream_header("traceparent")
            .expect("a traceparent upstream");
        let parts: Vec<&str> = forwarded.split('-').collect();
        assert_eq!(parts.len(), 4, "{forwarded}");
        assert!(
            parts[1].len() == 32 && parts[1].bytes().all(|b| b.is_ascii_hexdigit()),
            "{forwarded}"
        );
        assert_ne!(parts[1], "0".repeat(32));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn request_id_is_set_when_absent_and_kept_when_sent() {
    let (proxy, _legacy) = proxy_to_echo().await;
    let first = send(proxy.get("/home")).await;
    let second = send(proxy.get("/home")).await;
    let id = first
        .upstream_header("x-request-id")
        .expect("a request id upstream");
    assert!(!id.is_empty());
    assert_ne!(
        Some(id),
        second.upstream_header("x-request-id"),
        "each request gets its own id"
    );
    let kept = send(proxy.get("/home").header("x-request-id", "req-42")).await;
    assert_eq!(kept.upstream_header("x-request-id"), Some("req-42"));
}

#[tokio::test(flavor = "multi_thread")]
async fn path_and_query_string_reach_the_backend_untouched() {
    let (proxy, _legacy) = proxy_to_echo().await;
    let answer = send(proxy.get("/search/a%20b?q=caf%C3%A9&x=1&x=2&empty=&flag")).await;
    assert_eq!(answer.body["path"], "/search/a%20b");
    assert_eq!(answer.body["query"], "q=caf%C3%A9&x=1&x=2&empty=&flag");
}

#[tokio::test(flavor = "multi_thread")]
async fn backend_status_codes_pass_through() {
    let (proxy, _legacy) = proxy_to_echo().await;
    for code in [201, 204, 404, 418, 500, 503] {
        let answer = send(proxy.get(&format!("/_echo/status/{code}"))).await;
        assert_eq!(answer.status.as_u16(), code);
        assert_eq!(
            answer.backend(),
            "legacy",
            "status {code} came from the backend"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_are_returned_to_the_client_not_followed() {
    let (proxy, _legacy) = proxy_to_echo().await;
    let answer = send(proxy.get("/_echo/redirect")).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert_eq!(answer.header(LOCATION.as_str()), Some("/elsewhere"));
}

#[tokio::test(flavor = "multi_thread")]
async fn decision_header_is_only_sent_with_debug_headers_on() {
    let legacy = Backend::echo("legacy").await;
    let config = Config::new(&legacy);
    let proxy = Proxy::start_unwatched(&config).await;
    let shown = send(proxy.get("/home")).await;
    assert_eq!(shown.decision(), "route=-; side=legacy; reason=no-route");
    proxy.rewrite_text(
        &config
            .render()
            .replace("debug_headers: true", "debug_headers: false"),
    );
    assert_eq!(proxy.reload().await.0, StatusCode::OK);
    let hidden = send(proxy.get("/home")).await;
    assert_eq!(
        (hidden.status, hidden.header("x-strangler-decision")),
        (StatusCode::OK, None)
    );
}
