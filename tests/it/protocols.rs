//! Protocols on the one proxy port: h2c with prior knowledge beside HTTP/1.1, WebSocket
//! upgrades passed through, and bodies streamed both ways. The 50 MiB tests measure this
//! process's resident memory (the proxy runs in it) to catch whole-body buffering.

use futures::{SinkExt, StreamExt};
use reqwest::{Method, StatusCode, Version};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::support::body::{pattern_digest, pattern_stream, Digest, MIB};
use crate::support::memory::PeakRss;
use crate::support::{Backend, Config, Proxy, TENANT};

/// A proxy sending tenant `acme` to `billing` on every path.
async fn acme_on_billing(alone: bool) -> (Proxy, [Backend; 2]) {
    let backends = [
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    ];
    let config = Config::new(&backends[0])
        .service("billing", &backends[1])
        .routes(
            r#"
  - name: everything
    match: { path: "/**" }
    service: billing
    rollout: { percent: 0, tenants: { acme: new } }
"#,
        );
    let proxy = if alone {
        Proxy::start_alone(&config).await
    } else {
        Proxy::start(&config).await
    };
    (proxy, backends)
}

/// The most a 50 MiB transfer may grow the process: well under the body, well over buffers.
const GROWTH_LIMIT: u64 = 32 * MIB;
const BIG: u64 = 50 * MIB;

