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
//!
//! Every connection meets the head deadline (`limits.client_timeout`, 30 s by default) from
//! its accept: a connection that sends nothing is closed at it, an HTTP/1 head must be
//! whole by then ([`crate::connection::client_head`]), and an h2c connection must have sent
//! its first request's HEADERS ([`crate::connection::h2c_head`]).
//!
//! Between two requests of a kept-alive HTTP/1 connection the proxy holds nothing but the
//! socket: it waits here for the next request's first bytes (bounded by the keep-alive
//! timeout, cut short by shutdown, or by [`crate::connection::pressure`] when descriptors
//! run short), puts them back and only then starts Pingora's session.
//! Pingora's own keep-alive loop waits inside a new session, whose request future and
//! header buffer an idle connection would hold for its whole idle life (about 25 KiB each:
//! 250 MiB for 10,000 idle clients, docs/performance.md).

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream, ServerApp};
use pingora::listeners::ALPN;
use pingora::prelude::timeout;
use pingora::protocols::http::ServerSession;
use pingora::protocols::l4::stream::Stream as TcpStream;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use tokio::io::{AsyncReadExt, ReadBuf};
use tokio::time::{timeout_at, Instant};

use crate::connection::client_head::{self, record_timeout, Arrival};
use crate::connection::drain::{Drain, KEEPALIVE_LINGER};
use crate::connection::h2c_head::H2cHeads;
use crate::connection::head_check::{self, Head};
use crate::connection::pressure::Pressure;
use crate::connection::refused_head;
use crate::connection::rewound::{rewindable, Rewind};
use crate::connection::tls::Terminator;

/// The HTTP/2 connection preface (RFC 9113 section 3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// How long to wait for the rest of a preface that arrived in pieces.
const REST_OF_PREFACE: Duration = Duration::from_secs(5);
/// How long a kept-alive HTTP/1 connection may stay idle between requests (Pingora's 60 s).
const KEEPALIVE_SECS: u64 = 60;
const KEEPALIVE: Duration = Duration::from_secs(KEEPALIVE_SECS);
/// The most bytes of the next request read while waiting for it; a request head that is
/// longer is read on by Pingora as usual.
const NEXT_REQUEST_PEEK: usize = 1024;

/// The protocol a new connection speaks.
#[derive(Debug, PartialEq, Eq)]
enum Protocol {
    Http1,
    H2c,
}

/// Marks a request with another pipelined behind it: its answer closes the connection
/// (`request::edge`'s `on_connection_reuse` reads the mark).
pub struct Pipelined;

/// Routes each new connection to the HTTP/1 or the h2c instance of the same proxy.
pub struct Downstream<A, H = A> {
    /// The proxy with h2c off.
    pub http1: Arc<A>,
    /// The proxy with h2c on (its HTTP/2 streams watched, `connection::h2_stream`).
    pub h2c: Arc<H>,
    /// Where `limits.client_timeout`, the deadline on a request head, is read.
    pub live: Arc<crate::live::config::LiveConfig>,
    /// Counts open connections and holds idle ones open for a while when draining.
    pub drain: Arc<Drain>,
    /// The h2c connections waiting for their first request.
    pub h2c_heads: Arc<H2cHeads>,
    /// Closes the longest-idle connections when descriptors run short.
    pub pressure: Arc<Pressure>,
    /// The TLS handshake of a TLS listener; `None` for plain HTTP and h2c.
    pub tls: Option<Arc<Terminator>>,
}

