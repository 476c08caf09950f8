//! `strangler flags export`: routes.yaml with the runtime flags folded in, so a team that
//! keeps its flags in git can commit what is live and then clear the overrides.
//!
//! Runtime percentages and tenant sides become `rollout.percent` and `rollout.tenants`, a
//! runtime shadow sample the route's `shadow.sample`. What routes.yaml cannot express is
//! listed in a comment at the top instead of being dropped silently: runtime kill switches
//! (and the global one), a running schedule (the percent it has reached is folded in; its
//! later steps are not), and a shadow sample on a route without `shadow:`. The file's own
//! comments are not kept: the YAML is re-serialised.

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
    let mut notes = Vec::new();
    if overrides.global_kill {
        notes.push(killed("every route (global kill switch)"));
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
                notes.push(killed(&name));
            }
            notes.extend(schedule_note(&name, overrides));
            if let Some(sample) = effective.shadow_sample.filter(|s| s.source != Source::File) {
                let percent = percent(sample.value.basis_points());
                match entry.get_mut("shadow").and_then(Value::as_mapping_mut) {
                    Some(shadow) => drop(shadow.insert("sample".into(), percent)),
                    None => notes.push(format!(
                        "a runtime shadow sample of {} % on a route without shadow:, which \
                         routes.yaml cannot express: {name}",
                        f64::from(sample.value.basis_points()) / 100.0
                    )),
                }
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
    for note in &notes {
        out.push_str(&format!("# NOTE: {note}\n"));
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

/// The note for a route's runtime schedule: routes.yaml has no ramp, so its steps are
/// named, and the percent it has reached is what `rollout.percent` says.
fn schedule_note(route: &str, overrides: &Overrides) -> Option<String> {
    let schedule = overrides.routes.get(route)?.schedule.as_ref()?;
    let steps = serde_json::to_string(&schedule.steps).unwrap_or_default();
    let paused = match schedule.paused_at {
        Some(_) => ", paused",
        None => "",
    };
    Some(format!(
        "a runtime schedule{paused}, which routes.yaml cannot express (the percent it has \
         reached is in rollout.percent): {route} {steps}"
    ))
}

/// The note for a runtime kill switch.
fn killed(what: &str) -> String {
    format!("killed at runtime, which routes.yaml cannot express: {what}")
}
