//! What Pingora needs to reach an `https://` upstream, built once per loaded routes.yaml
//! from the checked material of `strangler_flags::tls::UpstreamTls` (never on the request
//! path): the CA roots and the client certificate in Pingora's types, the server name.
//! [`PeerTls::apply`] sets them on a request's peer, with ALPN for `http2: true`.

use std::collections::HashMap;
use std::sync::Arc;

use pingora::protocols::tls::CaType;
use pingora::upstreams::peer::HttpPeer;
use pingora::utils::tls::{parse_x509, CertKey, WrappedX509};
use strangler_flags::{Snapshot, Upstream};

/// One upstream's TLS settings in Pingora's types.
pub struct PeerTls {
    sni: String,
    verify: bool,
    ca: Option<Arc<CaType>>,
    client: Option<Arc<CertKey>>,
}

/// The settings of every `https://` upstream of one snapshot, by upstream name.
#[derive(Default)]
pub struct UpstreamTlsSet(HashMap<Box<str>, PeerTls>);

impl UpstreamTlsSet {
    /// Builds the settings of `snapshot`'s TLS upstreams.
    pub fn build(snapshot: &Snapshot) -> UpstreamTlsSet {
        let upstreams = std::iter::once(snapshot.legacy()).chain(snapshot.services());
        let tls = upstreams.filter_map(|u| Some((u.name.clone(), PeerTls::build(u)?)));
        UpstreamTlsSet(tls.collect())
    }

    /// A peer for `upstream`: TLS with its settings when it is `https://`, HTTP/2 when
    /// `http2: true`.
    pub fn peer(&self, upstream: &Upstream) -> HttpPeer {
        // A plain upstream (the usual request) looks nothing up.
        let tls = upstream
            .tls
            .as_ref()
            .and_then(|_| self.0.get(&upstream.name));
        let sni = tls.map(|t| t.sni.clone()).unwrap_or_default();
        let mut peer = HttpPeer::new(upstream.addr, tls.is_some(), sni);
        if let Some(tls) = tls {
            tls.apply(&mut peer);
        }
        if upstream.http2 {
            peer.options.set_http_version(2, 2);
        }
        peer
    }
}

impl PeerTls {
    /// The settings of `upstream`, `None` for `http://`.
    fn build(upstream: &Upstream) -> Option<PeerTls> {
        let tls = upstream.tls.as_deref()?;
        let ca = tls.ca.as_ref().map(|roots| {
            let wrapped: Vec<WrappedX509> =
                roots.iter().filter_map(|der| parsed(der.clone())).collect();
            Arc::<CaType>::from(wrapped)
        });
        let client = tls
            .client
            .as_ref()
            .map(|pair| Arc::new(CertKey::new(pair.chain.clone(), pair.key.clone())));
        Some(PeerTls {
            sni: tls.sni.to_string(),
            verify: tls.verify,
            ca,
            client,
        })
    }

    /// Sets the roots, the client certificate and the verification on `peer`.
    fn apply(&self, peer: &mut HttpPeer) {
        peer.options.ca = self.ca.clone();
        peer.client_cert_key = self.client.clone();
        peer.options.verify_cert = self.verify;
        peer.options.verify_hostname = self.verify;
    }
}

/// Counts and logs a failed TLS handshake with `upstream` (nothing for other errors), by
/// reason: `unknown-issuer` (a CA not trusted), `expired`, `name-mismatch`, `bad-certificate`
/// or `handshake`.
pub fn record_failure(upstream: &Upstream, error: &pingora::Error) {
    use pingora::ErrorType::{InvalidCert, TLSHandshakeFailure};
    if !matches!(error.etype(), TLSHandshakeFailure | InvalidCert) {
        return;
    }
    let text = error.to_string();
    let reason = failure_reason(&text);
    let name = upstream.name.to_string();
    metrics::counter!("strangler_upstream_tls_errors_total", "upstream" => name, "reason" => reason)
        .increment(1);
    tracing::warn!(upstream = %upstream.name, reason, error = %text, "TLS to the upstream failed");
}

/// The reason label of a handshake error's text (rustls's `CertificateError` names).
fn failure_reason(text: &str) -> &'static str {
    const REASONS: [(&str, &str); 6] = [
        ("UnknownIssuer", "unknown-issuer"),
        ("certificate expired", "expired"),
        ("Expired", "expired"),
        ("not valid for name", "name-mismatch"),
        ("NotValidForName", "name-mismatch"),
        ("invalid peer certificate", "bad-certificate"),
    ];
    REASONS
        .iter()
        .find(|(needle, _)| text.contains(needle))
        .map_or("handshake", |(_, reason)| reason)
}

/// `der` as Pingora's wrapped certificate, `None` when it does not parse (the load checked
/// that it does).
fn parsed(der: Vec<u8>) -> Option<WrappedX509> {
    x509_parser::parse_x509_certificate(&der).ok()?;
    Some(WrappedX509::new(der, parse_x509))
}
