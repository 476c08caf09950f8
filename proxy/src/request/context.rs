//! What the hooks of one request share ([`RequestCtx`]), and what the request says of
//! itself once it is over: its reason as logged, the decision header for QA, the access-log
//! record and what the shadow call needs to know.
//!
//! The context is filled by the hooks in [`super::edge`]; the folders below the request
//! (telemetry, shadow) receive plain records built here, never the context itself.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pingora::http::RequestHeader;
use pingora::{Error, Result};
use strangler_flags::resilience::{Diversion, FallbackPolicy};
use strangler_flags::{Reason, Route, Side};

use crate::live::loaded::Loaded;
use crate::request::fallback::BreakerTicket;
use crate::request::limits::RequestLimits;
use crate::shadow::client::Callee;
use crate::shadow::dispatch::Finished;
use crate::shadow::mirror::Mirror;
use crate::shadow::traced::ShadowTrace;
use crate::telemetry::access_log::AccessRecord;
use crate::telemetry::metrics::NO_ROUTE;
use crate::telemetry::trace::RequestIdentity;

/// What the hooks of one request share.
pub struct RequestCtx {
    /// When the request reached `request_filter`.
    pub(super) started: Instant,
    /// The snapshot this request was decided on; reloads do not change it mid-request.
    pub(super) config: Option<Arc<Loaded>>,
    /// Index of the matched route in the snapshot, if any.
    pub(super) route: Option<usize>,
    /// The resolved tenant.
    pub(super) tenant: Option<String>,
    /// The anonymous id minted for this request (`tenant.anonymous`), set in its answer.
    pub(super) anonymous_id: Option<String>,
    /// The side the rollout decided.
    pub(super) side: Side,
    /// Why it decided so; `None` when the request was refused before deciding.
    pub(super) reason: Option<Reason>,
    /// Why legacy answers instead of the decided new service, and the breaker's admission.
    pub(super) ticket: BreakerTicket,
    /// Request id and trace context.
    pub(super) identity: Option<RequestIdentity>,
    /// The capture of a shadowed request (boxed: most requests have none).
    pub(super) mirror: Option<Box<Mirror>>,
    /// `limits:` and `timeouts.total` state: what refused it, body bytes seen, deadline.
    pub(super) limits: RequestLimits,
    /// When the request was last handed to an upstream; set only for a traced request.
    pub(super) upstream_started: Option<Instant>,
    /// Keeps the request counted as in flight.
    _in_flight: InFlight,
}

impl RequestCtx {
    /// A context counted in `in_flight` until it is dropped.
    pub(super) fn new(in_flight: &Arc<AtomicUsize>) -> RequestCtx {
        RequestCtx {
            started: Instant::now(),
            config: None,
            route: None,
            tenant: None,
            anonymous_id: None,
            side: Side::Legacy,
            reason: None,
            ticket: BreakerTicket::default(),
            identity: None,
            mirror: None,
            limits: RequestLimits::default(),
            upstream_started: None,
            _in_flight: InFlight::enter(in_flight),
        }
    }

    /// The snapshot the request was decided on; an internal error before the decision.
    pub(super) fn loaded(&self) -> Result<&Loaded> {
        self.config.as_deref().ok_or_else(|| {
            Error::explain(pingora::ErrorType::InternalError, "no decision was made")
        })
    }

    /// The matched route.
    pub(super) fn route(&self) -> Option<&Route> {
        Some(&self.config.as_deref()?.snapshot.routes()[self.route?])
    }

    /// The side actually asked: legacy after a fallback or with an open breaker.
    pub(super) fn served_side(&self) -> Side {
        match self.ticket.diverted {
            Some(_) => Side::Legacy,
            None => self.side,
        }
    }

    /// The route's name, for logs and headers.
    pub(super) fn route_name(&self) -> Option<&str> {
        self.route().map(|route| &*route.name)
    }

    /// The matched route's `fallback:`, if any.
    pub(super) fn fallback_policy(&self) -> Option<&FallbackPolicy> {
        self.route()?.fallback()
    }

