//! A compiled route: what it matches (pattern, methods, host, header/cookie/query
//! conditions), where its new side lives,
//! and who goes there (salt, percentage, tenant overrides, kill switch). Also defines the
//! route's [`Rank`], the precedence contract between routes that match the same request.

use std::sync::Arc;

use crate::guard::GuardPolicy;
use crate::pattern::Pattern;
use crate::ramp::RampPlan;
use crate::resilience::FallbackPolicy;
use crate::rewrite::Rewrite;
use crate::route_condition::{all_compatible, Condition};
use crate::shadow_policy::CompiledPolicy;
use crate::tenant::strip_port;
use crate::tenant_overrides::TenantOverrides;
use crate::{RequestView, Side};

/// How specific a route is; when several routes match a request the highest rank wins.
///
/// Compared field by field, in this order: more literal segments, then more `{param}`
/// segments, then an exact pattern over one ending in `**`, then more segments (together,
/// the path rank), then more header, cookie and query conditions, then a route with
/// `host:` over one without, then a route with `methods:` over one without. Two routes of
/// equal rank that can match one request are refused at load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rank {
    /// Literal segments in the pattern.
    pub literals: u16,
    /// `{name}` segments in the pattern.
    pub params: u16,
    /// True when the pattern does not end with `**`.
    pub exact: bool,
    /// All segments, `**` included.
    pub segments: u16,
    /// Header, cookie and query conditions, together.
    pub conditions: u16,
    /// The route has a `host:`.
    pub has_host: bool,
    /// The route has `methods:`.
    pub has_methods: bool,
}

/// A route's `host:` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMatch {
    /// This host exactly (lowercase).
    Exact(Box<str>),
    /// `*.example.com` as written (lowercase): any host ending with `.example.com`, with
    /// at least one character before it.
    Wildcard(Box<str>),
}

impl HostMatch {
    /// Parses `example.com` or `*.example.com`, lowercasing it.
    pub fn parse(text: &str) -> Result<HostMatch, String> {
        let lower = text.to_ascii_lowercase();
        let (wildcard, name) = match lower.strip_prefix('*') {
            Some(rest) if rest.starts_with('.') => (true, &rest[1..]),
            _ => (false, lower.as_str()),
        };
        let valid = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_');
        if name.is_empty() || !name.bytes().all(valid) {
            return Err(format!(
                "host {text:?} must be a host name without port, optionally starting with '*.'"
            ));
        }
        Ok(match wildcard {
            true => HostMatch::Wildcard(format!("*.{name}").into()),
            false => HostMatch::Exact(name.into()),
        })
    }

    /// Whether a request's host (port ignored, any case) satisfies this condition.
    pub fn matches(&self, host: &str) -> bool {
        let host = strip_port(host);
        match self {
            HostMatch::Exact(name) => host.eq_ignore_ascii_case(name),
            HostMatch::Wildcard(pattern) => ends_with_ignore_case(host, &pattern[1..], 1),
        }
    }

    /// Whether some host satisfies both conditions.
    pub fn compatible(&self, other: &HostMatch) -> bool {
        use HostMatch::{Exact, Wildcard};
        match (self, other) {
            (Exact(a), Exact(b)) => a == b,
            (Exact(name), wildcard @ Wildcard(_)) | (wildcard @ Wildcard(_), Exact(name)) => {
                wildcard.matches(name)
            }
            (Wildcard(a), Wildcard(b)) => a[1..].ends_with(&b[1..]) || b[1..].ends_with(&a[1..]),
        }
    }

    /// The condition as routes.yaml spells it (lowercase).
    pub fn text(&self) -> &str {
        match self {
            HostMatch::Exact(text) | HostMatch::Wildcard(text) => text,
        }
    }
}

