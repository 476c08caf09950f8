//! The Pingora edge: the only place that implements `ProxyHttp`.
//!
//! A request's journey through the hooks, top to bottom:
//! 1. `request_filter` takes the current snapshot, resolves the tenant, matches the route and
//!    decides the side (or answers 400 for a path or tenant the proxy will not route, 401 for
//!    a bearer token that does not verify under `tenant.on_invalid: reject`);
//! 2. `upstream_peer` turns the side into a peer (legacy, or the route's new service);
//! 3. `fail_to_connect` sends a request whose new service refused or timed out the connection
//!    to legacy instead (`fallback:connect`: nothing was sent, so this is safe for any method);
//!    `upstream_response_filter` and `error_while_proxy` do the same for a failed answer on a
//!    route with `fallback:`, and an open breaker diverts in `request_filter`
//!    ([`crate::request::fallback`]);
//! 4. `upstream_request_filter` sets the headers the upstream may trust (tenant, forwarding,
//!    request id, trace context) and drops the ones a client must not choose;
//! 5. `response_filter` adds the QA decision header when `debug_headers` is on;
//! 6. `logging` records metrics, writes the access-log line and, for a shadowed request,
//!    hands the captured answer to the shadow runtime ([`crate::shadow::dispatch`]).
//!
//! A shadowed request (decided in `request_filter`, see [`crate::shadow::mirror`]) also keeps a
//! copy of what the upstream was sent and what the primary answered, in the body hooks;
//! the bytes the client gets are never touched.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::{HttpPeer, Session};
use pingora::{Error, Result};
use strangler_flags::{Reason, RequestError, RequestView, Side};
use strangler_shadow::SkipReason;

use crate::connection::drain::{self, Drain};
use crate::live::config::{LiveConfig, Loaded};
use crate::request::fallback::{self, Diversion, Guard};
use crate::resilience::guard::{Guards, Outcome};
use crate::resilience::service_health::ServiceHealth;
use crate::shadow::dispatch::{Finished, Shadowing};
use crate::shadow::mirror::{self, Eligibility, Mirror};
use crate::telemetry::access_log;
use crate::telemetry::trace::{RequestIdentity, REQUEST_ID, TRACEPARENT};

/// The response header that tells QA which route, side and reason served a request.
pub const DECISION_HEADER: &str = "x-strangler-decision";
/// Client headers with this prefix are never forwarded: only the proxy speaks in its name.
const RESERVED_PREFIX: &str = "x-strangler-";
/// Stands in for a tenant header that cannot be trusted (repeated, or not UTF-8): it is not a
/// valid tenant id, so the request is refused with 400 instead of guessing which value counts.
const UNUSABLE_TENANT_HEADER: &str = "(repeated or non-UTF-8 header)";

/// The proxy logic shared by every worker; per-request state lives in [`RequestCtx`].
pub struct Edge {
    live: Arc<LiveConfig>,
    /// Requests between `new_ctx` and the end of `logging`, so shutdown can drain them.
    in_flight: Arc<AtomicUsize>,
    /// Where shadowed requests go once the primary has answered.
    shadowing: Arc<Shadowing>,
    /// The rollback guards, which count what the new side answers.
    guards: Arc<Guards>,
    /// The breakers of the new services.
    health: Arc<ServiceHealth>,
    /// The instance's drain: once it starts, responses close their connections.
    drain: Arc<Drain>,
}

impl Edge {
    /// An edge that routes with whatever `live` holds when each request starts, counts
    /// its requests in `in_flight`, mirrors shadowed routes through `shadowing` and
    /// reports the new side's answers to `guards`.
    /// its requests in `in_flight`, mirrors shadowed routes through `shadowing` and keeps
    /// the services' breakers in `health`.
    pub fn new(
        live: Arc<LiveConfig>,
        in_flight: Arc<AtomicUsize>,
        shadowing: Arc<Shadowing>,
        guards: Arc<Guards>,
        health: Arc<ServiceHealth>,
    ) -> Edge {
        Edge {
            live,
            in_flight,
            shadowing,
            guards,
            health,
            drain: Arc::default(),
        }
    }

