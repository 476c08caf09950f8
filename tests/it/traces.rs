//! Traces over OTLP (`telemetry.otlp`): a collector on port 0 inside the test decodes what
//! the proxy posts (OTLP/HTTP protobuf, `opentelemetry-proto`'s types) and the test checks
//! the spans of real requests through the real proxy (and of a shadow call); a collector that is not there costs
//! the requests nothing and the spans are counted as dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use crate::support::backend::closed_port_url;
use crate::support::metrics::sample;
use crate::support::{eventually, send, Answer, Backend, Config, Proxy};

/// What the test collector received: every span, in arrival order.
type Received = Arc<Mutex<Vec<Span>>>;

/// An OTLP/HTTP collector that keeps the spans of every export it decodes.
async fn collector() -> (Backend, Received) {
    let received = Received::default();
    let router = Router::new()
        .route("/v1/traces", post(export))
        .with_state(received.clone());
    (Backend::serve(router).await, received)
}

async fn export(State(received): State<Received>, body: Bytes) -> StatusCode {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST;
    };
    let spans = request
        .resource_spans
        .into_iter()
        .flat_map(|r| r.scope_spans);
    let mut received = received.lock().unwrap();
    received.extend(spans.flat_map(|s| s.spans));
    StatusCode::OK
}

/// Route `traced-invoices` over `/api/invoices/**` to `billing` at 100 %.
const ALL_NEW: &str = "rollout: { percent: 100 }";

/// A proxy exporting to `endpoint` with one route over `/api/invoices/**` to `billing`,
/// `rule` its rollout or shadow (one flow-mapping line).
async fn traced_proxy(endpoint: &str, sample: &str, rule: &str) -> (Proxy, Backend, Backend) {
    let legacy = Backend::echo("legacy").await;
    let billing = Backend::echo("billing").await;
    let config = Config::new(&legacy)
        .service("billing", &billing)
        .routes(&format!(
            "  - name: traced-invoices\n    match: {{ path: \"/api/invoices/**\" }}\n    service: billing\n    {rule}\n"
        ))
        .section(&format!(
            "telemetry:\n  otlp: {{ endpoint: {endpoint}, protocol: http/protobuf, sample: {sample} }}\n"
        ));
    (Proxy::start(&config).await, legacy, billing)
}

/// The first of `spans` that `is` says is the one, named `what` if there is none.
fn find<'s>(spans: &'s [Span], what: &str, is: impl Fn(&Span) -> bool) -> &'s Span {
    spans
        .iter()
        .find(|s| is(s))
        .unwrap_or_else(|| panic!("no {what} in {spans:?}"))
}

/// Tenant `acme`'s GET of `path` with the client's `traceparent`.
async fn traced_get(proxy: &Proxy, path: &str, traceparent: &str) -> Answer {
    send(
        proxy
            .get_as("acme", path)
            .header("traceparent", traceparent),
    )
    .await
}

