//! Circuit breakers: a new service killed under load costs no failed GET (the fallback
//! covers the requests in flight and the connects refused until the breaker opens), its
//! breaker opens and shows so in `/admin/health` and the metrics, and once the service is
//! back on its port the half-open probes close the breaker and traffic returns to it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::faults::Restartable;
use crate::support::metrics::sample;
use crate::support::{eventually, send, Backend, Config, Proxy};

/// Concurrent clients of the load.
const CLIENTS: usize = 4;

/// A route at 100 % on `service` (named for this test: metrics are process-wide) with the
/// default fallback, the service guarded by a fast health check and a breaker.
fn guarded(legacy: &Backend, service: &str, url: &str) -> Config {
    let entry = format!(
        "{{ url: {url}, health: {{ path: /healthz, interval: 100ms, timeout: 500ms, healthy: 1, \
         unhealthy: 2 }}, breaker: {{ consecutive_failures: 3, open_for: 200ms, max_open_for: 1s }} }}"
    );
    Config::new(legacy)
        .service_url(service, entry)
        .routes(&format!(
            r#"
  - name: {service}
    match: {{ path: "/api/invoices/**" }}
    service: {service}
    rollout: {{ percent: 100 }}
    fallback: {{}}
"#
        ))
}

/// What the load saw: answers, failures, and every decision reason.
#[derive(Default)]
struct Seen {
    answers: AtomicUsize,
    failures: Mutex<Vec<String>>,
    reasons: Mutex<BTreeSet<String>>,
}

/// GETs from [`CLIENTS`] tasks until `stop`.
fn start_load(
    proxy: &Arc<Proxy>,
    seen: &Arc<Seen>,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..CLIENTS)
        .map(|client| {
            let (proxy, seen, stop) = (proxy.clone(), seen.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let path = format!("/api/invoices/{client}-{n}");
                    match proxy.get_as("acme", &path).send().await {
                        Ok(response) => {
                            let status = response.status();
                            let reason = decided_reason(response.headers());
                            if let Err(e) = response.bytes().await {
                                let failure = format!("{path}: body cut short: {e}");
                                seen.failures.lock().unwrap().push(failure);
                            }
                            seen.answers.fetch_add(1, Ordering::Relaxed);
                            seen.reasons.lock().unwrap().insert(reason.clone());
                            if status != StatusCode::OK {
                                seen.failures
                                    .lock()
                                    .unwrap()
                                    .push(format!("{path}: {status} ({reason})"));
                            }
                        }
                        Err(e) => seen.failures.lock().unwrap().push(format!("{path}: {e}")),
                    }
                }
            })
        })
        .collect()
}

fn decided_reason(headers: &reqwest::header::HeaderMap) -> String {
    let decision = headers
        .get("x-strangler-decision")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    decision
        .split("; ")
        .find_map(|field| field.strip_prefix("reason="))
        .unwrap_or("")
        .to_string()
}

/// The `/admin/health` entry of `service`.
async fn health_of(proxy: &Proxy, service: &str) -> Value {
    let (status, body) = proxy.admin_get("/admin/health").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report: Value = serde_json::from_str(&body).expect("health is JSON");
    let services = report["services"].as_array().expect("services").clone();
    services
        .into_iter()
        .find(|s| s["name"] == service)
        .unwrap_or_else(|| panic!("{service} is not in {body}"))
}

async fn breaker_gauge(proxy: &Proxy, service: &str) -> f64 {
    sample(
        &proxy.metrics().await,
        "strangler_breaker_state",
        &[("service", service)],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_killed_under_load_fails_no_get_and_its_breaker_opens_then_closes() {
    let service = "billing-killed";
    let legacy = Backend::echo("legacy").await;
    let mut billing = Restartable::start("billing").await;
    let proxy = Arc::new(Proxy::start(&guarded(&legacy, service, &billing.url())).await);
    let answer = send(proxy.get_as("acme", "/api/invoices/1")).await;
    assert_eq!(answer.backend(), "billing", "{answer:?}");
    assert_eq!(
        health_of(&proxy, service).await["breaker"]["state"],
        "closed"
    );

    let (seen, stop) = (Arc::new(Seen::default()), Arc::new(AtomicBool::new(false)));
    let load = start_load(&proxy, &seen, &stop);
    eventually(Duration::from_secs(10), "load flowing", || async {
        seen.answers.load(Ordering::Relaxed) > 20
    })
    .await;

    billing.stop();
    eventually(
        Duration::from_secs(10),
        "the breaker open in /admin/health and the gauge",
        || async {
            let health = health_of(&proxy, service).await;
            health["breaker"]["state"] == "open" && breaker_gauge(&proxy, service).await == 2.0
        },
    )
    .await;
    let failed_checks = [("service", service), ("result", "failed")];
    eventually(
        Duration::from_secs(10),
        "a failed health check counted",
        || async {
            sample(
                &proxy.metrics().await,
                "strangler_health_check_total",
                &failed_checks,
            ) >= 1.0
        },
    )
    .await;
    eventually(
        Duration::from_secs(10),
        "requests diverted by the open breaker",
        || async { seen.reasons.lock().unwrap().contains("breaker-open") },
    )
    .await;

    billing.restart().await;
    eventually(
        Duration::from_secs(10),
        "the breaker closed by a probe",
        || async { health_of(&proxy, service).await["breaker"]["state"] == "closed" },
    )
    .await;
    eventually(
        Duration::from_secs(10),
        "traffic back on the service",
        || async {
            send(proxy.get_as("acme", "/api/invoices/2"))
                .await
                .backend()
                == "billing"
        },
    )
    .await;
    assert_eq!(breaker_gauge(&proxy, service).await, 0.0);

    stop.store(true, Ordering::Relaxed);
    for client in load {
        client.await.expect("load client");
    }
    let health = health_of(&proxy, service).await;
    assert!(!health["breaker"]["last_probe"].is_null(), "{health}");
    let failures = seen.failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "failed GETs while the service was down: {failures:?}"
    );
    let reasons = seen.reasons.lock().unwrap();
    assert!(
        reasons.contains("fallback:connect") || reasons.contains("fallback:status"),
        "the fallback covered the requests before the breaker opened: {reasons:?}"
    );
}

/// A route on `service` at 0 % with `qa` pinned to new, the service at `url` behind a
/// breaker that opens on the first failure and stays open for a minute.
fn pinned(legacy: &Backend, service: &str, url: &str, percent: u32) -> Config {
    let entry = format!(
        "{{ url: {url}, breaker: {{ consecutive_failures: 1, open_for: 60s, max_open_for: 60s }} }}"
    );
    Config::new(legacy)
        .service_url(service, entry)
        .routes(&format!(
            r#"
  - name: {service}
    match: {{ path: "/api/invoices/**" }}
    service: {service}
    rollout: {{ percent: {percent}, tenants: {{ qa: new }} }}
"#
        ))
}

/// The breaker protects availability, not the rollout: a tenant pinned to new goes to
/// legacy while its service's breaker is open.
#[tokio::test(flavor = "multi_thread")]
async fn an_open_breaker_diverts_tenants_pinned_to_new_too() {
    let service = "billing-pinned";
    let legacy = Backend::echo("legacy").await;
    let dead = crate::support::backend::closed_port_url();
    let proxy = Proxy::start(&pinned(&legacy, service, &dead, 0)).await;
    let first = send(proxy.get_as("qa", "/api/invoices/7")).await;
    assert_eq!(
        first.decided("reason"),
        Some("fallback:connect"),
        "{first:?}"
    );
    let second = send(proxy.get_as("qa", "/api/invoices/7")).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.backend(), "legacy");
    assert_eq!(
        second.decision(),
        format!("route={service}; side=legacy; reason=breaker-open")
    );
    let labels = [("route", service), ("reason", "breaker-open")];
    eventually(Duration::from_secs(5), "breaker-open counted", || async {
        sample(&proxy.metrics().await, "strangler_fallbacks_total", &labels) >= 1.0
    })
    .await;
}

