//! Loading routes.yaml: parse into [`raw`] types, then validate into a [`Config`] whose
//! every value is checked (addresses resolved and key files read through the caller's
//! [`Surroundings`], patterns compiled, percentages in basis points). Validation does not stop at the first problem: it reports all of them, each
//! located at the offending node (`routes.yaml:12:7: ...`), so `strangler check` can list
//! everything wrong with a file at once. The snapshot compiles a `Config` into lookups.

mod conditions;
mod fallback;
pub mod guard;
mod header;
mod jwt;
pub mod lifecycle;
pub mod limits;
pub mod listen;
pub mod notify;
pub mod paths;
mod problems;
mod pruned;
mod qa;
pub mod ramp;
pub mod raw;
pub mod readiness;
mod recover;
mod rewrite;
mod routes;
pub mod schema;
mod services;
pub mod telemetry;
mod tenant;
pub mod timeouts;
mod upstream_tls;
pub mod workers;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{ConfigError, ConfigErrors};
use crate::qa::QaPolicy;
use crate::resilience::ServicePolicy;
use crate::route::Route;
use crate::shadow_policy::DiffSettings;
use crate::store_url::{without_credentials, StoreUrl};
use crate::tenant::TenantResolver;
use crate::upstream::Upstream;
use crate::{Side, Surroundings};

use jwt::KeyReader;
use problems::Problems;
use raw::{RawConfig, RawService};
use tenant::tenant_section;

/// The admin listener when routes.yaml has no `admin:`.
pub const DEFAULT_ADMIN: &str = "127.0.0.1:9180";
/// The upstream tenant header when `tenant.forward_header` is absent.
pub const DEFAULT_FORWARD_HEADER: &str = "x-strangler-tenant";
/// The connect timeout when `connect_timeout` is absent.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// The runtime flag store when `store:` is absent: a SQLite file beside routes.yaml (a
/// relative path is relative to routes.yaml's directory).
pub const DEFAULT_STORE: &str = "sqlite://strangler.db";
/// The URL prefixes `store:` accepts.
const STORE_SCHEMES: [&str; 3] = ["sqlite:", "postgres://", "postgresql://"];

/// A routes.yaml file whose every value has been checked.
#[derive(Debug, Clone)]
pub struct Config {
    /// The first listener's address (the one an upgrade socket is derived from).
    pub listen: SocketAddr,
    /// `listen:`, every listener in file order; never empty.
    pub listeners: Vec<crate::tls::Listener>,
    /// `admin:` or [`DEFAULT_ADMIN`].
    pub admin: SocketAddr,
    /// `admin_tls:`, when the admin listener speaks TLS.
    pub admin_tls: Option<crate::tls::AdminTls>,
    /// `threads:`, `work_stealing:` and `alt_timer:`.
    pub workers: workers::Workers,
    /// `legacy:`, resolved.
    pub legacy: Upstream,
    /// `services:`, resolved, in name order; routes refer to them by index.
    pub services: Vec<Upstream>,
    /// `tenant.sources`.
    pub tenants: TenantResolver,
    /// `tenant.default`.
    pub default_side: Side,
    /// `tenant.anonymous`, when on.
    pub anonymous: Option<crate::tenant::anonymous::AnonymousIds>,
    /// `tenant.forward_header`, lowercase.
    pub forward_header: Box<str>,
    /// `tenant.strip_headers`, lowercase: client headers removed before a request goes
    /// upstream.
    pub strip_headers: Vec<Box<str>>,
    /// `routes:`, in file order; with `paths.case: insensitive` their literal segments are
    /// lowercase.
    pub routes: Vec<Route>,
    /// `paths.case`.
    pub path_case: paths::PathCase,
    /// `debug_headers:`.
    pub debug_headers: bool,
    /// `timeouts.connect` (or the deprecated `connect_timeout:`): the connect timeout of
    /// upstreams without their own.
    pub connect_timeout: Duration,
    /// `store:` or [`DEFAULT_STORE`], its scheme checked (prints without its password); a
    /// relative SQLite path is relative to routes.yaml's directory.
    pub store: StoreUrl,
    /// The SQLite path as written, when it was relative: releases before this one found it
    /// relative to the working directory, so the proxy looks there too (and warns) when the
    /// file is not where it is now looked for.
    pub store_written_relative: Option<Box<str>>,
    /// `diffs:`, compiled.
    pub diffs: Arc<DiffSettings>,
    /// `store_cache:`, when set (the proxy derives the default from the file's path).
    pub store_cache: Option<Box<str>>,
    /// `qa:`, compiled; `None` when absent (no force header is honoured).
    pub qa: Option<QaPolicy>,
    /// The protections of each service (`read_timeout`, `health`, `breaker`), indexed
    /// like `services`.
    pub service_policies: Vec<ServicePolicy>,
    /// `limits:`, validated.
    pub limits: limits::Limits,
    /// `timeouts:`, validated, with `connect_timeout:` as the connect default.
    pub timeouts: timeouts::Timeouts,
    /// `shutdown_grace:` and `upgrade_sock:`.
    pub lifecycle: lifecycle::Lifecycle,
    /// `telemetry.otlp`, validated; `None` when no traces are exported.
    pub otlp: Option<telemetry::Otlp>,
    /// `readiness:`, validated.
    pub readiness: readiness::Readiness,
    /// `notify:`, validated.
    pub notify: Vec<notify::NotifyTarget>,
    /// What does not stop the file loading but should be fixed (deprecated keys), located
    /// like errors, in file order.
    pub warnings: Vec<ConfigError>,
}

