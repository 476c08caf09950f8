//! TLS, both ways, with rustls (the stack Pingora's `rustls` feature builds): certificate
//! files read and checked ([`material`]), the certificate a listener presents chosen by SNI
//! ([`resolver`]) and rotated when its files change ([`rotation`]), and the settings of
//! `https://` upstreams in Pingora's types ([`upstream`]). The handshake with a client is
//! the connection layer's (`connection::tls`).
//!
//! May import [`crate::telemetry`].

pub mod client;
pub mod material;
pub mod resolver;
pub mod rotation;
pub mod upstream;
