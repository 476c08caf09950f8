//! The `tenant:` section: the sources a request's tenant is read from (header, subdomain,
//! path, or a verified `jwt:` source alone), what a request without one gets, and the
//! headers the upstreams read it from, which a client must not be able to set.

use schemars::JsonSchema;
use serde::Deserialize;

use super::header::header_name;
use super::jwt::{self, KeyReader};
use super::paths::PathCase;
use super::problems::Problems;
use super::raw::{RawTenant, RawTenantSource};
use super::DEFAULT_FORWARD_HEADER;
use crate::pattern::{Pattern, Segment};
use crate::route::HostMatch;
use crate::tenant::anonymous::AnonymousIds;
use crate::tenant::{TenantResolver, TenantSource};
use crate::Side;

/// `tenant.anonymous`, e.g. `{ cookie: strangler_id, max_age: 30d }`: a request no source
/// names a tenant for gets a random id in this cookie (`HttpOnly; SameSite=Lax`, and
/// `Secure` on a TLS listener) and is bucketed by it for percent rollouts like a tenant,
/// so it stays on its side. The id is never a tenant: it matches no `rollout.tenants`
/// override, and the cookie is never forwarded upstream. A malformed id is replaced.
/// Not with `tenant.default: new`, which it replaces. Default: off.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAnonymous {
    /// `cookie:` the cookie's name. Default `strangler_id`.
    pub cookie: Option<String>,
    /// `max_age:` how long a browser keeps it, a duration (`30d`, `12h`). Default `30d`.
    #[schemars(pattern(crate::shadow_policy::DURATION_PATTERN))]
    pub max_age: Option<String>,
}

/// The anonymous cookie's name when `tenant.anonymous.cookie` is absent.
const DEFAULT_ANONYMOUS_COOKIE: &str = "strangler_id";
/// Its lifetime when `tenant.anonymous.max_age` is absent: 30 days.
const DEFAULT_ANONYMOUS_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// The `tenant:` section compiled; `None` where it had a problem.
pub(super) struct TenantSection {
    /// `tenant.sources` and `tenant.on_invalid`.
    pub(super) resolver: Option<TenantResolver>,
    /// `tenant.forward_header`, lowercase.
    pub(super) forward: Option<Box<str>>,
    /// `tenant.strip_headers`, lowercase.
    pub(super) strip: Option<Vec<Box<str>>>,
    /// `tenant.anonymous`, `Some(None)` when off.
    pub(super) anonymous: Option<Option<AnonymousIds>>,
}

/// Compiles `tenant.sources`, `tenant.on_invalid`, `tenant.forward_header` and
/// `tenant.strip_headers`.
pub(super) fn tenant_section(
    tenant: RawTenant,
    keys: &KeyReader<'_>,
    case: PathCase,
    problems: &mut Problems<'_>,
) -> TenantSection {
    check_verified_alone(&tenant, problems);
    check_verified_forwarding(&tenant, problems);
    let strip = strip_headers(&tenant.strip_headers, problems);
    let anonymous = match &tenant.anonymous {
        None => Some(None),
        Some(raw) => anonymous_ids(raw, tenant.default, problems).map(Some),
    };
    let compiled: Vec<Option<TenantSource>> = tenant
        .sources
        .into_iter()
        .enumerate()
        .map(|(index, source)| tenant_source(index, source, keys, case, problems))
        .collect();
    let forward = tenant.forward_header.as_deref();
    let forward = header_name(forward.unwrap_or(DEFAULT_FORWARD_HEADER))
        .map_err(|message| problems.at_value("tenant.forward_header", message))
        .ok();
    let on_invalid = tenant.on_invalid.unwrap_or_default();
    let resolver = compiled
        .into_iter()
        .collect::<Option<_>>()
        .map(|sources| TenantResolver::new(sources, on_invalid));
    TenantSection {
        resolver,
        forward,
        strip,
        anonymous,
    }
}

/// `tenant.anonymous`: a cookie name and a lifetime; not beside `tenant.default: new`,
/// which would never apply.
fn anonymous_ids(
    raw: &RawAnonymous,
    default: Side,
    problems: &mut Problems<'_>,
) -> Option<AnonymousIds> {
    if default == Side::New {
        let message = "tenant.anonymous buckets every request without a tenant, so \
                       tenant.default: new would never apply; remove one of them";
        problems.at_key("tenant.anonymous", message);
    }
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let cookie = raw.cookie.as_deref().unwrap_or(DEFAULT_ANONYMOUS_COOKIE);
    let cookie_ok = !cookie.is_empty() && cookie.bytes().all(token);
    if !cookie_ok {
        let message = format!("{cookie:?} is not a valid cookie name");
        problems.at_value("tenant.anonymous.cookie", message);
    }
    let max_age = match raw.max_age.as_deref().map(super::parse_duration) {
        None => Some(DEFAULT_ANONYMOUS_MAX_AGE),
        Some(Ok(age)) if age.as_secs() > 0 => Some(age),
        Some(Ok(_)) => {
            problems.at_value("tenant.anonymous.max_age", "max_age must be at least 1s");
            None
        }
        Some(Err(message)) => {
            problems.at_value("tenant.anonymous.max_age", message);
            None
        }
    };
    (cookie_ok && default == Side::Legacy).then_some(())?;
    Some(AnonymousIds {
        cookie: cookie.into(),
        max_age: max_age?,
    })
}

