//! A deadline on every HTTP/1 request head: `limits.client_timeout`, 30 s by default
//! (`Limits::head_timeout`).
//!
//! Pingora reads the request head before any hook runs, waiting up to 60 s for each read, so
//! a client that sends half a head and stalls (or trickles it a byte at a time) holds its
//! connection for minutes. Here, before Pingora sees the head, it is read with one deadline
//! for all of it (counted from the accept for a connection's first request, from the first
//! bytes of a kept-alive connection's next one); a client that has not sent the whole head
//! by then is disconnected and counted (`client-timeout`). The bytes are put back, so
//! Pingora parses the head as usual.

use pingora::protocols::l4::stream::Stream as TcpStream;
use pingora::protocols::Stream;
use tokio::io::AsyncReadExt;
use tokio::time::{timeout_at, Instant};

/// Counts a client disconnected for missing its head deadline, and says so at debug level.
pub fn record_timeout(what: &'static str) {
    tracing::debug!(target: "strangler::limits", what, "client_timeout: closing");
    crate::telemetry::metrics::record_rejected("client-timeout");
}

/// Past this many bytes without an end of head the rest is Pingora's to judge (it refuses
/// a head over 1 MiB): the deadline has done its job once the client sends this much.
const SCAN_LIMIT: usize = 64 * 1024;

/// Waits until the head on `stream` is complete, at most until `deadline`; `None` when the
/// client stalled past it or closed. Streams that are not plain TCP are passed on untouched.
pub async fn await_head(stream: Stream, deadline: Instant) -> Option<Stream> {
    if !stream.as_any().is::<TcpStream>() {
        return Some(stream);
    }
    let mut tcp = stream.into_any().downcast::<TcpStream>().ok()?;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let mut scanned = 0;
    while !head_complete(&head[scanned..]) && head.len() < SCAN_LIMIT {
        // An empty line may straddle two reads: rescan only its three possible bytes.
        scanned = head.len().saturating_sub(3);
        match timeout_at(deadline, tcp.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&chunk[..n]),
            Ok(_) => return None,
            Err(_) => {
                record_timeout("request head not complete");
                return None;
            }
        }
    }
    tcp.rewind(&head);
    Some(tcp)
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
