//! Every kind of change, bulk tenants, refused changes and a transaction that fails
//! midway, on every configured database.

use std::time::Instant;

use strangler_control::{Change, ControlError, PercentBp, Schedule, Store};
use strangler_flags::Side;

use crate::support::{apply, databases, r, tenants, Db, Kind};

fn bp(value: u16) -> Option<PercentBp> {
    PercentBp::from_basis_points(value)
}

#[tokio::test]
async fn every_change_kind_lands_with_its_audit_entry() {
    for db in databases().await {
        every_change_kind(&db.store().await).await;
        db.finish().await;
    }
}

async fn every_change_kind(store: &Store) {
    let route = || r("invoices");
    let set = apply(
        store,
        Change::SetPercent {
            route: route(),
            percent: 25.5,
        },
    )
    .await
    .unwrap();
    let now = store.overrides().await.unwrap();
    assert_eq!(now.version, 1);
    assert_eq!(now.routes["invoices"].percent, bp(2550));
    assert_eq!(now.set_by["invoices"].percent, Some(set.id));

    let two = [(r("acme"), Side::New), (r("bigcorp"), Side::Legacy)].into();
    apply(
        store,
        Change::SetTenants {
            route: route(),
            tenants: two,
        },
    )
    .await
    .unwrap();
    apply(
        store,
        Change::ClearTenant {
            route: route(),
            tenant: r("acme"),
        },
    )
    .await
    .unwrap();
    let now = store.overrides().await.unwrap();
    assert_eq!(
        now.routes["invoices"].tenants,
        [(r("bigcorp"), Side::Legacy)].into()
    );
    apply(
        store,
        Change::ClearTenants {
            route: route(),
            tenants: vec![r("bigcorp")],
        },
    )
    .await
    .unwrap();
    assert!(store.overrides().await.unwrap().routes["invoices"]
        .tenants
        .is_empty());

    let kill = apply(store, Change::Kill { route: route() }).await.unwrap();
    let now = store.overrides().await.unwrap();
    assert!(now.routes["invoices"].killed);
    assert_eq!(now.set_by["invoices"].killed, Some(kill.id));
    assert_eq!(
        store.audit(Some("invoices"), 1).await.unwrap()[0].change,
        Change::Kill { route: route() }
    );
    apply(store, Change::Unkill { route: route() })
        .await
        .unwrap();
    assert!(!store.overrides().await.unwrap().routes["invoices"].killed);

    let all = apply(store, Change::KillAll).await.unwrap();
    assert_eq!(all.route, None);
    let now = store.overrides().await.unwrap();
    assert!(now.global_kill);
    assert_eq!(now.global_kill_set_by, Some(all.id));
    apply(store, Change::UnkillAll).await.unwrap();
    assert!(!store.overrides().await.unwrap().global_kill);

    apply(
        store,
        Change::SetShadowSample {
            route: route(),
            percent: 10.0,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        store.overrides().await.unwrap().routes["invoices"].shadow_sample,
        bp(1000)
    );
    apply(store, Change::ClearShadowSample { route: route() })
        .await
        .unwrap();
    assert_eq!(
        store.overrides().await.unwrap().routes["invoices"].shadow_sample,
        None
    );

    schedule_changes(store).await;

    apply(store, Change::ClearPercent { route: route() })
        .await
        .unwrap();
    apply(
        store,
        Change::SetTenants {
            route: route(),
            tenants: tenants("t", 3),
        },
    )
    .await
    .unwrap();
    apply(store, Change::Reset { route: route() })
        .await
        .unwrap();
    let now = store.overrides().await.unwrap();
    assert!(!now.routes.contains_key("invoices"), "{now:?}");
    assert_eq!(now.version, 19);
    assert_eq!(store.audit(None, 100).await.unwrap().len(), 19);
}

async fn schedule_changes(store: &Store) {
    let route = || r("invoices");
    let schedule: Schedule =
        serde_json::from_str(r#"{"steps": [{"at": 0, "percent": 40}]}"#).unwrap();
    apply(
        store,
        Change::SetSchedule {
            route: route(),
            schedule,
        },
    )
    .await
    .unwrap();
    apply(store, Change::PauseSchedule { route: route() })
        .await
        .unwrap();
    let paused = store.overrides().await.unwrap().routes["invoices"].clone();
    assert!(paused.schedule.as_ref().unwrap().paused_at.is_some());
    apply(store, Change::ResumeSchedule { route: route() })
        .await
        .unwrap();
    let resumed = store.overrides().await.unwrap().routes["invoices"].clone();
    assert_eq!(resumed.schedule.as_ref().unwrap().paused_at, None);
    apply(store, Change::ClearSchedule { route: route() })
        .await
        .unwrap();
    assert_eq!(
        store.overrides().await.unwrap().routes["invoices"].schedule,
        None
    );

    let schedule = resumed.schedule.unwrap();
    apply(
        store,
        Change::SetSchedule {
            route: route(),
            schedule,
        },
    )
    .await
    .unwrap();
    apply(
        store,
        Change::SetPercent {
            route: route(),
            percent: 5.0,
        },
    )
    .await
    .unwrap();
    let now = store.overrides().await.unwrap();
    assert_eq!(
        now.routes["invoices"].schedule, None,
        "SetPercent cancels the ramp"
    );
    assert_eq!(now.routes["invoices"].percent, bp(500));
}

#[tokio::test]
async fn ten_thousand_tenants_in_one_change() {
    for db in databases().await {
        let store = db.store().await;
        let bulk = tenants("tenant", 10_000);
        let started = Instant::now();
        let entry = apply(
            &store,
            Change::SetTenants {
                route: r("invoices"),
                tenants: bulk.clone(),
            },
        )
        .await
        .unwrap();
        let set = started.elapsed();
        let started = Instant::now();
        let now = store.overrides().await.unwrap();
        let read = started.elapsed();
        assert_eq!(now.version, 1, "one transaction");
        assert_eq!(now.routes["invoices"].tenants, bulk);
        assert!(now.set_by["invoices"]
            .tenants
            .values()
            .all(|id| *id == entry.id));
        assert_eq!(
            store.audit(None, 10).await.unwrap().len(),
            1,
            "one audit entry"
        );
        let started = Instant::now();
        let all: Vec<String> = bulk.keys().cloned().collect();
        apply(
            &store,
            Change::ClearTenants {
                route: r("invoices"),
                tenants: all,
            },
        )
        .await
        .unwrap();
        let cleared = started.elapsed();
        assert!(store.overrides().await.unwrap().routes.is_empty());
        println!(
            "{:?}: set 10000 tenants {set:?}, read them back {read:?}, clear them {cleared:?}",
            db.kind
        );
        db.finish().await;
    }
}

/// Killing a killed route or setting the percent it has is not a change: no audit entry,
/// no new version, and the caller is told so.
#[tokio::test]
async fn a_no_op_is_not_an_audit_entry() {
    for db in databases().await {
        let store = db.store().await;
        let kill = || Change::Kill {
            route: r("invoices"),
        };
        let percent = || Change::SetPercent {
            route: r("invoices"),
            percent: 10.0,
        };
        apply(&store, kill()).await.unwrap();
        apply(&store, percent()).await.unwrap();
        for (change, what) in [(kill(), "kill again"), (percent(), "the same percent")] {
            let err = apply(&store, change).await.expect_err(what);
            assert!(matches!(err, ControlError::Unchanged), "{what}: {err}");
        }
        assert_eq!(store.audit(None, 10).await.unwrap().len(), 2);
        assert_eq!(store.version().await.unwrap(), 2, "no version for a no-op");
        db.finish().await;
    }
}

#[tokio::test]
async fn a_refused_change_writes_nothing() {
    for db in databases().await {
        let store = db.store().await;
        apply(
            &store,
            Change::SetPercent {
                route: r("invoices"),
                percent: 10.0,
            },
        )
        .await
        .unwrap();
        let before = store.overrides().await.unwrap();
        let mut bad_tenants = tenants("ok", 100);
        bad_tenants.insert(r("bad tenant!"), Side::New);
        let refused = [
            (Change::Kill { route: r("nope") }, "unknown route"),
            (
                Change::SetPercent {
                    route: r("invoices"),
                    percent: 101.0,
                },
                "percent 101",
            ),
            (
                Change::SetShadowSample {
                    route: r("invoices"),
                    percent: 1.005,
                },
                "three decimals",
            ),
            (
                Change::SetTenants {
                    route: r("invoices"),
                    tenants: bad_tenants,
                },
                "bad tenant id",
            ),
            (
                Change::ClearTenant {
                    route: r("invoices"),
                    tenant: "x".repeat(129),
                },
                "long id",
            ),
            (
                Change::PauseSchedule {
                    route: r("invoices"),
                },
                "no schedule (inside the tx)",
            ),
            (Change::Revert { entry: 999 }, "no such entry"),
        ];
        for (change, what) in refused {
            let err = apply(&store, change).await.expect_err(what);
            assert!(!matches!(err, ControlError::Database(_)), "{what}: {err}");
            assert_eq!(store.overrides().await.unwrap(), before, "{what}");
            assert_eq!(store.version().await.unwrap(), 1, "{what}");
            assert_eq!(store.audit(None, 10).await.unwrap().len(), 1, "{what}");
        }
        let err = apply(&store, Change::Kill { route: r("nope") })
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ControlError::UnknownRoute(name) if name == "nope"),
            "{err}"
        );
        db.finish().await;
    }
}

