//! The configuration requests are decided on, and everything that changes it at runtime:
//! routes.yaml compiled into a snapshot and swapped whole ([`config`]), its reload triggers
//! ([`watch`]), the runtime flags from the flag store ([`flag_store`], with its cache file,
//! its health and the guard's trips it has not recorded yet) folded over it ([`overlay`]),
//! routes.yaml rewritten with them ([`export`]), and what a described request would be
//! decided ([`explain`]); the notifications of flag changes ([`notices`]) go out
//! through the notifier the live config owns. The file itself is read, and compiled in this machine's surroundings
//! (resolver, key files, environment), by [`routes_file`], for every command.
//!
//! May import [`crate::telemetry`] and [`crate::tls`] (certificates read for `Surroundings`).

pub mod config;
pub mod explain;
pub mod export;
pub mod flag_cache;
pub mod flag_health;
pub mod flag_store;
pub mod held_trips;
pub mod loaded;
pub mod notices;
pub mod overlay;
pub mod routes_file;
pub mod watch;
