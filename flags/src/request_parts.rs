//! Lazy, allocation-free reads of the request parts a route condition can name: one cookie
//! out of `Cookie` header values, one parameter out of a query string. Nothing is parsed
//! until a route with such a condition is considered, and nothing is copied: values are
//! borrowed as sent (not percent-decoded).

use crate::{NOT_UTF8_HEADER, REPEATED_HEADER};

/// The value of cookie `name` in one `Cookie` header value (`a=1; b=2`).
///
/// A header that does not parse (a pair without `=`, an empty or non-token name, a
/// sentinel value of [`crate::RequestView::header`]) holds no cookie at all, so a garbled
/// header never matches a condition and is never an error.
pub fn cookie_in<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    if header == REPEATED_HEADER || header == NOT_UTF8_HEADER {
        return None;
    }
    let mut found = None;
    for pair in header.split(';') {
        let pair = pair.trim_matches([' ', '\t']);
        if pair.is_empty() {
            continue;
        }
        let (key, value) = pair.split_once('=')?;
        if key.is_empty() || !key.bytes().all(is_token_byte) {
            return None;
        }
        if key == name && found.is_none() {
            found = Some(unquoted(value));
        }
    }
    found
}

/// What a query parameter lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryValue<'q> {
    /// The parameter, once (an empty string for `?flag` or `?flag=`).
    One(&'q str),
    /// The parameter more than once: the upstream might read another copy than we did, so
    /// it is present but equals no value.
    Repeated,
}

/// Parameter `name` of `query` (the part after `?`, without it), compared as sent.
pub fn query_param<'q>(query: &'q str, name: &str) -> Option<QueryValue<'q>> {
    let mut found = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key != name {
            continue;
        }
        found = match found {
            None => Some(QueryValue::One(value)),
            Some(_) => return Some(QueryValue::Repeated),
        };
    }
    found
}

/// A cookie value without its optional double quotes (RFC 6265 4.1.1).
fn unquoted(value: &str) -> &str {
    let inner = value.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
    inner.unwrap_or(value)
}

/// An RFC 9110 token character (a cookie name is a token).
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        assert_eq!(cookie_in("a=1; beta=yes", "beta"), Some("yes"));
        assert_eq!(cookie_in("a=1;beta=\"yes\"", "beta"), Some("yes"));
        assert_eq!(cookie_in("a=1; Beta=yes", "beta"), None);
        assert_eq!(cookie_in("", "beta"), None);
    }

    #[test]
    fn a_cookie_header_that_does_not_parse_holds_no_cookie() {
        assert_eq!(cookie_in("beta=yes; garbage", "beta"), None);
        assert_eq!(cookie_in("=yes", "beta"), None);
        assert_eq!(cookie_in("be ta=yes", "beta"), None);
        assert_eq!(cookie_in(REPEATED_HEADER, "beta"), None);
    }

    #[test]
    fn query_parameters_are_found_once_or_repeated() {
        assert_eq!(
            query_param("api=v2&x=1", "api"),
            Some(QueryValue::One("v2"))
        );
        assert_eq!(query_param("flag&x=1", "flag"), Some(QueryValue::One("")));
        assert_eq!(
            query_param("api=v2&api=v1", "api"),
            Some(QueryValue::Repeated)
        );
        assert_eq!(query_param("apix=v2", "api"), None);
    }
}
