//! The override rows: one `route_flag` row per route with a scalar override, one
//! `tenant_override` row per tenant side, the one-row `global_flag`, and the one-row
//! `flag_version` every change bumps. A change writes only what moved: setting 10,000
//! tenants inserts 10,000 rows in batches; a later percent change rewrites one row.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use strangler_flags::Side;

use crate::error::ControlError;
use crate::overrides::{Overrides, RouteOverrides, RouteSetBy};
use crate::percent::PercentBp;

/// Tenant rows per INSERT or DELETE statement (well under both databases' bind limits).
const TENANTS_PER_STATEMENT: usize = 1_000;

const SCALAR_COLUMNS: &str = "route, percent, percent_by, killed, killed_by, \
     shadow_sample, shadow_sample_by, schedule, schedule_by, ramp, ramp_by";

/// Bumps and returns the version. Run first in every change transaction: it takes the
/// write lock (SQLite) or the row lock (PostgreSQL), so changes apply one at a time.
pub(super) async fn bump_version(conn: &mut AnyConnection) -> Result<i64, ControlError> {
    let sql = "UPDATE flag_version SET version = version + 1 WHERE id = 1 RETURNING version";
    Ok(sqlx::query_scalar(sql).fetch_one(conn).await?)
}

/// The current version.
pub(super) async fn version(conn: &mut AnyConnection) -> Result<i64, ControlError> {
    let sql = "SELECT version FROM flag_version WHERE id = 1";
    Ok(sqlx::query_scalar(sql).fetch_one(conn).await?)
}

/// The global kill switch and the entry that turned it on.
pub(super) async fn load_global(
    conn: &mut AnyConnection,
) -> Result<(bool, Option<i64>), ControlError> {
    let row = sqlx::query("SELECT killed, killed_by FROM global_flag WHERE id = 1")
        .fetch_one(conn)
        .await?;
    Ok((row.try_get::<i64, _>(0)? != 0, row.try_get(1)?))
}

/// Writes the global kill switch.
pub(super) async fn write_global(
    conn: &mut AnyConnection,
    killed: bool,
    killed_by: Option<i64>,
) -> Result<(), ControlError> {
    sqlx::query("UPDATE global_flag SET killed = $1, killed_by = $2 WHERE id = 1")
        .bind(i64::from(killed))
        .bind(killed_by)
        .execute(conn)
        .await?;
    Ok(())
}

/// One route's overrides and their sources.
pub(super) async fn load_route(
    conn: &mut AnyConnection,
    route: &str,
) -> Result<(RouteOverrides, RouteSetBy), ControlError> {
    let sql = format!("SELECT {SCALAR_COLUMNS} FROM route_flag WHERE route = $1");
    let row = sqlx::query(&sql)
        .bind(route)
        .fetch_optional(&mut *conn)
        .await?;
    let (mut overrides, mut set_by) = match row {
        Some(row) => scalars(&row)?.1,
        None => Default::default(),
    };
    let sql = "SELECT route, tenant, side, set_by FROM tenant_override WHERE route = $1";
    for row in sqlx::query(sql).bind(route).fetch_all(conn).await? {
        let (_, tenant, side, by) = tenant(&row)?;
        overrides.tenants.insert(tenant.clone(), side);
        set_by.tenants.insert(tenant, by);
    }
    Ok((overrides, set_by))
}

