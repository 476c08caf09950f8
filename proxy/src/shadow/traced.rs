//! A shadowed request's trace: when the request was sampled and its snapshot exports
//! traces, its comparison (the shadow call and the diff) becomes a span of the same trace,
//! linked to the request's server span rather than its child (that span ended when the
//! client had its answer). Its id is the parent the shadow side sees in `traceparent`.

use std::sync::Arc;
use std::time::SystemTime;

use strangler_shadow::Comparison;

use crate::shadow::dispatch::Finished;
use crate::telemetry::otlp::span::{ShadowSpan, SpanIds};
use crate::telemetry::otlp::Exporter;

/// Where a traced shadowed request's comparison sends its span.
pub struct ShadowTrace {
    /// The snapshot's exporter.
    pub exporter: Arc<Exporter>,
    /// The request's trace and server span.
    pub ids: SpanIds,
}

/// Queues the span of a finished comparison whose shadow call had the id `span`.
pub(super) fn record(span: u64, started: SystemTime, finished: &Finished, comparison: &Comparison) {
    let Some(trace) = &finished.trace else {
        return;
    };
    trace.exporter.record_shadow(ShadowSpan {
        ids: trace.ids,
        span,
        start: started,
        end: SystemTime::now(),
        route: finished.route.clone(),
        side: finished.shadow_side,
        address: finished.shadow.addr.to_string(),
        status: comparison.shadow_status,
        verdict: comparison.verdict.code(),
        error: comparison.error.clone(),
    });
}
