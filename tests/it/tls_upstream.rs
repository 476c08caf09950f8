//! `https://` upstreams: legacy and a service behind a private CA, mTLS, and the failures
//! (wrong CA, expired certificate): a JSON 502 naming the upstream (or the fallback to
//! legacy for a new service) and `strangler_upstream_tls_errors_total{upstream,reason}`.

use crate::support::backend::Backend;
use std::time::Duration;

use crate::support::eventually;
use crate::support::metrics::sample;
use crate::support::proxy::{Config, Proxy};
use crate::support::scratch::Scratch;
use crate::support::shadowing::route_report;
use crate::support::tls::{Pki, TlsBackend};

/// `{ url: <url>, tls: { <tls> } }`.
fn https(url: &str, tls: &str) -> String {
    format!("{{ url: {url}, tls: {{ {tls} }} }}")
}

#[tokio::test]
async fn https_legacy_and_service_with_a_private_ca() {
    let (pki, dir) = (Pki::new(), Scratch::new());
    let ca = dir.write("ca.pem", &pki.ca_pem());
    let legacy = TlsBackend::echo("legacy", &pki.leaf(&["monolith.internal"], 1), None).await;
    let billing = TlsBackend::echo("billing", &pki.leaf(&["billing.internal"], 2), None).await;
    let ca = ca.display();
    let config = Config::with_legacy_url(https(&legacy.url(), &format!("ca: {ca}, sni: monolith.internal")))
        .service_url("billing", https(&billing.url(), &format!("ca: {ca}, sni: billing.internal")))
        .routes("  - { name: invoices, match: { path: \"/api/invoices/**\" }, service: billing, rollout: { percent: 100 } }\n");
    let proxy = Proxy::start(&config).await;
    let to_legacy = proxy.get("/home").send().await.unwrap();
    assert_eq!(to_legacy.status(), 200);
    assert_eq!(to_legacy.headers()["x-backend"], "legacy");
    let to_new = proxy
        .get_as("acme", "/api/invoices/7")
        .send()
        .await
        .unwrap();
    assert_eq!(to_new.status(), 200);
    assert_eq!(to_new.headers()["x-backend"], "billing");
    // The connection is reused: a second request needs no new handshake to answer.
    let again = proxy
        .get_as("acme", "/api/invoices/8")
        .send()
        .await
        .unwrap();
    assert_eq!(again.headers()["x-backend"], "billing");
}

#[tokio::test]
async fn mtls_to_an_upstream_that_requires_a_client_certificate() {
    let (pki, dir) = (Pki::new(), Scratch::new());
    let ca = dir.write("ca.pem", &pki.ca_pem());
    pki.leaf(&["strangler.proxy"], 3)
        .write(dir.path(), "client");
    let legacy = TlsBackend::echo(
        "legacy",
        &pki.leaf(&["monolith.internal"], 4),
        Some(&pki.ca_pem()),
    )
    .await;
    let (ca, d) = (ca.display(), dir.path().display());
    let with_cert = format!(
        "ca: {ca}, sni: monolith.internal, client_cert: {d}/client.pem, client_key: {d}/client.key"
    );
    let proxy = Proxy::start(&Config::with_legacy_url(https(&legacy.url(), &with_cert))).await;
    let answer = proxy.get("/").send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let without = format!("ca: {ca}, sni: monolith.internal");
    let refused = Proxy::start(&Config::with_legacy_url(https(&legacy.url(), &without))).await;
    let answer = refused.get("/").send().await.unwrap();
    assert_eq!(answer.status(), 502, "no client certificate, no answer");
}

