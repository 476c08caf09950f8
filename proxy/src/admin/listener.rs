//! The admin listener's routes: `/healthz`, `/readyz`, `/metrics`, `/admin/config`,
//! `/admin/version` and `/admin/reload` here, and the endpoint families of the sibling modules. It binds to
//! localhost unless routes.yaml says otherwise.
//!
//! Everything under `/admin/` needs `Authorization: Bearer <token>` once any admin token is
//! configured (see [`crate::admin::tokens`]; health and metrics stay open for probes and scrapers):
//! a `read` token may `GET`, a `write` token may also change. Without any token the proxy
//! refuses to start with a non-loopback admin address, so an open admin port is never an
//! accident, and flag changes are refused.

use std::sync::atomic::Ordering;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::admin::reply;
use crate::admin::state::AdminState;
use crate::admin::tokens::{Actor, Scope};

/// The admin routes.
pub fn router(state: AdminState) -> Router {
    let admin = Router::new()
        .route("/admin/config", get(config))
        .route(
            "/admin/version",
            get(|| async { Json(crate::telemetry::build_info::report()) }),
        )
        .route("/admin/reload", post(reload))
        .route("/admin/whoami", get(whoami))
        .merge(crate::admin::flags::routes())
        .merge(crate::admin::ramp::routes())
        .merge(crate::admin::export::routes())
        .merge(crate::admin::diffs::routes())
        .merge(crate::admin::guards::routes())
        .merge(crate::admin::health::routes())
        .merge(crate::admin::explain::routes())
        .merge(crate::admin::audit::routes())
        .merge(crate::admin::effective::routes())
        .merge(crate::admin::readiness::routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(admin)
        .merge(crate::admin::console::routes())
        .fallback(|| async { reply::error(StatusCode::NOT_FOUND, "no such admin endpoint") })
        .method_not_allowed_fallback(|| async {
            reply::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "this endpoint does not take that method",
            )
        })
        .with_state(state)
}

/// Answers 401 unless the request carries a configured token (when any is), 403 when a
/// read token asks to change something; records who asked for the handlers.
async fn require_token(
    State(state): State<AdminState>,
    mut request: Request,
    next: Next,
) -> Response {
    if state.tokens.is_empty() {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = presented.and_then(|p| crate::admin::tokens::find(&state.tokens, p)) else {
        return reply::error(
            StatusCode::UNAUTHORIZED,
            "a valid admin bearer token is required",
        );
    };
    let reads = matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    if token.scope == Scope::Read && !reads {
        return reply::error(StatusCode::FORBIDDEN, "this token may only read");
    }
    request.extensions_mut().insert(Actor {
        name: token.name.clone(),
        scope: token.scope,
    });
    next.run(request).await
}

/// Who the presented token is and what it may do: the console enables its controls by
/// it. Without any token configured nobody may change flags (see the module's doc).
async fn whoami(
    State(state): State<AdminState>,
    actor: Option<axum::Extension<Actor>>,
) -> Json<serde_json::Value> {
    let scope = actor.as_ref().map(|a| match a.scope {
        Scope::Read => "read",
        Scope::Write => "write",
    });
    Json(json!({
        "name": actor.as_ref().map(|a| a.name.as_str()),
        "scope": scope.unwrap_or("read"),
        "tokens_configured": !state.tokens.is_empty(),
        "may_change": scope == Some("write"),
    }))
}

/// 200 while serving, 503 while starting or draining (the listener stays up for the whole
/// drain, so probes see the 503 rather than a refused connection). An unreachable flag store does not
/// make the instance unready (it serves on the last flags it has); the body's second line
/// says how the store is (`crate::live::flag_health`).
async fn readyz(State(state): State<AdminState>) -> Response {
    let store = state.flags.health().summary();
    if state.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, format!("ready\n{store}\n")).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready\n{store}\n"),
        )
            .into_response()
    }
}

async fn metrics() -> Response {
    let body = crate::telemetry::metrics::prometheus().render();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
        .into_response()
}

/// The revision serving now, the flag store's health and a summary of every route.
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
        "flag_store": state.flags.health().report(),
        "routes": routes,
        "limits": crate::request::limits::admin_report(loaded.snapshot.limits(), &state.rate_limiter),
        "lifecycle": *state.lifecycle,
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
            reply::errors(StatusCode::BAD_REQUEST, &errors.to_string(), &messages)
        }
        Err(join) => reply::error(StatusCode::INTERNAL_SERVER_ERROR, &join.to_string()),
    }
}
