//! `GET /admin/export`: routes.yaml with the runtime flags folded in
//! ([`crate::live::export`]), what `strangler flags export` prints.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::admin::reply;
use crate::admin::state::AdminState;

/// The export route (under the `/admin/*` token check like the others).
pub fn routes() -> Router<AdminState> {
    Router::new().route("/admin/export", get(export))
}

/// routes.yaml with the runtime percentages, tenant sides and shadow samples folded in,
/// for teams that commit their flags (GitOps): `{"yaml": "..."}`. Comments of the file are
/// not kept; what routes.yaml cannot express (kill switches, a running schedule) is named
/// in a comment at the top.
async fn export(State(state): State<AdminState>) -> Response {
    // A file read on the admin runtime's thread would stall every other admin request
    // behind a slow disk (a network volume): it runs on the blocking pool.
    let path = state.live.path().to_path_buf();
    let read = tokio::task::spawn_blocking(move || std::fs::read_to_string(path)).await;
    let text = match read {
        Ok(Ok(text)) => text,
        Ok(Err(e)) => {
            return reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("reading routes.yaml: {e}"),
            )
        }
        Err(join) => return reply::error(StatusCode::INTERNAL_SERVER_ERROR, &join.to_string()),
    };
    match crate::live::export::fold_into_yaml(
        &text,
        &state.live.current().file,
        &state.live.overrides(),
    ) {
        Ok(yaml) => Json(json!({ "yaml": yaml })).into_response(),
        Err(e) => reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("exporting routes.yaml: {e}"),
        ),
    }
}
