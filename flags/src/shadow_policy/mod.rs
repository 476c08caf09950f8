//! What a shadow comparison is asked to do, as routes.yaml writes it: a route's `shadow:`
//! block and the top-level `diffs:` block, in the three steps of `shared/STYLE.md`. The raw
//! [`ShadowPolicy`] (serde, `deny_unknown_fields`, so a typo fails loudly) is validated and
//! compiled by [`ShadowPolicy::compile`] into the immutable [`CompiledPolicy`] that the
//! proxy and the diff engine (`strangler_shadow::diff`) read; [`RawDiffSettings`] becomes
//! [`DiffSettings`] the same way.
//!
//! It lives in the decision crate, not beside the diff engine, so that compiling routes.yaml
//! needs nothing but this crate: `strangler-shadow` depends on it for these types, never the
//! other way. It owns the language a policy is written in (JSON [`pointer`]s, [`IgnoreRules`],
//! percentages, sizes, durations) and imports nothing from the rest of this crate.
//!
//! ```yaml
//! shadow:
//!   sample: 10              # percent of eligible requests (0.01 steps), default 100
//!   methods: [GET, HEAD]    # the default; a write method must be listed explicitly
//!   ignore: ["/generated_at", "/items/*/etag", "header:date"]
//!   arrays: { "/items": { key: id }, "/tags": unordered }   # default: ordered
//!   noise: 5                # percent of compared requests probed for noise (asked twice)
//!   noise_both_sides: false # a probe asks the shadow twice as well, default false
//!   max_body: 1MiB          # larger bodies are skipped and counted (B, KiB, MiB)
//!   timeout: 2s
//!   tolerance: 0.001        # absolute tolerance for JSON numbers, default exact
//!   headers: [content-type] # compared response headers, default content-type
//!   case_insensitive_keys: ["/headers"]  # objects whose keys compare ignoring case
//! ```

mod array;
mod compiled;
mod error;
mod ignore;
pub mod pointer;
mod settings;
mod thresholds;
mod units;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

pub use array::ArrayPolicy;
pub use compiled::CompiledPolicy;
pub use error::PolicyError;
pub use ignore::IgnoreRules;
pub use settings::{DiffSettings, RawDiffSettings};
pub use thresholds::NoiseThresholds;
pub use units::{Percent, DURATION_PATTERN, PERCENT_PATTERN, SIZE_PATTERN};

/// The `shadow:` block of a route as written; every field is optional and gets the
/// default shown in the module docs when compiled.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadowPolicy {
    /// Percent of eligible requests that are shadowed, in 0.01 steps (default 100).
    #[schemars(range(min = 0, max = 100))]
    pub sample: Option<f64>,
    /// Methods that are shadowed (default `GET`, `HEAD`), so a write is only mirrored to
    /// the new service when someone asked for it.
    pub methods: Option<Vec<String>>,
    /// JSON pointers (with `*` for any one segment) or `header:NAME` that never count as
    /// differences; a pointer also ignores everything below it.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// How the arrays at these pointers are compared (default [`ArrayPolicy::Ordered`]).
    #[serde(default)]
    pub arrays: BTreeMap<String, ArrayPolicy>,
    /// Percent of compared requests that also call the primary a second time, to measure
    /// what differs between two answers of the same side (default 5).
    #[schemars(range(min = 0, max = 100))]
    pub noise: Option<f64>,
    /// Whether a noise probe asks the shadow side twice as well, so the shadow's own
    /// volatility (a cached `Date`, its own ids) counts as noise (default false: a probe
    /// asks the primary only).
    pub noise_both_sides: Option<bool>,
    /// Bodies larger than this (after gzip decoding) are not compared, only counted as
    /// skipped (default `1MiB`).
    #[schemars(pattern(units::SIZE_PATTERN))]
    pub max_body: Option<String>,
    /// How long the shadow side may take to answer (default `2s`).
    #[schemars(pattern(units::DURATION_PATTERN))]
    pub timeout: Option<String>,
    /// Absolute tolerance under which two JSON numbers are equal (default exact).
    pub tolerance: Option<f64>,
    /// Response headers that are compared (default `content-type`).
    pub headers: Option<Vec<String>>,
    /// JSON pointers (with `*`) of objects whose keys, and their descendants' keys, are
    /// compared ignoring ASCII case: a known harmless difference (an echo of request
    /// headers, a framework that lower-cases keys) that should not fill the report.
    #[serde(default)]
    pub case_insensitive_keys: Vec<String>,
}
