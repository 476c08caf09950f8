//! The TLS handshake of a connection to a TLS listener, before anything else: the listener's
//! certificate chosen by SNI (`crate::tls::resolver`), ALPN `h2` or `http/1.1`, TLS 1.3
//! preferred and 1.2 accepted, no renegotiation (rustls has none). The handshake must finish
//! by the connection's head deadline (`limits.client_timeout`).
//!
//! A client that sends plain HTTP to the TLS port gets a plain-HTTP 400 with the usual JSON
//! body, counted and logged as a refused request (`plain-http-to-tls`); a handshake that
//! fails or times out closes the connection, counted in
//! `strangler_tls_handshake_errors_total{reason}`. The listener serves on either way.

use std::sync::Arc;

use pingora::listeners::tls::Acceptor;
use pingora::protocols::l4::stream::Stream as TcpStream;
use pingora::protocols::Stream;
use rustls::ServerConfig;
use tokio::io::AsyncReadExt;
use tokio::time::{timeout_at, Instant};

use crate::connection::head_check::HeadFault;
use crate::connection::refused_head;
use crate::connection::rewound::Rewound;
use crate::tls::resolver::SniResolver;

/// The first byte of a TLS record carrying a handshake message (RFC 8446 §5.1).
const HANDSHAKE_RECORD: u8 = 0x16;
/// How much of a plain-HTTP request is read for its access-log line.
const PLAIN_PEEK: usize = 1024;

/// Terminates TLS for one listener.
pub struct Terminator {
    acceptor: Acceptor,
}

impl Terminator {
    /// A terminator presenting the certificates `resolver` chooses.
    pub fn new(resolver: Arc<SniResolver>) -> Terminator {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions = [&rustls::version::TLS13, &rustls::version::TLS12];
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .expect("ring supports TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_cert_resolver(resolver);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Terminator {
            acceptor: Acceptor::from_server_config(Arc::new(config)),
        }
    }

    /// The decrypted stream, or `None` once the connection is answered or closed (see the
    /// module doc). `deadline` bounds the whole handshake.
    pub async fn handshake(&self, stream: Stream, deadline: Instant) -> Option<Stream> {
        let stream = screen_plain_http(stream, deadline).await?;
        match timeout_at(deadline, self.acceptor.tls_handshake(stream)).await {
            Ok(Ok(tls)) => Some(Box::new(Rewound::new(tls))),
            Ok(Err(e)) => {
                failed("failed");
                tracing::debug!(error = %e, "TLS handshake with a client failed");
                None
            }
            Err(_) => {
                failed("timeout");
                None
            }
        }
    }
}

/// Counts a failed handshake.
fn failed(reason: &'static str) {
    metrics::counter!("strangler_tls_handshake_errors_total", "reason" => reason).increment(1);
}

/// Reads the first bytes: a TLS handshake record is put back and handed on; anything else
/// is answered as plain HTTP sent to a TLS port.
async fn screen_plain_http(stream: Stream, deadline: Instant) -> Option<TcpStream> {
    let mut tcp = stream.into_any().downcast::<TcpStream>().ok()?;
    let mut first = [0u8; PLAIN_PEEK];
    let read = match timeout_at(deadline, tcp.read(&mut first)).await {
        Ok(Ok(n)) if n > 0 => n,
        Ok(_) => return None,
        Err(_) => {
            failed("timeout");
            return None;
        }
    };
    let first = &first[..read];
    if first[0] == HANDSHAKE_RECORD {
        tcp.rewind(first);
        return Some(*tcp);
    }
    refused_head::record(HeadFault::PlainHttpToTls, first, &*tcp);
    refused_head::answer(tcp, HeadFault::PlainHttpToTls).await;
    None
}
