//! HTTP/1.x and h2c (prior knowledge) on one port, told apart without hanging.
//!
//! Pingora's own h2c detection reads exactly 24 bytes (the length of the HTTP/2 preface)
//! before anything else, with no timeout: a complete HTTP/1.0 request shorter than that
//! (`OPTIONS / HTTP/1.0\r\n\r\n`, the 22 bytes of a load balancer's default health check)
//! waits forever, and so does a client that connects and sends nothing. Here the first read
//! is bounded, and more bytes are awaited only while what arrived can still be the preface;
//! the bytes are then put back and the connection goes to one of two Pingora apps, one with
//! h2c off (HTTP/1) and one with h2c on (which finds the preface already there). A
//! connection is sniffed once: HTTP/1 keep-alive requests after the first go straight on.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::l4::stream::Stream as TcpStream;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use tokio::io::AsyncReadExt;
use tokio::time::timeout;

use crate::drain::Drain;

/// The HTTP/2 connection preface (RFC 9113 section 3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// How long a new connection may stay silent before it is closed.
const FIRST_BYTES: Duration = Duration::from_secs(60);
/// How long to wait for the rest of a preface that arrived in pieces.
const REST_OF_PREFACE: Duration = Duration::from_secs(5);

/// The protocol a new connection speaks.
#[derive(Debug, PartialEq, Eq)]
enum Protocol {
    Http1,
    H2c,
}

/// Routes each new connection to the HTTP/1 or the h2c instance of the same proxy.
pub struct Downstream<A> {
    /// The proxy with h2c off.
    pub http1: Arc<A>,
    /// The proxy with h2c on.
    pub h2c: Arc<A>,
    /// Counts open connections and holds idle ones open for a while when draining.
    pub drain: Arc<Drain>,
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for Downstream<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let _open = self.drain.connection();
        let (protocol, stream) = sniff(stream).await?;
        if protocol == Protocol::H2c {
            return self.h2c.process_new(stream, shutdown).await;
        }
        let mut next = self.http1.process_new(stream, shutdown).await;
        while let Some(stream) = next {
            next = self.http1.process_new(stream, shutdown).await;
        }
        None
    }

    /// Called once the accept loop stopped. Pingora's own cleanup closes idle kept-alive
    /// connections at once, so it waits for the drain's linger first.
    async fn cleanup(&self) {
        self.drain.linger().await;
        self.http1.cleanup().await;
        self.h2c.cleanup().await;
    }
}

/// Reads the first bytes (bounded), puts them back, and says which protocol they start.
/// `None` when the client closed or stayed silent.
async fn sniff(mut stream: Stream) -> Option<(Protocol, Stream)> {
    if !stream.as_any().is::<TcpStream>() {
        // Not a plain TCP stream we can rewind: let the HTTP/1 app decide.
        return Some((Protocol::Http1, stream));
    }
    let mut buf = [0u8; PREFACE.len()];
    let mut read = match timeout(FIRST_BYTES, stream.read(&mut buf)).await {
        Ok(Ok(n)) if n > 0 => n,
        _ => return None,
    };
    while read < buf.len() && PREFACE.starts_with(&buf[..read]) {
        match timeout(REST_OF_PREFACE, stream.read(&mut buf[read..])).await {
            Ok(Ok(n)) if n > 0 => read += n,
            _ => break,
        }
    }
    let protocol = if buf[..read] == PREFACE[..] {
        Protocol::H2c
    } else {
        Protocol::Http1
    };
    Some((protocol, rewind(stream, &buf[..read])?))
}

/// Puts `data` back at the head of the stream (checked above to be plain TCP).
fn rewind(stream: Stream, data: &[u8]) -> Option<Stream> {
    let mut tcp = stream.into_any().downcast::<TcpStream>().ok()?;
    tcp.rewind(data);
    Some(tcp)
}
