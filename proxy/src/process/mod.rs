//! An instance's life: start (listeners and their TLS ([`listeners`]), the worker threads
//! ([`workers`]) and the other runtimes, the proxy service, the admin listener,
//! the background tasks), stop and drain ([`server`]), the zero-downtime upgrade
//! ([`upgrade`]) and systemd's notifications ([`systemd`]).
//!
//! The composition root: it may import every folder but [`crate::cli`].

mod admin_tls;
pub mod descriptors;
pub mod launch;
mod listeners;
pub mod server;
pub mod services;
pub mod systemd;
pub mod upgrade;
mod workers;