    /// Sends a request decided for a service whose breaker is open to legacy instead.
    fn guard_new_side(&self, ctx: &mut RequestCtx) {
        let (Some(loaded), Some(index), Side::New) = (&ctx.config, ctx.route, ctx.side) else {
            return;
        };
        let service = loaded.snapshot.routes()[index].service_index();
        let guarded = self.health.guarded(&loaded.file, service);
        if !ctx.guard.admit(guarded) {
            ctx.record_fallback(Diversion::BreakerOpen);
        }
    }

    /// The same edge, closing connections once `drain` starts (see [`crate::connection::drain`]).
    pub fn with_drain(mut self, drain: Arc<Drain>) -> Edge {
        self.drain = drain;
        self
    }

    /// Starts the capture of a request its route shadows, if a slot is free; a request
    /// that finds none is counted as skipped (`overloaded`) and served as usual.
    fn start_mirror(&self, req: &RequestHeader, ctx: &mut RequestCtx) {
        let (Some(loaded), Some(index), Some(identity)) = (&ctx.config, ctx.route, &ctx.identity)
        else {
            return;
        };
        let (route, Some(reason)) = (&loaded.snapshot.routes()[index], ctx.reason) else {
            return;
        };
        let policy = match mirror::eligible(route, reason, req, &identity.request_id) {
            Eligibility::No => return,
            Eligibility::Skip(reason) => return self.skip_mirror(req, ctx, reason),
            Eligibility::Yes(policy) => policy,
        };
        match self.shadowing.slot() {
            Some(permit) => {
                let mirror = Mirror::new(policy.clone(), &identity.request_id, permit);
                ctx.mirror = Some(Box::new(mirror));
            }
            None => self.skip_mirror(req, ctx, SkipReason::Overloaded),
        }
    }

    /// Records a shadowed request that will not be compared, and why.
    fn skip_mirror(&self, req: &RequestHeader, ctx: &RequestCtx, reason: SkipReason) {
        let target = req.uri.path_and_query().map_or("/", |pq| pq.as_str());
        if let Some(finished) = ctx.finished(Duration::ZERO, None) {
            self.shadowing
                .skipped(finished, req.method.as_str(), target, reason);
        }
    }
}

/// Counts one request as in flight for as long as its context lives.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(counter: &Arc<AtomicUsize>) -> InFlight {
        counter.fetch_add(1, Ordering::Relaxed);
        InFlight(counter.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the hooks of one request share.
pub struct RequestCtx {
    /// When the request reached `request_filter`.
    started: Instant,
    /// The snapshot this request was decided on; reloads do not change it mid-request.
    config: Option<Arc<Loaded>>,
    /// Index of the matched route in the snapshot, if any.
    route: Option<usize>,
    /// The resolved tenant.
    tenant: Option<String>,
    /// The side the rollout decided.
    side: Side,
    /// Why it decided so; `None` when the request was refused before deciding.
    reason: Option<Reason>,
    /// Why legacy answers instead of the decided new service, and the breaker's admission.
    guard: Guard,
    /// Request id and trace context.
    identity: Option<RequestIdentity>,
    /// The capture of a shadowed request (boxed: most requests have none).
    mirror: Option<Box<Mirror>>,
    /// Keeps the request counted as in flight.
    _in_flight: InFlight,
    /// `limits:` and `timeouts.total` state: what refused it, body bytes seen, deadline.
    limits: crate::request::limits::RequestLimits,
}

impl RequestCtx {
    /// The side actually asked: legacy after a fallback or with an open breaker.
    fn served_side(&self) -> Side {
        if self.guard.diverted.is_some() {
            Side::Legacy
        } else {
            self.side
        }
    }

    fn loaded(&self) -> Result<&Loaded> {
        self.config.as_deref().ok_or_else(|| {
            Error::explain(pingora::ErrorType::InternalError, "no decision was made")
        })
    }
}

/// The request as the decision function sees it.
struct RequestHead<'a> {
    req: &'a RequestHeader,
    /// The host, lowercased (host names are case-insensitive; subdomain tenants must not
    /// depend on the client's capitalisation). Borrowed unless it had capitals.
    host: Option<Cow<'a, str>>,
}