#[async_trait]
impl<A, H> ServerApp for Downstream<A, H>
where
    A: ServerApp + HttpServerApp + Send + Sync + 'static,
    H: ServerApp + HttpServerApp + Send + Sync + 'static,
{
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let _open = self.drain.connection();
        self.pressure.relieve();
        let deadline = Instant::now() + self.head_timeout();
        if let Some(tls) = &self.tls {
            let stream = tls.handshake(stream, deadline).await?;
            return self.serve_tls(stream, deadline, shutdown).await;
        }
        let (protocol, stream) = sniff(stream, deadline, &self.pressure).await?;
        if protocol == Protocol::H2c {
            return self.serve_h2c(stream, deadline, shutdown).await;
        }
        let (stream, pipelined) = bounded_head(stream, deadline, self.max_head()).await?;
        self.serve_http1(stream, pipelined, shutdown).await
    }

    /// Called once the accept loop stopped. Pingora's own cleanup closes idle kept-alive
    /// connections at once, so it waits for the drain's linger first.
    async fn cleanup(&self) {
        self.drain.linger().await;
        self.http1.cleanup().await;
        self.h2c.cleanup().await;
    }
}

impl<A, H> Downstream<A, H>
where
    A: ServerApp + HttpServerApp + Send + Sync + 'static,
    H: ServerApp + HttpServerApp + Send + Sync + 'static,
{
    /// `limits.client_timeout`, or its default, as configured now.
    fn head_timeout(&self) -> Duration {
        self.live.current().snapshot.limits().head_timeout()
    }

    /// The largest request head accepted: `limits.max_header`, or
    /// [`head_check::DEFAULT_MAX_HEAD`].
    fn max_head(&self) -> usize {
        let limit = self.live.current().snapshot.limits().max_header;
        limit.map_or(head_check::DEFAULT_MAX_HEAD, |l| l as usize)
    }

    /// A decrypted connection: HTTP/2 when ALPN chose it, else HTTP/1, whose heads are
    /// bounded and judged as in cleartext.
    async fn serve_tls(
        &self,
        stream: Stream,
        deadline: Instant,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        if stream.selected_alpn_proto() == Some(ALPN::H2) {
            return self.serve_h2c(stream, deadline, shutdown).await;
        }
        let (stream, pipelined) = bounded_head(stream, deadline, self.max_head()).await?;
        self.serve_http1(stream, pipelined, shutdown).await
    }

    /// Hands an h2c connection to Pingora at once (it sends the server's SETTINGS, which
    /// some clients wait for) and closes it if its first request has not arrived by
    /// `deadline`.
    async fn serve_h2c(
        &self,
        stream: Stream,
        deadline: Instant,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let peer = stream
            .get_socket_digest()
            .and_then(|d| d.peer_addr()?.as_inet().copied());
        let serving = self.h2c.process_new(stream, shutdown);
        let Some(peer) = peer else {
            return serving.await;
        };
        let mut expected = self.h2c_heads.expect(peer);
        tokio::pin!(serving);
        tokio::select! {
            served = &mut serving => return served,
            arrived = timeout_at(deadline, &mut expected.first_request) => {
                if arrived.is_err() {
                    record_timeout("no h2c request");
                    return None;
                }
            }
        }
        serving.await
    }

    /// Pingora's HTTP/1 keep-alive loop (`HttpServerApp`'s `process_new` for a plain TCP
    /// stream: keep-alive 60 s, none once shutting down), except that an idle connection
    /// waits in [`next_request`] rather than inside a new session, and that every request
    /// head, not just the first, must arrive within `limits.client_timeout` of its first
    /// bytes and is judged before Pingora parses it ([`head_check`]).
    async fn serve_http1(
        &self,
        stream: Stream,
        pipelined: bool,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let mut served = Box::pin(self.serve_one(stream, None, pipelined, shutdown)).await;
        while let Some((stream, settings)) = served.map(ReusedHttpStream::consume) {
            let max_head = self.max_head();
            let (stream, head) = next_request(stream, shutdown, &self.pressure, max_head).await?;
            // The usual request's head arrives in one read: nothing left to bound.
            let (stream, pipelined) = match head {
                Head::Sound { pipelined } => (stream, pipelined),
                Head::Refused(fault) => {
                    refused_head::answer(stream, fault).await;
                    return None;
                }
                Head::Incomplete => {
                    let deadline = Instant::now() + self.head_timeout();
                    bounded_head(stream, deadline, max_head).await?
                }
            };
            served = Box::pin(self.serve_one(stream, settings, pipelined, shutdown)).await;
        }
        None
    }

    /// One request in a new Pingora session. Boxed by the caller for the length of the
    /// request: the session lives here, not in the connection's future, which an idle
    /// connection holds for its whole idle life.
    ///
    /// A request with another pipelined behind it is answered with `Connection: close`:
    /// Pingora would otherwise answer it as kept alive and then close the connection,
    /// dropping the next request without a word. The client sends that one again on a new
    /// connection (RFC 9112 §9.3.2).
    async fn serve_one(
        &self,
        stream: Stream,
        settings: Option<HttpPersistentSettings>,
        pipelined: bool,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        let mut session = ServerSession::new_http1(stream);
        match settings {
            Some(settings) => settings.apply_to_session(&mut session),
            None => session.set_keepalive((!*shutdown.borrow()).then_some(KEEPALIVE_SECS)),
        }
        if pipelined {
            // Pingora reads the client's keep-alive wish with the head, after this; the
            // marker reaches `on_connection_reuse`, which runs once the head is read.
            session.set_connection_user_context(Some(Box::new(Pipelined)));
        }
        self.http1.process_new_http(session, shutdown).await
    }
}

