//! Shadow-compare for strangler: the proxy sends a real request to both sides, captures
//! both answers, and this crate turns them into typed differences, cancels the noise,
//! keeps each [`Comparison`] in the diff [`store`] and aggregates them into a per-route
//! report. Everything but [`store`] is pure; the mirroring itself lives in the proxy.
//!
//! Config goes through three types (see `shared/STYLE.md`): [`ShadowPolicy`] (serde,
//! `deny_unknown_fields`, the `shadow:` block of a route) is validated and compiled into a
//! [`CompiledPolicy`] (ignore rules split into segments, array policies in a map) that
//! [`diff()`] reads.
//!
//! A comparison reads top to bottom: [`diff()`] the primary and shadow [`Captured`]
//! answers, for a sampled few also [`noise_paths`] between two primary answers, feed both
//! to [`RouteStats`], and ask it for a [`RouteReport`] that keeps only the paths whose
//! counts clearly exceed their noise ([`NoiseThresholds`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod body;
mod captured;
mod comparison;
mod diff;
mod error;
mod ignore;
mod noise;
pub mod pointer;
pub mod policy;
mod report;
mod sample;
mod stats;
pub mod store;

#[cfg(test)]
mod tests;

pub use body::SkipReason;
pub use captured::Captured;
pub use comparison::{report, Comparison, Verdict, MAX_STORED_PATHS};
pub use diff::{diff, Diff, Difference, Example, Kind};
pub use error::PolicyError;
pub use noise::{noise_paths, NoiseThresholds};
pub use policy::{
    ArrayPolicy, CompiledPolicy, DiffSettings, Percent, RawDiffSettings, ShadowPolicy,
};
pub use report::{DifferenceReport, NoiseReport, RouteReport, ShadowReport};
pub use sample::{Sample, SampleSide, REDACTED};
pub use stats::RouteStats;
