//! The gated ramp's changes ([`Change::SetRamp`], `AdvanceRamp`, `PauseRamp`,
//! `ResumeRamp`, `ClearRamp`): checked, then applied to the route's [`Ramp`] inside the
//! store's transaction. An advance or a start from routes.yaml that finds the ramp moved is
//! [`ControlError::RampMoved`], which the ramp evaluator takes as "another instance did it".

use time::OffsetDateTime;

use super::{Change, Subject};
use crate::error::ControlError;
use crate::overrides::RouteOverrides;
use crate::ramp::Ramp;

/// A ramp's steps: 1 to 100, strictly ascending, each 0.01 to 100 %.
pub(super) fn check(route: &str, steps: &[u16]) -> Result<(), ControlError> {
    let ascending = steps.windows(2).all(|pair| pair[0] < pair[1]);
    let in_range = steps.iter().all(|bp| (1..=10_000).contains(bp));
    match !steps.is_empty() && steps.len() <= 100 && ascending && in_range {
        true => Ok(()),
        false => Err(ControlError::Ramp {
            route: route.to_owned(),
            message: "steps must be 1 to 100 ascending percents above 0".into(),
        }),
    }
}

/// Applies a ramp command to the route's ramp.
pub(super) fn apply(
    change: &Change,
    overrides: &mut RouteOverrides,
    now: OffsetDateTime,
) -> Result<(), ControlError> {
    use Change::*;
    let route = match change.subject() {
        Subject::Route(route) => route.to_owned(),
        _ => return Ok(()),
    };
    let refused = |message: String| ControlError::Ramp {
        route: route.clone(),
        message,
    };
    if let SetRamp {
        plan, from_file, ..
    } = change
    {
        if *from_file && overrides.ramp.is_some() {
            let message = "the route has a ramp already".into();
            return Err(ControlError::RampMoved { route, message });
        }
        overrides.ramp = Some(Ramp::start(plan.clone(), now, *from_file));
        overrides.schedule = None;
        return Ok(());
    }
    let Some(ramp) = overrides.ramp.as_mut() else {
        return Err(refused("the route has no ramp".into()));
    };
    match change {
        AdvanceRamp { from, to, .. } => {
            ramp.advance(*from, *to, now)
                .map_err(|message| ControlError::RampMoved {
                    route: route.clone(),
                    message,
                })
        }
        PauseRamp { .. } => ramp.pause(now).map_err(refused),
        ResumeRamp { .. } => ramp.resume(now).map_err(refused),
        ClearRamp { .. } => {
            overrides.ramp = None;
            Ok(())
        }
        _ => Ok(()),
    }
}
