//! The automatic rollback guard, as on-call sees it: a route at 100 % whose new side starts
//! failing (5xx) or slowing down is sent back to legacy by the proxy itself, the audit log
//! says why (actor `guard`, the figures), a running ramp is paused, a healthy route under
//! the same load is left alone, a fleet writes one entry per trip, and a trip while the
//! flag store is unreachable holds in the process, and across a restart, until the store
//! records it.
//!
//! Metrics are process-wide, so every test uses route names of its own.

use std::time::Duration;

use axum::http::StatusCode as AxumStatus;
use axum::response::IntoResponse;
use axum::Router;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use strangler_control::testing::PostgresDatabase;

use crate::support::metrics::sample;
use crate::support::relay::Relay;
use crate::support::scratch::Scratch;
use crate::support::{eventually, send, Answer, Backend, Config, Proxy};

const TOKEN: &str = "guard-token";
/// Long enough for the window to fill, a tick (1 s) and the store write, on a busy machine.
const TRIP: Duration = Duration::from_secs(15);

/// A new side that answers every request 500 after `delay`, naming itself like the echo
/// backend does.
async fn new_side(status: AxumStatus, delay: Duration) -> Backend {
    let router = Router::new().fallback(move || async move {
        tokio::time::sleep(delay).await;
        (status, [("x-backend", "billing")], "from the new side\n").into_response()
    });
    Backend::serve(router).await
}

async fn failing() -> Backend {
    new_side(AxumStatus::INTERNAL_SERVER_ERROR, Duration::ZERO).await
}

/// A route at 100 % for `/api/{name}/**` served by `service`, with `guard`.
fn route(name: &str, service: &str, guard: &str) -> String {
    format!(
        "  - name: {name}\n    match: {{ path: \"/api/{name}/**\" }}\n    service: {service}\n    \
         rollout: {{ percent: 100 }}\n    guard: {guard}\n"
    )
}

/// A proxy with the admin token, and the backends it forwards to.
struct Guarded {
    proxy: Proxy,
    _backends: Vec<Backend>,
}

impl Guarded {
    async fn start(config: Config, backends: Vec<Backend>) -> Guarded {
        let proxy = Proxy::start_with_admin_token(&config, TOKEN).await;
        Guarded {
            proxy,
            _backends: backends,
        }
    }

