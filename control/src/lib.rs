//! The control plane's store of strangler, in SQLite or PostgreSQL: the runtime flags
//! (what release managers and on-call engineers change without editing routes.yaml: a
//! route's percentage, tenant sides in bulk, kill switches, the shadow sample, scheduled
//! ramps), their audit log, and the shadow comparisons ([`diffs`]), so all of it survives
//! restarts and reaches every proxy instance sharing the store. This crate alone opens the
//! database and migrates it ([`Database`]); the flag store and the diff store are views of
//! its one pool.
//!
//! - [`Store::apply`] checks a [`Change`] and commits it with its [`AuditEntry`] (who,
//!   when, before, after, comment) in one transaction; [`Store::revert`] undoes an entry
//!   with a new one. The audit table is append-only (the database refuses edits).
//! - Instances poll [`Store::version`] and reload [`Store::overrides`] when it moved; on
//!   PostgreSQL they also follow [`Store::changes`] (LISTEN/NOTIFY) to read a change at once.
//! - [`fold`] combines a route's routes.yaml values ([`FileRoute`]) with the overrides
//!   into its [`EffectiveRoute`], each value tagged with its [`Source`].
//! - [`Schedule::effective_percent`] is a pure function of the stored schedule and the
//!   clock, identical on every instance.
//! - [`Rollups`] keeps per route and hour what each side served, summed over a fleet;
//!   [`readiness::assess`] turns them, the flags and the audit log into a verdict.
//!
//! # Overrides and routes.yaml
//!
//! routes.yaml is the reviewed baseline; a runtime override of a value keeps winning
//! when a later routes.yaml changes that same value, until the override is cleared
//! (`ClearPercent`, `ClearTenant(s)`, `ClearShadowSample`, `ClearSchedule`, `Unkill`, or
//! `Reset` for the whole route) or reverted. [`fold`] shows which source decides each
//! value, so a file edit that does not take effect is visible rather than silent; the
//! GitOps path is to fold the overrides into the file (`strangler flags export`), merge,
//! then `Reset` the route. Overrides of a route the file no longer has stay stored and
//! apply again if the route comes back; changes to unknown routes are refused.
//!
//! # Decision order
//!
//! The global kill switch, then the route's kill switch, send everything to legacy before
//! any other rule; then tenant sides (runtime over file), then the percentage (schedule
//! once started, else the runtime percent, else the file).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod audit;
pub mod change;
pub mod effective;
pub mod error;
mod identity;
pub mod overrides;
pub mod percent;
pub mod ramp;
pub mod readiness;
pub mod schedule;
mod store;
#[cfg(feature = "testing")]
pub mod testing;

pub use audit::{AuditEntry, FlagState};
pub use change::{Change, Subject};
pub use effective::{fold, fold_counted, EffectiveRoute, FileRoute, Source, Sourced};
pub use error::{ControlError, FileProblem};
pub use identity::Identity;
pub use overrides::{Overrides, RouteOverrides, RouteSetBy};
pub use percent::PercentBp;
pub use ramp::Ramp;
pub use schedule::{AtStep, Every, RepeatStep, Schedule, Step};
pub use store::{diffs, ChangeFeed, Database, Rollups, SharedDatabase, Store, CHANNEL};
