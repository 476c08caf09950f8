//! The rollback guard's trips the flag store has not recorded yet, and the kill switch each
//! one holds in this process meanwhile.
//!
//! A guard that trips while the store is down cannot record its kill switch, so this
//! instance holds it on its own: the kill is folded over every set of overrides applied,
//! whether read from the store or from the flag cache, until the guard's write succeeds.
//! The held trips are written to the flag cache with the overrides, and read back from it at
//! every start (reachable store or not), so a restart during the outage, or after it but
//! before the write, keeps the route on legacy and the guard records the trip once it can.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use strangler_control::Overrides;
use strangler_flags::guard::Breach;
use time::OffsetDateTime;

/// One trip the store has not recorded: what the guard will write when it can.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeldTrip {
    /// When the breach was seen.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The figures and thresholds the audit entry will carry.
    pub breach: Breach,
}

/// The held trips, by route name.
pub type Held = BTreeMap<String, HeldTrip>;

/// The trips this instance holds (locked only for a copy or an insert, never across an await).
#[derive(Default)]
pub struct HeldTrips {
    trips: Mutex<Held>,
}

impl HeldTrips {
    /// Starts with the trips read from the flag cache.
    pub fn new(trips: Held) -> HeldTrips {
        HeldTrips {
            trips: Mutex::new(trips),
        }
    }

    /// Holds `trip` for `route`, replacing an older one.
    pub fn hold(&self, route: &str, trip: HeldTrip) {
        self.lock().insert(route.to_owned(), trip);
    }

    /// Forgets the trip of `route`: the store recorded it (or had the kill switch on already).
    /// False when there was none.
    pub fn release(&self, route: &str) -> bool {
        self.lock().remove(route).is_some()
    }

    /// The trips held now.
    pub fn all(&self) -> Held {
        self.lock().clone()
    }

    /// `overrides` with the kill switch of every held route on.
    pub fn fold(&self, mut overrides: Overrides) -> Overrides {
        for route in self.lock().keys() {
            overrides.routes.entry(route.clone()).or_default().killed = true;
        }
        overrides
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.trips.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use strangler_flags::guard::{Exceeded, Figures, Limits};

    use super::*;

    fn trip() -> HeldTrip {
        HeldTrip {
            at: OffsetDateTime::UNIX_EPOCH,
            breach: Breach {
                exceeded: vec![Exceeded::ErrorRate],
                figures: Figures {
                    requests: 20,
                    errors: 20,
                    error_rate: 100.0,
                    p95_ms: None,
                },
                limits: Limits {
                    max_error_rate: Some(5.0),
                    max_p95_ms: None,
                    window_seconds: 30,
                    min_requests: 20,
                },
            },
        }
    }

    #[test]
    fn a_held_trip_kills_its_route_in_every_overrides_folded_until_released() {
        let held = HeldTrips::default();
        held.hold("invoices", trip());
        let folded = held.fold(Overrides::default());
        assert!(folded.routes["invoices"].killed);
        assert!(held.release("invoices"));
        assert!(!held.release("invoices"), "released once");
        assert_eq!(held.fold(Overrides::default()), Overrides::default());
    }
}
