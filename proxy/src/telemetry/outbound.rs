//! The HTTP client of what the proxy sends out about itself (notifications, traces): plain
//! HTTP, or HTTPS verified against the system's roots with rustls on ring, the TLS stack the
//! rest of the proxy uses.

use std::sync::Arc;

/// A reqwest builder whose TLS trusts the system's roots; roots that cannot be read leave
/// `https://` failing per request (with the reason), not the start.
pub fn client_builder() -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder().no_proxy();
    match tls_config() {
        Ok(config) => builder.use_preconfigured_tls(config),
        Err(e) => {
            tracing::warn!(error = %e, "the system's root certificates cannot be read: https receivers will fail");
            builder
        }
    }
}

/// rustls with the system's roots.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let system = pingora::tls::load_native_certs().map_err(|e| e.to_string())?;
    for cert in system {
        // A root the store does not take is skipped, as browsers do.
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