/// Under a verified (`jwt:`) source the operator names the header the upstreams read the
/// tenant from: with the default `x-strangler-tenant`, a client's own `X-Tenant-Id` would
/// reach a monolith that reads it, beside the verified tenant, and be trusted.
fn check_verified_forwarding(tenant: &RawTenant, problems: &mut Problems<'_>) {
    let verified = tenant.sources.iter().any(|s| s.jwt.is_some());
    if verified && tenant.forward_header.is_none() {
        let message = "a jwt tenant source needs tenant.forward_header: name the header your \
                       upstreams read the tenant from (e.g. X-Tenant-Id), so that the verified \
                       tenant replaces whatever a client sends in it";
        problems.at_key("tenant", message);
    }
}

/// `tenant.strip_headers`, each a valid header name, lowercased.
fn strip_headers(names: &[String], problems: &mut Problems<'_>) -> Option<Vec<Box<str>>> {
    let checked: Vec<Option<Box<str>>> = names
        .iter()
        .enumerate()
        .map(|(index, name)| {
            header_name(name)
                .map_err(|message| {
                    problems.at_value(&format!("tenant.strip_headers[{index}]"), message)
                })
                .ok()
        })
        .collect();
    checked.into_iter().collect()
}

/// A `jwt:` source must be the only source (an unverified one next to it would let a
/// client choose a tenant by leaving the token out), and `on_invalid` needs one.
fn check_verified_alone(tenant: &RawTenant, problems: &mut Problems<'_>) {
    let verified = tenant.sources.iter().filter(|s| s.jwt.is_some()).count();
    if verified > 0 && tenant.sources.len() > 1 {
        let message = "a jwt source must be the only tenant source: an unverified source next \
                       to it would let a client pick a tenant without a token";
        problems.at_value("tenant.sources", message);
    }
    if verified == 0 && tenant.on_invalid.is_some() {
        problems.at_value(
            "tenant.on_invalid",
            "on_invalid applies to a jwt tenant source, and there is none",
        );
    }
}

fn tenant_source(
    index: usize,
    source: RawTenantSource,
    keys: &KeyReader<'_>,
    case: PathCase,
    problems: &mut Problems<'_>,
) -> Option<TenantSource> {
    let (key, compiled) = match (source.header, source.subdomain, source.path, source.jwt) {
        (Some(name), None, None, None) => ("header", header_name(&name).map(TenantSource::Header)),
        (None, Some(suffix), None, None) => ("subdomain", subdomain_suffix(&suffix)),
        (None, None, Some(text), None) => ("path", tenant_path(&text, case)),
        (None, None, None, Some(raw)) => {
            let at = format!("tenant.sources[{index}].jwt");
            return jwt::jwt_source(&at, raw, keys, problems);
        }
        _ => {
            let message = "a tenant source has exactly one of header, subdomain, path or jwt";
            problems.at_value(&format!("tenant.sources[{index}]"), message);
            return None;
        }
    };
    compiled
        .map_err(|message| problems.at_value(&format!("tenant.sources[{index}].{key}"), message))
        .ok()
}

fn subdomain_suffix(suffix: &str) -> Result<TenantSource, String> {
    let host = suffix.strip_prefix('.').map(HostMatch::parse);
    match host {
        Some(Ok(HostMatch::Exact(name))) => Ok(TenantSource::Subdomain(format!(".{name}").into())),
        _ => Err(format!(
            "subdomain suffix {suffix:?} must be a host name starting with '.', e.g. .shop.example.com"
        )),
    }
}

/// A `path:` source's pattern, its literals compared under `case` like the routes'.
fn tenant_path(text: &str, case: PathCase) -> Result<TenantSource, String> {
    let pattern = Pattern::parse(text).map_err(|err| err.to_string())?;
    let pattern = match case {
        PathCase::Sensitive => pattern,
        PathCase::Insensitive => pattern.folded(),
    };
    let tenant_params = pattern
        .segments()
        .iter()
        .filter(|segment| matches!(segment, Segment::Param(name) if &**name == "tenant"))
        .count();
    match tenant_params {
        1 => Ok(TenantSource::Path(pattern)),
        _ => Err(format!(
            "tenant path pattern {text:?} must have exactly one {{tenant}} segment"
        )),
    }
}
