//! The `limits:` section: per-tenant request rates (with tiers for tenants that may send
//! more), the largest request body and header the proxy accepts, and how long it waits for
//! a slow client. Raw (serde) types first, each field documenting its routes.yaml key, then
//! the validated [`Limits`] the proxy enforces.
//!
//! ```yaml
//! limits:
//!   per_tenant: { rps: 100, burst: 200 }
//!   tiers: { enterprise: { rps: 1000 } }
//!   tenant_tiers: { acme: enterprise }
//!   max_body: 10MiB
//!   max_header: 32KiB
//!   client_timeout: 30s
//! ```

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::tenant::check_tenant_id;

use super::parse_duration;
use super::problems::Problems;

/// The deadline on a request head (and on a new connection's first bytes) when
/// `client_timeout` is not set: half of nginx's `client_header_timeout` (60 s), far longer
/// than any client that means to send a request needs, short enough that idle or slowloris
/// connections do not pile up.
pub const DEFAULT_CLIENT_HEAD_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest `max_header:` that means anything: Pingora refuses a request head over
/// 1 MiB (its `MAX_HEADER_SIZE`) with 400 before the proxy sees it.
pub const PINGORA_MAX_HEADER: u64 = 1_048_575;

/// `limits:`. Every key is optional; an absent key sets no limit beyond Pingora's own.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// `per_tenant: { rps: 100, burst: 200 }`: the rate every tenant gets unless
    /// `tenant_tiers` puts it in a tier. A tenant over its rate is answered 429 with
    /// `Retry-After`; other tenants are not affected. Requests without a tenant are limited
    /// by `anonymous` only. Default: no per-tenant limit.
    pub per_tenant: Option<RawRate>,
    /// `anonymous: { rps: 20, burst: 40 }`: the rate of requests without a tenant, per
    /// client address (the connection's peer), so one anonymous flood cannot starve the
    /// other anonymous clients. Over it: 429 with `Retry-After`. Default: no limit.
    pub anonymous: Option<RawRate>,
    /// `max_in_flight: 10000`: requests the proxy serves at once; one more is answered 503
    /// with `Retry-After: 1` and counted, so a flood cannot make every tenant wait.
    /// Default: no limit.
    pub max_in_flight: Option<usize>,
    /// `tiers:` named rates, e.g. `{ enterprise: { rps: 1000 } }`, for the tenants
    /// `tenant_tiers` assigns to them.
    #[serde(default)]
    pub tiers: BTreeMap<String, RawRate>,
    /// `tenant_tiers:` tenant id to tier name, e.g. `{ acme: enterprise }`; each tier must
    /// be defined in `tiers`.
    #[serde(default)]
    pub tenant_tiers: BTreeMap<String, String>,
    /// `max_body:` the largest request body, in `B`, `KiB`, `MiB` or `GiB` (`10MiB`). A
    /// `Content-Length` over it is answered 413 before anything goes upstream; a body
    /// without one (chunked, h2) is cut off when it grows past it. Default: no limit.
    #[schemars(pattern(crate::shadow_policy::SIZE_PATTERN))]
    pub max_body: Option<String>,
    /// `max_header:` the largest request head (request line plus every header, as
    /// `name: value\r\n`), at most 1MiB (Pingora's own limit). Over it the proxy answers
    /// 431. Default: 64KiB for HTTP/1 heads (the proxy's head check), Pingora's h2 limit.
    #[schemars(pattern(crate::shadow_policy::SIZE_PATTERN))]
    pub max_header: Option<String>,
    /// `client_timeout:` how long a client may take (`10s`) to send a whole request head
    /// (from a new connection's accept, or from the first bytes of a kept-alive
    /// connection's next request; for h2c the preface, its SETTINGS and the first HEADERS)
    /// else it is disconnected, the longest wait for the next bytes of a request body
    /// (else 408; an HTTP/2 stream is reset), and the longest a response write may wait for
    /// the client to take it (else the connection, or the HTTP/2 stream, is cut). Default:
    /// [`DEFAULT_CLIENT_HEAD_TIMEOUT`] for heads, 60 s per body read (Pingora's), no write
    /// timeout.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub client_timeout: Option<String>,
}