#[tokio::test]
async fn a_wrong_ca_or_an_expired_certificate_is_a_502_counted_by_reason() {
    let (pki, other, dir) = (Pki::new(), Pki::new(), Scratch::new());
    let ca = dir.write("ca.pem", &pki.ca_pem());
    let stranger = TlsBackend::echo("legacy", &other.leaf(&["monolith.internal"], 5), None).await;
    let ca = ca.display();
    let tls = format!("ca: {ca}, sni: monolith.internal");
    let proxy = Proxy::start(&Config::with_legacy_url(https(&stranger.url(), &tls))).await;
    let answer = proxy.get("/").send().await.unwrap();
    assert_eq!(answer.status(), 502);
    let body = answer.text().await.unwrap();
    assert!(body.starts_with('{') && body.contains("legacy"), "{body}");
    let page = proxy.metrics().await;
    let labels = [("upstream", "legacy"), ("reason", "unknown-issuer")];
    let tls_lines: Vec<&str> = page.lines().filter(|l| l.contains("tls")).collect();
    assert!(
        sample(&page, "strangler_upstream_tls_errors_total", &labels) >= 1.0,
        "{tls_lines:#?}"
    );

    // An expired service certificate: the route falls back to legacy, counted.
    let legacy = Backend::echo("legacy").await;
    let expired =
        TlsBackend::echo("tlsexpired", &pki.expired(&["expired.internal"], 6), None).await;
    let config = Config::new(&legacy)
        .service_url("tlsexpired", https(&expired.url(), &format!("ca: {ca}, sni: expired.internal")))
        .routes("  - { name: tlsexpired, match: { path: \"/expired/**\" }, service: tlsexpired, rollout: { percent: 100 } }\n");
    let proxy = Proxy::start(&config).await;
    let answer = proxy.get_as("acme", "/expired/1").send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["x-backend"], "legacy", "fell back");
    let page = proxy.metrics().await;
    let labels = [("upstream", "tlsexpired"), ("reason", "expired")];
    assert_eq!(
        sample(&page, "strangler_upstream_tls_errors_total", &labels),
        1.0,
        "{page}"
    );
}

#[tokio::test]
async fn a_shadowed_route_whose_other_side_is_https_is_compared() {
    let (pki, dir) = (Pki::new(), Scratch::new());
    let ca = dir.write("ca.pem", &pki.ca_pem());
    let legacy = Backend::echo("tlsshadow").await;
    let new = TlsBackend::echo("tlsshadow", &pki.leaf(&["shadow.internal"], 7), None).await;
    let tls = format!("ca: {}, sni: shadow.internal", ca.display());
    let config = Config::new(&legacy)
        .service_url("tlsshadow", https(&new.url(), &tls))
        .routes("  - { name: tlsshadow, match: { path: \"/_echo/**\" }, service: tlsshadow, shadow: { noise: 0 } }\n");
    let proxy = Proxy::start(&config).await;
    for i in 0..3 {
        let answer = proxy
            .get_as(&format!("t{i}"), "/_echo/x")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.headers()["x-backend"], "tlsshadow");
    }
    let report = route_report(&proxy, "tlsshadow", 3).await;
    assert_eq!(
        report["outcomes"]["shadow-error"].as_u64().unwrap_or(0),
        0,
        "{report:#}"
    );
    assert!(report["compared"].as_u64().unwrap_or(0) >= 3, "{report:#}");
}

#[tokio::test]
async fn health_checks_of_an_https_service_use_its_tls_settings() {
    let (pki, dir) = (Pki::new(), Scratch::new());
    let ca = dir.write("ca.pem", &pki.ca_pem());
    let legacy = Backend::echo("legacy").await;
    let new = TlsBackend::echo("tlshealthy", &pki.leaf(&["health.internal"], 8), None).await;
    let spec = format!(
        "{{ url: {}, tls: {{ ca: {}, sni: health.internal }}, health: {{ path: /_echo/status/200, interval: 50ms }} }}",
        new.url(),
        ca.display()
    );
    let proxy = Proxy::start(&Config::new(&legacy).service_url("tlshealthy", spec)).await;
    let labels = [("service", "tlshealthy"), ("result", "ok")];
    eventually(
        Duration::from_secs(5),
        "a healthy check over TLS",
        || async {
            sample(
                &proxy.metrics().await,
                "strangler_health_check_total",
                &labels,
            ) >= 2.0
        },
    )
    .await;
    let failed = [("service", "tlshealthy"), ("result", "failed")];
    assert_eq!(
        sample(
            &proxy.metrics().await,
            "strangler_health_check_total",
            &failed
        ),
        0.0
    );
}