    /// An admin call with the token: status and JSON body.
    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.proxy.admin_call(TOKEN, method, path, body).await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.admin(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    /// One request of tenant `acme` to `route`.
    async fn request(&self, route: &str) -> Answer {
        send(self.proxy.get_as("acme", &format!("/api/{route}/1"))).await
    }

    /// Sends requests to `route` until one is answered under the kill switch.
    async fn until_tripped(&self, route: &str) {
        eventually(TRIP, "the guard sends the route to legacy", || async {
            self.request(route).await.decided("reason") == Some("kill-switch")
        })
        .await;
    }

    /// Waits until this instance's trip of `route` is written to the store.
    async fn until_recorded(&self, route: &str) {
        eventually(TRIP, "the trip is recorded", || async {
            self.guard(route).await["state"] == "tripped"
        })
        .await;
    }

    /// `route`'s entry in `/admin/guards`.
    async fn guard(&self, route: &str) -> Value {
        let report = self.get("/admin/guards").await;
        let guards = report["guards"].as_array().cloned().unwrap_or_default();
        let found = guards.into_iter().find(|g| g["route"] == route);
        found.unwrap_or_else(|| panic!("no guard for {route}: {report}"))
    }

    /// The audit entries of `route` written by the guard, newest first.
    async fn guard_entries(&self, route: &str) -> Vec<Value> {
        let audit = self.get(&format!("/admin/audit?route={route}")).await;
        let entries = audit["entries"].as_array().cloned().unwrap_or_default();
        entries
            .into_iter()
            .filter(|e| e["actor"] == "guard")
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_guard_rolls_a_route_back_when_the_new_side_returns_5xx_and_the_audit_says_why() {
    let legacy = Backend::echo("legacy").await;
    let billing = failing().await;
    let guard = "{ max_error_rate: 5%, window: 30s, min_requests: 20 }";
    let config = Config::new(&legacy)
        .service("billing", &billing)
        .routes(&route("guarded-5xx", "billing", guard));
    let g = Guarded::start(config, vec![legacy, billing]).await;
    let first = g.request("guarded-5xx").await;
    assert_eq!(first.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(first.backend(), "billing");

    g.until_tripped("guarded-5xx").await;
    g.until_recorded("guarded-5xx").await;
    for _ in 0..5 {
        let answer = g.request("guarded-5xx").await;
        assert_eq!(answer.status, StatusCode::OK, "legacy answers");
        assert_eq!(answer.backend(), "legacy");
        assert_eq!(answer.decided("reason"), Some("kill-switch"));
    }
    let entries = g.guard_entries("guarded-5xx").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    assert_eq!(entry["change"]["kind"], "guard_trip", "{entry}");
    let breach = &entry["change"]["breach"];
    assert_eq!(breach["exceeded"], json!(["error_rate"]), "{entry}");
    assert_eq!(breach["figures"]["error_rate"], 100.0, "{entry}");
    assert!(
        breach["figures"]["requests"].as_u64() >= Some(20),
        "{entry}"
    );
    let comment = entry["comment"].as_str().unwrap_or_default();
    assert!(
        comment.contains("error rate 100.00% (max 5.00%)"),
        "{comment}"
    );
    assert_eq!(entry["after"]["route"]["killed"], true, "{entry}");

    let report = g.guard("guarded-5xx").await;
    assert_eq!(report["state"], "tripped", "{report}");
    assert_eq!(report["last_trip"]["entry"], entry["id"], "{report}");
    let page = g.proxy.metrics().await;
    let route = [("route", "guarded-5xx")];
    assert_eq!(sample(&page, "strangler_guard_trips_total", &route), 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn clearing_the_kill_switch_restarts_the_window_and_the_guard_watches_again() {
    let legacy = Backend::echo("legacy").await;
    let billing = failing().await;
    let guard = "{ max_error_rate: 5%, window: 30s, min_requests: 20 }";
    let config = Config::new(&legacy)
        .service("billing", &billing)
        .routes(&route("guarded-cleared", "billing", guard));
    let g = Guarded::start(config, vec![legacy, billing]).await;
    g.until_tripped("guarded-cleared").await;
    g.until_recorded("guarded-cleared").await;

    let path = "/admin/routes/guarded-cleared/kill";
    let (status, body) = g.admin(Method::DELETE, path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually(TRIP, "the guard watches again", || async {
        g.guard("guarded-cleared").await["state"] == "watching"
    })
    .await;
    let report = g.guard("guarded-cleared").await;
    assert_eq!(report["figures"]["requests"], 0, "restarted: {report}");
    assert_eq!(g.request("guarded-cleared").await.backend(), "billing");
    g.until_tripped("guarded-cleared").await;
    eventually(TRIP, "the second trip is recorded too", || async {
        g.guard_entries("guarded-cleared").await.len() == 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_new_side_under_the_same_load_never_trips() {
    let legacy = Backend::echo("legacy").await;
    let (healthy, broken) = (Backend::echo("billing").await, failing().await);
    let guard = "{ max_error_rate: 5%, max_p95: 5s, window: 60s, min_requests: 20 }";
    let routes =
        route("guarded-healthy", "healthy", guard) + &route("guarded-broken", "broken", guard);
    let config = Config::new(&legacy)
        .service("healthy", &healthy)
        .service("broken", &broken)
        .routes(&routes);
    let g = Guarded::start(config, vec![legacy, healthy, broken]).await;
    for _ in 0..40 {
        assert_eq!(g.request("guarded-healthy").await.backend(), "billing");
    }
    // The tick that trips the broken route judges the healthy one's 40 requests too.
    g.until_tripped("guarded-broken").await;
    let report = g.guard("guarded-healthy").await;
    assert_eq!(report["state"], "watching", "{report}");
    assert_eq!(report["figures"]["requests"], 40, "{report}");
    assert_eq!(report["figures"]["errors"], 0, "{report}");
    let answer = g.request("guarded-healthy").await;
    assert_eq!(answer.backend(), "billing");
    assert_eq!(
        answer.decided("reason").map(|r| r.starts_with("percent")),
        Some(true)
    );
    assert!(g.guard_entries("guarded-healthy").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_new_side_trips_on_max_p95() {
    let legacy = Backend::echo("legacy").await;
    let slow = new_side(AxumStatus::OK, Duration::from_millis(300)).await;
    let guard = "{ max_p95: 100ms, window: 60s, min_requests: 10 }";
    let config =
        Config::new(&legacy)
            .service("slow", &slow)
            .routes(&route("guarded-slow", "slow", guard));
    let g = Guarded::start(config, vec![legacy, slow]).await;
    eventually(TRIP, "the slow route goes to legacy", || async {
        let batch = (0..10).map(|_| g.request("guarded-slow"));
        let answers = futures::future::join_all(batch).await;
        answers
            .iter()
            .any(|a| a.decided("reason") == Some("kill-switch"))
    })
    .await;
    g.until_recorded("guarded-slow").await;
    let entries = g.guard_entries("guarded-slow").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let breach = &entries[0]["change"]["breach"];
    assert_eq!(breach["exceeded"], json!(["p95"]), "{breach}");
    assert!(breach["figures"]["p95_ms"].as_u64() > Some(100), "{breach}");
    assert_eq!(breach["figures"]["errors"], 0, "{breach}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trip_pauses_the_ramp_and_the_route_stays_on_legacy() {
    let legacy = Backend::echo("legacy").await;
    let billing = failing().await;
    let guard = "{ max_error_rate: 5%, window: 30s, min_requests: 20 }";
    let text = route("guarded-ramp", "billing", guard).replace("percent: 100", "percent: 0");
    let config = Config::new(&legacy)
        .service("billing", &billing)
        .routes(&text);
    let g = Guarded::start(config, vec![legacy, billing]).await;
    let schedule = json!({"schedule": {"steps": [
        {"at": "2020-01-01T00:00:00Z", "percent": 100},
        {"start": "2020-01-01T00:00:00Z", "every": "1h", "step": 10, "until": 100},
    ]}});
    let path = "/admin/routes/guarded-ramp/schedule";
    let (status, body) = g.admin(Method::PUT, path, Some(schedule)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        g.request("guarded-ramp").await.backend(),
        "billing",
        "ramped to 100 %"
    );

    g.until_tripped("guarded-ramp").await;
    g.until_recorded("guarded-ramp").await;
    let routes = g.get("/admin/routes").await;
    let listed = routes["routes"].as_array().cloned().unwrap_or_default();
    let ramp = listed
        .iter()
        .find(|r| r["name"] == "guarded-ramp")
        .expect("listed");
    assert_eq!(ramp["killed"]["value"], true, "{ramp}");
    assert!(ramp["schedule"]["paused_at"].is_string(), "paused: {ramp}");
    for _ in 0..5 {
        let answer = g.request("guarded-ramp").await;
        assert_eq!(answer.backend(), "legacy");
        assert_eq!(answer.decided("reason"), Some("kill-switch"));
    }
    let entries = g.guard_entries("guarded-ramp").await;
    assert_eq!(entries.len(), 1, "one trip, nothing after it: {entries:?}");
    assert!(entries[0]["after"]["route"]["schedule"]["paused_at"].is_string());
}

/// Two instances sharing PostgreSQL, both measuring a failing new side: one entry.
#[tokio::test(flavor = "multi_thread")]
async fn a_fleet_sharing_the_store_writes_one_entry_per_trip() {
    let db = PostgresDatabase::create().await;
    let legacy = Backend::echo("legacy").await;
    let billing = failing().await;
    let guard = "{ max_error_rate: 5%, window: 30s, min_requests: 20 }";
    let config = Config::new(&legacy)
        .service("billing", &billing)
        .routes(&route("guarded-fleet", "billing", guard))
        .store(db.url());
    let one = Guarded::start(config.clone(), vec![legacy, billing]).await;
    let other = Guarded::start(config, vec![]).await;
    eventually(TRIP, "both instances send the route to legacy", || async {
        let (a, b) = tokio::join!(one.request("guarded-fleet"), other.request("guarded-fleet"));
        a.decided("reason") == Some("kill-switch") && b.decided("reason") == Some("kill-switch")
    })
    .await;
    eventually(TRIP, "no trip is left pending", || async {
        one.guard("guarded-fleet").await["state"] != "pending"
            && other.guard("guarded-fleet").await["state"] != "pending"
    })
    .await;
    assert_eq!(one.guard_entries("guarded-fleet").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trip_with_the_store_unreachable_holds_in_the_process_until_the_store_records_it() {
    let db = PostgresDatabase::create().await;
    let (relay, via_relay) = Relay::in_front_of(&db).await;
    let legacy = Backend::echo("legacy").await;
    let billing = failing().await;
    let guard = "{ max_error_rate: 5%, window: 30s, min_requests: 20 }";
    let config = Config::new(&legacy)
        .service("billing", &billing)
        .routes(&route("guarded-outage", "billing", guard))
        .store(&via_relay);
    let g = Guarded::start(config, vec![legacy, billing]).await;
    relay.cut();
    g.until_tripped("guarded-outage").await;
    assert_eq!(g.request("guarded-outage").await.backend(), "legacy");
    let report = g.guard("guarded-outage").await;
    assert_eq!(report["state"], "pending", "{report}");

    relay.restore();
    eventually(
        TRIP,
        "the trip is recorded once the store answers",
        || async { g.guard("guarded-outage").await["state"] == "tripped" },
    )
    .await;
    let entries = g.guard_entries("guarded-outage").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let answer = g.request("guarded-outage").await;
    assert_eq!(answer.backend(), "legacy", "the store's kill switch holds");
}

/// The store is a SQLite file in a directory that does not exist yet: down until created.
#[tokio::test(flavor = "multi_thread")]
async fn a_trip_during_a_store_outage_survives_a_restart_and_is_recorded_once_the_store_is_back() {
    let scratch = Scratch::new();
    let dir = scratch.path().join("not-yet");
    let cache = scratch.path().join("flags-cache.json");
    let legacy = Backend::echo("legacy").await;
    let billing = failing().await;
    let guard = "{ max_error_rate: 5%, window: 30s, min_requests: 20 }";
    let config = Config::new(&legacy)
        .service("billing", &billing)
        .routes(&route("guarded-restart", "billing", guard))
        .store(&format!("sqlite://{}/flags.db", dir.display()))
        .store_cache(&cache);
    let first = Guarded::start(config.clone(), vec![]).await;
    first.until_tripped("guarded-restart").await;
    assert_eq!(first.guard("guarded-restart").await["state"], "pending");
    eventually(TRIP, "the held trip is in the flag cache", || async {
        cached(&cache).contains("guarded-restart")
    })
    .await;
    drop(first);

    let second = Guarded::start(config, vec![legacy, billing]).await;
    let answer = second.request("guarded-restart").await;
    assert_eq!(answer.backend(), "legacy", "killed from the first request");
    assert_eq!(answer.decided("reason"), Some("kill-switch"));
    let report = second.guard("guarded-restart").await;
    assert_eq!(report["state"], "pending", "{report}");
    assert_eq!(
        report["last_trip"]["breach"]["exceeded"],
        json!(["error_rate"])
    );

    std::fs::create_dir_all(&dir).expect("the store's directory");
    second.until_recorded("guarded-restart").await;
    let entries = second.guard_entries("guarded-restart").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["change"]["kind"], "guard_trip", "{entries:?}");
    assert_eq!(entries[0]["after"]["route"]["killed"], true, "{entries:?}");
    let report = second.guard("guarded-restart").await;
    assert_eq!(report["last_trip"]["entry"], entries[0]["id"], "{report}");
    assert_eq!(second.request("guarded-restart").await.backend(), "legacy");
    eventually(TRIP, "the cache lets the recorded trip go", || async {
        !cached(&cache).contains("\"held\"")
    })
    .await;
}

/// The flag cache file's text ("" while there is none).
fn cached(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
