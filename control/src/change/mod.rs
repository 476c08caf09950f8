//! A runtime change, as an operator asks for it (the admin API's JSON body maps onto
//! [`Change`]), checked with [`Change::validate`] before the store opens a transaction,
//! then applied to the current overrides inside it with [`Change::apply_to`].
//!
//! Percentages arrive as numbers (`25.5`) and are converted to basis points with the
//! routes.yaml rule; tenant ids follow the routes.yaml rule too
//! ([`strangler_flags::tenant::check_tenant_id`], reused, not copied).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strangler_flags::guard::Breach;
use strangler_flags::ramp::RampPlan;
use strangler_flags::tenant::check_tenant_id;
use strangler_flags::Side;
use time::OffsetDateTime;

use crate::error::ControlError;
use crate::overrides::RouteOverrides;
use crate::percent::PercentBp;
use crate::schedule::Schedule;

mod ramp;

/// One change to the runtime overrides. In JSON: `{"kind": "set_percent", "route":
/// "invoices", "percent": 25}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    /// Sets the route's percentage and cancels its schedule: going down (or pinning a
    /// value) is explicit, a ramp never fights it.
    SetPercent {
        /// The route.
        route: String,
        /// 0 to 100, at most two decimals.
        percent: f64,
    },
    /// Drops the route's percentage override: routes.yaml decides again.
    ClearPercent {
        /// The route.
        route: String,
    },
    /// Sets the sides of many tenants at once (one transaction, one audit entry).
    SetTenants {
        /// The route.
        route: String,
        /// Tenant id to side.
        tenants: BTreeMap<String, Side>,
    },
    /// Drops one tenant's override.
    ClearTenant {
        /// The route.
        route: String,
        /// The tenant.
        tenant: String,
    },
    /// Drops many tenants' overrides at once.
    ClearTenants {
        /// The route.
        route: String,
        /// The tenants.
        tenants: Vec<String>,
    },
    /// Drops every tenant override of the route, as the store holds them when the change
    /// is applied (not as one instance last read them).
    ClearAllTenants {
        /// The route.
        route: String,
    },
    /// Turns the route's kill switch on: all its requests to legacy, first rule decided.
    Kill {
        /// The route.
        route: String,
    },
    /// Turns the route's kill switch off.
    Unkill {
        /// The route.
        route: String,
    },
    /// Turns the global kill switch on: every request to legacy.
    KillAll,
    /// Turns the global kill switch off.
    UnkillAll,
    /// Sets the share of the route's requests that are shadowed.
    SetShadowSample {
        /// The route.
        route: String,
        /// 0 to 100, at most two decimals.
        percent: f64,
    },
    /// Drops the shadow sample override.
    ClearShadowSample {
        /// The route.
        route: String,
    },
    /// Starts a ramp on the route (replacing any schedule it had).
    SetSchedule {
        /// The route.
        route: String,
        /// The ramp.
        schedule: Schedule,
    },
    /// Drops the route's schedule; the percentage falls back to the override or file.
    ClearSchedule {
        /// The route.
        route: String,
    },
    /// Freezes the route's ramp where it is.
    PauseSchedule {
        /// The route.
        route: String,
    },
    /// Continues a paused ramp; later steps shift by the time spent paused.
    ResumeSchedule {
        /// The route.
        route: String,
    },
    /// Starts a gated ramp at its first step (replacing any ramp or schedule). With
    /// `from_file` (the ramp evaluator starting routes.yaml's `rollout.ramp`) it is
    /// refused when the route has a ramp already, so a fleet starts it once.
    SetRamp {
        /// The route.
        route: String,
        /// The steps, the time at each, the gates.
        plan: RampPlan,
        /// Started from routes.yaml rather than asked for.
        #[serde(default)]
        from_file: bool,
    },
    /// Moves the ramp from step `from` to step `to`; refused when it is not at `from` any
    /// more (another instance advanced first), so each step is recorded once.
    AdvanceRamp {
        /// The route.
        route: String,
        /// The step the ramp is at.
        from: usize,
        /// The step it moves to.
        to: usize,
        /// Moved by an operator whatever the gates say.
        #[serde(default)]
        forced: bool,
    },
    /// Freezes the ramp at its step.
    PauseRamp {
        /// The route.
        route: String,
    },
    /// Continues a paused ramp; the step's time and evidence start over.
    ResumeRamp {
        /// The route.
        route: String,
    },
    /// Drops the ramp; the percentage falls back to the override or file (explicit, like
    /// `ClearSchedule`).
    ClearRamp {
        /// The route.
        route: String,
    },
    /// Drops every override of the route: routes.yaml decides it again.
    Reset {
        /// The route.
        route: String,
    },
    /// Restores what an audit entry found (its `before`); written by
    /// [`crate::Store::revert`], which is also what `apply` does with it.
    Revert {
        /// The audit entry undone.
        entry: i64,
    },
    /// The rollback guard tripped: the kill switch on and a running schedule paused, in
    /// one entry that carries the figures. Refused with [`ControlError::AlreadyKilled`]
    /// when the kill switch is on already (another instance tripped first), so a fleet
    /// writes one entry per trip.
    GuardTrip {
        /// The route.
        route: String,
        /// What the guard measured and the thresholds it broke.
        breach: Breach,
    },
}

