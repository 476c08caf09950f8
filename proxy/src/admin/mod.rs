//! The admin listener: health and readiness probes, metrics, the configuration, and the
//! admin API, one module per endpoint family ([`flags`], [`export`], [`diffs`],
//! [`guards`], [`health`]) behind the tokens of [`tokens`].
//!
//! May import every folder but [`crate::process`] and [`crate::cli`].

mod body;
pub mod diffs;
pub mod export;
pub mod flags;
pub mod guards;
pub mod health;
pub mod listener;
pub mod reply;
pub mod state;
pub mod tokens;
