//! Traces over OTLP: each sampled request's spans ([`span::RequestSpans`]) and its shadow
//! comparison's ([`span::ShadowSpan`]) handed to an
//! [`Exporter`] that posts them in batches to the collector of `telemetry.otlp`.
//!
//! The request thread does one `try_send` into a bounded queue; a full queue drops the
//! spans and counts them (`strangler_otlp_spans_dropped_total{reason="queue-full"}`). A
//! thread of the exporter's own, with a one-thread runtime, batches, encodes and posts; a
//! collector that is down or slow costs a counter (`reason="export-failed"`), never a
//! request. Imports only `telemetry`'s own metrics.

mod export;
pub mod span;

use std::sync::Arc;

use strangler_flags::config::telemetry::Otlp;
use tokio::sync::mpsc;

use opentelemetry_proto::tonic::trace::v1::Span;
use span::{RequestSpans, ShadowSpan};

/// Requests whose spans wait for the exporter at most; past that they are dropped.
pub const QUEUE_REQUESTS: usize = 4096;

/// The handle requests send their spans to; the exporter's thread ends (after a last
/// flush) when every handle is gone.
#[derive(Debug)]
pub struct Exporter {
    /// Where this exporter posts, and what it samples (a reload with another one starts
    /// another exporter).
    config: Otlp,
    queue: mpsc::Sender<Exported>,
}

impl Exporter {
    /// Starts the exporter's thread for `config`.
    pub fn start(config: &Otlp) -> std::io::Result<Arc<Exporter>> {
        let (queue, receiver) = mpsc::channel(QUEUE_REQUESTS);
        export::spawn(config.clone(), receiver)?;
        Ok(Arc::new(Exporter {
            config: config.clone(),
            queue,
        }))
    }

    /// The configuration this exporter was started with.
    pub fn config(&self) -> &Otlp {
        &self.config
    }

    /// New traces kept, in basis points.
    pub fn sample_basis_points(&self) -> u16 {
        self.config.sample_basis_points
    }

    /// Queues a finished request's spans; drops and counts them when the queue is full.
    pub fn record(&self, spans: RequestSpans) {
        let count = 1 + u64::from(spans.upstream.is_some());
        self.queue_or_drop(Exported::Request(Box::new(spans)), count);
    }

    /// Queues a shadow comparison's span, like [`Exporter::record`].
    pub fn record_shadow(&self, span: ShadowSpan) {
        self.queue_or_drop(Exported::Shadow(span), 1);
    }

    fn queue_or_drop(&self, exported: Exported, count: u64) {
        if self.queue.try_send(exported).is_err() {
            dropped("queue-full", count);
        }
    }
}

/// What waits in the queue: a request's spans or a shadow comparison's.
#[derive(Debug)]
enum Exported {
    /// Boxed: the larger of the two by far.
    Request(Box<RequestSpans>),
    Shadow(ShadowSpan),
}

impl Exported {
    fn into_proto(self) -> Vec<Span> {
        match self {
            Exported::Request(spans) => spans.into_proto(),
            Exported::Shadow(span) => vec![span.into_proto()],
        }
    }
}

/// Counts spans that never reached the collector.
fn dropped(reason: &'static str, count: u64) {
    metrics::counter!("strangler_otlp_spans_dropped_total", "reason" => reason).increment(count);
}

/// The reasons of `strangler_otlp_spans_dropped_total`, registered at zero at start.
pub const DROP_REASONS: [&str; 2] = ["queue-full", "export-failed"];
