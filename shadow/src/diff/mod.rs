//! The diff engine: two captured answers in, typed differences out. The status and the
//! chosen headers are compared first, then the body by its content type: JSON
//! structurally ([`json`], with the array policies of [`arrays`]), `text/*` line by line
//! and anything else by hash ([`text`]). Ignore rules are applied while walking, so an
//! ignored subtree is never visited.

mod arrays;
mod json;
mod marker;
mod text;

pub use marker::MARKER;

use std::collections::BTreeSet;
use std::io;

use serde::{Deserialize, Serialize};
use strangler_flags::shadow_policy::CompiledPolicy;

use crate::body::{self, BodyKind};
use crate::{Captured, SkipReason};

/// Examples keep at most this many characters of each value.
const EXAMPLE_CHARS: usize = 200;

/// What kind of difference was found at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Present in the primary answer, absent from the shadow answer.
    Missing,
    /// Present only in the shadow answer.
    Extra,
    /// Both present with different JSON types (e.g. number and string).
    TypeChanged,
    /// Same type, different value (also status, headers, text lines, binary bodies).
    ValueChanged,
    /// An ordered array has a different number of elements.
    ArrayLength,
    /// An ordered array has the same elements in another order.
    OrderOnly,
}

impl Kind {
    /// The kebab-case name used in reports: `missing`, `value-changed`, ...
    pub fn code(self) -> &'static str {
        match self {
            Kind::Missing => "missing",
            Kind::Extra => "extra",
            Kind::TypeChanged => "type-changed",
            Kind::ValueChanged => "value-changed",
            Kind::ArrayLength => "array-length",
            Kind::OrderOnly => "order-only",
        }
    }

    /// The kind named `code`, as [`Kind::code`] writes it.
    pub fn from_code(code: &str) -> Option<Kind> {
        [
            Kind::Missing,
            Kind::Extra,
            Kind::TypeChanged,
            Kind::ValueChanged,
            Kind::ArrayLength,
            Kind::OrderOnly,
        ]
        .into_iter()
        .find(|kind| kind.code() == code)
    }
}

/// One example of both values at a path, each cut to about 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    /// The primary side's value, absent for [`Kind::Extra`].
    pub primary: Option<String>,
    /// The shadow side's value, absent for [`Kind::Missing`].
    pub shadow: Option<String>,
}

/// One difference between the primary and the shadow answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// Where: a JSON pointer (`/items/3/price`), `status`, `header:NAME`, `line:N` or
    /// `body`.
    pub path: String,
    /// The path with array positions and ID-like keys as `*`, used for counting.
    pub collapsed: String,
    /// What differs.
    pub kind: Kind,
    /// Both values at this path.
    pub example: Example,
    /// Judged noise when its comparison's verdict was decided
    /// ([`crate::RouteEvidence::judge`]); false until then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub noise: bool,
}

/// Everything that differs between two answers; empty when they are equivalent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// The differences, in document order.
    pub differences: Vec<Difference>,
    /// Set when the bodies could not be compared; the status and headers still were.
    pub skipped: Option<SkipReason>,
}

impl Diff {
    /// Whether the answers were fully compared and found equivalent.
    pub fn is_empty(&self) -> bool {
        self.differences.is_empty() && self.skipped.is_none()
    }

    /// The distinct collapsed paths that differ, sorted.
    pub fn collapsed_paths(&self) -> BTreeSet<&str> {
        self.differences
            .iter()
            .map(|d| d.collapsed.as_str())
            .collect()
    }

    /// The sorted, deduplicated collapsed paths joined by `,`: a stable name for this
    /// shape of disagreement, the same for every request that differs the same way.
    pub fn signature(&self) -> String {
        signature(self.differences.iter())
    }
}

/// The sorted, distinct collapsed paths of `differences`, joined by `,`.
pub(crate) fn signature<'a>(differences: impl Iterator<Item = &'a Difference>) -> String {
    let paths: BTreeSet<&str> = differences.map(|d| d.collapsed.as_str()).collect();
    Vec::from_iter(paths).join(",")
}

