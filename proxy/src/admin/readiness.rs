//! `GET /admin/readiness`: the readiness report ([`crate::readiness::report`]), which
//! routes' legacy paths can go, as JSON. The answering instance flushes its own counts
//! first, so the report includes its traffic up to now; other instances' counts arrive
//! with their next flush (within a minute). 503 while the store cannot be read.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::admin::reply;
use crate::admin::state::AdminState;

/// The readiness route (the token check of `/admin/*` wraps it in `admin::router`).
pub fn routes() -> Router<AdminState> {
    Router::new().route("/admin/readiness", get(readiness))
}

async fn readiness(State(state): State<AdminState>) -> Response {
    let flusher = &state.readiness;
    // A failed flush keeps its counts for the next one; the report then reads what is stored.
    let _ = flusher.flush().await;
    let file = state.live.current().file.clone();
    let database = match flusher.database().get().await {
        Ok(database) => database,
        Err(error) => return reply::control_error(error),
    };
    match crate::readiness::report::report(database, &file).await {
        Ok(report) => Json(report).into_response(),
        Err(error) => reply::control_error(error),
    }
}
