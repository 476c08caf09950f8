//! Validation of `routes:`: each route on its own (service defined, pattern, methods,
//! host, header/cookie/query conditions in `conditions`, percentage, override tenant ids), then across routes (unique names, and no two
//! equally specific routes that can match the same request, since neither could win).

use std::collections::HashMap;
use std::sync::Arc;

use crate::pattern::Pattern;
use crate::rollout::percent_to_basis_points;
use crate::route::{HostMatch, Route};
use crate::route_condition::Condition;
use crate::tenant::check_tenant_id;

use super::paths::PathCase;
use super::problems::Problems;
use super::raw::{RawMatch, RawRoute};

/// Validates every route, their patterns compared under `case`; None if any is invalid
/// (the problems say why).
pub(super) fn validate(
    raw: Vec<RawRoute>,
    services: &[&str],
    case: PathCase,
    problems: &mut Problems<'_>,
) -> Option<Vec<Route>> {
    check_unique_names(&raw, problems);
    let total = raw.len();
    let routes: Vec<(usize, Route)> = raw
        .into_iter()
        .enumerate()
        .filter_map(|(index, route)| {
            let route = route_of(index, route, services, case, problems)?;
            Some((index, route))
        })
        .collect();
    check_overlaps(&routes, problems);
    (routes.len() == total).then(|| {
        let numbered = routes.into_iter().enumerate();
        numbered
            .map(|(index, (_, route))| Route { index, ..route })
            .collect()
    })
}

/// Route names become metric labels, log fields and the `x-strangler-decision` header, so
/// they are restricted to characters that are safe in all three.
fn check_route_name(name: &str) -> Result<(), String> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    match name {
        "" => Err("route name must not be empty".to_string()),
        _ if name.len() > 128 => Err(format!("route name {name:?} is longer than 128 characters")),
        _ if !name.bytes().all(allowed) => Err(format!(
            "route name {name:?} may only use letters, digits, '.', '_' and '-'"
        )),
        _ => Ok(()),
    }
}

fn check_unique_names(raw: &[RawRoute], problems: &mut Problems<'_>) {
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (index, route) in raw.iter().enumerate() {
        if let Err(reason) = check_route_name(&route.name) {
            problems.at_value(&format!("routes[{index}].name"), reason);
        }
        if let Some(&earlier) = first.get(route.name.as_str()) {
            let message = format!(
                "duplicate route name {:?} (first defined at {})",
                route.name,
                problems.place(&format!("routes[{earlier}].name"))
            );
            problems.at_value(&format!("routes[{index}].name"), message);
        } else {
            first.insert(&route.name, index);
        }
    }
}

/// Compiles one route, recording each of its problems.
fn route_of(
    index: usize,
    raw: RawRoute,
    services: &[&str],
    case: PathCase,
    problems: &mut Problems<'_>,
) -> Option<Route> {
    let at = |field: &str| format!("routes[{index}].{field}");
    let name = raw.name.as_str();
    let service_index = services.iter().position(|service| *service == raw.service);
    if service_index.is_none() {
        let message = format!("undefined service {:?} in route {name:?}", raw.service);
        problems.at_value(&at("service"), message);
    }
    let matcher = route_match(index, name, &raw.matcher, case, problems);
    let percent = percent_to_basis_points(raw.rollout.percent)
        .map_err(|message| {
            problems.at_value(&at("rollout.percent"), format!("route {name:?}: {message}"))
        })
        .ok();
    for tenant in raw.rollout.tenants.keys() {
        if let Err(reason) = check_tenant_id(tenant) {
            let message =
                format!("route {name:?}: invalid tenant id {tenant:?} in overrides: {reason}");
            problems.at_key(&at(&format!("rollout.tenants.{tenant}")), message);
        }
    }
    if raw.cohort.as_deref() == Some("") {
        problems.at_value(
            &at("cohort"),
            format!("route {name:?}: cohort must not be empty"),
        );
    }
    let shadow = raw.shadow.as_ref().map(|policy| {
        policy
            .compile()
            .map(Arc::new)
            .map_err(|e| problems.at_value(&at("shadow"), format!("route {name:?}: {e}")))
            .ok()
    });
    let guard = raw.guard.as_ref().map(|guard| {
        super::guard::validate(&format!("routes[{index}]"), name, guard, problems).map(Arc::new)
    });
    let ramp = raw.rollout.ramp.as_ref().map(|ramp| {
        super::ramp::validate(&format!("routes[{index}]"), name, ramp, problems).map(Arc::new)
    });
    let (pattern, methods, host, conditions) = matcher?;
    let fallback = raw.fallback.as_ref().map(|fallback| {
        let at = at("fallback");
        super::fallback::validate(&at, fallback, methods.as_deref(), problems).map(Arc::new)
    });
    let rewrite = raw.rewrite.as_ref().map(|rewrite| {
        let at = at("rewrite");
        super::rewrite::validate(&at, name, rewrite, (&pattern, case), problems).map(Arc::new)
    });
    let salt = raw.cohort.unwrap_or_else(|| raw.name.clone());
    Some(Route {
        salted: crate::rollout::salted(&salt),
        salt: salt.into(),
        name: raw.name.into(),
        service: raw.service.into(),
        service_index: service_index?,
        pattern,
        methods,
        host,
        conditions,
        percent: percent?,
        overrides: raw.rollout.tenants.into_iter().collect(),
        killed: false,
        index: 0, // numbered by `validate` once every route is valid
        shadow: valid_if_present(shadow)?,
        guard: valid_if_present(guard)?,
        ramp: valid_if_present(ramp)?,
        fallback: valid_if_present(fallback)?,
        rewrite: valid_if_present(rewrite)?,
    })
}

