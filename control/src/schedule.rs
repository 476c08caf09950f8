//! Scheduled ramps: a route's percentage raised over time, e.g. 5 % more every hour until
//! 100 %. The effective percentage is a pure function of the stored schedule and the
//! clock, so every instance computes the same value and a restart changes nothing.
//!
//! Rules:
//! - A ramp only moves forward: the effective percentage is the highest any step has
//!   reached by now, never below an earlier step, whatever order the steps are listed in.
//! - Pausing freezes the schedule's clock at `paused_at`. Resuming adds the paused time to
//!   `paused_seconds`, which shifts every step later by that much: the ramp continues
//!   where it stopped instead of jumping over the steps it missed while paused.
//! - Going down is not a schedule: it is an explicit `SetPercent`, which cancels the
//!   schedule (see [`crate::Change`]).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::percent::PercentBp;

/// At most this many steps in one schedule: a ramp, not a table.
const MAX_STEPS: usize = 1_000;

/// A route's ramp: steps, and whether (and for how long) it has been paused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// The steps; the effective percentage is the highest any of them has reached.
    pub steps: Vec<Step>,
    /// When the schedule was paused, if it is paused now; its clock stands still there.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub paused_at: Option<OffsetDateTime>,
    /// Seconds spent paused in earlier pauses; every step is shifted later by this much.
    #[serde(default)]
    pub paused_seconds: u64,
}

/// One step of a [`Schedule`], in JSON either `{"at": ..., "percent": 25}` or
/// `{"start": ..., "every": "1h", "step": 5, "until": 100}`. Times are RFC 3339 strings
/// or unix seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Step {
    /// One jump at one time.
    At(AtStep),
    /// A repeating raise.
    Every(RepeatStep),
}

/// From `at` on, the route is at least at `percent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtStep {
    /// When the step applies.
    #[serde(with = "timestamp")]
    pub at: OffsetDateTime,
    /// The percentage from then on.
    pub percent: PercentBp,
}

/// At `start` the route reaches `step`, then `step` more every `every`, capped at `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatStep {
    /// When the first raise applies.
    #[serde(with = "timestamp")]
    pub start: OffsetDateTime,
    /// The time between raises, e.g. `30m`, `1h`, `1d`.
    pub every: Every,
    /// How much each raise adds (also the value at `start`).
    pub step: PercentBp,
    /// The highest percentage the ramp reaches.
    pub until: PercentBp,
}

/// A positive whole number of seconds, minutes, hours or days, written `90s`, `30m`,
/// `1h`, `2d`. (routes.yaml's durations stop at minutes; ramps need hours and days.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Every {
    seconds: u64,
}

impl Schedule {
    /// A running schedule of these steps.
    pub fn new(steps: Vec<Step>) -> Schedule {
        Schedule {
            steps,
            paused_at: None,
            paused_seconds: 0,
        }
    }

    /// The percentage the schedule has reached at `now`, or None before its first step.
    pub fn effective_percent(&self, now: OffsetDateTime) -> Option<PercentBp> {
        let clock = self.clock(now);
        self.steps
            .iter()
            .filter_map(|step| step.reached(clock))
            .max()
    }

    /// The schedule's own clock in unix seconds: frozen while paused, and behind the
    /// wall clock by the time spent in earlier pauses.
    fn clock(&self, now: OffsetDateTime) -> i64 {
        let frozen = self.paused_at.map_or(now, |paused| paused.min(now));
        let shift = i64::try_from(self.paused_seconds).unwrap_or(i64::MAX);
        frozen.unix_timestamp().saturating_sub(shift)
    }

    /// Checks that the schedule can run: 1 to 1000 steps, every repeat raising by more
    /// than 0 at an interval of at least a second.
    pub fn validate(&self) -> Result<(), String> {
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err(format!("needs 1 to {MAX_STEPS} steps"));
        }
        for step in &self.steps {
            if let Step::Every(repeat) = step {
                if repeat.step == PercentBp::ZERO {
                    return Err("a repeating step must raise by more than 0".into());
                }
            }
        }
        Ok(())
    }

    /// Freezes the clock at `now`; an error if already paused.
    pub fn pause(&mut self, now: OffsetDateTime) -> Result<(), String> {
        if let Some(paused) = self.paused_at {
            return Err(format!("already paused since {}", rfc3339(paused)));
        }
        self.paused_at = Some(now);
        Ok(())
    }

    /// Restarts the clock, shifting later steps by the paused time; an error if running.
    pub fn resume(&mut self, now: OffsetDateTime) -> Result<(), String> {
        let paused = self.paused_at.take().ok_or("not paused")?;
        let seconds = u64::try_from((now - paused).whole_seconds()).unwrap_or(0);
        self.paused_seconds = self.paused_seconds.saturating_add(seconds);
        Ok(())
    }
}

impl Step {
    /// What the step has reached at `clock` (unix seconds), or None before it starts.
    fn reached(&self, clock: i64) -> Option<PercentBp> {
        match self {
            Step::At(step) => (clock >= step.at.unix_timestamp()).then_some(step.percent),
            Step::Every(repeat) => repeat.reached(clock),
        }
    }
}

impl RepeatStep {
    fn reached(&self, clock: i64) -> Option<PercentBp> {
        let elapsed = clock.checked_sub(self.start.unix_timestamp())?;
        let raises = u64::try_from(elapsed).ok()? / self.every.seconds + 1;
        let basis_points = raises.saturating_mul(u64::from(self.step.basis_points()));
        let capped = basis_points.min(u64::from(self.until.basis_points())) as u16;
        PercentBp::from_basis_points(capped)
    }
}

impl Every {
    /// The interval in seconds (at least 1).
    pub fn seconds(self) -> u64 {
        self.seconds
    }
}

impl TryFrom<String> for Every {
    type Error = String;

    fn try_from(text: String) -> Result<Every, String> {
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let (number, unit) = text.split_at(digits);
        let invalid = || format!("invalid interval {text:?}: expected e.g. 90s, 30m, 1h or 2d");
        let number: u64 = number.parse().map_err(|_| invalid())?;
        let unit_seconds = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => return Err(invalid()),
        };
        match number.checked_mul(unit_seconds) {
            Some(seconds) if seconds > 0 => Ok(Every { seconds }),
            _ => Err(invalid()),
        }
    }
}

impl From<Every> for String {
    fn from(every: Every) -> String {
        every.to_string()
    }
}

impl fmt::Display for Every {
    /// The largest unit that divides the interval: 3600 seconds is `1h`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
        let (size, unit) = units
            .into_iter()
            .find(|(size, _)| self.seconds % size == 0)
            .unwrap_or((1, "s"));
        write!(f, "{}{unit}", self.seconds / size)
    }
}

/// RFC 3339 text of a time (for messages).
fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// Step times: written as RFC 3339; read from RFC 3339 or unix seconds.
mod timestamp {
    use super::*;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Seconds(i64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
        rfc3339(*at).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<OffsetDateTime, D::Error> {
        use serde::de::Error;
        match Written::deserialize(deserializer)? {
            Written::Seconds(seconds) => {
                OffsetDateTime::from_unix_timestamp(seconds).map_err(D::Error::custom)
            }
            Written::Text(text) => OffsetDateTime::parse(&text, &Rfc3339).map_err(|err| {
                D::Error::custom(format!("time {text:?}: {err} (RFC 3339 or unix seconds)"))
            }),
        }
    }
}
