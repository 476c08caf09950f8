//! `timeouts:`: an upstream that accepts and then stalls is answered 504 within its own
//! `read` (or `total`), while an upstream without the override keeps the default.

use std::time::Duration;

use reqwest::StatusCode;

use crate::support::{send, Backend, Config, Proxy};

/// A bound on every wait for the proxy to answer: generous, never a measurement.
const PATIENCE: Duration = Duration::from_secs(15);

/// `/_echo/**` on `billing` for acme, on legacy for everyone else; `timeouts` is the
/// section's body.
fn with_timeouts(legacy: &Backend, billing: &Backend, route: &str, timeouts: &str) -> Config {
    Config::new(legacy)
        .service("billing", billing)
        .routes(&format!(
            "  - {{ name: {route}, match: {{ path: \"/_echo/**\" }}, service: billing, rollout: {{ tenants: {{ acme: new }} }} }}\n"
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
