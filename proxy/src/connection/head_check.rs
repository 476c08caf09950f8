//! The first look at every HTTP/1 request head, before Pingora parses it: what the proxy
//! refuses, with which status, and whether the client pipelined another request behind it.
//!
//! Pingora's own parser answers a head it refuses with a bare 400 (`Server: Pingora`, no
//! body) and leaves no trace, whatever the fault: a probing campaign would be invisible, and
//! an over-long target or an unknown transfer coding would get the wrong status. So every
//! head is judged here first, by the rules Pingora applies and a few of its own, and a
//! refused one is answered by [`crate::connection::refused_head`] (status, JSON body,
//! access-log line, `strangler_rejected_requests_total{reason}`). What passes here, Pingora
//! accepts.
//!
//! The rules (RFC 9112): a head must parse (a raw space in the target is refused, not
//! forwarded as `%20`); a target over [`MAX_TARGET`] bytes is 414; a head over the size
//! limit (`limits.max_header`, [`DEFAULT_MAX_HEAD`] when unset) or with more than
//! [`MAX_HEADERS`] fields is 431; an HTTP/1.1 request needs exactly one `Host` (§3.2), and
//! an absolute-form target must name the same authority; `Content-Length` must be digits,
//! its copies equal, one value a field; `Transfer-Encoding` must end in `chunked` (400), name only codings the
//! proxy knows (501), and is refused on HTTP/1.0 (§6.1); `CONNECT` is not proxied (405).

use std::mem::MaybeUninit;

/// The longest request target accepted (414 beyond): twice nginx's and Apache's 8 KiB, so a
/// monolith that sat behind either never sees a target the proxy refuses.
pub const MAX_TARGET: usize = 16 * 1024;
/// The largest request head when `limits.max_header` is not set (431 beyond). nginx's
/// default is 32 KiB (four 8 KiB buffers), HAProxy's 16 KiB.
pub const DEFAULT_MAX_HEAD: usize = 64 * 1024;
/// The most header fields in one head (431 beyond): Pingora's own limit.
pub const MAX_HEADERS: usize = 256;

/// Why a head is refused. Each has its status, its `reason` label and its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadFault {
    /// The request line does not parse (a raw space or a control byte in the target, a
    /// bad method or version).
    RequestLine,
    /// A header field does not parse.
    HeaderField,
    /// The target has bytes a URI cannot hold (`<`, `>`, ...): Pingora's URI parser refuses it.
    Target,
    /// The target is longer than [`MAX_TARGET`].
    TargetTooLong,
    /// The head is larger than the size limit, `limit` bytes.
    HeadTooLarge { limit: usize },
    /// More than [`MAX_HEADERS`] header fields.
    TooManyHeaders,
    /// An HTTP/1.1 request without `Host`.
    MissingHost,
    /// Two `Host` fields.
    RepeatedHost,
    /// An absolute-form target whose authority is not the `Host`, or has user info.
    Authority,
    /// A `Content-Length` that is not digits, or copies that differ.
    ContentLength,
    /// `Transfer-Encoding` not ending in `chunked`, or on an HTTP/1.0 request.
    TransferEncoding,
    /// A transfer coding the proxy does not know.
    UnknownCoding,
    /// `CONNECT`: the proxy does not tunnel.
    Connect,
    /// Plain HTTP sent to a TLS listener ([`crate::connection::tls`]).
    PlainHttpToTls,
}

impl HeadFault {
    /// The status the client gets.
    pub fn status(self) -> u16 {
        match self {
            HeadFault::TargetTooLong => 414,
            HeadFault::HeadTooLarge { .. } | HeadFault::TooManyHeaders => 431,
            HeadFault::UnknownCoding => 501,
            HeadFault::Connect => 405,
            _ => 400,
        }
    }

