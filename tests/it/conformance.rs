//! HTTP/1 on the wire, as raw clients send it: heads the proxy refuses get the right status,
//! a JSON body, no `Server` header and a count; HTTP/1.0 clients and pipelining clients get
//! what RFC 9112 promises them.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::routing::get;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::metrics::sample;
use crate::support::scripted::Scripted;
use crate::support::{Backend, Config, Proxy};

/// Sends `bytes` as written and reads until the proxy closes: the raw answer.
async fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(bytes).await.expect("send");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer));
    read.await.expect("the proxy closes").expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status, lower-cased head and body of the first answer in `raw`.
fn first_answer(raw: &str) -> (u16, String, String) {
    let (head, body) = raw.split_once("\r\n\r\n").expect("a whole head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn legacy_only(legacy: &Scripted) -> Config {
    Config::new(&legacy.backend)
}

/// Each kind of head the proxy refuses, with its status and its `reason` label.
fn refused_heads() -> Vec<(String, u16, &'static str)> {
    let long_target = format!("/{}", "a".repeat(100 * 1024));
    let many_fields = "X-A: b\r\n".repeat(300);
    let big_field = format!("X-Big: {}\r\n", "v".repeat(70 * 1024));
    vec![
        (
            format!("GET {long_target} HTTP/1.1\r\nHost: x\r\n\r\n"),
            414,
            "target-too-long",
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: x\r\n{many_fields}\r\n"),
            431,
            "too-many-headers",
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: x\r\n{big_field}\r\n"),
            431,
            "header-too-large",
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n".into(),
            501,
            "unknown-transfer-coding",
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n".into(),
            400,
            "invalid-transfer-encoding",
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"
                .into(),
            400,
            "invalid-content-length",
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello".into(),
            400,
            "invalid-content-length",
        ),
        (
            "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n".into(),
            400,
            "malformed-request-line",
        ),
        (
            "GET /a?q=<b> HTTP/1.1\r\nHost: x\r\n\r\n".into(),
            400,
            "malformed-target",
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".into(),
            400,
            "repeated-host",
        ),
        (
            "GET / HTTP/1.1\r\nX-A: b\r\n\r\n".into(),
            400,
            "missing-host",
        ),
        (
            "GET http://elsewhere/ HTTP/1.1\r\nHost: x\r\n\r\n".into(),
            400,
            "invalid-authority",
        ),
        (
            "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n".into(),
            405,
            "connect-not-allowed",
        ),
    ]
}

/// Regression (#13 items 1 and 2): Pingora answered every one of these with a bare 400,
/// `Server: Pingora`, no body and no count; a raw space was forwarded as `%20`.
#[tokio::test(flavor = "multi_thread")]
async fn refused_heads_get_their_status_a_json_body_and_a_count() {
    let legacy = Scripted::start(|_, _| serde_json::json!({ "ok": true })).await;
    let proxy = Proxy::start(&legacy_only(&legacy)).await;
    let addr = proxy.running().proxy_addr();
    let before = proxy.metrics().await;
    for (request, status, reason) in refused_heads() {
        let answer = raw(addr, request.as_bytes()).await;
        let (got, head, body) = first_answer(&answer);
        let shown = &request[..request.len().min(60)];
        assert_eq!(got, status, "{shown:?}: {answer:.300}");
        assert!(!head.contains("\r\nserver:"), "{shown:?}: {head}");
        assert!(head.contains("\r\nconnection: close"), "{shown:?}: {head}");
        let body: Value = serde_json::from_str(&body).expect("a JSON body");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
        let after = proxy.metrics().await;
        let count = |page: &str| {
            sample(
                page,
                "strangler_rejected_requests_total",
                &[("reason", reason)],
            )
        };
        assert!(count(&after) > count(&before), "{reason} not counted");
    }
    assert!(
        legacy.received().is_empty(),
        "a refused request reached legacy"
    );
}

/// A refused head on a kept-alive connection, after a sound request, is refused the same way.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_head_after_a_kept_alive_request_is_answered() {
    let legacy = Scripted::start(|_, _| serde_json::json!({ "ok": true })).await;
    let proxy = Proxy::start(&legacy_only(&legacy)).await;
    let mut stream = tokio::net::TcpStream::connect(proxy.running().proxy_addr())
        .await
        .unwrap();
    stream
        .write_all(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = vec![0u8; 4096];
    let n = stream.read(&mut first).await.unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    stream
        .write_all(b"GET /two HTTP/1.1\r\nTransfer-Encoding: identity\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    let (status, _, body) = first_answer(&String::from_utf8_lossy(&rest));
    assert_eq!(status, 501, "{body}");
    assert_eq!(legacy.received().len(), 1);
}

/// Regression (#13 item 4): two requests in one write got one answer that said
/// `keep-alive`, then a closed connection. The first is now answered with
/// `Connection: close`, so the client knows to send the second again.
#[tokio::test(flavor = "multi_thread")]
async fn pipelined_requests_get_an_honest_close() {
    let legacy = Scripted::start(|_, _| serde_json::json!({ "ok": true })).await;
    let proxy = Proxy::start(&legacy_only(&legacy)).await;
    let two = b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n";
    let answer = raw(proxy.running().proxy_addr(), two).await;
    let (status, head, _) = first_answer(&answer);
    assert_eq!(status, 200);
    assert!(head.contains("\r\nconnection: close"), "{head}");
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
    assert_eq!(legacy.received().len(), 1);
}

/// Regression (#13 item 3): an HTTP/1.0 request without `Host` reached the upstream as
/// HTTP/1.1 without `Host`, which a real server answers 400.
#[tokio::test(flavor = "multi_thread")]
async fn http10_request_without_host_reaches_the_upstream_with_its_authority() {
    let legacy = Scripted::start(|_, _| serde_json::json!({ "ok": true })).await;
    let proxy = Proxy::start(&legacy_only(&legacy)).await;
    let answer = raw(proxy.running().proxy_addr(), b"GET /old HTTP/1.0\r\n\r\n").await;
    assert_eq!(first_answer(&answer).0, 200, "{answer}");
    let received = legacy.received();
    let authority = legacy.url().trim_start_matches("http://").to_owned();
    assert_eq!(received[0].headers.get("host"), Some(&authority));
}

/// A backend that streams its answer without a `Content-Length` (chunked on HTTP/1.1).
async fn streaming() -> Backend {
    let answer = || async {
        let parts = ["first ", "second ", "third"].map(|p| Ok::<_, std::io::Error>(Bytes::from(p)));
        Body::from_stream(futures::stream::iter(parts))
    };
    Backend::serve(axum::Router::new().fallback(get(answer))).await
}

/// Regression (#13 item 3): an HTTP/1.0 client must never receive
/// `Transfer-Encoding: chunked` (RFC 9112 §6.1); the body is delimited by the close.
#[tokio::test(flavor = "multi_thread")]
async fn http10_client_never_gets_a_chunked_answer() {
    let legacy = streaming().await;
    let proxy = Proxy::start(&Config::new(&legacy)).await;
    let addr = proxy.running().proxy_addr();
    let answer = raw(addr, b"GET /stream HTTP/1.0\r\nHost: x\r\n\r\n").await;
    let (status, head, body) = first_answer(&answer);
    assert_eq!(status, 200, "{answer}");
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert_eq!(body, "first second third");
    let answer = raw(
        addr,
        b"GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        first_answer(&answer)
            .1
            .contains("transfer-encoding: chunked"),
        "{answer}"
    );
}

/// A Host-less HTTP/1.0 request on a shadowed route: each side gets its own authority as
/// `Host`, never the other's.
#[tokio::test(flavor = "multi_thread")]
async fn http10_request_without_host_reaches_each_shadowed_side_with_its_own_authority() {
    let legacy = Scripted::start(|_, _| serde_json::json!({ "ok": true })).await;
    let new = Scripted::start(|_, _| serde_json::json!({ "ok": true })).await;
    let config = crate::support::shadowing::one_route(&legacy, &new, "invoices", "{ noise: 0 }");
    let proxy = Proxy::start(&config).await;
    let answer = raw(
        proxy.running().proxy_addr(),
        b"GET /api/invoices/7 HTTP/1.0\r\n\r\n",
    )
    .await;
    assert_eq!(first_answer(&answer).0, 200, "{answer}");
    crate::support::eventually(Duration::from_secs(10), "the shadow call", || async {
        !new.received().is_empty()
    })
    .await;
    let authority = |s: &Scripted| s.url().trim_start_matches("http://").to_owned();
    assert_eq!(
        legacy.received()[0].headers.get("host"),
        Some(&authority(&legacy))
    );
    assert_eq!(
        new.received()[0].headers.get("host"),
        Some(&authority(&new))
    );
}
