//! Request identity: the request id and the W3C trace context that tie the access log, the
//! upstreams' logs and the client's view of one request together.
//!
//! A valid incoming `traceparent` keeps its trace id and gets a new parent id for our hop; a
//! missing or malformed one starts a new trace. Ids come from a per-thread splitmix64 seeded
//! randomly per process: unique enough to correlate logs, cheap enough for every request, and
//! never used for anything secret.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use crate::telemetry::otlp::span::SpanIds;

/// The `traceparent` header name.
pub const TRACEPARENT: &str = "traceparent";
/// The request id header, read from the client when sane and always sent upstream.
pub const REQUEST_ID: &str = "x-request-id";

/// What the proxy knows about a request's identity.
#[derive(Debug, Clone)]
pub struct RequestIdentity {
    /// Client-supplied `x-request-id` when it is short printable ASCII, else a new one.
    pub request_id: String,
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// The `traceparent` value forwarded upstream: same trace, our own span id.
    pub traceparent: String,
    /// The request's span ids when its trace is sampled for OTLP; `None` when traces are
    /// not exported or this one is not kept.
    pub spans: Option<SpanIds>,
}

impl RequestIdentity {
    /// Builds the identity from the incoming header values. `sample` is `telemetry.otlp`'s
    /// share of new traces in basis points, `None` when no traces are exported: a trace the
    /// proxy starts is then marked sampled or not by its id, and a continued one follows
    /// its caller's flag.
    pub fn from_headers(
        request_id: Option<&str>,
        traceparent: Option<&str>,
        sample: Option<u16>,
    ) -> RequestIdentity {
        let parsed = traceparent.and_then(parse_traceparent);
        let (trace_id, parent, mut flags) = match parsed {
            Some((trace, parent, flags)) => (trace, Some(parent), flags),
            None => (random_hex_128(), None, "00"),
        };
        let upstream_span = new_span_id();
        let mut spans = None;
        if let Some(basis_points) = sample {
            let sampled = match parent {
                Some(_) => u8::from_str_radix(flags, 16).is_ok_and(|f| f & 1 == 1),
                None => admits(&trace_id, basis_points),
            };
            if parent.is_none() {
                flags = if sampled { "01" } else { "00" };
            }
            spans = sampled.then(|| span_ids(&trace_id, parent, upstream_span));
        }
        let request_id = match request_id {
            Some(id) if is_sane_request_id(id) => id.to_string(),
            _ => random_hex_128(),
        };
        RequestIdentity {
            request_id,
            traceparent: traceparent_with_span(&trace_id, upstream_span, flags),
            trace_id,
            spans,
        }
    }
}

/// Whether a trace the proxy starts is kept: its id's low 63 bits below `basis_points` of
/// their range, as OpenTelemetry's `TraceIdRatioBased` sampler decides, so every hop that
/// samples by ratio keeps the same traces.
fn admits(trace_id: &str, basis_points: u16) -> bool {
    let low = u64::from_str_radix(&trace_id[16..], 16).unwrap_or(0) >> 1;
    let bound = (u128::from(basis_points) << 63) / 10_000;
    u128::from(low) < bound
}

/// The ids of a sampled request: the server span is new, the upstream one is the id the
/// upstream sees as its parent.
fn span_ids(trace_id: &str, parent: Option<&str>, upstream: u64) -> SpanIds {
    SpanIds {
        trace_id: u128::from_str_radix(trace_id, 16).unwrap_or(0),
        parent: parent.and_then(|p| u64::from_str_radix(p, 16).ok()),
        server: new_span_id(),
        upstream,
    }
}

/// A `traceparent` for a call made on behalf of the request that sent `traceparent`: the
/// same trace and flags, the call's own `span` (a shadow call is the primary's sibling, not
/// a copy of it). `None` when `traceparent` is not a valid one.
pub fn child_traceparent(traceparent: &str, span: u64) -> Option<String> {
    let (trace_id, _, flags) = parse_traceparent(traceparent)?;
    Some(traceparent_with_span(&trace_id, span, flags))
}

/// A new span id (never 0), for a call the proxy makes on a request's behalf.
pub fn new_span_id() -> u64 {
    next_id() | 1
}

/// `00-<trace_id>-<span>-<flags>`. Written by hand rather than with `format!`: this runs
/// on every request.
fn traceparent_with_span(trace_id: &str, span: u64, flags: &str) -> String {
    let mut header = String::with_capacity(55);
    header.push_str("00-");
    header.push_str(trace_id);
    header.push('-');
    push_hex(&mut header, span);
    header.push('-');
    header.push_str(flags);
    header
}

