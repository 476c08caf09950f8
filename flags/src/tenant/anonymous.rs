//! `tenant.anonymous`: sticky ids for requests without a tenant. A request no source names
//! a tenant for carries (or is given) a random id in a cookie, and the rollout buckets it
//! by that id like a tenant, so an anonymous visitor stays on one side across requests.
//!
//! The id is chosen by whoever holds the cookie, so it is trusted for nothing but the
//! bucket: it never matches a tenant override (`rollout.tenants`), a QA tenant, a rate
//! bucket or the forwarded tenant header, and the proxy never forwards the cookie. A
//! client can pick its own bucket by picking an id, as it could by clearing its cookies
//! until it lands on the side it wants: a percentage is a ramp, not an access control. A
//! value that is not an id the proxy could have minted (length, charset) is not read at
//! all: the request is treated as having none, and is given a fresh one.

use std::time::Duration;

/// Bytes of randomness in an id.
pub const ID_BYTES: usize = 16;
/// An id is its bytes in lowercase hex.
pub const ID_LEN: usize = 2 * ID_BYTES;

/// `tenant.anonymous`, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnonymousIds {
    /// The cookie's name (`strangler_id`).
    pub cookie: Box<str>,
    /// How long a browser keeps it (`Max-Age`).
    pub max_age: Duration,
}

/// An anonymous request's id, as the decision found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnonymousId<'r> {
    /// A well-formed id the client sent, which bucketed the request.
    Sent(&'r str),
    /// None was sent, or a malformed one: the proxy mints one
    /// ([`crate::Decision::bucket_anonymous`]) and sets the cookie.
    Missing,
}

impl AnonymousIds {
    /// The id `cookie` holds, if it is one the proxy could have minted.
    pub fn read<'r>(&self, cookie: Option<&'r str>) -> AnonymousId<'r> {
        match cookie.filter(|id| is_id(id)) {
            Some(id) => AnonymousId::Sent(id),
            None => AnonymousId::Missing,
        }
    }
}

/// Whether `text` has the shape of a minted id: [`ID_LEN`] lowercase hex digits.
pub fn is_id(text: &str) -> bool {
    text.len() == ID_LEN && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `bytes` as an id (lowercase hex), what the proxy sets in the cookie.
pub fn id_of(bytes: [u8; ID_BYTES]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_minted_shapes_are_ids() {
        let minted = id_of([0xab; ID_BYTES]);
        assert!(is_id(&minted));
        assert!(!is_id(&minted.to_uppercase()));
        assert!(!is_id(&minted[1..]));
        assert!(!is_id("acme"));
        assert!(!is_id(&format!("{}g", &minted[1..])));
    }
}
