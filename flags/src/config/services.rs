//! An entry of `services:`: a plain URL (`billing: http://127.0.0.1:3001`), or a mapping
//! that adds the service's protections (`read_timeout`, `health`, `breaker`). The raw types
//! here are part of the routes.yaml reference, like those of `raw`; `validate` checks them
//! into an [`Upstream`] and a [`ServicePolicy`], each problem located.

use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::resilience::{BreakerSettings, HealthCheck, ServicePolicy};
use crate::upstream::Upstream;
use crate::Surroundings;

use super::parse_duration;
use super::problems::Problems;
pub use super::upstream_tls::RawUpstreamTls;
use super::upstream_tls::{self, Transport};

/// `health.interval` when absent.
const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(2);
/// `health.timeout` when absent.
const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(1);
/// `health.healthy` when absent.
const DEFAULT_HEALTHY: u32 = 2;
/// `health.unhealthy` when absent.
const DEFAULT_UNHEALTHY: u32 = 3;

/// The JSON Schema pattern of `breaker.error_rate`: a percentage with its sign, or `off`.
const ERROR_RATE_PATTERN: &str = "^([0-9]+([.][0-9]{1,2})?%|off)$";

/// One entry of `services:`, either form.
#[derive(Debug)]
pub enum RawService {
    /// `billing: http://127.0.0.1:3001`: the URL alone, no protections.
    Url(String),
    /// `billing: { url: ..., read_timeout: 5s, health: {...}, breaker: {...} }` (boxed:
    /// most entries are plain URLs).
    Spec(Box<RawServiceSpec>),
}

/// The mapping form of a `services:` entry.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawServiceSpec {
    /// `url:` `http://host[:port]`, as in the plain form. Required.
    pub url: String,
    /// `read_timeout:` the longest wait for the next bytes of the service's answer, as a
    /// duration (`2s`). Past it the request fails with a timeout, which a route's
    /// `fallback.on: [timeout]` hands to legacy and the breaker counts as a failure.
    /// Default `60s`.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub read_timeout: Option<String>,
    /// `health:` an active HTTP check the proxy runs on its admin thread. Default: none.
    pub health: Option<RawHealth>,
    /// `breaker:` when the service is taken out of rotation. Default: none, unless
    /// `health:` is given, which implies a breaker with every default.
    pub breaker: Option<RawBreaker>,
    /// `tls:` how an `https://` URL is reached: `ca`, `sni`, `client_cert` and
    /// `client_key` (mTLS), `verify` ([`RawUpstreamTls`] documents each key). Default: the
    /// system's roots, the URL's host as server name.
    pub tls: Option<RawUpstreamTls>,
    /// `http2:` true speaks HTTP/2 to the upstream (ALPN `h2` over TLS, prior knowledge
    /// over cleartext), as gRPC services need. Default false (HTTP/1.1).
    pub http2: Option<bool>,
}

/// A service's `health:`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    /// `path:` asked with `GET` (e.g. `/healthz`); a 2xx or 3xx answer is healthy.
    /// Required.
    pub path: String,
    /// `interval:` time between checks. Default `2s`.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub interval: Option<String>,
    /// `timeout:` how long one check may take. Default `1s`.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub timeout: Option<String>,
    /// `healthy:` consecutive good checks that close a half-open breaker. Default 2.
    pub healthy: Option<u32>,
    /// `unhealthy:` consecutive failed checks that open the breaker. Default 3.
    pub unhealthy: Option<u32>,
}

/// A service's `breaker:`. A failure is a refused or timed-out connection, a read
/// timeout, a connection lost before the answer, or a 5xx answer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBreaker {
    /// `consecutive_failures:` failed requests in a row that open the breaker. Default 5.
    pub consecutive_failures: Option<u32>,
    /// `error_rate:` the share of failed requests in `window` that opens it, written
    /// `50%` (0 to 100, `off` for no rate rule). Default `50%`.
    #[schemars(pattern(ERROR_RATE_PATTERN))]
    pub error_rate: Option<String>,
    /// `window:` the sliding window of `error_rate`. Default `10s`.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub window: Option<String>,
    /// `min_requests:` requests in the window before `error_rate` applies. Default 20.
    pub min_requests: Option<u32>,
    /// `open_for:` how long an open breaker sends the service's traffic to legacy before
    /// one probe request (or health check) may try the service again. Default `5s`.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub open_for: Option<String>,
    /// `max_open_for:` the cap of `open_for`, which doubles after every failed probe.
    /// Default `60s`.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub max_open_for: Option<String>,
}

