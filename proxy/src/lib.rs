//! strangler: a layer-7 migration proxy on Pingora that decides, per route and per tenant,
//! whether the legacy monolith or a new service answers, from flags that change at runtime.
//!
//! This crate is the edge: the Pingora proxy ([`edge`]), the live configuration and its reload
//! ([`live`], [`watch`]), the admin listener ([`admin`]), telemetry, and the CLI commands. The
//! decisions themselves live in `strangler-flags`, which knows nothing of Pingora.
// `deny`, not `forbid`: adopting a listener received from an old process (`upgrade`) needs
// one `from_raw_fd`, allowed there alone.
#![deny(unsafe_code)]

pub mod access_log;
pub mod admin;
pub mod admin_diffs;
pub mod admin_flags;
pub mod admin_guards;
pub mod admin_health;
pub mod admin_tokens;
pub mod breaker;
pub mod client_head;
pub mod demo;
pub mod diff_writer;
pub mod diffs;
pub mod downstream;
pub mod drain;
pub mod edge;
pub mod error_window;
pub mod explain;
pub mod export;
pub mod fallback;
pub mod flag_cache;
pub mod flag_health;
pub mod flag_store;
pub mod flags_cli;
pub mod forwarding;
pub mod guard;
pub mod guard_watch;
pub mod guard_window;
pub mod limits;
pub mod live;
pub mod log_writer;
pub mod mirror;
pub mod overlay;
pub mod rate_limit;
pub mod routes_file;
pub mod server;
pub mod service_health;
pub mod shadowing;
pub mod systemd;
pub mod telemetry;
pub mod timeouts;
pub mod trace;
pub mod upgrade;
pub mod watch;

pub use server::{Launch, Running};
