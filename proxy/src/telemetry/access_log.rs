//! One JSON line per request on stdout: time, request id, trace id, client address, method,
//! path, tenant, route, side, reason, upstream, status, latency, and the error if there was
//! one.
//!
//! A request refused before it was parsed ([`write_refused`]) gets a line too, with its
//! raw target truncated and escaped; those lines are limited to [`REFUSED_LINES_PER_SECOND`]
//! so a flood of bad requests cannot fill a disk (the counter still counts every one).
//!
//! The line is formatted by hand into the shared log buffer (see `log_writer`): no tracing
//! dispatch, no intermediate `String`, no system call on the worker. Strings from the request
//! are JSON-escaped by serde_json. The log is on when `strangler run` installed the writer
//! and `RUST_LOG` lets `strangler::access` through at info (the default).

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::telemetry::log_writer::LogWriter;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether the access log is on: the request builds its record only then.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Turns the access log on or off (called once the log subscriber is installed).
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// One finished request, as the access log records it.
pub struct AccessRecord<'a> {
    /// The request id (`x-request-id`, the client's or ours).
    pub request_id: Option<&'a str>,
    /// The W3C trace id.
    pub trace_id: Option<&'a str>,
    /// The client's address, as the proxy's socket saw it.
    pub client: Option<SocketAddr>,
    /// The method as sent.
    pub method: &'a str,
    /// The path as sent, without the query.
    pub path: &'a str,
    /// The tenant the proxy resolved.
    pub tenant: Option<&'a str>,
    /// The matched route's name.
    pub route: Option<&'a str>,
    /// The side that answered: `legacy` or `new`.
    pub side: &'static str,
    /// Why that side answered (a decision's reason, a diversion, a limit, `refused`).
    pub reason: &'a dyn std::fmt::Display,
    /// The upstream asked, if any.
    pub upstream: Option<&'a str>,
    /// The status sent; 0 for none.
    pub status: u16,
    /// From the decision to the end of the response.
    pub elapsed: Duration,
    /// What failed, if anything.
    pub error: Option<&'a dyn std::fmt::Display>,
}

/// Writes the access-log line of one finished request.
pub fn write(record: &AccessRecord<'_>) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let Some(writer) = LogWriter::get() else {
        return;
    };
    let now = SystemTime::now();
    writer.append(|buf| {
        // Writing into a Vec cannot fail.
        let _ = format_line(buf, now, record);
    });
}

/// The most access-log lines a second for requests refused before they were parsed.
pub const REFUSED_LINES_PER_SECOND: u64 = 100;
/// How much of a refused request's target its line keeps.
const REFUSED_TARGET_KEPT: usize = 256;

/// A request the proxy refused before Pingora parsed it (see `connection::head_check`).
pub struct RefusedRecord<'a> {
    /// The client's address.
    pub client: Option<SocketAddr>,
    /// The method, when the request line got that far.
    pub method: Option<&'a [u8]>,
    /// The raw target (or whatever the request line held), truncated and escaped here.
    pub target: &'a [u8],
    /// The status sent.
    pub status: u16,
    /// Why: the `reason` label of `strangler_rejected_requests_total`.
    pub reason: &'static str,
    /// What the answer's body said.
    pub message: &'a str,
}

/// Writes the line of a request refused before it was parsed, unless this second already
/// had [`REFUSED_LINES_PER_SECOND`]; the first line of a later second says how many were
/// left out.
pub fn write_refused(record: &RefusedRecord<'_>) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let Some(suppressed) = REFUSED_BUDGET.take(unix_seconds()) else {
        return;
    };
    if suppressed > 0 {
        tracing::warn!(target: "strangler::access", suppressed,
            "access-log lines of refused requests were left out (at most {REFUSED_LINES_PER_SECOND} a second)");
    }
    let method = record.method.map(|m| m.escape_ascii().to_string());
    let kept = &record.target[..record.target.len().min(REFUSED_TARGET_KEPT)];
    let path = kept.escape_ascii().to_string();
    write(&AccessRecord {
        request_id: None,
        trace_id: None,
        client: record.client,
        method: method.as_deref().unwrap_or("-"),
        path: &path,
        tenant: None,
        route: None,
        side: "none",
        reason: &record.reason,
        upstream: None,
        status: record.status,
        elapsed: Duration::ZERO,
        error: Some(&record.message),
    });
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Lines of refused requests written this second, and how many were left out.
struct RefusedBudget {
    /// The second counted now (high 32 bits) and the lines written in it (low 32 bits).
    second_and_lines: AtomicU64,
    /// Lines left out since the last one written.
    suppressed: AtomicU64,
}

