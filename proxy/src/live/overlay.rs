//! Runtime flags folded over routes.yaml: the snapshot requests are decided on.
//!
//! routes.yaml is the reviewed baseline; the flag store holds what release managers and
//! on-call engineers changed at runtime. Folding is pure and follows the store's own
//! precedence (`strangler_control::fold`): global kill, then the route's kill switch; a
//! schedule that has reached a step, then a percent override, then the file; a runtime side
//! for a tenant over the file's. A runtime override keeps winning when routes.yaml later
//! changes the same field, until it is cleared or reverted.

use std::sync::Arc;

use strangler_control::{fold as fold_route, FileRoute, Overrides};
use strangler_flags::Snapshot;
use time::OffsetDateTime;

/// `file` with `overrides` applied at the current time; `file` itself when there are none.
pub fn fold(file: &Arc<Snapshot>, overrides: &Overrides) -> Arc<Snapshot> {
    if !overrides.global_kill && overrides.routes.values().all(|r| r.is_empty()) {
        return file.clone();
    }
    let now = OffsetDateTime::now_utc();
    let mut effective = Snapshot::clone(file);
    for route in file.routes() {
        let name = route.name();
        let folded = fold_route(&FileRoute::from_route(route), overrides, name, now);
        effective.set_killed(name, folded.killed.value);
        effective.set_percent(name, folded.percent.value.basis_points());
        if let Some(sample) = folded.shadow_sample {
            effective.set_shadow_sample(name, sample.value.basis_points());
        }
        let has_runtime_tenants = overrides
            .routes
            .get(name)
            .is_some_and(|r| !r.tenants.is_empty());
        if has_runtime_tenants {
            let sides = folded
                .tenants
                .iter()
                .map(|(tenant, side)| (tenant.as_str(), side.value));
            effective.set_tenant_sides(name, sides);
        }
    }
    Arc::new(effective)
}

/// Whether two snapshots of the same file decide alike on every flag the store can set
/// (kill switches, percentages and shadow samples; tenant sides only move with a store
/// version).
pub fn same_flags(a: &Snapshot, b: &Snapshot) -> bool {
    a.routes().len() == b.routes().len()
        && a.routes().iter().zip(b.routes()).all(|(x, y)| {
            x.killed() == y.killed()
                && x.percent_basis_points() == y.percent_basis_points()
                && x.shadow().map(|p| p.sample) == y.shadow().map(|p| p.sample)
        })
}
