//! Connect fallback: when the new service refuses or times out the connection, nothing
//! reached it, so the proxy sends the request to legacy instead, whatever its method and
//! body, says so in the decision header and counts it. Legacy itself has no fallback.
//!
//! Status fallback (a route's `fallback:`): a failed answer of the new service (a listed
//! status, a read timeout) is replaced by legacy's, for the listed idempotent methods, for a
//! non-idempotent one only with an `Idempotency-Key` on a route that opts in, and only while
//! the body fits the replay buffer; none of the failed answer reaches the client.
//!
//! A connection to the new service that closes before any answer, pooled or fresh: an
//! idempotent request is replayed on legacy on every route (`fallback:connection-lost`),
//! any other is a 502.

use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::support::backend::{closed_port_url, Blackhole, DiesOnReuse, Hangup};
use crate::support::body::{pattern_bytes, pattern_digest, pattern_stream, MIB};
use crate::support::faults;
use crate::support::metrics::sample;
use crate::support::{eventually, send, Backend, Config, Proxy};

/// Every tenant on `billing`, which listens nowhere.
fn billing_down(legacy: &Backend, route: &str) -> Config {
    billing_at(legacy, route, closed_port_url())
}

/// Every tenant on `billing`, at `url`.
fn billing_at(legacy: &Backend, route: &str, url: String) -> Config {
    Config::new(legacy)
        .service_url("billing", url)
        .routes(&format!(
            r#"
  - name: {route}
    match: {{ path: "/api/invoices/**" }}
    service: billing
    rollout: {{ percent: 100 }}
"#
        ))
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_connection_to_new_service_falls_back_to_legacy() {
    let legacy = Backend::echo("legacy").await;
    let proxy = Proxy::start(&billing_down(&legacy, "fallback-get")).await;
    let answer = send(proxy.get_as("acme", "/api/invoices/7?page=2")).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.backend(), "legacy");
    assert_eq!(
        answer.decision(),
        "route=fallback-get; side=legacy; reason=fallback:connect"
    );
    assert_eq!(answer.body["path"], "/api/invoices/7");
    assert_eq!(answer.body["query"], "page=2");
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_timeout_to_new_service_falls_back_to_legacy() {
    let legacy = Backend::echo("legacy").await;
    let blackhole = Blackhole::start().await;
    let proxy = Proxy::start(&billing_at(&legacy, "fallback-timeout", blackhole.url())).await;
    let started = std::time::Instant::now();
    let answer = send(proxy.get_as("acme", "/api/invoices/7")).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.backend(), "legacy");
    assert_eq!(answer.decided("reason"), Some("fallback:connect"));
    let waited = started.elapsed();
    let timed_out = Duration::from_millis(900)..Duration::from_secs(5);
    assert!(
        timed_out.contains(&waited),
        "connect_timeout is 1s; the fallback took {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn large_post_falls_back_to_legacy_intact() {
    let legacy = Backend::echo("legacy").await;
    let proxy = Proxy::start(&billing_down(&legacy, "fallback-post")).await;
    let size = 8 * MIB;
    let request = proxy
        .request(Method::POST, "/api/invoices")
        .header("x-tenant-id", "acme")
        .body(pattern_bytes(size));
    let answer = send(request).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.decided("reason"), Some("fallback:connect"));
    assert_eq!(answer.body["method"], "POST");
    let expected = pattern_digest(size);
    assert_eq!(answer.body["body_len"], expected.len);
    assert_eq!(answer.body["body_hash"], expected.hex());
}

