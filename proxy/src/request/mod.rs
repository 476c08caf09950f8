//! A request's journey through Pingora: the hooks in the engine's call order ([`edge`]),
//! each short and delegating to the module that owns the decision: the limits and rate
//! buckets, the upstream timeouts, the fallbacks to legacy, the forwarding headers, a
//! route's `rewrite:` of what its new side receives, the anonymous id cookie, the spans of
//! a traced request.
//!
//! The only folder that implements `ProxyHttp`. May import every folder below it
//! ([`crate::telemetry`], [`crate::live`], [`crate::resilience`], [`crate::shadow`],
//! [`crate::connection`]'s drain and HTTP/2 stream watch).

pub mod anonymous;
pub mod context;
mod decide;
pub mod edge;
pub mod fallback;
pub mod head;
pub mod headers;
pub mod limits;
pub mod rate_limit;
pub mod refusal;
pub mod rewrite;
pub mod shadowed;
pub mod timeouts;
pub mod traced;
