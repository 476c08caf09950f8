//! The diff store on real databases: a SQLite file, and PostgreSQL on the server that
//! `STRANGLER_TEST_POSTGRES_URL` names (a role that may create databases; each run creates
//! and drops its own). Comparisons round-trip, samples stop at the per-signature limit,
//! retention deletes by age and count, and a reconnect finds its migrations applied.

use std::collections::BTreeSet;
use std::time::Duration;

use strangler_control::diffs::{DiffStore, Record};
use strangler_control::testing::PostgresDatabase;
use strangler_control::Database;
use strangler_shadow::{
    Comparison, Counted, Difference, Example, Kind, SampleRequest, SampleSide, SkipReason, Verdict,
};

/// A mismatch on `/currency` at `at_ms`.
fn mismatch(at_ms: i64) -> Comparison {
    Comparison {
        id: 0,
        at_ms,
        route: "invoices".into(),
        tenant: Some("acme".into()),
        method: "GET".into(),
        path: "/api/invoices/7?x=1".into(),
        upstream_path: Some("/invoices/7?x=1".into()),
        primary_side: "legacy".into(),
        verdict: Verdict::Mismatch,
        skip: None,
        error: None,
        primary_status: Some(200),
        shadow_status: Some(200),
        primary_ms: Some(1.5),
        shadow_ms: Some(2.25),
        differences: vec![Difference {
            path: "/currency".into(),
            collapsed: "/currency".into(),
            kind: Kind::ValueChanged,
            example: Example {
                primary: Some("\"EUR\"".into()),
                shadow: Some("\"eur\"".into()),
            },
            noise: false,
        }],
        noise: Some(BTreeSet::from(["/request_id".to_owned()])),
        shadow_noise: Some(BTreeSet::from(["header:date".to_owned()])),
    }
}

fn side(body: &str) -> SampleSide {
    SampleSide {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.into(),
        truncated: false,
    }
}

/// Every database to test on, each as a store URL; the guard drops the PG database.
async fn databases(dir: &tempfile::TempDir) -> Vec<(String, Option<PostgresDatabase>)> {
    let sqlite = format!("sqlite://{}", dir.path().join("diffs.db").display());
    let postgres = PostgresDatabase::create().await;
    vec![(sqlite, None), (postgres.url().to_owned(), Some(postgres))]
}

/// The diff store on the database at `url`, connected and migrated.
async fn connect(url: &str, samples_per_signature: u32) -> Result<DiffStore, String> {
    let database = Database::connect(url).await.map_err(|e| e.to_string())?;
    Ok(database.diffs(samples_per_signature))
}

/// Closes `store`, then drops the test database (`guard`).
async fn finish(store: DiffStore, guard: PostgresDatabase) {
    drop(store);
    drop(guard);
}

#[tokio::test]
async fn comparisons_and_samples_round_trip_and_retention_prunes() {
    let dir = tempfile::tempdir().unwrap();
    for (url, guard) in databases(&dir).await {
        let store = connect(&url, 2).await.expect(&url);
        let records: Vec<Record> = (0..5)
            .map(|i| Record {
                comparison: mismatch(1_000 + i),
                sample: Some((
                    side("{\"currency\":\"EUR\"}"),
                    side("{\"currency\":\"eur\"}"),
                )),
            })
            .collect();
        store.insert(&records).await.expect("insert");
        let read = store.comparisons(Some("invoices"), 0).await.unwrap();
        assert_eq!(read.len(), 5, "{url}");
        let expected = Comparison {
            id: read[0].id,
            ..mismatch(1_000)
        };
        assert_eq!(read[0], expected, "{url}");
        assert!(store
            .comparisons(Some("other"), 0)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.comparisons(None, 1_003).await.unwrap().len(), 2);

        let samples = store.samples("invoices").await.unwrap();
        assert_eq!(samples.len(), 2, "at most 2 per signature on {url}");
        let sample = store.sample(samples[0].id).await.unwrap().expect("sample");
        assert_eq!(sample.signature, "/currency");
        assert_eq!(sample.shadow.body, "{\"currency\":\"eur\"}");
        let request = SampleRequest {
            at_ms: 1_000,
            method: "GET".into(),
            target: "/api/invoices/7?x=1".into(),
            upstream_target: Some("/invoices/7?x=1".into()),
            tenant: Some("acme".into()),
            primary_side: "legacy".into(),
        };
        assert_eq!(
            sample.request.as_ref(),
            Some(&request),
            "which request, on {url}"
        );
        assert_eq!(
            samples[0].request.as_ref(),
            Some(&request),
            "listed too, on {url}"
        );
        assert!(store.sample(-1).await.unwrap().is_none());

        let deleted = store
            .prune(1_002 + 1_000, Duration::from_secs(1), 2)
            .await
            .unwrap();
        assert_eq!(deleted, 3, "two too old, one over the row limit, on {url}");
        let left = store.comparisons(None, 0).await.unwrap();
        assert_eq!(
            left.iter().map(|c| c.at_ms).collect::<Vec<_>>(),
            vec![1_003, 1_004]
        );
        if let Some(guard) = guard {
            finish(store, guard).await;
        }
    }
}