    /// The `reason` label of `strangler_rejected_requests_total` and the access log's reason.
    pub fn code(self) -> &'static str {
        match self {
            HeadFault::RequestLine => "malformed-request-line",
            HeadFault::HeaderField => "malformed-header",
            HeadFault::Target => "malformed-target",
            HeadFault::TargetTooLong => "target-too-long",
            HeadFault::HeadTooLarge { .. } => "header-too-large",
            HeadFault::TooManyHeaders => "too-many-headers",
            HeadFault::MissingHost => "missing-host",
            HeadFault::RepeatedHost => "repeated-host",
            HeadFault::Authority => "invalid-authority",
            HeadFault::ContentLength => "invalid-content-length",
            HeadFault::TransferEncoding => "invalid-transfer-encoding",
            HeadFault::UnknownCoding => "unknown-transfer-coding",
            HeadFault::Connect => "connect-not-allowed",
            HeadFault::PlainHttpToTls => "plain-http-to-tls",
        }
    }

    /// What the JSON body's `error` says.
    pub fn message(self) -> std::borrow::Cow<'static, str> {
        let text = match self {
            HeadFault::RequestLine => {
                "the request line is not valid HTTP/1 (a space or control character in the target?)"
            }
            HeadFault::HeaderField => "a header field is not valid HTTP/1",
            HeadFault::Target => {
                "the request target has characters a URI cannot hold: percent-encode them"
            }
            HeadFault::TargetTooLong => "the request target is longer than 16384 bytes",
            HeadFault::HeadTooLarge { limit } => {
                // The words of `limits.max_header`'s own refusal (request::refusal).
                return format!("the request head is larger than {limit} bytes").into();
            }
            HeadFault::TooManyHeaders => "the request has more than 256 header fields",
            HeadFault::MissingHost => "an HTTP/1.1 request needs a Host header",
            HeadFault::RepeatedHost => "the Host header is repeated",
            HeadFault::Authority => "the request target's authority does not match the Host header",
            HeadFault::ContentLength => "the Content-Length header is invalid or its copies differ",
            HeadFault::TransferEncoding => {
                "the Transfer-Encoding header must end in chunked, and only on HTTP/1.1"
            }
            HeadFault::UnknownCoding => {
                "the request uses a transfer coding the proxy does not implement"
            }
            HeadFault::Connect => "the proxy does not tunnel CONNECT requests",
            HeadFault::PlainHttpToTls => "this port speaks HTTPS: send the request over TLS",
        };
        text.into()
    }
}

/// What the bytes read so far say about the request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// Not all of it has arrived; nothing is wrong yet.
    Incomplete,
    /// The head is whole and Pingora may parse it. `pipelined`: bytes of another request
    /// follow a request that has no body.
    Sound { pipelined: bool },
    /// Refused.
    Refused(HeadFault),
}

/// The request line and fields of a parsed head, as the checks read them.
struct Parsed<'b> {
    method: &'b str,
    target: &'b str,
    http11: bool,
    headers: &'b [httparse::Header<'b>],
    len: usize,
}

/// Judges the head at the start of `bytes`; `max_head` is the size limit.
pub fn check(bytes: &[u8], max_head: usize) -> Head {
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let parsed = match request.parse_with_uninit_headers(bytes, &mut fields) {
        Ok(httparse::Status::Complete(len)) => Parsed {
            method: request.method.unwrap_or_default(),
            target: request.path.unwrap_or_default(),
            http11: request.version == Some(1),
            headers: request.headers,
            len,
        },
        Ok(httparse::Status::Partial) => return incomplete(bytes, max_head),
        Err(error) => return Head::Refused(parse_fault(error, bytes)),
    };
    match judge(&parsed, max_head) {
        Some(fault) => Head::Refused(fault),
        None => Head::Sound {
            pipelined: bytes.len() > parsed.len && !has_body(parsed.headers),
        },
    }
}

/// A head not yet whole: refused already when it is too large to ever be accepted.
fn incomplete(bytes: &[u8], max_head: usize) -> Head {
    let line_ended = bytes.contains(&b'\n');
    if !line_ended && bytes.len() > MAX_TARGET + 32 {
        return Head::Refused(HeadFault::TargetTooLong);
    }
    if bytes.len() > max_head {
        return Head::Refused(HeadFault::HeadTooLarge { limit: max_head });
    }
    Head::Incomplete
}

/// The fault of a head httparse refused.
fn parse_fault(error: httparse::Error, bytes: &[u8]) -> HeadFault {
    let line_end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    match error {
        httparse::Error::TooManyHeaders => HeadFault::TooManyHeaders,
        httparse::Error::HeaderName | httparse::Error::HeaderValue => HeadFault::HeaderField,
        // A field line that fails on its line ending; the request line's own ending is
        // a request-line fault.
        httparse::Error::NewLine if bytes[..line_end].contains(&b' ') => HeadFault::HeaderField,
        _ if line_end > MAX_TARGET + 32 => HeadFault::TargetTooLong,
        _ => HeadFault::RequestLine,
    }
}

/// The first rule a whole head breaks, if any.
fn judge(head: &Parsed<'_>, max_head: usize) -> Option<HeadFault> {
    if head.target.len() > MAX_TARGET {
        return Some(HeadFault::TargetTooLong);
    }
    if head.len > max_head {
        return Some(HeadFault::HeadTooLarge { limit: max_head });
    }
    if head.method == "CONNECT" {
        return Some(HeadFault::Connect);
    }
    if !target_parses(head.target) {
        return Some(HeadFault::Target);
    }
    host_fault(head)
        .or_else(|| content_length_fault(head.headers))
        .or_else(|| transfer_encoding_fault(head))
}

