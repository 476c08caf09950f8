//! A route's `rewrite:` compiled: how the request its new side receives differs from the
//! client's (path, `Host`, headers), and the inverse that maps a `Location` the new side
//! answers with back into the client's layout. Pure string work over the normalised path
//! the route matched; the proxy applies it (`proxy/src/request/rewrite.rs`) only when the
//! new side serves or shadows, so legacy always gets the request as the client sent it.
//! Nothing here runs in the decision: a route without `rewrite:` pays nothing.

use crate::pattern::{split, Pattern, Segment};

/// What a route's new side receives instead of the client's request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewrite {
    /// `strip_prefix`, as written (`/legacy/app`): this many leading segments of the
    /// client's path are dropped. Validation made them literals of the route's pattern, so
    /// every request of the route starts with them.
    pub(crate) strip: Option<Box<str>>,
    /// `add_prefix` (`/v2`), put in front of what is left.
    pub(crate) add: Option<Box<str>>,
    /// `path` (`/invoices/{id}`): the whole upstream path, its parameters taken from the
    /// route's pattern. Exclusive with `strip` and `add`.
    pub(crate) template: Option<Pattern>,
    /// `host`: the `Host` sent upstream instead of the client's.
    pub(crate) host: Option<Box<str>>,
    /// `headers.set`, names lowercase, set after the proxy's own headers.
    pub(crate) set: Box<[(Box<str>, Box<str>)]>,
    /// `headers.remove`, names lowercase.
    pub(crate) remove: Box<[Box<str>]>,
}

impl Rewrite {
    /// Whether the path changes (`strip_prefix`, `add_prefix` or `path`).
    pub fn changes_path(&self) -> bool {
        self.strip.is_some() || self.add.is_some() || self.template.is_some()
    }

    /// `host`, if the new side gets another `Host` than the client's.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// `headers.set`: (lowercase name, value), set after the proxy's own headers.
    pub fn set_headers(&self) -> &[(Box<str>, Box<str>)] {
        &self.set
    }

    /// `headers.remove`: lowercase names removed from what the new side receives.
    pub fn removed_headers(&self) -> &[Box<str>] {
        &self.remove
    }

    /// The path the new side receives for the normalised client `path`, which `pattern`
    /// (the route's) matched; None when the path does not change, or (never after a match)
    /// when a parameter of `path:` has no value.
    pub fn upstream_path(&self, pattern: &Pattern, path: &str) -> Option<String> {
        if let Some(template) = &self.template {
            return from_template(template, pattern, path);
        }
        if !self.changes_path() {
            return None;
        }
        let strip = self.strip.as_deref().map_or(0, |s| split(s).count());
        let rest = after_segments(path, strip);
        Some(joined(self.add.as_deref().unwrap_or(""), rest))
    }

    /// The client's path for a path in the new side's layout (a `Location`), the inverse
    /// of [`Rewrite::upstream_path`]; None when it has no inverse: outside `add_prefix`, not
    /// of the `path:` template's shape, or a route pattern with `**` under `path:`.
    pub fn client_path(&self, pattern: &Pattern, upstream: &str) -> Option<String> {
        if let Some(template) = &self.template {
            return into_pattern(template, pattern, upstream);
        }
        let rest = match self.add.as_deref() {
            None => upstream,
            Some(add) => strip_segments(upstream, add)?,
        };
        Some(joined(self.strip.as_deref().unwrap_or(""), rest))
    }

    /// The client's `Location` for one the new side sent, when it changes: a path, or an
    /// absolute URL on `sent_host` (the `Host` the new side got), whose host becomes
    /// `client_host` when `rewrite.host` replaced it. Query and fragment are kept. Other
    /// forms (relative, another host) are left as they are.
    pub fn client_location(
        &self,
        pattern: &Pattern,
        location: &str,
        sent_host: Option<&str>,
        client_host: Option<&str>,
    ) -> Option<String> {
        let (origin, rest) = split_origin(location)?;
        let origin = match origin {
            None => String::new(),
            Some((scheme, authority)) => {
                if !sent_host.is_some_and(|h| h.eq_ignore_ascii_case(authority)) {
                    return None;
                }
                let host = match self.host.is_some() {
                    true => client_host?,
                    false => authority,
                };
                format!("{scheme}://{host}")
            }
        };
        let end = rest.find(['?', '#']).unwrap_or(rest.len());
        let (path, suffix) = rest.split_at(end);
        let mapped = match self.changes_path() {
            true => self.client_path(pattern, path)?,
            false => path.to_owned(),
        };
        let changed = format!("{origin}{mapped}{suffix}");
        (changed != location).then_some(changed)
    }
}

/// `path:` filled with the values `pattern` captured from `path`.
fn from_template(template: &Pattern, pattern: &Pattern, path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len());
    for segment in template.segments() {
        out.push('/');
        match segment {
            Segment::Literal(text) => out.push_str(text),
            Segment::Param(name) => out.push_str(pattern.capture(path, name)?),
            Segment::Globstar => return None,
        }
    }
    Some(if out.is_empty() { "/".to_owned() } else { out })
}

