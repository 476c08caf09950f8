//! The request head as the decision sees it: the adapter from Pingora's `RequestHeader` to
//! `strangler_flags::RequestView`, borrowing everything, and the target and header reads
//! the hooks need before a decision.

use std::borrow::Cow;

use pingora::http::RequestHeader;
use strangler_flags::{RequestView, NOT_UTF8_HEADER, REPEATED_HEADER};

/// The request as the decision function sees it.
pub(super) struct RequestHead<'a> {
    req: &'a RequestHeader,
    /// The host, lowercased (host names are case-insensitive; subdomain tenants must not
    /// depend on the client's capitalisation). Borrowed unless it had capitals.
    host: Option<Cow<'a, str>>,
}

impl<'a> RequestHead<'a> {
    pub(super) fn new(req: &'a RequestHeader) -> RequestHead<'a> {
        let host = host_of(req).map(|h| match h.bytes().any(|b| b.is_ascii_uppercase()) {
            true => Cow::Owned(h.to_ascii_lowercase()),
            false => Cow::Borrowed(h),
        });
        RequestHead { req, host }
    }
}

impl RequestView for RequestHead<'_> {
    fn method(&self) -> &str {
        self.req.method.as_str()
    }
    fn path(&self) -> &str {
        self.req.uri.path()
    }
    fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }
    /// A header's value; [`REPEATED_HEADER`] when it is repeated (the monolith might read
    /// another copy than we did) and [`NOT_UTF8_HEADER`] when it is not UTF-8: a tenant
    /// read from either is refused with 400 saying which, instead of guessing.
    fn header(&self, lowercase_name: &str) -> Option<&str> {
        let mut values = self.req.headers.get_all(lowercase_name).iter();
        let first = values.next()?;
        if values.next().is_some() {
            return Some(REPEATED_HEADER);
        }
        Some(std::str::from_utf8(first.as_bytes()).unwrap_or(NOT_UTF8_HEADER))
    }
    fn query(&self) -> Option<&str> {
        self.req.uri.query()
    }
    /// A cookie from any `Cookie` field (HTTP/2 clients send one per cookie), first found
    /// wins; a field that is not UTF-8 or does not parse holds none.
    fn cookie(&self, name: &str) -> Option<&str> {
        let fields = self.req.headers.get_all(http::header::COOKIE).iter();
        fields
            .filter_map(|field| std::str::from_utf8(field.as_bytes()).ok())
            .find_map(|field| strangler_flags::cookie_in(field, name))
    }
}

/// The authority of the request: `:authority` for h2, else the `Host` header.
fn host_of(req: &RequestHeader) -> Option<&str> {
    req.uri.authority().map(|a| a.as_str()).or_else(|| {
        req.headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
    })
}

/// A header's value, if present and visible ASCII.
pub(super) fn header_str<'a>(req: &'a RequestHeader, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Origin form (`/path`), absolute form (`http://host/path`) or `OPTIONS *`.
pub(super) fn routable_target(req: &RequestHeader) -> bool {
    let raw = req.raw_path();
    raw.starts_with(b"/")
        || req.uri.scheme().is_some()
        || (raw == b"*" && req.method == http::Method::OPTIONS)
}