static REFUSED_BUDGET: RefusedBudget = RefusedBudget {
    second_and_lines: AtomicU64::new(0),
    suppressed: AtomicU64::new(0),
};

impl RefusedBudget {
    /// Takes one line of `second`'s budget: `Some(lines left out before it)`, or `None` when
    /// the budget is spent (the line is counted as left out).
    fn take(&self, second: u64) -> Option<u64> {
        let second = second & 0xffff_ffff;
        let taken =
            self.second_and_lines
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                    let (at, lines) = (now >> 32, now & 0xffff_ffff);
                    match (at == second, lines < REFUSED_LINES_PER_SECOND) {
                        (false, _) => Some(second << 32 | 1),
                        (true, true) => Some(now + 1),
                        (true, false) => None,
                    }
                });
        match taken {
            Ok(_) => Some(self.suppressed.swap(0, Ordering::Relaxed)),
            Err(_) => {
                self.suppressed.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

fn format_line(
    buf: &mut Vec<u8>,
    now: SystemTime,
    record: &AccessRecord<'_>,
) -> std::io::Result<()> {
    buf.extend_from_slice(b"{\"time\":\"");
    write_rfc3339(buf, now)?;
    buf.extend_from_slice(b"\",\"log\":\"access\"");
    string_field(buf, "request_id", record.request_id)?;
    string_field(buf, "trace_id", record.trace_id)?;
    buf.extend_from_slice(b",\"client\":");
    match record.client {
        Some(client) => push_address(buf, client),
        None => buf.extend_from_slice(b"null"),
    }
    string_field(buf, "method", Some(record.method))?;
    string_field(buf, "path", Some(record.path))?;
    string_field(buf, "tenant", record.tenant)?;
    string_field(buf, "route", record.route)?;
    string_field(buf, "side", Some(record.side))?;
    write!(buf, ",\"reason\":\"{}\"", record.reason)?;
    string_field(buf, "upstream", record.upstream)?;
    // Milliseconds with three decimals from integer microseconds, digits written by itoa:
    // float formatting, then `write!`'s integer formatting, were most of the line's cost.
    let micros = record.elapsed.as_micros();
    let mut digits = itoa::Buffer::new();
    buf.extend_from_slice(b",\"status\":");
    buf.extend_from_slice(digits.format(record.status).as_bytes());
    buf.extend_from_slice(b",\"latency_ms\":");
    buf.extend_from_slice(digits.format(micros / 1000).as_bytes());
    let fraction = (micros % 1000) as u16;
    buf.push(b'.');
    buf.extend_from_slice(&[
        b'0' + (fraction / 100) as u8,
        b'0' + (fraction / 10 % 10) as u8,
        b'0' + (fraction % 10) as u8,
    ]);
    if let Some(error) = record.error {
        string_field(buf, "error", Some(&error.to_string()))?;
    }
    buf.extend_from_slice(b"}\n");
    Ok(())
}

/// `"127.0.0.1:5000"`.
fn push_address(buf: &mut Vec<u8>, address: SocketAddr) {
    buf.push(b'"');
    match address {
        SocketAddr::V4(v4) => {
            push_ip(buf, IpAddr::V4(*v4.ip()));
            buf.push(b':');
            buf.extend_from_slice(itoa::Buffer::new().format(v4.port()).as_bytes());
        }
        SocketAddr::V6(v6) => {
            let _ = write!(buf, "{v6}");
        }
    }
    buf.push(b'"');
}

/// Appends `ip` as `Display` writes it; an IPv4 address digit by digit, which costs a
/// fraction of `Display` through the formatting machinery (this log line and
/// `X-Forwarded-For` write one per request).
pub(crate) fn push_ip(buf: &mut Vec<u8>, ip: IpAddr) {
    let IpAddr::V4(v4) = ip else {
        let _ = write!(buf, "{ip}");
        return;
    };
    let mut digits = itoa::Buffer::new();
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            buf.push(b'.');
        }
        buf.extend_from_slice(digits.format(octet).as_bytes());
    }
}

/// `,"name":"value"` with the value JSON-escaped, or `,"name":null`.
fn string_field(buf: &mut Vec<u8>, name: &str, value: Option<&str>) -> std::io::Result<()> {
    buf.extend_from_slice(b",\"");
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b"\":");
    match value {
        // The usual value (an id, a route, a plain path) needs no escaping.
        Some(value) if !value.bytes().any(needs_escape) => {
            buf.push(b'"');
            buf.extend_from_slice(value.as_bytes());
            buf.push(b'"');
            Ok(())
        }
        Some(value) => serde_json::to_writer(&mut *buf, value).map_err(std::io::Error::other),
        None => {
            buf.extend_from_slice(b"null");
            Ok(())
        }
    }
}

