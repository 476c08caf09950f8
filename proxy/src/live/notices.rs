//! The notices of flag changes: an audit entry this instance just wrote becomes the
//! notification of its event (`kill`, `unkill`, `guard-trip`, `ramp-step`, `revert`), with
//! the id `audit-<entry>`. Only the instance whose transaction wrote the entry gets here,
//! so a fleet sends one notification per change.

use serde_json::json;
use strangler_control::{AuditEntry, Change};
use strangler_flags::config::notify::Event;

use crate::telemetry::notify::{Notice, Notifier};

/// Sends the notice of `entry`, if its change is an event.
pub fn from_entry(notifier: &Notifier, entry: &AuditEntry) {
    let Some(event) = event_of(&entry.change) else {
        return;
    };
    if !notifier.wants(event) {
        return;
    }
    let subject = entry.route.as_deref().unwrap_or("every route");
    let comment = entry
        .comment
        .as_deref()
        .map(|c| format!(": {c}"))
        .unwrap_or_default();
    let summary = format!("{} by {} on {subject}{comment}", event.code(), entry.actor);
    notifier.send(Notice {
        event,
        id: format!("audit-{}", entry.id),
        at: entry.at,
        route: entry.route.clone(),
        summary,
        details: json!({ "audit": entry }),
    });
}

fn event_of(change: &Change) -> Option<Event> {
    Some(match change {
        Change::Kill { .. } | Change::KillAll => Event::Kill,
        Change::Unkill { .. } | Change::UnkillAll => Event::Unkill,
        Change::GuardTrip { .. } => Event::GuardTrip,
        Change::AdvanceRamp { .. } => Event::RampStep,
        Change::Revert { .. } => Event::Revert,
        _ => return None,
    })
}
