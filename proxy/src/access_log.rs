//! One JSON line per request on stdout: time, request id, trace id, method, path, tenant,
//! route, side, reason, upstream, status, latency, and the error if there was one.
//!
//! The line is formatted by hand into the shared log buffer (see `log_writer`): no tracing
//! dispatch, no intermediate `String`, no system call on the worker. Strings from the request
//! are JSON-escaped by serde_json. The log is on when `strangler run` installed the writer
//! and `RUST_LOG` lets `strangler::access` through at info (the default).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use pingora::http::RequestHeader;
use pingora::Error;

use crate::edge::RequestCtx;
use crate::log_writer::LogWriter;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns the access log on or off (called once the log subscriber is installed).
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Writes the access-log line of one finished request.
pub fn write(
    req: &RequestHeader,
    ctx: &RequestCtx,
    status: u16,
    elapsed: Duration,
    error: Option<&Error>,
) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let Some(writer) = LogWriter::get() else {
        return;
    };
    let now = SystemTime::now();
    writer.append(|buf| {
        // Writing into a Vec cannot fail.
        let _ = format_line(buf, now, req, ctx, status, elapsed, error);
    });
}

fn format_line(
    buf: &mut Vec<u8>,
    now: SystemTime,
    req: &RequestHeader,
    ctx: &RequestCtx,
    status: u16,
    elapsed: Duration,
    error: Option<&Error>,
) -> std::io::Result<()> {
    buf.extend_from_slice(b"{\"time\":\"");
    write_rfc3339(buf, now)?;
    buf.extend_from_slice(b"\",\"log\":\"access\"");
    let identity = ctx.identity();
    string_field(buf, "request_id", identity.map(|i| i.request_id.as_str()))?;
    string_field(buf, "trace_id", identity.map(|i| i.trace_id.as_str()))?;
    string_field(buf, "method", Some(req.method.as_str()))?;
    string_field(buf, "path", Some(req.uri.path()))?;
    string_field(buf, "tenant", ctx.tenant())?;
    string_field(buf, "route", ctx.route_name())?;
    string_field(buf, "side", Some(ctx.side().code()))?;
    write!(buf, ",\"reason\":\"{}\"", ctx.reason())?;
    string_field(buf, "upstream", ctx.upstream_name())?;
    write!(
        buf,
        ",\"status\":{status},\"latency_ms\":{:.3}",
        elapsed.as_secs_f64() * 1000.0
    )?;
    if let Some(error) = error {
        string_field(buf, "error", Some(&error.to_string()))?;
    }
    buf.extend_from_slice(b"}\n");
    Ok(())
}

/// `,"name":"value"` with the value JSON-escaped, or `,"name":null`.
fn string_field(buf: &mut Vec<u8>, name: &str, value: Option<&str>) -> std::io::Result<()> {
    write!(buf, ",\"{name}\":")?;
    match value {
        Some(value) => serde_json::to_writer(&mut *buf, value).map_err(std::io::Error::other),
        None => {
            buf.extend_from_slice(b"null");
            Ok(())
        }
    }
}

/// `2026-11-22T07:17:40.123Z`.
fn write_rfc3339(buf: &mut Vec<u8>, now: SystemTime) -> std::io::Result<()> {
    let since = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let at = time::OffsetDateTime::UNIX_EPOCH + since;
    write!(
        buf,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
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
    fn request_strings_are_escaped() {
        let mut buf = Vec::new();
        string_field(&mut buf, "path", Some("/a\"b\n")).unwrap();
        string_field(&mut buf, "tenant", None).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            r#","path":"/a\"b\n","tenant":null"#
        );
    }
}