/// Whether JSON needs `byte` escaped inside a string.
fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

thread_local! {
    /// The second of the last timestamp this thread wrote and its text up to the seconds
    /// (`2026-11-22T07:17:40`): most lines of a busy proxy share it.
    static SECOND: std::cell::RefCell<(u64, [u8; 19])> = const { std::cell::RefCell::new((u64::MAX, [0; 19])) };
}

/// `2026-11-22T07:17:40.123Z`.
fn write_rfc3339(buf: &mut Vec<u8>, now: SystemTime) -> std::io::Result<()> {
    let since = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    SECOND.with_borrow_mut(|(second, text)| {
        if *second != since.as_secs() {
            let at = time::OffsetDateTime::UNIX_EPOCH + Duration::from_secs(since.as_secs());
            let mut cursor = &mut text[..];
            write!(
                cursor,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second(),
            )?;
            *second = since.as_secs();
        }
        buf.extend_from_slice(&text[..]);
        Ok::<_, std::io::Error>(())
    })?;
    let millis = since.subsec_millis();
    let digits = [millis / 100, millis / 10 % 10, millis % 10].map(|d| b'0' + d as u8);
    buf.push(b'.');
    buf.extend_from_slice(&digits);
    buf.push(b'Z');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_with_millis() {
        let mut buf = Vec::new();
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_330_632_007);
        write_rfc3339(&mut buf, at).unwrap();
        assert_eq!(String::from_utf8(buf).unwrap(), "2026-11-22T06:57:12.007Z");
    }

    #[test]
    fn timestamps_in_the_same_second_share_the_prefix_and_not_the_millis() {
        let mut buf = Vec::new();
        let second = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_330_632);
        write_rfc3339(&mut buf, second + Duration::from_millis(999)).unwrap();
        write_rfc3339(&mut buf, second + Duration::from_millis(40)).unwrap();
        write_rfc3339(&mut buf, second + Duration::from_millis(1_000)).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "2026-11-22T06:57:12.999Z2026-11-22T06:57:12.040Z2026-11-22T06:57:13.000Z"
        );
    }

    #[test]
    fn plain_strings_are_copied_and_the_rest_escaped() {
        let mut buf = Vec::new();
        for value in ["acme", "/a\\b", "tab\there", "caf\u{e9}"] {
            buf.clear();
            string_field(&mut buf, "v", Some(value)).unwrap();
            let expected = format!(",\"v\":{}", serde_json::to_string(value).unwrap());
            assert_eq!(String::from_utf8(buf.clone()).unwrap(), expected);
        }
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for address in [
            "127.0.0.1:5000",
            "10.20.255.0:1",
            "[2001:db8::1]:443",
            "0.0.0.0:65535",
        ] {
            let mut buf = Vec::new();
            push_address(&mut buf, address.parse().unwrap());
            assert_eq!(String::from_utf8(buf).unwrap(), format!("\"{address}\""));
        }
    }

    #[test]
    fn latency_has_three_decimals_and_the_status_its_digits() {
        let record = AccessRecord {
            request_id: None,
            trace_id: None,
            client: None,
            method: "GET",
            path: "/",
            tenant: None,
            route: None,
            side: "legacy",
            reason: &"default",
            upstream: None,
            status: 204,
            elapsed: Duration::from_micros(12_045),
            error: None,
        };
        let mut buf = Vec::new();
        format_line(&mut buf, SystemTime::UNIX_EPOCH, &record).unwrap();
        let line: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(line["status"], 204);
        assert_eq!(line["latency_ms"].to_string(), "12.045");
        assert_eq!(line["client"], serde_json::Value::Null);
    }

    #[test]
    fn request_strings_are_escaped() {
        let mut buf = Vec::new();
        string_field(&mut buf, "path", Some("/a\"b\n")).unwrap();
        string_field(&mut buf, "tenant", None).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            r#","path":"/a\"b\n","tenant":null"#
        );
    }

    #[test]
    fn refused_lines_are_limited_per_second_and_the_left_out_counted() {
        let budget = RefusedBudget {
            second_and_lines: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        };
        for _ in 0..REFUSED_LINES_PER_SECOND {
            assert_eq!(budget.take(7), Some(0));
        }
        assert_eq!(budget.take(7), None);
        assert_eq!(budget.take(7), None);
        assert_eq!(budget.take(8), Some(2));
        assert_eq!(budget.take(8), Some(0));
    }
}
