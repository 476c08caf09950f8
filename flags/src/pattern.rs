//! Path patterns (`/api/invoices/{id}/pdf`, `/api/**`) and request paths.
//!
//! A pattern is a `/`-separated list of literal segments, `{name}` parameters that match
//! exactly one segment, and an optional trailing `**` that matches zero or more segments.
//! Request paths are split the same way; empty segments (`//`) are kept and simply fail
//! literal matches, while `.` and `..` segments (plain or percent-encoded) are refused so a
//! request cannot climb out of the route its path appears to name.

use std::fmt;

/// Why a pattern text was refused at load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Patterns are absolute paths.
    #[error("path pattern {0:?} must start with '/'")]
    NotAbsolute(String),
    /// `a//b` or a trailing `/` in a pattern cannot be meant.
    #[error("path pattern {0:?} has an empty segment")]
    EmptySegment(String),
    /// `**` anywhere but last, or `*` inside a segment.
    #[error("path pattern {0:?}: '**' is only allowed as the whole last segment")]
    MisplacedGlobstar(String),
    /// `{}`, `{a{b}` or a brace inside a literal segment.
    #[error(
        "path pattern {0:?}: a parameter is a whole segment '{{name}}' with a name of [A-Za-z0-9_]"
    )]
    BadParameter(String),
}

/// One segment of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Must equal the request segment byte for byte.
    Literal(Box<str>),
    /// Matches any one segment; the name is kept for captures (`{tenant}`).
    Param(Box<str>),
    /// Trailing `**`: matches the rest of the path, zero or more segments.
    Globstar,
}

/// A compiled path pattern; keeps its text for `strangler explain` and errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: Box<str>,
    segments: Vec<Segment>,
}

impl Pattern {
    /// Parses and checks a pattern text.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let rest = text
            .strip_prefix('/')
            .ok_or_else(|| PatternError::NotAbsolute(text.to_owned()))?;
        let mut segments = Vec::new();
        if !rest.is_empty() {
            for raw in rest.split('/') {
                segments.push(parse_segment(raw, text)?);
            }
        }
        let globstar_before_end = segments
            .iter()
            .rev()
            .skip(1)
            .any(|segment| *segment == Segment::Globstar);
        if globstar_before_end {
            return Err(PatternError::MisplacedGlobstar(text.to_owned()));
        }
        Ok(Pattern {
            text: text.into(),
            segments,
        })
    }

    /// The pattern as written in routes.yaml.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The compiled segments, in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether the pattern ends with `**`.
    pub fn is_globstar(&self) -> bool {
        self.segments.last() == Some(&Segment::Globstar)
    }

    /// Number of literal segments.
    pub fn literal_count(&self) -> usize {
        self.count(|segment| matches!(segment, Segment::Literal(_)))
    }

    /// Number of `{name}` segments.
    pub fn param_count(&self) -> usize {
        self.count(|segment| matches!(segment, Segment::Param(_)))
    }

    fn count(&self, predicate: impl Fn(&Segment) -> bool) -> usize {
        self.segments
            .iter()
            .filter(|segment| predicate(segment))
            .count()
    }

    /// Whether some request path matches both patterns.
    pub fn overlaps(&self, other: &Pattern) -> bool {
        let (mut left, mut right) = (self.segments.iter(), other.segments.iter());
        loop {
            match (left.next(), right.next()) {
                (Some(Segment::Globstar), _) | (_, Some(Segment::Globstar)) => return true,
                (None, None) => return true,
                (None, Some(_)) | (Some(_), None) => return false,
                (Some(Segment::Literal(a)), Some(Segment::Literal(b))) if a != b => return false,
                _ => {}
            }
        }
    }

    /// The request segment matched by the parameter called `name`, if `path` matches.
    pub fn capture<'r>(&self, path: &'r str, name: &str) -> Option<&'r str> {
        let mut captured = None;
        let mut request = split(path);
        for segment in &self.segments {
            match segment {
                Segment::Globstar => return captured,
                Segment::Literal(literal) => {
                    if request.next()? != &**literal {
                        return None;
                    }
                }
                Segment::Param(param) => {
                    let value = request.next()?;
                    if &**param == name {
                        captured = Some(value);
                    }
                }
            }
        }
        request.next().is_none().then_some(captured).flatten()
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_segment(raw: &str, text: &str) -> Result<Segment, PatternError> {
    if raw.is_empty() {
        return Err(PatternError::EmptySegment(text.to_owned()));
    }
    if raw == "**" {
        return Ok(Segment::Globstar);
    }
    if raw.contains('*') {
        return Err(PatternError::MisplacedGlobstar(text.to_owned()));
    }
    if let Some(name) = raw.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        let valid =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        return match valid {
            true => Ok(Segment::Param(name.into())),
            false => Err(PatternError::BadParameter(text.to_owned())),
        };
    }
    if raw.contains(['{', '}']) {
        return Err(PatternError::BadParameter(text.to_owned()));
    }
    Ok(Segment::Literal(raw.into()))
}

