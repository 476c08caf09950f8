//! A new service's circuit breaker: closed (traffic flows, failures are counted), open
//! (the service's traffic goes to legacy, reason `breaker-open`) and half-open (one probe,
//! a request or a health check, may try the service; success closes, failure opens again
//! for twice as long, up to `max_open_for`).
//!
//! The request path only touches atomics: a closed breaker costs one load to admit and a
//! few relaxed adds to record an outcome. The error rate is kept in ten buckets that
//! rotate with the clock; a bucket is reset by whoever sees it first in a new period, so
//! a few outcomes racing that reset may be lost (the rate is an estimate, never a lock).
//! Time is passed in (`Instant`), so the state machine is tested without sleeping.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use strangler_flags::resilience::BreakerSettings;

/// Buckets of the error-rate window.
const BUCKETS: u64 = 10;

/// A breaker's state, as the `strangler_breaker_state` gauge and `/admin/health` show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Traffic flows to the service.
    Closed = 0,
    /// One probe may try the service.
    HalfOpen = 1,
    /// Traffic goes to legacy.
    Open = 2,
}

impl State {
    /// `closed`, `half-open` or `open`.
    pub fn code(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::HalfOpen => "half-open",
            State::Open => "open",
        }
    }

    fn from_u8(value: u8) -> State {
        match value {
            0 => State::Closed,
            1 => State::HalfOpen,
            _ => State::Open,
        }
    }
}

/// What the breaker lets a request do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Go to the service; record the outcome.
    Pass,
    /// Go to the service as the half-open probe; its outcome closes or reopens.
    Probe,
    /// Go to legacy: the breaker is open.
    Refuse,
}

/// The last probe (a half-open request or a health check) and how it went.
#[derive(Debug, Clone, Copy)]
pub struct LastProbe {
    /// When it finished.
    pub at: SystemTime,
    /// Whether the service answered well.
    pub ok: bool,
    /// `request` or `health-check`.
    pub kind: &'static str,
}

/// One service's breaker.
pub struct Breaker {
    settings: ArcSwap<BreakerSettings>,
    /// Instants are stored as milliseconds since this one.
    epoch: Instant,
    state: AtomicU8,
    /// Failed requests in a row while closed.
    consecutive: AtomicU32,
    buckets: [Bucket; BUCKETS as usize],
    /// While open: when a probe may go (ms since `epoch`).
    reopen_at: AtomicU64,
    /// The open duration now in force (ms): `open_for`, doubled by each failed probe.
    backoff_ms: AtomicU64,
    /// A half-open probe is out.
    probing: AtomicBool,
    /// Health checks in a row that went well / failed.
    checks_ok: AtomicU32,
    checks_failed: AtomicU32,
    last_probe: parking_lot::Mutex<Option<LastProbe>>,
    /// `strangler_breaker_state{service}`.
    gauge: metrics::Gauge,
}

/// Outcomes of one period of the window.
#[derive(Default)]
struct Bucket {
    /// Which period (ms since epoch / bucket length) the counts belong to, plus one.
    period: AtomicU64,
    total: AtomicU32,
    failed: AtomicU32,
}

impl Breaker {
    /// A closed breaker for `service` with `settings`, starting at `now`.
    pub fn new(service: &str, settings: BreakerSettings, now: Instant) -> Breaker {
        let gauge = metrics::gauge!("strangler_breaker_state", "service" => service.to_owned());
        gauge.set(0.0);
        let backoff = millis(settings.open_for);
        Breaker {
            settings: ArcSwap::from_pointee(settings),
            epoch: now,
            state: AtomicU8::new(State::Closed as u8),
            consecutive: AtomicU32::new(0),
            buckets: Default::default(),
            reopen_at: AtomicU64::new(0),
            backoff_ms: AtomicU64::new(backoff),
            probing: AtomicBool::new(false),
            checks_ok: AtomicU32::new(0),
            checks_failed: AtomicU32::new(0),
            last_probe: parking_lot::Mutex::new(None),
            gauge,
        }
    }