/// [`client_head::await_head`]: the stream with a sound head put back, and whether another
/// request was pipelined behind it. Its future (with a 4 KiB read buffer) is boxed for the
/// length of the wait: inline, it would be part of every connection's future for the
/// connection's whole life, idle or not.
async fn bounded_head(
    stream: Stream,
    deadline: Instant,
    max_head: usize,
) -> Option<(Stream, bool)> {
    match Box::pin(client_head::await_head(stream, deadline, max_head)).await {
        Arrival::Sound { stream, pipelined } => Some((stream, pipelined)),
        Arrival::Gone => None,
    }
}

/// Waits for the first bytes of the next request on a kept-alive connection and puts them
/// back; `None` (the connection is closed) when the client closes, stays idle past the
/// keep-alive timeout, is among the longest idle when descriptors run short ([`Pressure`]),
/// or stays idle for [`KEEPALIVE_LINGER`] once the proxy starts draining (a client that was about to reuse the connection is still answered, with
/// `Connection: close`; see [`crate::connection::drain`]). Pipelining is off, so a reused stream never
/// holds bytes of the next request already. The bytes are read into a per-thread scratch
/// buffer ([`read_into_rewind`]), so the wait itself holds no buffer; a head that arrived
/// whole in them is judged there ([`Head`]; a refused one is already counted and logged).
async fn next_request(
    stream: Stream,
    shutdown: &ShutdownWatch,
    pressure: &Pressure,
    max_head: usize,
) -> Option<(Stream, Head)> {
    let mut tcp = match rewindable(stream) {
        Ok(rewindable) => rewindable,
        // Not a stream bytes can be put back into: Pingora's session waits instead.
        Err(stream) => return Some((stream, Head::Sound { pipelined: false })),
    };
    // Pingora's coarse timer, the one its own keep-alive read uses. A busy connection sends
    // its next request within the first [`KEEPALIVE_LINGER`], which needs no shutdown watch:
    // registering one on every request takes the watch's lock twice (its removal alone was
    // 0.4 % of a profile's samples). A connection idle that long waits on with the watch, so
    // a drain still gives it the whole linger from the drain's start.
    let read = match timeout(KEEPALIVE_LINGER, arrival(&mut tcp, max_head)).await {
        Ok(read) => read,
        Err(_) => {
            let mut idle = pressure.idle();
            tokio::select! {
                read = timeout(KEEPALIVE - KEEPALIVE_LINGER, arrival(&mut tcp, max_head)) => read.ok()?,
                _ = lingered(shutdown) => return None,
                _ = &mut idle.evicted => return None,
            }
        }
    };
    match read {
        Ok((n, head)) if n > 0 => Some((tcp.into_stream(), head)),
        _ => None,
    }
}

