//! Descriptor pressure: when open client connections near the open-files limit, the
//! longest-idle ones are closed so new clients are still accepted and served.
//!
//! Every connection holds a descriptor, and so does every upstream connection. Once the
//! process runs out, `accept` fails and every new client waits (Pingora's accept loop
//! retries once a second) until some idle client goes away on its own: a full outage made
//! of idle connections. So past a high-water mark (three quarters of what the limit leaves
//! after a reserve for upstreams, files and the admin listener), each accept closes the
//! connections that have waited longest for a request: kept-alive ones between requests and
//! new ones that sent nothing yet. A connection registers as idle only after
//! `KEEPALIVE_LINGER` (1 s) without bytes, so a busy connection never touches the lock.
//! Crossing the mark is logged once (again after the count fell back below 90 % of it);
//! `strangler_open_connections` shows the count.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::connection::drain::Drain;

/// Descriptors kept out of the client connections' share for everything else.
const RESERVE: usize = 64;
/// The fewest idle connections closed at once when over the mark.
const EVICT_BATCH: usize = 8;

/// The high-water mark and the idle connections that may be closed to stay under it.
#[derive(Debug)]
pub struct Pressure {
    /// Where the open client connections are counted.
    drain: Arc<Drain>,
    /// Open client connections past which the longest-idle are closed.
    high_water: AtomicUsize,
    /// Set while over the mark, so crossing it is logged once.
    warned: AtomicBool,
    /// Idle connections by the order they became idle (oldest first), each with the
    /// signal that closes it.
    idle: Mutex<BTreeMap<u64, oneshot::Sender<()>>>,
    /// The next idle registration's number.
    next: AtomicU64,
}

/// The mark for an open-files `limit`.
pub fn high_water(limit: u64) -> usize {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    (limit.saturating_sub(RESERVE) / 4 * 3).max(1)
}

/// One idle connection; unregistered when dropped.
pub struct IdleTicket<'a> {
    pressure: &'a Pressure,
    number: u64,
    /// Completes when the connection is chosen to be closed.
    pub evicted: oneshot::Receiver<()>,
}

impl Pressure {
    /// No mark (until [`Pressure::set_limit`]) over the connections `drain` counts.
    pub fn new(drain: Arc<Drain>) -> Pressure {
        Pressure {
            drain,
            high_water: AtomicUsize::new(usize::MAX),
            warned: AtomicBool::new(false),
            idle: Mutex::default(),
            next: AtomicU64::new(0),
        }
    }

    /// Sets the mark from the process's open-files limit.
    pub fn set_limit(&self, limit: u64) {
        self.high_water.store(high_water(limit), Ordering::Relaxed);
    }

    /// Registers a connection as idle (waiting for a request) until the ticket drops; over
    /// the mark, closes the longest-idle (this one too, if it is the only one). Checking
    /// here as well as on accept matters once `accept` itself fails for want of
    /// descriptors: then only connections turning idle can free some.
    pub fn idle(&self) -> IdleTicket<'_> {
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let (sender, evicted) = oneshot::channel();
        self.idle.lock().insert(number, sender);
        self.relieve();
        IdleTicket {
            pressure: self,
            number,
            evicted,
        }
    }

    /// Over the mark, warns (once) and closes the longest-idle connections; called on each
    /// accept and each connection turning idle.
    pub fn relieve(&self) {
        let open = self.drain.open();
        let mark = self.high_water.load(Ordering::Relaxed);
        if open < mark {
            // Reset only when set: every accept passes here, and a store on the shared
            // flag would be a write to one cache line from every worker.
            if open < mark / 10 * 9 && self.warned.load(Ordering::Relaxed) {
                self.warned.store(false, Ordering::Relaxed);
            }
            return;
        }
        if !self.warned.swap(true, Ordering::Relaxed) {
            let message = "open connections near the open-files limit: closing the longest-idle";
            tracing::warn!(open, high_water = mark, message);
        }
        self.evict((open - mark).max(EVICT_BATCH));
    }

    /// Closes up to `count` of the longest-idle connections; how many it closed.
    fn evict(&self, count: usize) -> usize {
        let mut idle = self.idle.lock();
        let mut closed = 0;
        while closed < count {
            let Some((_, sender)) = idle.pop_first() else {
                break;
            };
            closed += usize::from(sender.send(()).is_ok());
        }
        closed
    }
}

impl Drop for IdleTicket<'_> {
    fn drop(&mut self) {
        self.pressure.idle.lock().remove(&self.number);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_leaves_a_reserve_and_a_quarter_for_upstreams() {
        assert_eq!(high_water(1024), 720);
        assert_eq!(high_water(10), 1);
    }

    #[test]
    fn the_longest_idle_connections_are_closed_first() {
        let drain = Arc::new(Drain::default());
        let pressure = Pressure::new(drain.clone());
        pressure.set_limit(1024);
        let mut oldest = pressure.idle();
        let mut newest = pressure.idle();
        assert_eq!(pressure.evict(1), 1);
        assert!(oldest.evicted.try_recv().is_ok());
        assert!(newest.evicted.try_recv().is_err());
        drop(oldest);
        let open: Vec<_> = (0..720).map(|_| drain.connection()).collect();
        pressure.relieve();
        assert!(newest.evicted.try_recv().is_ok(), "over the mark");
        drop(open);
    }

    #[test]
    fn under_the_mark_nothing_is_closed() {
        let drain = Arc::new(Drain::default());
        let pressure = Pressure::new(drain.clone());
        pressure.set_limit(1024);
        let _open: Vec<_> = (0..100).map(|_| drain.connection()).collect();
        let mut idle = pressure.idle();
        pressure.relieve();
        assert!(idle.evicted.try_recv().is_err());
    }
}