/// 32 random lowercase hex digits: a new trace id or request id.
fn random_hex_128() -> String {
    let mut hex = String::with_capacity(32);
    push_hex(&mut hex, next_id());
    push_hex(&mut hex, next_id());
    hex
}

/// Appends `value` as 16 lowercase hex digits (`{:016x}`), formed as bytes and appended
/// at once (a `char` at a time cost four times as much).
fn push_hex(out: &mut String, value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = [0u8; 16];
    for (i, digit) in hex.iter_mut().enumerate() {
        *digit = DIGITS[(value >> ((15 - i) * 4)) as usize & 0xf];
    }
    out.push_str(std::str::from_utf8(&hex).unwrap_or_default());
}

/// Parses `00-<32 hex>-<16 hex>-<2 hex>` into the trace id (lowercase), the parent id and
/// the flags; rejects the all-zero ids the spec forbids.
fn parse_traceparent(value: &str) -> Option<(String, &str, &str)> {
    let mut parts = value.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    let valid = version == "00"
        && parts.next().is_none()
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace.bytes().any(|b| b != b'0')
        && parent.bytes().any(|b| b != b'0');
    valid.then(|| (trace.to_ascii_lowercase(), parent, flags))
}

fn is_sane_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

thread_local! {
    static STATE: Cell<u64> = Cell::new(RandomState::new().hash_one(std::thread::current().id()));
}

/// Next value of this thread's splitmix64 sequence.
fn next_id() -> u64 {
    STATE.with(|state| {
        let next = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(next);
        let mut z = next;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_sixteen_lowercase_digits() {
        for value in [0, 1, 0xdead_beef, u64::MAX, 0x0123_4567_89ab_cdef] {
            let mut hex = String::new();
            push_hex(&mut hex, value);
            assert_eq!(hex, format!("{value:016x}"));
        }
    }

    #[test]
    fn valid_traceparent_keeps_the_trace_and_replaces_the_parent() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let id = RequestIdentity::from_headers(None, Some(incoming), None);
        assert_eq!(id.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(id
            .traceparent
            .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(id.traceparent.ends_with("-01"));
        assert!(!id.traceparent.contains("00f067aa0ba902b7"));
    }

    #[test]
    fn malformed_traceparent_starts_a_new_trace() {
        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ] {
            let id = RequestIdentity::from_headers(None, Some(bad), None);
            assert_eq!(id.trace_id.len(), 32);
            assert_ne!(id.trace_id, "00000000000000000000000000000000");
        }
    }

    #[test]
    fn request_id_is_kept_when_sane_and_replaced_otherwise() {
        assert_eq!(
            RequestIdentity::from_headers(Some("abc-1"), None, None).request_id,
            "abc-1"
        );
        let replaced = RequestIdentity::from_headers(Some("has space"), None, None).request_id;
        assert_eq!(replaced.len(), 32);
    }

    #[test]
    fn a_sampled_caller_is_followed_whatever_the_ratio() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let id = RequestIdentity::from_headers(None, Some(incoming), Some(0));
        let spans = id.spans.expect("sampled");
        assert_eq!(spans.parent, Some(0x00f0_67aa_0ba9_02b7));
        assert_eq!(spans.trace_id, 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736);
        assert!(id
            .traceparent
            .ends_with(&format!("-{:016x}-01", spans.upstream)));
        let unsampled = incoming.replace("-01", "-00");
        let id = RequestIdentity::from_headers(None, Some(&unsampled), Some(10_000));
        assert!(id.spans.is_none());
        assert!(id.traceparent.ends_with("-00"));
    }

    #[test]
    fn a_new_trace_is_kept_by_its_id_and_says_so_upstream() {
        assert!(admits("00000000000000000000000000000000", 1));
        assert!(!admits("0000000000000000fffffffffffffffe", 9_999));
        assert!(admits("0000000000000000fffffffffffffffe", 10_000));
        let kept = RequestIdentity::from_headers(None, None, Some(10_000));
        assert!(kept.spans.is_some() && kept.traceparent.ends_with("-01"));
        let dropped = RequestIdentity::from_headers(None, None, Some(0));
        assert!(dropped.spans.is_none() && dropped.traceparent.ends_with("-00"));
    }
}
