//! The request path as the decision sees it: normalised, so that every spelling a server
//! would treat as the same resource routes the same way, and refused when no single
//! spelling can be trusted.
//!
//! The monolith and the new services normalise paths before they dispatch, so matching
//! the raw bytes would let a client pick its own side (`/api/%69nvoices/7` or
//! `/api//invoices/7` would miss the `invoices` route and reach legacy, which serves the
//! same endpoint) or escape a route (`/api/invoices/..;/admin`, `..%2f`, `%5c`,
//! `%252e%252e` all look like `invoices` to a byte matcher but may resolve to `/admin`
//! upstream). So before any rule looks at the path:
//!
//! - it must start with `/`;
//! - escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded, other escapes
//!   are kept with uppercase hex (`%3a` -> `%3A`), and `%2F`, `%5C`, `%00`, `%25` (double
//!   encoding), a literal `\` and a malformed escape are refused;
//! - runs of `/` collapse into one;
//! - a segment whose part before its first `;` is `.` or `..` once decoded is refused
//!   (`..;x` is `..` to Tomcat);
//! - matrix parameters (`;` and what follows it in a segment: `/api;jsessionid=1/x`,
//!   common in Java monoliths) are left out, as servlet containers leave them out when
//!   they dispatch, so `/api;x/invoices` cannot miss the `/api/**` route and reach legacy's
//!   copy of a migrated endpoint. An escaped `;` (`%3B`) is data and stays.
//!
//! Only the decision uses this form: the proxy forwards the request target untouched.
//! Route pattern literals are put in the same canonical form at load ([`canonical_segment`])
//! so they compare byte for byte with normalised request segments.

use std::borrow::Cow;

const NOT_ABSOLUTE: &str = "the path must start with '/'";
const BACKSLASH: &str = "'\\' is not allowed in the path";
const ENCODED_SEPARATOR: &str = "encoded '/' or '\\' is not allowed in the path";
const ENCODED_NUL: &str = "encoded NUL is not allowed in the path";
const DOUBLE_ENCODED: &str = "encoded '%' (double encoding) is not allowed in the path";
const MALFORMED_ESCAPE: &str = "'%' must be followed by two hex digits";
const DOT_SEGMENT: &str = "'.' and '..' segments are not allowed";
const MATRIX_IN_PATTERN: &str =
    "';' starts matrix parameters, which are left out when matching: leave them out of the pattern";

/// The normalised form of the request path `raw`, or why it is refused (a 400 body).
///
/// Borrows `raw` when it is already canonical (no `//`, no escape to rewrite), so the
/// common case allocates nothing.
pub(crate) fn normalize_request_path(raw: &str) -> Result<Cow<'_, str>, &'static str> {
    let rest = raw.strip_prefix('/').ok_or(NOT_ABSOLUTE)?;
    if plainly_canonical(rest) {
        return Ok(Cow::Borrowed(raw));
    }
    checked_path(raw, rest)
}

/// One pass over the bytes for the common path: no escape, no `\`, no `;`, no `//` and no
/// segment starting with `.` (every dot segment starts with `.` or an escape). Such a path is
/// canonical and has no dot segment, which is what [`checked_path`] would find segment by
/// segment.
fn plainly_canonical(rest: &str) -> bool {
    let mut previous = b'/';
    for &byte in rest.as_bytes() {
        match byte {
            b'%' | b'\\' | b';' => return false,
            b'/' | b'.' if previous == b'/' => return false,
            _ => {}
        }
        previous = byte;
    }
    true
}

/// [`normalize_request_path`] segment by segment, for a path with an escape, a `\`, a `//`
/// or a segment starting with `.`.
fn checked_path<'r>(raw: &'r str, rest: &str) -> Result<Cow<'r, str>, &'static str> {
    let mut changed = raw.contains("//");
    for segment in rest.split('/') {
        let before_parameters = without_parameters(segment);
        changed |= check_segment(segment)? || before_parameters.len() != segment.len();
        if is_dot_segment(before_parameters) {
            return Err(DOT_SEGMENT);
        }
    }
    match changed {
        false => Ok(Cow::Borrowed(raw)),
        true => Ok(Cow::Owned(canonical_path(rest))),
    }
}

/// One segment of a route pattern in the canonical form of [`normalize_request_path`].
pub(crate) fn canonical_segment(segment: &str) -> Result<Cow<'_, str>, &'static str> {
    if segment.contains(';') {
        return Err(MATRIX_IN_PATTERN);
    }
    match check_segment(segment)? {
        false => Ok(Cow::Borrowed(segment)),
        true => {
            let mut canonical = String::with_capacity(segment.len());
            push_canonical(&mut canonical, segment);
            Ok(Cow::Owned(canonical))
        }
    }
}

/// Refuses a `\` or a bad escape in `segment`; `Ok(true)` when its canonical form differs
/// (an unreserved character is escaped, or an escape has lowercase hex).
fn check_segment(segment: &str) -> Result<bool, &'static str> {
    if segment.contains('\\') {
        return Err(BACKSLASH);
    }
    let mut changed = false;
    for after_percent in segment.split('%').skip(1) {
        let (hex, byte) = escape(after_percent).ok_or(MALFORMED_ESCAPE)?;
        match byte {
            b'/' | b'\\' => return Err(ENCODED_SEPARATOR),
            0 => return Err(ENCODED_NUL),
            b'%' => return Err(DOUBLE_ENCODED),
            _ => {}
        }
        changed |= is_unreserved(byte) || hex.bytes().any(|b| b.is_ascii_lowercase());
    }
    Ok(changed)
}

