//! The `timeouts:` section: how long the proxy waits on an upstream to connect, to send the
//! next bytes, to take the bytes it is sent, and for the whole exchange, with overrides per
//! upstream (`legacy` or a service name). Raw (serde) types first, each field documenting its
//! routes.yaml key, then the validated [`Timeouts`].
//!
//! ```yaml
//! timeouts:
//!   connect: 1s
//!   read: 30s
//!   write: 30s
//!   total: 60s
//!   upstreams: { billing: { read: 5s, total: 10s } }
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use super::limits::duration_key;
use super::problems::Problems;
use super::DEFAULT_CONNECT_TIMEOUT;

/// `read:` and `write:` when absent: nginx's `proxy_read_timeout` default, so a backend
/// that accepts and then stalls never holds a request forever.
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(60);

/// `timeouts:`, the defaults for every upstream plus overrides by upstream name.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    /// `connect:` the longest wait for a TCP connection to an upstream. Default 1s (or the
    /// deprecated top-level `connect_timeout:`, which may not be set together with this key).
    /// A new service that does not connect in time falls back to legacy.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub connect: Option<String>,
    /// `read:` the longest wait for the next bytes from an upstream (the response head or
    /// the next body chunk). Default `60s`. A stalled upstream is answered 504.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub read: Option<String>,
    /// `write:` the longest wait for an upstream to take the next bytes of the request.
    /// Default `60s`.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub write: Option<String>,
    /// `total:` the longest the whole upstream exchange may take, from the decision to the
    /// last byte of the response: 504 if the client has not had the response head yet,
    /// else the connection is closed. After a fallback to legacy, legacy's exchange counts
    /// from the retry. Default: none.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub total: Option<String>,
    /// `upstreams:` the same keys for one upstream, by name: `legacy` or a service name,
    /// e.g. `{ billing: { read: 5s, total: 10s } }`. A key it leaves out is the default's.
    #[serde(default)]
    pub upstreams: BTreeMap<String, RawUpstreamTimeouts>,
}

/// One entry of `timeouts.upstreams`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUpstreamTimeouts {
    /// `connect:` as `timeouts.connect`, for this upstream.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub connect: Option<String>,
    /// `read:` as `timeouts.read`, for this upstream. For a service, deprecated: its own
    /// `services.<name>.read_timeout:` says the same, and this key only warns.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub read: Option<String>,
    /// `write:` as `timeouts.write`, for this upstream.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub write: Option<String>,
    /// `total:` as `timeouts.total`, for this upstream.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub total: Option<String>,
}

/// The timeouts of one upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamTimeouts {
    /// TCP connect.
    pub connect: Duration,
    /// Between two reads from the upstream.
    pub read: Duration,
    /// Between two writes to the upstream.
    pub write: Duration,
    /// The whole exchange, if bounded.
    pub total: Option<Duration>,
}

/// The validated `timeouts:` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// For every upstream without an override.
    default: UpstreamTimeouts,
    /// `timeouts.upstreams`, the defaults filled in.
    by_upstream: BTreeMap<Box<str>, UpstreamTimeouts>,
}

impl Timeouts {
    /// The timeouts of every upstream without an override.
    pub fn defaults(&self) -> &UpstreamTimeouts {
        &self.default
    }

    /// The timeouts of the upstream called `name` (`legacy` or a service).
    pub fn of(&self, name: &str) -> &UpstreamTimeouts {
        self.by_upstream.get(name).unwrap_or(&self.default)
    }

    /// Makes `read` the read timeout of the upstream called `name`: a service's own
    /// `read_timeout:` (validation refuses it beside `timeouts.upstreams.<name>.read`).
    pub(super) fn set_read(&mut self, name: &str, read: Duration) {
        let default = self.default;
        self.by_upstream.entry(name.into()).or_insert(default).read = read;
    }
}

/// Validates `timeouts:` against the upstream names; `connect_timeout` is the top-level
/// key, the default for `timeouts.connect` and refused beside it.
pub(super) fn validate(
    raw: RawTimeouts,
    connect_timeout: Option<Duration>,
    upstreams: &[&str],
    problems: &mut Problems<'_>,
) -> Option<Timeouts> {
    if connect_timeout.is_some() && raw.connect.is_some() {
        let message = format!(
            "timeouts.connect and connect_timeout (at {}) both set the connect timeout; keep one",
            problems.place("connect_timeout")
        );
        problems.at_value("timeouts.connect", message);
    }
    let base = UpstreamTimeouts {
        connect: connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        read: DEFAULT_IO_TIMEOUT,
        write: DEFAULT_IO_TIMEOUT,
        total: None,
    };
    let own = RawUpstreamTimeouts {
        connect: raw.connect,
        read: raw.read,
        write: raw.write,
        total: raw.total,
    };
    let default = upstream_timeouts("timeouts", &own, base, problems);
    let mut by_upstream = BTreeMap::new();
    for (name, overrides) in &raw.upstreams {
        let at = format!("timeouts.upstreams.{name}");
        if !upstreams.contains(&name.as_str()) {
            let message = format!(
                "timeouts for unknown upstream {name:?}: expected legacy or a service name"
            );
            problems.at_key(&at, message);
        } else if name != "legacy" && overrides.read.is_some() {
            let canonical = format!("services.{name}.read_timeout");
            problems.deprecated(&format!("{at}.read"), &canonical);
        }
        let timeouts = upstream_timeouts(&at, overrides, default.unwrap_or(base), problems);
        by_upstream.insert(name.as_str().into(), timeouts?);
    }
    Some(Timeouts {
        default: default?,
        by_upstream,
    })
}

/// `base` with the keys `raw` sets, each a duration greater than 0.
fn upstream_timeouts(
    at: &str,
    raw: &RawUpstreamTimeouts,
    base: UpstreamTimeouts,
    problems: &mut Problems<'_>,
) -> Option<UpstreamTimeouts> {
    let mut key = |name: &str, text: &Option<String>| {
        duration_key(&format!("{at}.{name}"), text.as_deref(), problems)
    };
    let connect = key("connect", &raw.connect);
    let read = key("read", &raw.read);
    let write = key("write", &raw.write);
    let total = key("total", &raw.total);
    Some(UpstreamTimeouts {
        connect: connect?.unwrap_or(base.connect),
        read: read?.unwrap_or(base.read),
        write: write?.unwrap_or(base.write),
        total: total?.or(base.total),
    })
}
/// A service's read timeout is set in one place: `services.<name>.read_timeout` or
/// `timeouts.upstreams.<name>.read`, not both (which one would win is not obvious).
pub(super) fn one_read_timeout_per_upstream(
    raw: &super::raw::RawConfig,
    problems: &mut Problems<'_>,
) {
    let legacy = std::iter::once(("legacy", &raw.legacy, "legacy".to_owned()));
    let services = (raw.services.iter()).map(|(n, s)| (n.as_str(), s, format!("services.{n}")));
    for (name, service, at) in legacy.chain(services) {
        let super::services::RawService::Spec(spec) = service else {
            continue;
        };
        let both = spec.read_timeout.is_some()
            && raw
                .timeouts
                .upstreams
                .get(name)
                .is_some_and(|t| t.read.is_some());
        if both {
            let other = problems.place(&format!("timeouts.upstreams.{name}.read"));
            problems.at_value(
                &format!("{at}.read_timeout"),
                format!("upstream {name:?} has a read timeout here and at {other}; keep one"),
            );
        }
    }
}
