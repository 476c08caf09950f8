//! Traces over OTLP: each sampled request's spans ([`span::RequestSpans`]) handed to an
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

use span::RequestSpans;

/// Requests whose spans wait for the exporter at most; past that they are dropped.
pub const QUEUE_REQUESTS: usize = 4096;

/// The handle requests send their spans to; the exporter's thread ends (after a last
/// flush) when every handle is gone.
#[derive(Debug)]
pub struct Exporter {
    /// Where this exporter posts, and what it samples (a reload with another one starts
    /// another exporter).
    config: Otlp,
    queue: mpsc::Sender<RequestSpans>,
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
        if self.queue.try_send(spans).is_err() {
            dropped("queue-full", count);
        }
    }
}

/// Counts spans that never reached the collector.
fn dropped(reason: &'static str, count: u64) {
    metrics::counter!("strangler_otlp_spans_dropped_total", "reason" => reason).increment(count);
}

/// The reasons of `strangler_otlp_spans_dropped_total`, registered at zero at start.
pub const DROP_REASONS: [&str; 2] = ["queue-full", "export-failed"];
