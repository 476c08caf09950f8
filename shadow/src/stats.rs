//! A route's stored comparisons counted into its report. Nothing is decided here: each
//! comparison carries the verdict and the per-path noise flags the proxy decided once
//! ([`crate::RouteEvidence::judge`]), and the report adds them up, so its counts are the
//! metric's and the store's.

use std::collections::{BTreeMap, HashMap};

use crate::report::{DifferenceReport, NoiseReport, RouteReport, SignatureCount};
use crate::{Comparison, Example, Kind, SkipReason, Verdict};

/// The counts of one route's comparisons.
#[derive(Debug, Clone, Default)]
pub(crate) struct RouteTally {
    /// The route's name, as in routes.yaml.
    route: String,
    /// Comparisons per verdict.
    outcomes: BTreeMap<Verdict, u64>,
    /// Comparisons not made, per reason.
    skipped: BTreeMap<SkipReason, u64>,
    /// Comparisons with a noise probe of the primary, and of the shadow.
    probes: (u64, u64),
    /// Per collapsed path, in order of first sight.
    paths: Vec<PathTally>,
    /// Collapsed path to its place in `paths`.
    numbers: HashMap<String, usize>,
    /// Comparisons per signature, for those that differed.
    signatures: HashMap<String, u64>,
}

/// Counts for one collapsed path.
#[derive(Debug, Clone)]
struct PathTally {
    /// The collapsed path.
    path: String,
    /// Comparisons in which it was a real difference.
    real: u64,
    /// Comparisons in which it differed and was judged noise.
    noise: u64,
    /// Kind and example of the first real difference seen here.
    first: Option<(Kind, Example)>,
}

impl RouteTally {
    /// Empty counts for a route.
    pub(crate) fn new(route: &str) -> Self {
        RouteTally {
            route: route.to_owned(),
            ..RouteTally::default()
        }
    }

    /// Adds comparisons the store counted rather than kept ([`crate::Counted`]).
    pub(crate) fn count(&mut self, counted: &crate::Counted) {
        *self.outcomes.entry(counted.verdict).or_default() += counted.count;
        if counted.verdict == Verdict::Skipped {
            let reason = counted.skip.unwrap_or(SkipReason::Overloaded);
            *self.skipped.entry(reason).or_default() += counted.count;
        }
    }

    /// Counts one stored comparison under its verdict.
    pub(crate) fn record(&mut self, comparison: &Comparison) {
        *self.outcomes.entry(comparison.verdict).or_default() += 1;
        if comparison.verdict == Verdict::Skipped {
            let reason = comparison.skip.unwrap_or(SkipReason::Overloaded);
            *self.skipped.entry(reason).or_default() += 1;
        }
        self.probes.0 += u64::from(comparison.noise.is_some());
        self.probes.1 += u64::from(comparison.shadow_noise.is_some());
        if !comparison.differences.is_empty() && comparison.verdict != Verdict::Skipped {
            *self.signatures.entry(comparison.signature()).or_default() += 1;
        }
        let judged_real = matches!(comparison.verdict, Verdict::Mismatch | Verdict::Unsettled);
        for difference in &comparison.differences {
            let tally = self.path(&difference.collapsed);
            match judged_real && !difference.noise {
                true => {
                    tally.real += 1;
                    tally
                        .first
                        .get_or_insert_with(|| (difference.kind, difference.example.clone()));
                }
                false => tally.noise += 1,
            }
        }
    }

    /// The report: the counts per verdict, the real differences and the noise.
    pub(crate) fn report(&self) -> RouteReport {
        let count = |verdict| self.outcomes.get(&verdict).copied().unwrap_or(0);
        let noise_only = count(Verdict::NoiseOnly);
        let matched = count(Verdict::Match) + noise_only;
        let (mismatched, unsettled) = (count(Verdict::Mismatch), count(Verdict::Unsettled));
        let compared = matched + mismatched + unsettled;
        let (differences, noise) = self.classify();
        let mut signatures: Vec<SignatureCount> = self
            .signatures
            .iter()
            .map(|(signature, count)| SignatureCount {
                signature: signature.clone(),
                count: *count,
            })
            .collect();
        signatures.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.signature.cmp(&b.signature))
        });
        RouteReport {
            route: self.route.clone(),
            compared,
            matched,
            mismatched,
            noise_only,
            unsettled,
            skipped: count(Verdict::Skipped),
            skip_reasons: self.skipped.clone(),
            errors: count(Verdict::PrimaryError) + count(Verdict::ShadowError),
            outcomes: self.outcomes.clone(),
            match_rate: (compared > 0).then(|| matched as f64 / compared as f64),
            noise_probes: self.probes.0,
            shadow_noise_probes: self.probes.1,
            findings: crate::findings::findings(&differences),
            differences,
            signatures,
            noise,
        }
    }

    /// The paths that were real differences, and those that were only ever noise, each
    /// sorted by count (highest first), then path.
    fn classify(&self) -> (Vec<DifferenceReport>, Vec<NoiseReport>) {
        let mut differences = Vec::new();
        let mut noise = Vec::new();
        for tally in &self.paths {
            let path = tally.path.clone();
            match &tally.first {
                Some((kind, example)) => differences.push(DifferenceReport {
                    path,
                    kind: *kind,
                    count: tally.real,
                    example: example.clone(),
                }),
                None => noise.push(NoiseReport {
                    path,
                    count: tally.noise,
                }),
            }
        }
        differences.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.path.cmp(&b.path)));
        noise.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.path.cmp(&b.path)));
        (differences, noise)
    }

    /// The tally of a collapsed path, created on first sight.
    fn path(&mut self, path: &str) -> &mut PathTally {
        let number = *self.numbers.entry(path.to_owned()).or_insert_with(|| {
            self.paths.push(PathTally {
                path: path.to_owned(),
                real: 0,
                noise: 0,
                first: None,
            });
            self.paths.len() - 1
        });
        &mut self.paths[number]
    }
}
