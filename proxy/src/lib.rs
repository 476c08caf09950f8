//! strangler: a layer-7 migration proxy on Pingora that decides, per route and per tenant,
//! whether the legacy monolith or a new service answers, from flags that change at runtime.
//!
//! This crate is the edge: the Pingora proxy ([`edge`]), the live configuration and its reload
//! ([`live`], [`watch`]), the admin listener ([`admin`]), telemetry, and the CLI commands. The
//! decisions themselves live in `strangler-flags`, which knows nothing of Pingora.
// `deny`, not `forbid`: adopting a listener received from an old process (`upgrade`) needs
// one `from_raw_fd`, allowed there alone.
#![deny(unsafe_code)]

// The floor plan, lowest layer first: a folder imports only folders above it in this list
// (docs/architecture.md draws it).
mod admin;
pub mod cli;
mod connection;
mod live;
mod process;
mod readiness;
mod request;
mod resilience;
mod shadow;
mod telemetry;
mod tls;

pub use admin::tokens::{AdminToken, Scope};
pub use process::launch::{Launch, StartError};
pub use process::server::Running;
pub use resilience::ramp::{Clock as RampClock, RampTiming};
pub use strangler_flags::store_url::without_credentials;
pub use telemetry::build_info::LONG_VERSION;
