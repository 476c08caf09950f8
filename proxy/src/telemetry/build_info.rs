//! Which build this is: the crate version and the git revision `build.rs` baked in
//! (`unknown` when the source had no git history). `strangler --version`,
//! `GET /admin/version` and the `strangler_build_info` gauge all say it from here, so an
//! operator comparing a fleet's instances reads the same words everywhere.

/// The crate version, `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The short git revision of the source, or `unknown` (see `proxy/build.rs`).
pub const REVISION: &str = env!("STRANGLER_GIT_REVISION");

/// What `strangler --version` prints after the name: `0.1.0 (revision c4d40aa16540)`.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("STRANGLER_GIT_REVISION"),
    ")"
);

/// Publishes `strangler_build_info{version, revision} 1`, the Prometheus convention for
/// joining a build onto other series (`* on(instance) group_left(revision)`).
pub fn record() {
    metrics::gauge!("strangler_build_info", "version" => VERSION, "revision" => REVISION).set(1.0);
}

/// The build as `GET /admin/version` answers it.
pub fn report() -> serde_json::Value {
    serde_json::json!({ "version": VERSION, "revision": REVISION })
}
