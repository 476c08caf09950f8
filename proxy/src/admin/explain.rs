//! `POST /admin/explain`: where a described request would go now, and why, on the
//! configuration serving (runtime flags included). The console's explain form asks it; the
//! answer is `strangler explain`'s, field for field.

use std::collections::BTreeMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use crate::admin::reply;
use crate::admin::state::AdminState;
use crate::live::explain::{explain, Question};

/// The explain route.
pub fn routes() -> Router<AdminState> {
    Router::new().route("/admin/explain", post(answer))
}

/// A request described in JSON: `{"method": "GET", "path": "/api/x?api=v2", "tenant":
/// "acme", "host": null, "headers": {"X-App": "4"}, "cookies": {"beta": "yes"}}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Described {
    method: Option<String>,
    path: String,
    host: Option<String>,
    tenant: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    cookies: BTreeMap<String, String>,
}

async fn answer(
    State(state): State<AdminState>,
    body: Result<Json<Described>, JsonRejection>,
) -> Response {
    let Json(described) = match body {
        Ok(body) => body,
        Err(rejection) => return reply::bad_json(rejection),
    };
    let loaded = state.live.current();
    if described.tenant.is_some() && loaded.snapshot.verified_tenants() {
        let message = "a tenant cannot stand in for a verified (jwt) tenant: send the token \
                       in its header instead";
        return reply::error(StatusCode::BAD_REQUEST, message);
    }
    let headers: Vec<(String, String)> = described
        .headers
        .into_iter()
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let cookies: Vec<(String, String)> = described.cookies.into_iter().collect();
    let question = Question {
        method: described.method.as_deref().unwrap_or("GET"),
        path: &described.path,
        host: described.host.as_deref().filter(|h| !h.is_empty()),
        tenant: described.tenant.as_deref().filter(|t| !t.is_empty()),
        headers: &headers,
        cookies: &cookies,
    };
    match explain(&loaded.snapshot, &question) {
        Ok(answer) => Json(answer).into_response(),
        Err(refused) => {
            let status =
                StatusCode::from_u16(refused.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            reply::error(status, &refused.to_string())
        }
    }
}