/// What a change touches: one route's overrides, or the global flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject<'c> {
    /// The named route.
    Route(&'c str),
    /// The global kill switch.
    Global,
    /// Whatever the reverted entry touched.
    Entry(i64),
}

impl Change {
    /// What the change touches.
    pub fn subject(&self) -> Subject<'_> {
        use Change::*;
        match self {
            KillAll | UnkillAll => Subject::Global,
            Revert { entry } => Subject::Entry(*entry),
            SetPercent { route, .. }
            | ClearPercent { route }
            | SetTenants { route, .. }
            | ClearTenant { route, .. }
            | ClearTenants { route, .. }
            | ClearAllTenants { route }
            | Kill { route }
            | Unkill { route }
            | SetShadowSample { route, .. }
            | ClearShadowSample { route }
            | SetSchedule { route, .. }
            | ClearSchedule { route }
            | PauseSchedule { route }
            | ResumeSchedule { route }
            | SetRamp { route, .. }
            | AdvanceRamp { route, .. }
            | PauseRamp { route }
            | ResumeRamp { route }
            | ClearRamp { route }
            | Reset { route }
            | GuardTrip { route, .. } => Subject::Route(route),
        }
    }

    /// Checks everything that does not depend on the stored state: the route exists, the
    /// percentages and tenant ids are valid, the schedule can run.
    pub fn validate(&self, known_route: &dyn Fn(&str) -> bool) -> Result<(), ControlError> {
        let Subject::Route(route) = self.subject() else {
            return Ok(());
        };
        if !known_route(route) {
            return Err(ControlError::UnknownRoute(route.to_owned()));
        }
        match self {
            Change::SetPercent { percent, .. } | Change::SetShadowSample { percent, .. } => {
                percent_of(route, *percent).map(drop)
            }
            Change::SetTenants { tenants, .. } => check_tenants(route, tenants.keys()),
            Change::ClearTenant { tenant, .. } => check_tenants(route, [tenant]),
            Change::ClearTenants { tenants, .. } => check_tenants(route, tenants),
            Change::SetSchedule { schedule, .. } => schedule
                .validate()
                .map_err(|message| schedule_error(route, message)),
            Change::SetRamp { plan, .. } => ramp::check(route, &plan.steps),
            _ => Ok(()),
        }
    }

    /// Applies a route change to that route's overrides at `now` (pausing and resuming
    /// need the clock). Global changes and reverts leave `overrides` alone.
    pub fn apply_to(
        &self,
        overrides: &mut RouteOverrides,
        now: OffsetDateTime,
    ) -> Result<(), ControlError> {
        use Change::*;
        match self {
            SetPercent { route, percent } => {
                overrides.percent = Some(percent_of(route, *percent)?);
                overrides.schedule = None;
                overrides.ramp = None;
            }
            ClearPercent { .. } => overrides.percent = None,
            SetTenants { tenants, .. } => overrides.tenants.extend(tenants.clone()),
            ClearTenant { tenant, .. } => drop(overrides.tenants.remove(tenant)),
            ClearAllTenants { .. } => overrides.tenants.clear(),
            ClearTenants { tenants, .. } => tenants.iter().for_each(|tenant| {
                overrides.tenants.remove(tenant);
            }),
            Kill { .. } => overrides.killed = true,
            Unkill { .. } => overrides.killed = false,
            SetShadowSample { route, percent } => {
                overrides.shadow_sample = Some(percent_of(route, *percent)?)
            }
            ClearShadowSample { .. } => overrides.shadow_sample = None,
            SetSchedule { schedule, .. } => {
                overrides.schedule = Some(schedule.clone());
                overrides.ramp = None;
            }
            ClearSchedule { .. } => overrides.schedule = None,
            PauseSchedule { route } => schedule_of(route, overrides)?
                .pause(now)
                .map_err(|message| schedule_error(route, message))?,
            ResumeSchedule { route } => schedule_of(route, overrides)?
                .resume(now)
                .map_err(|message| schedule_error(route, message))?,
            Reset { .. } => *overrides = RouteOverrides::default(),
            GuardTrip { route, .. } => trip(route, overrides, now)?,
            SetRamp { .. }
            | AdvanceRamp { .. }
            | PauseRamp { .. }
            | ResumeRamp { .. }
            | ClearRamp { .. } => ramp::apply(self, overrides, now)?,
            KillAll | UnkillAll | Revert { .. } => {}
        }
        Ok(())
    }
}

