//! The `audit` table: inserting an entry inside a change's transaction, and reading
//! entries back with the id of the entry that reverted each (from the `reverts` link; the
//! table itself is append-only).

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;

use super::flags::corrupt;
use crate::audit::{AuditEntry, FlagState};
use crate::change::Change;
use crate::error::ControlError;

const COLUMNS: &str = "a.id, a.at_ms, a.actor, a.route, a.change, a.before, a.after, \
     a.comment, a.reverts, (SELECT MIN(r.id) FROM audit r WHERE r.reverts = a.id)";

/// An entry about to be written; the database assigns the id.
pub(super) struct Draft<'a> {
    pub at: OffsetDateTime,
    pub actor: &'a str,
    pub route: Option<&'a str>,
    pub change: &'a Change,
    pub before: &'a FlagState,
    pub after: &'a FlagState,
    pub comment: Option<&'a str>,
    pub reverts: Option<i64>,
}

/// Inserts the entry and returns it as stored.
pub(super) async fn insert(
    conn: &mut AnyConnection,
    draft: Draft<'_>,
) -> Result<AuditEntry, ControlError> {
    let sql = "INSERT INTO audit (at_ms, actor, route, change, before, after, comment, reverts) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";
    let at_ms = (draft.at.unix_timestamp_nanos() / 1_000_000) as i64;
    let id: i64 = sqlx::query_scalar(sql)
        .bind(at_ms)
        .bind(draft.actor)
        .bind(draft.route)
        .bind(json(draft.change)?)
        .bind(json(draft.before)?)
        .bind(json(draft.after)?)
        .bind(draft.comment)
        .bind(draft.reverts)
        .fetch_one(conn)
        .await?;
    Ok(AuditEntry {
        id,
        at: at_from_ms(at_ms)?,
        actor: draft.actor.to_owned(),
        route: draft.route.map(str::to_owned),
        change: draft.change.clone(),
        before: draft.before.clone(),
        after: draft.after.clone(),
        comment: draft.comment.map(str::to_owned),
        reverts: draft.reverts,
        reverted_by: None,
    })
}

/// The entry with this id.
pub(super) async fn get(conn: &mut AnyConnection, id: i64) -> Result<AuditEntry, ControlError> {
    let sql = format!("SELECT {COLUMNS} FROM audit a WHERE a.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
    entry(&row.ok_or(ControlError::NoSuchEntry(id))?)
}

/// The newest `limit` entries, optionally only those about `route`, newest first.
pub(super) async fn list(
    conn: &mut AnyConnection,
    route: Option<&str>,
    limit: u32,
) -> Result<Vec<AuditEntry>, ControlError> {
    let filter = if route.is_some() {
        "WHERE a.route = $2"
    } else {
        ""
    };
    let sql = format!("SELECT {COLUMNS} FROM audit a {filter} ORDER BY a.id DESC LIMIT $1");
    let mut query = sqlx::query(&sql).bind(i64::from(limit));
    if let Some(route) = route {
        query = query.bind(route);
    }
    query.fetch_all(conn).await?.iter().map(entry).collect()
}

/// Every entry at or after `since`, oldest first.
pub(super) async fn since(
    conn: &mut AnyConnection,
    since: OffsetDateTime,
) -> Result<Vec<AuditEntry>, ControlError> {
    let sql = format!("SELECT {COLUMNS} FROM audit a WHERE a.at_ms >= $1 ORDER BY a.id");
    let at_ms = (since.unix_timestamp_nanos() / 1_000_000) as i64;
    let rows = sqlx::query(&sql).bind(at_ms).fetch_all(conn).await?;
    rows.iter().map(entry).collect()
}

/// The newest entry after `id` about the same subject (`route`, or global for None).
pub(super) async fn newest_after(
    conn: &mut AnyConnection,
    id: i64,
    route: Option<&str>,
) -> Result<Option<i64>, ControlError> {
    let sql = "SELECT MAX(id) FROM audit WHERE id > $1 AND route IS NOT DISTINCT FROM $2";
    Ok(sqlx::query_scalar(sql)
        .bind(id)
        .bind(route)
        .fetch_one(conn)
        .await?)
}

fn entry(row: &AnyRow) -> Result<AuditEntry, ControlError> {
    let text = |index: usize| row.try_get::<String, _>(index);
    Ok(AuditEntry {
        id: row.try_get(0)?,
        at: at_from_ms(row.try_get(1)?)?,
        actor: text(2)?,
        route: row.try_get(3)?,
        change: serde_json::from_str(&text(4)?).map_err(corrupt("audit change"))?,
        before: serde_json::from_str(&text(5)?).map_err(corrupt("audit before"))?,
        after: serde_json::from_str(&text(6)?).map_err(corrupt("audit after"))?,
        comment: row.try_get(7)?,
        reverts: row.try_get(8)?,
        reverted_by: row.try_get(9)?,
    })
}

fn at_from_ms(at_ms: i64) -> Result<OffsetDateTime, ControlError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_ms) * 1_000_000).map_err(|err| {
        ControlError::Corrupt {
            what: "audit at_ms".into(),
            message: err.to_string(),
        }
    })
}

/// A JSON column's text.
fn json<T: serde::Serialize>(value: &T) -> Result<String, ControlError> {
    serde_json::to_string(value).map_err(corrupt("audit entry"))
}
