//! What the edge asks of the snapshot and reports to the guards, outside the hooks of
//! [`super::edge`]: the request's decision (the snapshot current when it starts, its
//! identity, tenant, route and side), the diversion of a request whose service's breaker is
//! open, and the outcome counted in its route's metrics, guard and ramp once it ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pingora::http::RequestHeader;
use pingora::Error;
use strangler_flags::resilience::Diversion;
use strangler_flags::{Reason, Side};

use crate::live::loaded::Loaded;
use crate::request::anonymous;
use crate::request::context::RequestCtx;
use crate::request::edge::Edge;
use crate::request::head::{header_str, routable_target, RequestHead};
use crate::request::refusal::Refusal;
use crate::resilience::guard::Outcome;
use crate::telemetry::metrics;
use crate::telemetry::trace::{RequestIdentity, REQUEST_ID, TRACEPARENT};

impl Edge {
    /// Decides the request on the snapshot current now and keeps the decision in `ctx`;
    /// returns the snapshot it was decided on.
    pub(super) fn decide(
        &self,
        req: &RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<Arc<Loaded>, Refusal> {
        ctx.started = Instant::now();
        let loaded = self.live.current();
        ctx.identity = Some(RequestIdentity::from_headers(
            header_str(req, REQUEST_ID),
            header_str(req, TRACEPARENT),
            loaded.traces.as_ref().map(|t| t.sample_basis_points()),
        ));
        ctx.config = Some(loaded.clone());
        if !routable_target(req) {
            return Err(Refusal::Target);
        }
        let head = RequestHead::new(req);
        let mut decision = loaded.snapshot.decide(&head).map_err(Refusal::Request)?;
        ctx.anonymous_id = anonymous::settle(&mut decision);
        metrics::record_force(&decision);
        ctx.route = decision.route.map(|r| r.index());
        ctx.tenant = decision.tenant.map(std::borrow::Cow::into_owned);
        ctx.side = decision.side;
        ctx.reason = Some(decision.reason);
        Ok(loaded)
    }

    /// Sends a request decided for a service whose breaker is open to legacy instead.
    pub(super) fn divert_if_breaker_open(&self, ctx: &mut RequestCtx) {
        let (Some(loaded), Some(route), Side::New) = (&ctx.config, ctx.route(), ctx.side) else {
            return;
        };
        let service = self.health.breaker(&loaded.file, route.service_index());
        if !ctx.ticket.admit(service) {
            ctx.record_fallback(Diversion::BreakerOpen);
        }
    }

    /// Counts the request in its route's metrics and, when it was decided for the new side
    /// by the rollout, in its guard's window.
    pub(super) fn record_outcome(
        &self,
        ctx: &RequestCtx,
        status: u16,
        elapsed: Duration,
        error: Option<&Error>,
    ) {
        let Some(loaded) = ctx.config.as_deref() else {
            return;
        };
        loaded
            .metrics
            .record(ctx.route, ctx.served_side(), status, elapsed);
        // A request a limit refused, or QA forced to the new side, says nothing of how the
        // route's rollout fares there.
        let forced = matches!(ctx.reason, Some(Reason::Forced(_)));
        if ctx.side == Side::New && ctx.limits.refused().is_none() && !forced {
            let outcome = Outcome::of(status, error, ctx.ticket.diverted, elapsed);
            self.guards.record(&loaded.file, ctx.route, outcome);
            self.ramps.record(&loaded.file, ctx.route, outcome);
        }
    }
}
