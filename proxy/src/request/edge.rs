//! The Pingora edge: the only place that implements `ProxyHttp`. The hooks below stand in
//! the order Pingora calls them, and each delegates to the module that owns its decision:
//!
//! 1. `new_ctx` opens the request's [`RequestCtx`], counted as in flight until it ends.
//! 2. `request_filter` takes the current snapshot, resolves the tenant, matches the route and
//!    decides the side ([`super::head`] adapts the head; a target, path or tenant the proxy
//!    will not route is refused, [`super::refusal`]); then `limits:` ([`super::limits`]),
//!    an open breaker's diversion ([`super::fallback`]) and, for a shadowed route, a mirror
//!    slot ([`super::shadowed`]).
//! 3. `upstream_peer` turns the side into a peer (legacy, or the route's new service) with
//!    its timeouts ([`super::timeouts`]).
//! 4. `fail_to_connect` sends a request whose new service refused or timed out the
//!    connection to legacy instead (`fallback:connect`: nothing was sent).
//! 5. `upstream_request_filter` sets the headers the upstream may trust ([`super::headers`]):
//!    tenant, forwarding, request id and trace context; takes the anonymous id's cookie out
//!    ([`super::anonymous`]); applies the route's `rewrite:` when the new side serves
//!    ([`super::rewrite`]).
//! 6. `request_body_filter` counts the body against `max_body`, holds the upload to
//!    `timeouts.total` and copies it for a mirror.
//! 7. `upstream_response_filter` reports the new service's answer to its breaker and drops
//!    a failed one for legacy's on a route with `fallback:`.
//! 8. `response_filter` maps a rewritten route's redirects back to the client's layout,
//!    sets a minted anonymous id's cookie, adds the QA decision header and, while draining,
//!    `Connection: close`.
//! 9. `response_body_filter` enforces `timeouts.total` and copies the primary's body for a
//!    mirror.
//! 10. `error_while_proxy` decides whether a failed exchange is retried on legacy (a route's
//!     `fallback:`, or an idempotent request whose connection closed before any answer).
//! 11. `fail_to_proxy` answers a failed request (504, 408, 413 or Pingora's choice).
//! 12. `logging` records metrics and the guard's outcome, writes the access-log line, hands
//!     a sampled request's spans to the OTLP exporter ([`super::traced`]) and a shadowed
//!     request's capture to the shadow runtime.
//!
//! The decision itself, the breaker's diversion and the outcome's record are
//! [`super::decide`]'s. The bytes the client gets are never touched by the shadow capture.

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::{HttpPeer, Session};
use pingora::{Error, Result};
use strangler_flags::resilience::Diversion;
use strangler_flags::Side;

use crate::connection::downstream::Pipelined;
use crate::connection::drain::{self, Drain};
use crate::connection::h2c_head::H2cHeads;
use crate::live::config::LiveConfig;
use crate::request::context::RequestCtx;
use crate::request::rate_limit::RateLimiter;
use crate::request::refusal;
use crate::request::{anonymous, fallback, headers, limits, rewrite, shadowed, timeouts, traced};
use crate::resilience::guard::Guards;
use crate::resilience::service_health::ServiceHealth;
use crate::shadow::dispatch::Shadowing;
use crate::telemetry::access_log;
use crate::telemetry::metrics;
use crate::telemetry::trace::{REQUEST_ID, TRACEPARENT};

/// The response header that tells QA which route, side and reason served a request.
pub const DECISION_HEADER: &str = "x-strangler-decision";

/// The proxy logic shared by every worker; per-request state lives in [`RequestCtx`]. The
/// fields are what it shares with the rest of the instance.
pub struct Edge {
    /// The configuration each request is decided on when it starts.
    pub(crate) live: Arc<LiveConfig>,
    /// Requests between `new_ctx` and the end of `logging`, so shutdown can drain them.
    pub(crate) in_flight: Arc<AtomicUsize>,
    /// Per-tenant token buckets: kept across reloads, which change only the rates.
    pub(crate) rate_limiter: Arc<RateLimiter>,
    /// Where shadowed requests go once the primary has answered.
    pub(crate) shadowing: Arc<Shadowing>,
    /// The rollback guards, which count what the new side answers.
    pub(crate) guards: Arc<Guards>,
    /// The gated ramps, which count what the new side answers at each step.
    pub(crate) ramps: Arc<crate::resilience::ramp::Ramps>,
    /// The breakers of the new services.
    pub(crate) health: Arc<ServiceHealth>,
    /// The instance's drain: once it starts, responses close their connections.
    pub(crate) drain: Arc<Drain>,
    /// The h2c connections waiting for their first request, told when it arrives.
    pub(crate) h2c_heads: Arc<H2cHeads>,
}

