//! The readiness rollup's counters in memory: per route, the requests each side served,
//! fallbacks, shadow comparisons and matches since the last flush. The request path and
//! the shadow runtime only add to atomics ([`RouteTally`], one per route, handed out once
//! per snapshot with the metric handles); the flusher (`readiness::flusher`) takes the
//! counts with [`Rollup::take`] and adds them to the store's row of the hour, giving them
//! back ([`Rollup::give_back`]) when the store refused them.
//!
//! Tallies are kept by route name for the life of the instance ([`Rollup`]), so a reload
//! or a flag change loses no count and a route renamed away keeps its last counts until
//! they are flushed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use strangler_control::readiness::Counts;
use strangler_flags::Side;
use strangler_shadow::Verdict;

/// One route's counts since the last flush; only ever added to on the request path.
#[derive(Debug, Default)]
pub struct RouteTally {
    served_new: AtomicU64,
    served_legacy: AtomicU64,
    fallbacks: AtomicU64,
    comparisons: AtomicU64,
    matches: AtomicU64,
}

impl RouteTally {
    /// Counts a finished request by the side that answered it.
    pub fn served(&self, side: Side) {
        let counter = match side {
            Side::New => &self.served_new,
            Side::Legacy => &self.served_legacy,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request decided for the new side that legacy answered.
    pub fn fallback(&self) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a shadow comparison by its verdict, as the shadow report counts them:
    /// match and noise-only matched, mismatch and unsettled did not, skips and failed
    /// calls are no comparison.
    pub fn compared(&self, verdict: Verdict) {
        let matched = match verdict {
            Verdict::Match | Verdict::NoiseOnly => true,
            Verdict::Mismatch | Verdict::Unsettled => false,
            Verdict::Skipped | Verdict::PrimaryError | Verdict::ShadowError => return,
        };
        self.comparisons.fetch_add(1, Ordering::Relaxed);
        if matched {
            self.matches.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counts so far, leaving zero behind.
    fn take(&self) -> Counts {
        let take = |counter: &AtomicU64| counter.swap(0, Ordering::Relaxed);
        Counts {
            served_new: take(&self.served_new),
            served_legacy: take(&self.served_legacy),
            fallbacks: take(&self.fallbacks),
            comparisons: take(&self.comparisons),
            matches: take(&self.matches),
        }
    }

    /// Adds `counts` back (a flush that failed).
    fn give_back(&self, counts: &Counts) {
        let add = |counter: &AtomicU64, n: u64| counter.fetch_add(n, Ordering::Relaxed);
        add(&self.served_new, counts.served_new);
        add(&self.served_legacy, counts.served_legacy);
        add(&self.fallbacks, counts.fallbacks);
        add(&self.comparisons, counts.comparisons);
        add(&self.matches, counts.matches);
    }
}

/// Every route's tally of one instance, by name. The lock is taken when a snapshot is
/// published and when the flusher runs, never by a request.
#[derive(Debug, Default)]
pub struct Rollup {
    routes: Mutex<HashMap<Arc<str>, Arc<RouteTally>>>,
}

impl Rollup {
    /// The tally of `route`, created on first use.
    pub fn tally(&self, route: &str) -> Arc<RouteTally> {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        routes.entry(route.into()).or_default().clone()
    }

    /// Every route's counts since the last take, leaving zeros; routes without any left out.
    pub fn take(&self) -> Vec<(Arc<str>, Counts)> {
        let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        routes
            .iter()
            .map(|(route, tally)| (route.clone(), tally.take()))
            .filter(|(_, counts)| !counts.is_empty())
            .collect()
    }

    /// Adds counts taken by [`Rollup::take`] back, for the next flush.
    pub fn give_back(&self, taken: &[(Arc<str>, Counts)]) {
        for (route, counts) in taken {
            self.tally(route).give_back(counts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_taken_leave_zero_and_counts_given_back_are_taken_again() {
        let rollup = Rollup::default();
        let tally = rollup.tally("invoices");
        tally.served(Side::New);
        tally.served(Side::Legacy);
        tally.fallback();
        tally.compared(Verdict::Match);
        tally.compared(Verdict::Mismatch);
        tally.compared(Verdict::ShadowError);
        let taken = rollup.take();
        let expected = Counts {
            served_new: 1,
            served_legacy: 1,
            fallbacks: 1,
            comparisons: 2,
            matches: 1,
        };
        assert_eq!(taken, vec![(Arc::from("invoices"), expected)]);
        assert!(rollup.take().is_empty());
        rollup.give_back(&taken);
        assert_eq!(rollup.take(), taken);
    }
}
