//! The `tenant:` section: the sources a request's tenant is read from (header, subdomain,
//! path, or a verified `jwt:` source alone), what a request without one gets, and the
//! headers the upstreams read it from, which a client must not be able to set.

use super::header::header_name;
use super::jwt::{self, KeyReader};
use super::paths::PathCase;
use super::problems::Problems;
use super::raw::{RawTenant, RawTenantSource};
use super::DEFAULT_FORWARD_HEADER;
use crate::pattern::{Pattern, Segment};
use crate::route::HostMatch;
use crate::tenant::{TenantResolver, TenantSource};

/// The `tenant:` section compiled; `None` where it had a problem.
pub(super) struct TenantSection {
    /// `tenant.sources` and `tenant.on_invalid`.
    pub(super) resolver: Option<TenantResolver>,
    /// `tenant.forward_header`, lowercase.
    pub(super) forward: Option<Box<str>>,
    /// `tenant.strip_headers`, lowercase.
    pub(super) strip: Option<Vec<Box<str>>>,
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
    }
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
