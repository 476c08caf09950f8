//! The demo's seeded history: `strangler report` judges routes on weeks of hourly rollups,
//! which a demo started a minute ago cannot have. Before the proxy starts, the demo writes
//! [`DAYS`] days of hours at 100 % for [`ROUTE`] (routes.yaml's fully migrated route) into
//! its store, once (not again while the store holds older rows for it), and says so: the
//! report then names that route `legacy path removable`. Seeded rows are demo data, never
//! traffic, and nothing but the demo writes them.

use std::path::Path;

use strangler_control::readiness::Counts;
use strangler_control::Database;
use time::{Duration, OffsetDateTime};

use crate::cli::error::CliError;
use crate::live::routes_file;

/// The route whose history is seeded, when routes.yaml has it.
const ROUTE: &str = "invoice-list";
/// Days of history, more than `readiness.removable_after`'s default 14.
const DAYS: i64 = 20;
/// Requests of each seeded hour, all served by the new side.
const PER_HOUR: u64 = 40;

/// Seeds [`ROUTE`]'s history into the store `config` names, on `runtime`, unless the route
/// is absent or already has history older than an hour.
pub fn seed(config: &Path, runtime: &tokio::runtime::Runtime) -> Result<(), CliError> {
    let snapshot = routes_file::load(config)?;
    if snapshot.route(ROUTE).is_none() {
        return Ok(());
    }
    let seeded = runtime.block_on(async {
        let database = Database::connect(snapshot.store_url()).await?;
        let rollups = database.rollups();
        let now = OffsetDateTime::now_utc();
        let rows = rollups.since(now - Duration::days(DAYS + 1)).await?;
        let an_hour_ago = now - Duration::hours(1);
        if rows
            .iter()
            .any(|r| r.route == ROUTE && r.hour < an_hour_ago)
        {
            return Ok::<bool, CliError>(false);
        }
        let counts = Counts {
            served_new: PER_HOUR,
            ..Counts::default()
        };
        for hour in 1..=24 * DAYS {
            rollups
                .add(now - Duration::hours(hour), &[(ROUTE, counts)])
                .await?;
        }
        Ok(true)
    })?;
    if seeded {
        eprintln!(
            "demo: seeded {DAYS} days of DEMO HISTORY for route {ROUTE} (100 % on the new side, \
             {PER_HOUR} requests an hour; not real traffic), so `strangler report` has a route \
             to call legacy path removable"
        );
    }
    Ok(())
}
