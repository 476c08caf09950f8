//! The head deadline for h2c: a connection that sent the HTTP/2 preface must have sent its
//! SETTINGS and its first request's HEADERS within `limits.client_timeout` (30 s by
//! default) of its accept, like an HTTP/1 head, or it is closed.
//!
//! The bytes cannot be read ahead here as for HTTP/1: an HTTP/2 client may wait for the
//! server's SETTINGS before it sends a request (gRPC clients do), and only Pingora's HTTP/2
//! session sends them. So the connection goes to Pingora at once and is watched from the
//! outside: [`H2cHeads::expect`] registers it by the client's address, the edge's
//! `request_filter` reports its first request ([`H2cHeads::arrived`]), and a connection
//! whose first request has not arrived by the deadline is dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use parking_lot::Mutex;
use pingora::prelude::Session;
use tokio::sync::oneshot;

/// The h2c connections still waiting for their first request, by client address.
#[derive(Debug, Default)]
pub struct H2cHeads {
    /// Client address to (registration number, the signal of its first request).
    waiting: Mutex<HashMap<SocketAddr, (u64, oneshot::Sender<()>)>>,
    /// How many are waiting: the request path takes no lock while it is 0.
    pending: AtomicUsize,
    /// The next registration number (an address reused by a later connection is told apart).
    next: AtomicU64,
}

/// One h2c connection waiting for its first request; unregistered when dropped.
pub struct Expected<'a> {
    heads: &'a H2cHeads,
    peer: SocketAddr,
    number: u64,
    /// Completes when the edge sees the connection's first request.
    pub first_request: oneshot::Receiver<()>,
}

impl H2cHeads {
    /// Registers the connection from `peer` as waiting for its first request.
    pub fn expect(&self, peer: SocketAddr) -> Expected<'_> {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let (sender, first_request) = oneshot::channel();
        self.waiting.lock().insert(peer, (number, sender));
        self.pending.fetch_add(1, Ordering::Relaxed);
        Expected {
            heads: self,
            peer,
            number,
            first_request,
        }
    }

    /// From `request_filter`: an HTTP/2 request arrived, so its connection (if it was
    /// waiting) has met the deadline.
    pub fn arrived(&self, session: &Session) {
        if self.pending.load(Ordering::Relaxed) == 0 || !session.as_ref().is_http2() {
            return;
        }
        let Some(peer) = session.client_addr().and_then(|a| a.as_inet()).copied() else {
            return;
        };
        if let Some((_, sender)) = self.remove(peer, None) {
            let _ = sender.send(());
        }
    }

    /// Removes `peer`'s entry (only registration `number`'s, when given).
    fn remove(&self, peer: SocketAddr, number: Option<u64>) -> Option<(u64, oneshot::Sender<()>)> {
        let mut waiting = self.waiting.lock();
        let entry = waiting.get(&peer)?;
        if number.is_some_and(|n| n != entry.0) {
            return None;
        }
        self.pending.fetch_sub(1, Ordering::Relaxed);
        waiting.remove(&peer)
    }
}

impl Drop for Expected<'_> {
    fn drop(&mut self) {
        self.heads.remove(self.peer, Some(self.number));
    }
}
