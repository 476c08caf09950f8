//! The readiness report: every route of routes.yaml judged on the store's rollup, the
//! runtime overrides and the audit log (`strangler_control::readiness::assess`), with the
//! routes whose flags went stale listed apart. The same report for `GET /admin/readiness`,
//! the console and `strangler report`.

use serde::Serialize;
use strangler_control::readiness::{
    assess, HourCounts, RouteInput, RouteReadiness, RETENTION_DAYS,
};
use strangler_control::{AuditEntry, ControlError, Database, FileRoute, Overrides};
use strangler_flags::{Route, Snapshot};
use time::{Duration, OffsetDateTime};

/// The report over every route.
#[derive(Debug, Serialize)]
pub struct Report {
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    /// `readiness.removable_after`, in days: the period each verdict judges.
    pub period_days: u32,
    /// Every route, in routes.yaml's order.
    pub routes: Vec<RouteReadiness>,
    /// The routes whose flags are stale (neither 0 % nor 100 %, unchanged for 30 days).
    pub stale: Vec<String>,
}

/// Reads what the report needs from `database` and judges every route of `file`.
pub async fn report(database: &Database, file: &Snapshot) -> Result<Report, ControlError> {
    let now = OffsetDateTime::now_utc();
    let period_days = file.readiness().removable_after_days;
    let history = History::read(database, period_days, now).await?;
    let routes: Vec<RouteReadiness> = file
        .routes()
        .iter()
        .map(|route| history.assess(route, period_days, now))
        .collect();
    let stale = routes
        .iter()
        .filter(|r| r.stale_days.is_some())
        .map(|r| r.route.clone())
        .collect();
    Ok(Report {
        generated_at: now,
        period_days,
        routes,
        stale,
    })
}

/// What the store says of every route: the rollup of the last 30 days (or of the period,
/// when longer), the audit log kept and the runtime overrides.
struct History {
    hours: Vec<HourCounts>,
    audit: Vec<AuditEntry>,
    overrides: Overrides,
}

impl History {
    async fn read(
        database: &Database,
        period_days: u32,
        now: OffsetDateTime,
    ) -> Result<History, ControlError> {
        let days = i64::from(period_days.max(30));
        let hours = database.rollups().since(now - Duration::days(days)).await?;
        let flags = database.flags();
        let kept = now - Duration::days(i64::from(RETENTION_DAYS));
        Ok(History {
            hours,
            audit: flags.audit_since(kept).await?,
            overrides: flags.overrides().await?,
        })
    }

    fn assess(&self, route: &Route, period_days: u32, now: OffsetDateTime) -> RouteReadiness {
        assess(&RouteInput {
            route: &route.name,
            file: &FileRoute::from_route(route),
            overrides: &self.overrides,
            hours: &self.hours,
            audit: &self.audit,
            period_days,
            now,
        })
    }
}
