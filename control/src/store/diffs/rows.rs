//! The SQL of the diff store, one function a statement. The same statements run on
//! SQLite and PostgreSQL (`$n` placeholders, integers, text and JSON as text).

use std::collections::BTreeSet;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use strangler_shadow::{
    Comparison, Difference, Sample, SampleRequest, SampleSide, SkipReason, Verdict,
};

use super::StoreError;

const COMPARISON_COLUMNS: &str = "id, at_ms, route, tenant, method, path, upstream_path, \
     primary_side, verdict, skip, error, primary_status, shadow_status, primary_ms, shadow_ms, \
     differences, noise, shadow_noise";

const INSERT_COLUMNS: &str = "INSERT INTO shadow_comparison (at_ms, route, tenant, method, \
     path, upstream_path, primary_side, verdict, skip, error, primary_status, shadow_status, primary_ms, \
     shadow_ms, signature, differences, noise, shadow_noise) VALUES ";
/// Values per comparison row.
const ROW_VALUES: usize = 18;
/// Rows per multi-row INSERT (well under both databases' limits on bound values).
pub(super) const ROWS_PER_INSERT: usize = 64;

/// Inserts one comparison; returns its id.
pub(super) async fn insert_comparison(
    conn: &mut AnyConnection,
    c: &Comparison,
) -> Result<i64, StoreError> {
    let sql = format!("{INSERT_COLUMNS}{} RETURNING id", placeholders(0));
    let row = bind_row(sqlx::query(&sql), c)?.fetch_one(conn).await?;
    Ok(row.try_get("id")?)
}

/// Inserts comparisons in one statement (at most [`ROWS_PER_INSERT`]): a row each costs
/// far less than a statement each.
pub(super) async fn insert_comparisons(
    conn: &mut AnyConnection,
    comparisons: &[&Comparison],
) -> Result<(), StoreError> {
    let rows: Vec<String> = (0..comparisons.len()).map(placeholders).collect();
    let sql = format!("{INSERT_COLUMNS}{}", rows.join(", "));
    let mut query = sqlx::query(&sql);
    for c in comparisons {
        query = bind_row(query, c)?;
    }
    query.execute(conn).await?;
    Ok(())
}

/// `($1, ..., $18)` for row `row` (0-based) of a multi-row insert.
fn placeholders(row: usize) -> String {
    placeholders_of(row, ROW_VALUES)
}

/// `($n, ..., $n+width-1)` for row `row` (0-based) of a multi-row insert of `width`
/// values a row.
pub(super) fn placeholders_of(row: usize, width: usize) -> String {
    let first = row * width + 1;
    let numbers: Vec<String> = (first..first + width).map(|n| format!("${n}")).collect();
    format!("({})", numbers.join(", "))
}

/// `SELECT {columns} FROM {from} WHERE at_ms >= $1 [AND route = $2] {rest}` with its
/// binds: the window every reader of the diff store asks for, of one route or all.
pub(super) fn window_query<'q>(
    sql: &'q str,
    route: Option<&'q str>,
    since_ms: i64,
) -> AnyQuery<'q> {
    let query = sqlx::query(sql).bind(since_ms);
    match route {
        Some(route) => query.bind(route),
        None => query,
    }
}

/// The route filter of [`window_query`]'s SQL.
pub(super) fn route_filter(route: Option<&str>) -> &'static str {
    if route.is_some() {
        "AND route = $2"
    } else {
        ""
    }
}

pub(super) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;
fn bind_row<'q>(query: AnyQuery<'q>, c: &'q Comparison) -> Result<AnyQuery<'q>, StoreError> {
    let noise = c.noise.as_ref().map(json).transpose()?;
    let shadow_noise = c.shadow_noise.as_ref().map(json).transpose()?;
    Ok(query
        .bind(c.at_ms)
        .bind(&c.route)
        .bind(c.tenant.as_deref())
        .bind(&c.method)
        .bind(&c.path)
        .bind(c.upstream_path.as_deref())
        .bind(&c.primary_side)
        .bind(c.verdict.code())
        .bind(c.skip.map(SkipReason::code))
        .bind(c.error.as_deref())
        .bind(c.primary_status.map(i64::from))
        .bind(c.shadow_status.map(i64::from))
        .bind(c.primary_ms)
        .bind(c.shadow_ms)
        .bind(c.signature())
        .bind(json(&c.differences)?)
        .bind(noise)
        .bind(shadow_noise))
}

