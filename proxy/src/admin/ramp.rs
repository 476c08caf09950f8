//! The gated ramps of the admin API: `PUT /admin/routes/{route}/ramp` starts one (the body
//! is routes.yaml's `rollout.ramp` as JSON, plus an optional comment), `DELETE` drops it,
//! `POST .../ramp/pause`, `.../ramp/resume` and `.../ramp/advance` (`{"force": true}`: the
//! next step whatever the gates say) move it, and `GET /admin/routes/{route}/ramp` shows it
//! as the evaluator last judged it (state, waiting reason, evidence). Changes are audited
//! through [`crate::admin::flags::change`] like every flag change.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use strangler_control::Change;
use strangler_flags::config::ramp::RawRamp;

use crate::admin::body::OptionalJson;
use crate::admin::flags::{change, route_change};
use crate::admin::reply;
use crate::admin::state::AdminState;
use crate::admin::tokens::Actor;

/// The ramp routes (under the `/admin/*` token check like the others).
pub fn routes() -> Router<AdminState> {
    Router::new()
        .route(
            "/admin/routes/{route}/ramp",
            get(show)
                .put(start)
                .delete(route_change(|route| Change::ClearRamp { route })),
        )
        .route(
            "/admin/routes/{route}/ramp/pause",
            post(route_change(|route| Change::PauseRamp { route })),
        )
        .route(
            "/admin/routes/{route}/ramp/resume",
            post(route_change(|route| Change::ResumeRamp { route })),
        )
        .route("/admin/routes/{route}/ramp/advance", post(advance))
}

/// `PUT /admin/routes/{route}/ramp`: `rollout.ramp` as JSON and a comment (unknown keys
/// are refused by [`RawRamp`] itself, which gets every key but `comment`).
#[derive(Deserialize)]
struct RampBody {
    #[serde(flatten)]
    ramp: RawRamp,
    comment: Option<String>,
}

/// `POST /admin/routes/{route}/ramp/advance`: `force` must be true (the gates are skipped).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    #[serde(default)]
    force: bool,
    comment: Option<String>,
}

/// The ramp as last judged, or as stored when the evaluator has not judged it yet.
async fn show(State(state): State<AdminState>, Path(route): Path<String>) -> Response {
    if state.live.current().file.route(&route).is_none() {
        return reply::error(StatusCode::NOT_FOUND, &format!("no route named {route:?}"));
    }
    if let Some(status) = state.ramps.status(&route) {
        return Json(status).into_response();
    }
    let overrides = state.live.overrides();
    match overrides.routes.get(&route).and_then(|r| r.ramp.as_ref()) {
        Some(ramp) => {
            Json(serde_json::json!({ "state": "starting", "stored": ramp })).into_response()
        }
        None => reply::error(
            StatusCode::NOT_FOUND,
            &format!("route {route:?} has no ramp"),
        ),
    }
}

async fn start(
    state: State<AdminState>,
    actor: Option<Extension<Actor>>,
    Path(route): Path<String>,
    body: Result<Json<RampBody>, JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => return reply::bad_json(rejection),
    };
    let plan = match body.ramp.compile() {
        Ok(plan) => plan,
        Err(problems) => {
            let found: Vec<String> = problems
                .into_iter()
                .map(|(key, message)| format!("route {route:?}: ramp.{key}: {message}"))
                .collect();
            return reply::error(StatusCode::BAD_REQUEST, &found.join("; "));
        }
    };
    let change_asked = Change::SetRamp {
        route,
        plan,
        from_file: false,
    };
    change(state, actor, change_asked, body.comment).await
}

/// Moves the ramp to its next step above where the route stands, gates skipped.
async fn advance(
    state: State<AdminState>,
    actor: Option<Extension<Actor>>,
    Path(route): Path<String>,
    OptionalJson(body): OptionalJson<AdvanceBody>,
) -> Response {
    if !body.force {
        let message = "an advance skips the ramp's gates: send {\"force\": true}";
        return reply::error(StatusCode::BAD_REQUEST, message);
    }
    let overrides = state.live.overrides();
    let Some(ramp) = overrides.routes.get(&route).and_then(|r| r.ramp.clone()) else {
        return reply::error(
            StatusCode::BAD_REQUEST,
            &format!("route {route:?} has no ramp"),
        );
    };
    let serving = state.live.current();
    let percent = serving
        .snapshot
        .route(&route)
        .map_or(0, |r| r.percent_basis_points());
    let Some(to) = ramp.plan.next_step(ramp.step, percent) else {
        return reply::error(
            StatusCode::BAD_REQUEST,
            &format!("route {route:?}: the ramp has no step left"),
        );
    };
    let asked = Change::AdvanceRamp {
        route,
        from: ramp.step,
        to,
        forced: true,
    };
    change(state, actor, asked, body.comment).await
}
