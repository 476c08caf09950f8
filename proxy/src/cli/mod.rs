//! The commands that are not `run`: `flags` (a running proxy's runtime flags over its admin
//! API), `explain`, and `demo`.
//!
//! May import any folder; nothing imports it but `main.rs`.

pub mod demo;
pub mod explain;
pub mod flags;