    /// Takes new settings (a reload that kept the service's URL); the state stays.
    pub fn set_settings(&self, settings: BreakerSettings) {
        if **self.settings.load() != settings {
            self.settings.store(settings.into());
        }
    }

    /// The state now.
    pub fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Whether a request may go to the service at `now`.
    pub fn admit(&self, now: Instant) -> Admission {
        match self.state() {
            State::Closed => Admission::Pass,
            State::Open if self.ms(now) < self.reopen_at.load(Ordering::Acquire) => {
                Admission::Refuse
            }
            State::Open | State::HalfOpen => match self.take_probe() {
                true => Admission::Probe,
                false => Admission::Refuse,
            },
        }
    }

    /// Records how a request let through with `admission` went.
    pub fn record(&self, admission: Admission, ok: bool, now: Instant) {
        match admission {
            Admission::Pass => self.record_pass(ok, now),
            Admission::Probe => self.probed(ok, "request", now),
            Admission::Refuse => {}
        }
    }

    /// Gives the probe slot back when the probe request ended without an outcome (the
    /// client left first): the next request probes instead.
    pub fn release_probe(&self) {
        self.probing.store(false, Ordering::Release);
    }

    /// Records one active health check: `unhealthy` failures in a row open a closed
    /// breaker; once the open period is over, a check is a probe, and `healthy` good checks
    /// in a row close it (one failed check opens it again, for longer).
    pub fn record_check(&self, ok: bool, healthy: u32, unhealthy: u32, now: Instant) {
        let (streak, other) = match ok {
            true => (&self.checks_ok, &self.checks_failed),
            false => (&self.checks_failed, &self.checks_ok),
        };
        other.store(0, Ordering::Relaxed);
        let streak = streak.fetch_add(1, Ordering::Relaxed) + 1;
        let probing =
            self.state() != State::Closed && self.ms(now) >= self.reopen_at.load(Ordering::Acquire);
        match (self.state(), ok) {
            (State::Closed, false) if streak >= unhealthy => self.open(now, false),
            (State::Closed, _) => {}
            (_, false) if probing => self.probed(false, "health-check", now),
            (_, true) if probing && streak >= healthy => self.probed(true, "health-check", now),
            _ => self.note_probe(ok, "health-check"),
        }
    }

