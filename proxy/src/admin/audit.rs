//! `GET /admin/audit?route=R&limit=N&view=changes`: the audit log of flag changes, newest
//! first. `view=changes` leaves out of each entry's before and after the tenant sides it
//! did not change (the console's view: a bulk change on a route with 100,000 overrides
//! otherwise carries two maps of 100,000 tenants). Reverts are `admin::flags`' changes.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::admin::reply;
use crate::admin::state::AdminState;

/// The audit route.
pub fn routes() -> Router<AdminState> {
    Router::new().route("/admin/audit", get(audit))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    route: Option<String>,
    limit: Option<u32>,
    /// `changes`: tenant sides that did not change are left out of before and after.
    view: Option<AuditView>,
}

#[derive(Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum AuditView {
    Full,
    Changes,
}

async fn audit(
    State(state): State<AdminState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return reply::error(
            StatusCode::BAD_REQUEST,
            "bad query: expected route=R&limit=N&view=full|changes",
        );
    };
    let limit = query.limit.unwrap_or(50).min(1_000);
    let entries = match state.flags.audit(query.route.as_deref(), limit).await {
        Ok(entries) => entries,
        Err(error) => return reply::store_error(error),
    };
    let mut entries = json!(entries);
    if query.view == Some(AuditView::Changes) {
        for entry in entries.as_array_mut().into_iter().flatten() {
            changes_only(entry);
        }
    }
    Json(json!({ "entries": entries })).into_response()
}

/// Leaves out of an entry's `before` and `after` the tenant sides that are the same in
/// both, counting them in `tenants_unchanged`: a bulk change on a route with 100,000
/// overrides otherwise carries two maps of 100,000 tenants.
fn changes_only(entry: &mut serde_json::Value) {
    let tenants = |side: &str| entry[side]["route"]["tenants"].as_object().cloned();
    let (Some(before), Some(after)) = (tenants("before"), tenants("after")) else {
        return;
    };
    let same = |(tenant, side): &(&String, &serde_json::Value)| after.get(*tenant) == Some(*side);
    let unchanged = before.iter().filter(same).count();
    if unchanged == 0 {
        return;
    }
    for (side, map) in [("before", &before), ("after", &after)] {
        let other = if side == "before" { &after } else { &before };
        let kept: serde_json::Map<_, _> = map
            .iter()
            .filter(|(tenant, value)| other.get(*tenant) != Some(*value))
            .map(|(tenant, value)| (tenant.clone(), value.clone()))
            .collect();
        entry[side]["route"]["tenants"] = serde_json::Value::Object(kept);
        entry[side]["route"]["tenants_unchanged"] = json!(unchanged);
    }
}

#[cfg(test)]
mod tests {
    use super::changes_only;
    use serde_json::json;

    #[test]
    fn a_changes_view_keeps_only_the_tenants_a_change_moved() {
        let mut entry = json!({
            "before": { "route": { "percent": 5.0, "tenants": { "a": "new", "b": "legacy" } } },
            "after": { "route": { "percent": 5.0, "tenants": { "a": "new", "b": "new", "c": "new" } } },
        });
        changes_only(&mut entry);
        assert_eq!(
            entry["before"]["route"]["tenants"],
            json!({ "b": "legacy" })
        );
        assert_eq!(
            entry["after"]["route"]["tenants"],
            json!({ "b": "new", "c": "new" })
        );
        assert_eq!(entry["after"]["route"]["tenants_unchanged"], 1);
        assert_eq!(entry["after"]["route"]["percent"], 5.0);
    }
}