/// The string or integer value of `span`'s attribute `key`, as text.
fn attribute(span: &Span, key: &str) -> Option<String> {
    let value = span.attributes.iter().find(|kv| kv.key == key)?;
    match value.value.as_ref()?.value.as_ref()? {
        Value::StringValue(text) => Some(text.clone()),
        Value::IntValue(number) => Some(number.to_string()),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The spans of trace `trace` received so far.
fn of_trace(received: &Received, trace: &str) -> Vec<Span> {
    let received = received.lock().unwrap();
    received
        .iter()
        .filter(|s| hex(&s.trace_id) == trace)
        .cloned()
        .collect()
}

/// Waits until the collector holds `count` spans of `trace`, and returns them.
async fn spans_of(received: &Received, trace: &str, count: usize) -> Vec<Span> {
    eventually(
        Duration::from_secs(10),
        "the spans at the collector",
        || {
            let arrived = of_trace(received, trace).len();
            async move { arrived >= count }
        },
    )
    .await;
    of_trace(received, trace)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_is_a_server_span_continuing_the_client_trace_with_its_upstream_child() {
    let (collector, received) = collector().await;
    // 0 %: the proxy starts no trace of its own, but follows a caller that sampled.
    let (proxy, _legacy, _billing) = traced_proxy(&collector.url(), "0%", ALL_NEW).await;
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let answer = traced_get(&proxy, "/api/invoices/7", incoming).await;
    assert_eq!((answer.status.as_u16(), answer.backend()), (200, "billing"));
    let upstream_parent = answer
        .upstream_header("traceparent")
        .expect("traceparent")
        .to_owned();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let spans = spans_of(&received, trace, 2).await;
    let server = find(&spans, "server span", |s| s.kind == SpanKind::Server as i32);
    let client = find(&spans, "upstream span", |s| {
        s.kind == SpanKind::Client as i32
    });
    assert_eq!(
        hex(&server.parent_span_id),
        "00f067aa0ba902b7",
        "continues the client's span"
    );
    assert_eq!(
        client.parent_span_id, server.span_id,
        "the exchange is the server span's child"
    );
    assert_eq!(
        upstream_parent,
        format!("00-{trace}-{}-01", hex(&client.span_id))
    );
    for (key, value) in [
        ("strangler.route", "traced-invoices"),
        ("strangler.tenant", "acme"),
        ("strangler.side", "new"),
        ("strangler.upstream", "billing"),
        ("http.request.method", "GET"),
        ("url.path", "/api/invoices/7"),
        ("http.response.status_code", "200"),
    ] {
        assert_eq!(
            attribute(server, key).as_deref(),
            Some(value),
            "server {key}"
        );
    }
    assert!(attribute(server, "strangler.reason").is_some_and(|r| r.starts_with("percent")));
    assert!(attribute(server, "strangler.bucket").is_some());
    assert_eq!(
        attribute(client, "strangler.upstream").as_deref(),
        Some("billing")
    );
    assert_eq!(
        attribute(client, "server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert!(server.start_time_unix_nano <= client.start_time_unix_nano);
    assert!(client.end_time_unix_nano <= server.end_time_unix_nano + 1_000_000);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shadow_call_is_a_span_of_the_trace_linked_to_the_server_span_not_its_child() {
    let (collector, received) = collector().await;
    let (proxy, _legacy, _billing) = traced_proxy(&collector.url(), "100%", "shadow: {}").await;
    let trace = "5bf92f3577b34da6a3ce929d0e0e4737";
    let incoming = format!("00-{trace}-00f067aa0ba902b7-01");
    let answer = traced_get(&proxy, "/api/invoices/8", &incoming).await;
    assert_eq!((answer.status.as_u16(), answer.backend()), (200, "legacy"));
    let spans = spans_of(&received, trace, 3).await;
    let server = find(&spans, "server span", |s| s.kind == SpanKind::Server as i32);
    let shadow = find(&spans, "shadow span", |s| s.name.starts_with("shadow "));
    assert!(
        shadow.parent_span_id.is_empty(),
        "not a child of the ended server span"
    );
    assert_eq!(shadow.links.len(), 1);
    assert_eq!(shadow.links[0].span_id, server.span_id);
    assert_eq!(
        attribute(shadow, "strangler.route").as_deref(),
        Some("traced-invoices")
    );
    assert_eq!(attribute(shadow, "strangler.side").as_deref(), Some("new"));
    assert_eq!(
        attribute(shadow, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert!(attribute(shadow, "strangler.shadow.verdict").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_that_keeps_the_otlp_section_keeps_exporting() {
    let (collector, received) = collector().await;
    let (proxy, _legacy, _billing) = traced_proxy(&collector.url(), "100%", ALL_NEW).await;
    let text = std::fs::read_to_string(proxy.config_path()).expect("routes.yaml");
    proxy.rewrite_text(&text.replace("traced-invoices", "retraced-invoices"));
    let (status, body) = proxy.reload().await;
    assert_eq!(status.as_u16(), 200, "{body}");
    let trace = "6bf92f3577b34da6a3ce929d0e0e4738";
    let incoming = format!("00-{trace}-00f067aa0ba902b7-01");
    let answer = traced_get(&proxy, "/api/invoices/9", &incoming).await;
    assert_eq!(answer.status.as_u16(), 200);
    let spans = spans_of(&received, trace, 2).await;
    let server = find(&spans, "server span", |s| s.kind == SpanKind::Server as i32);
    assert_eq!(
        attribute(server, "strangler.route").as_deref(),
        Some("retraced-invoices")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_collector_fails_no_request_and_counts_the_dropped_spans() {
    let (proxy, _legacy, _billing) = traced_proxy(&closed_port_url(), "100%", ALL_NEW).await;
    let dropped = |page: &str| {
        sample(
            page,
            "strangler_otlp_spans_dropped_total",
            &[("reason", "export-failed")],
        )
    };
    let before = dropped(&proxy.metrics().await);
    for id in 0..3 {
        let answer = send(proxy.get_as("acme", &format!("/api/invoices/{id}"))).await;
        assert_eq!((answer.status.as_u16(), answer.backend()), (200, "billing"));
    }
    eventually(
        Duration::from_secs(15),
        "6 spans counted as dropped",
        || {
            let proxy = &proxy;
            async move { dropped(&proxy.metrics().await) >= before + 6.0 }
        },
    )
    .await;
}
