//! A finished request's spans for OTLP (`telemetry.otlp`): built from the context only when
//! the snapshot exports traces and the request's trace is sampled ([`RequestIdentity`]'s
//! `spans`), then handed to the snapshot's exporter without waiting.
//!
//! [`RequestIdentity`]: crate::telemetry::trace::RequestIdentity

use std::time::{Duration, Instant, SystemTime};

use pingora::prelude::Session;
use pingora::Error;
use strangler_flags::Reason;

use crate::request::context::RequestCtx;
use crate::request::head::header_str;
use crate::telemetry::otlp::span::{RequestSpans, UpstreamSpan};

/// Notes when the request is handed to an upstream (again, after a fallback), if traced.
pub(super) fn upstream_started(ctx: &mut RequestCtx) {
    if ctx.identity.as_ref().is_some_and(|i| i.spans.is_some()) {
        ctx.upstream_started = Some(Instant::now());
    }
}

/// Sends the request's spans to the exporter, if it has one and the trace is sampled.
pub(super) fn finish(
    session: &Session,
    ctx: &RequestCtx,
    status: u16,
    elapsed: Duration,
    error: Option<&Error>,
) {
    let Some(ids) = ctx.identity.as_ref().and_then(|i| i.spans) else {
        return;
    };
    let Some(loaded) = ctx.config.as_deref() else {
        return;
    };
    let Some(exporter) = &loaded.traces else {
        return;
    };
    let req = session.req_header();
    let host = header_str(req, "host").or(req.uri.host());
    // Both starts from the monotonic clock against one wall-clock reading, so the upstream
    // span never seems to start before the request did.
    let (now, wall) = (Instant::now(), SystemTime::now());
    let upstream = ctx.upstream_started.map(|started| {
        let upstream = loaded.snapshot.upstream(ctx.served_side(), ctx.route());
        UpstreamSpan {
            name: upstream.name.to_string(),
            address: upstream.addr.to_string(),
            start: wall - now.saturating_duration_since(started),
        }
    });
    exporter.record(RequestSpans {
        ids,
        start: wall - now.saturating_duration_since(ctx.started),
        elapsed,
        method: req.method.as_str().to_owned(),
        path: req.uri.path().to_owned(),
        host: host.map(str::to_owned),
        client: session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip().to_string()),
        status,
        request_id: ctx
            .identity
            .as_ref()
            .map(|i| i.request_id.clone())
            .unwrap_or_default(),
        route: ctx.route_name().map(str::to_owned),
        tenant: ctx.tenant.clone(),
        side: ctx.served_side().code(),
        reason: ctx.reason_text().to_string(),
        bucket: match ctx.reason {
            Some(Reason::Percent { bucket, .. }) => Some(bucket),
            _ => None,
        },
        fallback: ctx.ticket.diverted.map(|d| d.reason()),
        breaker: ctx.ticket.breaker_state(),
        error: error.map(ToString::to_string),
        upstream,
    });
}
