//! The proxy's own mirror marker never makes a difference. A shadow call carries
//! [`MARKER`] and a noise probe does too, while the client's request did not; a service
//! that echoes request headers would then differ on every comparison. So the diff leaves
//! the marker out of both answers by construction: an object key that names it (in any
//! case, with `-` or `_`, with a CGI `HTTP_` prefix), a `[name, value]` pair in an array
//! of headers, and a `name: value` line of a text body.

use serde_json::Value;

/// The header that tells a backend a request is a mirror (or a noise probe), not a
/// customer's; the proxy sends it, the diff never sees it.
pub const MARKER: &str = "x-strangler-shadow";

/// Whether an object key or a header name names the marker: `X-Strangler-Shadow`,
/// `x_strangler_shadow`, `HTTP_X_STRANGLER_SHADOW`.
pub(crate) fn names_marker(key: &str) -> bool {
    let tail = key
        .len()
        .checked_sub(MARKER.len())
        .and_then(|at| key.get(at..));
    let Some(tail) = tail else {
        return false;
    };
    let same = tail
        .bytes()
        .zip(MARKER.bytes())
        .all(|(k, m)| k.to_ascii_lowercase() == m || (k == b'_' && m == b'-'));
    let prefix = &key[..key.len() - MARKER.len()];
    same && (prefix.is_empty() || prefix.eq_ignore_ascii_case("http_"))
}

/// Whether an array element is a `[name, value]` header pair naming the marker.
pub(crate) fn is_marker_pair(element: &Value) -> bool {
    match element {
        Value::Array(pair) if pair.len() == 2 => pair[0].as_str().is_some_and(names_marker),
        _ => false,
    }
}

/// Whether a text line is the marker header as an echo prints it (`name: value` or
/// `name=value`).
pub(crate) fn is_marker_line(line: &str) -> bool {
    line.trim_start()
        .split_once([':', '='])
        .is_some_and(|(name, _)| names_marker(name.trim()))
}
