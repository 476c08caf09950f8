//! What a route's shadow comparison amounts to, as JSON for QA and the admin API:
//! `{"routes":[{"route","compared","matched","mismatched","noise_only","unsettled","skipped",
//! "skip_reasons","errors","outcomes","match_rate","noise_probes","shadow_noise_probes",
//! "differences":[{"path","kind","count","example"}],"findings":[{"kind","path","paths","count",
//! "examples":[{"path","primary","shadow"}]}],"noise":[{"path","count"}]}]}`; example values
//! are JSON values where the path is in a JSON body.
//! These field names are a contract with the report's readers; `outcomes` is keyed by the
//! `outcome` label of `strangler_shadow_total`, and agrees with it.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::findings::Finding;
use crate::{Example, Kind, SkipReason, Verdict};

/// The reports of every shadowed route.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowReport {
    /// One report per route, in the order given.
    pub routes: Vec<RouteReport>,
}

/// One route's comparison results with noise discounted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteReport {
    /// The route's name.
    pub route: String,
    /// Comparisons made (skipped ones and errors excluded).
    pub compared: u64,
    /// Comparisons where no path was a real difference (`match` and `noise-only`).
    pub matched: u64,
    /// Comparisons with at least one real difference.
    pub mismatched: u64,
    /// Of `matched`, those that differed only in noise.
    pub noise_only: u64,
    /// Comparisons that differed before the route had enough noise probes to tell
    /// ([`crate::MIN_PROBES`]).
    pub unsettled: u64,
    /// Comparisons not made.
    pub skipped: u64,
    /// The same, per reason (`body-too-large`, `overloaded`, ...).
    pub skip_reasons: BTreeMap<SkipReason, u64>,
    /// Shadow calls that failed (or had no primary answer to compare with).
    pub errors: u64,
    /// Comparisons per verdict, as `strangler_shadow_total{outcome}` counts them.
    pub outcomes: BTreeMap<Verdict, u64>,
    /// `matched / compared`, absent before the first comparison.
    pub match_rate: Option<f64>,
    /// Comparisons whose request was asked of the primary twice (noise probes).
    pub noise_probes: u64,
    /// Comparisons whose request was asked of the shadow twice (`noise_both_sides`).
    pub shadow_noise_probes: u64,
    /// Paths that differ clearly more often than noise explains, most frequent first.
    pub differences: Vec<DifferenceReport>,
    /// The same differences as a person reads them: a transformation at sibling paths
    /// (keys re-cased or renamed, one type change) as one finding, most frequent first.
    pub findings: Vec<Finding>,
    /// The signatures (sets of differing paths, noise included) of the comparisons that
    /// differed, most frequent first; the proxy lists them with their kept samples.
    #[serde(skip)]
    pub signatures: Vec<SignatureCount>,
    /// Paths that differed, but only ever as noise (or too rarely to tell).
    pub noise: Vec<NoiseReport>,
}

/// How many comparisons differed in exactly one set of paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureCount {
    /// The sorted collapsed paths, joined by `,`.
    pub signature: String,
    /// Comparisons with this signature.
    pub count: u64,
}

/// A collapsed path that is a real difference; in JSON its example values are JSON
/// values, not JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct DifferenceReport {
    /// The collapsed path, e.g. `/items/*/price`.
    pub path: String,
    /// The kind of the first difference seen there.
    pub kind: Kind,
    /// Comparisons in which it differed.
    pub count: u64,
    /// Both values from the first difference seen there.
    pub example: Example,
}

/// A collapsed path whose differences are explained by noise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NoiseReport {
    /// The collapsed path.
    pub path: String,
    /// Comparisons in which it differed between primary and shadow.
    pub count: u64,
}

impl Serialize for DifferenceReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            path: &'a str,
            kind: Kind,
            count: u64,
            example: JsonExample,
        }
        Wire {
            path: &self.path,
            kind: self.kind,
            count: self.count,
            example: JsonExample::of(&self.path, &self.example),
        }
        .serialize(serializer)
    }
}

/// An [`Example`] with its values as JSON: parsed when the path is in a JSON body (a
/// pointer or `body`) and the text parses whole, else the text itself as a string (a
/// header, a text line, a value cut at 200 characters).
#[derive(Debug, Serialize)]
pub(crate) struct JsonExample {
    primary: Option<Value>,
    shadow: Option<Value>,
}

impl JsonExample {
    pub(crate) fn of(path: &str, example: &Example) -> JsonExample {
        let in_json = path.starts_with('/') || path == "body";
        let value = |text: &Option<String>| {
            let text = text.as_deref()?;
            let parsed = in_json.then(|| serde_json::from_str(text).ok()).flatten();
            Some(parsed.unwrap_or_else(|| Value::String(text.to_owned())))
        };
        JsonExample {
            primary: value(&example.primary),
            shadow: value(&example.shadow),
        }
    }
}