/// Inserts a sample of comparison `id` unless `limit` are already kept for its route
/// and signature.
pub(super) async fn insert_sample(
    conn: &mut AnyConnection,
    id: i64,
    c: &Comparison,
    primary: &SampleSide,
    shadow: &SampleSide,
    limit: u32,
) -> Result<(), StoreError> {
    let signature = c.signature();
    let count_sql = "SELECT COUNT(*) FROM shadow_sample WHERE route = $1 AND signature = $2";
    let kept: i64 = sqlx::query_scalar(count_sql)
        .bind(&c.route)
        .bind(&signature)
        .fetch_one(&mut *conn)
        .await?;
    if kept >= i64::from(limit) {
        return Ok(());
    }
    let sql = "INSERT INTO shadow_sample (comparison_id, at_ms, route, signature, \
         primary_answer, shadow_answer) VALUES ($1, $2, $3, $4, $5, $6)";
    sqlx::query(sql)
        .bind(id)
        .bind(c.at_ms)
        .bind(&c.route)
        .bind(&signature)
        .bind(json(primary)?)
        .bind(json(shadow)?)
        .execute(conn)
        .await?;
    Ok(())
}

/// The comparisons since `since_ms`, oldest first.
pub(super) async fn comparisons(
    conn: &mut AnyConnection,
    route: Option<&str>,
    since_ms: i64,
) -> Result<Vec<Comparison>, StoreError> {
    let filter = route_filter(route);
    let sql = format!(
        "SELECT {COMPARISON_COLUMNS} FROM shadow_comparison WHERE at_ms >= $1 {filter} \
         ORDER BY id"
    );
    let rows = window_query(&sql, route, since_ms).fetch_all(conn).await?;
    rows.iter().map(comparison).collect()
}

/// The sample with this id.
pub(super) async fn sample(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<Sample>, StoreError> {
    let sql = format!(
        "SELECT s.id, s.comparison_id, s.route, s.signature, s.primary_answer, \
         s.shadow_answer, {REQUEST_COLUMNS} FROM shadow_sample s \
         LEFT JOIN shadow_comparison c ON c.id = s.comparison_id WHERE s.id = $1"
    );
    let Some(row) = sqlx::query(&sql).bind(id).fetch_optional(conn).await? else {
        return Ok(None);
    };
    let side = |column: &str| -> Result<SampleSide, StoreError> {
        let text: String = row.try_get(column)?;
        parse(id, column, &text)
    };
    Ok(Some(Sample {
        id,
        comparison: row.try_get("comparison_id")?,
        route: row.try_get("route")?,
        signature: row.try_get("signature")?,
        request: request(&row)?,
        primary: side("primary_answer")?,
        shadow: side("shadow_answer")?,
    }))
}

/// The columns of the comparison a sample belongs to that say which request it answered.
const REQUEST_COLUMNS: &str =
    "c.at_ms AS request_at_ms, c.method, c.path, c.upstream_path, c.tenant, c.primary_side";

/// The request of a sample row joined with its comparison; `None` when retention removed
/// the comparison.
fn request(row: &AnyRow) -> Result<Option<SampleRequest>, StoreError> {
    let Some(at_ms) = row.try_get::<Option<i64>, _>("request_at_ms")? else {
        return Ok(None);
    };
    Ok(Some(SampleRequest {
        at_ms,
        method: row.try_get("method")?,
        target: row.try_get("path")?,
        upstream_target: row.try_get("upstream_path")?,
        tenant: row.try_get("tenant")?,
        primary_side: row.try_get("primary_side")?,
    }))
}

/// A kept sample as a report lists it: enough to tell it from the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SampleSummary {
    /// The sample's id, for `/admin/diffs/samples/{id}` and `strangler diffs sample`.
    pub id: i64,
    /// The sorted paths that differed.
    pub signature: String,
    /// The request it answered, unless retention removed its comparison.
    pub request: Option<SampleRequest>,
}

