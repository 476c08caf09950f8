//! The flag changes of the admin API: runtime percent, tenant sides, kill switches,
//! schedules, shadow samples, and revert. Every change is one audited transaction in the
//! flag store. Reading the flags back is [`crate::admin::effective`]'s, the audit log
//! [`crate::admin::audit`]'s.
//!
//! Changes need the admin token, always: without `STRANGLER_ADMIN_TOKEN` they are refused
//! with 401. Malformed JSON, an unknown route, an out-of-range percent or a bad tenant id
//! get 400 with a message naming the problem, and nothing changes.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post, put};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;
use strangler_control::{Change, ControlError, Schedule};
use strangler_flags::Side;

use crate::admin::body::OptionalJson;
use crate::admin::reply;
use crate::admin::state::AdminState;
use crate::admin::tokens::Actor;
use crate::live::flag_store::FlagStoreError;

/// The flag routes (the token check of `/admin/*` wraps them in `admin::router`).
pub fn routes() -> Router<AdminState> {
    Router::new()
        .route(
            "/admin/routes/{route}/percent",
            put(set_percent).delete(route_change(|route| Change::ClearPercent { route })),
        )
        .route(
            "/admin/routes/{route}/shadow",
            put(set_shadow_sample)
                .delete(route_change(|route| Change::ClearShadowSample { route })),
        )
        .route(
            "/admin/routes/{route}/tenants",
            put(set_tenants).delete(clear_tenants),
        )
        .route(
            "/admin/routes/{route}/tenants/{tenant}",
            delete(clear_tenant),
        )
        .route(
            "/admin/routes/{route}/kill",
            post(route_change(|route| Change::Kill { route }))
                .delete(route_change(|route| Change::Unkill { route })),
        )
        .route("/admin/kill", post(kill_all).delete(unkill_all))
        .route(
            "/admin/routes/{route}/schedule",
            put(set_schedule).delete(route_change(|route| Change::ClearSchedule { route })),
        )
        .route(
            "/admin/routes/{route}/schedule/pause",
            post(route_change(|route| Change::PauseSchedule { route })),
        )
        .route(
            "/admin/routes/{route}/schedule/resume",
            post(route_change(|route| Change::ResumeSchedule { route })),
        )
        .route("/admin/audit/{id}/revert", post(revert))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PercentBody {
    percent: f64,
    comment: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShadowBody {
    sample: f64,
    comment: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantsBody {
    tenants: BTreeMap<String, Side>,
    comment: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleBody {
    schedule: Schedule,
    comment: Option<String>,
}

/// An optional body carrying only a comment (kill switches, clears, revert).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct CommentBody {
    comment: Option<String>,
}

async fn set_percent(
    state: State<AdminState>,
    actor: Option<Extension<Actor>>,
    Path(route): Path<String>,
    body: Result<Json<PercentBody>, JsonRejection>,
) -> Response {
    change_from(state, actor, body, |body| {
        let percent = body.percent;
        (Change::SetPercent { route, percent }, body.comment)
    })
    .await
}

/// `PUT /admin/routes/{route}/shadow` `{"sample": 10}`: the share of a shadowed route's
/// requests that are mirrored, over the file's `shadow.sample`.
async fn set_shadow_sample(
    state: State<AdminState>,
    actor: Option<Extension<Actor>>,
    Path(route): Path<String>,
    body: Result<Json<ShadowBody>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => return reply::bad_json(rejection),
    };
    let file = state.live.current().file.clone();
    if file.route(&route).is_some_and(|r| r.shadow().is_none()) {
        let message = format!("route {route:?} has no shadow: block in routes.yaml");
        return reply::error(StatusCode::BAD_REQUEST, &message);
    }
    let change = Change::SetShadowSample {
        route,
        percent: body.sample,
    };
    self::change(state, actor, change, body.comment).await
}

async fn set_tenants(
    state: State<AdminState>,
    actor: Option<Extension<Actor>>,
    Path(route): Path<String>,
    body: Result<Json<TenantsBody>, JsonRejection>,
) -> Response {
    change_from(state, actor, body, |body| {
        let tenants = body.tenants;
        (Change::SetTenants { route, tenants }, body.comment)
    })
    .await
}

async fn clear_tenant(
    state: State<AdminState>,
    actor: Option<Extension<Actor>>,
    Path((route, tenant)): Path<(String, String)>,
    body: OptionalJson<CommentBody>,
) -> Response {
    change(
        state,
        actor,
        Change::ClearTenant { route, tenant },
        comment(body),
    )
    .await
}

/// Drops every runtime tenant side of a route in one audited change, inside the store's
/// transaction (tenants another instance added a moment ago included): routes.yaml decides
/// for all of them again.
async fn clear_tenants(
    state: State<AdminState>,
    actor: Option<Extension<Actor>>,
    Path(route): Path<String>,
    body: OptionalJson<CommentBody>,
) -> Response {
    change(
        state,
        actor,
        Change::ClearAllTenants { route },
        comment(body),
    )
    .await
}

async fn kill_all(
    state: State<AdminState>,
    actor: Option<Extension<Actor>>,
    body: OptionalJson<CommentBody>,
) -> Response {
    change(state, actor, Change::KillAll, comment(body)).await
}

async fn unkill_all(
    state: State<AdminState>,
    actor: Option<Extension<Actor>>,
    body: OptionalJson<CommentBody>,
) -> Response {
    change(state, actor, Change::UnkillAll, comment(body)).await
}

async fn set_schedule(
    state: State<AdminState>,
    actor: Option<Extension<Actor>>,
    Path(route): Path<String>,
    body: Result<Json<ScheduleBody>, JsonRejection>,
) -> Response {
    change_from(state, actor, body, |body| {
        let schedule = body.schedule;
        (Change::SetSchedule { route, schedule }, body.comment)
    })
    .await
}

/// Applies the change `make` builds from a JSON body, or answers 400 for a body that is
/// not the JSON the endpoint takes.
async fn change_from<B>(
    state: State<AdminState>,
    actor: Option<Extension<Actor>>,
    body: Result<Json<B>, JsonRejection>,
    make: impl FnOnce(B) -> (Change, Option<String>),
) -> Response {
    match body {
        Ok(Json(body)) => {
            let (change, comment) = make(body);
            self::change(state, actor, change, comment).await
        }
        Err(rejection) => reply::bad_json(rejection),
    }
}

/// The future a route-only change handler returns.
pub(crate) type Answer = Pin<Box<dyn Future<Output = Response> + Send>>;

/// A handler for a change that names only its route and takes an optional comment
/// (clear percent, kill, unkill, clear, pause and resume schedule). The signature spells out
/// the extractors axum needs; it is long, not complex.
#[allow(clippy::type_complexity)]
pub(crate) fn route_change(
    make: fn(String) -> Change,
) -> impl Fn(
    State<AdminState>,
    Option<Extension<Actor>>,
    Path<String>,
    OptionalJson<CommentBody>,
) -> Answer
       + Clone
       + Send
       + Sync
       + 'static {
    move |state, actor, Path(route), body| {
        Box::pin(change(state, actor, make(route), comment(body)))
    }
}

/// The newest audit entries (`?route=R&limit=N`, default 50, at most 1,000).
async fn revert(
    State(state): State<AdminState>,
    actor: Option<Extension<Actor>>,
    Path(id): Path<String>,
    body: OptionalJson<CommentBody>,
) -> Response {
    let Some(Extension(actor)) = actor else {
        return no_token();
    };
    let Ok(id) = id.parse::<i64>() else {
        let message = format!("audit entry id {id:?} is not a number");
        return reply::error(StatusCode::BAD_REQUEST, &message);
    };
    let comment = comment(body);
    match state
        .flags
        .revert(id, &actor.name, comment.as_deref())
        .await
    {
        Ok(entry) => applied(&state, entry),
        Err(error) => reply::store_error(error),
    }
}

/// Applies `change` through the store, audited, and answers with the entry and revision;
/// a change that would leave every flag as it is answers 200 `"changed": false` and writes
/// no audit entry.
pub(crate) async fn change(
    State(state): State<AdminState>,
    actor: Option<Extension<Actor>>,
    change: Change,
    comment: Option<String>,
) -> Response {
    let Some(Extension(actor)) = actor else {
        return no_token();
    };
    match state
        .flags
        .apply(change, &actor.name, comment.as_deref())
        .await
    {
        Ok(entry) => applied(&state, entry),
        Err(FlagStoreError::Control(ControlError::Unchanged)) => {
            let revision = state.live.current().revision;
            Json(json!({ "changed": false, "revision": revision })).into_response()
        }
        Err(error) => reply::store_error(error),
    }
}

fn applied(state: &AdminState, entry: strangler_control::AuditEntry) -> Response {
    let revision = state.live.current().revision;
    Json(json!({ "changed": true, "audit": entry, "revision": revision })).into_response()
}

/// Without any admin token nobody can change flags. (With one, the `/admin/*` middleware
/// has already refused requests without a valid write token and named the actor.)
fn no_token() -> Response {
    reply::error(
        StatusCode::UNAUTHORIZED,
        "flag changes need an admin token: set STRANGLER_ADMIN_TOKEN",
    )
}

pub(crate) fn comment(OptionalJson(body): OptionalJson<CommentBody>) -> Option<String> {
    body.comment
}
