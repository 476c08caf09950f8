//! A route's tenant overrides (tenant -> side), laid out so that a decision reads one
//! cache line for them: an open-addressing table of 64-byte buckets, each holding four
//! 16-byte entries with the tenant id inline (up to [`TenantOverrides::INLINE`] bytes).
//!
//! Why not a `HashMap`: a profile of `decide` at 1,000,000 overrides put two thirds of the
//! override lookup on two cache misses, one on hashbrown's control bytes and one on the
//! bucket holding the key. Here the bucket is the only line read: a tenant short enough to
//! be inline is compared, with its length, in one 16-byte word per entry; a longer one is
//! kept in a side array and only read when its 32-bit fingerprint and length match.
//!
//! The table is built whole (routes.yaml, or the control plane replacing a route's
//! overrides) and never changed, so there are no deletions: a key lives in the first free
//! entry from its home bucket on, and a lookup stops at the first free entry it meets.
//! Buckets are half full on average (two overrides each, 32 bytes per override), so most
//! lookups end in their home bucket. Keys come from routes.yaml and the control plane, never
//! from requests, so [`MapHasher`] is enough (see `hash.rs`).

use std::hash::Hasher;

use crate::hash::MapHasher;
use crate::Side;

/// Bytes of one entry: a tag, the key or where it is, and the side.
const ENTRY: usize = 16;
/// Entries per bucket: one 64-byte cache line.
const PER_BUCKET: usize = 4;
/// Overrides per bucket the table is sized for (half full).
const LOAD: usize = 2;
/// Tag of an entry whose key lives in the side array.
const SPILLED: u8 = 0xFF;
/// Every byte of an entry but its side, the last.
const KEY_BYTES: u128 = u128::MAX >> 8;

/// One cache line of entries. An entry is `[tag, key.., side]`: tag 0 is free, `1 + len`
/// an inline key of `len` bytes (zero padded), [`SPILLED`] a key in the side array with
/// its fingerprint, offset and length in bytes 1..13; the side is 1 (legacy) or 2 (new).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Bucket([[u8; ENTRY]; PER_BUCKET]);

/// A route's tenant overrides; see the module doc.
#[derive(Clone, Default)]
pub struct TenantOverrides {
    buckets: Box<[Bucket]>,
    /// The keys longer than [`TenantOverrides::INLINE`] bytes, end to end.
    spilled: Box<[u8]>,
}

/// How a lookup compares a key against an entry, made once per lookup.
enum Probe<'k> {
    /// The whole entry but its side, as the key's inline entry would be.
    Inline(u128),
    /// A long key with its fingerprint.
    Spilled(&'k [u8], u32),
}

impl TenantOverrides {
    /// The longest tenant id kept in its entry; longer ones cost a second read on a match.
    pub const INLINE: usize = ENTRY - 2;

    /// The side set for `tenant`, if any.
    #[inline]
    pub fn get(&self, tenant: &[u8]) -> Option<Side> {
        if self.buckets.is_empty() {
            return None;
        }
        let hash = hash(tenant);
        let probe = Probe::of(tenant, hash);
        let mut index = self.home(hash);
        loop {
            for entry in &self.buckets[index].0 {
                if entry[0] == 0 {
                    return None;
                }
                if matches(entry, &probe, &self.spilled) {
                    return Some(side_of(entry[ENTRY - 1]));
                }
            }
            index = (index + 1) % self.buckets.len();
        }
    }

    /// Every (tenant, side), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Side)> + '_ {
        self.buckets
            .iter()
            .flat_map(|bucket| &bucket.0)
            .filter(|entry| entry[0] != 0)
            .map(|entry| (self.key_of(entry), side_of(entry[ENTRY - 1])))
    }

    /// The bucket a key hashing to `hash` starts from (Lemire's multiply-shift range).
    fn home(&self, hash: u64) -> usize {
        ((u128::from(hash) * self.buckets.len() as u128) >> 64) as usize
    }

    fn key_of<'t>(&'t self, entry: &'t [u8; ENTRY]) -> &'t str {
        let key = match entry[0] {
            SPILLED => spilled_key(entry, &self.spilled),
            tag => &entry[1..usize::from(tag)],
        };
        std::str::from_utf8(key).expect("a key is made from a str")
    }
}

