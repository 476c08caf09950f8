//! The admin listener: `/healthz`, `/readyz`, `/metrics`, `/admin/config` and
//! `/admin/reload`. It binds to localhost unless routes.yaml says otherwise.
//!
//! Everything under `/admin/` needs `Authorization: Bearer <token>` when the environment sets
//! `STRANGLER_ADMIN_TOKEN` (health and metrics stay open for probes and scrapers); without a
//! token the proxy refuses to start with a non-loopback admin address, so an open admin
//! port is never an accident.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::live::LiveConfig;

/// The environment variable holding the admin write token.
pub const TOKEN_ENV: &str = "STRANGLER_ADMIN_TOKEN";

/// What the admin handlers share.
#[derive(Clone)]
pub struct AdminState {
    /// The configuration to show and reload.
    pub live: Arc<LiveConfig>,
    /// False until the proxy listener accepts, and again while draining on shutdown.
    pub ready: Arc<AtomicBool>,
    /// The bearer token writes need, if configured.
    pub token: Option<Arc<str>>,
    /// The runtime flag store, when connected.
    pub flags: Option<Arc<crate::flag_store::FlagStore>>,
}

/// The admin routes.
pub fn router(state: AdminState) -> Router {
    let admin = Router::new()
        .route("/admin/config", get(config))
        .route("/admin/reload", post(reload))
        .merge(crate::admin_flags::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(admin)
        .with_state(state)
}

/// Answers 401 unless the request carries the configured token (if any).
async fn require_token(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    if authorized(&state, request.headers()) {
        next.run(request).await
    } else {
        unauthorized()
    }
}

async fn readyz(State(state): State<AdminState>) -> Response {
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

async fn metrics() -> Response {
    let body = crate::telemetry::prometheus().render();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
        .into_response()
}

/// The revision serving now and a summary of every route.
async fn config(State(state): State<AdminState>) -> Json<serde_json::Value> {
    let loaded = state.live.current();
    let routes: Vec<_> = loaded
        .snapshot
        .routes()
        .iter()
        .map(|route| {
            json!({
                "name": &*route.name,
                "path": route.pattern(),
                "methods": route.methods(),
                "host": route.host(),
                "service": &*route.service,
                "salt": route.salt(),
                "percent": f64::from(route.percent_basis_points()) / 100.0,
                "tenant_overrides": route.tenant_overrides().count(),
                "killed": route.killed(),
            })
        })
        .collect();
    let loaded_at = loaded
        .loaded_at
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Json(json!({
        "revision": loaded.revision,
        "source": state.live.path().display().to_string(),
        "loaded_at_unix": loaded_at.as_secs(),
        "routes": routes,
    }))
}

/// Reloads routes.yaml now: 200 with the revision, or 400 with every error (old config kept).
async fn reload(State(state): State<AdminState>) -> Response {
    let live = state.live.clone();
    let outcome = tokio::task::spawn_blocking(move || live.reload("admin")).await;
    match outcome {
        Ok(Ok(outcome)) => Json(outcome).into_response(),
        Ok(Err(errors)) => {
            let messages: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
            let body = json!({ "error": errors.to_string(), "errors": messages });
            (StatusCode::BAD_REQUEST, Json(body)).into_response()
        }
        Err(join) => (StatusCode::INTERNAL_SERVER_ERROR, join.to_string()).into_response(),
    }
}

/// True when no token is configured or the request presents it.
fn authorized(state: &AdminState, headers: &HeaderMap) -> bool {
    let Some(token) = &state.token else {
        return true;
    };
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    presented.is_some_and(|p| constant_time_eq(p.as_bytes(), token.as_bytes()))
}

fn unauthorized() -> Response {
    let body = Json(json!({ "error": "a valid admin bearer token is required" }));
    (StatusCode::UNAUTHORIZED, body).into_response()
}

/// Compares without an early exit, so response time does not leak the token's prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
