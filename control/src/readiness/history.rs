//! What the audit log says about a route's past: its rollbacks (a guard trip, a kill switch
//! turned on, the global one too, or a change that lowered the effective percentage) and
//! when its flags last changed.
//!
//! A lowered percentage is judged on the effective value before and after the entry, folded
//! over the route's routes.yaml values as they are now: a schedule cancelled by a lower
//! `set-percent` is a rollback, clearing an override back to a lower file value too.

use time::OffsetDateTime;

use super::Rollback;
use crate::audit::{AuditEntry, FlagState};
use crate::change::Change;
use crate::effective::{fold, FileRoute};
use crate::overrides::{Overrides, RouteOverrides};

/// The newest rollback of `route` among `audit` (any order).
pub(super) fn last_rollback(
    route: &str,
    file: &FileRoute,
    audit: &[AuditEntry],
) -> Option<Rollback> {
    audit
        .iter()
        .filter_map(|entry| rollback(route, file, entry).map(|what| (entry, what)))
        .max_by_key(|(entry, _)| entry.id)
        .map(|(entry, what)| Rollback {
            entry: entry.id,
            at: entry.at,
            what,
        })
}

/// When `route`'s own flags last changed, among `audit`.
pub(super) fn last_change(route: &str, audit: &[AuditEntry]) -> Option<OffsetDateTime> {
    audit
        .iter()
        .filter(|entry| entry.route.as_deref() == Some(route))
        .map(|entry| entry.at)
        .max()
}

/// What `entry` rolled back on `route`, if it was a rollback.
fn rollback(route: &str, file: &FileRoute, entry: &AuditEntry) -> Option<String> {
    match (&entry.before, &entry.after) {
        (FlagState::Global { kill: false }, FlagState::Global { kill: true }) => {
            Some("global kill switch".into())
        }
        (FlagState::Route(before), FlagState::Route(after))
            if entry.route.as_deref() == Some(route) =>
        {
            route_rollback(route, file, entry, before, after)
        }
        _ => None,
    }
}

fn route_rollback(
    route: &str,
    file: &FileRoute,
    entry: &AuditEntry,
    before: &RouteOverrides,
    after: &RouteOverrides,
) -> Option<String> {
    if after.killed && !before.killed {
        return Some(match entry.change {
            Change::GuardTrip { .. } => "guard trip".into(),
            _ => "kill switch".into(),
        });
    }
    let was = effective_percent(route, file, before, entry.at);
    let now = effective_percent(route, file, after, entry.at);
    (now < was).then(|| format!("percent lowered {was} % -> {now} %"))
}

/// The route's percentage with `overrides` folded over `file` at `at`.
fn effective_percent(
    route: &str,
    file: &FileRoute,
    overrides: &RouteOverrides,
    at: OffsetDateTime,
) -> f64 {
    let mut all = Overrides::default();
    all.routes.insert(route.to_owned(), overrides.clone());
    fold(file, &all, route, at).percent.value.as_percent()
}