/// Whether Pingora can store the target's path and query: it parses them with the `http`
/// crate, which refuses bytes httparse lets through (`<`, `>`, `"` in a query, ...). The
/// usual target has only bytes every URI holds and is not parsed twice.
fn target_parses(target: &str) -> bool {
    let target = target.split('#').next().unwrap_or_default();
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~/?&=%+:@!$'()*,;".contains(&b);
    if target.bytes().all(plain) {
        return true;
    }
    let path_and_query = match absolute_authority(target) {
        Some(authority) => {
            let start = target.find(authority).unwrap_or(0) + authority.len();
            &target[start..]
        }
        None if target.starts_with(['/', '?']) => target,
        // Any other form is the decision's to refuse, with its own message.
        None => return true,
    };
    path_and_query.is_empty() || http::uri::PathAndQuery::try_from(path_and_query).is_ok()
}

/// `Host`: exactly one on HTTP/1.1 (at most one on 1.0), and an absolute-form target's
/// authority equal to it.
fn host_fault(head: &Parsed<'_>) -> Option<HeadFault> {
    let mut hosts = values(head.headers, "host");
    let host = hosts.next();
    if hosts.next().is_some() {
        return Some(HeadFault::RepeatedHost);
    }
    if host.is_none() && head.http11 {
        return Some(HeadFault::MissingHost);
    }
    let authority = absolute_authority(head.target)?;
    let mismatched = host.is_some_and(|host| host != authority.as_bytes());
    let userinfo = authority.contains('@') || host.is_some_and(|h| h.contains(&b'@'));
    (mismatched || userinfo || authority.is_empty()).then_some(HeadFault::Authority)
}

/// The authority of an `http://` or `https://` absolute-form target; `None` for any other
/// target (left to the decision, which refuses what it will not route).
fn absolute_authority(target: &str) -> Option<&str> {
    let scheme_end = target.find("://")?;
    let scheme = &target[..scheme_end];
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let rest = &target[scheme_end + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Every `Content-Length` field is digits and all are equal. A comma list in one field
/// (`5, 5`) is refused, as Pingora refuses it (RFC 9110 §8.6 allows either).
fn content_length_fault(headers: &[httparse::Header<'_>]) -> Option<HeadFault> {
    let mut first: Option<&[u8]> = None;
    for value in values(headers, "content-length") {
        let item = value.trim_ascii();
        let digits = !item.is_empty() && item.iter().all(u8::is_ascii_digit);
        if !digits || first.is_some_and(|first| first != item) {
            return Some(HeadFault::ContentLength);
        }
        first = Some(item);
    }
    None
}

/// The transfer codings a request may use (RFC 9112 §7): anything else is 501.
const KNOWN_CODINGS: [&[u8]; 5] = [b"chunked", b"gzip", b"x-gzip", b"deflate", b"compress"];

/// `Transfer-Encoding`: known codings only, `chunked` last and once, never on HTTP/1.0.
fn transfer_encoding_fault(head: &Parsed<'_>) -> Option<HeadFault> {
    let mut codings = values(head.headers, "transfer-encoding")
        .flat_map(|value| value.split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|coding| !coding.is_empty())
        .peekable();
    codings.peek()?;
    if !head.http11 {
        return Some(HeadFault::TransferEncoding);
    }
    let mut chunked_seen = false;
    for coding in codings {
        // A coding may carry parameters (`gzip;q=1` is not a thing, but `x;a=b` is syntax).
        let name = coding.split(|&b| b == b';').next().unwrap_or_default();
        if !KNOWN_CODINGS
            .iter()
            .any(|k| k.eq_ignore_ascii_case(name.trim_ascii()))
        {
            return Some(HeadFault::UnknownCoding);
        }
        if chunked_seen {
            return Some(HeadFault::TransferEncoding);
        }
        chunked_seen = name.trim_ascii().eq_ignore_ascii_case(b"chunked");
    }
    (!chunked_seen).then_some(HeadFault::TransferEncoding)
}

/// Whether the request has a body: a `Transfer-Encoding`, or a `Content-Length` that is
/// not zero.
fn has_body(headers: &[httparse::Header<'_>]) -> bool {
    values(headers, "transfer-encoding").next().is_some()
        || values(headers, "content-length")
            .any(|v| v.iter().any(|&b| b.is_ascii_digit() && b != b'0'))
}

/// The values of the fields named `name` (lower case).
fn values<'h, 'b>(
    headers: &'h [httparse::Header<'b>],
    name: &'static str,
) -> impl Iterator<Item = &'b [u8]> + 'h {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

#[cfg(test)]
mod tests;