/// A reload keeps a service's breaker while its URL stays, and starts a new one (closed)
/// when the URL changed.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_resets_a_breaker_only_when_its_service_moved() {
    let service = "billing-reloaded";
    let legacy = Backend::echo("legacy").await;
    let billing = Backend::echo("billing").await;
    let dead = crate::support::backend::closed_port_url();
    let proxy = Proxy::start_unwatched(&pinned(&legacy, service, &dead, 0)).await;
    send(proxy.get_as("qa", "/api/invoices/7")).await;
    let reason = |answer: crate::support::Answer| answer.decided("reason").map(str::to_owned);
    let open = Some("breaker-open".to_owned());
    assert_eq!(
        reason(send(proxy.get_as("qa", "/api/invoices/7")).await),
        open
    );

    proxy.rewrite(&pinned(&legacy, service, &dead, 1));
    assert_eq!(proxy.reload().await.0, StatusCode::OK);
    assert_eq!(health_of(&proxy, service).await["breaker"]["state"], "open");
    assert_eq!(
        reason(send(proxy.get_as("qa", "/api/invoices/7")).await),
        open
    );

    proxy.rewrite(&pinned(&legacy, service, &billing.url(), 1));
    assert_eq!(proxy.reload().await.0, StatusCode::OK);
    let moved = send(proxy.get_as("qa", "/api/invoices/7")).await;
    assert_eq!(moved.backend(), "billing", "{moved:?}");
    assert_eq!(
        health_of(&proxy, service).await["breaker"]["state"],
        "closed"
    );
}

/// Without `health:`, requests are the probes: once `open_for` passed, the next request
/// tries the service, and its success closes the breaker.
#[tokio::test(flavor = "multi_thread")]
async fn without_health_checks_a_request_probe_closes_the_breaker() {
    let service = "billing-probed";
    let legacy = Backend::echo("legacy").await;
    let mut billing = Restartable::start("billing").await;
    billing.stop();
    let entry = format!(
        "{{ url: {}, breaker: {{ consecutive_failures: 1, open_for: 100ms, max_open_for: 400ms }} }}",
        billing.url()
    );
    let config = Config::new(&legacy)
        .service_url(service, entry)
        .routes(&format!(
            r#"
  - name: {service}
    match: {{ path: "/api/invoices/**" }}
    service: {service}
    rollout: {{ percent: 100 }}
"#
        ));
    let proxy = Proxy::start(&config).await;
    let first = send(proxy.get_as("acme", "/api/invoices/1")).await;
    assert_eq!(
        first.decided("reason"),
        Some("fallback:connect"),
        "{first:?}"
    );
    let second = send(proxy.get_as("acme", "/api/invoices/1")).await;
    assert_eq!(second.decided("reason"), Some("breaker-open"), "{second:?}");

    billing.restart().await;
    eventually(
        Duration::from_secs(10),
        "a probe request served by billing",
        || async {
            send(proxy.get_as("acme", "/api/invoices/1"))
                .await
                .backend()
                == "billing"
        },
    )
    .await;
    let breaker = health_of(&proxy, service).await["breaker"].clone();
    assert_eq!(breaker["state"], "closed", "{breaker}");
    assert_eq!(breaker["last_probe"]["kind"], "request", "{breaker}");
    assert_eq!(breaker["last_probe"]["ok"], true, "{breaker}");
    assert_eq!(
        breaker["open_for_ms"], 100,
        "closing resets the backoff: {breaker}"
    );
}
