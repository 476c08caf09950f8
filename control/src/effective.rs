//! The effective state of a route, with where each value comes from: what
//! `GET /admin/routes` shows. Pure: routes.yaml's values and the runtime overrides go in,
//! the folded values come out, each tagged `file` or `runtime` with the audit entry that
//! set it. Precedence per value, first that applies:
//!
//! - killed: the global kill switch, then the route's kill switch, else the file (off).
//! - percent: a gated ramp's step or a schedule that has reached a step, then the percent
//!   override, then the file;
//!   a schedule never takes a route below the override or the file's percent (a ramp only
//!   moves forward: `+5 % an hour` put on a route at 25 % starts there, and no tenant on
//!   the new side goes back to legacy). A gated ramp's step counts the same way.
//! - tenants: a runtime side for a tenant wins over the file's side for that tenant.
//! - shadow sample: the override, then the file.

use std::collections::BTreeMap;

use serde::Serialize;
use strangler_flags::{Route, Side};
use time::OffsetDateTime;

use crate::overrides::{Overrides, RouteOverrides, RouteSetBy};
use crate::percent::PercentBp;

/// What routes.yaml says about a route, for the values the store can override.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileRoute {
    /// `rollout.percent`.
    pub percent: PercentBp,
    /// `rollout.tenants`.
    pub tenants: BTreeMap<String, Side>,
    /// The route's shadow sample from the file, if it has one.
    pub shadow_sample: Option<PercentBp>,
}

/// Where an effective value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Source {
    /// routes.yaml.
    File,
    /// The runtime store; `entry` is the audit entry that set it (always known for
    /// values written through [`crate::Store`]; None only for rows edited by hand).
    Runtime {
        /// The audit entry id.
        entry: Option<i64>,
    },
}

/// A value and its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sourced<T> {
    /// The effective value.
    pub value: T,
    /// Where it comes from.
    #[serde(flatten)]
    pub source: Source,
}

/// A route's effective flags, folded from the file and the overrides at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectiveRoute {
    /// Whether every request of the route goes to legacy.
    pub killed: Sourced<bool>,
    /// The rollout percentage.
    pub percent: Sourced<PercentBp>,
    /// Every tenant with an explicit side, from either place.
    pub tenants: BTreeMap<String, Sourced<Side>>,
    /// The shadow sample, if any.
    pub shadow_sample: Option<Sourced<PercentBp>>,
}

impl FileRoute {
    /// The file's values of a compiled route.
    pub fn from_route(route: &Route) -> FileRoute {
        FileRoute {
            percent: PercentBp::from_basis_points(route.percent_basis_points())
                .unwrap_or(PercentBp::FULL),
            tenants: route
                .tenant_overrides()
                .map(|(tenant, side)| (tenant.to_owned(), side))
                .collect(),
            shadow_sample: route
                .shadow()
                .and_then(|policy| PercentBp::from_basis_points(policy.sample.hundredths())),
        }
    }
}

/// Folds the overrides of route `name` over its file values at `now`.
pub fn fold(
    file: &FileRoute,
    overrides: &Overrides,
    name: &str,
    now: OffsetDateTime,
) -> EffectiveRoute {
    fold_with(file, overrides, name, now, true)
}

/// [`fold`] without building the tenant map (left empty), and the number of tenants it
/// would hold: for a summary of a route with 100,000 overrides.
pub fn fold_counted(
    file: &FileRoute,
    overrides: &Overrides,
    name: &str,
    now: OffsetDateTime,
) -> (EffectiveRoute, usize) {
    let runtime_tenants = overrides.routes.get(name).map(|r| &r.tenants);
    let only_in_file = file
        .tenants
        .keys()
        .filter(|tenant| runtime_tenants.is_none_or(|r| !r.contains_key(*tenant)))
        .count();
    let count = only_in_file + runtime_tenants.map_or(0, BTreeMap::len);
    (fold_with(file, overrides, name, now, false), count)
}

fn fold_with(
    file: &FileRoute,
    overrides: &Overrides,
    name: &str,
    now: OffsetDateTime,
    with_tenants: bool,
) -> EffectiveRoute {
    let empty = (RouteOverrides::default(), RouteSetBy::default());
    let route = overrides.routes.get(name).unwrap_or(&empty.0);
    let set_by = overrides.set_by.get(name).unwrap_or(&empty.1);
    EffectiveRoute {
        killed: killed(overrides, route, set_by),
        percent: percent(file, route, set_by, now),
        tenants: match with_tenants {
            true => tenants(file, route, set_by),
            false => BTreeMap::new(),
        },
        shadow_sample: route
            .shadow_sample
            .map(|value| runtime(value, set_by.shadow_sample))
            .or(file.shadow_sample.map(from_file)),
    }
}

fn killed(overrides: &Overrides, route: &RouteOverrides, set_by: &RouteSetBy) -> Sourced<bool> {
    if overrides.global_kill {
        runtime(true, overrides.global_kill_set_by)
    } else if route.killed {
        runtime(true, set_by.killed)
    } else {
        from_file(false)
    }
}

fn percent(
    file: &FileRoute,
    route: &RouteOverrides,
    set_by: &RouteSetBy,
    now: OffsetDateTime,
) -> Sourced<PercentBp> {
    let scheduled = route
        .schedule
        .as_ref()
        .and_then(|s| s.effective_percent(now));
    let base = match route.percent {
        Some(value) => runtime(value, set_by.percent),
        None => from_file(file.percent),
    };
    let base = match scheduled {
        Some(value) if value > base.value => runtime(value, set_by.schedule),
        _ => base,
    };
    match route.ramp.as_ref().map(|ramp| ramp.percent()) {
        Some(value) if value > base.value => runtime(value, set_by.ramp),
        _ => base,
    }
}

fn tenants(
    file: &FileRoute,
    route: &RouteOverrides,
    set_by: &RouteSetBy,
) -> BTreeMap<String, Sourced<Side>> {
    let mut tenants: BTreeMap<String, Sourced<Side>> = file
        .tenants
        .iter()
        .map(|(tenant, side)| (tenant.clone(), from_file(*side)))
        .collect();
    for (tenant, side) in &route.tenants {
        let entry = set_by.tenants.get(tenant).copied();
        tenants.insert(tenant.clone(), runtime(*side, entry));
    }
    tenants
}

fn from_file<T>(value: T) -> Sourced<T> {
    Sourced {
        value,
        source: Source::File,
    }
}

fn runtime<T>(value: T, entry: Option<i64>) -> Sourced<T> {
    Sourced {
        value,
        source: Source::Runtime { entry },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_fold_counts_the_tenants_a_fold_would_list_without_listing_them() {
        let file = FileRoute {
            percent: PercentBp::ZERO,
            tenants: [("a", Side::New), ("b", Side::Legacy)]
                .map(|(t, s)| (t.to_owned(), s))
                .into(),
            shadow_sample: None,
        };
        let mut overrides = Overrides::default();
        let route = overrides.routes.entry("r".into()).or_default();
        route.tenants.insert("b".into(), Side::New);
        route.tenants.insert("c".into(), Side::New);
        let now = OffsetDateTime::now_utc();
        let full = fold(&file, &overrides, "r", now);
        let (summary, count) = fold_counted(&file, &overrides, "r", now);
        assert_eq!(count, full.tenants.len());
        assert_eq!(count, 3);
        assert!(summary.tenants.is_empty());
        assert_eq!(summary.percent, full.percent);
    }
}
