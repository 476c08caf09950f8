//! The comparisons the diff store counts instead of keeping ([`Comparison::countable`]: a
//! match or a skip with nothing else to tell), summed per route, second, verdict and skip
//! reason before they are written. A route whose comparisons match then costs the store a
//! row or two a second rather than one per request (issue #20: the row per match was
//! most of what shadowing cost the proxy besides the shadow call itself). Readers sum the
//! rows of a window; a fleet's instances each add their own.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row};
use strangler_shadow::{Comparison, Counted, SkipReason, Verdict};

use super::{rows, StoreError};

/// Values per count row.
const ROW_VALUES: usize = 5;
/// Rows per multi-row INSERT.
const ROWS_PER_INSERT: usize = 64;

/// A sum to write: its earliest comparison's time and the count.
pub(super) struct Sum {
    at_ms: i64,
    counted: Counted,
}

/// Sums countable `comparisons` per route, verdict, skip reason and second.
pub(super) fn sums<'a>(comparisons: impl IntoIterator<Item = &'a Comparison>) -> Vec<Sum> {
    let mut sums: BTreeMap<(&str, Verdict, Option<SkipReason>, i64), Sum> = BTreeMap::new();
    for c in comparisons {
        let key = (
            c.route.as_str(),
            c.verdict,
            c.skip,
            c.at_ms.div_euclid(1000),
        );
        let sum = sums.entry(key).or_insert_with(|| Sum {
            at_ms: c.at_ms,
            counted: Counted {
                route: c.route.clone(),
                verdict: c.verdict,
                skip: c.skip,
                count: 0,
            },
        });
        sum.at_ms = sum.at_ms.min(c.at_ms);
        sum.counted.count += 1;
    }
    sums.into_values().collect()
}

/// Writes `sums`, a multi-row INSERT per [`ROWS_PER_INSERT`].
pub(super) async fn insert(conn: &mut AnyConnection, sums: &[Sum]) -> Result<(), StoreError> {
    for chunk in sums.chunks(ROWS_PER_INSERT) {
        let rows: Vec<String> = (0..chunk.len()).map(placeholders).collect();
        let sql = format!(
            "INSERT INTO shadow_count (at_ms, route, verdict, skip, count) VALUES {}",
            rows.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for sum in chunk {
            let count = i64::try_from(sum.counted.count).unwrap_or(i64::MAX);
            query = query
                .bind(sum.at_ms)
                .bind(&sum.counted.route)
                .bind(sum.counted.verdict.code())
                .bind(sum.counted.skip.map(SkipReason::code))
                .bind(count);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// `($1, ..., $5)` for row `row` (0-based) of a multi-row insert.
fn placeholders(row: usize) -> String {
    rows::placeholders_of(row, ROW_VALUES)
}

/// The counts since `since_ms`, summed per route, verdict and skip reason.
pub(super) async fn counted(
    conn: &mut AnyConnection,
    route: Option<&str>,
    since_ms: i64,
) -> Result<Vec<Counted>, StoreError> {
    let filter = rows::route_filter(route);
    // PostgreSQL sums a BIGINT into a NUMERIC: cast back.
    let sql = format!(
        "SELECT route, verdict, skip, CAST(SUM(count) AS BIGINT) AS count FROM shadow_count \
         WHERE at_ms >= $1 {filter} GROUP BY route, verdict, skip ORDER BY route, verdict, skip"
    );
    let found = rows::window_query(&sql, route, since_ms)
        .fetch_all(conn)
        .await?;
    found
        .iter()
        .map(|row| {
            let verdict: String = row.try_get("verdict")?;
            let skip: Option<String> = row.try_get("skip")?;
            let count: i64 = row.try_get("count")?;
            Ok(Counted {
                route: row.try_get("route")?,
                verdict: Verdict::from_code(&verdict).ok_or_else(|| StoreError::Corrupt {
                    id: 0,
                    message: format!("shadow_count verdict: {verdict}"),
                })?,
                skip: skip.as_deref().and_then(SkipReason::from_code),
                count: u64::try_from(count).unwrap_or(0),
            })
        })
        .collect()
}

/// Deletes the counts older than `cutoff_ms`.
pub(super) async fn prune(conn: &mut AnyConnection, cutoff_ms: i64) -> Result<u64, StoreError> {
    let deleted = sqlx::query("DELETE FROM shadow_count WHERE at_ms < $1")
        .bind(cutoff_ms)
        .execute(conn)
        .await?;
    Ok(deleted.rows_affected())
}
