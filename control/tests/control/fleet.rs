//! Several instances sharing one store: a change through one is seen through the others,
//! and concurrent changes all land, one at a time.

use std::time::Duration;

use strangler_control::Change;
use strangler_flags::Side;

use crate::support::{apply, databases, r, Kind};

#[tokio::test]
async fn a_change_through_one_store_is_seen_through_another() {
    for db in databases().await {
        let (one, two) = (db.store().await, db.store().await);
        let seen = two.version().await.unwrap();
        let entry = apply(
            &one,
            Change::Kill {
                route: r("invoices"),
            },
        )
        .await
        .unwrap();
        assert!(
            two.version().await.unwrap() > seen,
            "{:?}: version moved",
            db.kind
        );
        let overrides = two.overrides().await.unwrap();
        assert!(overrides.routes["invoices"].killed);
        assert_eq!(overrides.set_by["invoices"].killed, Some(entry.id));
        assert_eq!(two.audit(None, 1).await.unwrap()[0], entry);
        db.finish().await;
    }
}

#[tokio::test]
async fn concurrent_changes_from_two_stores_all_land() {
    for db in databases().await {
        let stores = [db.store().await, db.store().await];
        let mut tasks = Vec::new();
        for i in 0..40 {
            let store = stores[i % 2].clone();
            tasks.push(tokio::spawn(async move {
                let tenants = [(format!("tenant-{i}"), Side::New)].into();
                apply(
                    &store,
                    Change::SetTenants {
                        route: r("invoices"),
                        tenants,
                    },
                )
                .await
            }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let overrides = stores[1].overrides().await.unwrap();
        assert_eq!(overrides.version, 40);
        assert_eq!(
            overrides.routes["invoices"].tenants.len(),
            40,
            "no lost update"
        );
        db.finish().await;
    }
}

#[tokio::test]
async fn a_committed_change_is_notified_to_listeners_on_postgresql_and_a_refused_one_is_not() {
    for db in databases().await {
        let (one, two) = (db.store().await, db.store().await);
        let Some(mut feed) = two.changes().await.unwrap() else {
            assert_eq!(db.kind, Kind::Sqlite, "only SQLite has no feed");
            db.finish().await;
            continue;
        };
        // Refused inside the transaction, after the version was bumped: rolled back.
        assert!(one.revert(999, "alice", None).await.is_err());
        let quiet = tokio::time::timeout(Duration::from_millis(200), feed.changed()).await;
        assert!(quiet.is_err(), "nothing was committed, nothing notified");
        let kill = Change::Kill {
            route: r("invoices"),
        };
        apply(&one, kill).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), feed.changed())
            .await
            .expect("notified within 5 s")
            .unwrap();
        db.finish().await;
    }
}
