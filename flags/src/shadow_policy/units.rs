//! The quantities a policy is written in: percentages in 0.01 steps, sizes in B, KiB or
//! MiB, and durations in ms, s, m, h or d. Parsed here rather than borrowed from
//! [`crate::config`], which imports this module: the policy's language stays below the
//! config that embeds it.

use std::time::Duration;

/// The JSON Schema pattern of a duration (`250ms`, `2s`, `1m`, `6h`, `7d`), for the
/// schema of routes.yaml: whole numbers only, like [`duration`] and
/// `crate::config::parse_duration`.
pub const DURATION_PATTERN: &str = "^[0-9]+(ms|s|m|h|d)$";

/// The JSON Schema pattern of a size: `512B`, `64KiB`, `10MiB`, `1GiB` (`limits:` takes
/// GiB; a policy's sizes stop at MiB, which its validation says).
pub const SIZE_PATTERN: &str = "^[0-9]+(B|KiB|MiB|GiB)$";

/// The JSON Schema pattern of a percentage written with its sign: `5%`, `2.5%`, `0.01%`.
pub const PERCENT_PATTERN: &str = "^[0-9]+([.][0-9]{1,2})?%$";

/// A percentage in steps of 0.01, stored exactly as hundredths of a percent (0..=10,000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent(u16);

impl Percent {
    /// 100 %.
    pub const ALL: Percent = Percent(10_000);

    /// A percentage from hundredths of a percent, for constants known to be in range.
    pub(crate) const fn from_hundredths(hundredths: u16) -> Percent {
        Percent(hundredths)
    }

    /// A percentage from hundredths of a percent (basis points); `None` above 10,000.
    pub fn from_basis_points(hundredths: u16) -> Option<Percent> {
        (hundredths <= 10_000).then_some(Percent(hundredths))
    }

    /// The percentage in hundredths of a percent: 10 % is 1,000.
    pub fn hundredths(self) -> u16 {
        self.0
    }

    /// Whether a request whose uniform roll in `0..10_000` is `roll` falls inside it.
    pub fn admits(self, roll: u16) -> bool {
        roll < self.0
    }
}

/// Parses a written percentage; `None` when outside 0..=100 or finer than 0.01.
pub(crate) fn percent(value: f64) -> Option<Percent> {
    if !(0.0..=100.0).contains(&value) {
        return None;
    }
    let hundredths = (value * 100.0).round();
    ((value * 100.0 - hundredths).abs() < 1e-6).then_some(Percent(hundredths as u16))
}

/// Parses `512B`, `64KiB` or `1MiB` into bytes.
pub(crate) fn size(text: &str) -> Option<usize> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let number: usize = number.parse().ok()?;
    let scale = match unit {
        "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        _ => return None,
    };
    number.checked_mul(scale)
}

/// Parses `250ms`, `2s`, `1m`, `6h` or `7d`.
pub(crate) fn duration(text: &str) -> Option<Duration> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(number)),
        "s" => Some(Duration::from_secs(number)),
        "m" => number.checked_mul(60).map(Duration::from_secs),
        "h" => number.checked_mul(3600).map(Duration::from_secs),
        "d" => number.checked_mul(86_400).map(Duration::from_secs),
        _ => None,
    }
}
