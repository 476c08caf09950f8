//! `GET /admin/health`: every new service with its breaker (state, failures in a row, error
//! rate in the window, the open period in force, the last and next probe) and its last
//! active health check. Services without `breaker:` or `health:` are listed with
//! `"breaker": null`; then the last failed deliveries of notifications. Behind the admin
//! token, like every `/admin/` endpoint.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::admin::state::AdminState;
use crate::resilience::service_health::ServiceBreaker;

/// The health routes.
pub fn routes() -> Router<AdminState> {
    Router::new().route("/admin/health", get(health))
}

async fn health(State(state): State<AdminState>) -> Json<Value> {
    let file = state.live.current().file.clone();
    let board = state.health.board_for(&file);
    let services: Vec<Value> = file
        .services()
        .iter()
        .enumerate()
        .map(|(index, upstream)| {
            let guarded = board.services.get(index).and_then(Option::as_ref);
            json!({
                "name": &*upstream.name,
                "addr": upstream.addr.to_string(),
                "health_path": file.service_policy(index).health.as_ref().map(|h| &*h.path),
                "breaker": guarded.map(|g| breaker(g)),
            })
        })
        .collect();
    let failures = state.live.notifier().failures();
    Json(json!({ "services": services, "notifications": { "last_failures": failures } }))
}

/// One breaker as JSON.
fn breaker(guarded: &ServiceBreaker) -> Value {
    let now = Instant::now();
    let breaker = &guarded.breaker;
    let (requests, failed) = breaker.window(now);
    let error_rate = match requests {
        0 => 0.0,
        _ => f64::from(failed) * 100.0 / f64::from(requests),
    };
    let last_probe = breaker.last_probe().map(
        |probe| json!({ "at_unix_ms": unix_ms(probe.at), "ok": probe.ok, "kind": probe.kind }),
    );
    let last_check = guarded
        .last_check()
        .map(|(at, ok)| json!({ "at_unix_ms": unix_ms(at), "ok": ok }));
    json!({
        "state": breaker.state().code(),
        "consecutive_failures": breaker.consecutive_failures(),
        "window_requests": requests,
        "window_failures": failed,
        "error_rate_percent": error_rate,
        "open_for_ms": breaker.open_for().as_millis() as u64,
        "next_probe_in_ms": breaker.next_probe_in(now).map(|d| d.as_millis() as u64),
        "last_probe": last_probe,
        "last_check": last_check,
    })
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