impl<'a> RequestHead<'a> {
    fn new(req: &'a RequestHeader) -> RequestHead<'a> {
        let host = host_of(req).map(|h| match h.bytes().any(|b| b.is_ascii_uppercase()) {
            true => Cow::Owned(h.to_ascii_lowercase()),
            false => Cow::Borrowed(h),
        });
        RequestHead { req, host }
    }
}

impl RequestView for RequestHead<'_> {
    fn method(&self) -> &str {
        self.req.method.as_str()
    }
    fn path(&self) -> &str {
        self.req.uri.path()
    }
    fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }
    /// A tenant header's value; [`UNUSABLE_TENANT_HEADER`] when it is repeated or not UTF-8
    /// (the monolith might read another copy than we did).
    fn header(&self, lowercase_name: &str) -> Option<&str> {
        let mut values = self.req.headers.get_all(lowercase_name).iter();
        let first = values.next()?;
        if values.next().is_some() {
            return Some(UNUSABLE_TENANT_HEADER);
        }
        Some(std::str::from_utf8(first.as_bytes()).unwrap_or(UNUSABLE_TENANT_HEADER))
    }
}

/// The authority of the request: `:authority` for h2, else the `Host` header.
fn host_of(req: &RequestHeader) -> Option<&str> {
    req.uri.authority().map(|a| a.as_str()).or_else(|| {
        req.headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
    })
}

