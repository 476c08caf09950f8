//! A route's `rewrite:`: what its new side receives instead of the client's request. The
//! raw type is part of the routes.yaml reference; `validate` checks it against the route's
//! pattern into a [`Rewrite`], each problem located at its key's value.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::pattern::{Pattern, Segment};
use crate::rewrite::Rewrite;

use super::header::header_name;
use super::paths::PathCase;
use super::problems::Problems;

/// Headers a rewrite may not set or remove: the framing and connection headers the proxy
/// and Pingora own, and `host`, which `rewrite.host` sets.
const OWNED_HEADERS: [&str; 9] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// A route's `rewrite:`, applied only to what its new side receives (served or shadowed);
/// legacy always gets the request as the client sent it. Redirects the new side answers
/// with are mapped back: a `Location` in its layout becomes the client's.
///
/// ```yaml
/// rewrite:
///   strip_prefix: /legacy/app            # /legacy/app/api/x -> /api/x
///   add_prefix: /v2                      # -> /v2/api/x
///   host: billing.internal               # Host sent to the new side
///   headers: { set: { X-Source: strangler }, remove: [X-Legacy-Session] }
/// ```
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRewrite {
    /// `strip_prefix:` leading literal segments of `match.path` removed from the path
    /// (`/legacy/app`); every request of the route starts with them, or the load fails.
    pub strip_prefix: Option<String>,
    /// `add_prefix:` segments put in front of the path (`/v2`), after `strip_prefix`.
    pub add_prefix: Option<String>,
    /// `path:` the whole path the new side receives, `{name}` taking the value of that
    /// parameter of `match.path` (`/invoices/{id}`); not with `strip_prefix` or
    /// `add_prefix`. The query string is kept as sent.
    pub path: Option<String>,
    /// `host:` the `Host` sent to the new side (`billing.internal`, port allowed).
    /// Default: the client's. `X-Forwarded-Host` keeps the client's.
    pub host: Option<String>,
    /// `headers:` `{ set: { Name: value }, remove: [Name] }`, applied after the proxy's
    /// own headers. `Host`, `Content-Length` and hop-by-hop headers cannot be named.
    #[serde(default)]
    pub headers: RawHeaderRewrite,
}

/// `rewrite.headers`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHeaderRewrite {
    /// `set:` headers set to a value (replacing what the request had).
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// `remove:` headers removed.
    #[serde(default)]
    pub remove: Vec<String>,
}

/// Checks route `name`'s `rewrite:` at node `at` against its `pattern` (compared under
/// `case`).
pub(super) fn validate(
    at: &str,
    name: &str,
    raw: &RawRewrite,
    (pattern, case): (&Pattern, PathCase),
    problems: &mut Problems<'_>,
) -> Option<Rewrite> {
    let mut report = |key: &str, message: String| {
        problems.at_value(&format!("{at}.{key}"), format!("route {name:?}: {message}"));
    };
    let strip = raw.strip_prefix.as_deref().map(|text| {
        let checked = prefix(text).and_then(|prefix| starts(pattern, &prefix, case).map(|_| text));
        checked.map_err(|m| report("strip_prefix", m)).ok()
    });
    let add = raw.add_prefix.as_deref().map(|text| {
        let checked = prefix(text).map(|_| text);
        checked.map_err(|m| report("add_prefix", m)).ok()
    });
    let template = raw.path.as_deref().map(|text| {
        let checked = template(text, pattern, raw);
        checked.map_err(|m| report("path", m)).ok()
    });
    let host = raw.host.as_deref().map(|text| {
        let checked = host(text).map(|_| text);
        checked.map_err(|m| report("host", m)).ok()
    });
    let set = set_headers(&format!("{at}.headers.set"), name, &raw.headers, problems);
    let remove = removed_headers(
        &format!("{at}.headers.remove"),
        name,
        &raw.headers,
        problems,
    );
    Some(Rewrite {
        strip: present(strip)?.map(Into::into),
        add: present(add)?.map(Into::into),
        template: present(template)?,
        host: present(host)?.map(Into::into),
        set: set?.into(),
        remove: remove?.into(),
    })
}

/// Absent is fine (`Some(None)`); present but invalid fails the whole (`None`).
fn present<T>(field: Option<Option<T>>) -> Option<Option<T>> {
    field.map_or(Some(None), |value| value.map(Some))
}

/// A prefix: literal segments, at least one (`/legacy/app`).
fn prefix(text: &str) -> Result<Pattern, String> {
    let pattern = Pattern::parse(text).map_err(|e| e.to_string())?;
    let literal = |s: &Segment| matches!(s, Segment::Literal(_));
    match !pattern.segments().is_empty() && pattern.segments().iter().all(literal) {
        true => Ok(pattern),
        false => Err(format!(
            "prefix {text:?} must be one or more literal segments, e.g. /legacy/app"
        )),
    }
}

