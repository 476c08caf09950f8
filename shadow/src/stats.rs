//! Counts for one route, fed one comparison at a time: per collapsed path how often it
//! differed between primary and shadow (raw) and between two primary answers (noise),
//! plus totals and a count per signature, from which [`RouteStats::report`] decides which
//! paths are real differences and which requests matched.
//!
//! Whether a request matched is decided at report time, not when it is recorded: a
//! request matched when none of its paths is a real difference, and which paths are real
//! depends on all the counts. So each distinct set of differing paths (a signature) keeps
//! a count. Signatures are kept as sorted path numbers rather than as the `,`-joined
//! [`crate::Diff::signature`] text, because a JSON key may itself contain a comma.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use strangler_flags::shadow_policy::NoiseThresholds;

use crate::noise::noise_estimate;
use crate::report::{DifferenceReport, NoiseReport, RouteReport};
use crate::{Diff, Example, Kind, SkipReason};

/// Everything counted for one route since it was created.
#[derive(Debug, Clone, Default)]
pub struct RouteStats {
    /// The route's name, as in routes.yaml.
    route: String,
    /// Comparisons whose bodies were compared (not skipped, no error).
    compared: u64,
    /// Comparisons not made, per reason.
    skipped: BTreeMap<SkipReason, u64>,
    /// Shadow calls that failed (timeout, connection error), as told by the proxy.
    errors: u64,
    /// Primary-twice samples taken.
    noise_samples: u64,
    /// Per collapsed path, numbered in order of first sight.
    paths: Vec<PathStats>,
    /// Collapsed path to its number in `paths`.
    numbers: HashMap<String, u32>,
    /// Per signature (sorted path numbers; empty for an equivalent answer), the number of
    /// comparisons that differed in exactly those paths.
    signatures: HashMap<Box<[u32]>, u64>,
}

/// Counts for one collapsed path.
#[derive(Debug, Clone)]
struct PathStats {
    /// The collapsed path.
    path: String,
    /// Comparisons in which it differed between primary and shadow.
    raw: u64,
    /// Primary-twice samples in which it differed.
    noise: u64,
    /// Kind and example of the first primary/shadow difference seen here.
    first: Option<(Kind, Example)>,
}

impl RouteStats {
    /// Empty counts for a route.
    pub fn new(route: impl Into<String>) -> Self {
        RouteStats {
            route: route.into(),
            ..RouteStats::default()
        }
    }

    /// The route these counts are for.
    pub fn route(&self) -> &str {
        &self.route
    }

    /// Counts one primary/shadow comparison; a skipped one only counts as skipped.
    pub fn record(&mut self, diff: &Diff) {
        if let Some(reason) = diff.skipped {
            *self.skipped.entry(reason).or_default() += 1;
            return;
        }
        self.compared += 1;
        let mut signature = Vec::new();
        for difference in &diff.differences {
            let number = self.number(&difference.collapsed);
            let stats = &mut self.paths[number as usize];
            if stats.first.is_none() {
                stats.first = Some((difference.kind, difference.example.clone()));
            }
            if !signature.contains(&number) {
                signature.push(number);
                stats.raw += 1;
            }
        }
        signature.sort_unstable();
        *self.signatures.entry(signature.into()).or_default() += 1;
    }

    /// Counts one primary-twice sample, given its [`crate::noise_paths`]. Record samples
    /// only for requests whose primary/shadow diff was not skipped, as the noise estimate
    /// is scaled to the compared total.
    pub fn record_noise(&mut self, paths: &BTreeSet<String>) {
        self.noise_samples += 1;
        for path in paths {
            let number = self.number(path);
            self.paths[number as usize].noise += 1;
        }
    }

    /// Counts one request that was never compared (too large, streaming, overloaded).
    pub fn record_skip(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// Counts one shadow call that failed before there was anything to compare.
    pub fn record_error(&mut self) {
        self.errors += 1;
    }

    /// The report under `thresholds`: real differences, noise, and how many requests
    /// matched once noise is discounted.
    pub fn report(&self, thresholds: &NoiseThresholds) -> RouteReport {
        let real: Vec<bool> = self
            .paths
            .iter()
            .map(|p| self.is_real(p, thresholds))
            .collect();
        let mismatched: u64 = self
            .signatures
            .iter()
            .filter(|(signature, _)| signature.iter().any(|&number| real[number as usize]))
            .map(|(_, count)| count)
            .sum();
        let matched = self.compared - mismatched;
        let (differences, noise) = self.classify(&real);
        RouteReport {
            route: self.route.clone(),
            compared: self.compared,
            matched,
            mismatched,
            skipped: self.skipped.values().sum(),
            skip_reasons: self.skipped.clone(),
            errors: self.errors,
            match_rate: (self.compared > 0).then(|| matched as f64 / self.compared as f64),
            differences,
            noise,
        }
    }

    /// Whether a path's raw count clearly exceeds its scaled noise.
    fn is_real(&self, path: &PathStats, thresholds: &NoiseThresholds) -> bool {
        let estimate = noise_estimate(path.noise, self.noise_samples, self.compared);
        path.raw > 0 && thresholds.is_real_difference(path.raw, estimate, self.compared)
    }

    /// Splits the paths that differed between primary and shadow into real differences
    /// and noise, each sorted by count (highest first), then path.
    fn classify(&self, real: &[bool]) -> (Vec<DifferenceReport>, Vec<NoiseReport>) {
        let mut differences = Vec::new();
        let mut noise = Vec::new();
        for (stats, real) in self.paths.iter().zip(real) {
            let Some((kind, example)) = &stats.first else {
                continue;
            };
            let (path, count) = (stats.path.clone(), stats.raw);
            match real {
                true => differences.push(DifferenceReport {
                    path,
                    kind: *kind,
                    count,
                    example: example.clone(),
                }),
                false => noise.push(NoiseReport { path, count }),
            }
        }
        differences.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.path.cmp(&b.path)));
        noise.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.path.cmp(&b.path)));
        (differences, noise)
    }

    /// The number of a collapsed path, assigned on first sight.
    fn number(&mut self, path: &str) -> u32 {
        if let Some(number) = self.numbers.get(path) {
            return *number;
        }
        let number = self.paths.len() as u32;
        self.paths.push(PathStats {
            path: path.to_owned(),
            raw: 0,
            noise: 0,
            first: None,
        });
        self.numbers.insert(path.to_owned(), number);
        number
    }
}
