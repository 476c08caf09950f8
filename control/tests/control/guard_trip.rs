//! The rollback guard's change: one audited entry that turns the kill switch on and pauses
//! a running ramp, refused without a write when the kill switch is on already (a second
//! instance tripping on the same route).

use strangler_control::{Change, ControlError, FlagState, Schedule, Store};
use strangler_flags::guard::{Breach, GuardPolicy, WindowCounts};

use crate::support::{apply, databases, r};

/// A breach of 40 failed requests out of 40.
fn breach() -> Breach {
    let policy = GuardPolicy::new(Some(500), None, 10, 20);
    let counts = WindowCounts {
        requests: 40,
        errors: 40,
        ..WindowCounts::default()
    };
    policy.evaluate(&counts).expect("a breach")
}

fn trip() -> Change {
    Change::GuardTrip {
        route: r("invoices"),
        breach: breach(),
    }
}

async fn guard(
    store: &Store,
    change: Change,
) -> Result<strangler_control::AuditEntry, ControlError> {
    let summary = breach().summary();
    store
        .apply(change, "guard", Some(&summary), &crate::support::known)
        .await
}

#[tokio::test]
async fn a_trip_kills_the_route_pauses_its_ramp_and_says_why() {
    for db in databases().await {
        let store = db.store().await;
        let ramp: Schedule = serde_json::from_str(
            r#"{"steps": [{"start": 0, "every": "1h", "step": 5, "until": 100}]}"#,
        )
        .unwrap();
        let schedule = Change::SetSchedule {
            route: r("invoices"),
            schedule: ramp,
        };
        apply(&store, schedule).await.unwrap();
        let entry = guard(&store, trip()).await.unwrap();
        assert_eq!(entry.actor, "guard");
        assert!(entry
            .comment
            .as_deref()
            .unwrap()
            .contains("error rate 100.00%"));
        let FlagState::Route(after) = &entry.after else {
            panic!("a route entry: {entry:?}")
        };
        assert!(after.killed);
        assert!(after.schedule.as_ref().unwrap().paused_at.is_some());
        let overrides = store.overrides().await.unwrap();
        assert!(overrides.routes["invoices"].killed);
        assert_eq!(overrides.set_by["invoices"].killed, Some(entry.id));
        db.finish().await;
    }
}

#[tokio::test]
async fn a_second_trip_while_killed_writes_nothing() {
    for db in databases().await {
        let store = db.store().await;
        guard(&store, trip()).await.unwrap();
        let version = store.version().await.unwrap();
        let again = guard(&store, trip()).await;
        assert!(
            matches!(again, Err(ControlError::AlreadyKilled(ref route)) if route == "invoices"),
            "{again:?}"
        );
        assert_eq!(store.version().await.unwrap(), version);
        assert_eq!(store.audit(Some("invoices"), 10).await.unwrap().len(), 1);
        db.finish().await;
    }
}
