//! Why a `shadow:` policy was rejected. Every variant names the offending value, so the
//! config can place the message under its route at `file:line:col`.

use thiserror::Error;

/// One invalid value in a [`super::ShadowPolicy`] or [`super::RawDiffSettings`].
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PolicyError {
    /// `sample` or `noise` is not a percentage from 0 to 100 in steps of 0.01.
    #[error("shadow.{field}: {value} is not a percentage from 0 to 100 in 0.01 steps")]
    Percent {
        /// `sample` or `noise`.
        field: &'static str,
        /// The value as written.
        value: f64,
    },
    /// An entry of `methods` is not an HTTP method token.
    #[error("shadow.methods: {value:?} is not an HTTP method (expected e.g. GET or POST)")]
    Method {
        /// The entry as written.
        value: String,
    },
    /// An `ignore` rule is neither a JSON pointer nor `header:NAME`.
    #[error("shadow.ignore: {value:?} is not a JSON pointer or header:NAME rule: {reason}")]
    IgnoreRule {
        /// The rule as written.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An entry of `case_insensitive_keys` is not a JSON pointer below the root.
    #[error("shadow.case_insensitive_keys: {value:?} is not a JSON pointer: {reason}")]
    CaseInsensitiveKeys {
        /// The entry as written.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key of `arrays` is not a JSON pointer.
    #[error("shadow.arrays: {value:?} is not a JSON pointer: {reason}")]
    ArrayPath {
        /// The key as written.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A keyed array policy names an empty key field.
    #[error("shadow.arrays.{path}: the key field must not be empty")]
    ArrayKey {
        /// The array's pointer.
        path: String,
    },
    /// `noise_both_sides: true` on a route that never probes for noise.
    #[error("shadow.noise_both_sides: true needs noise above 0 (noise: 0 asks no side twice)")]
    NoiseBothSides,
    /// `max_body` is not a size.
    #[error(
        "shadow.max_body: {value:?} is not a size of at most 64MiB (e.g. 512B, 64KiB or 1MiB)"
    )]
    Size {
        /// The value as written.
        value: String,
    },
    /// `timeout` is not a duration.
    #[error("shadow.timeout: {value:?} is not a duration above 0 (expected e.g. 250ms, 2s or 1m)")]
    Duration {
        /// The value as written.
        value: String,
    },
    /// `tolerance` is negative or not finite.
    #[error("shadow.tolerance: {value} is not a finite number >= 0")]
    Tolerance {
        /// The value as written.
        value: f64,
    },
    /// An entry of `headers` is not a header name.
    #[error("shadow.headers: {value:?} is not a header name")]
    Header {
        /// The entry as written.
        value: String,
    },
    /// A value of the top-level `diffs:` block is out of range or malformed.
    #[error("diffs.{field}: {value:?} is not valid (see the diffs: reference)")]
    Setting {
        /// The field.
        field: &'static str,
        /// The value as written.
        value: String,
    },
}
