//! Draining an instance that stops (SIGTERM, SIGINT, or SIGQUIT after an upgrade hand-over):
//! what happens between "stop accepting" and "exit".
//!
//! Pingora, told to shut down, stops its accept loop and then immediately closes every
//! kept-alive connection that is waiting for its next request. A client that wrote that
//! request a moment earlier gets the connection closed under it, and an HTTP client cannot
//! safely retry a request it has already sent. So here, once draining starts:
//! - every response (of a request in flight, or of one that arrives on a kept-alive
//!   connection) carries `Connection: close`, and the client moves to a fresh connection,
//!   which after an upgrade reaches the new process;
//! - idle kept-alive connections stay open for [`KEEPALIVE_LINGER`], so a client that was
//!   about to reuse one is still answered (with `Connection: close`), and are closed after;
//! - the process waits for requests in flight up to the configured `shutdown_grace:`, then
//!   cuts what is left and says how many requests it cut.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use pingora::prelude::Session;

/// How long idle kept-alive connections stay open once draining starts (at most the grace):
/// long enough for a busy client to send the request it was about to send on one.
pub const KEEPALIVE_LINGER: Duration = Duration::from_secs(1);
/// How often the drain looks at what is still running.
const POLL: Duration = Duration::from_millis(20);

/// The drain state of one instance, shared by its edge, its connections and its shutdown.
#[derive(Debug, Default)]
pub struct Drain {
    /// Set once draining starts: responses from then on close their connection.
    draining: AtomicBool,
    /// Downstream connections open now (HTTP/1 and h2c).
    connections: AtomicUsize,
    /// When idle kept-alive connections are closed; `None` until draining starts.
    linger_until: Mutex<Option<Instant>>,
}

/// What a drain left behind when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Requests still running when the grace ran out, cut by the exit.
    pub requests_cut: usize,
    /// Connections still open at the end (idle kept-alive ones, or those of cut requests).
    pub connections_closed: usize,
    /// How long the drain took.
    pub took: Duration,
}

impl Drain {
    /// Starts draining: from now on responses close their connections, and idle kept-alive
    /// connections are closed after [`KEEPALIVE_LINGER`] (or `grace`, if shorter).
    pub fn begin(&self, grace: Duration) {
        *self.linger_until.lock() = Some(Instant::now() + KEEPALIVE_LINGER.min(grace));
        self.draining.store(true, Ordering::Release);
    }

    /// True once [`Drain::begin`] was called.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Counts one downstream connection as open until the guard drops (here and in the
    /// `strangler_open_connections` gauge).
    pub fn connection(self: &Arc<Self>) -> OpenConnection {
        self.connections.fetch_add(1, Ordering::Relaxed);
        crate::telemetry::metrics::open_connections().increment(1.0);
        OpenConnection(self.clone())
    }

    /// Downstream connections open now.
    pub fn open(&self) -> usize {
        self.connections.load(Ordering::Relaxed)
    }

    /// Waits (asynchronously) until no connection is open or the linger is over; returns at
    /// once when draining has not started (a drop rather than a drain).
    pub async fn linger(&self) {
        let Some(until) = *self.linger_until.lock() else {
            return;
        };
        while self.connections.load(Ordering::Relaxed) > 0 && Instant::now() < until {
            tokio::time::sleep(POLL).await;
        }
    }

    /// Blocks until `in_flight` is zero and the connections are closed (or lingered long
    /// enough), or until `grace` since `started` ran out; says what was left.
    pub fn wait(&self, in_flight: &AtomicUsize, started: Instant, grace: Duration) -> Drained {
        let linger = KEEPALIVE_LINGER.min(grace);
        loop {
            let requests = in_flight.load(Ordering::Relaxed);
            let connections = self.connections.load(Ordering::Relaxed);
            let took = started.elapsed();
            let settled = requests == 0 && (connections == 0 || took >= linger);
            if settled || took >= grace {
                return Drained {
                    requests_cut: requests,
                    connections_closed: connections,
                    took,
                };
            }
            std::thread::sleep(POLL);
        }
    }
}

/// One open downstream connection (see [`Drain::connection`]).
pub struct OpenConnection(Arc<Drain>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
        crate::telemetry::metrics::open_connections().decrement(1.0);
    }
}

/// From the `response_filter` hook: once draining, the response tells the client to close
/// the connection (`Connection: close` on HTTP/1; HTTP/2 gets Pingora's GOAWAY instead).
pub fn close_when_draining(drain: &Drain, session: &mut Session) {
    if drain.is_draining() {
        session.set_keepalive(None);
    }
}
