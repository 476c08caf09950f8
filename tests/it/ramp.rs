//! Gated ramps, as a release manager sees them: a route climbs its steps by itself on a
//! fake clock while the evidence holds, waits (and says why) while it does not, trips back
//! to legacy on a failing new side with an audit entry, never lowers a route that stood
//! above its first step, and a fleet sharing PostgreSQL records each step once.
//!
//! The evaluator runs on a fake clock (the wall clock plus what the test adds) with a
//! short tick, so a ramp of `every: 1h` advances when the test moves the clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode as AxumStatus;
use axum::response::IntoResponse;
use axum::Router;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use strangler::{RampClock, RampTiming};
use strangler_control::testing::PostgresDatabase;
use time::OffsetDateTime;

use crate::support::webhook::Webhook;
use crate::support::{eventually, send, Backend, Config, Proxy};

const TOKEN: &str = "ramp-token";
/// Long enough for a few ticks and store writes on a busy machine.
const SETTLE: Duration = Duration::from_secs(15);
const HOUR: Duration = Duration::from_secs(3_600);

/// The wall clock plus an offset the test moves.
#[derive(Default)]
struct FakeClock {
    ahead: Mutex<Duration>,
}

impl FakeClock {
    fn advance(&self, by: Duration) {
        *self.ahead.lock().unwrap() += by;
    }
}

impl RampClock for FakeClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + *self.ahead.lock().unwrap()
    }
}

/// A proxy on `config` whose ramps run on `clock`, ticking every 50 ms.
async fn start(config: &Config, clock: &Arc<FakeClock>) -> Proxy {
    let timing = RampTiming {
        clock: clock.clone(),
        tick: Duration::from_millis(50),
    };
    Proxy::start_adjusted(config, TOKEN, move |launch| {
        launch.ramp_timing = timing;
        launch.notify_first_retry = Duration::from_millis(10);
    })
    .await
}

/// A `notify:` section sending `events` (a YAML list) to `hook` as JSON.
fn notify(hook: &Webhook, events: &str) -> String {
    format!(
        "notify:\n  - {{ url: \"{}\", events: {events} }}\n",
        hook.url()
    )
}

/// A route for `/api/{name}/**` at `percent`, tenant `acme` on the new side, with `ramp`.
fn route(name: &str, percent: f64, ramp: &str) -> String {
    format!(
        "  - name: {name}\n    match: {{ path: \"/api/{name}/**\" }}\n    service: billing\n    \
         rollout:\n      percent: {percent}\n      tenants: {{ acme: new }}\n      ramp: {ramp}\n"
    )
}

async fn admin(proxy: &Proxy, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, body) = proxy.admin_call(TOKEN, method, path, body).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// `GET /admin/routes/{route}/ramp`, or Null while there is none yet.
async fn ramp(proxy: &Proxy, route: &str) -> Value {
    let path = format!("/admin/routes/{route}/ramp");
    proxy.admin_call(TOKEN, Method::GET, &path, None).await.1
}

/// Waits until the ramp of `route` satisfies `check`.
async fn until_ramp(proxy: &Proxy, route: &str, what: &str, check: impl Fn(&Value) -> bool) {
    eventually(SETTLE, what, || async { check(&ramp(proxy, route).await) }).await;
}

