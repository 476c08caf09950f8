//! The `readiness:` section: how long a route must have served every request from the new
//! side, with no fallback, no rollback and no tenant pinned to legacy, before the readiness
//! report calls its legacy path removable (`strangler report`, `GET /admin/readiness`).

use schemars::JsonSchema;
use serde::Deserialize;

use super::parse_duration;
use super::problems::Problems;

/// `removable_after` when absent, in days.
pub const DEFAULT_REMOVABLE_AFTER_DAYS: u32 = 14;
/// The longest `removable_after`: the rollup keeps 90 days of history.
pub const MAX_REMOVABLE_AFTER_DAYS: u32 = 90;

/// `readiness:`.
///
/// ```yaml
/// readiness: { removable_after: 14d }
/// ```
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawReadiness {
    /// `removable_after:` whole days (`14d`) a route must be at 100 % with no fallback,
    /// no rollback and no tenant pinned to legacy before its legacy path is removable;
    /// also the period the report judges fallbacks, rollbacks and the shadow match rate
    /// over. 1d to 90d. Default `14d`.
    #[schemars(pattern(r"^[0-9]+d$"))]
    pub removable_after: Option<String>,
}

/// The validated `readiness:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// `removable_after`, in days.
    pub removable_after_days: u32,
}

impl Default for Readiness {
    fn default() -> Readiness {
        Readiness {
            removable_after_days: DEFAULT_REMOVABLE_AFTER_DAYS,
        }
    }
}

/// Validates `readiness:`; a problem is located at its value.
pub(crate) fn validate(raw: RawReadiness, problems: &mut Problems<'_>) -> Option<Readiness> {
    let Some(text) = raw.removable_after else {
        return Some(Readiness::default());
    };
    match days(&text) {
        Ok(removable_after_days) => Some(Readiness {
            removable_after_days,
        }),
        Err(message) => {
            problems.at_value("readiness.removable_after", message);
            None
        }
    }
}

/// Whole days from `14d` (or `336h`, a whole number of days), 1 to the maximum.
fn days(text: &str) -> Result<u32, String> {
    let duration = parse_duration(text).map_err(|e| format!("readiness.removable_after: {e}"))?;
    let seconds = duration.as_secs();
    let days = seconds / 86_400;
    let whole = duration.subsec_nanos() == 0 && seconds % 86_400 == 0;
    if !whole || days == 0 || days > u64::from(MAX_REMOVABLE_AFTER_DAYS) {
        return Err(format!(
            "readiness.removable_after must be whole days from 1d to {MAX_REMOVABLE_AFTER_DAYS}d, \
             got {text:?}"
        ));
    }
    Ok(days as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removable_after_takes_whole_days_within_the_rollups_history() {
        assert_eq!(days("14d"), Ok(14));
        assert_eq!(days("48h"), Ok(2));
        assert_eq!(days("90d"), Ok(90));
        for bad in ["0d", "91d", "36h", "1.5d", "2w", "14"] {
            assert!(days(bad).is_err(), "{bad} should be refused");
        }
    }
}
