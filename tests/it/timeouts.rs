//! `timeouts:`: an upstream that accepts and then stalls is answered 504 within its own
//! `read` (or `total`), while an upstream without the override keeps the default; a body
//! still streaming at `total` is cut off; a legacy that never accepts is a 504.

use std::time::Duration;

use reqwest::StatusCode;

use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;

use crate::support::backend::Blackhole;
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
