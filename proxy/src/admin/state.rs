//! What the admin handlers share: one [`AdminState`], cloned into each handler by axum.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::admin::tokens::AdminToken;
use crate::live::config::LiveConfig;
use crate::request::rate_limit::RateLimiter;

/// What the admin handlers share.
#[derive(Clone)]
pub struct AdminState {
    /// The configuration to show and reload.
    pub live: Arc<LiveConfig>,
    /// The tenants' rate buckets, counted in `/admin/config`.
    pub rate_limiter: Arc<RateLimiter>,
    /// False until the proxy listener accepts, and again while draining on shutdown.
    pub ready: Arc<AtomicBool>,
    /// The tokens `/admin/*` accepts; empty leaves it open (on loopback only).
    pub tokens: Arc<[AdminToken]>,
    /// The runtime flag store (connected or not: see its health).
    pub flags: Arc<crate::live::flag_store::FlagStore>,
    /// The diff store, once the shadow writer has connected it.
    pub diffs: crate::shadow::diff_writer::SharedStore,
    /// The rollback guards, for `/admin/guards`.
    pub guards: Arc<crate::resilience::guard::Guards>,
    /// The gated ramps' last verdicts, for `GET /admin/routes/{route}/ramp`.
    pub ramps: Arc<crate::resilience::ramp::Ramps>,
    /// The new services' breakers and health checks.
    pub health: Arc<crate::resilience::service_health::ServiceHealth>,
    /// The readiness rollup's flusher, and through it the store the report reads.
    pub readiness: Arc<crate::readiness::flusher::Flusher>,
    /// `shutdown_grace` and `upgrade_sock` as read at start (see [`crate::process::upgrade`]).
    pub lifecycle: Arc<serde_json::Value>,
}
