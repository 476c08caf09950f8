//! The admin listener: health and readiness probes, metrics, the configuration, the admin
//! API, one module per endpoint family ([`flags`], [`export`], [`diffs`], [`guards`],
//! [`health`], [`explain`], [`audit`], [`effective`], [`readiness`], [`ramp`]) behind the tokens of [`tokens`], and the web console
//! ([`console`]) that uses that API.
//!
//! May import every folder but [`crate::process`] and [`crate::cli`].

pub mod audit;
mod body;
pub mod console;
pub mod diffs;
pub mod effective;
pub mod explain;
pub mod export;
pub mod flags;
pub mod guards;
pub mod health;
pub mod listener;
pub mod ramp;
pub mod readiness;
pub mod reply;
pub mod state;
pub mod tokens;