#[async_trait]
impl pingora::proxy::ProxyHttp for Edge {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new(&self.in_flight)
    }

    /// A request with another pipelined behind it ([`Pipelined`]) is answered with
    /// `Connection: close`: the connection will not serve the next one.
    fn on_connection_reuse(
        &self,
        session: &mut Session,
        _ctx: &mut RequestCtx,
        mark: Box<dyn std::any::Any + Send + Sync>,
    ) {
        if mark.is::<Pipelined>() {
            session.set_keepalive(None);
        }
    }

    /// Decides the side for this request on the snapshot current at its start, or answers 400
    /// for a path or tenant id that cannot be routed safely (401 for a bearer token that does
    /// not verify). A decided request then meets `limits:` ([`limits::admit`]): 431, 413 or
    /// 429 for a head, a body or a tenant over its limit.
    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        self.h2c_heads.arrived(session);
        let loaded = match self.decide(session.req_header(), ctx) {
            Ok(loaded) => loaded,
            Err(refused) => {
                metrics::record_rejected(refused.code());
                refusal::respond(session, &refused).await?;
                return Ok(true);
            }
        };
        // A refusal written here skips `response_filter`: close while draining now.
        drain::close_when_draining(&self.drain, session);
        let (tenant, route) = (ctx.tenant.as_deref(), ctx.route);
        let in_flight = self.in_flight.load(std::sync::atomic::Ordering::Relaxed);
        let who = (tenant, route);
        let limiter = &self.rate_limiter;
        if limits::admit(session, &loaded, limiter, who, in_flight, &mut ctx.limits).await? {
            return Ok(true);
        }
        self.divert_if_breaker_open(ctx);
        shadowed::start(&self.shadowing, session.req_header(), ctx);
        Ok(false)
    }

    /// Legacy, or the matched route's new service; legacy again after a connect fallback.
    async fn upstream_peer(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let loaded = ctx.loaded()?;
        let upstream = loaded.snapshot.upstream(ctx.served_side(), ctx.route());
        let mut peer = loaded.upstream_tls.peer(upstream);
        let upstream_timeouts = *loaded.snapshot.timeouts(&upstream.name);
        let client_timeout = loaded.snapshot.limits().client_timeout;
        // After a fallback, legacy's exchange has a `total` of its own, from the retry: the
        // time the new service used up is not legacy's to lose.
        let started = match ctx.ticket.diverted {
            Some(_) => Instant::now(),
            None => ctx.started,
        };
        ctx.limits.deadline = timeouts::apply(&mut peer, &upstream_timeouts, started);
        limits::bound_upload(session, &mut ctx.limits, client_timeout)?;
        Ok(Box::new(peer))
    }

    /// A refused or timed-out connection to the new service is retried once on legacy.
    /// Nothing reached the new service, so this is safe for every method and body.
    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        if let Ok(loaded) = ctx.loaded() {
            let upstream = loaded.snapshot.upstream(ctx.served_side(), ctx.route());
            crate::tls::upstream::record_failure(upstream, &e);
        }
        let retry_on_legacy = ctx.served_side() == Side::New;
        if retry_on_legacy {
            ctx.ticket.record(false);
            ctx.ticket.diverted = Some(Diversion::Connect);
            ctx.record_fallback(Diversion::Connect);
        }
        e.set_retry(retry_on_legacy);
        e
    }

    /// Sets what the upstream may trust: the tenant the proxy decided, forwarding headers,
    /// request id and trace context. Client headers in the proxy's namespace are dropped.
    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        // Runs again when Pingora retries on legacy, and the body is replayed from the start.
        limits::restart_body(&mut ctx.limits);
        let loaded = ctx.loaded()?;
        headers::drop_reserved_headers(upstream, &loaded.forward_header, &loaded.strip_headers);
        if let Some(tenant) = &ctx.tenant {
            upstream.insert_header(loaded.forward_header.clone(), tenant.as_str())?;
        }
        let client_ip = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        headers::add_forwarding_headers(upstream, client_ip)?;
        anonymous::strip_cookie(upstream, loaded.snapshot.anonymous());
        if let Some(identity) = &ctx.identity {
            upstream.insert_header(REQUEST_ID, identity.request_id.as_str())?;
            upstream.insert_header(TRACEPARENT, identity.traceparent.as_str())?;
        }
        traced::upstream_started(ctx);
        rewrite::upstream_request(session.req_header(), upstream, ctx)?;
        // After the mirror's copy: a Host-less HTTP/1.0 request's shadow call gets its own
        // upstream's authority from the shadow client, not this one's.
        if upstream.headers.contains_key(http::header::HOST) {
            return Ok(());
        }
        let loaded = ctx.loaded()?;
        let host = &loaded
            .snapshot
            .upstream(ctx.served_side(), ctx.route())
            .host;
        headers::set_host(upstream, host)
    }

    /// Counts the body against `max_body`, holds the upload to `timeouts.total` and copies a
    /// shadowed request's body (up to its `max_body`) for replay.
    async fn request_body_filter(
        &self,
        session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        limits::count_body(&mut ctx.limits, body.as_ref())?;
        if ctx.limits.deadline.is_some() {
            let client_timeout = ctx.loaded()?.snapshot.limits().client_timeout;
            limits::bound_upload(session, &mut ctx.limits, client_timeout)?;
        }
        limits::body_progress(end_of_stream);
        if let Some(mirror) = &mut ctx.mirror {
            mirror.on_request_body(body.as_ref());
        }
        Ok(())
    }

    /// Reports the new service's answer to its breaker (a 5xx is a failure) and, when the
    /// route's `fallback.on` lists the status and the request may be replayed, drops the
    /// answer before any of it reaches the client so legacy is asked instead.
    async fn upstream_response_filter(
        &self,
        session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if ctx.served_side() != Side::New {
            return Ok(());
        }
        let status = upstream_response.status.as_u16();
        if status < 200 && status != 101 {
            return Ok(()); // informational (100 Continue): not the answer yet
        }
        ctx.ticket.record(status < 500);
        if !fallback::after_status(ctx.fallback_policy(), session, status) {
            return Ok(());
        }
        ctx.ticket.replay(Diversion::Status);
        ctx.record_fallback(Diversion::Status);
        Err(fallback::replay_error(status))
    }

    /// Adds `x-strangler-decision` for QA when `debug_headers` is on; while the instance
    /// drains, makes the response close its connection; an HTTP/1.0 client gets no chunked
    /// body.
    async fn response_filter(
        &self,
        session: &mut Session,
        response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        drain::close_when_draining(&self.drain, session);
        headers::frame_for_http10(session, response);
        rewrite::client_response(session.req_header(), response, ctx)?;
        if let Some(mirror) = &mut ctx.mirror {
            mirror.on_response(response);
        }
        let anonymous_ids = ctx.loaded()?.snapshot.anonymous();
        anonymous::set_cookie(
            session,
            response,
            anonymous_ids,
            ctx.anonymous_id.as_deref(),
        )?;
        if ctx.loaded()?.snapshot.debug_headers() {
            response.insert_header(DECISION_HEADER, ctx.decision_summary())?;
        }
        Ok(())
    }

    /// Ends the exchange once `timeouts.total` has passed and copies a shadowed request's
    /// primary body (up to its `max_body`).
    fn response_body_filter(
        &self,
        session: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<Duration>> {
        // `total` bounds an exchange, not a WebSocket conversation.
        if !session.was_upgraded() {
            timeouts::check_deadline(ctx.limits.deadline)?;
        }
        if let Some(mirror) = &mut ctx.mirror {
            mirror.on_response_body(body.as_ref());
        }
        Ok(None)
    }

    /// Decides whether a failed exchange is retried: on legacy when the answer was dropped
    /// for a fallback, when the new service timed out or dropped the connection before any
    /// of its answer reached the client and the route's `fallback:` allows it, or when the
    /// connection to the new service closed before any of its answer and the request may be
    /// replayed ([`fallback::after_lost_connection`]); otherwise as Pingora does (idempotent
    /// requests on a reused connection, body whole).
    fn error_while_proxy(
        &self,
        peer: &HttpPeer,
        session: &mut Session,
        e: Box<Error>,
        ctx: &mut RequestCtx,
        client_reused: bool,
    ) -> Box<Error> {
        let mut e = e.more_context(format!("Peer: {peer}"));
        if ctx.ticket.take_replaying() {
            return e;
        }
        let diversion = match ctx.served_side() {
            Side::New => fallback::after_failed_exchange(ctx.fallback_policy(), session, &e)
                .or_else(|| fallback::after_lost_connection(session, &e)),
            Side::Legacy => None,
        };
        let Some(diversion) = diversion else {
            fallback::pingora_retry_rule(session, &mut e, client_reused);
            if ctx.served_side() == Side::New
                && !e.retry()
                && e.esource() == &pingora::ErrorSource::Upstream
            {
                ctx.ticket.record(false);
            }
            return e;
        };
        ctx.ticket.record(false);
        ctx.ticket.diverted = Some(diversion);
        ctx.record_fallback(diversion);
        e.set_retry(true);
        e
    }

    /// Answers a failed request: 504 for an upstream timeout, 408 for a stalled client,
    /// the status a limit chose (413), else Pingora's defaults ([`timeouts::fail_to_proxy`]).
    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> pingora::proxy::FailToProxy {
        let body_done = session.is_body_done();
        let late_upload = limits::note_late_upload(&mut ctx.limits, e, body_done);
        let loaded = ctx.loaded().ok();
        let upstream = loaded.map(|l| &*l.snapshot.upstream(ctx.served_side(), ctx.route()).name);
        timeouts::fail_to_proxy(session, e, late_upload, upstream).await
    }

    /// Counts the request (for its route's guard too, if it was decided for the new side),
    /// writes its access-log line, queues its spans when traced and hands a shadowed
    /// request's capture over.
    async fn logging(&self, session: &mut Session, error: Option<&Error>, ctx: &mut RequestCtx) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let elapsed = ctx.started.elapsed();
        self.record_outcome(ctx, status, elapsed, error);
        if access_log::enabled() {
            let reason = ctx.reason_text();
            let client = session.client_addr().and_then(|a| a.as_inet()).copied();
            let req = session.req_header();
            let record = ctx.access_record(req, client, status, elapsed, error, &reason);
            access_log::write(&record);
        }
        traced::finish(session, ctx, status, elapsed, error);
        ctx.ticket.finish();
        shadowed::finish(&self.shadowing, ctx, status, elapsed, error);
    }
}
