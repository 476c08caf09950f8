//! Validating a `jwt:` tenant source: the claim path, the token header, and the one key
//! source (a secret from the environment, a PEM public key file or a JWKS file), read now
//! (through the caller's [`Surroundings`]) so that keys change with a reload of routes.yaml
//! and a missing or unusable key is a located config error instead of a 401 on every
//! request. Each key is tried once against the crypto backend before it is accepted.

use std::collections::HashMap;
use std::path::Path;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

use super::header::header_name;
use super::problems::Problems;
use super::raw::RawJwt;
use crate::hash::fnv1a64;
use crate::tenant::jwt::{JwtKeys, JwtSource, VerifyingKey, DEFAULT_JWT_HEADER};
use crate::tenant::TenantSource;
use crate::Surroundings;

/// The shortest HS256 secret accepted: the size of the hash (RFC 7518, section 3.2).
pub const MIN_HS256_SECRET: usize = 32;

/// Where the keys a file names come from: key files relative to the directory of
/// routes.yaml, and secrets, both through the caller's surroundings.
pub(super) struct KeyReader<'a> {
    /// The directory of routes.yaml (empty for a bare file name).
    pub base: &'a Path,
    /// Reads key files and secrets (and, for the rest of the config, resolves upstreams).
    pub surroundings: &'a dyn Surroundings,
}

/// Compiles the `jwt:` source at node `at` (`tenant.sources[0].jwt`); its key is read
/// through `reader`.
pub(super) fn jwt_source(
    at: &str,
    raw: RawJwt,
    reader: &KeyReader<'_>,
    problems: &mut Problems<'_>,
) -> Option<TenantSource> {
    let claim = claim_path(&raw.claim)
        .map_err(|message| problems.at_value(&format!("{at}.claim"), message))
        .ok();
    let header = match raw.header.as_deref() {
        None => Some(DEFAULT_JWT_HEADER.into()),
        Some(name) => header_name(name)
            .map_err(|message| problems.at_value(&format!("{at}.header"), message))
            .ok(),
    };
    let sources = KeySources {
        hs256_secret_env: raw.hs256_secret_env.as_deref(),
        public_key_file: raw.public_key_file.as_deref(),
        jwks_file: raw.jwks_file.as_deref(),
    };
    let expected = (raw.audience.as_deref(), raw.issuer.as_deref());
    for (key, value) in [("audience", expected.0), ("issuer", expected.1)] {
        if value == Some("") {
            problems.at_value(&format!("{at}.{key}"), format!("{key} must not be empty"));
        }
    }
    let (mut keys, key_files_hash) = keys(at, &sources, reader, problems)?;
    keys.expect(expected.0, expected.1);
    let source = JwtSource::new(header?, claim?, keys, key_files_hash);
    Some(TenantSource::Jwt(Box::new(source)))
}

/// `org.tenant` -> `["org", "tenant"]`; no empty part.
fn claim_path(text: &str) -> Result<Box<[Box<str>]>, String> {
    let parts: Box<[Box<str>]> = text.split('.').map(Box::from).collect();
    match parts.iter().any(|part| part.is_empty()) {
        true => Err(format!(
            "claim {text:?} must be a claim name or a dotted path like org.tenant"
        )),
        false => Ok(parts),
    }
}

/// The three ways a verifying key can be given, as written; exactly one must be set.
pub(super) struct KeySources<'a> {
    pub hs256_secret_env: Option<&'a str>,
    pub public_key_file: Option<&'a str>,
    pub jwks_file: Option<&'a str>,
}

/// The keys from whichever one of the three key sources at node `at` names, and the
/// FNV-1a 64 of the key file's text (0 for a secret, which cannot change while the process
/// runs).
pub(super) fn keys(
    at: &str,
    raw: &KeySources<'_>,
    reader: &KeyReader<'_>,
    problems: &mut Problems<'_>,
) -> Option<(JwtKeys, u64)> {
    let sources = (raw.hs256_secret_env, raw.public_key_file, raw.jwks_file);
    let (key, compiled) = match sources {
        (Some(var), None, None) => (
            "hs256_secret_env",
            hs256_secret(var, reader).map(|key| (JwtKeys::single(key), 0)),
        ),
        (None, Some(file), None) => (
            "public_key_file",
            from_file(file, reader, |text, shown| {
                public_key(text, shown).map(JwtKeys::single)
            }),
        ),
        (None, None, Some(file)) => ("jwks_file", from_file(file, reader, jwks)),
        _ => {
            let message =
                "a token key has exactly one of hs256_secret_env, public_key_file or jwks_file";
            problems.at_value(at, message);
            return None;
        }
    };
    compiled
        .map_err(|message| problems.at_value(&format!("{at}.{key}"), message))
        .ok()
}

