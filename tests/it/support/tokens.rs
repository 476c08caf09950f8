//! Minting test JWTs: the clock in seconds, and HS256 signing with a test secret.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::Value;

/// Seconds since the epoch, as `exp` and `nbf` count them.
pub fn now() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    elapsed.as_secs() as i64
}

/// `claims` signed HS256 with `secret`.
pub fn hs256(secret: &[u8], claims: &Value) -> String {
    let key = EncodingKey::from_secret(secret);
    encode(&Header::new(Algorithm::HS256), claims, &key).expect("signs")
}