#[tokio::test]
async fn a_second_connect_finds_its_migrations_applied_and_batches_read_back() {
    let dir = tempfile::tempdir().unwrap();
    for (url, guard) in databases(&dir).await {
        let first = connect(&url, 5).await.expect(&url);
        // More than one multi-row statement's worth, without samples.
        let plain: Vec<Record> = (0..150)
            .map(|i| Record {
                comparison: mismatch(i),
                sample: None,
            })
            .collect();
        first.insert(&plain).await.unwrap();
        drop(first);
        let again = connect(&url, 5).await.expect("reconnect");
        let read = again.comparisons(None, 0).await.unwrap();
        assert_eq!(read.len(), 150, "{url}");
        let last = Comparison {
            id: read[149].id,
            ..mismatch(149)
        };
        assert_eq!(read[149], last, "{url}");
        if let Some(guard) = guard {
            finish(again, guard).await;
        }
    }
}

/// A comparison of `route` at `at_ms` that a report needs only to count.
fn countable(route: &str, at_ms: i64, skip: Option<SkipReason>) -> Record {
    let mut comparison = Comparison {
        route: route.into(),
        verdict: Verdict::Match,
        differences: Vec::new(),
        noise: None,
        shadow_noise: None,
        ..mismatch(at_ms)
    };
    if let Some(reason) = skip {
        comparison.mark_skipped(reason);
    }
    Record {
        comparison,
        sample: None,
    }
}

#[tokio::test]
async fn matches_and_skips_are_counted_not_kept_and_read_back_as_sums() {
    let dir = tempfile::tempdir().unwrap();
    for (url, guard) in databases(&dir).await {
        let store = connect(&url, 5).await.expect(&url);
        let mut batch: Vec<Record> = (0..300)
            .map(|i| countable("invoices", 1_000 + i * 10, None))
            .collect();
        batch.push(countable("invoices", 1_500, Some(SkipReason::Overloaded)));
        batch.push(countable("users", 2_000, None));
        batch.push(Record {
            comparison: mismatch(1_200),
            sample: None,
        });
        store.insert(&batch).await.expect("insert");
        let rows = store.comparisons(None, 0).await.unwrap();
        assert_eq!(rows.len(), 1, "only the mismatch is a row, on {url}");
        let counted = |route, verdict, skip, count| Counted {
            route: String::from(route),
            verdict,
            skip,
            count,
        };
        let all = store.counted(None, 0).await.unwrap();
        let expected = vec![
            counted("invoices", Verdict::Match, None, 300),
            counted(
                "invoices",
                Verdict::Skipped,
                Some(SkipReason::Overloaded),
                1,
            ),
            counted("users", Verdict::Match, None, 1),
        ];
        assert_eq!(sorted(all), expected, "{url}");
        // Summed per second: the window from 3,000 on holds the matches of 3,000 to 3,990.
        let late = store.counted(Some("invoices"), 3_000).await.unwrap();
        assert_eq!(late, vec![counted("invoices", Verdict::Match, None, 100)]);
        store
            .prune(4_000 + 1_000, Duration::from_secs(1), 100)
            .await
            .unwrap();
        assert!(
            store.counted(None, 0).await.unwrap().is_empty(),
            "pruned by age, on {url}"
        );
        if let Some(guard) = guard {
            finish(store, guard).await;
        }
    }
}

/// `counted` in route, verdict, skip order.
fn sorted(mut counted: Vec<Counted>) -> Vec<Counted> {
    counted.sort_by(|a, b| (&a.route, a.verdict, a.skip).cmp(&(&b.route, b.verdict, b.skip)));
    counted
}

#[tokio::test]
async fn an_unknown_url_scheme_is_refused() {
    let error = connect("mysql://x", 5).await.unwrap_err();
    assert!(
        error.to_string().contains("unsupported store URL"),
        "{error}"
    );
}

/// A database from before one crate owned the store: the flag store's migrator and the
/// diff store's each applied their own versions (0001, 1001), and a database only one of
/// them ever ran on has only its own. Every such database opens and gets what it lacks.
#[tokio::test]
async fn a_database_migrated_by_either_old_migrator_alone_opens() {
    sqlx::any::install_default_drivers();
    for only in ["0001_flag_store.sql", "1001_diff_store.sql"] {
        let dir = tempfile::tempdir().unwrap();
        let migrations = dir.path().join("migrations");
        std::fs::create_dir(&migrations).unwrap();
        let source = format!("{}/migrations/sqlite/{only}", env!("CARGO_MANIFEST_DIR"));
        std::fs::copy(source, migrations.join(only)).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        let old = sqlx::migrate::Migrator::new(migrations.as_path()).await;
        old.unwrap().run(&pool).await.expect(only);
        pool.close().await;
        let database = Database::connect(&url).await.expect(only);
        database
            .flags()
            .version()
            .await
            .expect("the flag store's tables");
        let diffs = database.diffs(5).comparisons(None, 0).await;
        assert!(diffs.expect("the diff store's tables").is_empty(), "{only}");
    }
}
