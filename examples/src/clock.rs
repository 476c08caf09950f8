//! Wall-clock formatting without a date crate: RFC 3339 timestamps for the volatile
//! `generated_at` field and plain `YYYY-MM-DD` dates for the deterministic data.
//!
//! [`civil_from_days`] is Howard Hinnant's days-to-civil algorithm, exact for the
//! proleptic Gregorian calendar, which is all a demo needs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const SECONDS_PER_DAY: u64 = 86_400;

/// The current time as RFC 3339 in UTC with microseconds, e.g. `2024-05-01T09:30:00.123456Z`.
///
/// Microseconds make two back-to-back responses carry different values, which is the
/// point of a volatile field.
pub(crate) fn now_rfc3339() -> String {
    rfc3339(since_epoch())
}

/// Today's date in UTC, `YYYY-MM-DD`.
pub(crate) fn today() -> String {
    date(since_epoch().as_secs() / SECONDS_PER_DAY)
}

/// The date `days` days after 1970-01-01, `YYYY-MM-DD`.
pub(crate) fn date(days: u64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Time since the Unix epoch; a clock set before 1970 reads as the epoch itself.
pub(crate) fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn rfc3339(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let of_day = secs % SECONDS_PER_DAY;
    format!(
        "{}T{:02}:{:02}:{:02}.{:06}Z",
        date(secs / SECONDS_PER_DAY),
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since_epoch.subsec_micros()
    )
}

/// (year, month 1..=12, day 1..=31) of the day `days` after 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // shift the epoch to 0000-03-01
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // March = 0
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_is_1970_01_01() {
        assert_eq!(date(0), "1970-01-01");
    }

    #[test]
    fn leap_day_and_year_end_are_exact() {
        assert_eq!(date(19_782), "2024-02-29");
        assert_eq!(date(19_783), "2024-03-01");
        assert_eq!(date(20_088), "2024-12-31");
        assert_eq!(date(11_016), "2000-02-29");
    }

    #[test]
    fn rfc3339_has_time_of_day_and_micros() {
        let t = Duration::from_secs(1_714_555_800) + Duration::from_micros(42);
        assert_eq!(rfc3339(t), "2024-05-01T09:30:00.000042Z");
    }
}
