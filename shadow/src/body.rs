//! Getting a captured body ready to compare: undo `content-encoding: gzip` without ever
//! holding more than `max_body` bytes, and tell from the content type whether the body is
//! compared as JSON, as text lines, or as opaque bytes.

use std::borrow::Cow;
use std::io::Read;

use flate2::read::GzDecoder;
use serde::{Deserialize, Serialize};

use crate::Captured;

/// Why a comparison was not made; counted per reason in the route's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// A body, or its gzip-decoded form, is larger than the policy's `max_body`.
    BodyTooLarge,
    /// A body uses a content-encoding other than gzip or identity.
    UnsupportedEncoding,
    /// A body claims gzip but does not decode.
    BadEncoding,
    /// The request body was larger than `max_body`, so it could not be replayed.
    RequestTooLarge,
    /// The primary answer is a stream (`text/event-stream`) that has no end to compare.
    Streaming,
    /// The connection was upgraded (WebSocket): there is no answer to compare.
    Upgraded,
    /// As many shadow calls as allowed were already in flight: dropped, not queued.
    Overloaded,
    /// The primary answered 304 or 206: a conditional or partial answer, not the resource.
    Conditional,
    /// The client went away before the primary's answer was complete.
    ClientAborted,
    /// The new service refused the connection and legacy answered (`fallback:connect`).
    Fallback,
}

impl SkipReason {
    /// Every reason, for parsing and for pre-registered metric labels.
    pub const ALL: [SkipReason; 10] = [
        SkipReason::BodyTooLarge,
        SkipReason::UnsupportedEncoding,
        SkipReason::BadEncoding,
        SkipReason::RequestTooLarge,
        SkipReason::Streaming,
        SkipReason::Upgraded,
        SkipReason::Overloaded,
        SkipReason::Conditional,
        SkipReason::ClientAborted,
        SkipReason::Fallback,
    ];

    /// The kebab-case name used in reports, metrics and the store.
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::BodyTooLarge => "body-too-large",
            SkipReason::UnsupportedEncoding => "unsupported-encoding",
            SkipReason::BadEncoding => "bad-encoding",
            SkipReason::RequestTooLarge => "request-too-large",
            SkipReason::Streaming => "streaming",
            SkipReason::Upgraded => "upgraded",
            SkipReason::Overloaded => "overloaded",
            SkipReason::Conditional => "conditional",
            SkipReason::ClientAborted => "client-aborted",
            SkipReason::Fallback => "fallback",
        }
    }

    /// The reason named `code`, as [`SkipReason::code`] writes it.
    pub fn from_code(code: &str) -> Option<SkipReason> {
        SkipReason::ALL
            .into_iter()
            .find(|reason| reason.code() == code)
    }
}

/// How a body is compared, from its content type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// `application/json` or any `+json` type: structurally.
    Json,
    /// `text/*`: line by line.
    Text,
    /// Anything else: equal bytes or not.
    Binary,
}

impl BodyKind {
    /// The kind for a `content-type` value (parameters such as `charset` are ignored).
    pub(crate) fn of(content_type: Option<&str>) -> BodyKind {
        let media = content_type
            .and_then(|value| value.split(';').next())
            .map(|media| media.trim().to_ascii_lowercase())
            .unwrap_or_default();
        if media == "application/json" || media.ends_with("+json") {
            BodyKind::Json
        } else if media.starts_with("text/") {
            BodyKind::Text
        } else {
            BodyKind::Binary
        }
    }
}

/// The body with its content-encoding undone, if it fits in `max_body` bytes.
pub(crate) fn decoded(captured: &Captured, max_body: usize) -> Result<Cow<'_, [u8]>, SkipReason> {
    if captured.body.len() > max_body {
        return Err(SkipReason::BodyTooLarge);
    }
    let encoding = captured.header("content-encoding").unwrap_or_default();
    match encoding.to_ascii_lowercase().as_str() {
        "" | "identity" => Ok(Cow::Borrowed(&captured.body)),
        "gzip" | "x-gzip" => gunzip(&captured.body, max_body).map(Cow::Owned),
        _ => Err(SkipReason::UnsupportedEncoding),
    }
}

/// Decodes gzip, stopping one byte past `max_body` so a small bomb cannot grow large.
fn gunzip(encoded: &[u8], max_body: usize) -> Result<Vec<u8>, SkipReason> {
    let mut decoded = Vec::new();
    GzDecoder::new(encoded)
        .take(max_body as u64 + 1)
        .read_to_end(&mut decoded)
        .map_err(|_| SkipReason::BadEncoding)?;
    if decoded.len() > max_body {
        return Err(SkipReason::BodyTooLarge);
    }
    Ok(decoded)
}