/// Every override, read in the caller's transaction (one consistent snapshot).
pub(super) async fn load_all(conn: &mut AnyConnection) -> Result<Overrides, ControlError> {
    let mut all = Overrides {
        version: version(conn).await?,
        ..Overrides::default()
    };
    (all.global_kill, all.global_kill_set_by) = load_global(conn).await?;
    let sql = format!("SELECT {SCALAR_COLUMNS} FROM route_flag");
    for row in sqlx::query(&sql).fetch_all(&mut *conn).await? {
        let (route, (overrides, set_by)) = scalars(&row)?;
        all.routes.insert(route.clone(), overrides);
        all.set_by.insert(route, set_by);
    }
    let sql = "SELECT route, tenant, side, set_by FROM tenant_override";
    for row in sqlx::query(sql).fetch_all(conn).await? {
        let (route, tenant, side, by) = tenant(&row)?;
        all.routes
            .entry(route.clone())
            .or_default()
            .tenants
            .insert(tenant.clone(), side);
        all.set_by
            .entry(route)
            .or_default()
            .tenants
            .insert(tenant, by);
    }
    Ok(all)
}

/// Writes what moved between `before` and `after` for `route`; `set_by` already records
/// the new sources.
pub(super) async fn write_route(
    conn: &mut AnyConnection,
    route: &str,
    before: &RouteOverrides,
    after: &RouteOverrides,
    set_by: &RouteSetBy,
) -> Result<(), ControlError> {
    if scalars_differ(before, after) {
        write_scalars(conn, route, after, set_by).await?;
    }
    let removed: Vec<&str> = before
        .tenants
        .keys()
        .filter(|tenant| !after.tenants.contains_key(*tenant))
        .map(String::as_str)
        .collect();
    delete_tenants(conn, route, &removed).await?;
    let changed: BTreeMap<&str, (Side, i64)> = after
        .tenants
        .iter()
        .filter(|(tenant, side)| before.tenants.get(*tenant) != Some(side))
        .map(|(tenant, side)| (tenant.as_str(), (*side, set_by.tenants[tenant])))
        .collect();
    upsert_tenants(conn, route, &changed).await
}

fn scalars_differ(before: &RouteOverrides, after: &RouteOverrides) -> bool {
    before.percent != after.percent
        || before.killed != after.killed
        || before.shadow_sample != after.shadow_sample
        || before.schedule != after.schedule
        || before.ramp != after.ramp
}

/// Upserts the route's scalar row, or deletes it when no scalar is overridden.
async fn write_scalars(
    conn: &mut AnyConnection,
    route: &str,
    after: &RouteOverrides,
    set_by: &RouteSetBy,
) -> Result<(), ControlError> {
    let unset = after.percent.is_none()
        && !after.killed
        && after.shadow_sample.is_none()
        && after.schedule.is_none()
        && after.ramp.is_none();
    if unset {
        let sql = "DELETE FROM route_flag WHERE route = $1";
        sqlx::query(sql).bind(route).execute(conn).await?;
        return Ok(());
    }
    let schedule = match &after.schedule {
        Some(schedule) => Some(serde_json::to_string(schedule).map_err(corrupt("schedule"))?),
        None => None,
    };
    let ramp = match &after.ramp {
        Some(ramp) => Some(serde_json::to_string(ramp).map_err(corrupt("ramp"))?),
        None => None,
    };
    let sql = format!(
        "INSERT INTO route_flag ({SCALAR_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (route) DO UPDATE SET percent = excluded.percent, \
         percent_by = excluded.percent_by, killed = excluded.killed, \
         killed_by = excluded.killed_by, shadow_sample = excluded.shadow_sample, \
         shadow_sample_by = excluded.shadow_sample_by, schedule = excluded.schedule, \
         schedule_by = excluded.schedule_by, ramp = excluded.ramp, ramp_by = excluded.ramp_by"
    );
    let basis_points = |p: Option<PercentBp>| p.map(|p| i64::from(p.basis_points()));
    sqlx::query(&sql)
        .bind(route)
        .bind(basis_points(after.percent))
        .bind(set_by.percent)
        .bind(i64::from(after.killed))
        .bind(set_by.killed)
        .bind(basis_points(after.shadow_sample))
        .bind(set_by.shadow_sample)
        .bind(schedule)
        .bind(set_by.schedule)
        .bind(ramp)
        .bind(set_by.ramp)
        .execute(conn)
        .await?;
    Ok(())
}

