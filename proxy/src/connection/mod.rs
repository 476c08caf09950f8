//! A client connection before and between its requests: HTTP/1 and h2c told apart on one
//! port ([`downstream`]), the deadline on a request head ([`client_head`], [`h2c_head`]) and
//! on an HTTP/2 stream's request body ([`h2_stream`]), every HTTP/1 head judged before
//! Pingora parses it ([`head_check`]) and a refused one answered, counted and logged
//! ([`refused_head`]), the keep-alive wait, the longest-idle connections closed when
//! descriptors run short
//! ([`pressure`]), and the drain when the instance stops ([`drain`]).
//!
//! A connection to a TLS listener is decrypted first ([`tls`]) into a stream bytes can be put
//! back into ([`rewound`]), so the rest applies to it as to plain TCP.
//!
//! May import [`crate::telemetry`], [`crate::tls`] and [`crate::live`].

pub mod client_head;
pub mod downstream;
pub mod drain;
pub mod h2_stream;
pub mod h2c_head;
pub mod head_check;
pub mod pressure;
pub mod refused_head;
pub mod rewound;
pub mod tls;
