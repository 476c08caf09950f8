//! Getting a captured body ready to compare: undo `content-encoding: gzip` without ever
//! holding more than `max_body` bytes, and tell from the content type whether the body is
//! compared as JSON, as text lines, or as opaque bytes.

use std::borrow::Cow;
use std::io::Read;

use flate2::read::GzDecoder;
use serde::Serialize;

use crate::Captured;

/// Why a comparison was not made; counted per reason in the route's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// A body, or its gzip-decoded form, is larger than the policy's `max_body`.
    BodyTooLarge,
    /// A body uses a content-encoding other than gzip or identity.
    UnsupportedEncoding,
    /// A body claims gzip but does not decode.
    BadEncoding,
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