async fn delete_tenants(
    conn: &mut AnyConnection,
    route: &str,
    tenants: &[&str],
) -> Result<(), ControlError> {
    for batch in tenants.chunks(TENANTS_PER_STATEMENT) {
        let list: Vec<String> = (0..batch.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "DELETE FROM tenant_override WHERE route = $1 AND tenant IN ({})",
            list.join(", ")
        );
        let query = batch
            .iter()
            .fold(sqlx::query(&sql).bind(route), |q, t| q.bind(*t));
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

async fn upsert_tenants(
    conn: &mut AnyConnection,
    route: &str,
    tenants: &BTreeMap<&str, (Side, i64)>,
) -> Result<(), ControlError> {
    let rows: Vec<_> = tenants.iter().collect();
    for batch in rows.chunks(TENANTS_PER_STATEMENT) {
        let values: Vec<String> = (0..batch.len())
            .map(|i| format!("($1, ${}, ${}, ${})", 3 * i + 2, 3 * i + 3, 3 * i + 4))
            .collect();
        let sql = format!(
            "INSERT INTO tenant_override (route, tenant, side, set_by) VALUES {} \
             ON CONFLICT (route, tenant) DO UPDATE SET side = excluded.side, \
             set_by = excluded.set_by",
            values.join(", ")
        );
        let query = batch
            .iter()
            .fold(sqlx::query(&sql).bind(route), |q, (t, (side, by))| {
                q.bind(**t).bind(side.code()).bind(*by)
            });
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Reads a `route_flag` row (columns in [`SCALAR_COLUMNS`] order).
fn scalars(row: &AnyRow) -> Result<(String, (RouteOverrides, RouteSetBy)), ControlError> {
    let route: String = row.try_get(0)?;
    let percent = |index: usize| -> Result<Option<PercentBp>, ControlError> {
        let stored: Option<i64> = row.try_get(index)?;
        stored
            .map(|bp| {
                u16::try_from(bp)
                    .ok()
                    .and_then(PercentBp::from_basis_points)
                    .ok_or_else(|| ControlError::Corrupt {
                        what: format!("route_flag {route:?} column {index}"),
                        message: format!("{bp} basis points"),
                    })
            })
            .transpose()
    };
    let schedule: Option<String> = row.try_get(7)?;
    let ramp: Option<String> = row.try_get(9)?;
    let overrides = RouteOverrides {
        percent: percent(1)?,
        killed: row.try_get::<i64, _>(3)? != 0,
        shadow_sample: percent(5)?,
        schedule: schedule
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(corrupt("schedule"))?,
        ramp: ramp
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(corrupt("ramp"))?,
        tenants: BTreeMap::new(),
    };
    let set_by = RouteSetBy {
        percent: row.try_get(2)?,
        killed: row.try_get(4)?,
        shadow_sample: row.try_get(6)?,
        schedule: row.try_get(8)?,
        ramp: row.try_get(10)?,
        tenants: BTreeMap::new(),
    };
    Ok((route, (overrides, set_by)))
}

/// Reads a `tenant_override` row: route, tenant, side, set_by.
fn tenant(row: &AnyRow) -> Result<(String, String, Side, i64), ControlError> {
    let side = match row.try_get::<String, _>(2)?.as_str() {
        "legacy" => Side::Legacy,
        "new" => Side::New,
        other => {
            return Err(ControlError::Corrupt {
                what: "tenant_override.side".into(),
                message: format!("unknown side {other:?}"),
            })
        }
    };
    Ok((row.try_get(0)?, row.try_get(1)?, side, row.try_get(3)?))
}

/// Maps a serde error on `what` to [`ControlError::Corrupt`].
pub(super) fn corrupt(what: &'static str) -> impl Fn(serde_json::Error) -> ControlError {
    move |err| ControlError::Corrupt {
        what: what.into(),
        message: err.to_string(),
    }
}
