//! The shadow endpoints of the admin API: `GET /admin/diffs?route=R&since=1h&limit=N`, the
//! per-route report over a window ([`crate::shadow::reports`]), and `GET /admin/diffs/samples/{id}`,
//! one kept sample's two answers side by side. Both read the diff store; until its writer
//! has connected they answer 503.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::admin::reply;
use crate::admin::state::AdminState;
use crate::shadow::reports;

/// The shadow routes (the token check of `/admin/*` wraps them in `admin::router`).
pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/admin/diffs", get(report))
        .route("/admin/diffs/samples/{id}", get(sample))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    route: Option<String>,
    since: Option<String>,
    limit: Option<usize>,
}

async fn report(
    State(state): State<AdminState>,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return reply::error(
            StatusCode::BAD_REQUEST,
            "query parameters are route, since and limit (a number)",
        );
    };
    let since = query.since.as_deref().unwrap_or(reports::DEFAULT_SINCE);
    let since = match reports::parse_since(since) {
        Ok(since) => since,
        Err(message) => return reply::error(StatusCode::BAD_REQUEST, &message),
    };
    let file = state.live.current().file.clone();
    if let Some(route) = query.route.as_deref() {
        if file.route(route).is_none() {
            let message = format!("unknown route {route:?}");
            return reply::error(StatusCode::BAD_REQUEST, &message);
        }
    }
    let Some(store) = state.diffs.get() else {
        return unavailable();
    };
    match reports::report(store, query.route.as_deref(), since, query.limit).await {
        Ok(report) => Json(report).into_response(),
        Err(error) => reply::error(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
    }
}

async fn sample(State(state): State<AdminState>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return reply::error(
            StatusCode::BAD_REQUEST,
            &format!("sample id {id:?} is not a number"),
        );
    };
    let Some(store) = state.diffs.get() else {
        return unavailable();
    };
    match store.sample(id).await {
        Ok(Some(sample)) => Json(reports::SampleView::of(sample)).into_response(),
        Ok(None) => reply::error(StatusCode::NOT_FOUND, &format!("no sample {id}")),
        Err(error) => reply::error(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
    }
}

fn unavailable() -> Response {
    reply::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the diff store is not connected (see the proxy's log)",
    )
}