#[tokio::test]
async fn a_transaction_failing_midway_leaves_nothing_behind() {
    for db in databases().await {
        let store = db.store().await;
        poison_tenant_inserts(&db).await;
        let mut bulk = tenants("ok", 2_500);
        bulk.insert(r("zz-poison"), Side::New);
        let err = apply(
            &store,
            Change::SetTenants {
                route: r("invoices"),
                tenants: bulk,
            },
        )
        .await
        .expect_err("the database refuses the last batch");
        assert!(matches!(err, ControlError::Database(_)), "{err}");
        assert_eq!(store.version().await.unwrap(), 0);
        assert!(store.audit(None, 10).await.unwrap().is_empty());
        assert!(store.overrides().await.unwrap().routes.is_empty());
        db.finish().await;
    }
}

/// Makes the database fail an insert of tenant `zz-poison`, which sorts last: by then the
/// version was bumped, the audit entry and the first batches of tenants were written.
async fn poison_tenant_inserts(db: &Db) {
    let sql = match db.kind {
        Kind::Sqlite => {
            "CREATE TRIGGER poison BEFORE INSERT ON tenant_override \
             WHEN NEW.tenant = 'zz-poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
        }
        Kind::Postgres => {
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.tenant = 'zz-poison' THEN RAISE EXCEPTION 'poisoned'; END IF; \
             RETURN NEW; END $$; \
             CREATE TRIGGER poison BEFORE INSERT ON tenant_override \
             FOR EACH ROW EXECUTE FUNCTION poison()"
        }
    };
    sqlx::raw_sql(sql)
        .execute(&mut db.raw().await)
        .await
        .unwrap();
}