/// Parses and validates routes.yaml text; `origin` names the file in errors, upstream names
/// are resolved and the key files it names read (relative to the directory of `origin`)
/// through `surroundings`.
pub fn parse(
    yaml: &str,
    origin: &str,
    surroundings: &dyn Surroundings,
) -> Result<Config, ConfigErrors> {
    let mut problems = Problems::new(origin, yaml);
    let raw = read(yaml, origin, &mut problems)?;
    let base = Path::new(origin).parent().unwrap_or(Path::new(""));
    let keys = KeyReader { base, surroundings };
    let config = raw.and_then(|raw| validate(raw, &keys, &mut problems));
    let (mut config, warnings) = problems.finish(config)?;
    config.warnings = warnings;
    Ok(config)
}

/// The raw file. Text that is YAML but not a valid routes.yaml is read again past each
/// unknown key and wrong type ([`recover`]), recording all of them, and what is left (if
/// anything deserializes) is returned for validation; only a YAML syntax error stops
/// everything at once.
fn read(
    yaml: &str,
    origin: &str,
    problems: &mut Problems<'_>,
) -> Result<Option<RawConfig>, ConfigErrors> {
    let first = match serde_yaml::from_str::<RawConfig>(yaml) {
        Ok(raw) => return Ok(Some(raw)),
        Err(first) => first,
    };
    let only_first = || ConfigErrors::from(problems::syntax_error(&first, origin));
    let value = match serde_yaml::from_str::<serde_yaml::Value>(yaml) {
        Ok(serde_yaml::Value::Null) | Err(_) => return Err(only_first()),
        Ok(value) => value,
    };
    let (raw, pruned) = recover::recover(value, problems);
    problems.after_recovery(pruned);
    match problems.any() {
        false => Err(only_first()),
        true => Ok(raw),
    }
}

fn validate(raw: RawConfig, keys: &KeyReader<'_>, problems: &mut Problems<'_>) -> Option<Config> {
    timeouts::one_read_timeout_per_upstream(&raw, problems);
    let resolver = keys.surroundings;
    let files = (keys.base, resolver);
    let listeners = listen::validate(raw.listen, keys.base, resolver, problems);
    let admin_tls = listen::admin_tls(raw.admin_tls, keys.base, resolver, problems);
    let (legacy, legacy_policy) = legacy(&raw.legacy, files, problems);
    let (services, service_policies): (Vec<_>, Vec<_>) = raw
        .services
        .iter()
        .map(|(name, raw)| {
            let at = format!("services.{name}");
            services::validate(&at, name, raw, files, problems)
        })
        .unzip();
    let names: Vec<&str> = raw.services.keys().map(String::as_str).collect();
    let path_case = raw.paths.case;
    let routes = routes::validate(raw.routes, &names, path_case, problems);
    let default_side = raw.tenant.default;
    let tenant = tenant_section(raw.tenant, keys, path_case, problems);
    let connect_timeout = connect_timeout(raw.connect_timeout.as_deref(), problems);
    let limits = limits::validate(raw.limits, problems);
    let upstream_names: Vec<&str> = std::iter::once("legacy")
        .chain(names.iter().copied())
        .collect();
    let explicit_connect = raw
        .connect_timeout
        .is_some()
        .then_some(connect_timeout)
        .flatten();
    let timeouts = timeouts::validate(raw.timeouts, explicit_connect, &upstream_names, problems);
    let written = raw.store.as_ref().map(StoreUrl::expose);
    let store = store(written, problems);
    let (store, store_written_relative) = relative_to_config(store, keys.base);
    let diffs = raw
        .diffs
        .compile()
        .map_err(|e| problems.at_value("diffs", e.to_string()))
        .ok();
    if raw.store_cache.as_deref() == Some("") {
        problems.at_value("store_cache", "store_cache must name a file");
    }
    let qa = match raw.qa {
        None => Some(None),
        Some(section) => qa::qa_policy(section, keys, problems).map(Some),
    };
    let (threads, stealing, timer) = (raw.threads, raw.work_stealing, raw.alt_timer);
    let workers = workers::validate(threads, stealing, timer, keys.surroundings, problems);
    let lifecycle = lifecycle::validate(
        raw.shutdown_grace.as_deref(),
        raw.upgrade_sock.as_deref(),
        keys.base,
        problems,
    );
    let otlp = telemetry::validate(raw.telemetry, keys.surroundings, problems);
    let readiness = readiness::validate(raw.readiness, problems);
    let notify = notify::validate(raw.notify, keys.surroundings, problems);
    let service_policies: Vec<ServicePolicy> =
        service_policies.into_iter().collect::<Option<_>>()?;
    let mut timeouts = timeouts?;
    if let Some(read) = legacy_policy?.read_timeout {
        timeouts.set_read("legacy", read);
    }
    for (name, policy) in names.iter().zip(&service_policies) {
        if let Some(read) = policy.read_timeout {
            timeouts.set_read(name, read);
        }
    }
    let listeners = listeners?;
    let (routes, services) = (routes?, services.into_iter().collect::<Option<Vec<_>>>()?);
    upstream_tls::grpc_routes(&routes, &services, problems);
    Some(Config {
        listen: listeners[0].addr,
        listeners,
        admin_tls: admin_tls?,
        admin: raw
            .admin
            .unwrap_or_else(|| DEFAULT_ADMIN.parse().expect("valid default")),
        workers,
        legacy: legacy?,
        services,
        tenants: tenant.resolver?,
        default_side,
        anonymous: tenant.anonymous?,
        forward_header: tenant.forward?,
        strip_headers: tenant.strip?,
        routes,
        path_case,
        debug_headers: raw.debug_headers,
        connect_timeout: timeouts.defaults().connect,
        store: store?,
        store_written_relative,
        diffs: Arc::new(diffs?),
        store_cache: raw.store_cache.map(Into::into),
        qa: qa?,
        service_policies,
        limits: limits?,
        timeouts,
        lifecycle: lifecycle?,
        otlp: otlp?,
        readiness: readiness?,
        notify: notify?,
        warnings: Vec::new(),
    })
}