/// The two hex digits at the start of `after_percent` and the byte they encode.
fn escape(after_percent: &str) -> Option<(&str, u8)> {
    let hex = after_percent
        .get(..2)
        .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))?;
    Some((hex, u8::from_str_radix(hex, 16).ok()?))
}

/// RFC 3986 unreserved characters: escaping them changes nothing, so they are decoded.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// `/` + `rest` with `/` runs collapsed, matrix parameters left out and every segment
/// canonical; `rest` was checked.
fn canonical_path(rest: &str) -> String {
    let mut path = String::with_capacity(rest.len() + 1);
    path.push('/');
    for segment in rest
        .split('/')
        .map(without_parameters)
        .filter(|segment| !segment.is_empty())
    {
        if !path.ends_with('/') {
            path.push('/');
        }
        push_canonical(&mut path, segment);
    }
    if rest.ends_with('/') && !path.ends_with('/') {
        path.push('/');
    }
    path
}

/// `segment` up to its matrix parameters (`;`), if any.
fn without_parameters(segment: &str) -> &str {
    segment.split(';').next().unwrap_or_default()
}

/// Appends `segment` with unreserved escapes decoded and the others' hex uppercased;
/// `segment` passed [`check_segment`], so every `%` starts a valid escape.
fn push_canonical(out: &mut String, segment: &str) {
    let mut parts = segment.split('%');
    out.push_str(parts.next().unwrap_or_default());
    for after_percent in parts {
        let Some((hex, byte)) = escape(after_percent) else {
            continue;
        };
        if is_unreserved(byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.extend(hex.chars().map(|digit| digit.to_ascii_uppercase()));
        }
        out.push_str(&after_percent[2..]);
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

    proptest::proptest! {
        /// The one-pass check never calls a path canonical that the segment-by-segment
        /// check would change or refuse.
        #[test]
        fn the_fast_path_agrees_with_the_full_check(rest in "[a-z0-9./%;\\\\A-F~_-]{0,24}") {
            let raw = format!("/{rest}");
            if plainly_canonical(&rest) {
                proptest::prop_assert_eq!(checked_path(&raw, &rest), Ok(Cow::Borrowed(raw.as_str())));
            }
        }
    }

    #[test]
    fn matrix_parameters_are_left_out_of_the_path_matched() {
        assert_eq!(normalized("/api;jsessionid=1/x"), "/api/x");
        assert_eq!(normalized("/api/invoices;v=2"), "/api/invoices");
        assert_eq!(normalized("/api/;x/invoices"), "/api/invoices");
        assert_eq!(
            normalized("/api/a%3Bb"),
            "/api/a%3Bb",
            "an escaped ';' is data"
        );
        assert_eq!(normalize_request_path("/api/..;x/admin"), Err(DOT_SEGMENT));
        assert_eq!(canonical_segment("api;v=1"), Err(MATRIX_IN_PATTERN));
    }

    fn normalized(raw: &str) -> String {
        normalize_request_path(raw)
            .unwrap_or_else(|reason| panic!("{raw}: {reason}"))
            .into_owned()
    }

    #[test]
    fn canonical_paths_are_borrowed_not_copied() {
        for raw in ["/", "/api/invoices/42", "/a/", "/a%20b/%3A", "/a/...", "/é"] {
            let path = normalize_request_path(raw).unwrap();
            assert!(matches!(path, Cow::Borrowed(_)), "{raw}");
        }
    }

    #[test]
    fn slash_runs_collapse_and_a_trailing_slash_stays() {
        assert_eq!(normalized("//"), "/");
        assert_eq!(normalized("//a///b"), "/a/b");
        assert_eq!(normalized("/a//"), "/a/");
        assert_eq!(normalized("/%61//b/"), "/a/b/");
    }

    #[test]
    fn unreserved_escapes_decode_and_others_get_uppercase_hex() {
        assert_eq!(normalized("/%41%7e%2D%5f/%3a%c3%a9"), "/A~-_/%3A%C3%A9");
        assert_eq!(normalized("/a%2e%2E%2eb"), "/a...b");
    }

    #[test]
    fn dot_segments_are_refused_in_any_spelling_and_with_parameters() {
        for raw in [
            "/a/../b",
            "/a/.",
            "/%2e%2E/x",
            "/a/.%2e/b",
            "/..;/x",
            "/.;",
            "/a/..;v",
        ] {
            assert_eq!(normalize_request_path(raw), Err(DOT_SEGMENT), "{raw}");
        }
        assert_eq!(normalized("/a;v=1/b"), "/a/b");
        assert_eq!(normalized("/...;x/.a"), "/.../.a");
    }

    #[test]
    fn bad_escapes_and_backslashes_are_refused() {
        let cases = [
            ("a/b", NOT_ABSOLUTE),
            ("/a\\b", BACKSLASH),
            ("/a%2fb", ENCODED_SEPARATOR),
            ("/a%5Cb", ENCODED_SEPARATOR),
            ("/a%00", ENCODED_NUL),
            ("/%252e%252e", DOUBLE_ENCODED),
            ("/a%", MALFORMED_ESCAPE),
            ("/a%4", MALFORMED_ESCAPE),
            ("/a%zz", MALFORMED_ESCAPE),
            ("/a%4é", MALFORMED_ESCAPE),
        ];
        for (raw, reason) in cases {
            assert_eq!(normalize_request_path(raw), Err(reason), "{raw}");
        }
    }

    #[test]
    fn pattern_segments_use_the_same_canonical_form() {
        assert_eq!(canonical_segment("%69nvoices").unwrap(), "invoices");
        assert_eq!(canonical_segment("a%3ab").unwrap(), "a%3Ab");
        assert_eq!(canonical_segment("a%2Fb"), Err(ENCODED_SEPARATOR));
    }
}
