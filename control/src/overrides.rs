//! The runtime overrides: what release managers and on-call engineers changed on top of
//! routes.yaml, per route and globally, with the audit entry that set each value.
//!
//! [`RouteOverrides`] is pure values (it is also the `before`/`after` of an audit entry);
//! where each value came from lives beside it in [`RouteSetBy`], so reverting restores
//! values while the provenance points at the revert.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strangler_flags::Side;

use crate::percent::PercentBp;
use crate::ramp::Ramp;
use crate::schedule::Schedule;

/// Everything the runtime store says about one route. The default means "nothing
/// overridden": routes.yaml decides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteOverrides {
    /// The rollout percentage instead of the file's `rollout.percent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<PercentBp>,
    /// Tenant sides added to (and winning over) the file's `rollout.tenants`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tenants: BTreeMap<String, Side>,
    /// The kill switch: every request of the route goes to legacy, before any other rule.
    #[serde(skip_serializing_if = "is_false")]
    pub killed: bool,
    /// The share of the route's requests to shadow, instead of the file's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow_sample: Option<PercentBp>,
    /// A ramp that raises the percentage over time; once its first step is reached it
    /// decides the percentage (see [`crate::fold`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// A gated ramp: its step's percent counts when above the route's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ramp: Option<Ramp>,
}

/// Which audit entry last set each value of a route's overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteSetBy {
    /// The entry that set `percent`.
    pub percent: Option<i64>,
    /// The entry that set each tenant's side.
    pub tenants: BTreeMap<String, i64>,
    /// The entry that turned the kill switch on.
    pub killed: Option<i64>,
    /// The entry that set `shadow_sample`.
    pub shadow_sample: Option<i64>,
    /// The entry that set (or last paused or resumed) `schedule`.
    pub schedule: Option<i64>,
    /// The entry that started (or last moved, paused or resumed) `ramp`.
    #[serde(default)]
    pub ramp: Option<i64>,
}

/// All runtime overrides at one store version: what an instance folds into its snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overrides {
    /// The store's version when this was read; it moves with every change.
    pub version: i64,
    /// The global kill switch: every request goes to legacy.
    pub global_kill: bool,
    /// The entry that turned the global kill switch on.
    pub global_kill_set_by: Option<i64>,
    /// The routes with at least one override, by name.
    pub routes: BTreeMap<String, RouteOverrides>,
    /// Where each route's values came from, by route name.
    pub set_by: BTreeMap<String, RouteSetBy>,
}

impl RouteOverrides {
    /// True when nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == RouteOverrides::default()
    }
}

impl RouteSetBy {
    /// Records entry `id` as the source of every value that differs between `before` and
    /// `after`, and forgets the source of values that are no longer overridden.
    pub fn record(&mut self, before: &RouteOverrides, after: &RouteOverrides, id: i64) {
        track(&mut self.percent, &before.percent, &after.percent, id);
        track(
            &mut self.shadow_sample,
            &before.shadow_sample,
            &after.shadow_sample,
            id,
        );
        track(&mut self.schedule, &before.schedule, &after.schedule, id);
        track(&mut self.ramp, &before.ramp, &after.ramp, id);
        let killed = |on: bool| on.then_some(());
        track(
            &mut self.killed,
            &killed(before.killed),
            &killed(after.killed),
            id,
        );
        self.tenants
            .retain(|tenant, _| after.tenants.contains_key(tenant));
        for (tenant, side) in &after.tenants {
            if before.tenants.get(tenant) != Some(side) {
                self.tenants.insert(tenant.clone(), id);
            }
        }
    }
}

/// Updates one value's source: `id` if the value changed and is set, None if unset.
fn track<T: PartialEq>(source: &mut Option<i64>, before: &Option<T>, after: &Option<T>, id: i64) {
    if after.is_none() {
        *source = None;
    } else if before != after {
        *source = Some(id);
    }
}

fn is_false(value: &bool) -> bool {
    !value
}