/// `legacy:`, either form; `health:` and `breaker:` are refused (legacy has nowhere to fall
/// back to), `read_timeout:` is its read timeout.
fn legacy(
    raw: &RawService,
    files: (&Path, &dyn Surroundings),
    problems: &mut Problems<'_>,
) -> (Option<Upstream>, Option<ServicePolicy>) {
    if let RawService::Spec(spec) = raw {
        for (key, written) in [
            ("health", spec.health.is_some()),
            ("breaker", spec.breaker.is_some()),
        ] {
            if written {
                let message = format!("legacy has no {key}: there is nothing to fall back to");
                problems.at_key(&format!("legacy.{key}"), message);
            }
        }
    }
    services::validate("legacy", "legacy", raw, files, problems)
}

fn connect_timeout(text: Option<&str>, problems: &mut Problems<'_>) -> Option<Duration> {
    let Some(text) = text else {
        return Some(DEFAULT_CONNECT_TIMEOUT);
    };
    problems.deprecated("connect_timeout", "timeouts.connect");
    match parse_duration(text) {
        Ok(duration) if duration.is_zero() => {
            problems.at_value("connect_timeout", "connect_timeout must be greater than 0");
            None
        }
        Ok(duration) => Some(duration),
        Err(message) => {
            problems.at_value("connect_timeout", message);
            None
        }
    }
}

/// Checks `store:` starts with a scheme the flag store speaks.
/// The store with a relative SQLite path resolved against `dir` (routes.yaml's directory),
/// and the path as written when that changed it.
fn relative_to_config(store: Option<StoreUrl>, dir: &Path) -> (Option<StoreUrl>, Option<Box<str>>) {
    let Some(store) = store else {
        return (None, None);
    };
    match crate::store_url::sqlite_relative_to(store.expose(), dir) {
        Some(resolved) => {
            let written = crate::store_url::sqlite_path(store.expose()).map(Into::into);
            (Some(StoreUrl::new(&resolved)), written)
        }
        None => (Some(store), None),
    }
}

fn store(url: Option<&str>, problems: &mut Problems<'_>) -> Option<StoreUrl> {
    let url = url.unwrap_or(DEFAULT_STORE);
    if STORE_SCHEMES.iter().any(|scheme| url.starts_with(scheme)) {
        return Some(StoreUrl::new(url));
    }
    let expected = STORE_SCHEMES.join(", ");
    let url = without_credentials(url);
    let message = format!("store {url:?}: unknown scheme; expected one of {expected}");
    problems.at_value("store", message);
    None
}

/// Parses a duration written as a whole number and a unit: `250ms`, `1s`, `2m`, `6h`,
/// `7d`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    let invalid = || format!("invalid duration {text:?}: expected e.g. 250ms, 1s or 2m");
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(number)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(invalid()),
    };
    number
        .checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_ms_s_and_m() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        for bad in ["", "1", "s", "1.5s", "1w", "-1s", " 1s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