    /// Failed requests in a row (while closed).
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive.load(Ordering::Relaxed)
    }

    /// Requests and failed requests in the window ending at `now`.
    pub fn window(&self, now: Instant) -> (u32, u32) {
        let current = self.period(now);
        let live = |b: &&Bucket| {
            let period = b.period.load(Ordering::Relaxed);
            period != 0 && period + BUCKETS > current
        };
        self.buckets.iter().filter(live).fold((0, 0), |(t, f), b| {
            let total = b.total.load(Ordering::Relaxed);
            (t + total, f + b.failed.load(Ordering::Relaxed))
        })
    }

    /// How long until a probe may go, while open.
    pub fn next_probe_in(&self, now: Instant) -> Option<Duration> {
        let reopen_at = self.reopen_at.load(Ordering::Acquire);
        (self.state() == State::Open)
            .then(|| Duration::from_millis(reopen_at.saturating_sub(self.ms(now))))
    }

    /// The open duration in force: `open_for`, doubled by each failed probe.
    pub fn open_for(&self) -> Duration {
        Duration::from_millis(self.backoff_ms.load(Ordering::Relaxed))
    }

    /// The last probe, if any.
    pub fn last_probe(&self) -> Option<LastProbe> {
        *self.last_probe.lock()
    }

    fn record_pass(&self, ok: bool, now: Instant) {
        if self.state() != State::Closed {
            return; // an answer from before the breaker opened
        }
        let settings = self.settings.load();
        let bucket = self.bucket(now, &settings);
        bucket.total.fetch_add(1, Ordering::Relaxed);
        if ok {
            self.consecutive.store(0, Ordering::Relaxed);
            return;
        }
        bucket.failed.fetch_add(1, Ordering::Relaxed);
        let consecutive = self.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
        if consecutive >= settings.consecutive_failures || self.rate_exceeded(now, &settings) {
            self.open(now, false);
        }
    }

    fn rate_exceeded(&self, now: Instant, settings: &BreakerSettings) -> bool {
        let Some(limit) = settings.error_rate else {
            return false;
        };
        let (total, failed) = self.window(now);
        total >= settings.min_requests
            && u64::from(failed) * 10_000 >= u64::from(total) * u64::from(limit)
    }

    /// A probe's outcome: success closes, failure opens for twice as long.
    fn probed(&self, ok: bool, kind: &'static str, now: Instant) {
        self.note_probe(ok, kind);
        match ok {
            true => self.close(),
            false => self.open(now, true),
        }
    }

    fn note_probe(&self, ok: bool, kind: &'static str) {
        let at = SystemTime::now();
        *self.last_probe.lock() = Some(LastProbe { at, ok, kind });
    }

    fn take_probe(&self) -> bool {
        let taken = self
            .probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if taken {
            self.set_state(State::HalfOpen);
        }
        taken
    }

    /// Opens the breaker; `longer` doubles the open duration (a failed probe).
    fn open(&self, now: Instant, longer: bool) {
        let settings = self.settings.load();
        let backoff = match longer {
            true => self.open_for().saturating_mul(2).min(settings.max_open_for),
            false => settings.open_for,
        };
        self.backoff_ms.store(millis(backoff), Ordering::Relaxed);
        self.reopen_at
            .store(self.ms(now) + millis(backoff), Ordering::Release);
        self.set_state(State::Open);
        self.probing.store(false, Ordering::Release);
        if !longer {
            tracing::warn!(target: "strangler::breaker", open_for = ?backoff, "breaker opened");
        }
    }

    fn close(&self) {
        self.consecutive.store(0, Ordering::Relaxed);
        for bucket in &self.buckets {
            bucket.period.store(0, Ordering::Relaxed);
        }
        let settings = self.settings.load();
        self.backoff_ms
            .store(millis(settings.open_for), Ordering::Relaxed);
        self.set_state(State::Closed);
        self.probing.store(false, Ordering::Release);
        tracing::info!(target: "strangler::breaker", "breaker closed");
    }

    fn set_state(&self, state: State) {
        self.state.store(state as u8, Ordering::Release);
        self.gauge.set(f64::from(state as u8));
    }

    /// The bucket for `now`, reset first if it still holds an older period.
    fn bucket(&self, now: Instant, settings: &BreakerSettings) -> &Bucket {
        let period = self.period_with(now, settings);
        let bucket = &self.buckets[(period % BUCKETS) as usize];
        let seen = bucket.period.load(Ordering::Relaxed);
        if seen != period + 1
            && bucket
                .period
                .compare_exchange(seen, period + 1, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            bucket.total.store(0, Ordering::Relaxed);
            bucket.failed.store(0, Ordering::Relaxed);
        }
        bucket
    }

    /// The current period, plus one (0 marks an unused bucket).
    fn period(&self, now: Instant) -> u64 {
        self.period_with(now, &self.settings.load()) + 1
    }

    fn period_with(&self, now: Instant, settings: &BreakerSettings) -> u64 {
        let length = (millis(settings.window) / BUCKETS).max(1);
        self.ms(now) / length
    }

    fn ms(&self, now: Instant) -> u64 {
        millis(now.saturating_duration_since(self.epoch))
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
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
    fn the_window_forgets_old_outcomes() {
        let start = Instant::now();
        let breaker = Breaker::new("test", settings(), start);
        breaker.record(Admission::Pass, false, start);
        breaker.record(Admission::Pass, true, at(start, 5_000));
        assert_eq!(breaker.window(at(start, 5_000)), (2, 1));
        assert_eq!(breaker.window(at(start, 12_000)), (1, 0));
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
}
