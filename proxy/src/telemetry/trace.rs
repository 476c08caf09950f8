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
}

impl RequestIdentity {
    /// Builds the identity from the incoming header values.
    pub fn from_headers(request_id: Option<&str>, traceparent: Option<&str>) -> RequestIdentity {
        let (trace_id, flags) = traceparent
            .and_then(parse_traceparent)
            .unwrap_or_else(|| (random_hex_128(), "00"));
        let header = traceparent_with_new_span(&trace_id, flags);
        let request_id = match request_id {
            Some(id) if is_sane_request_id(id) => id.to_string(),
            _ => random_hex_128(),
        };
        RequestIdentity {
            request_id,
            trace_id,
            traceparent: header,
        }
    }
}

/// A `traceparent` for a call made on behalf of the request that sent `traceparent`: the
/// same trace and flags, a span id of its own (a shadow call is the primary's sibling, not
/// a copy of it). `None` when `traceparent` is not a valid one.
pub fn child_traceparent(traceparent: &str) -> Option<String> {
    let (trace_id, flags) = parse_traceparent(traceparent)?;
    Some(traceparent_with_new_span(&trace_id, flags))
}

/// `00-<trace_id>-<a new span id>-<flags>`. Written by hand rather than with `format!`:
/// this runs on every request.
fn traceparent_with_new_span(trace_id: &str, flags: &str) -> String {
    let mut header = String::with_capacity(55);
    header.push_str("00-");
    header.push_str(trace_id);
    header.push('-');
    push_hex(&mut header, next_id() | 1);
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

/// Appends `value` as 16 lowercase hex digits (`{:016x}`).
fn push_hex(out: &mut String, value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..16).rev() {
        out.push(char::from(DIGITS[(value >> (shift * 4)) as usize & 0xf]));
    }
}

/// Parses `00-<32 hex>-<16 hex>-<2 hex>`; rejects the all-zero ids the spec forbids.
fn parse_traceparent(value: &str) -> Option<(String, &str)> {
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
    valid.then(|| (trace.to_ascii_lowercase(), flags))
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
        let id = RequestIdentity::from_headers(None, Some(incoming));
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
            let id = RequestIdentity::from_headers(None, Some(bad));
            assert_eq!(id.trace_id.len(), 32);
            assert_ne!(id.trace_id, "00000000000000000000000000000000");
        }
    }

    #[test]
    fn request_id_is_kept_when_sane_and_replaced_otherwise() {
        assert_eq!(
            RequestIdentity::from_headers(Some("abc-1"), None).request_id,
            "abc-1"
        );
        let replaced = RequestIdentity::from_headers(Some("has space"), None).request_id;
        assert_eq!(replaced.len(), 32);
    }
}
