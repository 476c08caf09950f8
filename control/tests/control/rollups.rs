//! The readiness rollup on both databases: two instances adding to the same hour sum
//! rather than overwrite, rows read back from an hour on, the audit log read back since a
//! time, and rows past the retention pruned.

use strangler_control::readiness::{hour_of, Counts};
use strangler_control::{Change, Database};
use time::{Duration, OffsetDateTime};

use crate::support::{apply, databases, r};

fn counts(new: u64, legacy: u64, fallbacks: u64) -> Counts {
    Counts {
        served_new: new,
        served_legacy: legacy,
        fallbacks,
        comparisons: new,
        matches: new / 2,
    }
}

#[tokio::test]
async fn two_instances_adding_to_one_hour_sum_their_counts() {
    for db in databases().await {
        let (one, two) = (
            Database::connect(&db.url).await.unwrap().rollups(),
            Database::connect(&db.url).await.unwrap().rollups(),
        );
        let now = OffsetDateTime::now_utc();
        one.add(
            now,
            &[("invoices", counts(10, 5, 1)), ("pdf", counts(1, 0, 0))],
        )
        .await
        .unwrap();
        two.add(now, &[("invoices", counts(20, 5, 2))])
            .await
            .unwrap();
        let rows = one.since(now - Duration::hours(1)).await.unwrap();
        let invoices: Vec<_> = rows.iter().filter(|r| r.route == "invoices").collect();
        assert_eq!(
            invoices.len(),
            1,
            "{:?}: one row per route and hour",
            db.kind
        );
        assert_eq!(invoices[0].hour, hour_of(now));
        assert_eq!(invoices[0].counts, counts(30, 10, 3), "{:?}", db.kind);
        assert_eq!(rows.len(), 2);
        db.finish().await;
    }
}

#[tokio::test]
async fn rows_are_read_from_an_hour_on_and_pruned_past_the_retention() {
    for db in databases().await {
        let rollups = Database::connect(&db.url).await.unwrap().rollups();
        let now = OffsetDateTime::now_utc();
        for days in [0, 10, 100] {
            let at = now - Duration::days(days);
            rollups
                .add(at, &[("invoices", counts(1, 0, 0))])
                .await
                .unwrap();
        }
        let recent = rollups.since(now - Duration::days(30)).await.unwrap();
        assert_eq!(recent.len(), 2, "{:?}", db.kind);
        assert!(recent[0].hour < recent[1].hour, "oldest first");
        let pruned = rollups.prune(now - Duration::days(90)).await.unwrap();
        assert_eq!(pruned, 1, "{:?}", db.kind);
        assert_eq!(
            rollups
                .since(now - Duration::days(365))
                .await
                .unwrap()
                .len(),
            2
        );
        db.finish().await;
    }
}

#[tokio::test]
async fn the_audit_log_is_read_back_since_a_time_with_global_entries() {
    for db in databases().await {
        let store = db.store().await;
        let before = OffsetDateTime::now_utc() - Duration::seconds(1);
        apply(
            &store,
            Change::Kill {
                route: r("invoices"),
            },
        )
        .await
        .unwrap();
        apply(&store, Change::KillAll).await.unwrap();
        let entries = store.audit_since(before).await.unwrap();
        assert_eq!(entries.len(), 2, "{:?}", db.kind);
        assert_eq!(entries[1].route, None, "the global entry, oldest first");
        let later = OffsetDateTime::now_utc() + Duration::minutes(1);
        assert!(store.audit_since(later).await.unwrap().is_empty());
        db.finish().await;
    }
}