/// The segments of a request path that [`check_request_path`] accepted.
///
/// `/` has no segments; `/a/` has `a` and an empty one.
pub fn split(path: &str) -> impl Iterator<Item = &str> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    let mut segments = rest.split('/');
    if rest.is_empty() {
        segments.next();
    }
    segments
}

/// Refuses request paths that are not absolute or that have a dot segment.
pub fn check_request_path(path: &str) -> Result<(), &'static str> {
    if !path.starts_with('/') {
        return Err("the path must start with '/'");
    }
    match split(path).any(is_dot_segment) {
        true => Err("'.' and '..' segments are not allowed"),
        false => Ok(()),
    }
}

/// `.`, `..` and their percent-encoded spellings (`%2e`, `.%2E`, ...).
fn is_dot_segment(segment: &str) -> bool {
    let mut rest = segment.as_bytes();
    let mut dots = 0;
    while !rest.is_empty() {
        if rest[0] == b'.' {
            rest = &rest[1..];
        } else if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(b"%2e") {
            rest = &rest[3..];
        } else {
            return false;
        }
        dots += 1;
    }
    (1..=2).contains(&dots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_must_start_with_a_slash() {
        assert!(matches!(
            Pattern::parse("api/**"),
            Err(PatternError::NotAbsolute(_))
        ));
    }

    #[test]
    fn globstar_is_only_allowed_last() {
        assert!(Pattern::parse("/a/**/b").is_err());
        assert!(Pattern::parse("/a/b*").is_err());
        assert!(Pattern::parse("/a/**").is_ok());
        assert!(Pattern::parse("/**").is_ok());
    }

    #[test]
    fn parameters_are_whole_named_segments() {
        assert!(Pattern::parse("/a/{}").is_err());
        assert!(Pattern::parse("/a/x{id}").is_err());
        assert!(Pattern::parse("/a/{i-d}").is_err());
        assert!(Pattern::parse("/a//b").is_err());
        assert!(Pattern::parse("/a/{id}").is_ok());
    }

    #[test]
    fn dot_segments_are_refused_in_any_spelling() {
        for path in ["/a/../b", "/a/.", "/%2e%2E/x", "/a/.%2e/b", "/%2E"] {
            assert!(check_request_path(path).is_err(), "{path}");
        }
        for path in ["/a/...", "/a/.b", "/a//b", "/", "/%2f"] {
            assert!(check_request_path(path).is_ok(), "{path}");
        }
        assert!(check_request_path("a/b").is_err());
    }

    #[test]
    fn capture_returns_the_named_segment() {
        let pattern = Pattern::parse("/t/{tenant}/**").unwrap();
        assert_eq!(pattern.capture("/t/acme/x/y", "tenant"), Some("acme"));
        assert_eq!(pattern.capture("/t/acme", "tenant"), Some("acme"));
        assert_eq!(pattern.capture("/u/acme", "tenant"), None);
        assert_eq!(pattern.capture("/t", "tenant"), None);
    }

    #[test]
    fn overlap_needs_a_common_path() {
        let p = |text| Pattern::parse(text).unwrap();
        assert!(p("/a/{x}").overlaps(&p("/{y}/b")));
        assert!(!p("/a/{x}").overlaps(&p("/b/{y}")));
        assert!(p("/a/**").overlaps(&p("/a/b/c")));
        assert!(!p("/a/{x}").overlaps(&p("/a/{x}/c")));
    }
}