/// Completes when bytes (or the end of the stream) arrive on `tcp`; see [`read_into_rewind`].
fn arrival(
    tcp: &mut Box<dyn Rewind>,
    max_head: usize,
) -> impl Future<Output = io::Result<(usize, Head)>> + '_ {
    poll_fn(move |cx| read_into_rewind(tcp, max_head, cx))
}

thread_local! {
    /// Where [`read_into_rewind`] reads: one buffer per worker thread instead of one per
    /// idle connection.
    static SCRATCH: RefCell<[u8; NEXT_REQUEST_PEEK]> = const { RefCell::new([0; NEXT_REQUEST_PEEK]) };
}

/// Reads what has arrived on `tcp` (at most [`NEXT_REQUEST_PEEK`] bytes) and puts it back at
/// the head of the stream, for Pingora to parse; the number of bytes (0 at end of stream),
/// and the head's verdict when they hold all of it ([`Head::Incomplete`] otherwise).
fn read_into_rewind(
    tcp: &mut Box<dyn Rewind>,
    max_head: usize,
    cx: &mut Context<'_>,
) -> Poll<io::Result<(usize, Head)>> {
    SCRATCH.with_borrow_mut(|scratch| {
        let mut buf = ReadBuf::new(scratch);
        ready!(Pin::new(&mut **tcp).poll_read(cx, &mut buf))?;
        let read = buf.filled();
        tcp.put_back(read);
        let head = match client_head::head_complete(read) {
            true => head_check::check(read, max_head),
            false => Head::Incomplete,
        };
        if let Head::Refused(fault) = head {
            refused_head::record(fault, read, &**tcp);
        }
        Poll::Ready(Ok((read.len(), head)))
    })
}

/// Completes [`KEEPALIVE_LINGER`] after shutdown starts.
async fn lingered(shutdown: &ShutdownWatch) {
    let mut stopping = shutdown.clone();
    let _ = stopping.wait_for(|stop| *stop).await;
    tokio::time::sleep(KEEPALIVE_LINGER).await;
}

/// Reads the first bytes (by `deadline`), puts them back, and says which protocol they
/// start. `None` when the client closed, stayed silent past the deadline, or was among the
/// longest idle when descriptors ran short.
async fn sniff(
    mut stream: Stream,
    deadline: Instant,
    pressure: &Pressure,
) -> Option<(Protocol, Stream)> {
    if !stream.as_any().is::<TcpStream>() {
        // Not a plain TCP stream we can rewind: let the HTTP/1 app decide.
        return Some((Protocol::Http1, stream));
    }
    let mut buf = [0u8; PREFACE.len()];
    let mut read = first_bytes(&mut stream, &mut buf, deadline, pressure).await?;
    while read < buf.len() && PREFACE.starts_with(&buf[..read]) {
        let rest = deadline.min(Instant::now() + REST_OF_PREFACE);
        match timeout_at(rest, stream.read(&mut buf[read..])).await {
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

/// The first read of a new connection, by `deadline`; a connection silent for
/// [`KEEPALIVE_LINGER`] waits on as idle, which descriptor pressure may close.
async fn first_bytes(
    stream: &mut Stream,
    buf: &mut [u8],
    deadline: Instant,
    pressure: &Pressure,
) -> Option<usize> {
    let soon = deadline.min(Instant::now() + KEEPALIVE_LINGER);
    let read = match timeout_at(soon, stream.read(buf)).await {
        Ok(read) => read,
        Err(_) => {
            let mut idle = pressure.idle();
            tokio::select! {
                read = timeout_at(deadline, stream.read(buf)) => match read {
                    Ok(read) => read,
                    Err(_) => {
                        record_timeout("no bytes");
                        return None;
                    }
                },
                _ = &mut idle.evicted => return None,
            }
        }
    };
    read.ok().filter(|&n| n > 0)
}

/// Puts `data` back at the head of the stream (checked above to be plain TCP).
fn rewind(stream: Stream, data: &[u8]) -> Option<Stream> {
    let mut tcp = stream.into_any().downcast::<TcpStream>().ok()?;
    tcp.rewind(data);
    Some(tcp)
}
