//! Scheduled ramps, pure: the effective percentage at given clock times.

use strangler_control::{PercentBp, Schedule};
use time::OffsetDateTime;

/// Unix second `seconds` as a time.
fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap()
}

fn percent(value: f64) -> Option<PercentBp> {
    Some(PercentBp::from_percent(value).unwrap())
}

/// Steps at 1000 s (10 %), 2000 s (25 %), 3000 s (50 %), written as JSON the way an
/// operator would: RFC 3339 and unix seconds mixed.
fn three_steps() -> Schedule {
    serde_json::from_str(
        r#"{"steps": [
            {"at": "1970-01-01T00:16:40Z", "percent": 10},
            {"at": 2000, "percent": 25},
            {"at": 3000, "percent": 50}
        ]}"#,
    )
    .unwrap()
}

#[test]
fn before_the_first_step_the_schedule_says_nothing() {
    assert_eq!(three_steps().effective_percent(at(999)), None);
}

#[test]
fn between_steps_the_last_reached_step_holds() {
    let schedule = three_steps();
    assert_eq!(schedule.effective_percent(at(1000)), percent(10.0));
    assert_eq!(schedule.effective_percent(at(1999)), percent(10.0));
    assert_eq!(schedule.effective_percent(at(2500)), percent(25.0));
}

#[test]
fn after_the_last_step_it_stays_there() {
    assert_eq!(
        three_steps().effective_percent(at(1_000_000)),
        percent(50.0)
    );
}

#[test]
fn a_lower_later_step_never_moves_the_ramp_down() {
    let mut schedule = three_steps();
    schedule
        .steps
        .push(serde_json::from_str(r#"{"at": 4000, "percent": 5}"#).unwrap());
    assert_eq!(schedule.effective_percent(at(4000)), percent(50.0));
}

#[test]
fn paused_freezes_the_clock_at_paused_at() {
    let mut schedule = three_steps();
    schedule.pause(at(1500)).unwrap();
    assert_eq!(schedule.effective_percent(at(5000)), percent(10.0));
    assert!(schedule.pause(at(1600)).is_err(), "pausing twice");
}

#[test]
fn resumed_continues_with_later_steps_shifted_by_the_pause() {
    let mut schedule = three_steps();
    schedule.pause(at(1500)).unwrap();
    schedule.resume(at(2500)).unwrap();
    assert_eq!(schedule.paused_seconds, 1000);
    assert_eq!(schedule.effective_percent(at(2999)), percent(10.0));
    assert_eq!(schedule.effective_percent(at(3000)), percent(25.0));
    assert_eq!(schedule.effective_percent(at(4000)), percent(50.0));
    assert!(
        schedule.resume(at(4100)).is_err(),
        "resuming a running schedule"
    );
}

#[test]
fn repeating_form_raises_each_interval_until_its_cap() {
    let schedule: Schedule = serde_json::from_str(
        r#"{"steps": [{"start": "2030-01-01T00:00:00Z", "every": "1h", "step": 5, "until": 12.5}]}"#,
    )
    .unwrap();
    let start = OffsetDateTime::parse(
        "2030-01-01T00:00:00Z",
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let hours = |h: i64| start + time::Duration::hours(h);
    assert_eq!(
        schedule.effective_percent(start - time::Duration::seconds(1)),
        None
    );
    assert_eq!(schedule.effective_percent(start), percent(5.0));
    assert_eq!(schedule.effective_percent(hours(1)), percent(10.0));
    assert_eq!(schedule.effective_percent(hours(2)), percent(12.5));
    assert_eq!(schedule.effective_percent(hours(200)), percent(12.5));
}

#[test]
fn schedules_round_trip_through_json() {
    let mut schedule: Schedule = serde_json::from_str(
        r#"{"steps": [{"start": 0, "every": "90m", "step": 5, "until": 100}, {"at": 60, "percent": 1}]}"#,
    )
    .unwrap();
    schedule.pause(at(100)).unwrap();
    let json = serde_json::to_string(&schedule).unwrap();
    assert!(json.contains(r#""every":"90m""#), "{json}");
    assert_eq!(serde_json::from_str::<Schedule>(&json).unwrap(), schedule);
}

#[test]
fn invalid_schedules_are_refused() {
    assert!(Schedule::new(vec![]).validate().is_err());
    for bad in [
        r#"{"steps": [{"start": 0, "every": "0h", "step": 5, "until": 100}]}"#,
        r#"{"steps": [{"start": 0, "every": "1w", "step": 5, "until": 100}]}"#,
        r#"{"steps": [{"at": 0, "percent": 101}]}"#,
        r#"{"steps": [{"at": "yesterday", "percent": 1}]}"#,
    ] {
        assert!(serde_json::from_str::<Schedule>(bad).is_err(), "{bad}");
    }
    let zero_step: Schedule = serde_json::from_str(
        r#"{"steps": [{"start": 0, "every": "1h", "step": 0, "until": 100}]}"#,
    )
    .unwrap();
    assert!(zero_step.validate().is_err());
}