/// A rate: `{ rps: 100, burst: 200 }`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRate {
    /// `rps:` requests per second refilled into the tenant's bucket, greater than 0
    /// (fractions allowed: `0.5` is one request every two seconds).
    pub rps: f64,
    /// `burst:` the bucket's size: how many requests a tenant idle for a while may send at
    /// once, at least 1. Default: `rps` rounded up.
    pub burst: Option<u32>,
}

/// A validated rate: tokens refilled per second into a bucket of `burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests per second.
    pub per_second: f64,
    /// The bucket's size, at least 1.
    pub burst: f64,
}

/// Which rate each tenant gets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RatePolicy {
    /// `per_tenant:`, for tenants in no tier; `None` leaves them unlimited.
    default: Option<Rate>,
    /// `tenant_tiers:` resolved to the tier's rate.
    by_tenant: HashMap<Box<str>, Rate>,
}

impl RatePolicy {
    /// The rate `tenant` is held to; `None` when it is not limited.
    pub fn rate_for(&self, tenant: &str) -> Option<Rate> {
        self.by_tenant.get(tenant).copied().or(self.default)
    }

    /// `per_tenant:`, the rate of tenants in no tier.
    pub fn per_tenant(&self) -> Option<Rate> {
        self.default
    }

    /// How many tenants `tenant_tiers` puts in a tier.
    pub fn tiered_tenants(&self) -> usize {
        self.by_tenant.len()
    }

    /// Whether any tenant is limited at all.
    pub fn is_active(&self) -> bool {
        self.default.is_some() || !self.by_tenant.is_empty()
    }
}

/// The validated `limits:` section.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    /// Per-tenant rates.
    pub rates: RatePolicy,
    /// `max_body:` in bytes.
    pub max_body: Option<u64>,
    /// `max_header:` in bytes.
    pub max_header: Option<u64>,
    /// `client_timeout:`.
    pub client_timeout: Option<Duration>,
    /// `anonymous:`: the rate of each client address's requests without a tenant.
    pub anonymous: Option<Rate>,
    /// `max_in_flight:`: requests served at once.
    pub max_in_flight: Option<usize>,
}

impl Limits {
    /// How long a client may take to send a request head: `client_timeout`, or
    /// [`DEFAULT_CLIENT_HEAD_TIMEOUT`].
    pub fn head_timeout(&self) -> Duration {
        self.client_timeout.unwrap_or(DEFAULT_CLIENT_HEAD_TIMEOUT)
    }
}

/// Validates `limits:`, recording each problem at its node.
pub(super) fn validate(raw: RawLimits, problems: &mut Problems<'_>) -> Option<Limits> {
    let default = match &raw.per_tenant {
        None => Some(None),
        Some(rate) => rate_of("limits.per_tenant", rate, problems).map(Some),
    };
    let tiers: BTreeMap<&str, Option<Rate>> = raw
        .tiers
        .iter()
        .map(|(name, rate)| {
            (
                name.as_str(),
                rate_of(&format!("limits.tiers.{name}"), rate, problems),
            )
        })
        .collect();
    let by_tenant = tenant_tiers(&raw.tenant_tiers, &tiers, problems);
    let max_body = size_key(
        "limits.max_body",
        raw.max_body.as_deref(),
        u64::MAX,
        problems,
    );
    let max_header = size_key(
        "limits.max_header",
        raw.max_header.as_deref(),
        PINGORA_MAX_HEADER,
        problems,
    );
    let client_timeout = duration_key(
        "limits.client_timeout",
        raw.client_timeout.as_deref(),
        problems,
    );
    let anonymous = match &raw.anonymous {
        None => Some(None),
        Some(rate) => rate_of("limits.anonymous", rate, problems).map(Some),
    };
    if raw.max_in_flight == Some(0) {
        problems.at_value(
            "limits.max_in_flight",
            "limits.max_in_flight must be at least 1",
        );
    }
    Some(Limits {
        rates: RatePolicy {
            default: default?,
            by_tenant: by_tenant?,
        },
        max_body: max_body?,
        max_header: max_header?,
        client_timeout: client_timeout?,
        anonymous: anonymous?,
        max_in_flight: raw.max_in_flight.filter(|&max| max > 0),
    })
}

