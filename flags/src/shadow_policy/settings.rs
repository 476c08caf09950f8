//! The top-level `diffs:` block of routes.yaml: how many shadow calls may be in flight,
//! what the store keeps (samples per signature, their size, redacted fields, retention)
//! and when a path counts as a real difference. Raw ([`RawDiffSettings`]) then compiled
//! ([`DiffSettings`]), like a route's [`super::ShadowPolicy`].
//!
//! ```yaml
//! diffs:
//!   in_flight: 256              # shadow calls at once; beyond: dropped and counted
//!   samples_per_signature: 5    # full bodies kept per route and signature
//!   sample_body: 64KiB          # each kept body cut to this
//!   redact: ["/card/number", "header:authorization"]   # replaced in kept samples
//!   max_age: 7d                 # comparisons older than this are deleted
//!   max_rows: 100000            # and only the newest this many are kept
//!   relative_threshold: 20      # percent a path's count must exceed its noise by
//!   min_share: 1                # percent of comparisons a path must differ in
//! ```

use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{units, IgnoreRules, NoiseThresholds, PolicyError};

/// The most shadow calls in flight a proxy allows (each holds copies of both answers).
const MAX_IN_FLIGHT: usize = 10_000;

/// The `diffs:` block as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDiffSettings {
    /// Shadow calls in flight at once, per proxy (default 256: at the load harness's
    /// saturation 64 left 10 to 16 % of sampled requests uncompared, 256 under 1 %).
    pub in_flight: Option<usize>,
    /// Full samples kept per route and signature (default 5).
    pub samples_per_signature: Option<u32>,
    /// Kept sample bodies are cut to this size (default `64KiB`).
    #[schemars(pattern(units::SIZE_PATTERN))]
    pub sample_body: Option<String>,
    /// JSON pointers (with `*`) or `header:NAME` whose values are replaced by
    /// `"[redacted]"` in kept samples.
    #[serde(default)]
    pub redact: Vec<String>,
    /// Comparisons older than this are deleted (default `7d`).
    #[schemars(pattern(units::DURATION_PATTERN))]
    pub max_age: Option<String>,
    /// Only the newest this many comparisons are kept (default 100,000).
    pub max_rows: Option<u64>,
    /// Percent by which a path's count must exceed its noise estimate (default 20).
    pub relative_threshold: Option<f64>,
    /// Percent of all comparisons a path must differ in to be reported (default 1).
    #[schemars(range(min = 0, max = 100))]
    pub min_share: Option<f64>,
}

/// The validated `diffs:` block.
#[derive(Debug, Clone)]
pub struct DiffSettings {
    /// Shadow calls in flight at once.
    pub in_flight: usize,
    /// Full samples kept per route and signature.
    pub samples_per_signature: u32,
    /// Kept sample bodies are cut to this many bytes.
    pub sample_body: usize,
    /// What is replaced in kept samples.
    pub(crate) redact: IgnoreRules,
    /// Comparisons older than this are deleted.
    pub max_age: Duration,
    /// Only the newest this many comparisons are kept.
    pub max_rows: u64,
    /// When a path is a real difference.
    pub thresholds: NoiseThresholds,
}

impl Default for DiffSettings {
    fn default() -> Self {
        DiffSettings {
            in_flight: 256,
            samples_per_signature: 5,
            sample_body: 64 << 10,
            redact: IgnoreRules::default(),
            max_age: Duration::from_secs(7 * 86_400),
            max_rows: 100_000,
            thresholds: NoiseThresholds::default(),
        }
    }
}

/// Headers whose values are never kept, whatever `redact` says: credentials and sessions.
const ALWAYS_REDACTED: [&str; 4] = [
    "authorization",
    "cookie",
    "proxy-authorization",
    "set-cookie",
];

impl DiffSettings {
    /// Whether the value at a difference's path (`/card/number`, `header:authorization`)
    /// is redacted before it is stored or reported.
    pub fn redacts(&self, path: &str) -> bool {
        match path.strip_prefix("header:") {
            Some(name) => self.redacts_header(name),
            None => self.redact.matches_pointer(path),
        }
    }

    /// Whether a header's value (lowercase name) is redacted in kept samples.
    pub fn redacts_header(&self, name: &str) -> bool {
        ALWAYS_REDACTED.contains(&name) || self.redact.ignores_header(name)
    }

    /// The redaction rules, for kept samples.
    pub fn redact_rules(&self) -> &IgnoreRules {
        &self.redact
    }
}

impl RawDiffSettings {
    /// Validates every field; the error names the first bad value.
    pub fn compile(&self) -> Result<DiffSettings, PolicyError> {
        let defaults = DiffSettings::default();
        let setting = |field: &'static str, value: String| PolicyError::Setting { field, value };
        let in_flight = match self.in_flight {
            Some(n) if n == 0 || n > MAX_IN_FLIGHT => {
                return Err(setting("in_flight", n.to_string()));
            }
            other => other.unwrap_or(defaults.in_flight),
        };
        if self.max_rows == Some(0) {
            return Err(setting("max_rows", "0".into()));
        }
        let size =
            |text: &String| units::size(text).ok_or_else(|| setting("sample_body", text.clone()));
        let age =
            |text: &String| units::duration(text).ok_or_else(|| setting("max_age", text.clone()));
        Ok(DiffSettings {
            in_flight,
            samples_per_signature: self
                .samples_per_signature
                .unwrap_or(defaults.samples_per_signature),
            sample_body: self
                .sample_body
                .as_ref()
                .map_or(Ok(defaults.sample_body), size)?,
            redact: IgnoreRules::compile(&self.redact)?,
            max_age: self.max_age.as_ref().map_or(Ok(defaults.max_age), age)?,
            max_rows: self.max_rows.unwrap_or(defaults.max_rows),
            thresholds: NoiseThresholds {
                relative_threshold: share("relative_threshold", self.relative_threshold, 0.20)?,
                min_share: share("min_share", self.min_share, 0.01)?,
            },
        })
    }
}

/// A percentage setting as a fraction of one.
fn share(field: &'static str, value: Option<f64>, default: f64) -> Result<f64, PolicyError> {
    match value {
        None => Ok(default),
        Some(value) if (0.0..=100.0).contains(&value) => Ok(value / 100.0),
        Some(value) => Err(PolicyError::Setting {
            field,
            value: value.to_string(),
        }),
    }
}
