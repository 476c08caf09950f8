//! The spans of one finished request as plain data ([`RequestSpans`]), and their OTLP
//! protobuf form. The request thread only fills the record; turning it into protobuf
//! (hex ids to bytes, attributes to key-values) happens on the exporter's thread.
//!
//! Attribute names: HTTP ones follow OpenTelemetry's semantic conventions
//! (`http.request.method`, `url.path`, `http.response.status_code`, `server.address`,
//! `client.address`); the migration's own are under `strangler.` (route, tenant, side,
//! reason, bucket, upstream, fallback, breaker).

use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::span::Link;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{status, Span, Status};

/// Where a request's trace sits: its trace id, the caller's span and ours.
#[derive(Debug, Clone, Copy)]
pub struct SpanIds {
    /// The W3C trace id.
    pub trace_id: u128,
    /// The client's span (the `traceparent` parent id), if it sent one.
    pub parent: Option<u64>,
    /// The proxy's server span.
    pub server: u64,
    /// The upstream exchange's span: the parent id the upstream sees in `traceparent`.
    pub upstream: u64,
}

/// The upstream exchange of a request: the child span of its server span.
#[derive(Debug, Clone)]
pub struct UpstreamSpan {
    /// `legacy` or the service's name.
    pub name: String,
    /// The peer's address as `host:port`, from routes.yaml.
    pub address: String,
    /// When the request was handed to the upstream.
    pub start: SystemTime,
}

/// One finished request as its spans say it.
#[derive(Debug, Clone)]
pub struct RequestSpans {
    /// Trace, parent and span ids.
    pub ids: SpanIds,
    /// When the request arrived and how long it took.
    pub start: SystemTime,
    /// From arrival to the end of the response.
    pub elapsed: Duration,
    /// The method as sent.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The `Host` (or `:authority`) the client asked for.
    pub host: Option<String>,
    /// The client's IP address.
    pub client: Option<String>,
    /// The status sent; 0 for none.
    pub status: u16,
    /// The request id.
    pub request_id: String,
    /// The matched route.
    pub route: Option<String>,
    /// The resolved tenant.
    pub tenant: Option<String>,
    /// The side that answered.
    pub side: &'static str,
    /// Why, as the access log says it.
    pub reason: String,
    /// The tenant's bucket, when a percentage decided.
    pub bucket: Option<u16>,
    /// Why legacy served a request decided for new (`fallback:connect`, `breaker-open`).
    pub fallback: Option<&'static str>,
    /// What the new service's breaker admitted (`pass`, `probe`, `open`).
    pub breaker: Option<&'static str>,
    /// What failed, if anything.
    pub error: Option<String>,
    /// The upstream exchange, when there was one.
    pub upstream: Option<UpstreamSpan>,
}

impl RequestSpans {
    /// The server span and, when the request reached an upstream, its child.
    pub fn into_proto(self) -> Vec<Span> {
        let end = self.start + self.elapsed;
        let trace_id = self.ids.trace_id.to_be_bytes().to_vec();
        let upstream = self.upstream.as_ref().map(|up| self.upstream_span(up, end));
        let mut attributes = vec![
            text("http.request.method", &self.method),
            text("url.path", &self.path),
            int("http.response.status_code", i64::from(self.status)),
            text("strangler.request_id", &self.request_id),
            text("strangler.side", self.side),
            text("strangler.reason", &self.reason),
        ];
        let optional = [
            ("client.address", self.client.as_deref()),
            ("http.route", self.route.as_deref()),
            ("strangler.route", self.route.as_deref()),
            ("strangler.tenant", self.tenant.as_deref()),
            (
                "strangler.upstream",
                self.upstream.as_ref().map(|u| u.name.as_str()),
            ),
            ("strangler.fallback", self.fallback),
            ("strangler.breaker", self.breaker),
            ("error.type", self.error.as_deref()),
        ];
        attributes.extend(optional.iter().filter_map(|(k, v)| v.map(|v| text(k, v))));
        attributes.extend(self.bucket.map(|b| int("strangler.bucket", i64::from(b))));
        if let Some(host) = &self.host {
            attributes.extend(server(host));
        }
        let server = Span {
            trace_id,
            span_id: self.ids.server.to_be_bytes().to_vec(),
            parent_span_id: self
                .ids
                .parent
                .map(|p| p.to_be_bytes().to_vec())
                .unwrap_or_default(),
            // Sampled, and whether the parent is remote (bits 8 and 9 of OTLP's span flags).
            flags: if self.ids.parent.is_some() {
                0x301
            } else {
                0x101
            },
            name: format!("{} {}", self.method, self.route.as_deref().unwrap_or("-")),
            kind: SpanKind::Server as i32,
            start_time_unix_nano: unix_nanos(self.start),
            end_time_unix_nano: unix_nanos(end),
            attributes,
            status: Some(span_status(self.status, self.error.as_deref())),
            ..Span::default()
        };
        std::iter::once(server).chain(upstream).collect()
    }

