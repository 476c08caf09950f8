//! A client connection before and between its requests: HTTP/1 and h2c told apart on one
//! port ([`downstream`]), the deadline on a request head ([`client_head`]), the keep-alive
//! wait, and the drain when the instance stops ([`drain`]).
//!
//! May import [`crate::telemetry`] and [`crate::live`].

pub mod client_head;
pub mod downstream;
pub mod drain;
