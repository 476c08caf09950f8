//! The rustls client settings of one upstream, for the proxy's own HTTP clients (shadow
//! calls, health checks): the CA of `tls.ca` or the system's roots, the client certificate
//! for mTLS, `verify: false` honoured, the server name of `tls.sni` (or the URL's host).
//! Pingora's connections get the same settings through [`super::upstream`].

use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::{FixedServerNameResolver, HttpsConnector};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use strangler_flags::tls::UpstreamTls;

/// An HTTP/1.1 client pool over [`connector`]: `http://` and `https://` URIs.
pub type HttpClient<B> = Client<HttpsConnector<HttpConnector>, B>;

/// A client with a 1 s connect timeout, idle connections kept for `idle` (`None`: none kept,
/// every request connects), adding no `Host` of its own, speaking TLS with `tls` to
/// `https://` URIs.
pub fn http_client<B>(
    tls: Option<&UpstreamTls>,
    idle: Option<Duration>,
) -> Result<HttpClient<B>, String>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
{
    let mut tcp = HttpConnector::new();
    tcp.set_connect_timeout(Some(Duration::from_secs(1)));
    tcp.set_nodelay(true);
    tcp.enforce_http(false);
    let mut builder = Client::builder(TokioExecutor::new());
    match idle {
        Some(idle) => builder.pool_idle_timeout(idle),
        None => builder.pool_max_idle_per_host(0),
    };
    Ok(builder.set_host(false).build(connector(tcp, tls)?))
}

/// An HTTP/1.1 connector that speaks TLS with `tls`'s settings to `https://` URIs and plain
/// TCP to `http://` ones (`tls` `None`: for `http://` only, no roots read).
fn connector(
    tcp: HttpConnector,
    tls: Option<&UpstreamTls>,
) -> Result<HttpsConnector<HttpConnector>, String> {
    let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config(tls)?);
    let builder = builder.https_or_http();
    let builder = match tls {
        Some(tls) => {
            let name = ServerName::try_from(tls.sni.to_string()).map_err(|e| e.to_string())?;
            builder.with_server_name_resolver(FixedServerNameResolver::new(name))
        }
        None => builder,
    };
    Ok(builder.enable_http1().wrap_connector(tcp))
}

/// The rustls client settings of `tls`.
fn config(tls: Option<&UpstreamTls>) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match tls {
        Some(tls) if !tls.verify => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider))),
        Some(UpstreamTls { ca: Some(ca), .. }) => {
            let ca = ca.iter().map(|der| CertificateDer::from(der.clone()));
            builder.with_root_certificates(roots(ca)?)
        }
        Some(_) => {
            let system =
                pingora::tls::load_native_certs().map_err(|e| format!("system roots: {e}"))?;
            builder.with_root_certificates(roots(system.into_iter())?)
        }
        // A client of `http://` upstreams only: no roots to read.
        None => builder.with_root_certificates(rustls::RootCertStore::empty()),
    };
    match tls.and_then(|t| t.client.as_deref()) {
        None => Ok(builder.with_no_client_auth()),
        Some(pair) => {
            let chain = pair.chain.iter().map(|c| CertificateDer::from(c.clone()));
            let key = PrivateKeyDer::try_from(pair.key.clone()).map_err(|e| e.to_string())?;
            (builder.with_client_auth_cert(chain.collect(), key)).map_err(|e| e.to_string())
        }
    }
}

/// A root store of `certs`.
fn roots(
    certs: impl Iterator<Item = CertificateDer<'static>>,
) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("a root certificate: {e}"))?;
    }
    Ok(roots)
}

/// `verify: false`: any certificate is accepted (the handshake's signatures are still
/// checked, so the connection is encrypted to whoever holds the key it presented).
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
