//! One JSON line per request on stdout (tracing target `strangler::access`): who asked, which
//! route, which side and why, which upstream, what came back and how long it took.
//!
//! The line is formatted by the tracing subscriber and written by its background thread (see
//! `telemetry::init_logs`), so a slow stdout never blocks a worker.

use std::time::Duration;

use pingora::http::RequestHeader;
use pingora::Error;

use crate::edge::RequestCtx;

/// Writes the access-log line of one finished request.
pub fn write(
    req: &RequestHeader,
    ctx: &RequestCtx,
    status: u16,
    elapsed: Duration,
    error: Option<&Error>,
) {
    let identity = ctx.identity();
    tracing::info!(
        target: "strangler::access",
        request_id = identity.map(|i| i.request_id.as_str()),
        trace_id = identity.map(|i| i.trace_id.as_str()),
        method = req.method.as_str(),
        path = req.uri.path(),
        tenant = ctx.tenant(),
        route = ctx.route_name(),
        side = ctx.side().code(),
        reason = %ctx.reason_text(),
        upstream = ctx.upstream_name(),
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        error = error.map(tracing::field::display),
        "request"
    );
}
