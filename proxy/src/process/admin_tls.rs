//! The admin listener over TLS (`admin_tls:`): its certificate chosen and rotated like a
//! proxy listener's ([`crate::tls::rotation`]), a client certificate required when
//! `client_ca` is set (mTLS), TLS 1.2 and 1.3, ALPN `http/1.1` and `h2`.
//!
//! Handshakes run in tasks of their own, each bounded by [`HANDSHAKE_TIMEOUT`], and hand the
//! decrypted connections to axum through a channel: a client that stalls its handshake
//! holds nothing but its own task, never the accept loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use pingora::tls::ServerTlsStream as TlsStream;
use pingora::tls::TlsAcceptor;
use rustls::server::WebPkiClientVerifier;
use rustls::ServerConfig;
use strangler_flags::tls::AdminTls;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::tls::resolver::SniResolver;

/// How long a client has to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Decrypted connections waiting for axum.
const BACKLOG: usize = 64;

/// The rustls settings of the admin listener.
pub(super) fn server_config(
    tls: &AdminTls,
    resolver: Arc<SniResolver>,
) -> Result<Arc<ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?;
    let builder = match &tls.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for der in ca.iter() {
                roots
                    .add(der.clone().into())
                    .map_err(|e| format!("client_ca: {e}"))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("client_ca: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// axum's listener over TLS: decrypted connections, handshaken elsewhere.
pub(super) struct Incoming {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl Incoming {
    /// Accepts on `listener` and handshakes with `config`, in tasks of the current runtime.
    pub(super) fn start(
        listener: TcpListener,
        config: Arc<ServerConfig>,
    ) -> std::io::Result<Incoming> {
        let local = listener.local_addr()?;
        let (send, ready) = mpsc::channel(BACKLOG);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                // Once axum stops (shutdown, or the listener handed to a new process), stop
                // accepting at once: a connection taken now would be dropped.
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = send.closed() => return,
                };
                let Ok((tcp, peer)) = accepted else {
                    // Out of descriptors, say: let the condition pass rather than spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let (acceptor, send) = (acceptor.clone(), send.clone());
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp));
                    match handshake.await {
                        Ok(Ok(tls)) => {
                            let _ = send.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "admin TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(%peer, "admin TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Incoming { local, ready })
    }
}

impl axum::serve::Listener for Incoming {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(ready) => ready,
            // The accept loop is gone: nothing will ever arrive.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
