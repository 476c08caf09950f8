//! A shadowed request's part of the journey: a slot on the shadow runtime taken when the
//! request is decided (or the skip recorded, and why), and the capture handed over once the
//! client has its whole answer. The primary is never waited on; the comparison itself runs
//! in [`crate::shadow::dispatch`].

use std::time::Duration;

use pingora::http::RequestHeader;
use pingora::Error;
use strangler_shadow::SkipReason;

use crate::request::context::RequestCtx;
use crate::shadow::dispatch::Shadowing;
use crate::shadow::mirror::{self, Eligibility, Mirror};

/// Starts the capture of a request its route shadows, if a slot is free; a request that
/// finds none is counted as skipped (`overloaded`) and served as usual. A breaker-open
/// diversion has nothing to compare: it takes no slot.
pub(super) fn start(shadowing: &Shadowing, req: &RequestHeader, ctx: &mut RequestCtx) {
    if ctx.ticket.diverted.is_some() {
        return;
    }
    let (Some(route), Some(reason), Some(identity)) = (ctx.route(), ctx.reason, &ctx.identity)
    else {
        return;
    };
    let policy = match mirror::eligible(route, reason, req, &identity.request_id) {
        Eligibility::No => return,
        Eligibility::Skip(reason) => return skip(shadowing, req, ctx, reason),
        Eligibility::Yes(policy) => policy,
    };
    match shadowing.slot() {
        Some(permit) => {
            let mirror = Mirror::new(policy.clone(), &identity.request_id, permit);
            ctx.mirror = Some(Box::new(mirror));
        }
        None => skip(shadowing, req, ctx, SkipReason::Overloaded),
    }
}

/// Records a shadowed request that will not be compared, and why.
fn skip(shadowing: &Shadowing, req: &RequestHeader, ctx: &RequestCtx, reason: SkipReason) {
    let target = req.uri.path_and_query().map_or("/", |pq| pq.as_str());
    if let Some(finished) = ctx.finished(Duration::ZERO, None) {
        shadowing.skipped(finished, req.method.as_str(), target, reason);
    }
}

/// Hands the capture of a finished request to the shadow runtime, unless nothing can be
/// compared: the rollout's side failed or is out (a fallback), the body was cut off past
/// `limits.max_body`, or the client went away.
pub(super) fn finish(
    shadowing: &Shadowing,
    ctx: &mut RequestCtx,
    status: u16,
    elapsed: Duration,
    error: Option<&Error>,
) {
    let Some(mut mirror) = ctx.mirror.take() else {
        return;
    };
    if ctx.ticket.diverted.is_some() {
        mirror.give_up(SkipReason::Fallback);
    }
    if ctx.limits.refused().is_some() {
        // Cut off past `limits.max_body`: the request cannot be replayed whole.
        mirror.give_up(SkipReason::RequestTooLarge);
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
        shadowing.dispatch(*mirror, finished, settings);
    }
}
