//! The one verdict of a comparison, decided once, with the noise evidence its route has
//! gathered so far. A proxy keeps a [`RouteEvidence`] per route on its shadow runtime:
//! how many comparisons it made, how many noise probes (the same request asked of a side
//! twice) and, per collapsed path, how often it differed between the sides and between
//! the probes. [`RouteEvidence::judge`] records a comparison and decides, under the
//! `diffs:` thresholds, which of its paths are noise and what its verdict is; the verdict
//! and those flags are stored with the comparison and counted in the metric, and the
//! report only counts them, so the metric, the store and the report never disagree.
//!
//! A verdict that rests on too little is said to: while a route that probes for noise has
//! fewer than [`MIN_PROBES`] probes, a comparison that would be a mismatch is
//! [`Verdict::Unsettled`] (it is never revised: a counter cannot take a count back).
//! Probing adapts ([`RouteEvidence::wants_probe`]): every request until the route has
//! [`MIN_PROBES`] probes and the first request of every new difference signature is
//! probed, then the route's `noise:` share.

use std::collections::{BTreeSet, HashMap, HashSet};

use strangler_flags::shadow_policy::NoiseThresholds;

use crate::noise::noise_estimate;
use crate::{Comparison, Verdict};

/// Noise probes a route needs before a difference counts as a mismatch, and below which
/// the report says its noise estimate rests on too few.
pub const MIN_PROBES: u64 = 10;
/// Paths tracked per route; a path past this has no noise evidence (counts as real).
const MAX_PATHS: usize = 4_096;
/// Signatures remembered per route before the memory starts again.
const MAX_SIGNATURES: usize = 10_000;

/// The noise evidence of one route, gathered by one proxy since it started.
#[derive(Debug, Default)]
pub struct RouteEvidence {
    /// Comparisons judged (bodies compared).
    compared: u64,
    /// Of those, the ones with a noise probe.
    probes: u64,
    /// Per collapsed path, how often it differed.
    paths: HashMap<String, PathCounts>,
    /// The signatures seen, so a new one is probed.
    signatures: HashSet<String>,
}

/// How often one collapsed path differed.
#[derive(Debug, Default, Clone, Copy)]
struct PathCounts {
    /// Between primary and shadow.
    raw: u64,
    /// Between the two answers of a probe (either side's).
    noise: u64,
}

impl RouteEvidence {
    /// The noise probes gathered.
    pub fn probes(&self) -> u64 {
        self.probes
    }

    /// Whether a comparison with this signature should be probed whatever the route's
    /// `noise:` share says: the route has fewer than [`MIN_PROBES`] probes, or the
    /// signature is new.
    pub fn wants_probe(&self, signature: &str) -> bool {
        self.probes < MIN_PROBES || !self.signatures.contains(signature)
    }

    /// Records `comparison` (its differences and any probe) and decides its verdict:
    /// each difference is flagged `noise` unless its count clearly exceeds its noise
    /// under `thresholds`; no difference is a match, only noise is noise-only, a real
    /// one is a mismatch, or unsettled while a route that `probing` has fewer than
    /// [`MIN_PROBES`] probes. A route that does not probe (`noise: 0`) judges every
    /// difference real.
    pub fn judge(
        &mut self,
        comparison: &mut Comparison,
        probing: bool,
        thresholds: &NoiseThresholds,
    ) {
        self.record(comparison);
        let mut real = false;
        for difference in &mut comparison.differences {
            difference.noise = !self.is_real(&difference.collapsed, thresholds);
            real |= !difference.noise;
        }
        comparison.verdict = match (comparison.differences.is_empty(), real) {
            (true, _) => Verdict::Match,
            (false, false) => Verdict::NoiseOnly,
            (false, true) if probing && self.probes < MIN_PROBES => Verdict::Unsettled,
            (false, true) => Verdict::Mismatch,
        };
    }

    /// Counts the comparison's paths and its probe, and remembers its signature.
    fn record(&mut self, comparison: &Comparison) {
        self.compared += 1;
        let differing: BTreeSet<&str> = comparison
            .differences
            .iter()
            .map(|d| d.collapsed.as_str())
            .collect();
        for path in differing {
            if let Some(counts) = self.counts(path) {
                counts.raw += 1;
            }
        }
        let probed = [&comparison.noise, &comparison.shadow_noise];
        if probed.iter().any(|side| side.is_some()) {
            self.probes += 1;
            let noisy: BTreeSet<&String> = probed.into_iter().flatten().flatten().collect();
            for path in noisy {
                if let Some(counts) = self.counts(path) {
                    counts.noise += 1;
                }
            }
        }
        if self.signatures.len() >= MAX_SIGNATURES {
            self.signatures.clear();
        }
        self.signatures.insert(comparison.signature());
    }

    /// The counts of `path`, created on first sight while there is room.
    fn counts(&mut self, path: &str) -> Option<&mut PathCounts> {
        if !self.paths.contains_key(path) && self.paths.len() >= MAX_PATHS {
            return None;
        }
        Some(self.paths.entry(path.to_owned()).or_default())
    }

    /// Whether `path` differs clearly more often than its noise explains.
    fn is_real(&self, path: &str, thresholds: &NoiseThresholds) -> bool {
        let Some(counts) = self.paths.get(path) else {
            return true;
        };
        let estimate = noise_estimate(counts.noise, self.probes, self.compared);
        thresholds.is_real_difference(counts.raw, estimate, self.compared)
    }
}
