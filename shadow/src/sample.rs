//! Full samples: both answers of a comparison kept side by side, so QA can see a
//! difference in context. A sample is what the store keeps of a [`Captured`] answer: the
//! status, the headers and the body as text, with the configured fields redacted
//! (`diffs.redact`, the same pointer syntax as `ignore:`) and the body cut to
//! `diffs.sample_body`. Redaction happens before anything is written.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use strangler_flags::shadow_policy::{DiffSettings, IgnoreRules};

use crate::body;
use crate::Captured;

/// What replaces a redacted value.
pub use strangler_flags::store_url::REDACTED;
/// What replaces a body that has fields to redact but does not parse as JSON.
const NOT_JSON: &str = "[redacted: the body is not JSON, so diffs.redact could not be applied]";

/// A gzip body is decoded for a sample only up to this size (else kept as received).
const MAX_DECODED: usize = 16 << 20;

/// One side of a kept sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleSide {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values, redacted ones replaced.
    pub headers: Vec<(String, String)>,
    /// The decoded body as text (lossy UTF-8), redacted and cut.
    pub body: String,
    /// True when the body was longer than the cut.
    pub truncated: bool,
}

/// The request a kept sample answered, so QA can tell samples apart and ask it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleRequest {
    /// When the primary answered, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// The method.
    pub method: String,
    /// The request target as sent: path and query.
    pub target: String,
    /// The target the new side received, when the route's `rewrite:` changed it.
    #[serde(default)]
    pub upstream_target: Option<String>,
    /// The tenant the proxy resolved, if any.
    pub tenant: Option<String>,
    /// The side that served the client (`legacy` or `new`); the shadow is the other.
    pub primary_side: String,
}

/// Both answers of one comparison, as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    /// The store's id (0 before it is stored).
    pub id: i64,
    /// The comparison this sample belongs to.
    pub comparison: i64,
    /// The route's name.
    pub route: String,
    /// The comparison's signature.
    pub signature: String,
    /// The request; `None` once retention removed its comparison row.
    pub request: Option<SampleRequest>,
    /// The primary's answer.
    pub primary: SampleSide,
    /// The shadow's answer.
    pub shadow: SampleSide,
}

impl SampleSide {
    /// What the store keeps of `captured` under `settings`.
    pub fn of(captured: &Captured, settings: &DiffSettings) -> SampleSide {
        let rules = settings.redact_rules();
        let headers = captured
            .headers
            .iter()
            .map(|(name, value)| match settings.redacts_header(name) {
                true => (name.clone(), REDACTED.to_owned()),
                false => (name.clone(), value.clone()),
            })
            .collect();
        let decoded = body::decoded(captured, MAX_DECODED)
            .map(|bytes| bytes.into_owned())
            .unwrap_or_else(|_| captured.body.to_vec());
        let text = match (rules.has_no_pointers(), redacted_json(&decoded, rules)) {
            (true, _) => String::from_utf8_lossy(&decoded).into_owned(),
            (false, Some(json)) => json,
            // Fields to redact, but no JSON to find them in: keep nothing rather than leak.
            (false, None) => NOT_JSON.to_owned(),
        };
        let (body, truncated) = cut(text, settings.sample_body);
        SampleSide {
            status: captured.status,
            headers,
            body,
            truncated,
        }
    }
}

/// The body as JSON with the redacted pointers replaced, if it is JSON.
fn redacted_json(bytes: &[u8], rules: &IgnoreRules) -> Option<String> {
    let mut value: Value = serde_json::from_slice(bytes).ok()?;
    redact(&mut value, rules, &rules.at_root(), 0);
    serde_json::to_string(&value).ok()
}

/// Replaces every node below `value` that a rule names.
fn redact(value: &mut Value, rules: &IgnoreRules, alive: &[u32], depth: usize) {
    if alive.is_empty() {
        return;
    }
    let children: Vec<(String, &mut Value)> = match value {
        Value::Object(map) => map.iter_mut().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(items) => items
            .iter_mut()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => return,
    };
    for (segment, child) in children {
        match rules.descend(alive, depth, &segment) {
            None => *child = Value::String(REDACTED.to_owned()),
            Some(still) => redact(child, rules, &still, depth + 1),
        }
    }
}

/// `text` cut to at most `limit` bytes, at a character boundary.
fn cut(mut text: String, limit: usize) -> (String, bool) {
    if text.len() <= limit {
        return (text, false);
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    (text, true)
}
