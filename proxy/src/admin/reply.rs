//! The one JSON error responder of the admin listener: every refusal, from the token check
//! to a store that cannot record a change, is `{"error": "..."}` with its status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// `status` with `{"error": message}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// `status` with `{"error": message, "errors": [...]}`: one message for each problem found
/// (a routes.yaml that does not load).
pub(crate) fn errors(status: StatusCode, message: &str, each: &[String]) -> Response {
    (status, Json(json!({ "error": message, "errors": each }))).into_response()
}
