//! Path patterns (`/api/invoices/{id}/pdf`, `/api/**`) and request paths.
//!
//! A pattern is a `/`-separated list of literal segments, `{name}` parameters that match
//! exactly one segment, and an optional trailing `**` that matches zero or more segments.
//! Literal segments are kept in the canonical form of `crate::request_path` (unreserved
//! escapes decoded, other escapes with uppercase hex), and request paths are matched only
//! after that module normalised them, so both sides compare byte for byte. Under
//! `paths.case: insensitive` both sides are compared in ASCII lowercase instead
//! ([`Pattern::folded`], `crate::table`).

use std::fmt;

use crate::request_path::canonical_segment;

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
    /// A literal segment with an escape no request path could carry (`%2F`, `%25`, a
    /// malformed one) or a `\`.
    #[error("path pattern {0:?}: {1}")]
    BadEscape(String, &'static str),
}

/// One segment of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Must equal the normalised request segment byte for byte; canonical form (in ASCII
    /// lowercase, escapes' hex digits included, once [`Pattern::folded`]).
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
    /// The literals are lowercase and match request segments regardless of ASCII case.
    folded: bool,
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
            folded: false,
        })
    }

    /// The pattern with its literal segments in ASCII lowercase, for `paths.case:
    /// insensitive`: the route table folds request segments the same way when it looks
    /// them up. The text stays as written.
    pub fn folded(mut self) -> Pattern {
        for segment in &mut self.segments {
            if let Segment::Literal(literal) = segment {
                *literal = literal.to_ascii_lowercase().into();
            }
        }
        self.folded = true;
        self
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

    /// Whether `path` (normalised) matches the whole pattern.
    pub fn matches(&self, path: &str) -> bool {
        let mut request = split(path);
        for segment in &self.segments {
            let equal = match (segment, request.next()) {
                (Segment::Globstar, _) => return true,
                (_, None) => return false,
                (Segment::Param(_), Some(_)) => true,
                (Segment::Literal(literal), Some(segment)) => match self.folded {
                    true => segment.eq_ignore_ascii_case(literal),
                    false => segment == &**literal,
                },
            };
            if !equal {
                return false;
            }
        }
        request.next().is_none()
    }

    /// The request segment matched by the parameter called `name`, if `path` matches.
    pub fn capture<'r>(&self, path: &'r str, name: &str) -> Option<&'r str> {
        let mut captured = None;
        let mut request = split(path);
        for segment in &self.segments {
            match segment {
                Segment::Globstar => return captured,
                Segment::Literal(literal) => {
                    let segment = request.next()?;
                    let equal = match self.folded {
                        true => segment.eq_ignore_ascii_case(literal),
                        false => segment == &**literal,
                    };
                    if !equal {
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
    let literal = canonical_segment(raw)
        .map_err(|reason| PatternError::BadEscape(text.to_owned(), reason))?;
    Ok(Segment::Literal(literal.into()))
}

/// The segments of a normalised request path.
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
    fn literal_segments_are_stored_in_canonical_form() {
        let pattern = Pattern::parse("/api/%69nvoices/a%3ab").unwrap();
        assert_eq!(pattern.text(), "/api/%69nvoices/a%3ab");
        let literals = [
            Segment::Literal("api".into()),
            Segment::Literal("invoices".into()),
        ];
        assert_eq!(pattern.segments()[..2], literals);
        assert_eq!(pattern.segments()[2], Segment::Literal("a%3Ab".into()));
        assert!(matches!(
            Pattern::parse("/a%2fb"),
            Err(PatternError::BadEscape(_, _))
        ));
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
