//! The breaker's state machine, driven by a clock the test holds: opening on failures in a
//! row and on the error rate, half-open probes, backoff up to `max_open_for`.
use super::*;

fn settings() -> BreakerSettings {
    BreakerSettings {
        consecutive_failures: 3,
        error_rate: Some(5000),
        window: Duration::from_secs(10),
        min_requests: 10,
        open_for: Duration::from_secs(1),
        max_open_for: Duration::from_secs(5),
    }
}

fn at(start: Instant, ms: u64) -> Instant {
    start + Duration::from_millis(ms)
}

/// A breaker opened by consecutive failures at `start`.
fn opened(start: Instant) -> Breaker {
    let breaker = Breaker::new("test", settings(), start);
    for _ in 0..3 {
        breaker.record(Admission::Pass, false, start);
    }
    assert_eq!(breaker.state(), State::Open);
    breaker
}

#[test]
fn consecutive_failures_open_and_a_success_resets_the_count() {
    let start = Instant::now();
    let breaker = Breaker::new("test", settings(), start);
    breaker.record(Admission::Pass, false, start);
    breaker.record(Admission::Pass, false, start);
    breaker.record(Admission::Pass, true, start);
    breaker.record(Admission::Pass, false, start);
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.consecutive_failures(), 1);
    assert_eq!(opened(start).admit(start), Admission::Refuse);
}

#[test]
fn error_rate_opens_only_past_min_requests() {
    let start = Instant::now();
    let breaker = Breaker::new("test", settings(), start);
    for n in 0..9 {
        breaker.record(Admission::Pass, n % 2 == 0, start);
    }
    assert_eq!(
        breaker.state(),
        State::Closed,
        "9 requests are below min_requests"
    );
    breaker.record(Admission::Pass, false, start);
    assert_eq!(breaker.window(start), (10, 5));
    assert_eq!(breaker.state(), State::Open, "5 of 10 failed: 50 %");
}

#[test]
fn open_admits_one_probe_after_open_for() {
    let start = Instant::now();
    let breaker = opened(start);
    assert_eq!(breaker.admit(at(start, 999)), Admission::Refuse);
    assert_eq!(breaker.admit(at(start, 1_000)), Admission::Probe);
    assert_eq!(breaker.state(), State::HalfOpen);
    assert_eq!(
        breaker.admit(at(start, 1_001)),
        Admission::Refuse,
        "one probe at a time"
    );
}

#[test]
fn half_open_success_closes() {
    let start = Instant::now();
    let breaker = opened(start);
    assert_eq!(breaker.admit(at(start, 1_000)), Admission::Probe);
    breaker.record(Admission::Probe, true, at(start, 1_010));
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.admit(at(start, 1_020)), Admission::Pass);
    assert_eq!(
        breaker.window(at(start, 1_020)),
        (0, 0),
        "closing starts a new window"
    );
}

#[test]
fn failed_probes_double_the_open_time_up_to_the_cap() {
    let start = Instant::now();
    let breaker = opened(start);
    let mut now = 0;
    for expected in [2_000, 4_000, 5_000, 5_000] {
        now += breaker.open_for().as_millis() as u64;
        assert_eq!(breaker.admit(at(start, now)), Admission::Probe);
        breaker.record(Admission::Probe, false, at(start, now));
        assert_eq!(breaker.state(), State::Open);
        assert_eq!(breaker.open_for(), Duration::from_millis(expected));
        assert_eq!(
            breaker.admit(at(start, now + expected - 1)),
            Admission::Refuse
        );
    }
    now += 5_000;
    assert_eq!(breaker.admit(at(start, now)), Admission::Probe);
    breaker.record(Admission::Probe, true, at(start, now));
    assert_eq!(
        breaker.open_for(),
        Duration::from_secs(1),
        "closing resets the backoff"
    );
}

#[test]
fn a_released_probe_lets_the_next_request_probe() {
    let start = Instant::now();
    let breaker = opened(start);
    assert_eq!(breaker.admit(at(start, 1_000)), Admission::Probe);
    breaker.release_probe();
    assert_eq!(breaker.admit(at(start, 1_001)), Admission::Probe);
}

#[test]
fn health_checks_open_after_unhealthy_and_close_after_healthy() {
    let start = Instant::now();
    let breaker = Breaker::new("test", settings(), start);
    breaker.record_check(false, 2, 2, start);
    assert_eq!(breaker.state(), State::Closed);
    breaker.record_check(false, 2, 2, start);
    assert_eq!(breaker.state(), State::Open);
    breaker.record_check(true, 2, 2, at(start, 500));
    breaker.record_check(true, 2, 2, at(start, 600));
    assert_eq!(
        breaker.state(),
        State::Open,
        "checks wait for the open period too"
    );
    breaker.record_check(true, 2, 2, at(start, 1_000));
    assert_eq!(
        breaker.state(),
        State::Closed,
        "healthy good checks in a row, past open_for"
    );
}

#[test]
fn a_failed_check_past_the_open_period_reopens_for_longer() {
    let start = Instant::now();
    let breaker = opened(start);
    breaker.record_check(false, 1, 3, at(start, 1_000));
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(breaker.open_for(), Duration::from_secs(2));
    assert!(!breaker.last_probe().expect("probe").ok);
}
