//! Per-tenant token buckets with bounded memory: the table behind `limits.per_tenant` and
//! `limits.tiers`.
//!
//! Each tenant has a bucket of `burst` tokens refilled at `rps`; a request takes one, and a
//! request that finds less than one is refused with the time until the next token. The
//! table is split into shards, each behind its own mutex and chosen by the tenant's hash,
//! so workers deciding different tenants rarely meet. The rate is not stored in the bucket
//! but passed with each check, so a reload that changes a tenant's rate takes effect on its
//! next request and the buckets themselves survive the reload.
//!
//! Memory is bounded: a shard holds at most its share of [`CAPACITY`] tenants. A shard that
//! is full first drops every bucket that has refilled to the brim (dropping one changes
//! nothing: a new bucket starts full), then, if every tenant in it is busy, the one seen
//! least recently. Nothing here reads the clock: callers pass `now`, so tests inject it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use strangler_flags::config::limits::Rate;
use strangler_flags::hash::fnv1a64;

/// The most tenants the table tracks at once, over all shards.
pub const CAPACITY: usize = 100_000;
/// Shards: enough that workers rarely contend, few enough that each can evict on its own.
const SHARDS: usize = 64;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// The request took a token.
    Allowed,
    /// The bucket is empty; the next token comes in this long.
    Limited {
        /// Time until one token is back.
        retry_after: Duration,
    },
}

/// One tenant's bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens left, at most the rate's burst.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    updated: Instant,
}

impl Bucket {
    fn full(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            tokens: rate.burst,
            updated: now,
        }
    }

    /// Refills for the time since the last update, capped at the burst.
    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.updated = now;
    }

    /// Whether the bucket would be full by `now`, so dropping it loses nothing.
    fn is_full_by(&self, rate_hint: f64, burst_hint: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens + elapsed * rate_hint >= burst_hint
    }
}

/// One shard: its tenants' buckets and the rate last seen in it, for eviction.
#[derive(Default)]
struct Shard {
    buckets: HashMap<Box<str>, Bucket>,
    /// The slowest rate and largest burst checked in this shard: a bucket idle long enough
    /// to be full at the slowest rate is full at any.
    slowest: Option<Rate>,
}

/// The per-tenant buckets of the whole proxy; shared by every worker and kept across reloads.
pub struct RateLimiter {
    shards: Box<[Mutex<Shard>]>,
    /// Most buckets per shard.
    per_shard: usize,
}

impl Default for RateLimiter {
    fn default() -> RateLimiter {
        RateLimiter::with_capacity(CAPACITY)
    }
}

impl RateLimiter {
    /// A table that tracks at most `capacity` tenants (at least one per shard).
    pub fn with_capacity(capacity: usize) -> RateLimiter {
        let shards = (0..SHARDS).map(|_| Mutex::default()).collect();
        RateLimiter {
            shards,
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// Takes a token from `tenant`'s bucket at `rate`, as of `now`.
    pub fn check(&self, tenant: &str, rate: Rate, now: Instant) -> Verdict {
        let index = (fnv1a64(tenant.as_bytes()) % SHARDS as u64) as usize;
        let mut shard = self.shards[index]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        shard.note_rate(rate);
        if !shard.buckets.contains_key(tenant) {
            if shard.buckets.len() >= self.per_shard {
                shard.evict(now);
            }
            // Allocate the key only for a tenant not seen (or evicted) before.
            shard.buckets.insert(tenant.into(), Bucket::full(rate, now));
        }
        let bucket = shard.buckets.get_mut(tenant).expect("inserted above");
        bucket.refill(rate, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Verdict::Allowed;
        }
        let wait = (1.0 - bucket.tokens) / rate.per_second;
        Verdict::Limited {
            retry_after: Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX),
        }
    }

    /// How many tenants have a bucket now.
    pub fn tracked(&self) -> usize {
        let len = |shard: &Mutex<Shard>| shard.lock().map_or(0, |s| s.buckets.len());
        self.shards.iter().map(len).sum()
    }
}

impl Shard {
    fn note_rate(&mut self, rate: Rate) {
        let slowest = self.slowest.get_or_insert(rate);
        slowest.per_second = slowest.per_second.min(rate.per_second);
        slowest.burst = slowest.burst.max(rate.burst);
    }