impl<'k> Probe<'k> {
    fn of(key: &'k [u8], hash: u64) -> Probe<'k> {
        if key.len() > TenantOverrides::INLINE {
            return Probe::Spilled(key, hash as u32);
        }
        let mut entry = [0; ENTRY];
        entry[0] = key.len() as u8 + 1;
        entry[1..=key.len()].copy_from_slice(key);
        Probe::Inline(u128::from_le_bytes(entry))
    }
}

impl<K: AsRef<str>> FromIterator<(K, Side)> for TenantOverrides {
    /// The table of `sides`; a tenant given twice keeps its last side, as a map would.
    fn from_iter<I: IntoIterator<Item = (K, Side)>>(sides: I) -> TenantOverrides {
        let sides: Vec<(K, Side)> = sides.into_iter().collect();
        let mut table = TenantOverrides {
            buckets: vec![Bucket([[0; ENTRY]; PER_BUCKET]); sides.len().div_ceil(LOAD)].into(),
            spilled: Box::default(),
        };
        let mut spilled = Vec::new();
        for (tenant, side) in &sides {
            table.insert(tenant.as_ref().as_bytes(), *side, &mut spilled);
        }
        table.spilled = spilled.into();
        table
    }
}

impl TenantOverrides {
    /// Sets `key`'s side, in its entry if it has one, else in the first free entry from its
    /// home bucket on. `spilled` is the side array being built.
    fn insert(&mut self, key: &[u8], side: Side, spilled: &mut Vec<u8>) {
        let hash = hash(key);
        let probe = Probe::of(key, hash);
        let mut index = self.home(hash);
        loop {
            for slot in 0..PER_BUCKET {
                let entry = self.buckets[index].0[slot];
                if entry[0] == 0 {
                    self.buckets[index].0[slot] = new_entry(key, hash, side, spilled);
                    return;
                }
                if matches(&entry, &probe, spilled) {
                    self.buckets[index].0[slot][ENTRY - 1] = side_byte(side);
                    return;
                }
            }
            index = (index + 1) % self.buckets.len();
        }
    }
}

/// Whether `entry` holds the probed key; `spilled` is the side array. An inline key is
/// compared in one word; a long one only when the fingerprint matches.
#[inline]
fn matches(entry: &[u8; ENTRY], probe: &Probe<'_>, spilled: &[u8]) -> bool {
    match *probe {
        Probe::Inline(word) => (u128::from_le_bytes(*entry) ^ word) & KEY_BYTES == 0,
        Probe::Spilled(key, fingerprint) => {
            entry[0] == SPILLED
                && word_at(entry, 1) == fingerprint
                && spilled_key(entry, spilled) == key
        }
    }
}

/// The key of a [`SPILLED`] entry in the side array `spilled`.
fn spilled_key<'s>(entry: &[u8; ENTRY], spilled: &'s [u8]) -> &'s [u8] {
    let start = word_at(entry, 5) as usize;
    &spilled[start..start + word_at(entry, 9) as usize]
}

/// The entry for `key`, appending the key to `spilled` when it is too long to be inline.
fn new_entry(key: &[u8], hash: u64, side: Side, spilled: &mut Vec<u8>) -> [u8; ENTRY] {
    let mut entry = match Probe::of(key, hash) {
        Probe::Inline(word) => word.to_le_bytes(),
        Probe::Spilled(_, fingerprint) => {
            let mut entry = [0; ENTRY];
            entry[0] = SPILLED;
            entry[1..5].copy_from_slice(&fingerprint.to_le_bytes());
            entry[5..9].copy_from_slice(&to_u32(spilled.len()).to_le_bytes());
            entry[9..13].copy_from_slice(&to_u32(key.len()).to_le_bytes());
            spilled.extend_from_slice(key);
            entry
        }
    };
    entry[ENTRY - 1] = side_byte(side);
    entry
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).expect("tenant overrides fit in 4 GiB")
}

fn word_at(entry: &[u8; ENTRY], at: usize) -> u32 {
    u32::from_le_bytes(entry[at..at + 4].try_into().expect("4 bytes"))
}

fn hash(key: &[u8]) -> u64 {
    let mut hasher = MapHasher::default();
    hasher.write(key);
    hasher.finish()
}

fn side_byte(side: Side) -> u8 {
    match side {
        Side::Legacy => 1,
        Side::New => 2,
    }
}

fn side_of(byte: u8) -> Side {
    if byte == 2 {
        Side::New
    } else {
        Side::Legacy
    }
}

impl std::fmt::Debug for TenantOverrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    /// Tenant ids around the inline limit, some repeated, from a small alphabet so that
    /// lookups of absent ids share prefixes and lengths with present ones.
    fn tenant() -> impl Strategy<Value = String> {
        "[a-c0-9._-]{0,40}"
    }

    fn side() -> impl Strategy<Value = Side> {
        prop_oneof![Just(Side::Legacy), Just(Side::New)]
    }

    proptest! {
        #[test]
        fn agrees_with_a_map_on_every_lookup(
            sides in prop::collection::vec((tenant(), side()), 0..300),
            absent in prop::collection::vec(tenant(), 0..100),
        ) {
            let map: HashMap<&str, Side> = sides.iter().map(|(t, s)| (t.as_str(), *s)).collect();
            let table: TenantOverrides = sides.iter().map(|(t, s)| (t.as_str(), *s)).collect();
            prop_assert_eq!(table.iter().count(), map.len());
            for tenant in sides.iter().map(|(t, _)| t).chain(&absent) {
                prop_assert_eq!(table.get(tenant.as_bytes()), map.get(tenant.as_str()).copied());
            }
            let listed: HashMap<&str, Side> = table.iter().collect();
            prop_assert_eq!(listed, map);
        }
    }

    #[test]
    fn inline_and_spilled_keys_are_told_apart_by_length_and_bytes() {
        let long = "t".repeat(TenantOverrides::INLINE + 1);
        let inline = "t".repeat(TenantOverrides::INLINE);
        let table: TenantOverrides = [(long.as_str(), Side::New), ("", Side::Legacy)]
            .into_iter()
            .collect();
        assert_eq!(table.get(long.as_bytes()), Some(Side::New));
        assert_eq!(table.get(b""), Some(Side::Legacy));
        assert_eq!(table.get(inline.as_bytes()), None);
        assert_eq!(table.get(&long.as_bytes()[1..]), None);
        assert_eq!(table.get(b"\0"), None);
    }

    #[test]
    fn an_empty_table_finds_nothing_and_allocates_nothing() {
        let table: TenantOverrides = std::iter::empty::<(&str, Side)>().collect();
        assert_eq!(table.get(b"acme"), None);
        assert!(table.buckets.is_empty() && table.iter().next().is_none());
    }

    #[test]
    fn a_table_is_two_overrides_per_cache_line() {
        let table: TenantOverrides = (0..1_000)
            .map(|i| (format!("tenant-{i}"), Side::New))
            .collect();
        assert_eq!(std::mem::size_of::<Bucket>(), 64);
        assert_eq!(table.buckets.len(), 500);
        assert_eq!(table.get(b"tenant-999"), Some(Side::New));
    }
}