/// The guard's rollback: kill switch on, a running schedule paused (it never ramps back
/// up on its own); refused if the kill switch is on already.
fn trip(
    route: &str,
    overrides: &mut RouteOverrides,
    now: OffsetDateTime,
) -> Result<(), ControlError> {
    if overrides.killed {
        return Err(ControlError::AlreadyKilled(route.to_owned()));
    }
    overrides.killed = true;
    if let Some(ramp) = overrides.ramp.as_mut().filter(|r| r.paused_at.is_none()) {
        ramp.paused_at = Some(now);
    }
    if let Some(schedule) = overrides
        .schedule
        .as_mut()
        .filter(|s| s.paused_at.is_none())
    {
        schedule
            .pause(now)
            .map_err(|message| schedule_error(route, message))?;
    }
    Ok(())
}

/// The route's schedule, or the error for a schedule command on a route without one.
fn schedule_of<'o>(
    route: &str,
    overrides: &'o mut RouteOverrides,
) -> Result<&'o mut Schedule, ControlError> {
    overrides
        .schedule
        .as_mut()
        .ok_or_else(|| schedule_error(route, "the route has no schedule".into()))
}

fn schedule_error(route: &str, message: String) -> ControlError {
    ControlError::Schedule {
        route: route.to_owned(),
        message,
    }
}

/// Converts a percentage with the routes.yaml rule.
fn percent_of(route: &str, percent: f64) -> Result<PercentBp, ControlError> {
    PercentBp::from_percent(percent).map_err(|message| ControlError::InvalidPercent {
        route: route.to_owned(),
        message,
    })
}

/// Checks every tenant id; the first bad one is the error.
fn check_tenants<'t>(
    route: &str,
    tenants: impl IntoIterator<Item = &'t String>,
) -> Result<(), ControlError> {
    for tenant in tenants {
        if let Err(reason) = check_tenant_id(tenant) {
            return Err(ControlError::InvalidTenant {
                route: route.to_owned(),
                tenant: tenant.chars().take(140).collect(),
                reason,
            });
        }
    }
    Ok(())
}
