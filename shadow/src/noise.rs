//! Noise cancellation, after Twitter's Diffy: some fields differ between two answers of
//! the *same* side (timestamps, request ids, random tokens). For some requests (noise
//! probes) the proxy asks the primary twice, and with `noise_both_sides` the shadow too;
//! what differs between two answers of one side is noise, and a path only counts as a real
//! difference when it differs between primary and shadow clearly more often than its
//! noise explains ([`crate::RouteEvidence`]).

use std::collections::BTreeSet;

use strangler_flags::shadow_policy::CompiledPolicy;

use crate::{diff, Captured};

/// The collapsed paths that differ between two answers of one side to the same request.
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

/// How many of `compared` comparisons noise alone would have made differ at a path that
/// differed in `noise` of `noise_samples` primary-twice samples.
pub(crate) fn noise_estimate(noise: u64, noise_samples: u64, compared: u64) -> f64 {
    if noise_samples == 0 {
        return 0.0;
    }
    noise as f64 / noise_samples as f64 * compared as f64
}
