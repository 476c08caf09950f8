//! Notifications as a receiver sees them: a kill switch turned on and off through the
//! admin API reaches a `notify:` receiver that fails five times first exactly once per
//! event, signed with HMAC-SHA256 of the body, counted in `strangler_notifications_total`
//! and with the failures in `/admin/health`.

use std::sync::Once;
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use sha2::Sha256;

use crate::support::metrics::sample;
use crate::support::webhook::Webhook;
use crate::support::{eventually, Backend, Config, Proxy};

const TOKEN: &str = "notify-token";
const SECRET_ENV: &str = "STRANGLER_TEST_NOTIFY_SECRET";
const SECRET: &str = "a notification secret";

/// Sets the secret once for the whole test binary (the value never changes).
fn secret() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::env::set_var(SECRET_ENV, SECRET));
}

/// `sha256=` and the hex HMAC-SHA256 of `body` under [`SECRET`], computed here.
fn expected_signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_failing_five_times_gets_each_event_once_signed_after_the_retries() {
    secret();
    let hook = Webhook::start(5).await;
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let notify = format!(
        "notify:\n  - {{ url: \"{}\", format: json, events: [kill, unkill], secret_env: {SECRET_ENV} }}\n",
        hook.url()
    );
    let config = Config::new(&legacy)
        .service("billing", &billing)
        .routes(
            "  - name: notified\n    match: { path: \"/api/notified/**\" }\n    service: billing\n",
        )
        .section(&notify);
    let proxy = Proxy::start_adjusted(&config, TOKEN, |launch| {
        launch.notify_first_retry = Duration::from_millis(10);
    })
    .await;
    for method in [Method::POST, Method::DELETE] {
        let path = "/admin/routes/notified/kill";
        let (status, body) = proxy.admin_call(TOKEN, method, path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    eventually(Duration::from_secs(15), "both events delivered", || async {
        hook.accepted().len() >= 2
    })
    .await;
    let accepted = hook.accepted();
    let mut events: Vec<String> = accepted
        .iter()
        .map(|r| r.json()["event"].to_string())
        .collect();
    events.sort();
    assert_eq!(events, ["\"kill\"", "\"unkill\""], "one delivery per event");
    for delivery in &accepted {
        let body = delivery.json();
        assert_eq!(body["schema"], "strangler.notification/1");
        assert_eq!(body["route"], "notified");
        assert!(
            body["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("audit-")),
            "{body}"
        );
        let signature = delivery.header("x-strangler-signature");
        assert_eq!(signature, Some(expected_signature(&delivery.body).as_str()));
    }
    assert_eq!(
        hook.received().len(),
        7,
        "five failed tries, two deliveries"
    );
    // The receiver records a post before its answer reaches the proxy, which counts then.
    let counted = |metrics: &str, result: &str| {
        let sum = |event| {
            sample(
                metrics,
                "strangler_notifications_total",
                &[("event", event), ("result", result)],
            )
        };
        sum("kill") + sum("unkill")
    };
    eventually(
        Duration::from_secs(5),
        "both deliveries counted",
        || async { counted(&proxy.metrics().await, "delivered") == 2.0 },
    )
    .await;
    assert_eq!(counted(&proxy.metrics().await, "failed"), 5.0);
    let (_, health) = proxy
        .admin_call(TOKEN, Method::GET, "/admin/health", None)
        .await;
    let failures = health["notifications"]["last_failures"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(failures.len(), 5, "{health}");
    assert!(
        failures[0]["error"].as_str().unwrap_or("").contains("500"),
        "{health}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_event_is_a_load_error_with_its_location() {
    let legacy = Backend::echo("legacy").await;
    let config = Config::new(&legacy)
        .section("notify:\n  - { url: \"http://127.0.0.1:9/hook\", events: [kill, explode] }\n");
    let error = Proxy::refused(&config).await;
    assert!(error.contains("unknown event \"explode\""), "{error}");
    assert!(error.contains("routes.yaml:"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_reload_is_notified_with_its_errors() {
    let hook = Webhook::start(0).await;
    let legacy = Backend::echo("legacy").await;
    let notify = format!(
        "notify:\n  - {{ url: \"{}\", events: [reload-error] }}\n",
        hook.url()
    );
    let config = Config::new(&legacy).section(&notify);
    let proxy = Proxy::start_unwatched(&config).await;
    proxy.rewrite_text(&format!("{}\nthreads: 0\n", config.render()));
    let (status, _) = proxy.reload().await;
    assert_ne!(status, StatusCode::OK);
    eventually(Duration::from_secs(10), "the notification", || async {
        !hook.accepted().is_empty()
    })
    .await;
    let notice = hook.accepted()[0].json();
    assert_eq!(notice["event"], "reload-error");
    assert!(
        notice["details"]["errors"]
            .as_str()
            .unwrap_or("")
            .contains("threads"),
        "{notice}"
    );
}
