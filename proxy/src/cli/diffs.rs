//! `strangler diffs`: how the shadowed routes compare, read from the diff store that the
//! config's `store:` names, as text or JSON; `strangler diffs sample ID`: one kept sample.

use std::path::Path;

use strangler_control::Database;
use strangler_flags::Snapshot;

use crate::cli::error::CliError;
use crate::cli::sample;
use crate::live::routes_file;
use crate::shadow::{report_text, reports};

/// The window `--since` defaults to.
pub const DEFAULT_SINCE: &str = reports::DEFAULT_SINCE;

/// The entries each list of the text report shows when `--limit` does not say.
pub const TEXT_LIMIT: usize = 10;

/// Prints the report of the comparisons of the last `since` (`90s`, `15m`, `1h`, `7d`), of
/// one route or all, each list cut to `limit` entries (text: [`TEXT_LIMIT`] by default,
/// JSON: whole by default).
pub fn diffs(
    config: &Path,
    route: Option<&str>,
    since: &str,
    limit: Option<usize>,
    json: bool,
) -> Result<(), CliError> {
    let snapshot = routes_file::load(config)?;
    if let Some(route) = route {
        if snapshot.route(route).is_none() {
            let message = format!("unknown route {route:?} in {}", config.display());
            return Err(CliError::Usage(message));
        }
    }
    let since = reports::parse_since(since).map_err(CliError::Usage)?;
    let limit = limit.or((!json).then_some(TEXT_LIMIT));
    let samples = snapshot.diffs().samples_per_signature;
    let report = with_database(&snapshot, |database| async move {
        let store = database.diffs(samples);
        Ok(reports::report(&store, route, since, limit).await?)
    })?;
    match json {
        true => println!("{}", serde_json::to_string_pretty(&report)?),
        false => print!("{}", report_text::render(&report)),
    }
    Ok(())
}

/// Prints the kept sample `id`: the request and both answers side by side, or `--json`.
pub fn sample(config: &Path, id: i64, json: bool) -> Result<(), CliError> {
    let snapshot = routes_file::load(config)?;
    let samples = snapshot.diffs().samples_per_signature;
    let found = with_database(&snapshot, |database| async move {
        Ok(database.diffs(samples).sample(id).await?)
    })?;
    let Some(sample) = found else {
        return Err(CliError::Usage(format!("no sample {id} in the diff store")));
    };
    let view = reports::SampleView::of(sample);
    match json {
        true => println!("{}", serde_json::to_string_pretty(&view)?),
        false => {
            let (colour, width) = (sample::colour(), sample::width());
            print!("{}", sample::render(&view, colour, width));
        }
    }
    Ok(())
}

/// Runs `read` on the database that `snapshot`'s `store:` names (the diff store, the
/// readiness rollup), on a runtime of its own; a SQLite store that does not exist is an
/// error naming its path, never a new empty one.
pub(super) fn with_database<T, F>(
    snapshot: &Snapshot,
    read: impl FnOnce(Database) -> F,
) -> Result<T, CliError>
where
    F: std::future::Future<Output = Result<T, CliError>>,
{
    if let Some(path) = strangler_flags::store_url::sqlite_path(snapshot.store_url()) {
        if !std::path::Path::new(path).exists() {
            let message = format!(
                "no store at {path}: a proxy running this routes.yaml creates it there \
                 (a relative store: path is relative to routes.yaml's directory)"
            );
            return Err(CliError::Usage(message));
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::io("starting a runtime"))?;
    runtime.block_on(async { read(Database::connect(snapshot.store_url()).await?).await })
}
