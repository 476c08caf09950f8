//! Upstreams: the legacy monolith and the new services, written `http://host[:port]` in
//! routes.yaml. Host names are resolved once, when the file is loaded, through the
//! [`Surroundings`] the caller passes (the proxy's is the system resolver); the proxy loads
//! the file again on each reload, so a DNS change is picked up by reloading, never by a
//! lookup on the request path.

use std::net::SocketAddr;

use crate::Surroundings;

/// One resolved upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `legacy` or the service's name.
    pub name: Box<str>,
    /// The address connected to: the first the resolver returned.
    pub addr: SocketAddr,
    /// The authority as written, e.g. `127.0.0.1:3001` or `billing.internal`, for display.
    /// The proxy forwards the client's own `Host` header (the monolith may route on it) and
    /// adds `X-Forwarded-Host`.
    pub host: Box<str>,
}

impl Upstream {
    /// Parses `url` (`http://host[:port]`, port 80 by default) and resolves it through
    /// `surroundings`.
    pub fn resolve(
        name: &str,
        url: &str,
        surroundings: &dyn Surroundings,
    ) -> Result<Upstream, String> {
        let authority = authority(url)?;
        let with_port = match has_port(authority) {
            true => authority.to_owned(),
            false => format!("{authority}:80"),
        };
        let addr = surroundings
            .resolve(&with_port)
            .map_err(|err| format!("cannot resolve upstream {url:?}: {err}"))?
            .ok_or_else(|| format!("upstream {url:?} resolves to no address"))?;
        Ok(Upstream {
            name: name.into(),
            addr,
            host: authority.into(),
        })
    }
}

/// The `host[:port]` of an `http://` URL without path, query or credentials.
fn authority(url: &str) -> Result<&str, String> {
    if url.starts_with("https://") {
        return Err(format!(
            "upstream {url:?}: https upstreams are not supported yet (TLS to upstreams is \
             planned); use http://"
        ));
    }
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("upstream {url:?} must be an http://host[:port] URL"))?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "upstream {url:?} must be http://host[:port], without path, query or user"
        ));
    }
    Ok(authority)
}

/// Whether `host[:port]` (or `[v6]:port`) names a port.
fn has_port(authority: &str) -> bool {
    match authority.rfind(':') {
        Some(colon) => !authority[colon..].contains(']'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::Fake;

    #[test]
    fn http_urls_resolve_with_default_port_80() {
        let upstream = Upstream::resolve("legacy", "http://127.0.0.1", &Fake::default()).unwrap();
        assert_eq!(upstream.addr, "127.0.0.1:80".parse().unwrap());
        assert_eq!(&*upstream.host, "127.0.0.1");
        let v6 = Upstream::resolve("x", "http://[::1]:3000/", &Fake::default()).unwrap();
        assert_eq!(v6.addr, "[::1]:3000".parse().unwrap());
    }

    #[test]
    fn https_upstreams_are_refused_with_a_clear_message() {
        let err = Upstream::resolve("x", "https://127.0.0.1:443", &Fake::default()).unwrap_err();
        assert!(
            err.contains("https upstreams are not supported yet"),
            "{err}"
        );
    }

    #[test]
    fn paths_and_bad_ports_are_refused() {
        assert!(Upstream::resolve("x", "http://127.0.0.1:3000/api", &Fake::default()).is_err());
        assert!(Upstream::resolve("x", "http://127.0.0.1:99999", &Fake::default()).is_err());
        assert!(Upstream::resolve("x", "127.0.0.1:3000", &Fake::default()).is_err());
    }
}