/// `rps > 0` (and finite), `burst >= 1` defaulting to `rps` rounded up.
fn rate_of(at: &str, raw: &RawRate, problems: &mut Problems<'_>) -> Option<Rate> {
    if !(raw.rps.is_finite() && raw.rps > 0.0) {
        let message = format!("{at}.rps must be a number greater than 0, not {}", raw.rps);
        problems.at_value(&format!("{at}.rps"), message);
        return None;
    }
    if raw.burst == Some(0) {
        problems.at_value(
            &format!("{at}.burst"),
            format!("{at}.burst must be at least 1"),
        );
        return None;
    }
    let burst = raw.burst.map_or(raw.rps.ceil().max(1.0), f64::from);
    Some(Rate {
        per_second: raw.rps,
        burst,
    })
}

/// Resolves `tenant_tiers` to rates: valid tenant ids, defined tiers.
fn tenant_tiers(
    raw: &BTreeMap<String, String>,
    tiers: &BTreeMap<&str, Option<Rate>>,
    problems: &mut Problems<'_>,
) -> Option<HashMap<Box<str>, Rate>> {
    let mut by_tenant = HashMap::new();
    let mut valid = true;
    for (tenant, tier) in raw {
        let at = format!("limits.tenant_tiers.{tenant}");
        if let Err(reason) = check_tenant_id(tenant) {
            problems.at_key(
                &at,
                format!("tenant id {tenant:?} in limits.tenant_tiers: {reason}"),
            );
            valid = false;
        }
        match tiers.get(tier.as_str()) {
            Some(Some(rate)) => {
                by_tenant.insert(tenant.as_str().into(), *rate);
            }
            Some(None) => valid = false,
            None => {
                let message = format!(
                    "tenant {tenant:?} is in tier {tier:?}, which limits.tiers does not define"
                );
                problems.at_value(&at, message);
                valid = false;
            }
        }
    }
    valid.then_some(by_tenant)
}

/// An optional size of at least 1 byte and at most `max`; `Some(None)` when absent.
fn size_key(
    at: &str,
    text: Option<&str>,
    max: u64,
    problems: &mut Problems<'_>,
) -> Option<Option<u64>> {
    let Some(text) = text else {
        return Some(None);
    };
    match parse_size(text) {
        Some(bytes) if bytes > 0 && bytes <= max => Some(Some(bytes)),
        Some(bytes) if bytes > max => {
            problems.at_value(
                at,
                format!("{at} {text:?} is over the most it can be, {max} bytes"),
            );
            None
        }
        _ => {
            let message = format!(
                "{at} {text:?} is not a size greater than 0 (e.g. 512B, 32KiB, 10MiB, 1GiB)"
            );
            problems.at_value(at, message);
            None
        }
    }
}

/// An optional duration greater than 0; `Some(None)` when absent.
pub(super) fn duration_key(
    at: &str,
    text: Option<&str>,
    problems: &mut Problems<'_>,
) -> Option<Option<Duration>> {
    let Some(text) = text else {
        return Some(None);
    };
    match parse_duration(text) {
        Ok(duration) if !duration.is_zero() => Some(Some(duration)),
        Ok(_) => {
            problems.at_value(at, format!("{at} must be greater than 0"));
            None
        }
        Err(message) => {
            problems.at_value(at, format!("{at}: {message}"));
            None
        }
    }
}

/// Parses `512B`, `32KiB`, `10MiB` or `1GiB` into bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let scale: u64 = match unit {
        "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_b_kib_mib_and_gib() {
        assert_eq!(parse_size("512B"), Some(512));
        assert_eq!(parse_size("32KiB"), Some(32 * 1024));
        assert_eq!(parse_size("10MiB"), Some(10 << 20));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        for bad in ["", "10", "10MB", "1.5MiB", "-1B", " 1B", "KiB"] {
            assert_eq!(parse_size(bad), None, "{bad:?}");
        }
    }
}
