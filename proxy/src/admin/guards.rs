//! `GET /admin/guards`: every guarded route's rollback guard as this instance sees it:
//! its state (`watching`, `tripped`, `pending`, `killed`), thresholds, the live figures of
//! its window and its last trip (figures and audit entry). Reads only; under the admin
//! token like every `/admin/*` endpoint.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::admin::state::AdminState;

/// The guard routes (the token check of `/admin/*` wraps them in `admin::router`).
pub fn routes() -> Router<AdminState> {
    Router::new().route("/admin/guards", get(list))
}

async fn list(State(state): State<AdminState>) -> Json<serde_json::Value> {
    Json(state.guards.report())
}