    /// The upstream exchange: from the hand-over to the end of the response.
    fn upstream_span(&self, up: &UpstreamSpan, end: SystemTime) -> Span {
        let mut attributes = vec![
            text("http.request.method", &self.method),
            text("url.path", &self.path),
            text("strangler.upstream", &up.name),
            text("strangler.side", self.side),
            int("http.response.status_code", i64::from(self.status)),
        ];
        attributes.extend(server(&up.address));
        Span {
            trace_id: self.ids.trace_id.to_be_bytes().to_vec(),
            span_id: self.ids.upstream.to_be_bytes().to_vec(),
            parent_span_id: self.ids.server.to_be_bytes().to_vec(),
            flags: 0x101, // sampled, the parent local
            name: format!("{} {}", self.method, up.name),
            kind: SpanKind::Client as i32,
            start_time_unix_nano: unix_nanos(up.start),
            end_time_unix_nano: unix_nanos(end.max(up.start)),
            attributes,
            status: Some(span_status(self.status, self.error.as_deref())),
            ..Span::default()
        }
    }
}

/// A shadow comparison: the call to the other side and its diff, after the client had its
/// answer. In the request's trace but not a child of its server span (which had ended):
/// linked to it instead. Its id is the parent the shadow side sees in `traceparent`.
#[derive(Debug, Clone)]
pub struct ShadowSpan {
    /// The request's ids (trace and server span, for the link).
    pub ids: SpanIds,
    /// This span's id.
    pub span: u64,
    /// When the comparison started and ended.
    pub start: SystemTime,
    /// See `start`.
    pub end: SystemTime,
    /// The route shadowed.
    pub route: String,
    /// The side called as the shadow.
    pub side: &'static str,
    /// The shadow side's address, `host:port`.
    pub address: String,
    /// The shadow's status, if it answered.
    pub status: Option<u16>,
    /// The comparison's verdict (`match`, `differ`, `shadow-error`...).
    pub verdict: &'static str,
    /// What failed, if anything.
    pub error: Option<String>,
}

impl ShadowSpan {
    /// The span, linked to the request's server span.
    pub fn into_proto(self) -> Span {
        let trace_id = self.ids.trace_id.to_be_bytes().to_vec();
        let mut attributes = vec![
            text("strangler.route", &self.route),
            text("strangler.side", self.side),
            text("strangler.shadow.verdict", self.verdict),
        ];
        attributes.extend(server(&self.address));
        attributes.extend(
            self.status
                .map(|s| int("http.response.status_code", i64::from(s))),
        );
        let link = Link {
            trace_id: trace_id.clone(),
            span_id: self.ids.server.to_be_bytes().to_vec(),
            flags: 0x101,
            ..Link::default()
        };
        Span {
            trace_id,
            span_id: self.span.to_be_bytes().to_vec(),
            flags: 0x101,
            name: format!("shadow {}", self.route),
            kind: SpanKind::Client as i32,
            start_time_unix_nano: unix_nanos(self.start),
            end_time_unix_nano: unix_nanos(self.end.max(self.start)),
            attributes,
            links: vec![link],
            status: Some(span_status(self.status.unwrap_or(0), self.error.as_deref())),
            ..Span::default()
        }
    }
}

/// `server.address` and, when `authority` has one, `server.port`.
fn server(authority: &str) -> Vec<KeyValue> {
    let split = authority
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)));
    match split {
        Some((host, port)) => vec![
            text("server.address", host),
            int("server.port", i64::from(port)),
        ],
        None => vec![text("server.address", authority)],
    }
}

/// Error for a 5xx, a missing response or a failure; unset otherwise (4xx is the
/// client's, as the HTTP conventions for server spans say).
fn span_status(status: u16, error: Option<&str>) -> Status {
    let failed = status >= 500 || status == 0 || error.is_some();
    Status {
        code: match failed {
            true => status::StatusCode::Error as i32,
            false => status::StatusCode::Unset as i32,
        },
        message: error.unwrap_or_default().to_owned(),
    }
}

fn unix_nanos(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A string attribute.
pub(crate) fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

/// An integer attribute.
fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..KeyValue::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(attributes: &[KeyValue]) -> Vec<String> {
        let value = |kv: &KeyValue| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => format!("{}={s}", kv.key),
            Some(any_value::Value::IntValue(i)) => format!("{}={i}", kv.key),
            _ => kv.key.clone(),
        };
        attributes.iter().map(value).collect()
    }

    #[test]
    fn an_authority_is_split_into_server_address_and_port() {
        assert_eq!(
            values(&server("shop.example.com:8080")),
            ["server.address=shop.example.com", "server.port=8080"]
        );
        assert_eq!(
            values(&server("[::1]:80")),
            ["server.address=[::1]", "server.port=80"]
        );
        assert_eq!(
            values(&server("shop.example.com")),
            ["server.address=shop.example.com"]
        );
        assert_eq!(values(&server("[::1]")), ["server.address=[::1]"]);
    }

    #[test]
    fn a_5xx_or_a_failure_is_an_error_and_a_4xx_is_not() {
        let error = status::StatusCode::Error as i32;
        assert_eq!(span_status(502, None).code, error);
        assert_eq!(span_status(0, None).code, error);
        assert_eq!(span_status(200, Some("reset")).code, error);
        assert_eq!(
            span_status(404, None).code,
            status::StatusCode::Unset as i32
        );
    }
}
