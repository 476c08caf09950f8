//! The readiness report's side of the proxy: the flusher that moves the per-route counts
//! of [`crate::telemetry::rollup`] into the store's hourly rollup (every minute and at
//! shutdown, adding to the hour's row so a fleet sums), and the report itself, gathered
//! from the store and routes.yaml and judged by `strangler_control::readiness::assess`
//! ([`report`]), for `GET /admin/readiness`, the console and `strangler report`.
//!
//! May import [`crate::telemetry`] and [`crate::live`] only.

pub mod flusher;
pub mod report;
pub mod text;
