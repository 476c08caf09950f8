//! A deadline on every HTTP/1 request head: `limits.client_timeout`, 30 s by default
//! (`Limits::head_timeout`).
//!
//! Pingora reads the request head before any hook runs, waiting up to 60 s for each read, so
//! a client that sends half a head and stalls (or trickles it a byte at a time) holds its
//! connection for minutes. Here, before Pingora sees the head, it is read with one deadline
//! for all of it (counted from the accept for a connection's first request, from the first
//! bytes of a kept-alive connection's next one); a client that has not sent the whole head
//! by then is disconnected and counted (`client-timeout`). The whole head is then judged
//! ([`crate::connection::head_check`]): a refused one is answered here
//! ([`crate::connection::refused_head`]), a sound one is put back for Pingora to parse.

use pingora::protocols::Stream;
use tokio::io::AsyncReadExt;
use tokio::time::{timeout_at, Instant};

use crate::connection::head_check::{self, Head};
use crate::connection::refused_head;
use crate::connection::rewound::rewindable;

/// Counts a client disconnected for missing its head deadline, and says so at debug level.
pub fn record_timeout(what: &'static str) {
    tracing::debug!(target: "strangler::limits", what, "client_timeout: closing");
    crate::telemetry::metrics::record_rejected("client-timeout");
}

/// What a client's request head turned out to be.
pub enum Arrival {
    /// Whole and sound: the stream with the head put back, and whether another request
    /// was pipelined behind one without a body.
    Sound { stream: Stream, pipelined: bool },
    /// Refused and answered, stalled past its deadline, or closed: the connection is done.
    Gone,
}

/// Waits until the head on `stream` is complete, at most until `deadline`, and judges it
/// ([`head_check`]); a head over `max_head` bytes is refused without waiting for its end.
/// Streams bytes cannot be put back into (neither plain TCP nor decrypted TLS) are passed
/// on untouched.
pub async fn await_head(stream: Stream, deadline: Instant, max_head: usize) -> Arrival {
    let mut tcp = match rewindable(stream) {
        Ok(rewindable) => rewindable,
        Err(stream) => {
            return Arrival::Sound {
                stream,
                pipelined: false,
            }
        }
    };
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let mut scanned = 0;
    while !worth_judging(&head, scanned, max_head) {
        // An empty line may straddle two reads: rescan only its three possible bytes.
        scanned = head.len().saturating_sub(3);
        match timeout_at(deadline, tcp.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&chunk[..n]),
            Ok(_) => return Arrival::Gone,
            Err(_) => {
                record_timeout("request head not complete");
                return Arrival::Gone;
            }
        }
    }
    match head_check::check(&head, max_head) {
        Head::Refused(fault) => {
            refused_head::record(fault, &head, &*tcp);
            refused_head::answer(tcp.into_stream(), fault).await;
            Arrival::Gone
        }
        Head::Sound { pipelined } => {
            tcp.put_back(&head);
            Arrival::Sound {
                stream: tcp.into_stream(),
                pipelined,
            }
        }
        // Cannot happen once worth judging; Pingora has the last word if it does.
        Head::Incomplete => {
            tcp.put_back(&head);
            Arrival::Sound {
                stream: tcp.into_stream(),
                pipelined: false,
            }
        }
    }
}

/// Whether enough of the head has arrived to judge it: all of it, more than `max_head`
/// bytes, or a request line too long to be accepted. The parse runs once, not per read.
fn worth_judging(head: &[u8], scanned: usize, max_head: usize) -> bool {
    head_complete(&head[scanned..])
        || head.len() > max_head
        || (head.len() > head_check::MAX_TARGET + 32 && !head.contains(&b'\n'))
}

/// Whether `bytes` hold a whole request head: an empty line (CRLF or bare LF, as Pingora's
/// parser accepts both).
pub(crate) fn head_complete(bytes: &[u8]) -> bool {
    bytes.windows(4).any(|w| w == b"\r\n\r\n") || bytes.windows(2).any(|w| w == b"\n\n")
}

#[cfg(test)]
mod tests {
    use super::head_complete;

    #[test]
    fn a_head_ends_at_its_empty_line() {
        assert!(head_complete(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(head_complete(b"GET / HTTP/1.0\n\n"));
        assert!(!head_complete(b"GET / HTTP/1.1\r\nHost: x\r\n"));
        assert!(!head_complete(b""));
    }
}