#[async_trait]
impl pingora::proxy::ProxyHttp for Edge {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            started: Instant::now(),
            config: None,
            route: None,
            tenant: None,
            side: Side::Legacy,
            reason: None,
            guard: Guard::default(),
            identity: None,
            mirror: None,
            _in_flight: InFlight::enter(&self.in_flight),
            limits: Default::default(),
        }
    }

    /// Decides the side for this request on the snapshot current at its start, or answers 400
    /// for a path or tenant id that cannot be routed safely (401 for a bearer token that does
    /// not verify). A decided request then meets `limits:` ([`crate::request::limits::admit`]): 431,
    /// 413 or 429 for a head, a body or a tenant over its limit.
    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        ctx.started = Instant::now();
        let loaded = self.live.current();
        let req = session.req_header();
        ctx.identity = Some(RequestIdentity::from_headers(
            header_str(req, REQUEST_ID),
            header_str(req, TRACEPARENT),
        ));
        let head = RequestHead::new(req);
        let decided = match routable_target(req) {
            false => Err(Refusal::Target),
            true => loaded.snapshot.decide(&head).map_err(Refusal::Request),
        };
        let refused = match decided {
            Ok(decision) => {
                crate::telemetry::metrics::record_force(&decision);
                ctx.route = decision.route.map(|r| r.index());
                ctx.tenant = decision.tenant.map(Cow::into_owned);
                ctx.side = decision.side;
                ctx.reason = Some(decision.reason);
                None
            }
            Err(refusal) => Some(refusal),
        };
        ctx.config = Some(loaded.clone());
        match refused {
            None => {
                let (tenant, route) = (ctx.tenant.as_deref(), ctx.route);
                let limiter = self.live.rate_limiter();
                // A refusal written here skips `response_filter`: close while draining now.
                drain::close_when_draining(&self.drain, session);
                if crate::request::limits::admit(
                    session,
                    &loaded,
                    limiter,
                    tenant,
                    route,
                    &mut ctx.limits,
                )
                .await?
                {
                    return Ok(true);
                }
                self.guard_new_side(ctx);
                if ctx.guard.diverted.is_none() {
                    // A breaker-open diversion has nothing to compare; it takes no shadow slot.
                    self.start_mirror(session.req_header(), ctx);
                }
                Ok(false)
            }
            Some(refusal) => {
                respond_refused(session, &refusal).await?;
                Ok(true)
            }
        }
    }

    /// Legacy, or the matched route's new service; legacy again after a connect fallback.
    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let loaded = ctx.loaded()?;
        let route = ctx.route.map(|i| &loaded.snapshot.routes()[i]);
        let upstream = loaded.snapshot.upstream(ctx.served_side(), route);
        let mut peer = HttpPeer::new(upstream.addr, false, String::new());
        let timeouts = *loaded.snapshot.timeouts(&upstream.name);
        // After a fallback, legacy's exchange has a `total` of its own, from the retry: the
        // time the new service used up is not legacy's to lose.
        let started = match ctx.guard.diverted {
            Some(_) => Instant::now(),
            None => ctx.started,
        };
        ctx.limits.deadline = crate::request::timeouts::apply(&mut peer, &timeouts, started);
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
        let retry_on_legacy = ctx.served_side() == Side::New;
        if retry_on_legacy {
            ctx.guard.record(false);
            ctx.guard.diverted = Some(Diversion::Connect);
            ctx.record_fallback(Diversion::Connect);
        }
        e.set_retry(retry_on_legacy);
        e
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
        ctx.guard.record(status < 500);
        if !fallback::after_status(ctx.fallback_policy(), session, status) {
            return Ok(());
        }
        ctx.guard.replay(Diversion::Status);
        ctx.record_fallback(Diversion::Status);
        Err(fallback::replay_error(status))
    }

    /// Decides whether a failed exchange is retried: on legacy when the answer was dropped
    /// for a fallback, or when the new service timed out or dropped the connection before
    /// any of its answer reached the client and the route's `fallback:` allows it;
    /// otherwise as Pingora does (idempotent requests on a reused connection, body whole).
    fn error_while_proxy(
        &self,
        peer: &HttpPeer,
        session: &mut Session,
        e: Box<Error>,
        ctx: &mut RequestCtx,
        client_reused: bool,
    ) -> Box<Error> {
        let mut e = e.more_context(format!("Peer: {peer}"));
        if ctx.guard.take_replaying() {
            return e;
        }
        fallback::pingora_retry_rule(session, &mut e, client_reused);
        if ctx.served_side() != Side::New || e.retry() {
            return e;
        }
        if *e.esource() == pingora::ErrorSource::Upstream {
            ctx.guard.record(false);
        }
        if let Some(diversion) = fallback::after_failed_exchange(ctx.fallback_policy(), session, &e)
        {
            ctx.guard.diverted = Some(diversion);
            ctx.record_fallback(diversion);
            e.set_retry(true);
        }
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
        crate::request::limits::restart_body(&mut ctx.limits);
        let loaded = ctx.loaded()?;
        let tenant_header = &loaded.forward_header;
        drop_reserved_headers(upstream, tenant_header.as_str());
        if let Some(tenant) = &ctx.tenant {
            upstream.insert_header(tenant_header.clone(), tenant.as_str())?;
        }
        let client_ip = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        crate::request::forwarding::add_forwarding_headers(upstream, client_ip)?;
        if let Some(identity) = &ctx.identity {
            upstream.insert_header(REQUEST_ID, identity.request_id.as_str())?;
            upstream.insert_header(TRACEPARENT, identity.traceparent.as_str())?;
        }
        if let Some(mirror) = &mut ctx.mirror {
            mirror.on_upstream_request(upstream);
        }
        Ok(())
    }

    /// Copies the request body of a shadowed request (up to its `max_body`) for replay.
    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        crate::request::limits::count_body(&mut ctx.limits, body.as_ref())?;
        if let Some(mirror) = &mut ctx.mirror {
            mirror.on_request_body(body.as_ref());
        }
        Ok(())
    }

    /// Copies the primary's body of a shadowed request (up to its `max_body`).
    fn response_body_filter(
        &self,
        session: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<Duration>> {
        // `total` bounds an exchange, not a WebSocket conversation.
        if !session.was_upgraded() {
            crate::request::timeouts::check_deadline(ctx.limits.deadline)?;
        }
        if let Some(mirror) = &mut ctx.mirror {
            mirror.on_response_body(body.as_ref());
        }
        Ok(None)
    }

    /// Answers a failed request: 504 for an upstream timeout, 408 for a stalled client,
    /// the status a limit chose (413), else Pingora's defaults ([`crate::request::timeouts`]).
    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        _ctx: &mut RequestCtx,
    ) -> pingora::proxy::FailToProxy {
        crate::request::timeouts::fail_to_proxy(session, e).await
    }

    /// Adds `x-strangler-decision` for QA when `debug_headers` is on; while the instance
    /// drains, makes the response close its connection.
    async fn response_filter(
        &self,
        session: &mut Session,
        response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        drain::close_when_draining(&self.drain, session);
        if let Some(mirror) = &mut ctx.mirror {
            mirror.on_response(response);
        }
        let loaded = ctx.loaded()?;
        if loaded.snapshot.debug_headers() {
            response.insert_header(DECISION_HEADER, decision_summary(ctx))?;
        }
        Ok(())
    }

    /// Counts the request (for its route's guard too, if it was decided for the new side)
    /// and writes its access-log line.
    async fn logging(&self, session: &mut Session, error: Option<&Error>, ctx: &mut RequestCtx) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let elapsed = ctx.started.elapsed();
        if let Some(loaded) = ctx.config.as_deref() {
            loaded
                .metrics
                .record(ctx.route, ctx.served_side(), status, elapsed);
            // A request a limit refused, or QA forced to the new side, says nothing of how
            // the route's rollout fares there.
            let forced = matches!(ctx.reason, Some(Reason::Forced(_)));
            if ctx.side == Side::New && ctx.limits.refused().is_none() && !forced {
                let outcome = Outcome::of(status, error, ctx.guard.diverted, elapsed);
                self.guards.record(&loaded.file, ctx.route, outcome);
            }
        }
        access_log::write(session.req_header(), ctx, status, elapsed, error);
        ctx.guard.finish();
        if let Some(mut mirror) = ctx.mirror.take() {
            if ctx.guard.diverted.is_some() {
                // The rollout's side failed or is out: nothing to compare it with.
                mirror.give_up(SkipReason::Fallback);
            }
            if error.is_some_and(|e| *e.esource() == pingora::ErrorSource::Downstream) {
                mirror.give_up(SkipReason::ClientAborted);
            }
            let failed = match (error, status) {
                (Some(error), _) => Some(error.to_string()),
                (None, 0) => Some("no response was sent".to_owned()),
                _ => None,
            };
            if let (Some(finished), Some(loaded)) = (ctx.finished(elapsed, failed), &ctx.config) {
                let settings = loaded.file.diffs().clone();
                self.shadowing.dispatch(*mirror, finished, settings);
            }
        }
    }
}