/// Regression: Pingora's h2c detection waited for 24 bytes with no timeout, so a complete
/// request shorter than the HTTP/2 preface (a balancer's `OPTIONS / HTTP/1.0` health check
/// is 22 bytes) hung forever with h2c on.
#[tokio::test(flavor = "multi_thread")]
async fn http10_request_shorter_than_the_h2_preface_is_answered() {
    let (proxy, _backends) = acme_on_billing(false).await;
    let addr = proxy.running().proxy_addr();
    let exchange = crate::support::raw_http::exchange(addr, "GET / HTTP/1.0\r\n\r\n");
    let (status, _) = tokio::time::timeout(std::time::Duration::from_secs(10), exchange)
        .await
        .expect("an 18-byte HTTP/1.0 request must be answered, not left waiting");
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn h2c_prior_knowledge_is_served_and_upstream_sees_http1() {
    let (proxy, _backends) = acme_on_billing(false).await;
    let h2 = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .expect("h2c client");
    let response = h2
        .get(proxy.url("/api/invoices/7?x=1"))
        .header(TENANT, "acme")
        .send()
        .await
        .expect("h2c answer");
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-backend"], "billing");
    let report: serde_json::Value = response.json().await.expect("echo JSON");
    assert_eq!(report["version"], "HTTP/1.1");
    assert_eq!(report["path"], "/api/invoices/7");
    assert_eq!(report["query"], "x=1");
    assert_eq!(report["headers"]["x-strangler-tenant"], "acme");

    let posted = h2
        .post(proxy.url("/api/invoices"))
        .header(TENANT, "acme")
        .body(vec![7u8; 100_000])
        .send()
        .await
        .expect("h2c POST");
    let report: serde_json::Value = posted.json().await.expect("echo JSON");
    assert_eq!(report["body_len"], 100_000);

    let h1 = proxy
        .get_as("acme", "/api/invoices/7")
        .send()
        .await
        .expect("HTTP/1.1 answer");
    assert_eq!(
        (h1.version(), h1.status()),
        (Version::HTTP_11, StatusCode::OK),
        "same port"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn h2c_streams_on_one_connection_each_reach_their_own_backend() {
    let (proxy, _backends) = acme_on_billing(false).await;
    let h2 = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .expect("h2c client");
    let answers = futures::future::join_all((0..40).map(|i| {
        let tenant = if i % 2 == 0 { "acme" } else { "globex" };
        let request = h2
            .get(proxy.url(&format!("/api/invoices/{i}")))
            .header(TENANT, tenant);
        async move { (i, tenant, crate::support::send(request).await) }
    }))
    .await;
    for (i, tenant, answer) in answers {
        let expected = if tenant == "acme" {
            "billing"
        } else {
            "legacy"
        };
        assert_eq!(answer.backend(), expected, "stream {i} for {tenant}");
        assert_eq!(answer.body["path"], format!("/api/invoices/{i}"));
        assert_eq!(answer.upstream_header("x-strangler-tenant"), Some(tenant));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn h2c_streams_large_bodies_both_ways() {
    let (proxy, _backends) = acme_on_billing(false).await;
    let h2 = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .expect("h2c client");
    let size = 16 * MIB;
    let upload = h2
        .put(proxy.url("/api/invoices/7"))
        .header(TENANT, "acme")
        .body(reqwest::Body::wrap_stream(pattern_stream(size)));
    let report: serde_json::Value = upload
        .send()
        .await
        .expect("h2c upload")
        .json()
        .await
        .expect("JSON");
    let expected = pattern_digest(size);
    assert_eq!(
        (&report["body_len"], &report["body_hash"]),
        (&expected.len.into(), &expected.hex().into())
    );

    let download = h2
        .get(proxy.url(&format!("/_echo/stream/{size}")))
        .header(TENANT, "acme");
    let response = download.send().await.expect("h2c download");
    assert_eq!(response.version(), Version::HTTP_2);
    let mut digest = Digest::default();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        digest.update(&chunk.expect("a body chunk"));
    }
    assert_eq!(digest, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_upgrade_passes_through_to_the_decided_backend() {
    let (proxy, _backends) = acme_on_billing(false).await;
    let mut request = proxy
        .url("/_echo/ws")
        .replacen("http://", "ws://", 1)
        .into_client_request()
        .expect("ws request");
    request
        .headers_mut()
        .insert(TENANT, "acme".parse().expect("header value"));
    let (mut socket, handshake) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket handshake");
    assert_eq!(handshake.headers()["x-backend"], "billing");

    socket
        .send(Message::text("hello through strangler"))
        .await
        .expect("send text");
    let echoed = socket.next().await.expect("an answer").expect("a frame");
    assert_eq!(echoed, Message::text("hello through strangler"));
    let blob: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    socket
        .send(Message::binary(blob.clone()))
        .await
        .expect("send binary");
    let echoed = socket.next().await.expect("an answer").expect("a frame");
    assert_eq!(echoed.into_data().as_ref(), &blob[..]);
    socket.close(None).await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_mib_request_body_streams_through_without_buffering() {
    let (proxy, _backends) = acme_on_billing(true).await;
    let warm_up = proxy
        .request(Method::POST, "/upload")
        .header(TENANT, "acme")
        .body(vec![1u8; 1024]);
    assert_eq!(
        warm_up.send().await.expect("warm-up").status(),
        StatusCode::OK
    );

    let baseline = crate::support::memory::rss_bytes();
    let peak = PeakRss::start();
    let upload = proxy
        .request(Method::POST, "/upload")
        .header(TENANT, "acme")
        .body(reqwest::Body::wrap_stream(pattern_stream(BIG)));
    let response = upload.send().await.expect("upload answered");
    let peak = peak.finish();
    assert_eq!(response.status(), StatusCode::OK);
    let report: serde_json::Value = response.json().await.expect("echo JSON");
    let expected = pattern_digest(BIG);
    assert_eq!(report["body_len"], expected.len);
    assert_eq!(report["body_hash"], expected.hex());
    let growth = peak.saturating_sub(baseline);
    assert!(
        growth < GROWTH_LIMIT,
        "memory grew {} MiB while streaming 50 MiB up",
        growth / MIB
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_mib_response_streams_through_without_buffering() {
    let (proxy, _backends) = acme_on_billing(true).await;
    let warm_up = proxy
        .get_as("acme", "/_echo/stream/1024")
        .send()
        .await
        .expect("warm-up");
    assert_eq!(warm_up.bytes().await.expect("warm-up body").len(), 1024);

    let baseline = crate::support::memory::rss_bytes();
    let peak = PeakRss::start();
    let response = proxy
        .get_as("acme", &format!("/_echo/stream/{BIG}"))
        .send()
        .await
        .expect("download answered");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-backend"], "billing");
    let mut digest = Digest::default();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        digest.update(&chunk.expect("a body chunk"));
    }
    let peak = peak.finish();
    assert_eq!(digest, pattern_digest(BIG));
    let growth = peak.saturating_sub(baseline);
    assert!(
        growth < GROWTH_LIMIT,
        "memory grew {} MiB while streaming 50 MiB down",
        growth / MIB
    );
}