/// The route's pattern filled with the values `template` captures from `upstream`.
fn into_pattern(template: &Pattern, pattern: &Pattern, upstream: &str) -> Option<String> {
    let mut out = String::with_capacity(upstream.len());
    for segment in pattern.segments() {
        out.push('/');
        match segment {
            Segment::Literal(text) => out.push_str(text),
            Segment::Param(name) => out.push_str(template.capture(upstream, name)?),
            Segment::Globstar => return None,
        }
    }
    // A template without parameters captures nothing: check its shape all the same.
    template.matches(upstream).then_some(())?;
    Some(if out.is_empty() { "/".to_owned() } else { out })
}

/// `path` after its first `count` segments (`""`, or starting with `/`).
fn after_segments(path: &str, count: usize) -> &str {
    let mut rest = path;
    for _ in 0..count {
        let tail = rest.strip_prefix('/').unwrap_or(rest);
        rest = tail.find('/').map_or("", |slash| &tail[slash..]);
    }
    rest
}

/// `path` without the segments of `prefix` in front, if it starts with them.
fn strip_segments<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// `prefix` + `rest`, or `/` when both are empty.
fn joined(prefix: &str, rest: &str) -> String {
    match (prefix, rest) {
        ("", "") => "/".to_owned(),
        _ => format!("{prefix}{rest}"),
    }
}

/// A `Location`'s scheme and authority (None for a path-absolute one) and the rest; None
/// for a form that is not mapped (relative, scheme-relative, another scheme).
fn split_origin(location: &str) -> Option<(Option<(&str, &str)>, &str)> {
    if location.starts_with('/') && !location.starts_with("//") {
        return Some((None, location));
    }
    let (scheme, after) = location.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    match rest.starts_with('/') {
        true => Some((Some((scheme, authority)), rest)),
        false => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> Pattern {
        Pattern::parse(text).unwrap()
    }

    fn prefixes(strip: Option<&str>, add: Option<&str>) -> Rewrite {
        Rewrite {
            strip: strip.map(Into::into),
            add: add.map(Into::into),
            ..Rewrite::default()
        }
    }

    #[test]
    fn strip_prefix_drops_the_leading_segments_and_add_prefix_goes_in_front() {
        let route = pattern("/legacy/app/**");
        let rewrite = prefixes(Some("/legacy/app"), Some("/v2"));
        let upstream = |path| rewrite.upstream_path(&route, path).unwrap();
        assert_eq!(upstream("/legacy/app/api/x"), "/v2/api/x");
        assert_eq!(upstream("/legacy/app/"), "/v2/");
        assert_eq!(upstream("/legacy/app"), "/v2");
        let stripped = prefixes(Some("/legacy/app"), None);
        assert_eq!(stripped.upstream_path(&route, "/legacy/app").unwrap(), "/");
    }

    #[test]
    fn prefixes_map_back_on_segment_boundaries_only() {
        let route = pattern("/legacy/app/**");
        let rewrite = prefixes(Some("/legacy/app"), Some("/v2"));
        let client = |path| rewrite.client_path(&route, path);
        assert_eq!(client("/v2/invoices/7").unwrap(), "/legacy/app/invoices/7");
        assert_eq!(client("/v2").unwrap(), "/legacy/app");
        assert_eq!(client("/v20/x"), None);
        assert_eq!(client("/other"), None);
    }

    #[test]
    fn a_path_template_takes_the_match_parameters_and_maps_back() {
        let route = pattern("/legacy/app/api/invoices/{id}");
        let rewrite = Rewrite {
            template: Some(pattern("/invoices/{id}")),
            ..Rewrite::default()
        };
        let path = "/legacy/app/api/invoices/42";
        assert_eq!(rewrite.upstream_path(&route, path).unwrap(), "/invoices/42");
        let back = rewrite.client_path(&route, "/invoices/7").unwrap();
        assert_eq!(back, "/legacy/app/api/invoices/7");
        assert_eq!(rewrite.client_path(&route, "/receipts/7"), None);
        let globstar = pattern("/legacy/{id}/**");
        assert_eq!(rewrite.client_path(&globstar, "/invoices/7"), None);
    }

    #[test]
    fn locations_keep_query_and_fragment_and_leave_other_hosts() {
        let route = pattern("/legacy/app/**");
        let rewrite = Rewrite {
            host: Some("billing.internal".into()),
            ..prefixes(Some("/legacy/app"), Some("/v2"))
        };
        let map = |location| {
            rewrite.client_location(
                &route,
                location,
                Some("billing.internal"),
                Some("shop.test"),
            )
        };
        assert_eq!(map("/v2/a?b=1#c").unwrap(), "/legacy/app/a?b=1#c");
        assert_eq!(
            map("http://billing.internal/v2/a").unwrap(),
            "http://shop.test/legacy/app/a"
        );
        assert_eq!(map("https://elsewhere.test/v2/a"), None);
        assert_eq!(map("relative/path"), None);
        assert_eq!(map("/not-v2"), None);
    }
}
