//! Shadow-compare for strangler: the proxy sends a real request to both sides, captures
//! both answers, and this crate turns them into typed differences, cancels the noise, and
//! aggregates each [`Comparison`] into a per-route report. All of it is pure: the mirroring
//! lives in the proxy, and the diff store that keeps comparisons in `strangler-control`,
//! which owns the database.
//!
//! What to compare is the route's policy, which the decision crate owns (its
//! `shadow_policy` module: the `shadow:` and `diffs:` blocks, raw, validated and compiled,
//! with the JSON pointers and ignore rules they are written in): [`diff()`] reads a
//! compiled policy and never parses config.
//!
//! A comparison reads top to bottom: [`diff()`] the primary and shadow [`Captured`]
//! answers, for a sampled few also [`noise_paths`] between two answers of the same side,
//! and let the route's [`RouteEvidence`] decide the [`Comparison`]'s one verdict (which
//! paths clearly exceed their noise under the `diffs:` thresholds). A [`RouteReport`]
//! counts stored comparisons by those verdicts.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod body;
mod captured;
mod comparison;
mod diff;
mod evidence;
mod findings;
mod noise;
mod report;
mod sample;
mod stats;

#[cfg(test)]
mod tests;

pub use body::SkipReason;
pub use captured::Captured;
pub use comparison::{report, Comparison, Counted, Verdict, MAX_STORED_PATHS};
pub use diff::{diff, Diff, Difference, Example, Kind, MARKER};
pub use evidence::{RouteEvidence, MIN_PROBES};
pub use findings::{Finding, FindingExample};
pub use noise::noise_paths;
pub use report::{DifferenceReport, NoiseReport, RouteReport, ShadowReport, SignatureCount};
pub use sample::{Sample, SampleRequest, SampleSide, REDACTED};
