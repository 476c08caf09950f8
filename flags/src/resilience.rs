//! The compiled protections of the new side: a route's status fallback (which failed
//! answers of its new service legacy may replace, for which methods) and a service's
//! health check, circuit breaker and read timeout. Pure values: the proxy owns the state
//! (breaker counters, probes) and the I/O (health checks); this module only says what
//! routes.yaml asked for.

use std::time::Duration;

/// RFC 9110 9.2.2: methods whose effect is the same however often they are sent, so a
/// request the new service failed can be sent again to legacy.
pub const IDEMPOTENT_METHODS: [&str; 6] = ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"];

/// The request header that makes a non-idempotent request replayable on a route with
/// `fallback.idempotency_key: true` (the upstreams deduplicate on it).
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// Whether `method` (uppercase) is idempotent.
pub fn is_idempotent(method: &str) -> bool {
    IDEMPOTENT_METHODS.contains(&method)
}

/// Why a request was served by legacy instead of the side it was decided for: the proxy
/// records it, the access log and the decision header print [`Diversion::reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diversion {
    /// The new service could not be connected.
    Connect,
    /// The new service answered a status `fallback.on` lists (or dropped the connection).
    Status,
    /// The new service's `read_timeout` passed before its answer.
    Timeout,
    /// The service's breaker is open.
    BreakerOpen,
    /// The connection to the new service (pooled or fresh) closed before any byte of the
    /// answer, and the request was idempotent with its body buffered whole: replayed on
    /// legacy on every route, as an HTTP client retries such a request (RFC 9110 9.2.2).
    ConnectionLost,
}

impl Diversion {
    /// Every diversion, in the order of [`Diversion::index`].
    pub const ALL: [Diversion; 5] = [
        Diversion::Connect,
        Diversion::Status,
        Diversion::Timeout,
        Diversion::BreakerOpen,
        Diversion::ConnectionLost,
    ];

    /// The reason in logs and the decision header.
    pub fn reason(self) -> &'static str {
        match self {
            Diversion::Connect => "fallback:connect",
            Diversion::Status => "fallback:status",
            Diversion::Timeout => "fallback:timeout",
            Diversion::BreakerOpen => "breaker-open",
            Diversion::ConnectionLost => "fallback:connection-lost",
        }
    }

    /// The `reason` label of `strangler_fallbacks_total`.
    pub fn label(self) -> &'static str {
        match self {
            Diversion::Connect => "connect",
            Diversion::Status => "status",
            Diversion::Timeout => "timeout",
            Diversion::BreakerOpen => "breaker-open",
            Diversion::ConnectionLost => "connection-lost",
        }
    }

    /// Position in [`Diversion::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A route's `fallback:`: when legacy answers instead of a failed new service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackPolicy {
    /// The new service's statuses legacy replaces (5xx only).
    pub statuses: Vec<u16>,
    /// Whether a read timeout toward the new service falls back too.
    pub timeout: bool,
    /// The methods that may be replayed on legacy (uppercase).
    pub methods: Vec<Box<str>>,
    /// Whether a non-idempotent method in `methods` is replayed when the request carries an
    /// `Idempotency-Key` header.
    pub idempotency_key: bool,
}

impl FallbackPolicy {
    /// Whether legacy may replace an answer with `status` from the new service.
    pub fn on_status(&self, status: u16) -> bool {
        self.statuses.contains(&status)
    }

    /// Whether a request with `method` may be sent again to legacy: listed, and idempotent
    /// unless the route opted in and the request has an `Idempotency-Key`.
    pub fn replays(&self, method: &str, has_idempotency_key: bool) -> bool {
        let listed = self.methods.iter().any(|m| **m == *method);
        listed && (is_idempotent(method) || (self.idempotency_key && has_idempotency_key))
    }
}

/// What protects one new service: `read_timeout`, `health` and `breaker` of its entry in
/// `services:`. A service written as a plain URL has none of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServicePolicy {
    /// `read_timeout:`; None keeps the proxy's default.
    pub read_timeout: Option<Duration>,
    /// `health:`, the active check.
    pub health: Option<HealthCheck>,
    /// `breaker:`, also present (all defaults) when only `health:` is given: an unhealthy
    /// service needs a breaker to be taken out of rotation.
    pub breaker: Option<BreakerSettings>,
}

/// A service's active HTTP health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// The path asked with `GET`; a 2xx or 3xx answer is healthy.
    pub path: Box<str>,
    /// Time between two checks.
    pub interval: Duration,
    /// How long one check may take before it counts as failed.
    pub timeout: Duration,
    /// Consecutive good checks that close a half-open breaker.
    pub healthy: u32,
    /// Consecutive failed checks that open a closed breaker.
    pub unhealthy: u32,
}

/// When a service's breaker opens and how long it stays open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failed requests that open the breaker.
    pub consecutive_failures: u32,
    /// The share of failed requests in `window`, in basis points (5000 is 50 %), that
    /// opens the breaker once `min_requests` were seen; None: no rate rule.
    pub error_rate: Option<u16>,
    /// The sliding window of the error rate.
    pub window: Duration,
    /// Requests in the window before the rate counts.
    pub min_requests: u32,
    /// How long the breaker first stays open before a probe.
    pub open_for: Duration,
    /// The cap of `open_for`, doubled after each failed probe.
    pub max_open_for: Duration,
}

/// `breaker.consecutive_failures` when absent.
pub const DEFAULT_CONSECUTIVE_FAILURES: u32 = 5;
/// `breaker.error_rate` when absent, in basis points.
pub const DEFAULT_ERROR_RATE: u16 = 5000;
/// `breaker.window` when absent.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(10);
/// `breaker.min_requests` when absent.
pub const DEFAULT_MIN_REQUESTS: u32 = 20;
/// `breaker.open_for` when absent.
pub const DEFAULT_OPEN_FOR: Duration = Duration::from_secs(5);
/// `breaker.max_open_for` when absent.
pub const DEFAULT_MAX_OPEN_FOR: Duration = Duration::from_secs(60);

impl Default for BreakerSettings {
    fn default() -> BreakerSettings {
        BreakerSettings {
            consecutive_failures: DEFAULT_CONSECUTIVE_FAILURES,
            error_rate: Some(DEFAULT_ERROR_RATE),
            window: DEFAULT_WINDOW,
            min_requests: DEFAULT_MIN_REQUESTS,
            open_for: DEFAULT_OPEN_FOR,
            max_open_for: DEFAULT_MAX_OPEN_FOR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(idempotency_key: bool) -> FallbackPolicy {
        FallbackPolicy {
            statuses: vec![502, 503],
            timeout: true,
            methods: vec!["GET".into(), "POST".into()],
            idempotency_key,
        }
    }

    #[test]
    fn idempotent_listed_methods_replay() {
        assert!(policy(false).replays("GET", false));
        assert!(!policy(false).replays("PUT", false), "PUT is not listed");
    }

    #[test]
    fn a_post_replays_only_with_the_opt_in_and_the_header() {
        assert!(!policy(false).replays("POST", true));
        assert!(!policy(true).replays("POST", false));
        assert!(policy(true).replays("POST", true));
    }
}
