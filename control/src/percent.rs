//! A rollout percentage in basis points, the unit the decision compares buckets against
//! (25.5 % is 2550). People write percentages; the store keeps basis points so a value
//! read back is exactly the value written, with no float rounding between instances.

use std::fmt;

use serde::{Deserialize, Serialize};
use strangler_flags::rollout::percent_to_basis_points;

/// A percentage of 0 to 100 with at most two decimals, kept as basis points 0..=10000.
///
/// In JSON it is the percentage as a number (`25.5`); parsing applies the routes.yaml rule.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(try_from = "f64", into = "f64")]
pub struct PercentBp(u16);

impl PercentBp {
    /// 0 %.
    pub const ZERO: PercentBp = PercentBp(0);
    /// 100 %.
    pub const FULL: PercentBp = PercentBp(10_000);

    /// Converts a percentage (`25.5`), refusing values outside 0..=100 or with more than
    /// two decimals; the error says which.
    pub fn from_percent(percent: f64) -> Result<PercentBp, String> {
        percent_to_basis_points(percent).map(PercentBp)
    }

    /// From basis points, or None above 10000.
    pub fn from_basis_points(basis_points: u16) -> Option<PercentBp> {
        (basis_points <= 10_000).then_some(PercentBp(basis_points))
    }

    /// The value in basis points, 0..=10000, as [`strangler_flags::Route`] keeps it.
    pub fn basis_points(self) -> u16 {
        self.0
    }

    /// The value as a percentage, e.g. 25.5.
    pub fn as_percent(self) -> f64 {
        f64::from(self.0) / 100.0
    }
}

impl TryFrom<f64> for PercentBp {
    type Error = String;

    fn try_from(percent: f64) -> Result<PercentBp, String> {
        PercentBp::from_percent(percent)
    }
}

impl From<PercentBp> for f64 {
    fn from(percent: PercentBp) -> f64 {
        percent.as_percent()
    }
}

impl fmt::Display for PercentBp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.as_percent())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_the_percentage_and_round_trips_exactly() {
        let percent: PercentBp = serde_json::from_str("33.33").unwrap();
        assert_eq!(percent.basis_points(), 3_333);
        assert_eq!(serde_json::to_string(&percent).unwrap(), "33.33");
        assert!(serde_json::from_str::<PercentBp>("101").is_err());
        assert!(serde_json::from_str::<PercentBp>("1.005").is_err());
    }
}
