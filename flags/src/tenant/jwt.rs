//! The `jwt:` tenant source: the tenant is a claim of a bearer token the proxy verifies.
//!
//! The configuration fixes the one algorithm each key accepts (HS256 for a secret, RS256
//! for an RSA key, ES256 for a P-256 key); a token's `alg` header is only compared with
//! it, never obeyed, so `alg: none` and an HS256 token "signed" with an RSA public key are
//! refused. `exp` is required; `exp` and `nbf` are checked with [`LEEWAY_SECS`] of leeway
//! for clocks that disagree a little. Verifying allocates (the claims are decoded into a
//! JSON value), which only configs with a `jwt:` source pay for.

use std::collections::HashMap;
use std::fmt;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::check_tenant_id;

/// Seconds of clock skew allowed when checking `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;

/// The header a `jwt:` source reads when routes.yaml names none.
pub const DEFAULT_JWT_HEADER: &str = "authorization";

/// A key and the only algorithm a token verified with it may use.
#[derive(Clone)]
pub struct VerifyingKey {
    key: DecodingKey,
    /// `algorithms` is exactly `[algorithm]`; leeway, `exp` and `nbf` as documented.
    validation: Validation,
}

impl VerifyingKey {
    /// `key`, accepting tokens signed with `algorithm` only.
    pub fn new(algorithm: Algorithm, key: DecodingKey) -> VerifyingKey {
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        VerifyingKey { key, validation }
    }

    /// Also requires `aud` to name `audience` and `iss` to be `issuer`, where given.
    pub fn expect(&mut self, audience: Option<&str>, issuer: Option<&str>) {
        if let Some(audience) = audience {
            self.validation.validate_aud = true;
            self.validation.set_audience(&[audience]);
            self.validation
                .required_spec_claims
                .insert("aud".to_owned());
        }
        if let Some(issuer) = issuer {
            self.validation.set_issuer(&[issuer]);
            self.validation
                .required_spec_claims
                .insert("iss".to_owned());
        }
    }

    /// The algorithm this key accepts.
    pub fn algorithm(&self) -> Algorithm {
        self.validation.algorithms[0]
    }

    /// Whether the crypto backend can use the key at all, checked once at load so a key
    /// file it cannot parse is a config error rather than a 401 on every request.
    pub fn usable(&self) -> bool {
        jsonwebtoken::crypto::verify("AA", b"probe", &self.key, self.algorithm()).is_ok()
    }
}

/// The keys of one `jwt:` source.
#[derive(Clone)]
pub enum JwtKeys {
    /// `hs256_secret_env` or `public_key_file`: every token is checked with this key.
    Single(Box<VerifyingKey>),
    /// `jwks_file`: the token's `kid` header chooses the key.
    ByKid(HashMap<Box<str>, VerifyingKey>),
}

impl JwtKeys {
    /// One key for every token.
    pub fn single(key: VerifyingKey) -> JwtKeys {
        JwtKeys::Single(Box::new(key))
    }

    /// Requires `aud` and `iss` on every key (see [`VerifyingKey::expect`]).
    pub fn expect(&mut self, audience: Option<&str>, issuer: Option<&str>) {
        match self {
            JwtKeys::Single(key) => key.expect(audience, issuer),
            JwtKeys::ByKid(by_kid) => by_kid
                .values_mut()
                .for_each(|key| key.expect(audience, issuer)),
        }
    }

    /// The claims of `token` once it verifies; why not otherwise.
    pub fn claims(&self, token: &str) -> Result<Value, &'static str> {
        let key = self.choose(token)?;
        let data = jsonwebtoken::decode::<Value>(token, &key.key, &key.validation);
        Ok(data.map_err(|err| reason(&err))?.claims)
    }

    /// The key `token` must verify with.
    fn choose(&self, token: &str) -> Result<&VerifyingKey, &'static str> {
        let by_kid = match self {
            JwtKeys::Single(key) => return Ok(&**key),
            JwtKeys::ByKid(by_kid) => by_kid,
        };
        let header = jsonwebtoken::decode_header(token).map_err(|err| reason(&err))?;
        let kid = header.kid.ok_or("no kid in the token header")?;
        by_kid.get(kid.as_str()).ok_or("unknown kid")
    }
}

