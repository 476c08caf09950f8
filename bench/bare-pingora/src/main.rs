//! The "bare Pingora built the same way" reference for `bench/run.sh`.
//!
//! One `ProxyHttp` with a single `upstream_peer`, one worker thread, plain
//! HTTP, built with the workspace's `pingora` dependency and release profile.
//! Whatever strangler costs beyond this proxy is strangler's own overhead,
//! so this crate must stay free of anything strangler-specific.
//!
//! For the TLS scenarios it takes three optional environment variables, so the
//! plain invocation stays the same: `TLS_LISTEN=ADDR TLS_CERT=PEM TLS_KEY=PEM`
//! adds a TLS listener (Pingora's rustls `TlsSettings`, its defaults: TLS 1.2
//! and 1.3, ALPN h2 and http/1.1, as strangler offers), and `UPSTREAM_CA=PEM`
//! with `UPSTREAM_SNI=NAME` speaks TLS to the backend, verified against that
//! one certificate.
//!
//! ```text
//! cargo run --release -p bare-pingora -- 127.0.0.1:8081 127.0.0.1:8080
//! curl -i 127.0.0.1:8081/ok
//! TLS_LISTEN=127.0.0.1:8443 TLS_CERT=cert.pem TLS_KEY=key.pem \
//!   cargo run --release -p bare-pingora -- 127.0.0.1:8081 127.0.0.1:8080
//! curl -i --cacert cert.pem https://127.0.0.1:8443/ok
//! ```

use async_trait::async_trait;
use pingora::listeners::tls::TlsSettings;
use pingora::prelude::*;
use pingora::protocols::tls::CaType;
use pingora::server::configuration::ServerConf;
use pingora::utils::tls::{parse_x509, WrappedX509};
use std::env::var;
use std::net::SocketAddr;
use std::sync::Arc;

/// Sends every request to the one backend, reusing pooled connections.
struct Forward {
    /// The backend's address, parsed once at start so requests pay no parsing.
    backend: SocketAddr,
    /// The server name and trusted certificate when the backend speaks TLS.
    upstream_tls: Option<(String, Arc<CaType>)>,
}

#[async_trait]
impl ProxyHttp for Forward {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    /// The only decision: every request goes to the backend, over TLS if configured.
    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        let Some((sni, ca)) = &self.upstream_tls else {
            return Ok(Box::new(HttpPeer::new(self.backend, false, String::new())));
        };
        let mut peer = HttpPeer::new(self.backend, true, sni.clone());
        peer.options.ca = Some(ca.clone());
        Ok(Box::new(peer))
    }
}

/// `UPSTREAM_SNI` and the first certificate of `UPSTREAM_CA`, when both are set.
fn upstream_tls() -> Option<(String, Arc<CaType>)> {
    let (sni, ca) = (var("UPSTREAM_SNI").ok()?, var("UPSTREAM_CA").ok()?);
    let der = pingora::tls::load_pem_file_ca(&ca).expect("UPSTREAM_CA is a PEM certificate");
    let roots: Arc<CaType> = Arc::from(vec![WrappedX509::new(der, parse_x509)]);
    Some((sni, roots))
}

/// The TLS listener of `TLS_LISTEN`, `TLS_CERT` and `TLS_KEY`, when all three are set.
fn tls_listener() -> Option<(String, TlsSettings)> {
    let (addr, cert, key) = (
        var("TLS_LISTEN").ok()?,
        var("TLS_CERT").ok()?,
        var("TLS_KEY").ok()?,
    );
    let mut settings = TlsSettings::intermediate(&cert, &key).expect("TLS_CERT and TLS_KEY");
    settings.enable_h2();
    Some((addr, settings))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(Ok(backend))) = (args.next(), args.next().map(|a| a.parse())) else {
        eprintln!("usage: bare-pingora LISTEN_ADDR BACKEND_IP:PORT [THREADS]");
        std::process::exit(2);
    };
    let threads = args.next().and_then(|t| t.parse().ok()).unwrap_or(1);
    // The runtime knobs of the harness's RUNTIME_VARIANTS: WORK_STEALING=0 for Pingora's
    // NoSteal runtime, 1 for its stealing one; unset, the same rule as strangler's default
    // (stealing with two or more workers only), so the two are compared on one runtime.
    // ALT_TIMER=1 for tokio's alternative timer (a tokio_unstable build).
    let work_stealing = match var("WORK_STEALING").as_deref() {
        Ok("0") => false,
        Ok(_) => true,
        Err(_) => threads > 1,
    };
    let conf = ServerConf {
        threads,
        work_stealing,
        runtime_enable_alt_timer: var("ALT_TIMER").is_ok_and(|v| v == "1"),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let forward = Forward {
        backend,
        upstream_tls: upstream_tls(),
    };
    let mut proxy = http_proxy_service(&server.configuration, forward);
    proxy.add_tcp(&listen);
    if let Some((addr, settings)) = tls_listener() {
        proxy.add_tls_with_settings(&addr, None, settings);
    }
    server.add_service(proxy);
    server.run_forever();
}
