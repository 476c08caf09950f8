//! The effective flags read back: `GET /admin/routes` (every route's kill switch, percent,
//! tenant sides and shadow sample, each with its source) and `GET
//! /admin/routes/{route}/tenants` (a searched page of one route's tenant sides). The
//! changes are [`crate::admin::flags`]'.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use strangler_control::{fold, fold_counted, FileRoute};
use time::OffsetDateTime;

use crate::admin::reply;
use crate::admin::state::AdminState;

/// The read routes (under the `/admin/*` token check like the others).
pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/admin/routes", get(list))
        .route("/admin/routes/{route}/tenants", get(list_tenants))
}

/// `GET /admin/routes?route=R&tenants=count`: one route only; tenant overrides counted
/// rather than listed (a route may have 100,000 of them).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    route: Option<String>,
    tenants: Option<TenantsShown>,
}

#[derive(Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum TenantsShown {
    List,
    Count,
}

/// Every route's effective flags, each value with its source.
async fn list(
    State(state): State<AdminState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        let message = "query parameters are route and tenants (list or count)";
        return reply::error(StatusCode::BAD_REQUEST, message);
    };
    let loaded = state.live.current();
    let overrides = state.live.overrides();
    let now = OffsetDateTime::now_utc();
    let counted = query.tenants == Some(TenantsShown::Count);
    let routes: Vec<_> = loaded
        .file
        .routes()
        .iter()
        .filter(|route| {
            query
                .route
                .as_deref()
                .is_none_or(|name| route.name() == name)
        })
        .map(|route| {
            let file = FileRoute::from_route(route);
            let (effective, tenants) = match counted {
                true => {
                    let (effective, count) = fold_counted(&file, &overrides, route.name(), now);
                    (effective, json!(count))
                }
                false => {
                    let effective = fold(&file, &overrides, route.name(), now);
                    let tenants = json!(effective.tenants);
                    (effective, tenants)
                }
            };
            json!({
                "name": route.name(),
                "service": route.service(),
                "path": route.pattern(),
                "killed": effective.killed,
                "percent": effective.percent,
                "tenants": tenants,
                "shadow_sample": effective.shadow_sample,
                "schedule": overrides.routes.get(route.name()).and_then(|r| r.schedule.as_ref()),
                "ramp": state.ramps.status(route.name()),
            })
        })
        .collect();
    let body = json!({
        "revision": loaded.revision,
        "flag_store": state.flags.health().report(),
        "global_kill": overrides.global_kill,
        "routes": routes,
    });
    Json(body).into_response()
}

/// `GET /admin/routes/{route}/tenants?search=acme&limit=200`: a page of a route's tenant
/// overrides (file and runtime), in tenant order, those containing `search` only; with the
/// total and the number matching, so a route with 100,000 overrides stays browsable.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantsQuery {
    search: Option<String>,
    limit: Option<usize>,
}

/// The most overrides one page lists.
const TENANT_PAGE: usize = 200;

async fn list_tenants(
    State(state): State<AdminState>,
    Path(route): Path<String>,
    query: Result<Query<TenantsQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return reply::error(
            StatusCode::BAD_REQUEST,
            "query parameters are search and limit",
        );
    };
    let loaded = state.live.current();
    let Some(file_route) = loaded.file.routes().iter().find(|r| r.name() == route) else {
        return reply::error(StatusCode::NOT_FOUND, &format!("no route named {route:?}"));
    };
    let overrides = state.live.overrides();
    let now = OffsetDateTime::now_utc();
    let effective = fold(&FileRoute::from_route(file_route), &overrides, &route, now);
    let search = query.search.unwrap_or_default().to_ascii_lowercase();
    let limit = query.limit.unwrap_or(TENANT_PAGE).min(TENANT_PAGE * 10);
    let mut matching = effective
        .tenants
        .iter()
        .filter(|(tenant, _)| search.is_empty() || tenant.to_ascii_lowercase().contains(&search));
    let page: Vec<_> = matching
        .by_ref()
        .take(limit)
        .map(|(tenant, side)| {
            // `{"value": "new", "source": "runtime"}`, as /admin/routes shows it, with the tenant.
            let mut entry = json!(side);
            entry["tenant"] = json!(tenant);
            entry
        })
        .collect();
    let matched = page.len() + matching.count();
    Json(json!({ "total": effective.tenants.len(), "matching": matched, "tenants": page }))
        .into_response()
}
