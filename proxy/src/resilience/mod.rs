//! What protects the new services and the rollout while traffic flows: each new service's
//! circuit breaker and active health checks ([`breaker`], [`service_health`]), and the
//! per-route rollback guard that sends a failing route back to legacy ([`guard`], its
//! window and its evaluator), and the gated ramps that raise a route's percent while its
//! evidence holds ([`ramp`]).
//!
//! May import [`crate::telemetry`], [`crate::tls`], [`crate::live`] and [`crate::shadow`] (the
//! ramps' shadow evidence); the request path calls in, never
//! the other way.

pub mod breaker;
pub mod error_window;
pub mod guard;
pub mod guard_watch;
pub mod guard_window;
pub mod ramp;
pub mod service_health;