impl RequestCtx {
    /// The route's name, for logs and headers.
    pub fn route_name(&self) -> Option<&str> {
        let loaded = self.config.as_deref()?;
        self.route.map(|i| &*loaded.snapshot.routes()[i].name)
    }
    /// The tenant the proxy resolved.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }
    /// The reason as logged: `fallback:connect`, `fallback:status`, `fallback:timeout` or
    /// `breaker-open` when legacy served a request decided for new, `refused` when the
    /// request was answered 400 before deciding.
    pub fn reason(&self) -> impl std::fmt::Display + '_ {
        ReasonText(self)
    }
    /// The side that answered.
    pub fn side(&self) -> Side {
        self.served_side()
    }
    /// The upstream's name (`legacy` or the service name), if the request was routed.
    pub fn upstream_name(&self) -> Option<&str> {
        let loaded = self.config.as_deref()?;
        self.reason.as_ref()?;
        if self.limits.refused_up_front() {
            return None;
        }
        let route = self.route.map(|i| &loaded.snapshot.routes()[i]);
        Some(&loaded.snapshot.upstream(self.served_side(), route).name)
    }
    /// Request id and trace context.
    pub fn identity(&self) -> Option<&RequestIdentity> {
        self.identity.as_ref()
    }

    /// The matched route's `fallback:`, if any.
    fn fallback_policy(&self) -> Option<&strangler_flags::resilience::FallbackPolicy> {
        let loaded = self.config.as_deref()?;
        loaded.snapshot.routes()[self.route?].fallback()
    }

    /// Counts a diversion in `strangler_fallbacks_total`.
    fn record_fallback(&self, diversion: Diversion) {
        if let Some(loaded) = self.config.as_deref() {
            loaded.metrics.record_fallback(self.route, diversion);
        }
    }

    /// What the shadow call needs to know of this request once the primary is done;
    /// `None` before a decision (a shadowed request always has one).
    fn finished(&self, latency: Duration, primary_error: Option<String>) -> Option<Finished> {
        let loaded = self.config.as_deref()?;
        let route = Some(&loaded.snapshot.routes()[self.route?]);
        let primary = self.served_side();
        let shadow = primary.other();
        Some(Finished {
            route: self.route_name().unwrap_or_default().to_owned(),
            tenant: self.tenant.clone(),
            primary_side: primary.code(),
            shadow_side: shadow.code(),
            primary_addr: loaded.snapshot.upstream(primary, route).addr,
            shadow_addr: loaded.snapshot.upstream(shadow, route).addr,
            primary_latency: latency,
            primary_error,
        })
    }
}

