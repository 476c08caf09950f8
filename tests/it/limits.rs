//! `limits:`: a noisy tenant over its rate gets 429 with `Retry-After` and a JSON body while
//! a quiet tenant is served, a tier raises a tenant's rate, the buckets survive a reload; a
//! body over `max_body` is 413 (up front for a declared length, mid-stream for chunks), a
//! head over `max_header` 431 and one over Pingora's own limit 400; a client that stalls
//! mid-head or mid-body is cut off while others are served. HTTP/1 and h2c share the buckets,
//! and an h2c body without a length is counted like a chunked one. The head deadline
//! (`client_timeout`, 30 s by default) closes silent connections, h2c connections without a
//! request and slowloris heads.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::metrics::sample;
use crate::support::raw_http::exchange;
use crate::support::{eventually, send, Backend, Config, Proxy};

/// A bound on every wait for the proxy to answer or close: generous, never a measurement.
const PATIENCE: Duration = Duration::from_secs(15);

/// Every request on `route`, which stays on legacy; `limits` is the section's body.
fn limited(legacy: &Backend, route: &str, limits: &str) -> Config {
    Config::new(legacy)
        .service("billing", legacy)
        .routes(&format!(
            "  - {{ name: {route}, match: {{ path: \"/api/**\" }}, service: billing }}\n"
        ))
        .section(&format!("limits:\n{limits}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_noisy_tenant_gets_429s_while_a_quiet_tenant_sees_none() {
    let legacy = Backend::echo("legacy").await;
    // One token per 100 s: the burst is all either tenant gets during the test.
    let config = limited(
        &legacy,
        "limits-noisy",
        "  per_tenant: { rps: 0.01, burst: 5 }",
    );
    let proxy = Proxy::start(&config).await;
    let (mut noisy_ok, mut noisy_limited, mut quiet_ok) = (0, Vec::new(), 0);
    for n in 0..20 {
        let answer = send(proxy.get_as("noisy", "/api/orders")).await;
        match answer.status {
            StatusCode::OK => noisy_ok += 1,
            StatusCode::TOO_MANY_REQUESTS => noisy_limited.push(answer),
            other => panic!("noisy request {n}: {other}"),
        }
        if n % 4 == 0 {
            let quiet = send(proxy.get_as("quiet", "/api/orders")).await;
            assert_eq!(quiet.status, StatusCode::OK, "the quiet tenant: {quiet:?}");
            quiet_ok += 1;
        }
    }
    assert_eq!((noisy_ok, noisy_limited.len(), quiet_ok), (5, 15, 5));
    let refused = &noisy_limited[0];
    let retry_after: u64 = refused
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(
        (1..=100).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert_eq!(refused.header("content-type"), Some("application/json"));
    assert_eq!(refused.body["tenant"], "noisy");
    assert_eq!(refused.body["retry_after"], retry_after);
    assert_eq!(refused.body["error"], "rate limit exceeded");
    assert_eq!(refused.backend(), "", "no upstream saw it");
    let labels = [("route", "limits-noisy")];
    eventually(PATIENCE, "the 429s are counted", || async {
        sample(
            &proxy.metrics().await,
            "strangler_rate_limited_total",
            &labels,
        ) == 15.0
    })
    .await;
    let limits = &proxy.admin_config().await["limits"];
    assert_eq!(
        limits["per_tenant"],
        serde_json::json!({ "rps": 0.01, "burst": 5.0 })
    );
    assert_eq!(limits["tracked_tenants"], 2, "{limits}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tier_gives_a_tenant_a_higher_limit() {
    let legacy = Backend::echo("legacy").await;
    let limits = "  per_tenant: { rps: 0.01, burst: 2 }
  tiers: { enterprise: { rps: 0.01, burst: 30 } }
  tenant_tiers: { acme: enterprise }";
    let proxy = Proxy::start(&limited(&legacy, "limits-tier", limits)).await;
    for n in 0..30 {
        let answer = send(proxy.get_as("acme", "/api/orders")).await;
        assert_eq!(answer.status, StatusCode::OK, "acme request {n}");
    }
    let statuses = [
        send(proxy.get_as("globex", "/api/orders")).await.status,
        send(proxy.get_as("globex", "/api/orders")).await.status,
        send(proxy.get_as("globex", "/api/orders")).await.status,
    ];
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_without_a_tenant_are_not_rate_limited() {
    let legacy = Backend::echo("legacy").await;
    let config = limited(
        &legacy,
        "limits-anonymous",
        "  per_tenant: { rps: 0.01, burst: 1 }",
    );
    let proxy = Proxy::start(&config).await;
    for n in 0..5 {
        let answer = send(proxy.get("/api/orders")).await;
        assert_eq!(answer.status, StatusCode::OK, "anonymous request {n}");
    }
}

/// `limits.anonymous` limits requests without a tenant per client address; tenants keep
/// their own buckets.
#[tokio::test(flavor = "multi_thread")]
async fn anonymous_requests_are_limited_per_client_address() {
    let legacy = Backend::echo("legacy").await;
    let config = limited(
        &legacy,
        "limits-anonymous-rate",
        "  anonymous: { rps: 0.01, burst: 3 }",
    );
    let proxy = Proxy::start(&config).await;
    let statuses: Vec<StatusCode> = futures::future::join_all(
        (0..5).map(|_| async { send(proxy.get("/api/orders")).await.status }),
    )
    .await;
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((statuses.len() - limited, limited), (3, 2), "{statuses:?}");
    let refused = send(proxy.get("/api/orders")).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.header("retry-after").is_some(), "{refused:?}");
    assert!(refused.body["error"]
        .as_str()
        .unwrap_or_default()
        .contains("without a tenant"));
    let tenant = send(proxy.get_as("acme", "/api/orders")).await;
    assert_eq!(
        tenant.status,
        StatusCode::OK,
        "a tenant is not an anonymous client"
    );
}

/// `limits.max_in_flight` bounds the whole proxy: one request more is 503 with
/// `Retry-After`, counted, while the ones in flight finish.
#[tokio::test(flavor = "multi_thread")]
async fn past_max_in_flight_a_request_gets_503_and_the_others_finish() {
    let legacy = Backend::echo("legacy").await;
    let config = limited(&legacy, "limits-in-flight", "  max_in_flight: 1");
    let proxy = Proxy::start(&config).await;
    let slow = tokio::spawn(send(proxy.get("/_echo/slow/1500")));
    eventually(
        Duration::from_secs(5),
        "the slow request reaches legacy",
        || async { legacy.hits() == 1 },
    )
    .await;
    let over = send(proxy.get("/api/orders")).await;
    assert_eq!(over.status, StatusCode::SERVICE_UNAVAILABLE, "{over:?}");
    assert_eq!(over.header("retry-after"), Some("1"));
    assert!(over.body["error"]
        .as_str()
        .unwrap_or_default()
        .contains("max_in_flight"));
    assert_eq!(slow.await.expect("task").status, StatusCode::OK);
    let metrics = proxy.metrics().await;
    let counted = sample(
        &metrics,
        "strangler_rejected_requests_total",
        &[("reason", "over-capacity")],
    );
    assert_eq!(counted, 1.0);
    assert_eq!(send(proxy.get("/api/orders")).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn buckets_survive_a_reload_that_changes_the_rates() {
    let legacy = Backend::echo("legacy").await;
    let before = limited(
        &legacy,
        "limits-reload",
        "  per_tenant: { rps: 0.01, burst: 2 }",
    );
    let proxy = Proxy::start_unwatched(&before).await;
    let statuses = |tenant: &'static str, n: usize| {
        let proxy = &proxy;
        async move {
            let mut seen = Vec::new();
            for _ in 0..n {
                seen.push(
                    send(proxy.get_as(tenant, "/api/orders"))
                        .await
                        .status
                        .as_u16(),
                );
            }
            seen
        }
    };
    assert_eq!(statuses("acme", 3).await, [200, 200, 429]);
    let after = limited(
        &legacy,
        "limits-reload",
        "  per_tenant: { rps: 0.01, burst: 4 }",
    );
    proxy.rewrite(&after);
    let (status, body) = proxy.reload().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        statuses("acme", 1).await,
        [429],
        "acme's empty bucket was kept"
    );
    assert_eq!(
        statuses("globex", 5).await,
        [200, 200, 200, 200, 429],
        "the new burst applies"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declared_body_over_max_body_is_413_before_the_upstream_sees_it() {
    let legacy = Backend::echo("legacy").await;
    let proxy = Proxy::start(&limited(&legacy, "limits-length", "  max_body: 1KiB")).await;
    let request = "POST /api/orders HTTP/1.1\r\nHost: test.local\r\nX-Tenant-Id: acme\r\n\
                   Content-Length: 4096\r\nExpect: 100-continue\r\n\r\n";
    let (status, body) = within(exchange(proxy.running().proxy_addr(), request)).await;
    assert_eq!(status, 413, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON body");
    assert_eq!(json["error"], "the request body is larger than 1024 bytes");
    let fits = proxy
        .request(reqwest::Method::POST, "/api/orders")
        .header("x-tenant-id", "acme")
        .body(vec![b'x'; 1024]);
    assert_eq!(send(fits).await.status, StatusCode::OK);
    assert_eq!(legacy.hits(), 1, "only the body that fits reached legacy");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_body_growing_past_max_body_is_cut_off_with_413() {
    let legacy = Backend::echo("legacy").await;
    let proxy = Proxy::start(&limited(&legacy, "limits-chunked", "  max_body: 1KiB")).await;
    let chunk = format!("200\r\n{}\r\n", "y".repeat(512));
    let request = format!(
        "POST /api/orders HTTP/1.1\r\nHost: test.local\r\nX-Tenant-Id: acme\r\n\
         Transfer-Encoding: chunked\r\n\r\n{chunk}{chunk}{chunk}"
    );
    let (status, body) = within(exchange(proxy.running().proxy_addr(), &request)).await;
    assert_eq!(status, 413, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_head_over_max_header_is_431() {
    let legacy = Backend::echo("legacy").await;
    let proxy = Proxy::start(&limited(&legacy, "limits-head", "  max_header: 1KiB")).await;
    let big = "z".repeat(2048);
    let answer = send(proxy.get_as("acme", "/api/orders").header("x-big", big)).await;
    assert_eq!(answer.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(
        answer.body["error"],
        "the request head is larger than 1024 bytes"
    );
    assert_eq!(legacy.hits(), 0);
    assert_eq!(
        send(proxy.get_as("acme", "/api/orders")).await.status,
        StatusCode::OK
    );
}

/// Pingora accepted heads up to 1 MiB and answered one over it 400; the head check's
/// default limit (64 KiB, when `max_header` is unset) answers 431 without reading it all.
#[tokio::test(flavor = "multi_thread")]
async fn a_head_over_the_default_limit_is_431_not_a_hang() {
    let legacy = Backend::echo("legacy").await;
    let proxy = Proxy::start(&Config::new(&legacy)).await;
    let start = "GET / HTTP/1.1\r\nHost: test.local\r\nX-Big: ";
    // One byte over Pingora's 1 MiB - 1, with no end of head.
    let request = format!("{start}{}", "a".repeat((1 << 20) - start.len()));
    let (status, _) = within(exchange(proxy.running().proxy_addr(), &request)).await;
    assert_eq!(status, 431);
    assert_eq!(
        send(proxy.get("/")).await.status,
        StatusCode::OK,
        "still serving"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_stalling_mid_body_is_cut_off_while_others_are_served() {
    let legacy = Backend::echo("legacy").await;
    let config = limited(&legacy, "limits-slow", "  client_timeout: 300ms");
    let proxy = Proxy::start(&config).await;
    let mut slow = TcpStream::connect(proxy.running().proxy_addr())
        .await
        .unwrap();
    let head = "POST /api/orders HTTP/1.1\r\nHost: test.local\r\nX-Tenant-Id: acme\r\n\
                Content-Length: 100\r\n\r\n0123456789";
    slow.write_all(head.as_bytes()).await.unwrap();
    let other = send(proxy.get_as("globex", "/api/orders")).await;
    assert_eq!(
        other.status,
        StatusCode::OK,
        "served while the slow client stalls"
    );
    let mut answer = Vec::new();
    let read = tokio::time::timeout(PATIENCE, slow.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the stalled client was not cut off within {PATIENCE:?}"
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
}

/// Awaits `exchange`, failing the test rather than hanging when the proxy never answers.
async fn within<T>(exchange: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, exchange)
        .await
        .expect("the proxy answered and closed in time")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_stalling_mid_head_is_disconnected_while_others_are_served() {
    let legacy = Backend::echo("legacy").await;
    let config = limited(&legacy, "limits-slow-head", "  client_timeout: 300ms");
    let proxy = Proxy::start(&config).await;
    let mut slow = TcpStream::connect(proxy.running().proxy_addr())
        .await
        .unwrap();
    slow.write_all(b"GET /api/orders HTTP/1.1\r\nHost: test.local\r\nX-Ten")
        .await
        .unwrap();
    let other = send(proxy.get_as("globex", "/api/orders")).await;
    assert_eq!(
        other.status,
        StatusCode::OK,
        "served while the slow client stalls"
    );
    let mut answer = Vec::new();
    let read = tokio::time::timeout(PATIENCE, slow.read_to_end(&mut answer)).await;
    assert!(
        read.is_ok(),
        "the stalled client was not cut off within {PATIENCE:?}"
    );
    assert_eq!(legacy.hits(), 1, "the half head never went upstream");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_alive_client_stalling_in_its_next_head_is_disconnected() {
    let legacy = Backend::echo("legacy").await;
    let config = limited(&legacy, "limits-slow-next", "  client_timeout: 300ms");
    let proxy = Proxy::start(&config).await;
    let mut slow = TcpStream::connect(proxy.running().proxy_addr())
        .await
        .unwrap();
    slow.write_all(b"GET /api/orders HTTP/1.1\r\nHost: test.local\r\nContent-Length: 0\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    within(slow.read_exact(&mut first)).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    // The second head starts, then stalls: the deadline holds for it as for the first.
    slow.write_all(b"GET /api/orders HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(PATIENCE, slow.read_to_end(&mut rest)).await;
    assert!(
        read.is_ok(),
        "the stalled second head was not cut off within {PATIENCE:?}"
    );
    assert_eq!(legacy.hits(), 1, "the half head never went upstream");
}

/// A client that speaks h2c (prior knowledge) to the proxy.
fn h2c() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .expect("h2c client")
}

#[tokio::test(flavor = "multi_thread")]
async fn http1_and_h2c_requests_share_a_tenants_bucket() {
    let legacy = Backend::echo("legacy").await;
    let config = limited(
        &legacy,
        "limits-h2",
        "  per_tenant: { rps: 0.01, burst: 2 }",
    );
    let proxy = Proxy::start(&config).await;
    let h2 = h2c();
    let over_h2 = |proxy: &Proxy| {
        h2.get(proxy.url("/api/orders"))
            .header("x-tenant-id", "acme")
    };
    assert_eq!(send(over_h2(&proxy)).await.status, StatusCode::OK);
    assert_eq!(
        send(proxy.get_as("acme", "/api/orders")).await.status,
        StatusCode::OK
    );
    let third = send(over_h2(&proxy)).await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS, "{third:?}");
    assert!(third.header("retry-after").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_h2c_body_without_a_length_is_cut_off_past_max_body() {
    let legacy = Backend::echo("legacy").await;
    let proxy = Proxy::start(&limited(&legacy, "limits-h2-body", "  max_body: 1KiB")).await;
    let chunks = (0..4).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 512]));
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let request = h2c()
        .post(proxy.url("/api/orders"))
        .header("x-tenant-id", "acme")
        .body(body);
    let answer = tokio::time::timeout(PATIENCE, send(request))
        .await
        .expect("an answer");
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{answer:?}");
}

/// Reads from `stream` until the proxy closes it; panics if it is still open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration, what: &str) {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut seen)).await;
    assert!(read.is_ok(), "{what}: still open after {limit:?}");
}

/// Regression (issue #21): with `client_timeout: 10s`, a connection that sent the h2c
/// preface and then nothing was still open after 150 s. The deadline covers h2c up to the
/// first request's HEADERS, and a connection that met it keeps serving past it.
#[tokio::test(flavor = "multi_thread")]
async fn a_connection_that_sends_the_h2c_preface_and_then_nothing_stays_open() {
    let legacy = Backend::echo("legacy").await;
    let config = limited(&legacy, "limits-h2c-head", "  client_timeout: 300ms");
    let proxy = Proxy::start(&config).await;
    let mut silent = TcpStream::connect(proxy.running().proxy_addr())
        .await
        .unwrap();
    silent
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    closed_within(&mut silent, PATIENCE, "an h2c preface without a request").await;

    let h2 = h2c();
    let first = send(h2.get(proxy.url("/api/orders"))).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    // Past the deadline, the same connection (the client pools it) still serves.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let second = send(h2.get(proxy.url("/api/orders"))).await;
    assert_eq!(second.status, StatusCode::OK, "{second:?}");
}

/// Regression (issue #21): connections that sent nothing were held for a fixed 60 s
/// whatever `client_timeout` said. The deadline runs from the accept.
#[tokio::test(flavor = "multi_thread")]
async fn connections_that_send_nothing_are_held_for_a_fixed_60s() {
    let legacy = Backend::echo("legacy").await;
    let config = limited(&legacy, "limits-silent", "  client_timeout: 300ms");
    let proxy = Proxy::start(&config).await;
    let mut silent = TcpStream::connect(proxy.running().proxy_addr())
        .await
        .unwrap();
    closed_within(&mut silent, PATIENCE, "a connection that sends nothing").await;
    let other = send(proxy.get_as("globex", "/api/orders")).await;
    assert_eq!(other.status, StatusCode::OK);
}

/// Regression (issue #21): with no `limits:` at all, 100 slowloris connections were all
/// still open after 80 s. A head deadline is on by default (30 s): all are closed by then,
/// and a normal client is served meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn with_no_limits_slowloris_connections_are_all_still_open_after_80s() {
    let legacy = Backend::echo("legacy").await;
    let proxy = Proxy::start(&Config::new(&legacy)).await;
    let addr = proxy.running().proxy_addr();
    let mut slow = Vec::new();
    for _ in 0..100 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nX-A: ")
            .await
            .unwrap();
        slow.push(stream);
    }
    let served = send(proxy.get("/home")).await;
    assert_eq!(served.status, StatusCode::OK, "served beside the slowloris");
    let deadline = Duration::from_secs(30) + PATIENCE;
    for stream in &mut slow {
        // One byte now and then, as slowloris does: the deadline is for the whole head.
        let _ = stream.write_all(b"a").await;
        closed_within(stream, deadline, "a slowloris connection").await;
    }
}
