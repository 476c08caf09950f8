//! The one JSON error responder of the admin listener: every refusal, from the token check
//! to a store that cannot record a change, is `{"error": "..."}` with its status.

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use strangler_control::ControlError;

use crate::live::flag_store::FlagStoreError;

/// `status` with `{"error": message}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// `status` with `{"error": message, "errors": [...]}`: one message for each problem found
/// (a routes.yaml that does not load).
pub(crate) fn errors(status: StatusCode, message: &str, each: &[String]) -> Response {
    (status, Json(json!({ "error": message, "errors": each }))).into_response()
}

/// A body that is not the JSON the endpoint takes, with the status axum chose for it.
pub(crate) fn bad_json(rejection: JsonRejection) -> Response {
    // 415 for a body not sent as JSON; 400 for JSON that does not parse or fit (axum would
    // say 422 for the latter; the API has always said 400 for a body it cannot take).
    let status = match rejection {
        JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        JsonRejection::BytesRejection(ref bytes) => bytes.status(),
        _ => StatusCode::BAD_REQUEST,
    };
    error(
        status,
        &format!("malformed request body: {}", rejection.body_text()),
    )
}

/// 503 while the store cannot be reached or fails (a change was not recorded), else by the
/// store's refusal.
pub(crate) fn store_error(failed: FlagStoreError) -> Response {
    let message = match failed {
        FlagStoreError::Control(
            e @ (ControlError::Database(_)
            | ControlError::StoreFile { .. }
            | ControlError::Connect { .. }),
        ) => format!("the flag store failed: {e}"),
        FlagStoreError::Control(error) => return control_error(error),
        unreachable => unreachable.to_string(),
    };
    error(StatusCode::SERVICE_UNAVAILABLE, &message)
}

/// The status of a change the flag store refused: 404 for no such entry, 409 for a revert
/// that conflicts, 503 for a store that failed, 400 for the rest.
pub(crate) fn control_error(refused: ControlError) -> Response {
    let status = match &refused {
        ControlError::NoSuchEntry(_) => StatusCode::NOT_FOUND,
        ControlError::AlreadyReverted { .. } | ControlError::RevertConflict { .. } => {
            StatusCode::CONFLICT
        }
        ControlError::Corrupt { .. }
        | ControlError::Migrate(_)
        | ControlError::Database(_)
        | ControlError::StoreFile { .. }
        | ControlError::Connect { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    error(status, &refused.to_string())
}
