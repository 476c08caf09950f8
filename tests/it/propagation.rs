//! How long a flag change through one instance takes to reach another that shares the store
//! (PostgreSQL): from sending the admin change to A until B routes by it, over 100 changes,
//! median and p99. A benchmark, not a check, so it is ignored by default; it needs
//! `STRANGLER_TEST_POSTGRES_URL` (a role that may create databases) and runs in about 20 s:
//!
//! ```sh
//! STRANGLER_TEST_POSTGRES_URL=postgres://strangler:strangler@127.0.0.1/strangler \
//!   cargo test -p strangler --test it propagation -- --ignored --nocapture
//! ```
//!
//! B is asked back to back (one request at a time, no sleep), so the figure is the delay
//! itself plus less than a request's time. Each change flips one tenant's side. Before each
//! change the run waits a different part of the poll period (0 to 249 ms, spread evenly):
//! a change sent right after B saw the previous one would otherwise always land just after
//! B's poll and wait a whole period, where real changes arrive at any point of it.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use strangler_control::testing::PostgresDatabase;

use crate::runtime_flags::flags_proxy_with;

/// Changes measured.
const CHANGES: usize = 100;
/// A change that has not reached B after this fails the run.
const LIMIT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: run with --ignored --nocapture (see the module's doc)"]
async fn a_change_on_one_instance_reaches_another_sharing_postgresql() {
    let db = PostgresDatabase::create().await;
    let a = flags_proxy_with(|config| config.store(db.url())).await;
    let b = flags_proxy_with(|config| config.store(db.url())).await;
    let mut took = Vec::with_capacity(CHANGES);
    let mut applied = Vec::with_capacity(CHANGES);
    for i in 0..CHANGES {
        let (side, backend) = if i % 2 == 0 {
            ("new", "billing")
        } else {
            ("legacy", "legacy")
        };
        let phase = Duration::from_millis((i as u64 * 169) % 250);
        tokio::time::sleep(phase).await;
        let started = Instant::now();
        let (status, body) = a.set_side("bench", side).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        applied.push(started.elapsed());
        while b.side_of("bench").await != backend {
            assert!(
                started.elapsed() < LIMIT,
                "change {i} not on B within {LIMIT:?}"
            );
        }
        took.push(started.elapsed());
    }
    println!(
        "over {CHANGES} changes: on B {}; A's answer {}",
        summary(took),
        summary(applied)
    );
}

/// `median M ms, p99 P ms, min N ms, max X ms` of `times`.
fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    let ms = |at: usize| times[at].as_secs_f64() * 1000.0;
    let n = times.len();
    let median = (ms(n / 2 - 1) + ms(n / 2)) / 2.0;
    format!(
        "median {median:.1} ms, p99 {:.1} ms, min {:.1} ms, max {:.1} ms",
        ms(n * 99 / 100 - 1),
        ms(0),
        ms(n - 1)
    )
}