type Matcher = (
    Pattern,
    Option<Vec<Box<str>>>,
    Option<HostMatch>,
    Box<[Condition]>,
);

/// Compiles a route's `match:` (pattern, lowercase under `case: insensitive`; uppercase
/// methods; host condition; header, cookie and query conditions).
fn route_match(
    index: usize,
    name: &str,
    raw: &RawMatch,
    case: PathCase,
    problems: &mut Problems<'_>,
) -> Option<Matcher> {
    let at = |field: &str| format!("routes[{index}].match.{field}");
    let pattern = Pattern::parse(&raw.path)
        .map(|pattern| match case {
            PathCase::Sensitive => pattern,
            PathCase::Insensitive => pattern.folded(),
        })
        .map_err(|err| problems.at_value(&at("path"), format!("route {name:?}: {err}")))
        .ok();
    let methods = raw
        .methods
        .as_ref()
        .map(|methods| route_methods(&at("methods"), name, methods, problems));
    let host = raw.host.as_deref().map(|host| {
        HostMatch::parse(host)
            .map_err(|message| problems.at_value(&at("host"), format!("route {name:?}: {message}")))
            .ok()
    });
    let conditions =
        super::conditions::compile(&format!("routes[{index}].match"), name, raw, problems);
    Some((
        pattern?,
        valid_if_present(methods)?,
        valid_if_present(host)?,
        conditions?,
    ))
}

/// An optional field's validation: absent is fine (`Some(None)`), present but invalid
/// (`Some(None)` inside) fails the whole (`None`).
fn valid_if_present<T>(field: Option<Option<T>>) -> Option<Option<T>> {
    field.map_or(Some(None), |value| value.map(Some))
}

fn route_methods(
    path: &str,
    name: &str,
    methods: &[String],
    problems: &mut Problems<'_>,
) -> Option<Vec<Box<str>>> {
    if methods.is_empty() {
        problems.at_value(
            path,
            format!("route {name:?}: methods must not be empty (omit it for any method)"),
        );
        return None;
    }
    let mut valid = true;
    for (index, method) in methods.iter().enumerate() {
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            let message = format!("route {name:?}: {method:?} is not an HTTP method");
            problems.at_value(&format!("{path}[{index}]"), message);
            valid = false;
        }
    }
    valid.then(|| {
        with_head_for_get(
            methods
                .iter()
                .map(|m| m.to_ascii_uppercase().into())
                .collect(),
        )
    })
}

/// A route that serves GET also serves HEAD (RFC 9110 9.3.2: HEAD is GET without the body),
/// so a HEAD request never lands on the other side from its GET.
fn with_head_for_get(mut methods: Vec<Box<str>>) -> Vec<Box<str>> {
    let has = |methods: &[Box<str>], m: &str| methods.iter().any(|x| &**x == m);
    if has(&methods, "GET") && !has(&methods, "HEAD") {
        methods.push("HEAD".into());
    }
    methods.dedup();
    methods
}

/// Refuses pairs of equally ranked routes that can match one request.
fn check_overlaps(routes: &[(usize, Route)], problems: &mut Problems<'_>) {
    let mut by_rank: HashMap<_, Vec<&(usize, Route)>> = HashMap::new();
    for entry in routes {
        by_rank.entry(entry.1.rank()).or_default().push(entry);
    }
    let mut pairs = Vec::new();
    for group in by_rank.values() {
        for (position, first) in group.iter().enumerate() {
            for second in &group[position + 1..] {
                if first.1.overlaps(&second.1) {
                    pairs.push((*first, *second));
                }
            }
        }
    }
    pairs.sort_unstable_by_key(|(first, second)| (first.0, second.0));
    for (first, second) in pairs {
        report_overlap(first, second, problems);
    }
}

/// Reports an overlap at the later route's pattern, naming both routes and places.
fn report_overlap(
    (first, a): &(usize, Route),
    (second, b): &(usize, Route),
    problems: &mut Problems<'_>,
) {
    let first_path = format!("routes[{first}].match.path");
    let second_path = format!("routes[{second}].match.path");
    let message = format!(
        "routes {:?} ({}) and {:?} ({}) are equally specific and can match the same request; \
         make one more specific (a literal segment, a host, methods or a header, cookie or \
         query condition) or give them disjoint methods, hosts or condition values",
        a.name,
        problems.place(&first_path),
        b.name,
        problems.place(&second_path),
    );
    problems.at_value(&second_path, message);
}
