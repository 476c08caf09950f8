//! Tenant resolution: which customer a request belongs to. Sources are tried in the order
//! routes.yaml lists them and the first that yields a value wins; a value that is not a
//! valid tenant id is a request error (400), never silently ignored, so a typo in a header
//! cannot quietly move a customer to the other side. The `path:` source reads the
//! normalised path (see `crate::request_path`), like route matching.
//!
//! A `jwt:` source ([`jwt`]) is the one verified source, and config validation makes it the
//! only one: a routing decision is never more trusting than the identity it rests on. A
//! request without its token has no tenant (it is as anonymous as it looks; no other source
//! is asked), while a token that does not verify is [`RequestError::InvalidToken`], which
//! `tenant.on_invalid` turns into a 401 or a trip to legacy.

pub mod anonymous;
pub mod jwt;
pub(crate) mod kind;

use std::borrow::Cow;

use serde::Deserialize;

use crate::error::RequestError;
use crate::pattern::{split, Pattern};
use crate::RequestView;

pub use kind::TenantSourceKind;

/// The longest tenant id accepted, in bytes.
pub const MAX_TENANT_LEN: usize = 128;

/// `tenant.on_invalid`: the fate of a request whose bearer token does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnInvalid {
    /// Answer 401 with `WWW-Authenticate: Bearer` and a JSON error; no upstream sees it.
    #[default]
    Reject,
    /// Send it to legacy without a tenant (reason `invalid-token`).
    Legacy,
}

/// One compiled tenant source.
#[derive(Debug, Clone)]
pub enum TenantSource {
    /// Header name, lowercase.
    Header(Box<str>),
    /// Host suffix including its leading dot, lowercase (`.shop.example.com`).
    Subdomain(Box<str>),
    /// A pattern with exactly one `{tenant}` parameter.
    Path(Pattern),
    /// A verified bearer token's claim; boxed, being much larger than the others.
    Jwt(Box<jwt::JwtSource>),
}

impl TenantSource {
    /// The kind of this source.
    pub fn kind(&self) -> TenantSourceKind {
        match self {
            TenantSource::Header(_) => TenantSourceKind::Header,
            TenantSource::Subdomain(_) => TenantSourceKind::Subdomain,
            TenantSource::Path(_) => TenantSourceKind::Path,
            TenantSource::Jwt(_) => TenantSourceKind::Jwt,
        }
    }

    /// The value this source finds in `req`, whose normalised path is `path`: borrowed and
    /// not yet checked from an unverified source, owned and checked from a `jwt:` one.
    fn find<'r>(
        &self,
        req: &'r impl RequestView,
        path: &str,
    ) -> Result<Option<Cow<'r, str>>, RequestError> {
        let invalid = |reason| RequestError::InvalidTenant {
            source: self.kind(),
            reason,
        };
        let found = match self {
            TenantSource::Header(name) => req.header(name),
            TenantSource::Subdomain(suffix) => {
                req.host().and_then(|host| subdomain_label(host, suffix))
            }
            TenantSource::Path(pattern) => {
                path_tenant(pattern, req.path(), path).map_err(invalid)?
            }
            TenantSource::Jwt(jwt) => return verified(jwt, req),
        };
        Ok(found.map(Cow::Borrowed))
    }
}

/// The tenant of the token in `req`, if it carries one; an error if it does not verify.
fn verified<'r>(
    jwt: &jwt::JwtSource,
    req: &'r impl RequestView,
) -> Result<Option<Cow<'r, str>>, RequestError> {
    let Some(value) = req.header(jwt.header()) else {
        return Ok(None);
    };
    match jwt.verify(value) {
        Ok(tenant) => Ok(Some(Cow::Owned(tenant))),
        Err(reason) => Err(RequestError::InvalidToken(reason)),
    }
}

/// The `{tenant}` segment of the normalised `path`, borrowed from the request's own path
/// `raw` so it lives as long as the request (the normalised path may be a temporary copy).
///
/// Any segment of `raw` with the same bytes will do, since only the value matters. None has
/// them when the tenant was sent percent-encoded (`/t/%61cme`): that is refused rather than
/// guessed, a tenant id being plain `[A-Za-z0-9._-]`.
fn path_tenant<'r>(
    pattern: &Pattern,
    raw: &'r str,
    path: &str,
) -> Result<Option<&'r str>, &'static str> {
    let Some(value) = pattern.capture(path, "tenant") else {
        return Ok(None);
    };
    split(raw)
        .find(|segment| *segment == value)
        .map(Some)
        .ok_or("percent-encoded in the path; send it as plain characters")
}

