//! A gated ramp's state in the flag store: the plan ([`RampPlan`], from routes.yaml's
//! `rollout.ramp` or the admin API), the step the route stands at and since when, and
//! whether it is paused. Stored with the route's overrides, so it survives restarts and is
//! the same on every instance; only a change transaction moves it.
//!
//! Rules:
//! - The ramp only moves forward: its step's percent counts only above the route's own
//!   (override or file, see [`crate::fold`]), and an advance skips the steps at or below
//!   where the route stands ([`RampPlan::next_step`]).
//! - An advance names the step it moves from ([`crate::Change::AdvanceRamp`]); the store
//!   refuses it when the ramp is no longer there ([`crate::ControlError::RampMoved`]), so
//!   of two instances deciding the same advance, one records it.
//! - Resuming restarts the step's clock and its evidence: what was gathered before the
//!   pause (usually a trip) does not count for the step.

use serde::{Deserialize, Serialize};
use strangler_flags::ramp::RampPlan;
use time::OffsetDateTime;

use crate::percent::PercentBp;

/// A route's gated ramp as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ramp {
    /// The steps, the time at each, the gates.
    pub plan: RampPlan,
    /// The index of the step the route stands at.
    pub step: usize,
    /// When that step began (or the ramp resumed): its evidence counts from here.
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    /// When the ramp was paused, if it is paused.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub paused_at: Option<OffsetDateTime>,
    /// Started from routes.yaml's `rollout.ramp` (by the ramp evaluator) rather than the
    /// admin API.
    #[serde(default)]
    pub from_file: bool,
}

impl Ramp {
    /// A ramp at its first step from `now`.
    pub fn start(plan: RampPlan, now: OffsetDateTime, from_file: bool) -> Ramp {
        Ramp {
            plan,
            step: 0,
            since: now,
            paused_at: None,
            from_file,
        }
    }

    /// The percent of the step the route stands at.
    pub fn percent(&self) -> PercentBp {
        let bp = self.plan.steps.get(self.step).copied().unwrap_or(0);
        PercentBp::from_basis_points(bp).unwrap_or(PercentBp::FULL)
    }

    /// The step's start in unix milliseconds: the key of its evidence.
    pub fn since_ms(&self) -> i64 {
        (self.since.unix_timestamp_nanos() / 1_000_000) as i64
    }

    /// Moves from step `from` to `to` at `now`; an error if the ramp is not at `from` any
    /// more or `to` is not a later step.
    pub(crate) fn advance(
        &mut self,
        from: usize,
        to: usize,
        now: OffsetDateTime,
    ) -> Result<(), String> {
        if self.step != from {
            return Err(format!("the ramp is at step {} now, not {from}", self.step));
        }
        if to <= from || to >= self.plan.steps.len() {
            return Err(format!("no step {to} after step {from}"));
        }
        self.step = to;
        self.since = now;
        Ok(())
    }

    /// Pauses at `now`; an error if paused already.
    pub(crate) fn pause(&mut self, now: OffsetDateTime) -> Result<(), String> {
        if self.paused_at.is_some() {
            return Err("the ramp is paused already".into());
        }
        self.paused_at = Some(now);
        Ok(())
    }

    /// Resumes at `now`, the step's evidence starting over; an error if running.
    pub(crate) fn resume(&mut self, now: OffsetDateTime) -> Result<(), String> {
        self.paused_at.take().ok_or("the ramp is not paused")?;
        self.since = now;
        Ok(())
    }
}
