//! The `X-Forwarded-*` headers a proxy owes its upstreams.
//!
//! `X-Forwarded-For` gets the client's address appended (the chain stays intact behind another
//! proxy). `X-Forwarded-Proto` and `X-Forwarded-Host` are set from this hop only when absent:
//! strangler listens on plain HTTP, so a TLS-terminating balancer in front of it knows better.

use std::net::IpAddr;

use pingora::http::RequestHeader;
use pingora::Result;

const X_FORWARDED_FOR: &str = "x-forwarded-for";
const X_FORWARDED_PROTO: &str = "x-forwarded-proto";
const X_FORWARDED_HOST: &str = "x-forwarded-host";

/// Adds the forwarding headers for a request received from `client_ip`.
pub fn add_forwarding_headers(
    upstream: &mut RequestHeader,
    client_ip: Option<IpAddr>,
) -> Result<()> {
    if let Some(ip) = client_ip {
        let chain = match upstream
            .headers
            .get(X_FORWARDED_FOR)
            .and_then(|v| v.to_str().ok())
        {
            Some(previous) if !previous.trim().is_empty() => format!("{previous}, {ip}"),
            _ => ip.to_string(),
        };
        upstream.insert_header(X_FORWARDED_FOR, chain)?;
    }
    if !upstream.headers.contains_key(X_FORWARDED_PROTO) {
        upstream.insert_header(X_FORWARDED_PROTO, "http")?;
    }
    if !upstream.headers.contains_key(X_FORWARDED_HOST) {
        let host = upstream
            .uri
            .authority()
            .map(|a| a.as_str().to_string())
            .or_else(|| {
                upstream
                    .headers
                    .get(http::header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            });
        if let Some(host) = host {
            upstream.insert_header(X_FORWARDED_HOST, host)?;
        }
    }
    Ok(())
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
    fn proto_and_host_are_set_only_when_absent() {
        let mut req = request(&[("host", "shop.example.com"), ("x-forwarded-proto", "https")]);
        add_forwarding_headers(&mut req, None).unwrap();
        assert_eq!(get(&req, X_FORWARDED_PROTO), Some("https"));
        assert_eq!(get(&req, X_FORWARDED_HOST), Some("shop.example.com"));
    }
}