/// Whether every path `pattern` matches starts with the literal segments of `prefix`.
fn starts(pattern: &Pattern, prefix: &Pattern, case: PathCase) -> Result<(), String> {
    let same = |(a, b): (&Segment, &Segment)| match (a, b, case) {
        (Segment::Literal(a), Segment::Literal(b), PathCase::Sensitive) => a == b,
        (Segment::Literal(a), Segment::Literal(b), PathCase::Insensitive) => {
            a.eq_ignore_ascii_case(b)
        }
        _ => false,
    };
    let segments = prefix.segments().iter().zip(pattern.segments());
    match prefix.segments().len() <= pattern.segments().len() && segments.clone().all(same) {
        true => Ok(()),
        false => Err(format!(
            "strip_prefix {:?} is not a literal prefix of match.path {:?}, so not every \
             request of the route starts with it",
            prefix.text(),
            pattern.text()
        )),
    }
}

/// `path:`: no `**`, only parameters of `pattern`, and not beside the prefixes.
fn template(text: &str, pattern: &Pattern, raw: &RawRewrite) -> Result<Pattern, String> {
    if raw.strip_prefix.is_some() || raw.add_prefix.is_some() {
        return Err(
            "path replaces the whole path: write it without strip_prefix and \
                    add_prefix"
                .to_owned(),
        );
    }
    let template = Pattern::parse(text).map_err(|e| e.to_string())?;
    let params: Vec<&str> = pattern
        .segments()
        .iter()
        .filter_map(|s| match s {
            Segment::Param(name) => Some(&**name),
            _ => None,
        })
        .collect();
    for segment in template.segments() {
        match segment {
            Segment::Globstar => return Err(format!("path {text:?} cannot end with '**'")),
            Segment::Param(name) if !params.contains(&&**name) => {
                let known = params.join(", ");
                return Err(format!(
                    "unknown parameter {{{name}}} in path {text:?}: match.path {:?} has \
                     [{known}]",
                    pattern.text()
                ));
            }
            _ => {}
        }
    }
    Ok(template)
}

/// `host:` a host name, port allowed.
fn host(text: &str) -> Result<(), String> {
    let (name, port) = text.rsplit_once(':').unwrap_or((text, "0"));
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    match name_ok && port.parse::<u16>().is_ok() {
        true => Ok(()),
        false => Err(format!(
            "host {text:?} must be a host name, optionally with :port"
        )),
    }
}

/// A header name a rewrite may name, lowercased.
fn rewritable(name: &str) -> Result<Box<str>, String> {
    let lower = header_name(name)?;
    match OWNED_HEADERS.contains(&&*lower) {
        true => Err(format!(
            "header {name:?} cannot be rewritten (the proxy owns it; for Host use rewrite.host)"
        )),
        false => Ok(lower),
    }
}

/// `headers.set`, names checked and lowercased, values visible ASCII.
fn set_headers(
    at: &str,
    route: &str,
    raw: &RawHeaderRewrite,
    problems: &mut Problems<'_>,
) -> Option<Vec<(Box<str>, Box<str>)>> {
    let mut valid = true;
    let mut set = Vec::new();
    for (name, value) in &raw.set {
        let at_entry = format!("{at}.{name}");
        let checked = rewritable(name).and_then(|lower| {
            match raw.remove.iter().any(|r| r.eq_ignore_ascii_case(name)) {
                true => Err(format!("header {name:?} is both set and removed")),
                false => Ok(lower),
            }
        });
        if let Err(message) = &checked {
            problems.at_key(&at_entry, format!("route {route:?}: {message}"));
        }
        let printable = value
            .bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
        if !printable {
            let message = format!("route {route:?}: header value {value:?} must be visible ASCII");
            problems.at_value(&at_entry, message);
        }
        match (checked, printable) {
            (Ok(lower), true) => set.push((lower, value.as_str().into())),
            _ => valid = false,
        }
    }
    valid.then_some(set)
}

/// `headers.remove`, names checked and lowercased.
fn removed_headers(
    at: &str,
    route: &str,
    raw: &RawHeaderRewrite,
    problems: &mut Problems<'_>,
) -> Option<Vec<Box<str>>> {
    let checked: Vec<Option<Box<str>>> = raw
        .remove
        .iter()
        .enumerate()
        .map(|(index, name)| {
            rewritable(name)
                .map_err(|m| {
                    problems.at_value(&format!("{at}[{index}]"), format!("route {route:?}: {m}"))
                })
                .ok()
        })
        .collect();
    checked.into_iter().collect()
}
