//! When a differing path counts as a real difference rather than noise: the thresholds of
//! the `diffs:` block (`relative_threshold`, `min_share`), applied by the diff engine's
//! per-route report to a path's count and its noise estimate.

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