/// Whether `text` ends with `suffix` (ASCII case-insensitive) after at least `min` bytes.
fn ends_with_ignore_case(text: &str, suffix: &str, min: usize) -> bool {
    text.len() >= suffix.len() + min
        && text.is_char_boundary(text.len() - suffix.len())
        && text[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// One compiled route of a snapshot.
#[derive(Debug, Clone)]
pub struct Route {
    /// The route's unique name.
    pub name: Box<str>,
    /// The name of the service serving its new side.
    pub service: Box<str>,
    pub(crate) service_index: usize,
    pub(crate) salt: Box<str>,
    /// The bucket hash's state after the salt ([`crate::rollout::salted`]).
    pub(crate) salted: u64,
    pub(crate) pattern: Pattern,
    pub(crate) methods: Option<Vec<Box<str>>>,
    pub(crate) host: Option<HostMatch>,
    /// `match.headers`, `match.cookies` and `match.query`, in that order; all must hold.
    pub(crate) conditions: Box<[Condition]>,
    pub(crate) percent: u16,
    pub(crate) overrides: TenantOverrides,
    pub(crate) killed: bool,
    pub(crate) index: usize,
    /// The compiled `shadow:` block, if the route is shadowed.
    pub(crate) shadow: Option<Arc<CompiledPolicy>>,
    /// The compiled `guard:` block, if the route rolls itself back.
    pub(crate) guard: Option<Arc<GuardPolicy>>,
    /// The compiled `rollout.ramp:` block, if the route climbs by itself.
    pub(crate) ramp: Option<Arc<RampPlan>>,
    /// The compiled `fallback:` block, if failed answers of the new side fall back.
    pub(crate) fallback: Option<Arc<FallbackPolicy>>,
    /// The compiled `rewrite:` block, if the new side receives another request.
    pub(crate) rewrite: Option<Arc<Rewrite>>,
}

impl Route {
    /// The route's unique name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The route's position in [`crate::Snapshot::routes`] (file order), so a request
    /// context can remember its route without borrowing the snapshot.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The route's shadow policy (`shadow:`, its sample possibly set at runtime), if its
    /// requests are mirrored to the other side.
    pub fn shadow(&self) -> Option<&Arc<CompiledPolicy>> {
        self.shadow.as_ref()
    }

    /// The route's gated ramp (`rollout.ramp:`), if it has one.
    pub fn ramp(&self) -> Option<&Arc<RampPlan>> {
        self.ramp.as_ref()
    }

    /// The route's rollback guard (`guard:`), if it has one.
    pub fn guard(&self) -> Option<&Arc<GuardPolicy>> {
        self.guard.as_ref()
    }

    /// The name of the service serving its new side.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The position of its service in [`crate::Snapshot::services`].
    pub fn service_index(&self) -> usize {
        self.service_index
    }

    /// The route's `fallback:`, if failed answers of its new service fall back to legacy.
    pub fn fallback(&self) -> Option<&FallbackPolicy> {
        self.fallback.as_deref()
    }

    /// The route's `rewrite:`, if its new side receives another request than the client's.
    pub fn rewrite(&self) -> Option<&Arc<Rewrite>> {
        self.rewrite.as_ref()
    }

    /// The compiled path pattern, which a rewrite reads the parameters from.
    pub fn path_pattern(&self) -> &Pattern {
        &self.pattern
    }

    /// The rollout salt: the `cohort:` if set, else the route name.
    pub fn salt(&self) -> &str {
        &self.salt
    }

    /// The rollout percentage in basis points, 0..=10000 (25 % is 2500): `rollout.percent`,
    /// or what the runtime control plane set with [`crate::Snapshot::set_percent`].
    pub fn percent_basis_points(&self) -> u16 {
        self.percent
    }

    /// The explicit tenant sides, in no particular order: `rollout.tenants`, or what the
    /// runtime control plane set with [`crate::Snapshot::set_tenant_sides`].
    pub fn tenant_overrides(&self) -> impl Iterator<Item = (&str, Side)> + '_ {
        self.overrides.iter()
    }

    /// The path pattern as written.
    pub fn pattern(&self) -> &str {
        self.pattern.text()
    }

    /// The methods the route is limited to (uppercase), or None for any method.
    pub fn methods(&self) -> Option<&[Box<str>]> {
        self.methods.as_deref()
    }

    /// The host condition as written (lowercase), or None for any host.
    pub fn host(&self) -> Option<&str> {
        self.host.as_ref().map(HostMatch::text)
    }

    /// The header, cookie and query conditions, all of which hold for a request the route
    /// matched: what `strangler explain` shows as the conditions that decided.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// Whether the kill switch is on: every request of the route goes to legacy.
    ///
    /// Always false from routes.yaml; reserved for the runtime control plane, which
    /// sets it with [`crate::Snapshot::set_killed`] on a snapshot it is building.
    pub fn killed(&self) -> bool {
        self.killed
    }

    /// The route's precedence; see [`Rank`].
    pub fn rank(&self) -> Rank {
        let count = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
        Rank {
            literals: count(self.pattern.literal_count()),
            params: count(self.pattern.param_count()),
            exact: !self.pattern.is_globstar(),
            segments: count(self.pattern.segments().len()),
            conditions: count(self.conditions.len()),
            has_host: self.host.is_some(),
            has_methods: self.methods.is_some(),
        }
    }

    /// Whether the method, host and header/cookie/query conditions let `req`, whose
    /// method and host are `method` and `host`, through.
    pub(crate) fn admits(&self, req: &impl RequestView, method: &str, host: Option<&str>) -> bool {
        let method_ok = self
            .methods
            .as_ref()
            .is_none_or(|methods| methods.iter().any(|m| **m == *method));
        let host_ok = match (&self.host, host) {
            (None, _) => true,
            (Some(condition), Some(host)) => condition.matches(host),
            (Some(_), None) => false,
        };
        method_ok && host_ok && self.conditions.iter().all(|c| c.holds(req))
    }

    /// Whether some request could match both routes (pattern, methods, host and
    /// conditions).
    pub(crate) fn overlaps(&self, other: &Route) -> bool {
        let methods = match (&self.methods, &other.methods) {
            (Some(a), Some(b)) => a.iter().any(|m| b.contains(m)),
            _ => true,
        };
        let hosts = match (&self.host, &other.host) {
            (Some(a), Some(b)) => a.compatible(b),
            _ => true,
        };
        methods
            && hosts
            && all_compatible(&self.conditions, &other.conditions)
            && self.pattern.overlaps(&other.pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_hosts_match_subdomains_only() {
        let wildcard = HostMatch::parse("*.Example.com").unwrap();
        assert!(wildcard.matches("a.example.com:8080"));
        assert!(wildcard.matches("a.b.EXAMPLE.com"));
        assert!(!wildcard.matches("example.com"));
        assert!(!wildcard.matches("aexample.com"));
    }

    #[test]
    fn exact_hosts_ignore_case_and_port() {
        let exact = HostMatch::parse("api.example.com").unwrap();
        assert!(exact.matches("API.example.com:443"));
        assert!(!exact.matches("x.api.example.com"));
        assert!(HostMatch::parse("a.com:80").is_err());
        assert!(HostMatch::parse("a.*.com").is_err());
    }

    #[test]
    fn host_compatibility_needs_a_common_host() {
        let host = |text| HostMatch::parse(text).unwrap();
        assert!(host("*.a.com").compatible(&host("x.a.com")));
        assert!(host("*.a.com").compatible(&host("*.b.a.com")));
        assert!(!host("*.a.com").compatible(&host("a.com")));
        assert!(!host("x.com").compatible(&host("y.com")));
    }
}