/// Displays a request's reason without building a `String`.
struct ReasonText<'a>(&'a RequestCtx);

impl std::fmt::Display for ReasonText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(limit) = self.0.limits.refused() {
            return f.write_str(limit);
        }
        match (&self.0.reason, self.0.guard.diverted) {
            (_, Some(diversion)) => f.write_str(diversion.reason()),
            (Some(reason), None) => write!(f, "{reason}"),
            (None, None) => f.write_str("refused"),
        }
    }
}

/// `route=invoices; side=new; reason=percent (bucket 1234 < 2500)`.
fn decision_summary(ctx: &RequestCtx) -> String {
    format!(
        "route={}; side={}; reason={}",
        ctx.route_name()
            .unwrap_or(crate::telemetry::metrics::NO_ROUTE),
        ctx.served_side(),
        ctx.reason()
    )
}

fn header_str<'a>(req: &'a RequestHeader, name: &str) -> Option<&'a str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Removes every client header in the proxy's namespace and the forwarded-tenant header.
fn drop_reserved_headers(upstream: &mut RequestHeader, tenant_header: &str) {
    let is_reserved = |name: &http::HeaderName| {
        name.as_str().starts_with(RESERVED_PREFIX) || name.as_str() == tenant_header
    };
    // The usual request has none: no list is built for it.
    if !upstream.headers.keys().any(is_reserved) {
        return;
    }
    let reserved: Vec<http::HeaderName> = upstream
        .headers
        .keys()
        .filter(|name| is_reserved(name))
        .cloned()
        .collect();
    for name in reserved {
        upstream.remove_header(&name);
    }
}

/// Why a request is answered 400 (401 for a bearer token) before any upstream sees it.
enum Refusal {
    /// The request target is neither a path nor an absolute URL (`GET api/x`, `GET foo:/..`):
    /// Pingora would route it as `/` but forward the raw target.
    Target,
    /// The decision refused the path or the tenant.
    Request(RequestError),
}

impl Refusal {
    /// The metric label.
    fn code(&self) -> &'static str {
        match self {
            Refusal::Target => "invalid-target",
            Refusal::Request(RequestError::InvalidTenant { .. }) => "invalid-tenant",
            Refusal::Request(RequestError::InvalidPath(_)) => "invalid-path",
            Refusal::Request(RequestError::InvalidToken(_)) => "invalid-token",
        }
    }

    /// 401 for a bearer token that does not verify, 400 for the rest.
    fn status(&self) -> u16 {
        match self {
            Refusal::Target => 400,
            Refusal::Request(error) => error.http_status(),
        }
    }

    fn message(&self) -> String {
        match self {
            Refusal::Target => "the request target must be a path starting with '/'".to_string(),
            Refusal::Request(error) => error.to_string(),
        }
    }
}

/// Origin form (`/path`), absolute form (`http://host/path`) or `OPTIONS *`.
fn routable_target(req: &RequestHeader) -> bool {
    let raw = req.raw_path();
    raw.starts_with(b"/")
        || req.uri.scheme().is_some()
        || (raw == b"*" && req.method == http::Method::OPTIONS)
}

/// Answers 400 (401 with `WWW-Authenticate: Bearer` for a token) with a JSON body naming the
/// problem.
async fn respond_refused(session: &mut Session, refusal: &Refusal) -> Result<()> {
    crate::telemetry::metrics::record_rejected(refusal.code());
    let body = Bytes::from(serde_json::json!({ "error": refusal.message() }).to_string());
    let mut response = ResponseHeader::build(refusal.status(), Some(4))?;
    response.insert_header(http::header::CONTENT_TYPE, "application/json")?;
    response.insert_header(http::header::CONTENT_LENGTH, body.len())?;
    if refusal.status() == 401 {
        let challenge = r#"Bearer error="invalid_token""#;
        response.insert_header(http::header::WWW_AUTHENTICATE, challenge)?;
    }
    session.set_keepalive(None);
    session
        .write_response_header(Box::new(response), false)
        .await?;
    session.write_response_body(Some(body), true).await
}