impl JsonSchema for RawService {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RawService".into()
    }

    /// Either form: the URL alone, or the mapping.
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A new service: its URL (`http://host[:port]`), or a mapping with `url:` and its protections.",
            "oneOf": [
                { "type": "string", "pattern": "^[a-z][a-z0-9+.-]*://" },
                generator.subschema_for::<RawServiceSpec>(),
            ],
        })
    }
}

impl<'de> Deserialize<'de> for RawService {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawService, D::Error> {
        deserializer.deserialize_any(ServiceVisitor)
    }
}

/// Reads a URL string or the mapping, keeping serde_yaml's locations inside the mapping.
struct ServiceVisitor;

impl<'de> Visitor<'de> for ServiceVisitor {
    type Value = RawService;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a service URL or a mapping with url:")
    }

    fn visit_str<E: de::Error>(self, url: &str) -> Result<RawService, E> {
        Ok(RawService::Url(url.to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawService, A::Error> {
        let spec = RawServiceSpec::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(RawService::Spec(Box::new(spec)))
    }
}

/// Checks one `services:` entry (or `legacy:`); `at` is its node path (`services.billing`),
/// `base` the directory of routes.yaml.
pub(super) fn validate(
    at: &str,
    name: &str,
    raw: &RawService,
    (base, surroundings): (&std::path::Path, &dyn Surroundings),
    problems: &mut Problems<'_>,
) -> (Option<Upstream>, Option<ServicePolicy>) {
    let resolved = |at: &str, url: &str, problems: &mut Problems<'_>| {
        Upstream::resolve(name, url, surroundings)
            .map_err(|message| problems.at_value(at, message))
            .ok()
    };
    let spec = match raw {
        RawService::Url(url) => return (resolved(at, url, problems), Some(Default::default())),
        RawService::Spec(spec) => spec,
    };
    let transport = Transport {
        tls: spec.tls.as_ref(),
        http2: spec.http2,
    };
    let upstream = resolved(&format!("{at}.url"), &spec.url, problems).and_then(|upstream| {
        upstream_tls::apply(at, upstream, transport, (base, surroundings), problems)
    });
    let read_timeout = spec
        .read_timeout
        .as_deref()
        .map(|text| positive(&format!("{at}.read_timeout"), text, problems));
    let health = spec
        .health
        .as_ref()
        .map(|raw| health(&format!("{at}.health"), raw, problems));
    let breaker = match (&spec.breaker, &spec.health) {
        (Some(raw), _) => Some(breaker(&format!("{at}.breaker"), raw, problems)),
        (None, Some(_)) => Some(Some(BreakerSettings::default())),
        (None, None) => None,
    };
    let policy = policy_of(read_timeout, health, breaker);
    (upstream, policy)
}

/// The policy when every present field is valid.
fn policy_of(
    read_timeout: Option<Option<Duration>>,
    health: Option<Option<HealthCheck>>,
    breaker: Option<Option<BreakerSettings>>,
) -> Option<ServicePolicy> {
    Some(ServicePolicy {
        read_timeout: present(read_timeout)?,
        health: present(health)?,
        breaker: present(breaker)?,
    })
}

/// Absent is fine (`Some(None)`); present but invalid fails the whole (`None`).
fn present<T>(field: Option<Option<T>>) -> Option<Option<T>> {
    field.map_or(Some(None), |value| value.map(Some))
}

fn health(at: &str, raw: &RawHealth, problems: &mut Problems<'_>) -> Option<HealthCheck> {
    if !raw.path.starts_with('/') {
        let message = format!("health path {:?} must start with '/'", raw.path);
        problems.at_value(&format!("{at}.path"), message);
    }
    let interval = duration_or(
        at,
        "interval",
        raw.interval.as_deref(),
        DEFAULT_HEALTH_INTERVAL,
        problems,
    );
    let timeout = duration_or(
        at,
        "timeout",
        raw.timeout.as_deref(),
        DEFAULT_HEALTH_TIMEOUT,
        problems,
    );
    let healthy = at_least_one(at, "healthy", raw.healthy, DEFAULT_HEALTHY, problems);
    let unhealthy = at_least_one(at, "unhealthy", raw.unhealthy, DEFAULT_UNHEALTHY, problems);
    if !raw.path.starts_with('/') {
        return None;
    }
    Some(HealthCheck {
        path: raw.path.as_str().into(),
        interval: interval?,
        timeout: timeout?,
        healthy: healthy?,
        unhealthy: unhealthy?,
    })
}

fn breaker(at: &str, raw: &RawBreaker, problems: &mut Problems<'_>) -> Option<BreakerSettings> {
    let defaults = BreakerSettings::default();
    let consecutive = at_least_one(
        at,
        "consecutive_failures",
        raw.consecutive_failures,
        defaults.consecutive_failures,
        problems,
    );
    let error_rate = match raw.error_rate.as_deref() {
        None => Some(defaults.error_rate),
        Some(text) => error_rate(text)
            .map_err(|message| problems.at_value(&format!("{at}.error_rate"), message))
            .ok(),
    };
    let window = duration_or(
        at,
        "window",
        raw.window.as_deref(),
        defaults.window,
        problems,
    );
    let min_requests = at_least_one(
        at,
        "min_requests",
        raw.min_requests,
        defaults.min_requests,
        problems,
    );
    let open_for = duration_or(
        at,
        "open_for",
        raw.open_for.as_deref(),
        defaults.open_for,
        problems,
    );
    let max_open_for = duration_or(
        at,
        "max_open_for",
        raw.max_open_for.as_deref(),
        defaults.max_open_for,
        problems,
    );
    if let (Some(open), Some(max)) = (open_for, max_open_for) {
        if max < open {
            let message =
                format!("max_open_for ({max:?}) must not be shorter than open_for ({open:?})");
            problems.at_value(&format!("{at}.max_open_for"), message);
            return None;
        }
    }
    Some(BreakerSettings {
        consecutive_failures: consecutive?,
        error_rate: error_rate?,
        window: window?,
        min_requests: min_requests?,
        open_for: open_for?,
        max_open_for: max_open_for?,
    })
}

/// `50%` (up to two decimals) in basis points, or `off`.
fn error_rate(text: &str) -> Result<Option<u16>, String> {
    if text == "off" {
        return Ok(None);
    }
    let invalid = || format!("error_rate {text:?} must be a percentage such as 50% (or off)");
    let number: f64 = text
        .strip_suffix('%')
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(invalid)?;
    if !(number > 0.0 && number <= 100.0) {
        return Err(format!(
            "error_rate {text:?} must be above 0% and at most 100%"
        ));
    }
    Ok(Some((number * 100.0).round() as u16))
}

/// The duration at `{at}.{key}`, which must be above zero; `default` when absent.
fn duration_or(
    at: &str,
    key: &str,
    text: Option<&str>,
    default: Duration,
    problems: &mut Problems<'_>,
) -> Option<Duration> {
    match text {
        None => Some(default),
        Some(text) => positive(&format!("{at}.{key}"), text, problems),
    }
}

/// A duration above zero at node `at`.
fn positive(at: &str, text: &str, problems: &mut Problems<'_>) -> Option<Duration> {
    let key = at.rsplit('.').next().unwrap_or(at);
    match parse_duration(text) {
        Ok(duration) if duration.is_zero() => {
            problems.at_value(at, format!("{key} must be greater than 0"));
            None
        }
        Ok(duration) => Some(duration),
        Err(message) => {
            problems.at_value(at, format!("{key}: {message}"));
            None
        }
    }
}

/// A count that must be at least 1; `default` when absent.
fn at_least_one(
    at: &str,
    key: &str,
    value: Option<u32>,
    default: u32,
    problems: &mut Problems<'_>,
) -> Option<u32> {
    match value {
        None => Some(default),
        Some(0) => {
            problems.at_value(&format!("{at}.{key}"), format!("{key} must be at least 1"));
            None
        }
        Some(n) => Some(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_rates_are_percentages_in_basis_points() {
        assert_eq!(error_rate("50%"), Ok(Some(5000)));
        assert_eq!(error_rate("12.5%"), Ok(Some(1250)));
        assert_eq!(error_rate("off"), Ok(None));
        for bad in ["50", "0%", "101%", "x%", ""] {
            assert!(error_rate(bad).is_err(), "{bad:?}");
        }
    }
}
