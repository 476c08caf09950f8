//! The crate's one hash family: FNV-1a 64, optionally finished with murmur3's fmix64.
//! It gives the sticky rollout bucket and the snapshot's content hash. The request-path
//! maps (trie segments, tenant overrides) use [`MapHasher`], a faster unstable cousin.
//!
//! Those maps use it rather than std's keyed SipHash because every key in them comes
//! from routes.yaml, not from requests: an attacker can only look keys up, never insert
//! colliding ones, so there is no hash-flooding to defend against, and this costs
//! a fraction of SipHash on the request path.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 over `bytes`, continuing from `state`.
pub(crate) fn fnv1a(state: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(state, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
    })
}

/// FNV-1a 64 of a whole text from the standard offset basis.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a(FNV_OFFSET, bytes)
}

/// murmur3's 64-bit finalizer: spreads FNV's weak low bits over the whole word.
pub(crate) fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// A [`Hasher`] for maps whose keys all come from routes.yaml (see the module doc).
///
/// Unlike the bucket hash it does not have to be stable, only fast: it folds eight bytes
/// at a time (FxHash's rotate-xor-multiply) and finishes with fmix64.
#[derive(Debug, Clone, Copy, Default)]
pub struct MapHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl MapHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for MapHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        fmix64(self.0)
    }
}

/// A `HashMap` hashed with [`MapHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<MapHasher>>;

/// A map key held inline when it is short, as tenant ids and path segments usually are:
/// a lookup that finds its bucket compares bytes already there instead of following a
/// pointer to them (on the decision path that pointer was a cache miss per map). Borrows
/// as bytes, so lookups take `text.as_bytes()`; it is always made from a `str`.
#[derive(Clone)]
pub enum ShortKey {
    /// Up to [`ShortKey::INLINE`] bytes.
    Inline {
        /// How many of `bytes` are the key.
        len: u8,
        /// The key, then zeros.
        bytes: [u8; ShortKey::INLINE],
    },
    /// Longer keys.
    Heap(Box<[u8]>),
}

impl ShortKey {
    /// The longest key kept inline: with the length byte and the tag, 24 bytes in all.
    pub const INLINE: usize = 22;

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ShortKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            ShortKey::Heap(bytes) => bytes,
        }
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).expect("a key is made from a str")
    }
}

impl From<&str> for ShortKey {
    fn from(text: &str) -> ShortKey {
        match u8::try_from(text.len()) {
            Ok(len) if text.len() <= ShortKey::INLINE => {
                let mut bytes = [0; ShortKey::INLINE];
                bytes[..text.len()].copy_from_slice(text.as_bytes());
                ShortKey::Inline { len, bytes }
            }
            _ => ShortKey::Heap(text.as_bytes().into()),
        }
    }
}

impl From<String> for ShortKey {
    fn from(text: String) -> ShortKey {
        ShortKey::from(text.as_str())
    }
}

impl std::borrow::Borrow<[u8]> for ShortKey {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Hashes as its bytes do, as `Borrow<[u8]>` requires.
impl std::hash::Hash for ShortKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialEq for ShortKey {
    fn eq(&self, other: &ShortKey) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ShortKey {}

impl std::fmt::Debug for ShortKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_keys_are_found_by_their_bytes() {
        let long = "t".repeat(ShortKey::INLINE + 1);
        let mut map: FastMap<ShortKey, u8> = FastMap::default();
        for (i, key) in ["", "acme", &"a".repeat(ShortKey::INLINE), &long]
            .iter()
            .enumerate()
        {
            map.insert(ShortKey::from(*key), i as u8);
        }
        assert!(matches!(
            ShortKey::from("acme"),
            ShortKey::Inline { len: 4, .. }
        ));
        assert!(matches!(ShortKey::from(long.as_str()), ShortKey::Heap(_)));
        assert_eq!(map.get("acme".as_bytes()), Some(&1));
        assert_eq!(map.get(long.as_bytes()), Some(&3));
        assert_eq!(map.get("".as_bytes()), Some(&0));
        assert_eq!(map.get("acm".as_bytes()), None);
        assert_eq!(ShortKey::from(long.as_str()).as_str(), long);
    }
}
