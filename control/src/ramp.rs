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

#[cfg(test)]
mod tests {
    use strangler_flags::ramp::Gates;

    use super::*;

    fn ramp() -> Ramp {
        let plan = RampPlan {
            steps: vec![500, 2_500, 10_000],
            every_seconds: 60,
            gates: Gates::default(),
        };
        Ramp::start(plan, OffsetDateTime::UNIX_EPOCH, false)
    }

    #[test]
    fn an_advance_from_a_step_the_ramp_left_is_refused_so_a_fleet_records_it_once() {
        let mut ramp = ramp();
        let later = OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(5);
        assert_eq!(ramp.advance(0, 1, later), Ok(()));
        assert_eq!((ramp.step, ramp.since), (1, later));
        assert!(
            ramp.advance(0, 1, later).is_err(),
            "the second instance's advance"
        );
        assert!(ramp.advance(1, 3, later).is_err(), "no step 3");
        assert_eq!(ramp.percent(), PercentBp::from_basis_points(2_500).unwrap());
    }

    #[test]
    fn resuming_restarts_the_steps_clock_and_pausing_twice_is_refused() {
        let mut ramp = ramp();
        let paused = OffsetDateTime::UNIX_EPOCH + time::Duration::minutes(1);
        ramp.pause(paused).unwrap();
        assert!(ramp.pause(paused).is_err());
        let resumed = paused + time::Duration::hours(1);
        ramp.resume(resumed).unwrap();
        assert_eq!((ramp.paused_at, ramp.since), (None, resumed));
        assert!(ramp.resume(resumed).is_err());
    }
}