/// One compiled `jwt:` source.
#[derive(Clone)]
pub struct JwtSource {
    /// The header carrying the token, lowercase.
    header: Box<str>,
    /// The dotted claim path, split at the dots.
    claim: Box<[Box<str>]>,
    keys: JwtKeys,
    /// FNV-1a 64 of the key file's text (0 for a secret), so a reload can tell new keys.
    key_files_hash: u64,
}

impl JwtSource {
    /// A source reading the token from `header` (lowercase) and the tenant from the claim
    /// at `claim` (one key per nesting level), verified with `keys`, which were read from
    /// a file whose text hashes to `key_files_hash` (0 for a secret).
    pub fn new(
        header: Box<str>,
        claim: Box<[Box<str>]>,
        keys: JwtKeys,
        key_files_hash: u64,
    ) -> JwtSource {
        JwtSource {
            header,
            claim,
            keys,
            key_files_hash,
        }
    }

    /// FNV-1a 64 of the key file's text; 0 for a secret.
    pub fn key_files_hash(&self) -> u64 {
        self.key_files_hash
    }

    /// The header carrying the token, lowercase.
    pub fn header(&self) -> &str {
        &self.header
    }

    /// The tenant in `value`, the token header as sent; why not when it does not verify.
    pub fn verify(&self, value: &str) -> Result<String, &'static str> {
        let claims = self.keys.claims(self.token(value)?)?;
        tenant_claim(&claims, &self.claim).map(str::to_owned)
    }

    /// The token itself: after `Bearer ` in `Authorization`, the whole value elsewhere.
    fn token<'v>(&self, value: &'v str) -> Result<&'v str, &'static str> {
        let token = match &*self.header {
            DEFAULT_JWT_HEADER => bearer(value).ok_or("not a Bearer credential")?,
            _ => value.trim(),
        };
        match token.is_empty() {
            true => Err("empty token"),
            false => Ok(token),
        }
    }
}

impl fmt::Debug for JwtSource {
    /// Names the header, claim and algorithms; never prints key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<(Option<&str>, Algorithm)> = match &self.keys {
            JwtKeys::Single(key) => vec![(None, key.algorithm())],
            JwtKeys::ByKid(by_kid) => by_kid
                .iter()
                .map(|(kid, key)| (Some(&**kid), key.algorithm()))
                .collect(),
        };
        f.debug_struct("JwtSource")
            .field("header", &self.header)
            .field("claim", &self.claim.join("."))
            .field("keys", &keys)
            .finish()
    }
}

/// The credentials of `Bearer <token>` (scheme case-insensitive, RFC 6750).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start())
}

/// The tenant id at `path` in `claims`: a string that passes [`check_tenant_id`].
fn tenant_claim<'c>(claims: &'c Value, path: &[Box<str>]) -> Result<&'c str, &'static str> {
    let found = path.iter().try_fold(claims, |node, key| node.get(&**key));
    let value = found.ok_or("no tenant claim")?;
    let id = value.as_str().ok_or("tenant claim is not a string")?;
    check_tenant_id(id).map_err(|_| "tenant claim is not a valid tenant id")?;
    Ok(id)
}

/// Why a token was refused, in words a client can act on.
fn reason(err: &jsonwebtoken::errors::Error) -> &'static str {
    match err.kind() {
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::ImmatureSignature => "not yet valid",
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => "algorithm not allowed",
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "aud" => "no aud claim",
            "iss" => "no iss claim",
            _ => "no exp claim",
        },
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => "malformed token",
        ErrorKind::Json(_) => "malformed token or unknown alg",
        _ => "does not verify",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("abc"), None);
    }

    #[test]
    fn claim_paths_walk_nested_objects() {
        let claims = serde_json::json!({ "org": { "tenant": "acme" }, "n": 7, "bad": "a b" });
        let path = |text: &str| -> Vec<Box<str>> { text.split('.').map(Box::from).collect() };
        assert_eq!(tenant_claim(&claims, &path("org.tenant")), Ok("acme"));
        assert_eq!(
            tenant_claim(&claims, &path("org.missing")),
            Err("no tenant claim")
        );
        assert!(tenant_claim(&claims, &path("n")).is_err());
        assert!(tenant_claim(&claims, &path("bad")).is_err());
        assert!(tenant_claim(&claims, &path("org")).is_err());
    }
}