/// A route's samples with the request each answered, oldest first.
pub(super) async fn sample_summaries(
    conn: &mut AnyConnection,
    route: &str,
) -> Result<Vec<SampleSummary>, StoreError> {
    let sql = format!(
        "SELECT s.id, s.signature, {REQUEST_COLUMNS} FROM shadow_sample s \
         LEFT JOIN shadow_comparison c ON c.id = s.comparison_id \
         WHERE s.route = $1 ORDER BY s.id"
    );
    let rows = sqlx::query(&sql).bind(route).fetch_all(conn).await?;
    rows.iter()
        .map(|row| {
            Ok(SampleSummary {
                id: row.try_get("id")?,
                signature: row.try_get("signature")?,
                request: request(row)?,
            })
        })
        .collect()
}

/// Deletes by age and row count; returns the comparisons deleted.
pub(super) async fn prune(
    conn: &mut AnyConnection,
    cutoff_ms: i64,
    max_rows: u64,
) -> Result<u64, StoreError> {
    let old = sqlx::query("DELETE FROM shadow_comparison WHERE at_ms < $1")
        .bind(cutoff_ms)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let keep_from = "SELECT id FROM shadow_comparison ORDER BY id DESC LIMIT 1 OFFSET $1";
    let oldest_kept: Option<i64> = sqlx::query_scalar(keep_from)
        .bind(max_rows.saturating_sub(1) as i64)
        .fetch_optional(&mut *conn)
        .await?;
    let excess = match oldest_kept {
        Some(id) => {
            sqlx::query("DELETE FROM shadow_sample WHERE comparison_id < $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM shadow_comparison WHERE id < $1")
                .bind(id)
                .execute(&mut *conn)
                .await?
                .rows_affected()
        }
        None => 0,
    };
    sqlx::query("DELETE FROM shadow_sample WHERE at_ms < $1")
        .bind(cutoff_ms)
        .execute(conn)
        .await?;
    Ok(old + excess)
}

/// A stored comparison row.
fn comparison(row: &AnyRow) -> Result<Comparison, StoreError> {
    let id: i64 = row.try_get("id")?;
    let verdict: String = row.try_get("verdict")?;
    let skip: Option<String> = row.try_get("skip")?;
    let differences: String = row.try_get("differences")?;
    let noise = paths(row, id, "noise")?;
    let status = |column: &str| -> Result<Option<u16>, StoreError> {
        let value: Option<i64> = row.try_get(column)?;
        Ok(value.and_then(|v| u16::try_from(v).ok()))
    };
    Ok(Comparison {
        id,
        at_ms: row.try_get("at_ms")?,
        route: row.try_get("route")?,
        tenant: row.try_get("tenant")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        upstream_path: row.try_get("upstream_path")?,
        primary_side: row.try_get("primary_side")?,
        verdict: Verdict::from_code(&verdict).ok_or_else(|| corrupt(id, "verdict", &verdict))?,
        skip: skip.as_deref().and_then(SkipReason::from_code),
        error: row.try_get("error")?,
        primary_status: status("primary_status")?,
        shadow_status: status("shadow_status")?,
        primary_ms: row.try_get("primary_ms")?,
        shadow_ms: row.try_get("shadow_ms")?,
        differences: parse::<Vec<Difference>>(id, "differences", &differences)?,
        noise,
        shadow_noise: paths(row, id, "shadow_noise")?,
    })
}

/// A nullable column holding a JSON set of paths.
fn paths(row: &AnyRow, id: i64, column: &str) -> Result<Option<BTreeSet<String>>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|text| parse(id, column, &text)).transpose()
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| corrupt(0, "value", &e.to_string()))
}

fn parse<T: serde::de::DeserializeOwned>(
    id: i64,
    column: &str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(id, column, &e.to_string()))
}

fn corrupt(id: i64, column: &str, detail: &str) -> StoreError {
    StoreError::Corrupt {
        id,
        message: format!("{column}: {detail}"),
    }
}
