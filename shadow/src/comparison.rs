//! One shadowed request as it is stored and reported: who asked what, what both sides
//! answered (status, latency), the verdict, and the differing paths. The proxy builds a
//! [`Comparison`] per shadowed request off the request path and decides its verdict once
//! ([`crate::RouteEvidence::judge`]); the store keeps it; the report counts stored
//! comparisons ([`RouteTally`]), so a report over any window is computed from the same
//! rows and the same verdicts whether it is asked of the admin API or of the CLI. A
//! comparison that carries nothing but its route and verdict (a plain match, a skip) is
//! [`Comparison::countable`]: the store keeps it as a [`Counted`] sum, not a row.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use strangler_flags::shadow_policy::DiffSettings;

use crate::stats::RouteTally;
use crate::{Diff, Difference, ShadowReport, SkipReason};

/// At most this many differing paths are kept per comparison (one per collapsed path):
/// a wholly different 1 MiB document must not become a 1 MiB row.
pub const MAX_STORED_PATHS: usize = 64;

/// How one shadowed request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Both answers are equivalent under the route's policy.
    Match,
    /// At least one path differs that the primary's own second answer did not.
    Mismatch,
    /// Every differing path is noise: it differs between two answers of the same side
    /// about as often as between the sides.
    NoiseOnly,
    /// A difference that would be a mismatch, judged while the route had fewer than
    /// [`crate::MIN_PROBES`] noise probes: too little evidence to tell it from noise.
    Unsettled,
    /// Not compared; the comparison says why.
    Skipped,
    /// The primary side failed (no answer to compare against).
    PrimaryError,
    /// The shadow side failed: refused, timed out, or broke the connection.
    ShadowError,
}

impl Verdict {
    /// Every verdict, for pre-registered metric labels.
    pub const ALL: [Verdict; 7] = [
        Verdict::Match,
        Verdict::Mismatch,
        Verdict::NoiseOnly,
        Verdict::Unsettled,
        Verdict::Skipped,
        Verdict::PrimaryError,
        Verdict::ShadowError,
    ];

    /// The kebab-case name used in metrics (`outcome` label) and the store.
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Match => "match",
            Verdict::Mismatch => "mismatch",
            Verdict::NoiseOnly => "noise-only",
            Verdict::Unsettled => "unsettled",
            Verdict::Skipped => "skipped",
            Verdict::PrimaryError => "primary-error",
            Verdict::ShadowError => "shadow-error",
        }
    }

    /// The verdict named `code`, as [`Verdict::code`] writes it.
    pub fn from_code(code: &str) -> Option<Verdict> {
        Verdict::ALL
            .into_iter()
            .find(|verdict| verdict.code() == code)
    }
}

/// One shadowed request, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The store's id (0 before it is stored).
    pub id: i64,
    /// When the primary answered, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// The route's name.
    pub route: String,
    /// The tenant the proxy resolved, if any.
    pub tenant: Option<String>,
    /// The request method.
    pub method: String,
    /// The request target as sent (path and query).
    pub path: String,
    /// The target the new side received, when the route's `rewrite:` changed it (None:
    /// the same as `path`).
    #[serde(default)]
    pub upstream_path: Option<String>,
    /// The side that served the client: `legacy` or `new`.
    pub primary_side: String,
    /// How it ended.
    pub verdict: Verdict,
    /// Why it was not compared, for [`Verdict::Skipped`].
    pub skip: Option<SkipReason>,
    /// What failed, for the two error verdicts.
    pub error: Option<String>,
    /// The primary's status, if it answered.
    pub primary_status: Option<u16>,
    /// The shadow's status, if it answered.
    pub shadow_status: Option<u16>,
    /// How long the primary took, in milliseconds.
    pub primary_ms: Option<f64>,
    /// How long the shadow took, in milliseconds.
    pub shadow_ms: Option<f64>,
    /// The first difference at each differing collapsed path, at most
    /// [`MAX_STORED_PATHS`], in document order.
    pub differences: Vec<Difference>,
    /// The collapsed paths that differed between two primary answers, when the primary
    /// was asked twice (a noise probe).
    pub noise: Option<BTreeSet<String>>,
    /// The same for two shadow answers, when the route has `noise_both_sides: true`.
    pub shadow_noise: Option<BTreeSet<String>>,
}

impl Comparison {
    /// Keeps the first difference per collapsed path, at most [`MAX_STORED_PATHS`], with
    /// the example values of redacted paths replaced.
    pub fn differences_of(diff: &Diff, settings: &DiffSettings) -> Vec<Difference> {
        let mut seen = BTreeSet::new();
        let mut kept: Vec<Difference> = diff
            .differences
            .iter()
            .filter(|d| seen.insert(d.collapsed.as_str()))
            .take(MAX_STORED_PATHS)
            .cloned()
            .collect();
        for difference in kept.iter_mut().filter(|d| settings.redacts(&d.path)) {
            let example = &mut difference.example;
            for value in [&mut example.primary, &mut example.shadow]
                .into_iter()
                .flatten()
            {
                *value = crate::REDACTED.to_owned();
            }
        }
        kept
    }

    /// Marks the comparison as not made, for `reason`.
    pub fn mark_skipped(&mut self, reason: SkipReason) {
        self.verdict = Verdict::Skipped;
        self.skip = Some(reason);
    }

    /// Marks the comparison as failed on one side (`PrimaryError` or `ShadowError`) with
    /// what went wrong.
    pub fn mark_failed(&mut self, verdict: Verdict, error: String) {
        self.verdict = verdict;
        self.error = Some(error);
    }

    /// The sorted, distinct collapsed paths that differ, joined by `,`; empty for a match.
    pub fn signature(&self) -> String {
        crate::diff::signature(self.differences.iter())
    }

    /// Whether a report needs nothing of this comparison but its route, verdict and skip
    /// reason: a match or a skip with no difference, no noise probe and no error. Most
    /// comparisons of a route that matches are such; the store counts them ([`Counted`])
    /// instead of writing a row each.
    pub fn countable(&self) -> bool {
        matches!(self.verdict, Verdict::Match | Verdict::Skipped)
            && self.differences.is_empty()
            && self.noise.is_none()
            && self.shadow_noise.is_none()
            && self.error.is_none()
    }
}

/// Countable comparisons ([`Comparison::countable`]) of one route, verdict and skip
/// reason, as the store sums them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    /// The route's name.
    pub route: String,
    /// `Match` or `Skipped`.
    pub verdict: Verdict,
    /// Why they were not compared, for [`Verdict::Skipped`].
    pub skip: Option<SkipReason>,
    /// How many.
    pub count: u64,
}

/// The report of `comparisons` and `counted`, one route report per route in name order:
/// their stored verdicts counted, never decided again.
pub fn report<'a>(
    comparisons: impl IntoIterator<Item = &'a Comparison>,
    counted: &[Counted],
) -> ShadowReport {
    let mut routes: BTreeMap<&str, RouteTally> = BTreeMap::new();
    for comparison in comparisons {
        routes
            .entry(comparison.route.as_str())
            .or_insert_with(|| RouteTally::new(comparison.route.as_str()))
            .record(comparison);
    }
    for counted in counted {
        routes
            .entry(counted.route.as_str())
            .or_insert_with(|| RouteTally::new(counted.route.as_str()))
            .count(counted);
    }
    ShadowReport {
        routes: routes.values().map(RouteTally::report).collect(),
    }
}
