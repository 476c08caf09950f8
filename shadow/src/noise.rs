//! Noise cancellation, after Twitter's Diffy: some fields differ between two answers of
//! the *same* side (timestamps, request ids, random tokens). For a sample of requests the
//! proxy asks the primary twice; what differs between those two answers is noise, and a
//! path only counts as a real difference when it differs between primary and shadow
//! clearly more often than its noise explains.

use std::collections::BTreeSet;

use crate::{diff, Captured, CompiledPolicy};

/// The collapsed paths that differ between two answers of the primary to the same request.
pub fn noise_paths(
    primary: &Captured,
    primary_again: &Captured,
    policy: &CompiledPolicy,
) -> BTreeSet<String> {
    diff(primary, primary_again, policy)
        .differences
        .into_iter()
        .map(|difference| difference.collapsed)
        .collect()
}

/// When a path's count is a real difference rather than noise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseThresholds {
    /// The raw count must exceed the noise estimate by this share of itself:
    /// `(raw - noise) / raw > relative_threshold`.
    pub relative_threshold: f64,
    /// The raw count must exceed this share of all comparisons, so a path seen once in
    /// ten thousand requests does not fail a route.
    pub min_share: f64,
}

impl Default for NoiseThresholds {
    /// Diffy's defaults: 20 % above noise, in more than 1 % of comparisons.
    fn default() -> Self {
        NoiseThresholds {
            relative_threshold: 0.20,
            min_share: 0.01,
        }
    }
}

impl NoiseThresholds {
    /// Whether a path that differed `raw` times in `compared` comparisons is a real
    /// difference, given `noise_estimate`: how often noise alone would have made it differ
    /// in those comparisons.
    pub fn is_real_difference(&self, raw: u64, noise_estimate: f64, compared: u64) -> bool {
        let raw_f = raw as f64;
        raw_f > noise_estimate
            && (raw_f - noise_estimate) / raw_f > self.relative_threshold
            && raw_f > self.min_share * compared as f64
    }
}

/// How many of `compared` comparisons noise alone would have made differ at a path that
/// differed in `noise` of `noise_samples` primary-twice samples.
pub(crate) fn noise_estimate(noise: u64, noise_samples: u64, compared: u64) -> f64 {
    if noise_samples == 0 {
        return 0.0;
    }
    noise as f64 / noise_samples as f64 * compared as f64
}
