//! The exporter's thread: takes spans off the queue, posts them as one
//! `ExportTraceServiceRequest` per batch (protobuf over HTTP, OTLP/HTTP's
//! `application/x-protobuf`) with the reqwest client the proxy already builds, and counts
//! what it could not deliver. A batch is sent when it holds [`BATCH_REQUESTS`] requests or
//! [`BATCH_DELAY`] after its first; a failed post is not retried (the spans are counted as
//! dropped), so a dead collector never grows memory.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use strangler_flags::config::telemetry::Otlp;
use tokio::sync::mpsc;

use super::span::text;
use super::Exported;

/// Requests per batch at most.
const BATCH_REQUESTS: usize = 256;
/// How long a batch waits for more requests after its first.
const BATCH_DELAY: Duration = Duration::from_secs(1);
/// How long one post may take.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the thread that drains `receiver` into `config`'s collector.
pub(super) fn spawn(config: Otlp, receiver: mpsc::Receiver<Exported>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("otlp-export".into())
        .spawn(move || runtime.block_on(run(config, receiver)))?;
    Ok(())
}

/// Batches and posts until the queue is closed and empty.
async fn run(config: Otlp, mut receiver: mpsc::Receiver<Exported>) {
    let client = match crate::telemetry::outbound::client_builder()
        .timeout(POST_TIMEOUT)
        .build()
    {
        Ok(client) => client,
        Err(e) => return tracing::error!(error = %e, "otlp: no HTTP client; no spans exported"),
    };
    let mut batch = Vec::with_capacity(BATCH_REQUESTS);
    while let Some(first) = receiver.recv().await {
        batch.push(first);
        let deadline = tokio::time::Instant::now() + BATCH_DELAY;
        while batch.len() < BATCH_REQUESTS {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(spans)) => batch.push(spans),
                Ok(None) | Err(_) => break,
            }
        }
        let spans: Vec<Span> = batch.drain(..).flat_map(Exported::into_proto).collect();
        post(&client, &config, spans).await;
    }
}

/// Posts one batch; counts its spans as dropped when the collector did not take them.
async fn post(client: &reqwest::Client, config: &Otlp, spans: Vec<Span>) {
    let count = spans.len() as u64;
    let body = request(spans).encode_to_vec();
    let mut post = client
        .post(&*config.url)
        .header(http::header::CONTENT_TYPE, "application/x-protobuf")
        .body(body);
    for (name, value) in &config.headers {
        post = post.header(&**name, &**value);
    }
    let failure = match post.send().await {
        Ok(answer) if answer.status().is_success() => return,
        Ok(answer) => format!("the collector answered {}", answer.status()),
        Err(e) => e.to_string(),
    };
    super::dropped("export-failed", count);
    tracing::debug!(url = %config.url, spans = count, error = %failure, "otlp: spans not exported");
}

/// One resource (this proxy) and one scope holding `spans`.
fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    let resource = Resource {
        attributes: vec![text("service.name", "strangler")],
        ..Resource::default()
    };
    let scope = InstrumentationScope {
        name: "strangler".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        ..InstrumentationScope::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}