    /// Drops the buckets that are full by now; if none is, the least recently updated.
    fn evict(&mut self, now: Instant) {
        let Some(slowest) = self.slowest else {
            return;
        };
        let before = self.buckets.len();
        self.buckets
            .retain(|_, b| !b.is_full_by(slowest.per_second, slowest.burst, now));
        if self.buckets.len() < before {
            return;
        }
        let oldest = self
            .buckets
            .iter()
            .min_by_key(|(_, bucket)| bucket.updated)
            .map(|(tenant, _)| tenant.clone());
        if let Some(tenant) = oldest {
            self.buckets.remove(&tenant);
        }
    }
}

/// Whole seconds a client should wait, as `Retry-After` says it: the wait rounded up, at
/// least 1.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let whole = (wait.as_secs()).saturating_add(u64::from(wait.subsec_nanos() > 0));
    whole.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    impl RateLimiter {
        fn tracks(&self, tenant: &str) -> bool {
            let mut shards = self.shards.iter();
            shards.any(|shard| shard.lock().unwrap().buckets.contains_key(tenant))
        }
    }

    fn rate(per_second: f64, burst: f64) -> Rate {
        Rate { per_second, burst }
    }

    fn allowed(limiter: &RateLimiter, tenant: &str, rate: Rate, now: Instant, n: usize) -> usize {
        (0..n)
            .filter(|_| limiter.check(tenant, rate, now) == Verdict::Allowed)
            .count()
    }

    #[test]
    fn a_new_tenant_gets_its_burst_then_waits_for_the_next_token() {
        let limiter = RateLimiter::default();
        let now = Instant::now();
        let ten = rate(10.0, 20.0);
        assert_eq!(allowed(&limiter, "acme", ten, now, 25), 20);
        match limiter.check("acme", ten, now) {
            Verdict::Limited { retry_after } => {
                assert_eq!(retry_after, Duration::from_millis(100))
            }
            Verdict::Allowed => panic!("the bucket is empty"),
        }
    }

    #[test]
    fn tokens_come_back_at_the_rate_up_to_the_burst() {
        let limiter = RateLimiter::default();
        let start = Instant::now();
        let ten = rate(10.0, 20.0);
        assert_eq!(allowed(&limiter, "acme", ten, start, 20), 20);
        let later = start + Duration::from_millis(500);
        assert_eq!(allowed(&limiter, "acme", ten, later, 20), 5);
        let much_later = later + Duration::from_secs(3600);
        assert_eq!(allowed(&limiter, "acme", ten, much_later, 30), 20);
    }

    #[test]
    fn tenants_do_not_share_a_bucket() {
        let limiter = RateLimiter::default();
        let now = Instant::now();
        let one = rate(1.0, 1.0);
        assert_eq!(allowed(&limiter, "noisy", one, now, 10), 1);
        assert_eq!(allowed(&limiter, "quiet", one, now, 1), 1);
    }

    #[test]
    fn a_lower_burst_after_a_reload_caps_the_tokens_left() {
        let limiter = RateLimiter::default();
        let now = Instant::now();
        assert_eq!(allowed(&limiter, "acme", rate(1.0, 100.0), now, 1), 1);
        assert_eq!(allowed(&limiter, "acme", rate(1.0, 3.0), now, 10), 3);
    }

    #[test]
    fn an_evicted_idle_tenant_starts_with_a_full_bucket() {
        let limiter = RateLimiter::with_capacity(SHARDS);
        let start = Instant::now();
        let two = rate(1.0, 2.0);
        assert_eq!(allowed(&limiter, "idle", two, start, 2), 2);
        let later = start + Duration::from_secs(10);
        for n in 0..SHARDS * 4 {
            limiter.check(&format!("busy-{n}"), two, later);
        }
        assert!(limiter.tracked() <= SHARDS, "{} tracked", limiter.tracked());
        assert!(
            !limiter.tracks("idle"),
            "the idle tenant's full bucket was dropped"
        );
        assert_eq!(allowed(&limiter, "idle", two, later, 5), 2);
    }

    #[test]
    fn the_table_never_grows_past_its_capacity() {
        let limiter = RateLimiter::with_capacity(SHARDS * 2);
        let now = Instant::now();
        for n in 0..SHARDS * 50 {
            limiter.check(&format!("t{n}"), rate(1.0, 5.0), now);
        }
        assert!(
            limiter.tracked() <= SHARDS * 2,
            "{} tracked",
            limiter.tracked()
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::from_millis(100)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_seconds(Duration::from_millis(2001)), 3);
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::MAX), u64::MAX);
    }

    #[test]
    fn a_vanishingly_small_rate_limits_without_panicking() {
        let limiter = RateLimiter::default();
        let rate = rate(1e-300, 1.0);
        let now = Instant::now();
        assert_eq!(limiter.check("t", rate, now), Verdict::Allowed);
        assert!(matches!(
            limiter.check("t", rate, now),
            Verdict::Limited { .. }
        ));
    }
}
