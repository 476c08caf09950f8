//! strangler: a layer-7 migration proxy on Pingora that decides, per route and per tenant,
//! whether the legacy monolith or a new service answers, from flags that change at runtime.
//!
//! This crate is the edge: the Pingora proxy ([`edge`]), the live configuration and its reload
//! ([`live`], [`watch`]), the admin listener ([`admin`]), telemetry, and the CLI commands. The
//! decisions themselves live in `strangler-flags`, which knows nothing of Pingora.
// `deny`, not `forbid`: adopting a listener received from an old process (`upgrade`) needs
// one `from_raw_fd`, allowed there alone.
#![deny(unsafe_code)]

pub mod admin;
pub mod cli;
pub mod connection;
pub mod live;
pub mod process;
pub mod request;
pub mod resilience;
pub mod shadow;
pub mod telemetry;

pub use process::server::{Launch, Running};
