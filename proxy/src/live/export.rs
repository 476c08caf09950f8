//! `strangler flags export`: routes.yaml with the runtime flags folded in, so a team that
//! keeps its flags in git can commit what is live and then clear the overrides.
//!
//! Runtime percentages and tenant sides become `rollout.percent` and `rollout.tenants`.
//! routes.yaml has no kill switch, so runtime kill switches (and the global one) are listed
//! in a comment at the top instead of being dropped silently. The file's own comments are
//! not kept: the YAML is re-serialised.

use serde_yaml::{Mapping, Value};
use strangler_control::{fold, FileRoute, Overrides, Source};
use strangler_flags::Snapshot;
use time::OffsetDateTime;

/// Folds `overrides` into `text` (the routes.yaml `file` was compiled from).
pub fn fold_into_yaml(
    text: &str,
    file: &Snapshot,
    overrides: &Overrides,
) -> Result<String, serde_yaml::Error> {
    let mut doc: Value = serde_yaml::from_str(text)?;
    let now = OffsetDateTime::now_utc();
    let mut killed = Vec::new();
    if overrides.global_kill {
        killed.push("every route (global kill switch)".to_string());
    }
    if let Some(routes) = doc.get_mut("routes").and_then(Value::as_sequence_mut) {
        for entry in routes.iter_mut() {
            let Some(name) = entry
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
            else {
                continue;
            };
            let Some(route) = file.route(&name) else {
                continue;
            };
            let effective = fold(&FileRoute::from_route(route), overrides, &name, now);
            if matches!(effective.killed.source, Source::Runtime { .. }) && !overrides.global_kill {
                killed.push(name.clone());
            }
            let Some(rollout) = rollout(entry) else {
                continue;
            };
            if matches!(effective.percent.source, Source::Runtime { .. }) {
                rollout.insert(
                    "percent".into(),
                    percent(effective.percent.value.basis_points()),
                );
            }
            if effective
                .tenants
                .values()
                .any(|side| matches!(side.source, Source::Runtime { .. }))
            {
                let tenants: Mapping = effective
                    .tenants
                    .iter()
                    .map(|(tenant, side)| {
                        (Value::from(tenant.as_str()), Value::from(side.value.code()))
                    })
                    .collect();
                rollout.insert("tenants".into(), Value::Mapping(tenants));
            }
        }
    }
    let mut out = String::from(
        "# routes.yaml exported by `strangler flags export` with the runtime flags folded in.\n",
    );
    for route in &killed {
        out.push_str(&format!(
            "# NOTE: killed at runtime, which routes.yaml cannot express: {route}\n"
        ));
    }
    out.push_str(&serde_yaml::to_string(&doc)?);
    Ok(out)
}

/// The route's `rollout:` mapping, created if missing.
fn rollout(entry: &mut Value) -> Option<&mut Mapping> {
    let route = entry.as_mapping_mut()?;
    if !route.contains_key("rollout") {
        route.insert("rollout".into(), Value::Mapping(Mapping::new()));
    }
    route.get_mut("rollout")?.as_mapping_mut()
}

/// `25` or `12.5`: whole percentages as integers.
fn percent(basis_points: u16) -> Value {
    if basis_points % 100 == 0 {
        Value::from(u64::from(basis_points / 100))
    } else {
        Value::from(f64::from(basis_points) / 100.0)
    }
}
