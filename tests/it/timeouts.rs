//! `timeouts:`: an upstream that accepts and then stalls is answered 504 within its own
//! `read` (or `total`), while an upstream without the override keeps the default; a body
//! still streaming at `total` is cut off, and so is an upload still arriving (408); a
//! legacy that never accepts is a 504; the proxy's own error answers are JSON.

use std::time::Duration;

use reqwest::StatusCode;

use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;

use crate::support::backend::{closed_port_url, Blackhole};
use crate::support::metrics::sample;
use crate::support::{send, Backend, Config, Proxy};

/// A bound on every wait for the proxy to answer: generous, never a measurement.
const PATIENCE: Duration = Duration::from_secs(15);

/// `/_echo/**` on `billing` for acme, on legacy for everyone else; `timeouts` is the
/// section's body.
fn with_timeouts(legacy: &Backend, billing: &Backend, route: &str, timeouts: &str) -> Config {
    Config::new(legacy)
        .service("billing", billing)
        .routes(&format!(
            "  - name: {route}
    match: {{ path: \"/_echo/**\" }}
    service: billing
    rollout: {{ tenants: {{ acme: new }} }}
"
        ))
        .section(&format!("timeouts:\n{timeouts}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_upstream_is_504_within_its_read_timeout() {
    let legacy = Backend::echo("legacy").await;
    let billing = Backend::echo("billing").await;
    let timeouts = "  upstreams: { billing: { read: 300ms } }";
    let proxy = Proxy::start(&with_timeouts(&legacy, &billing, "timeouts-read", timeouts)).await;
    let stalled = send(proxy.get_as("acme", "/_echo/slow/60000").timeout(PATIENCE)).await;
    assert_eq!(stalled.status, StatusCode::GATEWAY_TIMEOUT, "{stalled:?}");
    let slow_legacy = send(proxy.get_as("globex", "/_echo/slow/600").timeout(PATIENCE)).await;
    assert_eq!(
        slow_legacy.status,
        StatusCode::OK,
        "legacy keeps the 60s default"
    );
    assert_eq!(slow_legacy.backend(), "legacy");
}

#[tokio::test(flavor = "multi_thread")]
async fn total_bounds_the_exchange_even_with_a_longer_read() {
    let legacy = Backend::echo("legacy").await;
    let billing = Backend::echo("billing").await;
    let timeouts = "  read: 60s\n  upstreams: { billing: { total: 300ms } }";
    let proxy = Proxy::start(&with_timeouts(
        &legacy,
        &billing,
        "timeouts-total",
        timeouts,
    ))
    .await;
    let stalled = send(proxy.get_as("acme", "/_echo/slow/60000").timeout(PATIENCE)).await;
    assert_eq!(stalled.status, StatusCode::GATEWAY_TIMEOUT, "{stalled:?}");
    let quick = send(proxy.get_as("acme", "/_echo/status/200")).await;
    assert_eq!(quick.status, StatusCode::OK);
    assert_eq!(quick.backend(), "billing");
}

/// A backend whose every answer is a 200 head, then a line every 50 ms, forever.
async fn trickling() -> Backend {
    let forever = || async {
        let ticks = futures::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Some((Ok::<_, std::io::Error>(Bytes::from_static(b"tick\n")), ()))
        });
        Body::from_stream(ticks)
    };
    Backend::serve(axum::Router::new().fallback(get(forever))).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_still_streaming_at_total_is_cut_off() {
    let legacy = trickling().await;
    let billing = Backend::echo("billing").await;
    let timeouts = "  upstreams: { legacy: { total: 500ms } }";
    let proxy = Proxy::start(&with_timeouts(&legacy, &billing, "timeouts-cut", timeouts)).await;
    let response = proxy
        .get("/feed")
        .timeout(PATIENCE)
        .send()
        .await
        .expect("a response head");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the head came before the deadline"
    );
    let body = response.bytes().await;
    let error = body.expect_err("the body must be cut off, not completed");
    assert!(
        !error.is_timeout(),
        "cut off by the proxy, not by the test's patience: {error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_that_never_accepts_is_504() {
    let blackhole = Blackhole::start().await;
    let billing = Backend::echo("billing").await;
    let config = Config::with_legacy_url(blackhole.url()).service("billing", &billing);
    let proxy = Proxy::start(&config).await;
    let answer = send(proxy.get("/anything").timeout(PATIENCE)).await;
    assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT, "{answer:?}");
}

/// Sends a request head declaring a 100 MB body, then `chunk` every `every` (nothing at
/// all when `every` is `None`) until the proxy answers or closes; returns the raw answer,
/// empty when the connection was reset (a client still sending when the proxy closes may
/// lose the 408 to the reset its unread bytes cause).
async fn upload(
    addr: std::net::SocketAddr,
    chunk: &'static [u8],
    every: Option<Duration>,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = "POST /_echo/upload HTTP/1.1\r\nHost: t\r\nX-Tenant-Id: acme\r\n\
                Content-Length: 100000000\r\n\r\n";
    writer.write_all(head.as_bytes()).await.expect("head");
    let trickle = tokio::spawn(async move {
        writer.write_all(chunk).await?;
        while let Some(every) = every {
            tokio::time::sleep(every).await;
            writer.write_all(chunk).await?;
        }
        std::future::pending::<()>().await;
        Ok::<_, std::io::Error>(())
    });
    let mut answer = Vec::new();
    let read = tokio::time::timeout(PATIENCE, reader.read_to_end(&mut answer)).await;
    trickle.abort();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let read =
        read.unwrap_or_else(|_| panic!("the upload was still open after {PATIENCE:?}: {answer:?}"));
    match read {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => String::new(),
        read => {
            read.expect("reading the answer");
            answer
        }
    }
}

/// Regression (issue #21): with `total: 5s`, a 100 MB POST trickled at 10 KB/s was still
/// open after 75 s. `total` bounds the whole exchange, the upload included: the client is
/// answered 408 (JSON) and the request is counted as `upload-timeout`.
#[tokio::test(flavor = "multi_thread")]
async fn total_does_not_bound_a_slow_upload() {
    let legacy = Backend::echo("legacy").await;
    let billing = Backend::echo("billing").await;
    let timeouts = "  upstreams: { billing: { total: 1s } }";
    let proxy = Proxy::start(&with_timeouts(&legacy, &billing, "upload-slow", timeouts)).await;
    let every = Some(Duration::from_millis(20));
    let answer = upload(proxy.running().proxy_addr(), &[b'x'; 200], every).await;
    if !answer.is_empty() {
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
        assert!(answer.contains("\"error\""), "a JSON body: {answer:?}");
    }
    let page = proxy.metrics().await;
    let counted = sample(
        &page,
        "strangler_rejected_requests_total",
        &[("reason", "upload-timeout")],
    );
    assert!(counted >= 1.0, "upload-timeout is counted:\n{page}");
}

/// The same upload stalled after its first bytes, without `client_timeout`: cut at `total`
/// rather than after Pingora's 60 s wait for the next read.
#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_upload_is_cut_at_total_not_after_a_minute() {
    let legacy = Backend::echo("legacy").await;
    let billing = Backend::echo("billing").await;
    let timeouts = "  upstreams: { billing: { total: 1s } }";
    let proxy = Proxy::start(&with_timeouts(
        &legacy,
        &billing,
        "upload-stalled",
        timeouts,
    ))
    .await;
    let answer = upload(proxy.running().proxy_addr(), &[b'x'; 200], None).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
}

/// Regression (issue #21): the proxy's own 502 had an empty body and `Server: Pingora`.
/// Every error the proxy sends for a failed upstream is JSON, like its refusals.
#[tokio::test(flavor = "multi_thread")]
async fn the_proxys_own_502_has_an_empty_body() {
    let billing = Backend::echo("billing").await;
    let config = Config::with_legacy_url(closed_port_url()).service("billing", &billing);
    let proxy = Proxy::start(&config).await;
    let request = "GET /anything HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let (head, body) = raw_answer(proxy.running().proxy_addr(), request).await;
    assert!(head.starts_with("HTTP/1.1 502"), "{head}");
    assert!(
        head.to_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert!(!head.to_lowercase().contains("server:"), "{head}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON body");
    assert!(
        json["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{json}"
    );
}

/// Sends `request` as written and splits the answer into its head and body.
async fn raw_answer(addr: std::net::SocketAddr, request: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut raw)).await;
    read.expect("an answer in time").expect("reading");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    (head.to_owned(), body.to_owned())
}
