//! The audit log: reverts, refusals to revert over newer changes, durability across
//! reconnects, and the append-only table.

use strangler_control::{Change, ControlError, FlagState, Store};
use strangler_flags::Side;

use crate::support::{apply, databases, r, tenants, Kind};

#[tokio::test]
async fn revert_restores_before_and_records_a_new_entry() {
    for db in databases().await {
        let store = db.store().await;
        let first = apply(
            &store,
            Change::SetPercent {
                route: r("invoices"),
                percent: 10.0,
            },
        )
        .await
        .unwrap();
        let second = apply(
            &store,
            Change::SetPercent {
                route: r("invoices"),
                percent: 30.0,
            },
        )
        .await
        .unwrap();

        let err = store.revert(first.id, "bob", None).await.unwrap_err();
        assert!(
            matches!(err, ControlError::RevertConflict { changed_by: Some(id), .. } if id == second.id),
            "{err}"
        );

        let revert = store
            .revert(second.id, "bob", Some("too fast"))
            .await
            .unwrap();
        assert_eq!(revert.reverts, Some(second.id));
        assert_eq!(revert.before, second.after);
        assert_eq!(revert.after, second.before);
        assert_eq!(revert.actor, "bob");
        let now = store.overrides().await.unwrap();
        assert_eq!(
            now.routes["invoices"].percent.unwrap().basis_points(),
            1_000
        );
        assert_eq!(
            now.set_by["invoices"].percent,
            Some(revert.id),
            "the revert set it"
        );

        let log = store.audit(Some("invoices"), 10).await.unwrap();
        assert_eq!(
            log.iter().map(|e| e.id).collect::<Vec<_>>(),
            [revert.id, second.id, first.id]
        );
        assert_eq!(log[1].reverted_by, Some(revert.id));
        assert_eq!(
            log[1].after, second.after,
            "the reverted entry is unchanged"
        );

        let err = store.revert(second.id, "bob", None).await.unwrap_err();
        assert!(
            matches!(err, ControlError::AlreadyReverted { by, .. } if by == revert.id),
            "{err}"
        );
        store.revert(revert.id, "bob", Some("redo")).await.unwrap();
        let now = store.overrides().await.unwrap();
        assert_eq!(
            now.routes["invoices"].percent.unwrap().basis_points(),
            3_000
        );
        db.finish().await;
    }
}

#[tokio::test]
async fn reverting_a_bulk_change_restores_the_tenants_it_found() {
    for db in databases().await {
        let store = db.store().await;
        let first = [(r("acme"), Side::Legacy)].into();
        apply(
            &store,
            Change::SetTenants {
                route: r("invoices"),
                tenants: first,
            },
        )
        .await
        .unwrap();
        let mut bulk = tenants("t", 1_500);
        bulk.insert(r("acme"), Side::New);
        let entry = apply(
            &store,
            Change::SetTenants {
                route: r("invoices"),
                tenants: bulk,
            },
        )
        .await
        .unwrap();
        store.revert(entry.id, "bob", None).await.unwrap();
        let now = store.overrides().await.unwrap();
        assert_eq!(
            now.routes["invoices"].tenants,
            [(r("acme"), Side::Legacy)].into()
        );
        db.finish().await;
    }
}

#[tokio::test]
async fn reverting_the_global_kill_switch() {
    for db in databases().await {
        let store = db.store().await;
        let kill = apply(&store, Change::KillAll).await.unwrap();
        assert_eq!(kill.before, FlagState::Global { kill: false });
        let revert = store.revert(kill.id, "bob", None).await.unwrap();
        assert_eq!(revert.route, None);
        assert!(!store.overrides().await.unwrap().global_kill);
        db.finish().await;
    }
}

#[tokio::test]
async fn overrides_and_audit_survive_reconnecting() {
    for db in databases().await {
        let store = db.store().await;
        apply(
            &store,
            Change::SetPercent {
                route: r("invoices"),
                percent: 12.34,
            },
        )
        .await
        .unwrap();
        apply(
            &store,
            Change::SetTenants {
                route: r("invoice-pdf"),
                tenants: tenants("t", 50),
            },
        )
        .await
        .unwrap();
        apply(
            &store,
            Change::Kill {
                route: r("invoice-pdf"),
            },
        )
        .await
        .unwrap();
        apply(&store, Change::KillAll).await.unwrap();
        let (overrides, log) = (
            store.overrides().await.unwrap(),
            store.audit(None, 10).await.unwrap(),
        );
        drop(store);

        let again = db.store().await;
        assert_eq!(again.overrides().await.unwrap(), overrides);
        assert_eq!(again.audit(None, 10).await.unwrap(), log);
        assert_eq!(again.version().await.unwrap(), 4);
        if db.kind == Kind::Sqlite {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut db.raw().await)
                .await
                .unwrap();
            assert_eq!(mode, "wal");
        }
        db.finish().await;
    }
}

#[tokio::test]
async fn the_audit_table_refuses_edits() {
    for db in databases().await {
        let store: Store = db.store().await;
        apply(
            &store,
            Change::Kill {
                route: r("invoices"),
            },
        )
        .await
        .unwrap();
        let mut raw = db.raw().await;
        for sql in ["UPDATE audit SET actor = 'mallory'", "DELETE FROM audit"] {
            assert!(sqlx::query(sql).execute(&mut raw).await.is_err(), "{sql}");
        }
        assert_eq!(store.audit(None, 10).await.unwrap()[0].actor, "alice");
        db.finish().await;
    }
}
