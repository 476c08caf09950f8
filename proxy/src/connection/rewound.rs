//! A decrypted TLS connection that read bytes can be put back into, as Pingora's plain TCP
//! stream allows: so that an HTTP/1 head over TLS meets the same deadline and the same
//! judgement ([`crate::connection::head_check`]) as one in cleartext, and a kept-alive TLS
//! connection waits for its next request without a session, like a plain one. Every other
//! trait of Pingora's transport is the TLS stream's own.
//!
//! [`Rewind`] is what the connection layer asks of either kind of stream.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use pingora::listeners::ALPN;
use pingora::protocols::l4::stream::Stream as TcpStream;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::tls::{SslDigest, TlsRef, TlsStream};
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, Ssl, Stream, UniqueID,
    UniqueIDType, IO,
};
use pingora::protocols::{SocketDigest, TimingDigest};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A stream bytes can be put back into, handed on as Pingora's [`Stream`] afterwards.
pub trait Rewind: IO {
    /// Puts `data` back in front of what the stream has not read yet.
    fn put_back(&mut self, data: &[u8]);
    /// The stream, boxed as Pingora takes it.
    fn into_stream(self: Box<Self>) -> Stream;
}

impl Rewind for TcpStream {
    fn put_back(&mut self, data: &[u8]) {
        self.rewind(data);
    }

    fn into_stream(self: Box<Self>) -> Stream {
        self
    }
}

impl Rewind for Rewound {
    fn put_back(&mut self, data: &[u8]) {
        let unread = self.ahead.split_off(self.consumed.min(self.ahead.len()));
        self.ahead = [data, &unread].concat();
        self.consumed = 0;
    }

    fn into_stream(self: Box<Self>) -> Stream {
        self
    }
}

/// `stream` as a [`Rewind`] (plain TCP or [`Rewound`]); given back unchanged otherwise.
pub fn rewindable(stream: Stream) -> Result<Box<dyn Rewind>, Stream> {
    if stream.as_any().is::<TcpStream>() {
        let tcp = stream.into_any().downcast::<TcpStream>().expect("checked");
        return Ok(tcp);
    }
    if stream.as_any().is::<Rewound>() {
        let tls = stream.into_any().downcast::<Rewound>().expect("checked");
        return Ok(tls);
    }
    Err(stream)
}

/// A TLS stream with bytes put back in front of it.
pub struct Rewound {
    inner: TlsStream<TcpStream>,
    /// Bytes put back; read before the stream's own.
    ahead: Vec<u8>,
    /// How many of `ahead` have been read again.
    consumed: usize,
}

impl Rewound {
    /// Wraps a decrypted connection.
    pub fn new(inner: TlsStream<TcpStream>) -> Rewound {
        Rewound {
            inner,
            ahead: Vec::new(),
            consumed: 0,
        }
    }
}

impl std::fmt::Debug for Rewound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rewound")
            .field("ahead", &(self.ahead.len() - self.consumed))
            .finish_non_exhaustive()
    }
}

impl AsyncRead for Rewound {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.consumed < this.ahead.len() {
            let rest = &this.ahead[this.consumed..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.consumed += n;
            if this.consumed == this.ahead.len() {
                (this.ahead, this.consumed) = (Vec::new(), 0);
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewound {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[async_trait]
impl Shutdown for Rewound {
    async fn shutdown(&mut self) {
        Shutdown::shutdown(&mut self.inner).await
    }
}

impl UniqueID for Rewound {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for Rewound {
    fn get_ssl(&self) -> Option<&TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for Rewound {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for Rewound {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }
}

impl GetSocketDigest for Rewound {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest)
    }
}

/// Peeking is not offered (Pingora then reads as usual).
impl Peek for Rewound {}
