//! The `strangler` commands, one module each, called by `main.rs` after it parsed the
//! arguments: `run`, `check`, `explain`, `demo`, `diffs`, `report`, `schema`, and `flags` (a running
//! proxy's runtime flags over its admin API). Each returns a typed error ([`error::CliError`], or
//! `flags`' own); only `main.rs` turns them into a message and an exit code.
//!
//! May import any folder; nothing imports it but `main.rs`.

pub mod check;
pub mod demo;
mod demo_history;
mod demo_receiver;
mod demo_tls;
pub mod diffs;
pub mod error;
pub mod explain;
pub mod flags;
pub mod report;
pub mod run;
mod sample;
pub mod schema;