    /// Counts a diversion in `strangler_fallbacks_total`.
    pub(super) fn record_fallback(&self, diversion: Diversion) {
        if let Some(loaded) = self.config.as_deref() {
            loaded.metrics.record_fallback(self.route, diversion);
        }
    }

    /// The upstream's name (`legacy` or the service name), if the request was routed.
    fn upstream_name(&self) -> Option<&str> {
        let loaded = self.config.as_deref()?;
        self.reason.as_ref()?;
        if self.limits.refused_up_front() {
            return None;
        }
        Some(
            &loaded
                .snapshot
                .upstream(self.served_side(), self.route())
                .name,
        )
    }

    /// The reason as logged: `fallback:connect`, `fallback:status`, `fallback:timeout` or
    /// `breaker-open` when legacy served a request decided for new, a limit's reason when
    /// one refused it, `refused` when the request was answered 400 before deciding.
    pub(super) fn reason_text(&self) -> ReasonText<'_> {
        ReasonText(self)
    }

    /// `route=invoices; side=new; reason=percent (bucket 1234 < 2500)`: the decision header.
    pub(super) fn decision_summary(&self) -> String {
        format!(
            "route={}; side={}; reason={}",
            self.route_name().unwrap_or(NO_ROUTE),
            self.served_side(),
            self.reason_text()
        )
    }

    /// The access-log record of the finished request.
    pub(super) fn access_record<'a>(
        &'a self,
        req: &'a RequestHeader,
        client: Option<std::net::SocketAddr>,
        status: u16,
        elapsed: Duration,
        error: Option<&'a Error>,
        reason: &'a ReasonText<'a>,
    ) -> AccessRecord<'a> {
        AccessRecord {
            request_id: self.identity.as_ref().map(|i| i.request_id.as_str()),
            trace_id: self.identity.as_ref().map(|i| i.trace_id.as_str()),
            client,
            method: req.method.as_str(),
            path: req.uri.path(),
            tenant: self.tenant.as_deref(),
            route: self.route_name(),
            side: self.served_side().code(),
            reason,
            upstream: self.upstream_name(),
            status,
            elapsed,
            error: error.map(|e| e as &dyn std::fmt::Display),
        }
    }

    /// What the shadow call needs to know of this request once the primary is done;
    /// `None` before a decision (a shadowed request always has one).
    pub(super) fn finished(
        &self,
        latency: Duration,
        primary_error: Option<String>,
    ) -> Option<Finished> {
        let loaded = self.config.as_deref()?;
        let route = Some(self.route()?);
        let primary = self.served_side();
        let shadow = primary.other();
        Some(Finished {
            route: self.route_name().unwrap_or_default().to_owned(),
            tenant: self.tenant.clone(),
            primary_side: primary.code(),
            shadow_side: shadow.code(),
            primary: Callee::of(loaded.snapshot.upstream(primary, route)),
            shadow: Callee::of(loaded.snapshot.upstream(shadow, route)),
            primary_latency: latency,
            primary_error,
            trace: self.shadow_trace(loaded),
            tally: loaded.metrics.tally(self.route),
        })
    }

    /// Where a traced request's shadow comparison sends its span.
    fn shadow_trace(&self, loaded: &Loaded) -> Option<ShadowTrace> {
        let ids = self.identity.as_ref()?.spans?;
        let exporter = loaded.traces.clone()?;
        Some(ShadowTrace { exporter, ids })
    }
}

/// Displays a request's reason without building a `String`.
pub(super) struct ReasonText<'a>(&'a RequestCtx);

impl std::fmt::Display for ReasonText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(limit) = self.0.limits.refused() {
            return f.write_str(limit);
        }
        match (&self.0.reason, self.0.ticket.diverted) {
            (_, Some(diversion)) => f.write_str(diversion.reason()),
            (Some(reason), None) => write!(f, "{reason}"),
            (None, None) => f.write_str("refused"),
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