/// The single label in front of `suffix` in `host` (port ignored, suffix case-insensitive).
///
/// The label is borrowed as sent, so it keeps the request's case: the proxy hands a
/// lowercase host (HTTP hosts are case-insensitive and clients send them lowercase).
fn subdomain_label<'r>(host: &'r str, suffix: &str) -> Option<&'r str> {
    let host = strip_port(host);
    let split = host.len().checked_sub(suffix.len())?;
    if !host.is_char_boundary(split) || !host[split..].eq_ignore_ascii_case(suffix) {
        return None;
    }
    let label = &host[..split];
    (!label.is_empty() && !label.contains('.')).then_some(label)
}

/// `host:port` -> `host`; `[::1]:80` -> `[::1]`.
pub fn strip_port(host: &str) -> &str {
    match host.rfind(':') {
        Some(colon) if !host[colon..].contains(']') => &host[..colon],
        _ => host,
    }
}

/// Checks a tenant id: 1 to 128 characters of `[A-Za-z0-9._-]`.
pub fn check_tenant_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("empty");
    }
    if id.len() > MAX_TENANT_LEN {
        return Err("longer than 128 characters");
    }
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    if id.bytes().all(allowed) {
        return Ok(());
    }
    // The sentinels start with NUL, so only a refused id can be one: no cost for the rest.
    Err(match id {
        crate::REPEATED_HEADER => "the header is repeated",
        crate::NOT_UTF8_HEADER => "the header is not UTF-8",
        _ => "characters other than [A-Za-z0-9._-]",
    })
}

/// The ordered tenant sources of a snapshot and what to do with a token that does not
/// verify.
#[derive(Debug, Clone, Default)]
pub struct TenantResolver {
    sources: Vec<TenantSource>,
    on_invalid: OnInvalid,
}

impl TenantResolver {
    /// Builds a resolver trying `sources` in order; `on_invalid` applies to a `jwt:` one.
    pub fn new(sources: Vec<TenantSource>, on_invalid: OnInvalid) -> TenantResolver {
        TenantResolver {
            sources,
            on_invalid,
        }
    }

    /// The sources, in the order they are tried.
    pub fn sources(&self) -> &[TenantSource] {
        &self.sources
    }

    /// `tenant.on_invalid`.
    pub fn on_invalid(&self) -> OnInvalid {
        self.on_invalid
    }

    /// FNV-1a 64 of the `jwt:` source's key file; 0 without one (or with a secret).
    pub fn key_files_hash(&self) -> u64 {
        let hash = |source: &TenantSource| match source {
            TenantSource::Jwt(jwt) => Some(jwt.key_files_hash()),
            _ => None,
        };
        self.sources.iter().find_map(hash).unwrap_or(0)
    }

    /// Whether the tenant comes from a verified (`jwt:`) source.
    pub fn verified(&self) -> bool {
        let jwt = |source: &TenantSource| matches!(source, TenantSource::Jwt(_));
        self.sources.iter().any(jwt)
    }

    /// The tenant of `req` and where it came from; `Ok(None)` when no source yields one.
    /// `path` is the normalised form of `req.path()`, which a `path:` source matches. The
    /// tenant is borrowed from the request, except a verified token's claim.
    pub fn resolve<'r>(
        &self,
        req: &'r impl RequestView,
        path: &str,
    ) -> Result<Option<(Cow<'r, str>, TenantSourceKind)>, RequestError> {
        for source in &self.sources {
            let kind = source.kind();
            if let Some(value) = source.find(req, path)? {
                check_tenant_id(&value).map_err(|reason| RequestError::InvalidTenant {
                    source: kind,
                    reason,
                })?;
                return Ok(Some((value, kind)));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_short_and_plain() {
        assert!(check_tenant_id("acme-1.eu_west").is_ok());
        assert!(check_tenant_id("").is_err());
        assert!(check_tenant_id("a b").is_err());
        assert!(check_tenant_id("é").is_err());
        assert!(check_tenant_id(&"a".repeat(128)).is_ok());
        assert!(check_tenant_id(&"a".repeat(129)).is_err());
    }

    #[test]
    fn subdomain_is_a_single_label_before_the_suffix() {
        let suffix = ".shop.example.com";
        assert_eq!(
            subdomain_label("acme.shop.example.com:8080", suffix),
            Some("acme")
        );
        assert_eq!(
            subdomain_label("acme.SHOP.example.com", suffix),
            Some("acme")
        );
        assert_eq!(subdomain_label("a.b.shop.example.com", suffix), None);
        assert_eq!(subdomain_label(".shop.example.com", suffix), None);
        assert_eq!(subdomain_label("shop.example.com", suffix), None);
        assert_eq!(subdomain_label("acme.other.com", suffix), None);
    }

    #[test]
    fn ports_are_stripped_from_hosts() {
        assert_eq!(strip_port("a.com:80"), "a.com");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
        assert_eq!(strip_port("a.com"), "a.com");
    }
}
