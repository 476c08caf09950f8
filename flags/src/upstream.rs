//! Upstreams: the legacy monolith and the new services, written `http://host[:port]` or
//! `https://host[:port]` in routes.yaml. Host names are resolved once, when the file is loaded, through the
//! [`Surroundings`] the caller passes (the proxy's is the system resolver); the proxy loads
//! the file again on each reload, so a DNS change is picked up by reloading, never by a
//! lookup on the request path.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::tls::UpstreamTls;
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
    /// How to reach an `https://` upstream; `None` for `http://`.
    pub tls: Option<Arc<UpstreamTls>>,
    /// `http2: true`: speak HTTP/2 to it (ALPN `h2` over TLS, prior knowledge in cleartext).
    pub http2: bool,
}

impl Upstream {
    /// Parses `url` (`http://host[:port]`, port 80 by default, or `https://host[:port]`,
    /// port 443, verified against the system's roots with the host as server name) and
    /// resolves it through `surroundings`.
    pub fn resolve(
        name: &str,
        url: &str,
        surroundings: &dyn Surroundings,
    ) -> Result<Upstream, String> {
        let (authority, secure) = authority(url)?;
        let with_port = match (has_port(authority), secure) {
            (true, _) => authority.to_owned(),
            (false, false) => format!("{authority}:80"),
            (false, true) => format!("{authority}:443"),
        };
        let addr = surroundings
            .resolve(&with_port)
            .map_err(|err| format!("cannot resolve upstream {url:?}: {err}"))?
            .ok_or_else(|| format!("upstream {url:?} resolves to no address"))?;
        let tls = secure.then(|| {
            Arc::new(UpstreamTls {
                sni: host_of(authority).into(),
                verify: true,
                ca: None,
                client: None,
            })
        });
        Ok(Upstream {
            name: name.into(),
            addr,
            host: authority.into(),
            tls,
            http2: false,
        })
    }

    /// `http` or `https`, for display and the `Host`-less forms.
    pub fn scheme(&self) -> &'static str {
        match self.tls {
            Some(_) => "https",
            None => "http",
        }
    }
}

/// The host of `host[:port]` or `[v6]:port`, without brackets: the default server name.
fn host_of(authority: &str) -> &str {
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    match has_port(authority) {
        true => authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host),
        false => authority,
    }
}

/// The `host[:port]` of an `http://` or `https://` URL without path, query or
/// credentials, and whether it is `https`.
fn authority(url: &str) -> Result<(&str, bool), String> {
    let (rest, secure) = match url.strip_prefix("https://") {
        Some(rest) => (rest, true),
        None => url
            .strip_prefix("http://")
            .map(|rest| (rest, false))
            .ok_or_else(|| format!("upstream {url:?} must be an http(s)://host[:port] URL"))?,
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "upstream {url:?} must be http(s)://host[:port], without path, query or user"
        ));
    }
    Ok((authority, secure))
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
    fn https_upstreams_default_to_port_443_and_their_host_as_server_name() {
        let upstream = Upstream::resolve("x", "https://127.0.0.1", &Fake::default()).unwrap();
        assert_eq!(upstream.addr, "127.0.0.1:443".parse().unwrap());
        let tls = upstream.tls.expect("https is TLS");
        assert_eq!(&*tls.sni, "127.0.0.1");
        assert!(tls.verify);
        let v6 = Upstream::resolve("x", "https://[::1]:8443", &Fake::default()).unwrap();
        assert_eq!(&*v6.tls.unwrap().sni, "::1");
        let plain = Upstream::resolve("x", "http://127.0.0.1", &Fake::default()).unwrap();
        assert_eq!((plain.scheme(), plain.tls), ("http", None));
    }

    #[test]
    fn paths_and_bad_ports_are_refused() {
        assert!(Upstream::resolve("x", "http://127.0.0.1:3000/api", &Fake::default()).is_err());
        assert!(Upstream::resolve("x", "http://127.0.0.1:99999", &Fake::default()).is_err());
        assert!(Upstream::resolve("x", "127.0.0.1:3000", &Fake::default()).is_err());
    }
}
