//! A new service's circuit breaker: closed (traffic flows, failures are counted), open
//! (the service's traffic goes to legacy, reason `breaker-open`) and half-open (one probe,
//! a request or a health check, may try the service; success closes, failure opens again
//! for twice as long, up to `max_open_for`).
//!
//! The request path only touches atomics: a closed breaker costs one load to admit and a
//! few relaxed adds to record an outcome (the error rate's window is
//! [`crate::resilience::error_window`]).
//! Time is passed in (`Instant`), so the state machine is tested without sleeping.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use strangler_flags::resilience::BreakerSettings;

use crate::resilience::error_window::ErrorWindow;

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
    /// The service's name, for the log lines of transitions.
    service: Box<str>,
    settings: ArcSwap<BreakerSettings>,
    /// Instants are stored as milliseconds since this one.
    epoch: Instant,
    state: AtomicU8,
    /// Failed requests in a row while closed.
    consecutive: AtomicU32,
    /// Outcomes of the error-rate window, while closed.
    window: ErrorWindow,
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

impl Breaker {
    /// A closed breaker for `service` with `settings`, starting at `now`.
    pub fn new(service: &str, settings: BreakerSettings, now: Instant) -> Breaker {
        let gauge = metrics::gauge!("strangler_breaker_state", "service" => service.to_owned());
        gauge.set(0.0);
        let backoff = millis(settings.open_for);
        Breaker {
            service: service.into(),
            settings: ArcSwap::from_pointee(settings),
            epoch: now,
            state: AtomicU8::new(State::Closed as u8),
            consecutive: AtomicU32::new(0),
            window: ErrorWindow::default(),
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
        let window = millis(self.settings.load().window);
        self.window.counts(self.ms(now), window)
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
        self.window
            .record(ok, self.ms(now), millis(settings.window));
        if ok {
            self.consecutive.store(0, Ordering::Relaxed);
            return;
        }
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
        let service = &*self.service;
        match longer {
            false => {
                tracing::warn!(target: "strangler::breaker", service, open_for = ?backoff, "breaker opened")
            }
            true => {
                tracing::info!(target: "strangler::breaker", service, open_for = ?backoff, "probe failed; breaker open again")
            }
        }
    }

    fn close(&self) {
        self.consecutive.store(0, Ordering::Relaxed);
        self.window.clear();
        let settings = self.settings.load();
        self.backoff_ms
            .store(millis(settings.open_for), Ordering::Relaxed);
        self.set_state(State::Closed);
        self.probing.store(false, Ordering::Release);
        let service = &*self.service;
        tracing::info!(target: "strangler::breaker", service, "breaker closed");
    }

    fn set_state(&self, state: State) {
        self.state.store(state as u8, Ordering::Release);
        self.gauge.set(f64::from(state as u8));
    }

    fn ms(&self, now: Instant) -> u64 {
        millis(now.saturating_duration_since(self.epoch))
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
