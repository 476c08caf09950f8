//! `tenant.anonymous` at the edge: a request without a tenant and without a well-formed id
//! gets a fresh random id, bucketed at once ([`Decision::bucket_anonymous`]) and set in
//! the cookie of its answer; the cookie is taken out of the `Cookie` header both sides
//! receive, so no upstream ever sees it (it is not a credential, and legacy and new must
//! not diverge on it). The id is never a tenant: see `strangler_flags::tenant::anonymous`.

use http::header::{COOKIE, SET_COOKIE};
use http::HeaderValue;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::Session;
use pingora::Result;
use strangler_flags::tenant::anonymous::{id_of, AnonymousId, AnonymousIds, ID_BYTES};
use strangler_flags::Decision;

/// Mints an id for a decision whose anonymous id was missing, and buckets it by the id;
/// returns the id to set in the answer's cookie.
pub(super) fn settle(decision: &mut Decision<'_, '_>) -> Option<String> {
    if decision.anonymous != Some(AnonymousId::Missing) {
        return None;
    }
    let id = mint();
    decision.bucket_anonymous(&id);
    Some(id)
}

/// A fresh id: 128 bits from the operating system, in hex.
fn mint() -> String {
    let mut bytes = [0u8; ID_BYTES];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy source (never on Linux): a per-process keyed hash still spreads ids.
        bytes = fallback_bytes();
    }
    id_of(bytes)
}

/// 128 bits from two randomly keyed SipHash states.
fn fallback_bytes() -> [u8; ID_BYTES] {
    use std::hash::{BuildHasher, Hasher};
    let half = || {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    let mut bytes = [0u8; ID_BYTES];
    bytes[..8].copy_from_slice(&half().to_le_bytes());
    bytes[8..].copy_from_slice(&half().to_le_bytes());
    bytes
}

/// Takes cookie `ids.cookie` out of every `Cookie` field of `upstream`; a field left empty
/// is removed. Other cookies stay as sent, in order.
pub(super) fn strip_cookie(upstream: &mut RequestHeader, ids: Option<&AnonymousIds>) {
    let Some(ids) = ids else {
        return;
    };
    let name = &*ids.cookie;
    let mut fields = upstream.headers.get_all(COOKIE).iter();
    if !fields.any(|f| names_cookie(f.as_bytes(), name)) {
        return; // the usual request: nothing is copied
    }
    let fields: Vec<HeaderValue> = upstream.headers.get_all(COOKIE).iter().cloned().collect();
    upstream.remove_header(&COOKIE);
    for field in fields {
        let kept = match field.to_str() {
            Ok(text) => without_cookie(text, name),
            Err(_) => Some(field),
        };
        if let Some(kept) = kept {
            // Appending a value that came from a header (or a part of it) cannot fail.
            let _ = upstream.append_header(COOKIE, kept);
        }
    }
}

/// Whether a `Cookie` field may hold cookie `name` (a cheap byte search first).
fn names_cookie(field: &[u8], name: &str) -> bool {
    field
        .windows(name.len() + 1)
        .any(|w| w.starts_with(name.as_bytes()) && w[name.len()] == b'=')
}

/// `field` without the pairs named `name`; None when nothing is left.
fn without_cookie(field: &str, name: &str) -> Option<HeaderValue> {
    let kept: Vec<&str> = field
        .split(';')
        .map(|pair| pair.trim_matches([' ', '\t']))
        .filter(|pair| !pair.is_empty())
        .filter(|pair| pair.split_once('=').is_none_or(|(key, _)| key != name))
        .collect();
    match kept.is_empty() {
        true => None,
        false => HeaderValue::from_str(&kept.join("; ")).ok(),
    }
}

/// The `Set-Cookie` value that gives a browser `id`: `HttpOnly` (no script needs it),
/// `SameSite=Lax`, `Path=/`, `Max-Age` from `tenant.anonymous.max_age`, and `Secure` when
/// `secure` (the request came over TLS).
pub(super) fn cookie(ids: &AnonymousIds, id: &str, secure: bool) -> String {
    let max_age = ids.max_age.as_secs();
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{}={id}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}",
        ids.cookie
    )
}

/// Adds the cookie of an id minted for this request to its answer.
pub(super) fn set_cookie(
    session: &Session,
    response: &mut ResponseHeader,
    ids: Option<&AnonymousIds>,
    minted: Option<&str>,
) -> Result<()> {
    let (Some(ids), Some(id)) = (ids, minted) else {
        return Ok(());
    };
    let value = cookie(ids, id, arrived_over_tls(session));
    response.append_header(SET_COOKIE, value).map(|_| ())
}

/// Whether the client's connection is TLS, which makes the cookie `Secure`. The hook for
/// TLS listeners: a session Pingora accepted over TLS carries an SSL digest.
fn arrived_over_tls(session: &Session) -> bool {
    session
        .digest()
        .is_some_and(|digest| digest.ssl_digest.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> AnonymousIds {
        AnonymousIds {
            cookie: "sid".into(),
            max_age: std::time::Duration::from_secs(60),
        }
    }

    #[test]
    fn only_the_anonymous_cookie_is_taken_out() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.append_header(COOKIE, "a=1; sid=x; b=2").unwrap();
        req.append_header(COOKIE, "sid=y").unwrap();
        req.append_header(COOKIE, "xsid=3").unwrap();
        strip_cookie(&mut req, Some(&ids()));
        let left: Vec<&str> = req
            .headers
            .get_all(COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(left, ["a=1; b=2", "xsid=3"]);
    }

    #[test]
    fn the_cookie_is_http_only_lax_and_secure_only_over_tls() {
        assert_eq!(
            cookie(&ids(), "ab", false),
            "sid=ab; Max-Age=60; Path=/; HttpOnly; SameSite=Lax"
        );
        assert!(cookie(&ids(), "ab", true).ends_with("; Secure"));
    }

    #[test]
    fn minted_ids_are_ids_and_differ() {
        let (a, b) = (mint(), mint());
        assert!(strangler_flags::tenant::anonymous::is_id(&a));
        assert_ne!(a, b);
    }
}
