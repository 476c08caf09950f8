//! The audit log: one entry per change, with who, when, what was asked, the flags before
//! and after, and an optional comment. Entries are only ever inserted (the database
//! refuses UPDATE and DELETE on the table); a revert is a new entry whose `reverts` names
//! the entry it undid, and `reverted_by` is read back from that link.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::change::Change;
use crate::overrides::RouteOverrides;

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Increasing with every change; what `revert` takes.
    pub id: i64,
    /// When the change was committed (the writing instance's clock, millisecond precision).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who made it, as the admin API authenticated them.
    pub actor: String,
    /// The route it touched, or None for the global kill switch.
    pub route: Option<String>,
    /// The change as asked for.
    pub change: Change,
    /// The touched flags before the change.
    pub before: FlagState,
    /// The touched flags after the change.
    pub after: FlagState,
    /// Why, in the operator's words.
    pub comment: Option<String>,
    /// The entry this one reverted, for a revert.
    pub reverts: Option<i64>,
    /// The later entry that reverted this one, if any.
    pub reverted_by: Option<i64>,
}

/// The flags one change touches: a route's overrides, or the global switch. In JSON,
/// `{"route": {...}}` or `{"global": {"kill": true}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagState {
    /// All runtime overrides of the route.
    Route(RouteOverrides),
    /// The global flags.
    Global {
        /// The global kill switch.
        kill: bool,
    },
}
