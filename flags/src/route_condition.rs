//! A route's header, cookie and query conditions (`match.headers`, `match.cookies`,
//! `match.query`): what each one holds for, whether two can hold for one request (the
//! overlap check at load), and how `strangler explain` names it. Regexes are compiled at
//! load with a size limit; a request only runs them, never compiles one.

use std::fmt;

use regex::{Regex, RegexBuilder};

use crate::request_parts::{query_param, QueryValue};
use crate::{RequestView, NOT_UTF8_HEADER, REPEATED_HEADER};

/// The largest compiled program a `~regex` may have, in bytes: a condition is a short
/// pattern, and a huge one would slow every request of its route.
const REGEX_SIZE_LIMIT: usize = 64 * 1024;
/// The lazy DFA cache a `~regex` may use per thread, in bytes.
const REGEX_DFA_LIMIT: usize = 256 * 1024;

/// Which part of the request a condition reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// A request header, name case-insensitive (kept lowercase).
    Header,
    /// A cookie of the `Cookie` header, name case-sensitive.
    Cookie,
    /// A query string parameter, name case-sensitive, value as sent.
    Query,
}

impl Part {
    /// `header`, `cookie` or `query`: how explain and load errors name it.
    pub fn code(self) -> &'static str {
        match self {
            Part::Header => "header",
            Part::Cookie => "cookie",
            Part::Query => "query",
        }
    }
}

/// What the value must be.
#[derive(Debug, Clone)]
pub enum ValueMatch {
    /// `"*"`: present, whatever its value.
    Present,
    /// `"~regex"`: present, and the regex finds a match in the value (unanchored: write
    /// `^` and `$` to anchor).
    Regex(Regex),
    /// Any other text: present with exactly this value (case-sensitive).
    Exact(Box<str>),
}

impl ValueMatch {
    /// Parses `*`, `~regex` or an exact value.
    pub fn parse(text: &str) -> Result<ValueMatch, String> {
        match text.strip_prefix('~') {
            _ if text == "*" => Ok(ValueMatch::Present),
            Some(pattern) => RegexBuilder::new(pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_DFA_LIMIT)
                .build()
                .map(ValueMatch::Regex)
                .map_err(|e| format!("invalid regex {pattern:?}: {}", one_line(&e.to_string()))),
            None => Ok(ValueMatch::Exact(text.into())),
        }
    }

    /// Whether a present value satisfies it; None is a value that is there but equals
    /// nothing (a repeated header or parameter, a header that is not UTF-8).
    fn holds(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (ValueMatch::Present, _) => true,
            (_, None) => false,
            (ValueMatch::Regex(regex), Some(value)) => regex.is_match(value),
            (ValueMatch::Exact(exact), Some(value)) => **exact == *value,
        }
    }

    /// Whether some value satisfies both; two regexes are assumed to share one.
    fn compatible(&self, other: &ValueMatch) -> bool {
        use ValueMatch::{Exact, Present, Regex};
        match (self, other) {
            (Present, _) | (_, Present) | (Regex(_), Regex(_)) => true,
            (Exact(a), Exact(b)) => a == b,
            (Exact(value), Regex(regex)) | (Regex(regex), Exact(value)) => regex.is_match(value),
        }
    }
}

/// A regex error on one line, so a load error stays one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One condition of a route's `match:`.
#[derive(Debug, Clone)]
pub struct Condition {
    /// Which part it reads.
    pub part: Part,
    /// The header (lowercase), cookie or parameter name.
    pub name: Box<str>,
    /// What its value must be.
    pub value: ValueMatch,
}

impl Condition {
    /// Whether `req` satisfies it. Allocation-free (a regex's per-thread cache aside, made
    /// on its first use).
    pub fn holds(&self, req: &impl RequestView) -> bool {
        match self.part {
            Part::Header => match req.header(&self.name) {
                None => false,
                Some(REPEATED_HEADER | NOT_UTF8_HEADER) => self.value.holds(None),
                Some(value) => self.value.holds(Some(value)),
            },
            Part::Cookie => req
                .cookie(&self.name)
                .is_some_and(|value| self.value.holds(Some(value))),
            Part::Query => match req.query().and_then(|q| query_param(q, &self.name)) {
                None => false,
                Some(QueryValue::Repeated) => self.value.holds(None),
                Some(QueryValue::One(value)) => self.value.holds(Some(value)),
            },
        }
    }

    /// Whether one request could satisfy both: always, unless they read the same thing and
    /// no value satisfies both.
    pub fn compatible(&self, other: &Condition) -> bool {
        self.part != other.part || self.name != other.name || self.value.compatible(&other.value)
    }
}

impl fmt::Display for Condition {
    /// `header x-beta = "1"`, `cookie beta present`, `query api ~ "^v2$"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (part, name) = (self.part.code(), &self.name);
        match &self.value {
            ValueMatch::Present => write!(f, "{part} {name} present"),
            ValueMatch::Regex(regex) => write!(f, "{part} {name} ~ {:?}", regex.as_str()),
            ValueMatch::Exact(value) => write!(f, "{part} {name} = {value:?}"),
        }
    }
}

/// Whether one request could satisfy every condition of both lists.
pub(crate) fn all_compatible(a: &[Condition], b: &[Condition]) -> bool {
    a.iter().all(|x| b.iter().all(|y| x.compatible(y)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> ValueMatch {
        ValueMatch::parse(text).unwrap()
    }

    #[test]
    fn values_are_present_regex_or_exact() {
        assert!(value("*").holds(Some("anything")));
        assert!(value("~^(4|5)\\.").holds(Some("4.2")));
        assert!(!value("~^(4|5)\\.").holds(Some("3.9")));
        assert!(value("yes").holds(Some("yes")));
        assert!(!value("yes").holds(Some("Yes")));
        assert!(!value("yes").holds(None));
        assert!(value("*").holds(None));
    }

    #[test]
    fn huge_regexes_are_refused() {
        assert!(ValueMatch::parse("~(").is_err());
        assert!(ValueMatch::parse("~\\w{1000}{1000}").is_err());
    }

    #[test]
    fn values_are_compatible_when_one_value_satisfies_both() {
        assert!(value("1").compatible(&value("*")));
        assert!(!value("1").compatible(&value("2")));
        assert!(value("4.1").compatible(&value("~^4")));
        assert!(!value("3.1").compatible(&value("~^4")));
        assert!(value("~a").compatible(&value("~b")));
    }
}