#[tokio::test(flavor = "multi_thread")]
async fn chunked_upload_falls_back_to_legacy_intact() {
    let legacy = Backend::echo("legacy").await;
    let proxy = Proxy::start(&billing_down(&legacy, "fallback-chunked")).await;
    let size = 8 * MIB;
    let request = proxy
        .request(Method::PUT, "/api/invoices/7")
        .header("x-tenant-id", "acme")
        .body(reqwest::Body::wrap_stream(pattern_stream(size)));
    let answer = send(request).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.decided("reason"), Some("fallback:connect"));
    assert_eq!(answer.upstream_header("transfer-encoding"), Some("chunked"));
    let expected = pattern_digest(size);
    assert_eq!(answer.body["body_len"], expected.len);
    assert_eq!(answer.body["body_hash"], expected.hex());
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_fallbacks_are_counted_in_metrics() {
    let legacy = Backend::echo("legacy").await;
    let proxy = Proxy::start(&billing_down(&legacy, "fallback-counted")).await;
    let labels = [("route", "fallback-counted"), ("reason", "connect")];
    let before = sample(&proxy.metrics().await, "strangler_fallbacks_total", &labels);
    for _ in 0..3 {
        assert_eq!(
            send(proxy.get_as("acme", "/api/invoices/7"))
                .await
                .backend(),
            "legacy"
        );
    }
    eventually(
        Duration::from_secs(5),
        "three fallbacks counted",
        || async {
            sample(&proxy.metrics().await, "strangler_fallbacks_total", &labels) >= before + 3.0
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_refusing_connections_is_a_502_not_a_fallback() {
    let billing = Backend::echo("billing").await;
    let config = Config::with_legacy_url(closed_port_url())
        .service("billing", &billing)
        .routes(
            r#"
  - name: invoices
    match: { path: "/api/invoices/**" }
    service: billing
    rollout: { percent: 100 }
"#,
        );
    let proxy = Proxy::start(&config).await;
    assert_eq!(
        send(proxy.get_as("acme", "/api/invoices/7"))
            .await
            .backend(),
        "billing"
    );
    let answer = send(proxy.get_as("acme", "/elsewhere")).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{answer:?}");
}

/// Once the request reached the new service, replaying it on legacy could run a payment
/// twice: only a failed connect falls back; a new service that dies mid-request is a 502.
#[tokio::test(flavor = "multi_thread")]
async fn request_that_reached_the_new_service_is_never_replayed_on_legacy() {
    let legacy = Backend::echo("legacy").await;
    let hangup = Hangup::start().await;
    let proxy = Proxy::start(&billing_at(&legacy, "no-replay", hangup.url())).await;
    let request = proxy
        .request(Method::POST, "/api/invoices")
        .header("x-tenant-id", "acme")
        .body("charge the card once");
    let answer = send(request).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{answer:?}");
    assert_eq!(
        legacy.hits(),
        0,
        "legacy received a request the new service had already seen"
    );
}

/// Every tenant on `billing` at `url` (a URL or a `services:` mapping), with `fallback`.
fn billing_with_fallback(legacy: &Backend, route: &str, url: String, fallback: &str) -> Config {
    Config::new(legacy)
        .service_url("billing", url)
        .routes(&format!(
            r#"
  - name: {route}
    match: {{ path: "/api/invoices/**" }}
    service: billing
    rollout: {{ percent: 100 }}
    fallback: {fallback}
"#
        ))
}

#[tokio::test(flavor = "multi_thread")]
async fn get_answered_503_by_the_new_service_is_answered_by_legacy() {
    let legacy = Backend::echo("legacy").await;
    let billing = faults::failing("billing", 503).await;
    let config = billing_with_fallback(&legacy, "status-get", billing.url(), "{}");
    let proxy = Proxy::start(&config).await;
    let labels = [("route", "status-get"), ("reason", "status")];
    let before = sample(&proxy.metrics().await, "strangler_fallbacks_total", &labels);
    let answer = send(proxy.get_as("acme", "/api/invoices/7?page=2")).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(
        answer.backend(),
        "legacy",
        "not a byte of billing's 503 is served"
    );
    assert_eq!(answer.body["query"], "page=2");
    assert_eq!(
        answer.decision(),
        "route=status-get; side=legacy; reason=fallback:status"
    );
    assert_eq!((billing.hits(), legacy.hits()), (1, 1));
    eventually(Duration::from_secs(5), "the fallback counted", || async {
        sample(&proxy.metrics().await, "strangler_fallbacks_total", &labels) >= before + 1.0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn post_answered_503_is_passed_through_and_never_replayed() {
    let legacy = Backend::echo("legacy").await;
    let billing = faults::failing("billing", 503).await;
    let config = billing_with_fallback(&legacy, "status-post", billing.url(), "{}");
    let proxy = Proxy::start(&config).await;
    let request = proxy
        .request(Method::POST, "/api/invoices")
        .header("x-tenant-id", "acme")
        .header("idempotency-key", "charge-1")
        .body("charge the card once");
    let answer = send(request).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
    assert_eq!(answer.backend(), "billing");
    assert_eq!(billing.hits(), 1);
    assert_eq!(legacy.hits(), 0, "a POST that reached billing was replayed");
}

#[tokio::test(flavor = "multi_thread")]
async fn post_with_idempotency_key_falls_back_on_a_route_that_opts_in() {
    let legacy = Backend::echo("legacy").await;
    let billing = faults::failing("billing", 502).await;
    let fallback = "{ methods: [GET, POST], idempotency_key: true }";
    let config = billing_with_fallback(&legacy, "status-keyed", billing.url(), fallback);
    let proxy = Proxy::start(&config).await;
    let size = 32 * 1024;
    let post = |key: Option<&str>| {
        let request = proxy
            .request(Method::POST, "/api/invoices")
            .header("x-tenant-id", "acme")
            .body(pattern_bytes(size));
        match key {
            Some(key) => request.header("Idempotency-Key", key),
            None => request,
        }
    };
    let unkeyed = send(post(None)).await;
    assert_eq!(unkeyed.status, StatusCode::BAD_GATEWAY, "{unkeyed:?}");
    assert_eq!(legacy.hits(), 0, "without its key a POST is never replayed");
    let keyed = send(post(Some("invoice-7"))).await;
    assert_eq!(keyed.status, StatusCode::OK, "{keyed:?}");
    assert_eq!(keyed.decided("reason"), Some("fallback:status"));
    let expected = pattern_digest(size);
    assert_eq!(
        keyed.body["body_len"], expected.len,
        "legacy got the whole body"
    );
    assert_eq!(keyed.body["body_hash"], expected.hex());
    assert_eq!(keyed.body["headers"]["idempotency-key"], "invoice-7");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_larger_than_the_replay_buffer_is_not_replayed() {
    let legacy = Backend::echo("legacy").await;
    let billing = faults::failing("billing", 503).await;
    let fallback = "{ methods: [GET, PUT] }";
    let config = billing_with_fallback(&legacy, "status-large", billing.url(), fallback);
    let proxy = Proxy::start(&config).await;
    let request = proxy
        .request(Method::PUT, "/api/invoices/7")
        .header("x-tenant-id", "acme")
        .body(pattern_bytes(256 * 1024));
    let answer = send(request).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
    assert_eq!(answer.backend(), "billing");
    assert_eq!(
        legacy.hits(),
        0,
        "256 KiB do not fit the 64 KiB replay buffer"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_timeout_of_the_new_service_falls_back_for_get() {
    let legacy = Backend::echo("legacy").await;
    let billing = faults::slow("billing", Duration::from_secs(30)).await;
    let service = format!("{{ url: {}, read_timeout: 300ms }}", billing.url());
    let config = billing_with_fallback(&legacy, "timeout-get", service, "{ on: [timeout] }");
    let proxy = Proxy::start(&config).await;
    let answer = send(proxy.get_as("acme", "/api/invoices/7")).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.backend(), "legacy");
    assert_eq!(answer.decided("reason"), Some("fallback:timeout"));
    assert_eq!(billing.hits(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_status_the_route_does_not_list_is_passed_through() {
    let legacy = Backend::echo("legacy").await;
    let billing = faults::failing("billing", 500).await;
    let config = billing_with_fallback(&legacy, "status-unlisted", billing.url(), "{}");
    let proxy = Proxy::start(&config).await;
    let answer = send(proxy.get_as("acme", "/api/invoices/7")).await;
    assert_eq!(
        answer.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{answer:?}"
    );
    assert_eq!(answer.backend(), "billing");
    assert_eq!(legacy.hits(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_timeout_fallback_legacy_has_its_own_total() {
    // billing times out after 1 s; legacy then takes 0.7 s, inside its 1.5 s `total` counted
    // from the retry (from the decision it would be 1.7 s, past it).
    let legacy = faults::slow("legacy", Duration::from_millis(700)).await;
    let billing = faults::slow("billing", Duration::from_secs(30)).await;
    let service = format!("{{ url: {}, read_timeout: 1s }}", billing.url());
    let config = billing_with_fallback(&legacy, "timeout-total", service, "{ on: [timeout] }")
        .section("timeouts:\n  upstreams: { legacy: { total: 1500ms } }");
    let proxy = Proxy::start(&config).await;
    let answer = send(proxy.get_as("acme", "/api/invoices/7")).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.decided("reason"), Some("fallback:timeout"));
    assert_eq!((legacy.hits(), billing.hits()), (1, 1));
}

/// Regression (issue #21): a GET in flight on a pooled connection when the new service
/// died was replayed on legacy but labelled `fallback:connect` ("nothing was sent"), on a
/// route with no `fallback:`. It is replayed (an idempotent request whose connection closed
/// before any answer may be sent again) and says so: `fallback:connection-lost`.
#[tokio::test(flavor = "multi_thread")]
async fn a_get_on_a_pooled_connection_is_labelled_fallback_connect() {
    let legacy = Backend::echo("legacy").await;
    let dying = DiesOnReuse::start().await;
    let proxy = Proxy::start(&billing_at(&legacy, "lost-pooled", dying.url())).await;
    let first = send(proxy.get_as("acme", "/api/invoices/1")).await;
    assert_eq!(first.backend(), "new", "{first:?}");
    let replayed = send(proxy.get_as("acme", "/api/invoices/2")).await;
    assert_eq!(replayed.status, StatusCode::OK, "{replayed:?}");
    assert_eq!(replayed.backend(), "legacy");
    assert_eq!(replayed.decided("reason"), Some("fallback:connection-lost"));
    let page = proxy.metrics().await;
    let labels = [("route", "lost-pooled"), ("reason", "connection-lost")];
    assert_eq!(sample(&page, "strangler_fallbacks_total", &labels), 1.0);
}

/// Regression (issue #21): the same GET on a fresh connection got a 502 where the pooled one
/// was replayed. Both behave the same now.
#[tokio::test(flavor = "multi_thread")]
async fn a_get_on_a_fresh_connection_the_new_service_drops_gets_a_502() {
    let legacy = Backend::echo("legacy").await;
    let hangup = Hangup::start().await;
    let proxy = Proxy::start(&billing_at(&legacy, "lost-fresh", hangup.url())).await;
    let replayed = send(proxy.get_as("acme", "/api/invoices/3")).await;
    assert_eq!(replayed.status, StatusCode::OK, "{replayed:?}");
    assert_eq!(replayed.backend(), "legacy");
    assert_eq!(replayed.decided("reason"), Some("fallback:connection-lost"));
}