/// `count` requests of tenant `acme` (on the new side) to `route`.
async fn requests(proxy: &Proxy, route: &str, count: usize) {
    for _ in 0..count {
        let answer = send(proxy.get_as("acme", &format!("/api/{route}/1"))).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
}

/// The audit entries of `route` by the actor `ramp` of `kind`, newest first.
async fn ramp_entries(proxy: &Proxy, route: &str, kind: &str) -> Vec<Value> {
    let audit = admin(
        proxy,
        Method::GET,
        &format!("/admin/audit?route={route}"),
        None,
    )
    .await;
    let entries = audit["entries"].as_array().cloned().unwrap_or_default();
    entries
        .into_iter()
        .filter(|e| e["actor"] == "ramp" && e["change"]["kind"] == kind)
        .collect()
}

/// The effective percent of `route` in `GET /admin/routes`.
async fn percent(proxy: &Proxy, route: &str) -> f64 {
    let routes = admin(
        proxy,
        Method::GET,
        &format!("/admin/routes?route={route}"),
        None,
    )
    .await;
    routes["routes"][0]["percent"]["value"]
        .as_f64()
        .expect("a percent")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ramp_advances_on_the_fake_clock_as_evidence_arrives_and_waits_on_min_requests() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let plan =
        "{ steps: [10, 50, 100], every: 1h, gates: { max_error_rate: 5%, min_requests: 5 } }";
    let config = Config::new(&legacy)
        .service("billing", &billing)
        .routes(&route("ramp-advances", 0.0, plan));
    let clock = Arc::new(FakeClock::default());
    let proxy = start(&config, &clock).await;
    until_ramp(&proxy, "ramp-advances", "the file's ramp starts", |r| {
        r["state"] == "waiting" && r["step"] == 0
    })
    .await;
    assert_eq!(percent(&proxy, "ramp-advances").await, 10.0);
    clock.advance(HOUR);
    until_ramp(
        &proxy,
        "ramp-advances",
        "the step waits for requests",
        |r| r["waiting"] == "min_requests 0 against 5",
    )
    .await;
    requests(&proxy, "ramp-advances", 5).await;
    until_ramp(&proxy, "ramp-advances", "step 1", |r| r["step"] == 1).await;
    assert_eq!(percent(&proxy, "ramp-advances").await, 50.0);
    let waiting = ramp(&proxy, "ramp-advances").await;
    assert!(
        waiting["waiting"]
            .as_str()
            .is_some_and(|w| w.starts_with("every ")),
        "a new step waits for its time first: {waiting}"
    );
    requests(&proxy, "ramp-advances", 5).await;
    clock.advance(HOUR);
    until_ramp(&proxy, "ramp-advances", "the last step", |r| {
        r["state"] == "done"
    })
    .await;
    assert_eq!(percent(&proxy, "ramp-advances").await, 100.0);
    let advances = ramp_entries(&proxy, "ramp-advances", "advance_ramp").await;
    assert_eq!(advances.len(), 2, "{advances:?}");
    assert!(advances[0]["comment"]
        .as_str()
        .unwrap_or("")
        .contains("5 requests"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ramp_started_above_its_first_step_never_lowers_the_percent() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let plan = "{ steps: [10, 25, 50], every: 1h, gates: { min_requests: 1 } }";
    let config = Config::new(&legacy)
        .service("billing", &billing)
        .routes(&route("ramp-above", 30.0, plan));
    let clock = Arc::new(FakeClock::default());
    let proxy = start(&config, &clock).await;
    until_ramp(&proxy, "ramp-above", "the ramp starts", |r| {
        r["state"] == "waiting"
    })
    .await;
    assert_eq!(percent(&proxy, "ramp-above").await, 30.0, "not 10");
    requests(&proxy, "ramp-above", 1).await;
    clock.advance(HOUR);
    until_ramp(&proxy, "ramp-above", "the ramp advances", |r| {
        r["state"] == "done"
    })
    .await;
    assert_eq!(percent(&proxy, "ramp-above").await, 50.0);
    let advances = ramp_entries(&proxy, "ramp-above", "advance_ramp").await;
    assert_eq!(advances.len(), 1, "25 % is skipped: {advances:?}");
    assert_eq!(advances[0]["change"]["to"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_step_trips_the_route_back_to_legacy_and_pauses_the_ramp_with_an_audit_entry() {
    let legacy = Backend::echo("legacy").await;
    let router = Router::new()
        .fallback(|| async { (AxumStatus::INTERNAL_SERVER_ERROR, "failing\n").into_response() });
    let billing = Backend::serve(router).await;
    let plan = "{ steps: [10, 100], every: 1h, gates: { max_error_rate: 5%, min_requests: 4 } }";
    let hook = Webhook::start(0).await;
    let config = Config::new(&legacy)
        .service("billing", &billing)
        .routes(&route("ramp-trips", 0.0, plan))
        .section(&notify(&hook, "[guard-trip]"));
    let clock = Arc::new(FakeClock::default());
    let proxy = start(&config, &clock).await;
    until_ramp(&proxy, "ramp-trips", "the ramp starts", |r| {
        r["state"] == "waiting"
    })
    .await;
    for _ in 0..4 {
        send(proxy.get_as("acme", "/api/ramp-trips/1")).await;
    }
    until_ramp(&proxy, "ramp-trips", "the ramp is paused", |r| {
        r["state"] == "paused"
    })
    .await;
    let answer = send(proxy.get_as("acme", "/api/ramp-trips/1")).await;
    assert_eq!(answer.decided("reason"), Some("kill-switch"));
    let trips = ramp_entries(&proxy, "ramp-trips", "guard_trip").await;
    assert_eq!(trips.len(), 1, "{trips:?}");
    let comment = trips[0]["comment"].as_str().unwrap_or("");
    assert!(
        comment.contains("ramp gate failed") && comment.contains("4 errors of 4 requests"),
        "{comment}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_on_postgresql_sum_their_evidence_and_record_each_step_once() {
    let db = PostgresDatabase::create().await;
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let plan = "{ steps: [10, 50, 100], every: 1h, gates: { min_requests: 6 } }";
    let config = Config::new(&legacy)
        .service("billing", &billing)
        .routes(&route("ramp-fleet", 0.0, plan))
        .store(db.url());
    let clock = Arc::new(FakeClock::default());
    let (one, other) = (start(&config, &clock).await, start(&config, &clock).await);
    // Each instance counts from its first tick that sees the ramp (its status says so).
    for proxy in [&one, &other] {
        until_ramp(proxy, "ramp-fleet", "the ramp runs", |r| {
            r["state"] == "waiting"
        })
        .await;
    }
    clock.advance(HOUR);
    requests(&one, "ramp-fleet", 3).await;
    requests(&other, "ramp-fleet", 3).await;
    until_ramp(&one, "ramp-fleet", "step 1 on one", |r| r["step"] == 1).await;
    until_ramp(&other, "ramp-fleet", "step 1 on the other", |r| {
        r["step"] == 1
    })
    .await;
    requests(&other, "ramp-fleet", 6).await;
    clock.advance(HOUR);
    until_ramp(&one, "ramp-fleet", "the last step", |r| {
        r["state"] == "done"
    })
    .await;
    assert_eq!(ramp_entries(&one, "ramp-fleet", "set_ramp").await.len(), 1);
    let advances = ramp_entries(&other, "ramp-fleet", "advance_ramp").await;
    assert_eq!(advances.len(), 2, "one entry per step: {advances:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shadowed_step_waits_on_min_match_rate_while_the_sides_answer_differently() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let plan = "{ steps: [10, 100], every: 1h, gates: { min_requests: 3, min_match_rate: 99%, \
                min_comparisons: 3 } }";
    let routes = format!("{}    shadow: {{}}\n", route("ramp-shadowed", 0.0, plan));
    let config = Config::new(&legacy)
        .service("billing", &billing)
        .routes(&routes);
    let clock = Arc::new(FakeClock::default());
    let proxy = start(&config, &clock).await;
    until_ramp(&proxy, "ramp-shadowed", "the ramp starts", |r| {
        r["state"] == "waiting"
    })
    .await;
    requests(&proxy, "ramp-shadowed", 4).await;
    clock.advance(HOUR);
    until_ramp(
        &proxy,
        "ramp-shadowed",
        "the step waits on the match rate",
        |r| {
            r["waiting"]
                .as_str()
                .is_some_and(|w| w.starts_with("min_match_rate 0.00% against 99.00%"))
        },
    )
    .await;
    let step = ramp(&proxy, "ramp-shadowed").await;
    assert_eq!(step["step"], 0, "{step}");
    assert!(
        step["evidence"]["comparisons"].as_u64() >= Some(3),
        "{step}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_api_starts_pauses_resumes_and_force_advances_a_ramp_and_refuses_a_bad_one() {
    let (legacy, billing) = (
        Backend::echo("legacy").await,
        Backend::echo("billing").await,
    );
    let routes =
        "  - name: ramp-api\n    match: { path: \"/api/ramp-api/**\" }\n    service: billing\n";
    let config = Config::new(&legacy)
        .service("billing", &billing)
        .routes(routes);
    let clock = Arc::new(FakeClock::default());
    let proxy = start(&config, &clock).await;
    let path = "/admin/routes/ramp-api/ramp";
    let call = |method: Method, path: &'static str, body: Option<Value>| {
        let proxy = &proxy;
        async move { proxy.admin_call(TOKEN, method, path, body).await }
    };
    let (status, body) = call(
        Method::PUT,
        path,
        Some(serde_json::json!({
            "steps": [50, 10], "every": "1h", "gatez": {}
        })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = call(
        Method::PUT,
        path,
        Some(serde_json::json!({
            "steps": [50, 10], "every": "1h"
        })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("strictly ascending"),
        "{body}"
    );
    let plan = serde_json::json!({
        "steps": [10, 50, 100], "every": "1h", "gates": { "min_requests": 1000 }, "comment": "go"
    });
    assert_eq!(call(Method::PUT, path, Some(plan)).await.0, StatusCode::OK);
    until_ramp(&proxy, "ramp-api", "the ramp runs", |r| {
        r["state"] == "waiting"
    })
    .await;
    assert_eq!(percent(&proxy, "ramp-api").await, 10.0);
    let advance = "/admin/routes/ramp-api/ramp/advance";
    assert_eq!(
        call(Method::POST, advance, None).await.0,
        StatusCode::BAD_REQUEST,
        "no force"
    );
    let forced = serde_json::json!({ "force": true, "comment": "enough" });
    let (status, body) = call(Method::POST, advance, Some(forced)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["audit"]["change"]["forced"], true, "{body}");
    assert_eq!(percent(&proxy, "ramp-api").await, 50.0);
    assert_eq!(
        call(Method::POST, "/admin/routes/ramp-api/ramp/pause", None)
            .await
            .0,
        StatusCode::OK
    );
    until_ramp(&proxy, "ramp-api", "paused", |r| r["state"] == "paused").await;
    assert_eq!(
        call(Method::POST, "/admin/routes/ramp-api/ramp/resume", None)
            .await
            .0,
        StatusCode::OK
    );
    until_ramp(&proxy, "ramp-api", "running again", |r| {
        r["state"] == "waiting" && r["step"] == 1
    })
    .await;
}
