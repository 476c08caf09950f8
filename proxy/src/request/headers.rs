//! The headers an upstream may trust: the proxy's own namespace kept for the proxy, and the
//! `X-Forwarded-*` headers a proxy owes its upstreams.
//!
//! Client headers that start with `x-strangler-`, and the header the decided tenant is
//! forwarded in, are dropped before the proxy sets its own: only the proxy speaks in its
//! name, and a client cannot choose the tenant the upstream reads.
//!
//! `X-Forwarded-For` gets the client's address appended, as nginx does: only its rightmost
//! entry is this proxy's own observation, the rest is what the client or earlier hops said.
//! `X-Forwarded-Proto` and `X-Forwarded-Host` are always set from this hop, replacing what a
//! client sent: the upstream trusts them (password-reset links, secure-cookie checks), so a
//! client must not be able to choose them. strangler listens on plain HTTP, hence `http`.
//!
//! HTTP/1.0 clients get what that version can read: their request reaches the upstream
//! with a `Host` (the upstream's authority when they sent none), and their answer is never
//! chunked.

use std::net::IpAddr;

use http::HeaderValue;

use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::Session;
use pingora::Result;

use crate::telemetry::access_log;

/// Client headers with this prefix are never forwarded: only the proxy speaks in its name.
const RESERVED_PREFIX: &str = "x-strangler-";
const X_FORWARDED_FOR: &str = "x-forwarded-for";
const X_FORWARDED_PROTO: &str = "x-forwarded-proto";
const X_FORWARDED_HOST: &str = "x-forwarded-host";

/// Removes every client header in the proxy's namespace, the forwarded-tenant header
/// (`tenant_header`, lowercase) and those of `tenant.strip_headers` (`strip`).
pub(super) fn drop_reserved_headers(
    upstream: &mut RequestHeader,
    tenant_header: &[u8],
    strip: &[http::HeaderName],
) {
    let is_reserved = |name: &http::HeaderName| {
        name.as_str().starts_with(RESERVED_PREFIX)
            || name.as_str().as_bytes() == tenant_header
            || strip.contains(name)
    };
    // The usual request has none: no list is built for it.
    if !upstream.headers.keys().any(is_reserved) {
        return;
    }
    let reserved: Vec<http::HeaderName> = upstream
        .headers
        .keys()
        .filter(|name| is_reserved(name))
        .cloned()
        .collect();
    for name in reserved {
        upstream.remove_header(&name);
    }
}

/// Adds the forwarding headers for a request received from `client_ip`.
pub fn add_forwarding_headers(
    upstream: &mut RequestHeader,
    client_ip: Option<IpAddr>,
) -> Result<()> {
    if let Some(ip) = client_ip {
        let previous = upstream
            .headers
            .get(X_FORWARDED_FOR)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|previous| !previous.is_empty());
        upstream.insert_header(X_FORWARDED_FOR, forwarded_for(previous, ip))?;
    }
    upstream.insert_header(X_FORWARDED_PROTO, HeaderValue::from_static("http"))?;
    match authority(upstream) {
        Some(host) => upstream.insert_header(X_FORWARDED_HOST, host)?,
        None => {
            upstream.remove_header(X_FORWARDED_HOST);
        }
    }
    Ok(())
}

/// `previous, ip`, or `ip` alone, as the bytes of the header's value (a `Vec` becomes
/// them without another copy).
fn forwarded_for(previous: Option<&str>, ip: IpAddr) -> Vec<u8> {
    let mut chain = Vec::with_capacity(previous.map_or(0, |p| p.len() + 2) + 15);
    if let Some(previous) = previous {
        chain.extend_from_slice(previous.as_bytes());
        chain.extend_from_slice(b", ");
    }
    access_log::push_ip(&mut chain, ip);
    chain
}

/// Gives a request without `Host` (HTTP/1.0 allows it) the upstream's authority, `host`:
/// Pingora forwards it as HTTP/1.1, which a server refuses without `Host` (RFC 9112 §3.2).
/// The caller checks for a `Host` first, so the usual request looks up no upstream.
pub fn set_host(upstream: &mut RequestHeader, host: &str) -> Result<()> {
    upstream.insert_header(http::header::HOST, host)
}

/// An HTTP/1.0 client cannot read a chunked body (RFC 9112 §6.1): an answer without a
/// length is sent delimited by the connection's close instead.
pub fn frame_for_http10(session: &mut Session, response: &mut ResponseHeader) {
    if session.req_header().version != http::Version::HTTP_10 {
        return;
    }
    if response
        .remove_header(&http::header::TRANSFER_ENCODING)
        .is_some()
        || !response.headers.contains_key(http::header::CONTENT_LENGTH)
    {
        session.set_keepalive(None);
    }
}

/// The request's authority (`:authority` for h2, else `Host`). The `Host` value is shared,
/// not copied.
fn authority(req: &RequestHeader) -> Option<HeaderValue> {
    match req.uri.authority() {
        Some(authority) => HeaderValue::from_str(authority.as_str()).ok(),
        None => req
            .headers
            .get(http::header::HOST)
            .filter(|v| v.to_str().is_ok())
            .cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&'static str, &'static str)]) -> RequestHeader {
        let mut req = RequestHeader::build("GET", b"/x", None).unwrap();
        for (name, value) in headers {
            req.insert_header(*name, *value).unwrap();
        }
        req
    }

    fn get<'a>(req: &'a RequestHeader, name: &str) -> Option<&'a str> {
        req.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn client_address_is_appended_to_an_existing_chain() {
        let mut req = request(&[("x-forwarded-for", "10.0.0.1")]);
        add_forwarding_headers(&mut req, Some("127.0.0.9".parse().unwrap())).unwrap();
        assert_eq!(get(&req, X_FORWARDED_FOR), Some("10.0.0.1, 127.0.0.9"));
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "10.0.0.1",
            "127.0.0.9",
            "192.168.100.255",
            "255.255.255.255",
        ] {
            assert_eq!(forwarded_for(None, ip.parse().unwrap()), ip.as_bytes());
        }
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            forwarded_for(Some("10.0.0.1"), v6),
            b"10.0.0.1, 2001:db8::1"
        );
    }

    #[test]
    fn a_blank_chain_is_replaced_by_the_client_address() {
        let mut req = request(&[("x-forwarded-for", "  ")]);
        add_forwarding_headers(&mut req, Some("127.0.0.9".parse().unwrap())).unwrap();
        assert_eq!(get(&req, X_FORWARDED_FOR), Some("127.0.0.9"));
    }

    #[test]
    fn proto_and_host_sent_by_the_client_are_replaced() {
        let mut req = request(&[
            ("host", "shop.example.com"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
        ]);
        add_forwarding_headers(&mut req, None).unwrap();
        assert_eq!(get(&req, X_FORWARDED_PROTO), Some("http"));
        assert_eq!(get(&req, X_FORWARDED_HOST), Some("shop.example.com"));
    }
}