/// The HS256 secret in the environment variable `var`.
fn hs256_secret(var: &str, reader: &KeyReader<'_>) -> Result<VerifyingKey, String> {
    let secret = reader
        .surroundings
        .secret(var)
        .ok_or_else(|| format!("environment variable {var} (the HS256 secret) is not set"))?;
    let bytes = secret.as_encoded_bytes();
    if bytes.len() < MIN_HS256_SECRET {
        return Err(format!(
            "the HS256 secret in {var} is {} bytes; at least {MIN_HS256_SECRET} are needed",
            bytes.len()
        ));
    }
    checked(VerifyingKey::new(
        Algorithm::HS256,
        DecodingKey::from_secret(bytes),
    ))
}

/// The keys `compile` finds in the text of `file` (relative to routes.yaml), and the text's
/// hash; errors name the file's path.
fn from_file(
    file: &str,
    reader: &KeyReader<'_>,
    compile: impl FnOnce(&str, &str) -> Result<JwtKeys, String>,
) -> Result<(JwtKeys, u64), String> {
    let path = reader.base.join(file);
    let shown = path.display().to_string();
    let text = (reader.surroundings.read_key(&path))
        .map_err(|err| format!("cannot read {shown}: {err}"))?;
    Ok((compile(&text, &shown)?, fnv1a64(text.as_bytes())))
}

/// The PEM public key in `pem`: RS256 for an RSA key, ES256 for a P-256 key.
fn public_key(pem: &str, shown: &str) -> Result<VerifyingKey, String> {
    if !pem.contains("PUBLIC KEY-----") || pem.contains("PRIVATE KEY-----") {
        return Err(format!(
            "{shown}: expected a PEM public key (BEGIN PUBLIC KEY)"
        ));
    }
    let key = match DecodingKey::from_rsa_pem(pem.as_bytes()) {
        Ok(key) => VerifyingKey::new(Algorithm::RS256, key),
        Err(_) => DecodingKey::from_ec_pem(pem.as_bytes())
            .map(|key| VerifyingKey::new(Algorithm::ES256, key))
            .map_err(|err| format!("{shown}: not an RSA or P-256 public key: {err}"))?,
    };
    checked(key).map_err(|message| format!("{shown}: {message}"))
}

/// The keys of the JWKS in `text`, by `kid`.
fn jwks(text: &str, shown: &str) -> Result<JwtKeys, String> {
    let set: JwkSet =
        serde_json::from_str(text).map_err(|err| format!("{shown}: not a JWKS: {err}"))?;
    let mut by_kid = HashMap::new();
    for jwk in &set.keys {
        let (kid, key) = jwk_key(jwk).map_err(|message| format!("{shown}: {message}"))?;
        if by_kid.insert(kid.clone(), key).is_some() {
            return Err(format!("{shown}: kid {kid:?} appears twice"));
        }
    }
    match by_kid.is_empty() {
        true => Err(format!("{shown}: the JWKS has no keys")),
        false => Ok(JwtKeys::ByKid(by_kid)),
    }
}

/// One JWK and its `kid`: an RSA key (RS256) or a P-256 key (ES256).
fn jwk_key(jwk: &Jwk) -> Result<(Box<str>, VerifyingKey), String> {
    let kid = jwk.common.key_id.as_deref().ok_or("a key has no kid")?;
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => {
            return Err(format!(
                "key {kid:?}: only RSA and P-256 keys are supported"
            ))
        }
    };
    let declared = jwk.common.key_algorithm;
    if declared.is_some_and(|alg| !same_algorithm(alg, algorithm)) {
        return Err(format!(
            "key {kid:?}: its alg {declared:?} is not {algorithm:?}, the only one supported for this key type"
        ));
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|err| format!("key {kid:?}: {err}"))?;
    let key = checked(VerifyingKey::new(algorithm, key))
        .map_err(|message| format!("key {kid:?}: {message}"))?;
    Ok((kid.into(), key))
}

fn same_algorithm(declared: KeyAlgorithm, algorithm: Algorithm) -> bool {
    matches!(
        (declared, algorithm),
        (KeyAlgorithm::RS256, Algorithm::RS256) | (KeyAlgorithm::ES256, Algorithm::ES256)
    )
}

/// `key`, if the crypto backend can use it.
fn checked(key: VerifyingKey) -> Result<VerifyingKey, String> {
    match key.usable() {
        true => Ok(key),
        false => Err(format!("the key cannot be used for {:?}", key.algorithm())),
    }
}