/// Compares the primary and the shadow answer under `policy`.
pub fn diff(primary: &Captured, shadow: &Captured, policy: &CompiledPolicy) -> Diff {
    let mut differences = Vec::new();
    if primary.status != shadow.status {
        let (a, b) = (primary.status.to_string(), shadow.status.to_string());
        differences.push(Difference::new(
            "status",
            Kind::ValueChanged,
            Some(&a),
            Some(&b),
        ));
    }
    headers(primary, shadow, policy, &mut differences);
    let skipped = bodies(primary, shadow, policy, &mut differences).err();
    Diff {
        differences,
        skipped,
    }
}

/// Compares the headers the policy names and does not ignore.
fn headers(
    primary: &Captured,
    shadow: &Captured,
    policy: &CompiledPolicy,
    out: &mut Vec<Difference>,
) {
    for name in &policy.headers {
        if policy.ignore.ignores_header(name) {
            continue;
        }
        let (a, b) = (primary.header(name), shadow.header(name));
        let kind = match (&a, &b) {
            (Some(_), None) => Kind::Missing,
            (None, Some(_)) => Kind::Extra,
            (Some(a), Some(b)) if a != b => Kind::ValueChanged,
            _ => continue,
        };
        let path = format!("header:{name}");
        out.push(Difference::new(&path, kind, a.as_deref(), b.as_deref()));
    }
}

/// Decodes both bodies and compares them by the primary's content type (the shadow's if
/// the primary has none); a JSON body that does not parse is compared by hash.
fn bodies(
    primary: &Captured,
    shadow: &Captured,
    policy: &CompiledPolicy,
    out: &mut Vec<Difference>,
) -> Result<(), SkipReason> {
    let a = body::decoded(primary, policy.max_body)?;
    let b = body::decoded(shadow, policy.max_body)?;
    if a == b {
        return Ok(());
    }
    let content_type = primary
        .header("content-type")
        .or_else(|| shadow.header("content-type"));
    match BodyKind::of(content_type.as_deref()) {
        BodyKind::Json => match (serde_json::from_slice(&a), serde_json::from_slice(&b)) {
            (Ok(a), Ok(b)) => json::compare(&a, &b, policy, out),
            _ => text::bytes(&a, &b, out),
        },
        BodyKind::Text => text::lines(
            &String::from_utf8_lossy(&a),
            &String::from_utf8_lossy(&b),
            out,
        ),
        BodyKind::Binary => text::bytes(&a, &b, out),
    }
    Ok(())
}

impl Difference {
    /// A difference whose path needs no collapsing (status, headers, lines, body).
    fn new(path: &str, kind: Kind, primary: Option<&str>, shadow: Option<&str>) -> Self {
        Difference {
            path: path.to_owned(),
            collapsed: path.to_owned(),
            kind,
            example: Example {
                primary: primary.map(truncate),
                shadow: shadow.map(truncate),
            },
            noise: false,
        }
    }
}

/// Cuts an example to [`EXAMPLE_CHARS`] characters, marking the cut with `…`.
fn truncate(text: &str) -> String {
    match text.char_indices().nth(EXAMPLE_CHARS) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

/// Serializes a JSON value for an example, stopping early when the value is large.
fn render<T: Serialize + ?Sized>(value: &T) -> String {
    let mut capped = Capped {
        bytes: Vec::new(),
        limit: EXAMPLE_CHARS * 4 + 4,
    };
    // A full buffer makes the serializer stop with an error; what was written is enough.
    let _ = serde_json::to_writer(&mut capped, value);
    truncate(&String::from_utf8_lossy(&capped.bytes))
}

/// A writer that refuses bytes past `limit`, so rendering a huge value costs little.
struct Capped {
    bytes: Vec<u8>,
    limit: usize,
}

impl io::Write for Capped {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.limit - self.bytes.len();
        if room == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        let taken = room.min(data.len());
        self.bytes.extend_from_slice(&data[..taken]);
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
