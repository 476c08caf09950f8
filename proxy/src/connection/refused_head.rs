//! The answer to a request head refused by [`crate::connection::head_check`], before any
//! Pingora session exists: the fault's status with the JSON body every other refusal has
//! (`{"error": ...}`, see `request::refusal`), `Connection: close`, no `Server` header; an
//! access-log line (rate-limited) and `strangler_rejected_requests_total{reason}`.
//!
//! The connection is closed after the answer: the rest of what the client sent cannot be
//! trusted to start where the refused head ends. Before closing, what the client is still
//! sending is read and dropped for a moment (a lingering close, as nginx does), so the
//! client's kernel does not reset the connection before it has read the answer.

use std::time::{Duration, SystemTime};

use pingora::protocols::{GetSocketDigest, Stream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::connection::head_check::HeadFault;
use crate::telemetry::access_log::{self, RefusedRecord};

/// How long the answer may take to write.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long, and how much, the lingering close reads before closing.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_BYTES: usize = 1024 * 1024;

/// Counts the refused head and writes its access-log line. `head` is what was read of it.
pub fn record<S: GetSocketDigest + ?Sized>(fault: HeadFault, head: &[u8], tcp: &S) {
    crate::telemetry::metrics::record_rejected(fault.code());
    let client = tcp
        .get_socket_digest()
        .and_then(|digest| digest.peer_addr()?.as_inet().copied());
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut parts = line.trim_ascii_end().splitn(2, |&b| b == b' ');
    let method = parts.next().filter(|m| !m.is_empty());
    // The target, or whatever follows the method on the request line, version and all.
    let target = parts.next().unwrap_or_default();
    let target = target
        .strip_suffix(b" HTTP/1.1")
        .or_else(|| target.strip_suffix(b" HTTP/1.0"))
        .unwrap_or(target);
    tracing::debug!(target: "strangler::limits", reason = fault.code(), "request head refused");
    access_log::write_refused(&RefusedRecord {
        client,
        method,
        target,
        status: fault.status(),
        reason: fault.code(),
        message: &fault.message(),
    });
}

/// Sends the fault's answer and closes the connection.
pub async fn answer(mut tcp: Stream, fault: HeadFault) {
    let response = response(fault, SystemTime::now());
    let written = tokio::time::timeout(WRITE_TIMEOUT, async {
        tcp.write_all(&response).await?;
        tcp.flush().await?;
        tcp.shutdown().await
    })
    .await;
    if matches!(written, Ok(Ok(()))) {
        linger(&mut tcp).await;
    }
}

/// Reads and drops what the client still sends, for at most [`LINGER`].
async fn linger(tcp: &mut Stream) {
    let mut sink = [0u8; 4096];
    let mut read = 0;
    let _ = tokio::time::timeout(LINGER, async {
        while read < LINGER_BYTES {
            match tcp.read(&mut sink).await {
                Ok(n) if n > 0 => read += n,
                _ => break,
            }
        }
    })
    .await;
}

/// The whole answer: status line, headers and JSON body.
fn response(fault: HeadFault, now: SystemTime) -> Vec<u8> {
    let status = fault.status();
    let phrase = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let body = serde_json::json!({ "error": fault.message() }).to_string();
    let allow = match fault {
        HeadFault::Connect => "Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n",
        _ => "",
    };
    let head = format!(
        "HTTP/1.1 {status} {phrase}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Cache-Control: private, no-store\r\nConnection: close\r\nDate: {}\r\n{allow}\r\n",
        body.len(),
        httpdate::fmt_http_date(now),
    );
    [head.into_bytes(), body.into_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_json_with_the_faults_status_and_closes() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_330_632);
        let text = String::from_utf8(response(HeadFault::TargetTooLong, at)).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains("\r\nConnection: close"), "{head}");
        assert!(
            head.contains("\r\nContent-Type: application/json"),
            "{head}"
        );
        assert!(!head.to_ascii_lowercase().contains("server:"), "{head}");
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"], *HeadFault::TargetTooLong.message());
        let length = format!(
            "Content-Length: {}",
            text.split_once("\r\n\r\n").unwrap().1.len()
        );
        assert!(head.contains(&length), "{head}");
    }
}
